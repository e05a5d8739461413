//! Vocabulary, prompt and embedding layout of the Theorem-1 construction
//! (Zhu et al. 2025, §4 "Construction" and Appendix B).
//!
//! Residual stream, in this order (Zhu et al. §4.1, d = 3·d_TE + d_PE):
//!
//! ```text
//! [ content (d_TE) | buffer 1 (d_TE) | buffer 2 (d_TE) | position (d_PE) | padding ]
//! ```
//!
//! The content block holds the token embedding u_tok: five special tokens on their own
//! coordinates, then the node subspace (d_node coordinates) where node embeddings live
//! (orthonormal: one-hot; capacity study: seeded random unit vectors in d_node < n).
//! Buffers mirror the content block (ũ_v is u_v moved into a buffer). Positions are
//! sinusoidal, normalised to unit length (p̄_i), in the position block only. The padding
//! makes d_model a multiple of the five heads' common d_head and is always zero.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::ConstructError;

/// Special tokens, in the order of their content coordinates.
pub const SPECIALS: [&str; 5] = ["<s>", "<e>", "<Q>", "<R>", "<A>"];
/// Content coordinate (and offset of the token id after the nodes) of `<s>`.
pub const S_BOS: usize = 0;
/// `<e>`: closes an edge `source target <e>`.
pub const S_EDGE: usize = 1;
/// `<Q>`: opens the question `<Q> c1 c2`.
pub const S_QUERY: usize = 2;
/// `<R>`: announces the root `<R> r`.
pub const S_ROOT: usize = 3;
/// `<A>`: asks for the answer after the thoughts.
pub const S_ANSWER: usize = 4;

/// How node embeddings u_v are chosen.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum NodeEmbedding {
    /// Uᵀ U = I (the theorem's setting): one-hot in an n_max-dimensional node subspace.
    Orthonormal,
    /// Capacity study: seeded random unit vectors (Gaussian, normalised) in `dim` dimensions.
    RandomUnit { dim: usize, seed: u64 },
}

/// Where every block lives in the residual stream, and the node embedding matrix U.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Largest number of nodes (node tokens 0..n_max).
    pub n_max: usize,
    /// Dimension of the node subspace of the content block.
    pub d_node: usize,
    /// d_TE = 5 specials + d_node: width of content, buffer 1 and buffer 2.
    pub d_te: usize,
    /// Width of the sinusoidal position block.
    pub d_pe: usize,
    /// Residual width (a multiple of `n_head`).
    pub d_model: usize,
    /// Number of heads (five layer-1 attention choosers).
    pub n_head: usize,
    /// d_model / n_head.
    pub d_head: usize,
    /// Node embeddings, row v = u_v restricted to the node subspace (n_max × d_node).
    pub node_emb: Vec<Vec<f32>>,
}

/// The most nodes (and embedding dimensions) of a construction.
pub const MAX_NODES: usize = 16_384;

/// Number of attention heads: layer 1 needs its five choosers (Zhu et al. Lemma 3).
pub const N_HEAD: usize = 5;

