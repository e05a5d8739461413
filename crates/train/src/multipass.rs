//! The Coconut forward pass (Hao et al. 2024, `coconut.py`): one pass over the question up to
//! `<bot>`, then one single-position pass per continuous thought that feeds back the last
//! hidden state of the previous position through the KV cache, then one pass over the rest.
//! Everything stays on the autodiff tape, so the loss backpropagates through every fed-back
//! thought ("backpropagation through the thought chain").

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use superpose_model::{thought_input, ForwardInput, KvCache, Model};

use crate::batch::HostBatch;

/// What is written into a thought slot.
#[derive(Clone, Debug)]
pub enum ThoughtFeed {
    /// The last hidden state of the previous position (Coconut).
    Hidden,
    /// A zero vector (ablation: does the model use its thoughts?).
    Zero,
    /// The thought of another row: row `r` receives the thought of row `perm[r]`.
    Shuffle(Vec<usize>),
    /// The hidden state with its gradient cut (same forward values as `Hidden`; no
    /// backpropagation through the thought chain).
    Detached,
    /// The mean over the batch's rows of the hidden state at this step (causal test: what is
    /// left of the answer when the thought carries no example-specific content).
    Mean,
    /// Given vectors: slot `i` of row `r` receives row `r` of `thoughts[i]` `[rows, d]` (causal
    /// test: thoughts transplanted from another run, e.g. the same graph with an edge removed).
    Given(Vec<Tensor<2>>),
    /// Teacher forcing of the superposition (training): in the rows where `rows[r]` is true,
    /// slot `i` receives the normalised sum of the embeddings of the nodes within `i + 1` hops
    /// ([`teacher_thoughts`]); the other rows feed back their hidden state.
    Teacher {
        thoughts: Vec<Tensor<2>>,
        rows: Vec<bool>,
    },
}

impl ThoughtFeed {
    /// The vector written into thought slot `i`, given the previous position's last hidden
    /// state `last` `[rows, 1, d]`.
    fn vector(&self, i: usize, last: &Tensor<3>, device: &Device) -> Tensor<3> {
        let [rows, _, d] = last.dims();
        match self {
            ThoughtFeed::Hidden => last.clone(),
            ThoughtFeed::Zero => last.zeros_like(),
            ThoughtFeed::Detached => last.clone().detach(),
            ThoughtFeed::Mean => last.clone().mean_dim(0).repeat_dim(0, rows),
            ThoughtFeed::Given(given) => match given.get(i) {
                Some(t) => t.clone().reshape([rows, 1, d]),
                None => last.clone(),
            },
            ThoughtFeed::Teacher {
                thoughts,
                rows: forced,
            } => match thoughts.get(i) {
                Some(t) => blend_rows(
                    t.clone().reshape([rows, 1, d]),
                    last.clone(),
                    forced,
                    device,
                ),
                None => last.clone(),
            },
            ThoughtFeed::Shuffle(perm) => {
                let idx = Tensor::<1, Int>::from_data(
                    TensorData::new(perm.iter().map(|&p| p as i64).collect::<Vec<_>>(), [rows]),
                    device,
                );
                last.clone().select(0, idx)
            }
        }
    }
}

/// The exact superpositions for the thought slots of `b` (Zhu et al. 2025, Theorem 1: thought
/// `i` is the normalised sum of the embeddings of the nodes reached within `i` hops), scaled to
/// the norm `sqrt(d)` of a LayerNorm output (then rescaled like any fed thought, see
/// `superpose_model::thought_input`), computed from the model's (detached) token embeddings:
/// one `[rows, d]` tensor per slot.
pub fn teacher_thoughts(model: &Model, b: &HostBatch, device: &Device) -> Vec<Tensor<2>> {
    let emb = model.token_embedding().detach(); // [vocab, d]
    let [vocab, d] = emb.dims();
    let k = b.max_thoughts();
    (0..k)
        .map(|i| {
            let mut q = vec![0f32; b.rows * vocab];
            for r in 0..b.rows {
                if let Some(set) = b.thought_sets[r].get(i) {
                    for &v in set {
                        q[r * vocab + v as usize] = 1.0;
                    }
                }
            }
            let q = Tensor::<2>::from_data(TensorData::new(q, [b.rows, vocab]), device);
            let sum = q.matmul(emb.clone());
            let norm = sum
                .clone()
                .powi_scalar(2)
                .sum_dim(1)
                .sqrt()
                .add_scalar(1e-6);
            sum.div(norm).mul_scalar((d as f64).sqrt())
        })
        .collect()
}

/// Outputs of [`multipass`].
pub struct MultiPass {
    /// Logits over every column `[rows, cols, vocab]`.
    pub logits: Tensor<3>,
    /// Per thought index `i`, the vector fed into slot `i` (before any ablation) `[rows, d]`.
    pub thoughts: Vec<Tensor<2>>,
    /// Per thought index `i`, the attention of layer `attn_layer` from the query that produced
    /// thought `i` over all earlier columns, `[rows, heads, keys]` (empty unless requested).
    pub thought_attn: Vec<Tensor<3>>,
    /// The KV cache after the last column (for decoding further).
    pub cache: KvCache,
    /// Last-layer hidden state of the last column `[rows, 1, d]`.
    pub last_hidden: Tensor<3>,
}

