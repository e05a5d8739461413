//! A tiny f32 forward pass over the named weights, independent of the `model` runtime, used
//! by tests to cross-check the matrices (the product runs the runtime, see `engine`).
//! Semantics: Post placement, L2 norm, layer 1 without MLP, layer 2 with the threshold MLP
//! and no residual, scores q·k without scaling, causal softmax, tied readout. Incremental:
//! each layer keeps the q|k|v of earlier positions (a KV cache), so a step costs O(d² + L·d).

use crate::run::Engine;
use crate::weights::Weights;
use crate::ConstructError;
use superpose_model::hf::{BlockNames, WPE, WTE};
use superpose_model::NamedTensor;

fn l2(x: &mut [f32]) {
    let n = x.iter().map(|v| v * v).sum::<f32>().sqrt();
    x.iter_mut().for_each(|v| *v /= n);
}

fn matvec(x: &[f32], w: &NamedTensor, b: &NamedTensor) -> Vec<f32> {
    let (rows, cols) = (w.shape[0], w.shape[1]);
    let mut y = b.data.clone();
    for (r, &xr) in x.iter().enumerate().take(rows) {
        if xr == 0.0 {
            continue;
        }
        let row = &w.data[r * cols..(r + 1) * cols];
        for (yc, wc) in y.iter_mut().zip(row) {
            *yc += xr * wc;
        }
    }
    y
}

pub(crate) struct Reference<'a> {
    w: &'a Weights,
    /// Per layer, q|k|v of every position so far.
    qkv: [Vec<Vec<f32>>; 2],
}

impl<'a> Reference<'a> {
    pub(crate) fn new(w: &'a Weights) -> Self {
        Reference {
            w,
            qkv: [Vec::new(), Vec::new()],
        }
    }

    fn attend(&self, layer: usize) -> Vec<f32> {
        let l = &self.w.layout;
        let (d, nh, dh) = (l.d_model, l.n_head, l.d_head);
        let rows = &self.qkv[layer];
        let i = rows.len() - 1;
        let mut cat = vec![0.0f32; d];
        for head in 0..nh {
            let q = &rows[i][head * dh..(head + 1) * dh];
            let scores: Vec<f32> = rows
                .iter()
                .map(|r| {
                    let k = &r[d + head * dh..d + (head + 1) * dh];
                    q.iter().zip(k).map(|(a, b)| a * b).sum()
                })
                .collect();
            let mx = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let ex: Vec<f32> = scores.iter().map(|s| (s - mx).exp()).collect();
            let z: f32 = ex.iter().sum();
            for (r, e) in rows.iter().zip(&ex) {
                let v = &r[2 * d + head * dh..2 * d + (head + 1) * dh];
                for a in 0..dh {
                    cat[head * dh + a] += e / z * v[a];
                }
            }
        }
        cat
    }

    /// Runs one new position (input embedding without position) and returns its final
    /// hidden state.
    pub(crate) fn step(&mut self, mut x: Vec<f32>) -> Vec<f32> {
        let w = self.w;
        let d = w.layout.d_model;
        let pos = self.qkv[0].len() + 1; // 1-based position
        let wpe = &w.tensors[WPE];
        for (k, p) in wpe.data[pos * d..(pos + 1) * d].iter().enumerate() {
            x[k] += p;
        }
        let mut h = x;
        for layer in 0..2 {
            let n = BlockNames::new(layer);
            let t = |s: &String| &w.tensors[s];
            let qkv = matvec(&h, t(&n.c_attn_weight), t(&n.c_attn_bias));
            self.qkv[layer].push(qkv);
            let cat = self.attend(layer);
            let a = matvec(&cat, t(&n.attn_proj_weight), t(&n.attn_proj_bias));
            let mut y: Vec<f32> = h.iter().zip(&a).map(|(x, y)| x + y).collect();
            l2(&mut y);
            if layer == 1 {
                let mut hid = matvec(&y, t(&n.c_fc_weight), t(&n.c_fc_bias));
                let eps = w.constants.eps as f32;
                hid.iter_mut()
                    .for_each(|x| *x = if *x >= eps { 1.0 } else { 0.0 });
                y = matvec(&hid, t(&n.mlp_proj_weight), t(&n.mlp_proj_bias));
                l2(&mut y);
            }
            h = y;
        }
        h
    }

    fn token(&mut self, id: u32) -> Vec<f32> {
        let d = self.w.layout.d_model;
        let wte = &self.w.tensors[WTE];
        let e = wte.data[id as usize * d..(id as usize + 1) * d].to_vec();
        self.step(e)
    }
}

/// Logits of a hidden state under the tied readout Uᵀ.
pub(crate) fn logits(w: &Weights, h: &[f32]) -> Vec<f32> {
    let wte = &w.tensors[WTE];
    let d = w.layout.d_model;
    (0..wte.shape[0])
        .map(|r| {
            wte.data[r * d..(r + 1) * d]
                .iter()
                .zip(h)
                .map(|(a, b)| a * b)
                .sum()
        })
        .collect()
}

impl Engine for Reference<'_> {
    fn prefill(&mut self, ids: &[u32]) -> Result<Vec<f32>, ConstructError> {
        let mut last = Vec::new();
        for &id in ids {
            last = self.token(id);
        }
        Ok(last)
    }
    fn latent(&mut self, thought: &[f32]) -> Result<Vec<f32>, ConstructError> {
        Ok(self.step(thought.to_vec()))
    }
    fn token_logits(&mut self, id: u32) -> Result<Vec<f32>, ConstructError> {
        let h = self.token(id);
        Ok(logits(self.w, &h))
    }
}
