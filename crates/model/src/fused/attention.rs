//! Causal multi-head attention per (row, head) in blocks of query rows, FlashAttention-style
//! (Dao et al. 2022; the backward is FlashAttention-2's, Dao 2023): the `[b, h, s, s]`
//! probabilities are never stored, only the row log-sum-exp.

use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Tensor, TensorData};
use burn_flex::FlexTensor;

use super::gemm::{gemm_on, written_by};
use super::vecmath::{dscores_row, probs_row, scale_row, softmax_row};
use super::{contiguous, f32s, finish, flex, input, inputs, run_tasks, FusedGrad, SharedOut};

/// Query rows per block.
const BLOCK: usize = 64;

/// Where the `[batch, head, row, d_head]` elements of one operand live in a buffer: element
/// `(b, h, r, e)` is at `b·batch + h·head + r·row + e`. Held as an address so rayon tasks can
/// share it; every task touches only its own (b, h).
#[derive(Clone, Copy, Debug)]
pub(super) struct HeadView {
    addr: usize,
    batch: usize,
    head: usize,
    pub(super) row: usize,
}

impl HeadView {
    fn of(ptr: *const f32, batch: usize, head: usize, row: usize) -> Self {
        Self {
            addr: ptr as usize,
            batch,
            head,
            row,
        }
    }

    pub(super) fn at(&self, b: usize, h: usize) -> *mut f32 {
        (self.addr as *mut f32).wrapping_add(b * self.batch + h * self.head)
    }
}

/// Sizes and masking of one attention call. Query `i` sits at absolute position `past + i`
/// and sees key `j` iff `j ≤ past + i` and (key `j` is real, or `j` is the query itself: a
/// padding query never has an empty softmax row).
#[derive(Clone, Debug)]
struct AttnShape {
    b: usize,
    nh: usize,
    s: usize,
    total: usize,
    dh: usize,
    past: usize,
    scale: f32,
    /// `[b, total]`, true = real key; `None` = every key is real.
    valid: Option<Vec<bool>>,
}

/// Scores of query rows `i0..i0+m` against keys `0..n` into `s [m×n]`, scaled and masked
/// (masked = −∞).
#[allow(clippy::too_many_arguments)]
unsafe fn block_scores(
    sh: &AttnShape,
    bi: usize,
    q: *const f32,
    q_rs: usize,
    k: *const f32,
    k_rs: usize,
    i0: usize,
    m: usize,
    n: usize,
    s: &mut [f32],
) {
    // S = Q Kᵀ: Kᵀ as a [dh × n] view of K (row stride 1, column stride k_rs).
    unsafe {
        gemm_on(
            m,
            n,
            sh.dh,
            s.as_mut_ptr(),
            n,
            false,
            q.add(i0 * q_rs),
            q_rs as isize,
            1,
            k,
            1,
            k_rs as isize,
            false,
            None,
        );
    }
    for r in 0..m {
        let row = &mut s[r * n..(r + 1) * n];
        let qa = sh.past + i0 + r;
        // Keys after the query (j > qa) are left for the caller, which stops at `lim`.
        scale_row(row, qa + 1, sh.scale);
        if let Some(valid) = &sh.valid {
            let valid = &valid[bi * sh.total..bi * sh.total + qa + 1];
            for (j, x) in row[..qa + 1].iter_mut().enumerate() {
                if !valid[j] && j != qa {
                    *x = f32::NEG_INFINITY;
                }
            }
        }
    }
}