impl Layout {
    pub fn new(n_max: usize, d_pe: usize, emb: &NodeEmbedding) -> Result<Self, ConstructError> {
        if n_max < 2 {
            return Err(ConstructError::Config(format!(
                "n_max must be at least 2 (got {n_max})"
            )));
        }
        let dim = match emb {
            NodeEmbedding::Orthonormal => n_max,
            NodeEmbedding::RandomUnit { dim, .. } => *dim,
        };
        // The node embeddings alone are n_max × dim floats: refuse before allocating them.
        if n_max > MAX_NODES || dim > MAX_NODES {
            return Err(ConstructError::TooLarge(format!(
                "{n_max} nodes in {dim} dimensions: the construction is limited to {MAX_NODES} \
                 nodes and dimensions"
            )));
        }
        if d_pe < 2 || !d_pe.is_multiple_of(2) {
            return Err(ConstructError::Config(format!(
                "the position block width must be even and >= 2 (got {d_pe})"
            )));
        }
        let (d_node, node_emb) = match emb {
            NodeEmbedding::Orthonormal => {
                let rows = (0..n_max)
                    .map(|v| {
                        let mut r = vec![0.0f32; n_max];
                        r[v] = 1.0;
                        r
                    })
                    .collect();
                (n_max, rows)
            }
            NodeEmbedding::RandomUnit { dim, seed } => {
                if *dim < 1 {
                    return Err(ConstructError::Config(
                        "random node embeddings need dim >= 1".into(),
                    ));
                }
                (*dim, random_unit_rows(n_max, *dim, *seed))
            }
        };
        let d_te = SPECIALS.len() + d_node;
        let layout_width = 3 * d_te + d_pe;
        // Every head needs d_pe + 1 (chooser: position + sink gate) or d_node + 1 (BFS head:
        // node subspace + edge gate) coordinates; all heads share d_head = d_model / n_head.
        let need_head = (d_pe + 1).max(d_node + 1);
        let d_head = need_head.max(layout_width.div_ceil(N_HEAD));
        Ok(Layout {
            n_max,
            d_node,
            d_te,
            d_pe,
            d_model: d_head * N_HEAD,
            n_head: N_HEAD,
            d_head,
            node_emb,
        })
    }
    /// Vocabulary: node v has id v; special k has id n_max + k.
    pub fn vocab_size(&self) -> usize {
        self.n_max + SPECIALS.len()
    }
    pub fn special_id(&self, k: usize) -> u32 {
        (self.n_max + k) as u32
    }
    /// Offset of the content block.
    pub fn content(&self) -> usize {
        0
    }
    pub fn buf1(&self) -> usize {
        self.d_te
    }
    pub fn buf2(&self) -> usize {
        2 * self.d_te
    }
    pub fn pos(&self) -> usize {
        3 * self.d_te
    }
    /// Offset of the node subspace inside a block (after the five specials).
    pub fn node_off(&self) -> usize {
        SPECIALS.len()
    }
    /// Token name for display.
    pub fn token_name(&self, id: u32) -> String {
        let id = id as usize;
        if id < self.n_max {
            format!("{id}")
        } else {
            SPECIALS[id - self.n_max].to_string()
        }
    }
    /// The full d_model embedding of token `id` (content block only): a row of `wte`.
    pub fn token_embedding(&self, id: u32) -> Vec<f32> {
        let mut e = vec![0.0f32; self.d_model];
        let id = id as usize;
        if id < self.n_max {
            let o = self.node_off();
            e[o..o + self.d_node].copy_from_slice(&self.node_emb[id]);
        } else {
            e[id - self.n_max] = 1.0;
        }
        e
    }
    /// Σ_{v ∈ set} u_v / √|set| in the content block: the thought Lemma 2 predicts.
    pub fn superposition(&self, set: &[usize]) -> Vec<f32> {
        let mut e = vec![0.0f64; self.d_model];
        let o = self.node_off();
        for &v in set {
            for (k, x) in self.node_emb[v].iter().enumerate() {
                e[o + k] += *x as f64;
            }
        }
        let s = (set.len().max(1) as f64).sqrt();
        e.iter().map(|x| (x / s) as f32).collect()
    }
    /// ⟨u_v, h⟩ for every node v (the readout Uᵀ restricted to nodes).
    pub fn node_coefficients(&self, h: &[f32]) -> Vec<f32> {
        let o = self.node_off();
        self.node_emb
            .iter()
            .map(|u| {
                u.iter()
                    .zip(&h[o..o + self.d_node])
                    .map(|(a, b)| (*a as f64) * (*b as f64))
                    .sum::<f64>() as f32
            })
            .collect()
    }
}

/// Seeded random unit vectors (capacity study).
fn random_unit_rows(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut r: Vec<f64> = (0..dim).map(|_| StandardNormal.sample(&mut rng)).collect();
            let norm = r.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
            r.iter_mut().for_each(|x| *x /= norm);
            r.into_iter().map(|x| x as f32).collect()
        })
        .collect()
}

/// Unit-norm sinusoidal position p̄_i (Vaswani et al.; Zhu et al. §4.1 with M = base):
/// pairs (sin ω_k i, cos ω_k i), ω_k = base^(−2k/d_pe), scaled by 1/√(d_pe/2).
pub fn sinusoid(pos: usize, d_pe: usize, base: f64) -> Vec<f64> {
    let half = d_pe / 2;
    let scale = 1.0 / (half as f64).sqrt();
    let mut p = vec![0.0f64; d_pe];
    for k in 0..half {
        let w = omega(k, d_pe, base);
        p[2 * k] = (w * pos as f64).sin() * scale;
        p[2 * k + 1] = (w * pos as f64).cos() * scale;
    }
    p
}

