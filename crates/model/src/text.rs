//! Text ↔ token ids through a Hugging Face `tokenizer.json` (cargo feature `tokenizers`), so
//! that a user with a GPT-2 checkpoint on disk (`model.safetensors`, `config.json`,
//! `tokenizer.json`) can prompt it with text. The file is read locally; nothing is downloaded.

use std::path::Path;

use crate::ModelError;

/// A `tokenizer.json` (BPE, WordPiece, WordLevel or Unigram, with its normaliser,
/// pre-tokeniser and decoder), loaded by the `tokenizers` crate.
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    path: String,
}

impl TextTokenizer {
    /// Load a `tokenizer.json`. A missing or malformed file is an error naming it.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let shown = path.display().to_string();
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| ModelError::File {
            path: shown.clone(),
            message: format!("not a readable tokenizer.json: {e}"),
        })?;
        Ok(TextTokenizer { inner, path: shown })
    }

    /// Token ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| ModelError::File {
                path: self.path.clone(),
                message: format!("cannot encode {text:?}: {e}"),
            })?;
        Ok(enc.get_ids().to_vec())
    }

    /// The text of `ids` (through the tokenizer's decoder, e.g. GPT-2's byte-level one).
    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        self.inner.decode(ids, false).map_err(|e| ModelError::File {
            path: self.path.clone(),
            message: format!("cannot decode {ids:?}: {e}"),
        })
    }

    /// The vocabulary string of one id (e.g. `Ġthe`), if any.
    pub fn token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The id of one vocabulary string (e.g. `<|endoftext|>`), if any.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GPT-2-style byte-level BPE small enough to check by hand: "hi there" pre-tokenises to
    /// `hi`, `Ġthere` (GPT-2's regex, `Ġ` = space) and the merges build each word whole.
    const TINY_GPT2: &str = include_str!("../tests/data/tiny-gpt2-tokenizer.json");

    #[test]
    fn byte_level_bpe_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, TINY_GPT2).unwrap();
        let tok = TextTokenizer::from_file(&path).unwrap();
        assert_eq!(tok.encode("hi there").unwrap(), vec![6, 11]);
        assert_eq!(tok.encode("the").unwrap(), vec![3, 0, 4]);
        assert_eq!(tok.decode(&[6, 11]).unwrap(), "hi there");
        assert_eq!(tok.token(11).as_deref(), Some("Ġthere"));
        assert_eq!(tok.id("<|endoftext|>"), Some(12));
        assert_eq!(tok.vocab_size(), 13);
    }

    #[test]
    fn malformed_file_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, "{\"model\": ").unwrap();
        let err = TextTokenizer::from_file(&path).err().unwrap().to_string();
        assert!(err.contains("tokenizer.json"), "{err}");
    }
}
