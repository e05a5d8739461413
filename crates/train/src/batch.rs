//! Batching with Coconut's collator layout (`MyCollator`, Hao et al. 2024 code): each row is
//! left-padded so that `<bot>` (and so the first thought) sits in the same column of every
//! row, which lets all rows share the thought passes and the KV cache; pads get position 0 and
//! are masked out of attention; rows are then right-padded to the batch length.

use crate::curriculum::{Encoded, PromptLayout};

/// A padded batch in host memory.
#[derive(Clone, Debug, PartialEq)]
pub struct HostBatch {
    pub rows: usize,
    pub cols: usize,
    /// Token ids, row-major `[rows, cols]` (pads hold `pad`).
    pub tokens: Vec<u32>,
    /// Position ids (0 for pads; 0.. for real tokens).
    pub positions: Vec<i64>,
    /// true = real token (attendable).
    pub key_mask: Vec<bool>,
    /// Target per cell, or -1 (no loss).
    pub targets: Vec<i64>,
    /// Column of `<bot>` (the same in every row).
    pub bot_col: usize,
    /// Thoughts per row (they occupy columns `bot_col + 1 ..= bot_col + n`).
    pub thoughts: Vec<usize>,
    /// Left padding per row.
    pub left_pad: Vec<usize>,
    /// Per row and thought, the nodes the thought should hold (the frontier-loss targets).
    pub thought_sets: Vec<Vec<Vec<u32>>>,
    /// Key mask for the columns after the thoughts when the readout bottleneck is on: the
    /// edge list is masked out (see [`HostBatch::with_readout_bottleneck`]).
    pub readout_mask: Option<Vec<bool>>,
}

impl HostBatch {
    /// Largest number of thoughts in the batch.
    pub fn max_thoughts(&self) -> usize {
        self.thoughts.iter().copied().max().unwrap_or(0)
    }
    /// Number of cells with a target.
    pub fn n_targets(&self) -> usize {
        self.targets.iter().filter(|&&t| t >= 0).count()
    }

    /// Turn on the readout bottleneck: the columns after the thoughts may attend to `<eos>`,
    /// the question (`[Q] c1 c2 [R] root`), `<bot>`, the thoughts and what follows, but not to
    /// the edge list, which sits between the first token and the question.
    pub fn with_readout_bottleneck(mut self, layout: PromptLayout) -> Self {
        let question = self.bot_col - layout.question_tokens();
        let mut mask = self.key_mask.clone();
        for r in 0..self.rows {
            for c in self.left_pad[r] + 1..question {
                mask[r * self.cols + c] = false;
            }
        }
        self.readout_mask = Some(mask);
        self
    }
}

/// Pad `seqs` into one batch (see the module docs).
pub fn collate(seqs: &[&Encoded], pad: u32) -> HostBatch {
    let bot_col = seqs.iter().map(|s| s.bot).max().unwrap_or(0);
    let cols = seqs
        .iter()
        .map(|s| bot_col - s.bot + s.tokens.len())
        .max()
        .unwrap_or(0);
    let rows = seqs.len();
    let mut b = HostBatch {
        rows,
        cols,
        tokens: vec![pad; rows * cols],
        positions: vec![0; rows * cols],
        key_mask: vec![false; rows * cols],
        targets: vec![-1; rows * cols],
        bot_col,
        thoughts: seqs.iter().map(|s| s.thoughts).collect(),
        left_pad: Vec::with_capacity(rows),
        thought_sets: seqs.iter().map(|s| s.thought_sets.clone()).collect(),
        readout_mask: None,
    };
    for (r, s) in seqs.iter().enumerate() {
        let off = bot_col - s.bot;
        b.left_pad.push(off);
        for (i, &t) in s.tokens.iter().enumerate() {
            let cell = r * cols + off + i;
            b.tokens[cell] = t;
            b.positions[cell] = i as i64;
            b.key_mask[cell] = true;
            if let Some(y) = s.targets[i] {
                b.targets[cell] = y as i64;
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(prefix: usize, thoughts: usize, rest: usize) -> Encoded {
        let mut tokens = vec![1u32; prefix];
        tokens.push(5); // <bot>
        tokens.extend(std::iter::repeat_n(7u32, thoughts));
        tokens.push(6); // <eot>
        tokens.extend(std::iter::repeat_n(2u32, rest));
        let n = tokens.len();
        let mut targets = vec![None; n];
        for p in prefix + thoughts + 1..n - 1 {
            targets[p] = Some(tokens[p + 1]);
        }
        Encoded {
            bot: prefix,
            tokens,
            targets,
            thoughts,
            stage: thoughts,
            thought_sets: vec![Vec::new(); thoughts],
        }
    }

    #[test]
    fn aligns_bot_and_masks_pads() {
        let a = enc(3, 2, 2);
        let b = enc(5, 0, 4);
        let batch = collate(&[&a, &b], 9);
        assert_eq!(batch.bot_col, 5);
        assert_eq!(batch.left_pad, vec![2, 0]);
        assert_eq!(batch.cols, 11);
        for r in 0..2 {
            assert_eq!(batch.tokens[r * batch.cols + 5], 5);
        }
        // row 0: two pads on the left, position ids start at 0 on the first real token
        assert_eq!(&batch.key_mask[0..3], &[false, false, true]);
        assert_eq!(&batch.positions[0..4], &[0, 0, 0, 1]);
        assert_eq!(batch.max_thoughts(), 2);
        assert_eq!(batch.n_targets(), 2 + 4);
    }

    #[test]
    fn readout_bottleneck_masks_only_the_edge_list() {
        // Row 0: `<eos>` + 2 edges (6 tokens) + the 5 question tokens, then `<bot>`.
        let a = enc(12, 2, 2);
        let b = enc(9, 2, 2); // one edge fewer
        let batch = collate(&[&a, &b], 9).with_readout_bottleneck(PromptLayout::Bot);
        let m = batch.readout_mask.as_ref().unwrap();
        let cols = batch.cols;
        assert_eq!(batch.bot_col, 12);
        // row 0: column 0 is `<eos>`, 1..7 the edges, 7..12 the question, 12 `<bot>`
        let row0: Vec<bool> = m[..cols].to_vec();
        assert!(row0[0]);
        assert!(row0[1..7].iter().all(|&x| !x));
        assert!(row0[7..]
            .iter()
            .zip(&batch.key_mask[7..cols])
            .all(|(a, b)| a == b));
        // row 1: three pads, `<eos>` at 3, edges 4..7, question 7..12
        let row1 = &m[cols..2 * cols];
        assert_eq!(&row1[..4], &[false, false, false, true]);
        assert!(row1[4..7].iter().all(|&x| !x));
        assert!(row1[7..12].iter().all(|&x| x));
        // The root layout has no `<bot>`: the last prompt column is the root, and the question
        // starts 4 columns before it, so one more column of the edge list is masked.
        let root = collate(&[&a, &b], 9).with_readout_bottleneck(PromptLayout::Root);
        let m = root.readout_mask.as_ref().unwrap();
        assert!(m[1..8].iter().all(|&x| !x));
        assert!(m[8..13].iter().all(|&x| x));
    }
}
