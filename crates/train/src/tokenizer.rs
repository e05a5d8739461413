//! Symbolic tokenizer of Zhu et al. 2025 (§5.1): every graph node is its own token, plus a
//! handful of structural tokens. With `n_nodes = 31` the vocabulary has the paper's 40 tokens
//! (node ids 0–30, `<bot>`/`<eot>`/`<latent>`, `|`, `[Q]`, `[R]`, `[A]`, end-of-sequence,
//! no-answer) plus one learned `<pause>` token for pause-as-thought.

use serde::{Deserialize, Serialize};

/// Token layout: node `v` is token `v`; the special tokens follow the node range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    /// Size of the node-token range (node ids `0..n_nodes`).
    pub n_nodes: u32,
}

/// Names of the special tokens, in the order they follow the node range.
pub const SPECIAL_NAMES: [&str; 10] = [
    "|", "[Q]", "[R]", "[A]", "<bot>", "<eot>", "<latent>", "<eos>", "<none>", "<pause>",
];

impl Vocab {
    /// The paper's vocabulary: node ids 0–30.
    pub const PAPER: Vocab = Vocab { n_nodes: 31 };

    pub fn new(n_nodes: u32) -> Self {
        Vocab { n_nodes }
    }
    /// Number of token ids (embedding rows).
    pub fn size(&self) -> usize {
        self.n_nodes as usize + SPECIAL_NAMES.len()
    }
    /// Token of graph node `v` (None when `v` is outside the node range).
    pub fn node(&self, v: u32) -> Option<u32> {
        (v < self.n_nodes).then_some(v)
    }
    /// Graph node of token `t`, when `t` is a node token.
    pub fn node_of(&self, t: u32) -> Option<u32> {
        (t < self.n_nodes).then_some(t)
    }
    /// Edge separator `|`.
    pub fn sep(&self) -> u32 {
        self.n_nodes
    }
    /// `[Q]`: the two candidates follow.
    pub fn q(&self) -> u32 {
        self.n_nodes + 1
    }
    /// `[R]`: the root follows.
    pub fn r(&self) -> u32 {
        self.n_nodes + 2
    }
    /// `[A]`: the answer follows.
    pub fn a(&self) -> u32 {
        self.n_nodes + 3
    }
    /// `<bot>`: beginning of thought (Coconut's `<|start-latent|>`).
    pub fn bot(&self) -> u32 {
        self.n_nodes + 4
    }
    /// `<eot>`: end of thought (Coconut's `<|end-latent|>`).
    pub fn eot(&self) -> u32 {
        self.n_nodes + 5
    }
    /// `<latent>`: placeholder whose embedding is replaced by a continuous thought.
    pub fn latent(&self) -> u32 {
        self.n_nodes + 6
    }
    /// End of sequence (also the padding token, as `pad_token = eos_token` in Coconut).
    pub fn eos(&self) -> u32 {
        self.n_nodes + 7
    }
    /// No-answer.
    pub fn none(&self) -> u32 {
        self.n_nodes + 8
    }
    /// Learned pause token (pause-as-thought ablation of Hao et al. 2024, Table 1).
    pub fn pause(&self) -> u32 {
        self.n_nodes + 9
    }
    /// Printable name of a token id.
    pub fn name(&self, t: u32) -> String {
        if t < self.n_nodes {
            t.to_string()
        } else {
            SPECIAL_NAMES
                .get((t - self.n_nodes) as usize)
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("<unk{t}>"))
        }
    }
    /// Space-separated rendering of a token sequence.
    pub fn render(&self, tokens: &[u32]) -> String {
        tokens
            .iter()
            .map(|&t| self.name(t))
            .collect::<Vec<_>>()
            .join(" ")
    }
    /// Parse a space-separated rendering back into token ids.
    pub fn parse(&self, text: &str) -> Option<Vec<u32>> {
        text.split_whitespace()
            .map(|w| {
                if let Ok(v) = w.parse::<u32>() {
                    self.node(v)
                } else {
                    SPECIAL_NAMES
                        .iter()
                        .position(|s| *s == w)
                        .map(|i| self.n_nodes + i as u32)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_vocabulary_has_40_tokens_plus_pause() {
        let v = Vocab::PAPER;
        assert_eq!(v.size(), 41);
        let specials = [
            v.sep(),
            v.q(),
            v.r(),
            v.a(),
            v.bot(),
            v.eot(),
            v.latent(),
            v.eos(),
            v.none(),
            v.pause(),
        ];
        let mut sorted = specials.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
        assert!(specials.iter().all(|&t| t >= 31 && (t as usize) < v.size()));
        assert_eq!(v.node(30), Some(30));
        assert_eq!(v.node(31), None);
    }

    #[test]
    fn render_parse_roundtrip() {
        let v = Vocab::new(8);
        let toks = vec![
            v.eos(),
            0,
            3,
            v.sep(),
            v.q(),
            3,
            5,
            v.r(),
            0,
            v.bot(),
            v.latent(),
        ];
        let s = v.render(&toks);
        assert_eq!(s, "<eos> 0 3 | [Q] 3 5 [R] 0 <bot> <latent>");
        assert_eq!(v.parse(&s), Some(toks));
        assert_eq!(v.parse("9"), None);
    }
}
