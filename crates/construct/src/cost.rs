//! Cost accounting: multiply-adds of the construction's forward pass beside the edge visits
//! of exact BFS for the same step.

use crate::weights::Weights;

/// Multiply-adds to run one new position through both layers with a KV cache, when the
/// context (cached positions + this one) has `ctx` positions:
/// per layer c_attn 3d², scores d·ctx (n_head·d_head = d), weighted values d·ctx, c_proj d²;
/// layer 2 adds its MLP 2·d·d_mlp (layer 1's MLP is switched off). The readout Uᵀ
/// (|Voc|·d) is counted separately by [`readout_macs`]: a thought does not need it.
pub fn step_macs(w: &Weights, ctx: usize) -> u64 {
    let d = w.layout.d_model as u64;
    let ctx = ctx as u64;
    let attn = 3 * d * d + 2 * d * ctx + d * d;
    let mlp = 2 * d * w.constants.d_mlp as u64;
    2 * attn + mlp
}

/// Multiply-adds of the readout Uᵀ at one position.
pub fn readout_macs(w: &Weights) -> u64 {
    (w.layout.vocab_size() * w.layout.d_model) as u64
}

/// Multiply-adds to prefill a prompt of `len` positions (Σ over positions of [`step_macs`]).
pub fn prefill_macs(w: &Weights, len: usize) -> u64 {
    (1..=len).map(|ctx| step_macs(w, ctx)).sum()
}