/// Forward: `o [b, s, h·dh]` (heads merged) and the row log-sum-exp `[b, h, s]`.
fn attention_fwd(sh: &AttnShape, q: HeadView, k: HeadView, v: HeadView) -> (Vec<f32>, Vec<f32>) {
    let (s, dh, d) = (sh.s, sh.dh, sh.nh * sh.dh);
    let mut lse = vec![0f32; sh.b * sh.nh * s];
    let lo = SharedOut::new(&mut lse);
    let work = sh.b * sh.nh * s * sh.total * dh;
    // Every row of every head's output columns is written by one `O = P V` product below.
    let o = written_by(sh.b * s * d, dh, |optr| {
        let ov = HeadView::of(optr, s * d, dh, d);
        run_tasks(sh.b * sh.nh, work, |t| {
            let (bi, hi) = (t / sh.nh, t % sh.nh);
            // SAFETY: task t owns its (b, h): these lse entries and these output columns.
            let lse = unsafe { lo.range(t * s, s) };
            let (qp, kp, vp, op) = (q.at(bi, hi), k.at(bi, hi), v.at(bi, hi), ov.at(bi, hi));
            let mut sbuf = vec![0f32; BLOCK.min(s) * sh.total];
            for i0 in (0..s).step_by(BLOCK) {
                let m = BLOCK.min(s - i0);
                let n = sh.past + i0 + m; // causal: later keys are all masked
                let sb = &mut sbuf[..m * n];
                // SAFETY: the views cover [b, h, rows, dh] inside their buffers (the callers build
                // them from the tensors they read: `packed_views`).
                unsafe { block_scores(sh, bi, qp, q.row, kp, k.row, i0, m, n, sb) };
                for r in 0..m {
                    let lim = sh.past + i0 + r + 1;
                    lse[i0 + r] = softmax_row(&mut sb[r * n..(r + 1) * n], lim);
                }
                // O = P V.
                unsafe {
                    gemm_on(
                        m,
                        dh,
                        n,
                        op.add(i0 * ov.row),
                        ov.row,
                        false,
                        sb.as_ptr(),
                        n as isize,
                        1,
                        vp,
                        v.row as isize,
                        1,
                        false,
                        None,
                    )
                };
            }
        });
    });
    (o, lse)
}

/// Backward (FlashAttention-2's, Dao 2023): per block, P = exp(S − lse);
/// dV += Pᵀ dO; dP = dO Vᵀ; dS = P ∘ (dP − rowsum(dO ∘ O)); dQ = dS K · scale;
/// dK += dSᵀ Q · scale. Writes dq (`s` rows) and dk, dv (`total` rows) through their views.
#[allow(clippy::too_many_arguments)]
fn attention_bwd(
    sh: &AttnShape,
    q: HeadView,
    k: HeadView,
    v: HeadView,
    o: &[f32],
    lse: &[f32],
    dout: &[f32],
    dq: HeadView,
    dk: HeadView,
    dv: HeadView,
) {
    let (s, dh, d, total) = (sh.s, sh.dh, sh.nh * sh.dh, sh.total);
    // Every key has a query after it (total = past + s), so the last block covers all keys.
    let views = BwdViews {
        q,
        k,
        v,
        o: HeadView::of(o.as_ptr(), s * d, dh, d),
        g: HeadView::of(dout.as_ptr(), s * d, dh, d),
        dq,
        dk,
        dv,
    };
    let work = sh.b * sh.nh * s * total * dh;
    run_tasks(sh.b * sh.nh, work, |t| head_bwd(sh, &views, lse, t));
}

/// The operands of the backward, as views: inputs q, k, v, output o, its gradient g, and the
/// gradients dq, dk, dv it writes.
#[derive(Clone, Copy)]
struct BwdViews {
    q: HeadView,
    k: HeadView,
    v: HeadView,
    o: HeadView,
    g: HeadView,
    dq: HeadView,
    dk: HeadView,
    dv: HeadView,
}