/// ω_k = base^(−2k/d_pe).
pub fn omega(k: usize, d_pe: usize, base: f64) -> f64 {
    base.powf(-2.0 * k as f64 / d_pe as f64)
}

/// The smallest gap 1 − ⟨p̄_a, p̄_b⟩ over 1 ≤ |a − b| ≤ t_max: how sharply an attention
/// chooser (Lemma 3) can pick one position; it sets the chooser's scale ξ.
pub fn position_gap(d_pe: usize, base: f64, t_max: usize) -> f64 {
    let half = d_pe / 2;
    (1..=t_max)
        .map(|delta| {
            let s: f64 = (0..half)
                .map(|k| (omega(k, d_pe, base) * delta as f64).cos())
                .sum();
            1.0 - s / half as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// One reachability question in the paper's prompt format.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Question {
    /// Number of nodes (ids 0..n).
    pub n: usize,
    /// Directed edges (source, target), in prompt order.
    pub edges: Vec<(usize, usize)>,
    pub root: usize,
    /// The two candidates c1, c2 in prompt order.
    pub candidates: [usize; 2],
}

/// Token ids and 1-based positions of the prompt
/// `<s> (s_i t_i <e>)* <Q> c1 c2 <R> r` (Zhu et al. §4.1: s_i at 3i−1, t_i at 3i, `<e>` at
/// 3i+1, `<Q>` at 3m+2, …, r at t0 = 3m+6).
pub fn prompt_tokens(layout: &Layout, q: &Question) -> Vec<u32> {
    let mut ids = Vec::with_capacity(3 * q.edges.len() + 6);
    ids.push(layout.special_id(S_BOS));
    for &(s, t) in &q.edges {
        ids.push(s as u32);
        ids.push(t as u32);
        ids.push(layout.special_id(S_EDGE));
    }
    ids.push(layout.special_id(S_QUERY));
    ids.push(q.candidates[0] as u32);
    ids.push(q.candidates[1] as u32);
    ids.push(layout.special_id(S_ROOT));
    ids.push(q.root as u32);
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_positions_match_the_paper() {
        let l = Layout::new(4, 8, &NodeEmbedding::Orthonormal).unwrap();
        let q = Question {
            n: 4,
            edges: vec![(0, 1), (1, 2)],
            root: 0,
            candidates: [2, 3],
        };
        let ids = prompt_tokens(&l, &q);
        // 1-based position p holds ids[p-1]; m = 2 so t0 = 3m + 6 = 12.
        assert_eq!(ids.len(), 12);
        assert_eq!(ids[3 - 1 - 1], 0); // s_1 at 3i−1 (i = 1)
        assert_eq!(ids[3 * 2 - 1], 2); // t_2 at 3i
        assert_eq!(ids[3 * 2 + 1 - 1], l.special_id(S_EDGE)); // <e> at 3i+1
        assert_eq!(ids[3 * 2 + 2 - 1], l.special_id(S_QUERY));
        assert_eq!(ids[3 * 2 + 5 - 1], l.special_id(S_ROOT));
        assert_eq!(ids[11], 0);
    }

    #[test]
    fn positions_are_unit_and_distinct() {
        let gap = position_gap(16, 1e4, 300);
        assert!(gap > 0.0 && gap < 1.0, "{gap}");
        for i in 1..50 {
            let p = sinusoid(i, 16, 1e4);
            let n: f64 = p.iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn random_embeddings_are_unit_and_seeded() {
        let a = Layout::new(10, 8, &NodeEmbedding::RandomUnit { dim: 4, seed: 7 }).unwrap();
        let b = Layout::new(10, 8, &NodeEmbedding::RandomUnit { dim: 4, seed: 7 }).unwrap();
        assert_eq!(a.node_emb, b.node_emb);
        for u in &a.node_emb {
            let n: f32 = u.iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-5);
        }
        assert_eq!(a.d_model % a.n_head, 0);
    }
}