pub(crate) fn int2(data: Vec<i64>, rows: usize, cols: usize, device: &Device) -> Tensor<2, Int> {
    Tensor::<2, Int>::from_data(TensorData::new(data, [rows, cols]), device)
}

pub(crate) fn bool2(data: Vec<bool>, rows: usize, cols: usize, device: &Device) -> Tensor<2, Bool> {
    Tensor::<2, Bool>::from_data(TensorData::new(data, [rows, cols]), device)
}

/// Row-wise choice between two `[rows, 1, d]` tensors: row `r` of `a` where `take_a[r]`, else
/// row `r` of `b` (differentiable in both).
fn blend_rows(a: Tensor<3>, b: Tensor<3>, take_a: &[bool], device: &Device) -> Tensor<3> {
    let m: Vec<f32> = take_a.iter().map(|&t| t as u8 as f32).collect();
    let m = Tensor::<3>::from_data(TensorData::new(m, [take_a.len(), 1, 1]), device);
    a.mul(m.clone()).add(b.mul(m.neg().add_scalar(1.0)))
}

/// The attention of layer `layer` from query column `q` over all keys, `[rows, heads, keys]`.
fn query_attention(atts: &[Tensor<4>], layer: Option<usize>, q: usize) -> Option<Tensor<3>> {
    let a = atts.get(layer?)?.clone();
    let [bb, h, _, kk] = a.dims();
    Some(a.slice([0..bb, 0..h, q..q + 1, 0..kk]).reshape([bb, h, kk]))
}

/// Run `model` over `b`. With `continuous`, the thought columns are filled sequentially from
/// the previous hidden state (rows with fewer thoughts keep their tokens there, as in Coconut);
/// otherwise everything is one pass (no-CoT, CoT, pause).
pub fn multipass(
    model: &Model,
    b: &HostBatch,
    continuous: bool,
    feed: &ThoughtFeed,
    attn_layer: Option<usize>,
    device: &Device,
) -> MultiPass {
    let (rows, cols) = (b.rows, b.cols);
    let d = model.config().d_model;
    let ids = int2(
        b.tokens.iter().map(|&t| t as i64).collect(),
        rows,
        cols,
        device,
    );
    let positions = int2(b.positions.clone(), rows, cols, device);
    let mask = bool2(b.key_mask.clone(), rows, cols, device);
    let embeds = model.embed_tokens(ids);
    let mut cache = KvCache::new(model.config().n_layer);
    let k = if continuous { b.max_thoughts() } else { 0 };
    let want_attn = attn_layer.is_some();
    let take_attn = |atts: &[Tensor<4>], q: usize| query_attention(atts, attn_layer, q);
    if k == 0 && b.readout_mask.is_none() {
        let out = model.forward(
            ForwardInput {
                embeds,
                positions,
                key_mask: Some(mask),
                output_attentions: want_attn,
            },
            Some(&mut cache),
        );
        let last_hidden = out.hidden.clone().slice([0..rows, cols - 1..cols, 0..d]);
        let mut thought_attn = Vec::new();
        if let Some(a) = take_attn(&out.attentions, b.bot_col) {
            thought_attn.push(a);
        }
        return MultiPass {
            logits: out.logits,
            thoughts: Vec::new(),
            thought_attn,
            cache,
            last_hidden,
        };
    }
    // Pass 0: columns [0, first thought).
    let first = b.bot_col + 1;
    let mut logits = Vec::with_capacity(k + 2);
    let out = model.forward(
        ForwardInput {
            embeds: embeds.clone().slice([0..rows, 0..first, 0..d]),
            positions: positions.clone().slice([0..rows, 0..first]),
            key_mask: Some(mask.clone().slice([0..rows, 0..first])),
            output_attentions: want_attn,
        },
        Some(&mut cache),
    );
    let mut thought_attn = Vec::new();
    if let Some(a) = take_attn(&out.attentions, first - 1) {
        thought_attn.push(a);
    }
    logits.push(out.logits);
    let mut last = out.hidden.slice([0..rows, first - 1..first, 0..d]);
    let mut thoughts = Vec::with_capacity(k);
    let thought_norm = model.thought_norm();
    for i in 0..k {
        let c = first + i;
        thoughts.push(last.clone().reshape([rows, d]));
        let fed = thought_input(feed.vector(i, &last, device), thought_norm);
        // Rows with fewer thoughts keep their token in this column (Coconut's mixed stages).
        let is_thought: Vec<bool> = b.thoughts.iter().map(|&n| n > i).collect();
        let tok = embeds.clone().slice([0..rows, c..c + 1, 0..d]);
        let x = blend_rows(fed, tok, &is_thought, device);
        let out = model.forward(
            ForwardInput {
                embeds: x,
                positions: positions.clone().slice([0..rows, c..c + 1]),
                key_mask: Some(mask.clone().slice([0..rows, 0..c + 1])),
                output_attentions: want_attn && i + 1 < k,
            },
            Some(&mut cache),
        );
        if i + 1 < k {
            if let Some(a) = take_attn(&out.attentions, 0) {
                thought_attn.push(a);
            }
        }
        logits.push(out.logits);
        last = out.hidden;
    }
    // Final pass over the rest of the sequence (without the edge list under the readout
    // bottleneck).
    let c = first + k;
    if c < cols {
        let mask = match &b.readout_mask {
            Some(m) => bool2(m.clone(), rows, cols, device),
            None => mask,
        };
        let out = model.forward(
            ForwardInput {
                embeds: embeds.slice([0..rows, c..cols, 0..d]),
                positions: positions.slice([0..rows, c..cols]),
                key_mask: Some(mask),
                output_attentions: false,
            },
            Some(&mut cache),
        );
        let n = cols - c;
        last = out.hidden.slice([0..rows, n - 1..n, 0..d]);
        logits.push(out.logits);
    }
    MultiPass {
        logits: Tensor::cat(logits, 1),
        thoughts,
        thought_attn,
        cache,
        last_hidden: last,
    }
}