/// The backward of task `t`'s (row, head), block by block of queries (see [`attention_bwd`]).
fn head_bwd(sh: &AttnShape, views: &BwdViews, lse: &[f32], t: usize) {
    let (s, dh, total) = (sh.s, sh.dh, sh.total);
    let BwdViews {
        q,
        k,
        v,
        o: ov,
        g: gv,
        dq,
        dk,
        dv,
    } = *views;
    let (bi, hi) = (t / sh.nh, t % sh.nh);
    let (qp, kp, vp) = (q.at(bi, hi), k.at(bi, hi), v.at(bi, hi));
    let (op, gp) = (ov.at(bi, hi), gv.at(bi, hi));
    let lse = &lse[t * s..(t + 1) * s];
    // SAFETY: both views cover `s` rows of `dh` for this (b, h).
    let delta = unsafe { row_dots(op, ov.row, gp, gv.row, s, dh) };
    let mut dk_acc = vec![0f32; total * dh];
    let mut dv_acc = vec![0f32; total * dh];
    let mut pbuf = vec![0f32; BLOCK.min(s) * total];
    let mut dsbuf = vec![0f32; BLOCK.min(s) * total];
    let dqp = dq.at(bi, hi);
    for i0 in (0..s).step_by(BLOCK) {
        let m = BLOCK.min(s - i0);
        let n = sh.past + i0 + m;
        let p = &mut pbuf[..m * n];
        unsafe { block_scores(sh, bi, qp, q.row, kp, k.row, i0, m, n, p) };
        for r in 0..m {
            let lim = sh.past + i0 + r + 1;
            probs_row(&mut p[r * n..(r + 1) * n], lim, lse[i0 + r]);
        }
        let ds = &mut dsbuf[..m * n];
        unsafe {
            // dV[0..n] += Pᵀ dO_blk.
            gemm_on(
                n,
                dh,
                m,
                dv_acc.as_mut_ptr(),
                dh,
                true,
                p.as_ptr(),
                1,
                n as isize,
                gp.add(i0 * gv.row),
                gv.row as isize,
                1,
                false,
                None,
            );
            // dP = dO_blk Vᵀ.
            gemm_on(
                m,
                n,
                dh,
                ds.as_mut_ptr(),
                n,
                false,
                gp.add(i0 * gv.row),
                gv.row as isize,
                1,
                vp,
                1,
                v.row as isize,
                false,
                None,
            );
        }
        for r in 0..m {
            let (pr, dr) = (&p[r * n..(r + 1) * n], &mut ds[r * n..(r + 1) * n]);
            dscores_row(dr, pr, delta[i0 + r], sh.scale);
        }
        unsafe {
            // dQ_blk = dS K.
            gemm_on(
                m,
                dh,
                n,
                dqp.add(i0 * dq.row),
                dq.row,
                false,
                ds.as_ptr(),
                n as isize,
                1,
                kp,
                k.row as isize,
                1,
                false,
                None,
            );
            // dK[0..n] += dSᵀ Q_blk.
            gemm_on(
                n,
                dh,
                m,
                dk_acc.as_mut_ptr(),
                dh,
                true,
                ds.as_ptr(),
                1,
                n as isize,
                qp.add(i0 * q.row),
                q.row as isize,
                1,
                false,
                None,
            );
        }
    }
    // SAFETY: task t owns these rows of dk and dv.
    unsafe {
        write_rows(&dk_acc, dk.at(bi, hi), dk.row, dh);
        write_rows(&dv_acc, dv.at(bi, hi), dv.row, dh);
    }
}

/// D_i = rowsum(dO ∘ O) over `s` rows of width `dh` (row strides `o_rs`, `g_rs`).
///
/// # Safety
/// Both views must cover `s` rows of `dh` elements.
unsafe fn row_dots(
    o: *const f32,
    o_rs: usize,
    g: *const f32,
    g_rs: usize,
    s: usize,
    dh: usize,
) -> Vec<f32> {
    (0..s)
        .map(|i| unsafe {
            let (orow, grow) = (o.add(i * o_rs), g.add(i * g_rs));
            (0..dh).map(|e| *orow.add(e) * *grow.add(e)).sum()
        })
        .collect()
}

/// Copy the contiguous rows of width `dh` in `src` to `dst`, whose rows are `row` apart.
///
/// # Safety
/// `dst` must have room for `src.len() / dh` rows and not overlap `src`.
unsafe fn write_rows(src: &[f32], dst: *mut f32, row: usize, dh: usize) {
    for (j, r) in src.chunks_exact(dh).enumerate() {
        unsafe { std::ptr::copy_nonoverlapping(r.as_ptr(), dst.add(j * row), dh) };
    }
}

