//! A checkpoint's vocabulary: how text and token ids map for `superpose think`. The
//! checkpoint's `tokenizer.json` when the `tokenizers` feature is on (see [`crate::text`]),
//! else its `vocab.json` (a list of token strings, index = id, or an object token → id; a
//! prompt is split on whitespace), else bare ids.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::ModelError;

/// The vocabulary of one checkpoint directory.
pub struct Lexicon {
    dir: PathBuf,
    vocab: Option<Vec<String>>,
    index: HashMap<String, u32>,
    #[cfg(feature = "tokenizers")]
    hf: Option<crate::text::TextTokenizer>,
}

/// Reads `DIR/vocab.json` (a list of token strings, or an object token → id) if present; every
/// id must be below the model's `vocab_size` (checked before anything is allocated for it).
fn read_vocab(dir: &Path, vocab_size: usize) -> Result<Option<Vec<String>>, ModelError> {
    let path = dir.join("vocab.json");
    if !path.exists() {
        return Ok(None);
    }
    let shown = path.display().to_string();
    let bad = |message: String| ModelError::File {
        path: shown.clone(),
        message,
    };
    let text = std::fs::read_to_string(&path).map_err(|error| ModelError::Io {
        path: shown.clone(),
        error,
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "malformed JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let vocab = match v {
        Value::Array(a) => a
            .into_iter()
            .enumerate()
            .map(|(i, s)| match s {
                Value::String(s) => Ok(s),
                _ => Err(bad(format!("entry {i} is not a string"))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Object(m) => {
            let mut out = vec![String::new(); m.len()];
            for (k, id) in m {
                let id = id
                    .as_u64()
                    .ok_or_else(|| bad(format!("id of `{k}` is not an integer")))?
                    as usize;
                if id >= vocab_size {
                    return Err(bad(format!(
                        "id {id} of `{k}` is not below the model's vocabulary size {vocab_size}"
                    )));
                }
                if id >= out.len() {
                    out.resize(id + 1, String::new());
                }
                out[id] = k;
            }
            out
        }
        _ => {
            return Err(bad(
                "expected a list of tokens or an object token -> id".into()
            ))
        }
    };
    Ok(Some(vocab))
}

impl Lexicon {
    /// The vocabulary of checkpoint directory `dir` for a model of `vocab_size` tokens (none at
    /// all is fine: ids only).
    pub fn load(dir: &Path, vocab_size: usize) -> Result<Self, ModelError> {
        let vocab = read_vocab(dir, vocab_size)?;
        let index = vocab
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| (s.clone(), i as u32))
            .collect();
        #[cfg(feature = "tokenizers")]
        let hf = {
            let path = dir.join("tokenizer.json");
            path.exists()
                .then(|| crate::text::TextTokenizer::from_file(&path))
                .transpose()?
        };
        Ok(Lexicon {
            dir: dir.to_path_buf(),
            vocab,
            index,
            #[cfg(feature = "tokenizers")]
            hf,
        })
    }

    /// The id of a vocabulary string such as `<bot>`.
    pub fn lookup(&self, s: &str) -> Option<u32> {
        #[cfg(feature = "tokenizers")]
        if let Some(id) = self.hf.as_ref().and_then(|t| t.id(s)) {
            return Some(id);
        }
        self.index.get(s).copied()
    }

    /// The vocabulary string of an id (the id itself when there is no vocabulary).
    pub fn name(&self, t: u32) -> String {
        #[cfg(feature = "tokenizers")]
        if let Some(s) = self.hf.as_ref().and_then(|h| h.token(t)) {
            return s;
        }
        self.vocab
            .as_ref()
            .and_then(|v| v.get(t as usize))
            .cloned()
            .unwrap_or_else(|| t.to_string())
    }

    /// Prompt text to ids. Without a vocabulary, or for a word not in it, the error says
    /// what the checkpoint lacks (and when a `tokenizer.json` needs the `tokenizers` feature).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        #[cfg(feature = "tokenizers")]
        if let Some(h) = &self.hf {
            return h.encode(text);
        }
        let hint = if cfg!(feature = "tokenizers") {
            ""
        } else if self.dir.join("tokenizer.json").exists() {
            " (this build cannot read tokenizer.json: rebuild with `--features tokenizers`)"
        } else {
            ""
        };
        if self.vocab.is_none() {
            return Err(ModelError::Vocabulary(format!(
                "--prompt needs {}/vocab.json or tokenizer.json; use --tokens instead{hint}",
                self.dir.display()
            )));
        }
        text.split_whitespace()
            .map(|w| {
                self.index.get(w).copied().ok_or_else(|| {
                    ModelError::Vocabulary(format!("prompt word `{w}` is not in vocab.json{hint}"))
                })
            })
            .collect()
    }

    /// The answer as text: decoded by `tokenizer.json` when there is one, else the vocabulary
    /// strings joined by spaces.
    pub fn answer(&self, ids: &[u32]) -> Result<String, ModelError> {
        #[cfg(feature = "tokenizers")]
        if let Some(h) = &self.hf {
            return h.decode(ids);
        }
        Ok(ids
            .iter()
            .map(|&t| self.name(t))
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// A token given as an id or a vocabulary string (`--bot`, `--eot`, `--eos`); the id of
    /// `default` when absent (None when the vocabulary lacks it too).
    pub fn resolve(&self, tok: Option<&str>, default: &str) -> Result<Option<u32>, ModelError> {
        match tok {
            Some(s) => match s.parse::<u32>() {
                Ok(id) => Ok(Some(id)),
                Err(_) => self.lookup(s).map(Some).ok_or_else(|| {
                    ModelError::Vocabulary(format!(
                        "token `{s}` is not in the checkpoint's vocabulary"
                    ))
                }),
            },
            None => Ok(self.lookup(default)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(vocab: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vocab.json"), vocab).unwrap();
        dir
    }

    #[test]
    fn a_list_vocabulary_maps_words_and_ids_both_ways() {
        let dir = dir_with(r#"["<bot>", "<eot>", "a", "b"]"#);
        let lex = Lexicon::load(dir.path(), 64).unwrap();
        assert_eq!(lex.encode("a b  a").unwrap(), vec![2, 3, 2]);
        assert_eq!(lex.answer(&[3, 2, 9]).unwrap(), "b a 9");
        assert_eq!(lex.resolve(None, "<bot>").unwrap(), Some(0));
        assert_eq!(lex.resolve(Some("<eot>"), "<bot>").unwrap(), Some(1));
        assert_eq!(lex.resolve(Some("7"), "<bot>").unwrap(), Some(7));
        assert_eq!(lex.resolve(None, "<eos>").unwrap(), None);
        let e = lex.encode("a c").unwrap_err().to_string();
        assert_eq!(e, "prompt word `c` is not in vocab.json");
        let e = lex.resolve(Some("<x>"), "<bot>").unwrap_err().to_string();
        assert_eq!(e, "token `<x>` is not in the checkpoint's vocabulary");
    }

    #[test]
    fn an_object_vocabulary_places_tokens_at_their_ids() {
        let dir = dir_with(r#"{"x": 2, "y": 0}"#);
        let lex = Lexicon::load(dir.path(), 64).unwrap();
        assert_eq!(
            (lex.name(0), lex.name(1), lex.name(2)),
            ("y".into(), String::new(), "x".into())
        );
        assert_eq!(lex.lookup("x"), Some(2));
    }

    #[test]
    fn bad_vocabularies_name_the_file_and_place() {
        let dir = dir_with("[\"a\",\n 3]");
        let e = Lexicon::load(dir.path(), 64).err().unwrap().to_string();
        assert!(e.contains("vocab.json: entry 1 is not a string"), "{e}");
        let dir = dir_with("[\"a\",\n");
        let e = Lexicon::load(dir.path(), 64).err().unwrap().to_string();
        assert!(e.contains("vocab.json: malformed JSON at line 2"), "{e}");
        // No vocabulary: ids only, and text prompts are refused.
        let empty = tempfile::tempdir().unwrap();
        let lex = Lexicon::load(empty.path(), 64).unwrap();
        assert_eq!(lex.name(5), "5");
        assert!(lex
            .encode("a")
            .unwrap_err()
            .to_string()
            .contains("use --tokens"));
    }
}