/// The frontier loss of one batch: the summed cross-entropy, the number of (row, thought)
/// pairs it sums over, and per thought slot the (summed loss, pairs) for logging.
pub struct FrontierLoss {
    pub sum: Tensor<1>,
    pub pairs: usize,
    pub per_thought: Vec<(f64, usize)>,
}

/// Auxiliary frontier loss (the per-thought set supervision of the CPU recipe; the targets are
/// the superpositions of Zhu et al. 2025, Theorem 1): for each row and each of its thoughts `i`
/// (produced at column `bot_col + i`), the cross-entropy between the LM head's distribution
/// there and the uniform distribution over the nodes within `i + 1` hops of the root.
pub fn frontier_loss(logits: &Tensor<3>, b: &HostBatch, device: &Device) -> FrontierLoss {
    let [rows, _, vocab] = logits.dims();
    let k = b.max_thoughts();
    let mut q = vec![0f32; rows * k * vocab];
    let mut counts = vec![0usize; k];
    for r in 0..rows {
        for (i, set) in b.thought_sets[r]
            .iter()
            .enumerate()
            .take(b.thoughts[r].min(k))
        {
            if set.is_empty() {
                continue;
            }
            counts[i] += 1;
            let w = 1.0 / set.len() as f32;
            for &v in set {
                q[(r * k + i) * vocab + v as usize] = w;
            }
        }
    }
    let pairs = counts.iter().sum();
    if pairs == 0 {
        let sum = logits.clone().sum().mul_scalar(0.0);
        return FrontierLoss {
            sum,
            pairs,
            per_thought: Vec::new(),
        };
    }
    let cols = b.bot_col..b.bot_col + k;
    let logp =
        burn::tensor::activation::log_softmax(logits.clone().slice([0..rows, cols, 0..vocab]), 2);
    let q = Tensor::<3>::from_data(TensorData::new(q, [rows, k, vocab]), device);
    // [rows, k]: the cross-entropy of each (row, thought) pair (0 where the set is empty).
    let terms = logp.mul(q).sum_dim(2).reshape([rows, k]).neg();
    let per: Vec<f32> = terms
        .clone()
        .inner()
        .sum_dim(0)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor");
    FrontierLoss {
        sum: terms.sum(),
        pairs,
        per_thought: per
            .iter()
            .zip(&counts)
            .map(|(&l, &n)| (l as f64, n))
            .collect(),
    }
}

/// Summed cross-entropy over the cells of `b` that have a target, their number, and how many
/// of them the argmax predicts correctly.
pub fn lm_loss(logits: Tensor<3>, b: &HostBatch, device: &Device) -> (Tensor<1>, usize, usize) {
    let [rows, cols, vocab] = logits.dims();
    let mut idx = Vec::new();
    let mut tgt = Vec::new();
    for (cell, &t) in b.targets.iter().enumerate() {
        if t >= 0 {
            idx.push(cell as i64);
            tgt.push(t);
        }
    }
    let n = idx.len();
    if n == 0 {
        return (logits.sum().mul_scalar(0.0), 0, 0);
    }
    let flat = logits.reshape([rows * cols, vocab]);
    let pred: Vec<i64> = flat
        .clone()
        .inner()
        .select(
            0,
            Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), device),
        )
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap_or_default();
    let correct = pred.iter().zip(&tgt).filter(|(p, t)| p == t).count();
    // One fused log-softmax + pick on the CPU backend (burn's composite ops elsewhere).
    let loss = superpose_model::fused::cross_entropy_sum(flat, &b.targets);
    (loss, n, correct)
}