/// Where the queries, keys and values of packed projection rows `[b, total, 3·d]` live:
/// `rows` is the first element, `batch` and `row` the strides of the first two axes (the
/// third has unit stride); the queries are those of the last `s` rows.
fn packed_views(
    rows: *const f32,
    batch: usize,
    row: usize,
    sh: &AttnShape,
) -> (HeadView, HeadView, HeadView) {
    let d = sh.nh * sh.dh;
    let view = |off: usize| HeadView::of(rows.wrapping_add(off), batch, sh.dh, row);
    (view(sh.past * row), view(d), view(2 * d))
}

/// What the backward keeps: the rows (queries, keys and values), the output and its row
/// log-sum-exp.
#[derive(Clone, Debug)]
struct PackedState {
    rows: FlexTensor,
    out: FlexTensor,
    lse: Vec<f32>,
    shape: AttnShape,
}

impl FusedGrad<1> for PackedState {
    fn grads(self, dy: FlexTensor, _: [bool; 1]) -> [Option<FlexTensor>; 1] {
        let sh = &self.shape;
        let (total, d3) = (sh.total, 3 * sh.nh * sh.dh);
        let (q, k, v) = packed_views(f32s(&self.rows).as_ptr(), total * d3, d3, sh);
        // The query columns of the cached rows get no gradient: they stay 0.
        let mut drows = vec![0f32; sh.b * total * d3];
        let (dq, dk, dv) = packed_views(drows.as_mut_ptr(), total * d3, d3, sh);
        attention_bwd(
            sh,
            q,
            k,
            v,
            f32s(&self.out),
            &self.lse,
            f32s(&dy),
            dq,
            dk,
            dv,
        );
        [Some(flex(drows, vec![sh.b, total, d3]))]
    }
}

/// Expand a `[b, total]` key-validity mask (true = real key) into burn's attention mask
/// `[b, h, s, total]` (true = masked) with the same rule as the fused kernel; None when plain
/// causal masking from position 0 is all there is.
pub fn attention_mask(
    valid: Option<&[bool]>,
    b: usize,
    nh: usize,
    s: usize,
    total: usize,
    past: usize,
    device: &burn::tensor::Device,
) -> Option<Tensor<4, Bool>> {
    if past == 0 && valid.is_none() {
        return None;
    }
    let mut m = vec![false; b * s * total];
    for r in 0..b {
        for i in 0..s {
            let qa = past + i;
            for j in 0..total {
                let pad = valid.is_some_and(|v| !v[r * total + j]);
                m[(r * s + i) * total + j] = j > qa || (pad && j != qa);
            }
        }
    }
    Some(
        Tensor::<4, Bool>::from_data(TensorData::new(m, [b, 1, s, total]), device)
            .expand([b, nh, s, total]),
    )
}

/// burn's attention with the mask of `sh`, heads merged.
fn composite_attention(qkv: [Tensor<4>; 3], sh: &AttnShape) -> Tensor<3> {
    let [q, k, v] = qkv;
    let (b, nh, s, dh) = (sh.b, sh.nh, sh.s, sh.dh);
    let mask = attention_mask(
        sh.valid.as_deref(),
        b,
        nh,
        s,
        sh.total,
        sh.past,
        &q.device(),
    );
    let options = AttentionModuleOptions {
        scale: Some(sh.scale as f64),
        softcap: None,
        is_causal: mask.is_none(),
    };
    let ctx = burn::tensor::module::attention(q, k, v, mask, None, options);
    ctx.swap_dims(1, 2).reshape([b, s, nh * dh])
}

/// Causal multi-head self-attention over packed projection rows `rows [b, total, 3·d]`
/// (queries, keys and values side by side, as GPT-2's `c_attn` produces them): the queries of
/// the last `total − past` rows, at positions `past..total`, over the keys and values of all
/// rows (the first `past` are a KV cache's). Returns the context with heads merged,
/// `[b, total − past, d]`. `valid [b·total]` marks real keys (None = all real). The rows may be
/// a strided view (the first `total` rows of a cache slab); the gradient goes to all of them.
pub fn self_attention(
    rows: Tensor<3>,
    past: usize,
    n_head: usize,
    scale: f64,
    valid: Option<&[bool]>,
) -> Tensor<3> {
    let [b, total, d3] = rows.dims();
    assert!(
        past <= total,
        "self_attention: {past} cached rows of {total}"
    );
    let (d, s) = (d3 / 3, total - past);
    let dh = d / n_head;
    let shape = AttnShape {
        b,
        nh: n_head,
        s,
        total,
        dh,
        past,
        scale: scale as f32,
        valid: valid.map(<[bool]>::to_vec),
    };
    if let Some(([rp], ad)) = inputs([input(&rows)]) {
        // The backward reads the rows as one contiguous buffer; the forward reads any view
        // with a unit inner stride in place.
        let rp = if ad.is_some() || !unit_inner_stride(&rp) {
            contiguous(rp)
        } else {
            rp
        };
        let st = rp.layout().strides().to_vec();
        let base = rp
            .storage::<f32>()
            .as_ptr()
            .wrapping_add(rp.layout().start_offset());
        let (q, k, v) = packed_views(base, st[0] as usize, st[1] as usize, &shape);
        let (o, lse) = attention_fwd(&shape, q, k, v);
        let out = flex(o, vec![b, s, d]);
        let saved = out.clone();
        return finish(ad, out, || PackedState {
            rows: rp,
            out: saved,
            lse,
            shape,
        });
    }
    let heads = |t: Tensor<3>, n: usize| t.reshape([b, n, n_head, dh]).swap_dims(1, 2);
    let q = heads(rows.clone().narrow(1, past, s).narrow(2, 0, d), s);
    let k = heads(rows.clone().narrow(2, d, d), total);
    let v = heads(rows.narrow(2, 2 * d, d), total);
    composite_attention([q, k, v], &shape)
}

/// Whether `t`'s last axis has unit stride and no stride is negative (a view the kernels can
/// read through `HeadView`s).
pub(super) fn unit_inner_stride(t: &FlexTensor) -> bool {
    let st = t.layout().strides();
    st[st.len() - 1] == 1 && st.iter().all(|&x| x >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::testing::{check, randn};

    #[test]
    fn self_attention_matches_burn_values_and_gradients() {
        // s = 150 spans three query blocks (64 + 64 + 22); d = 48, 4 heads of 12.
        check(
            |d| vec![randn([2, 150, 144], 5, d)],
            |x| self_attention(x[0].clone(), 0, 4, 0.3, None),
            2e-4,
        );
        // Left padding: row 0 has 5 padding keys, row 1 none.
        let valid: Vec<bool> = (0..2 * 70).map(|i| i >= 5).collect();
        check(
            |d| vec![randn([2, 70, 48], 6, d)],
            |x| self_attention(x[0].clone(), 0, 2, 0.25, Some(&valid)),
            2e-4,
        );
    }

    #[test]
    fn cached_attention_matches_burn_values_and_gradients() {
        // 67 cached rows + 9 new, padding in row 1; gradients into every row's keys and values
        // and the new rows' queries.
        let (b, nh, past, s, dh) = (2, 3, 67, 9, 8);
        let total = past + s;
        let valid: Vec<bool> = (0..b * total)
            .map(|i| !(total..total + 4).contains(&i))
            .collect();
        check(
            |d| vec![randn([b, total, 3 * nh * dh], 7, d)],
            |t| self_attention(t[0].clone(), past, nh, 0.35, Some(&valid)),
            2e-4,
        );
        // A strided view (the first rows of a bigger cache slab) is read in place.
        check(
            |d| vec![randn([b, total + 5, 3 * nh * dh], 10, d)],
            |t| self_attention(t[0].clone().narrow(1, 0, total), past, nh, 0.35, None),
            2e-4,
        );
        // One new row (a decoding step).
        check(
            |d| vec![randn([b, 40, 3 * nh * dh], 11, d)],
            |t| self_attention(t[0].clone(), 39, nh, 0.35, None),
            2e-4,
        );
    }
}
