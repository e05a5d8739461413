//! Fused CPU kernels for burn's `flex` backend, each with a hand-written backward pass.
//!
//! Burn's autodiff builds attention, LayerNorm, GELU and the cross-entropy out of chains of
//! small tensor ops (burn 0.22's `attention` falls back to matmul → mask → softmax → matmul
//! under autodiff, and the softmax alone records five ops), each allocating a full-size
//! temporary and recording a node whose backward allocates more; `linear` on a 3-D input
//! becomes a broadcast batched matmul plus an add. On the CPU that bookkeeping cost as much as
//! the matrix products. Here each is one op with one backward:
//!
//! - [`self_attention`] / [`attention`]: causal multi-head attention computed per
//!   (row, head) in blocks of query rows, FlashAttention-style (Dao et al. 2022): the scores of
//!   a block, masked, soft-maxed and multiplied by V without materialising the `[b, h, s, s]`
//!   probabilities; only the row log-sum-exp is kept, and the backward recomputes the block's
//!   probabilities from it. Key blocks above the diagonal are skipped. Matrix products go
//!   through `gemm` (the crate flex itself uses), single-threaded per head; heads run in
//!   parallel on rayon.
//! - [`linear`]: one gemm forward, two backward, the weight read through its strides.
//! - [`layer_norm`]: the row mean and reciprocal standard deviation are kept for the backward.
//! - [`bias_gelu`]: the MLP's bias and exact GELU in one pass.
//! - [`cross_entropy_sum`]: log-sum-exp per row; the backward is `softmax − onehot`.
//! - [`kv_append`]: a KV cache that grows in place during decoding.
//!
//! They run when every input lives on the flex device (plain, or autodiff without gradient
//! checkpointing) as f32; otherwise, or when switched off ([`set_enabled`], or
//! `SUPERPOSE_FUSED=0` in the environment), the same functions fall back to burn's composite
//! ops, so every backend computes the same thing. The tests check both paths against each
//! other, values and gradients.

use std::cell::Cell;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::activation::log_softmax;
use burn::tensor::module::layer_norm as burn_layer_norm;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, DType, Int, Tensor, TensorData};
use burn_flex::FlexTensor;
use rayon::prelude::*;

type Ad = Autodiff<Flex>;
type AdTensor = FloatTensor<Ad>;

thread_local! {
    static ENABLED: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether this thread uses the fused kernels (default: yes, unless `SUPERPOSE_FUSED=0`).
pub fn enabled() -> bool {
    ENABLED.with(|e| {
        e.get().unwrap_or_else(|| {
            let on = std::env::var("SUPERPOSE_FUSED").map_or(true, |v| v != "0");
            e.set(Some(on));
            on
        })
    })
}

/// Switch the fused kernels on or off for this thread (benchmarks compare the two paths).
pub fn set_enabled(on: bool) {
    ENABLED.with(|e| e.set(Some(on)));
}

/// One input of a fused op: its flex primitive, and its autodiff handle when the tensor lives
/// on flex with autodiff (the op then records a backward step).
struct Input {
    p: FlexTensor,
    ad: Option<AdTensor>,
}

/// `t` as a fused op's input: None when the fused kernels are off or `t` is not an f32 tensor
/// on flex (the caller then uses burn's ops).
fn input<const D: usize>(t: &Tensor<D>) -> Option<Input> {
    if !enabled() || t.dtype() != DType::F32 {
        return None;
    }
    if t.device().is_autodiff() {
        let ad = t.clone().try_into_primitive::<Ad>().ok()?;
        Some(Input {
            p: ad.primitive().clone(),
            ad: Some(ad),
        })
    } else {
        let p = t.clone().try_into_primitive::<Flex>().ok()?;
        Some(Input { p, ad: None })
    }
}

/// The primitives of a fused op's inputs, and their autodiff handles when all are tracked;
/// None when one input cannot take the fused path or only some inputs are on autodiff.
fn inputs<const N: usize>(
    ins: [Option<Input>; N],
) -> Option<([FlexTensor; N], Option<[AdTensor; N]>)> {
    let ins = ins.into_iter().collect::<Option<Vec<Input>>>()?;
    let tracked = ins.iter().filter(|i| i.ad.is_some()).count();
    if tracked != 0 && tracked != N {
        return None;
    }
    let (mut ps, mut ads) = (Vec::with_capacity(N), Vec::with_capacity(N));
    for i in ins {
        ps.push(i.p);
        ads.extend(i.ad);
    }
    // `ads` holds all N handles or none.
    Some((ps.try_into().ok()?, ads.try_into().ok()))
}

fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() {
        t
    } else {
        t.to_contiguous()
    }
}

fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

fn flex(data: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

fn shape_of(t: &FlexTensor) -> Vec<usize> {
    t.layout().shape().to_vec()
}

/// What a fused op keeps for its backward pass, and that pass: the gradients of its `N`
/// inputs from the gradient `dy` of its output (`wanted[i]`: input `i` needs one).
trait FusedGrad<const N: usize>: Clone + Send + std::fmt::Debug + 'static {
    fn grads(self, dy: FlexTensor, wanted: [bool; N]) -> [Option<FlexTensor>; N];
}

/// burn's backward step for every fused op: it hands the output's gradient to the op's state.
#[derive(Debug)]
struct FusedBackward<S>(std::marker::PhantomData<S>);

impl<S: FusedGrad<N>, const N: usize> Backward<Flex, N> for FusedBackward<S> {
    type State = S;

    fn backward(self, ops: Ops<S, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let wanted = ops.parents.each_ref().map(Option::is_some);
        let input_grads = ops.state.grads(dy, wanted);
        for (parent, g) in ops.parents.into_iter().zip(input_grads) {
            if let (Some(node), Some(g)) = (parent, g) {
                grads.register::<Flex>(node.id, g);
            }
        }
    }
}

/// The output `out` of a fused op as a tensor. With autodiff `parents` it is recorded in
/// burn's graph, and when any parent needs a gradient the op's backward runs with `state()`.
fn finish<S: FusedGrad<N>, const D: usize, const N: usize>(
    parents: Option<[AdTensor; N]>,
    out: FlexTensor,
    state: impl FnOnce() -> S,
) -> Tensor<D> {
    let Some(parents) = parents else {
        return Tensor::from_primitive::<Flex>(out);
    };
    let prep = FusedBackward::<S>(std::marker::PhantomData)
        .prepare::<NoCheckpointing>(parents.each_ref().map(|p| p.node()))
        .compute_bound()
        .stateful();
    let out = match prep {
        OpsKind::Tracked(prep) => prep.finish(state(), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive::<Ad>(out)
}

// ---------------------------------------------------------------------------------------------
// LayerNorm
// ---------------------------------------------------------------------------------------------

/// Rows per task in the row-wise kernels.
const ROWS_PER_TASK: usize = 64;

/// Below this much work (elements touched, or multiply-adds), a job runs on the calling
/// thread: handing it to rayon's pool costs a cross-thread round trip, more than a decoding
/// step's LayerNorm or attention takes.
const PAR_MIN_WORK: usize = 1 << 16;

/// `task(0..n)`, on rayon when the job is worth it, else on this thread; results in order.
fn run_tasks<T: Send>(n: usize, work: usize, task: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    if n > 1 && work >= PAR_MIN_WORK {
        (0..n).into_par_iter().map(task).collect()
    } else {
        (0..n).map(task).collect()
    }
}

/// An output buffer that tasks fill in disjoint ranges.
#[derive(Clone, Copy)]
struct SharedOut {
    addr: usize,
    len: usize,
}

impl SharedOut {
    fn new(v: &mut [f32]) -> Self {
        Self {
            addr: v.as_mut_ptr() as usize,
            len: v.len(),
        }
    }

    /// # Safety
    /// Tasks must ask for disjoint ranges while the buffer is alive.
    #[allow(clippy::mut_from_ref)]
    unsafe fn range(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(start + len <= self.len);
        unsafe { std::slice::from_raw_parts_mut((self.addr as *mut f32).add(start), len) }
    }
}

/// The element-wise sum of per-task partial vectors of length `d` (column sums gathered by
/// [`run_tasks`]).
fn add_partials(parts: impl IntoIterator<Item = Vec<f32>>, d: usize) -> Vec<f32> {
    let mut total = vec![0f32; d];
    for p in parts {
        total.iter_mut().zip(&p).for_each(|(t, v)| *t += v);
    }
    total
}

/// Row range `[r0, r1)` of task `t` over `n` rows.
fn rows_of(t: usize, n: usize) -> (usize, usize) {
    (t * ROWS_PER_TASK, ((t + 1) * ROWS_PER_TASK).min(n))
}

/// `y = (x − μ) / sqrt(σ² + eps) · w + b` over the last axis of `x [n, d]` (Ba et al. 2016);
/// returns `y`, μ and 1/sqrt(σ² + eps) per row.
fn layer_norm_fwd(x: &[f32], w: &[f32], b: &[f32], eps: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = w.len();
    let n = x.len() / d;
    let mut y = vec![0f32; x.len()];
    let mut mean = vec![0f32; n];
    let mut rstd = vec![0f32; n];
    let (yo, mo, ro) = (
        SharedOut::new(&mut y),
        SharedOut::new(&mut mean),
        SharedOut::new(&mut rstd),
    );
    run_tasks(n.div_ceil(ROWS_PER_TASK), x.len(), |t| {
        let (r0, r1) = rows_of(t, n);
        // SAFETY: task t owns rows r0..r1.
        let (y, mean, rstd) = unsafe {
            (
                yo.range(r0 * d, (r1 - r0) * d),
                mo.range(r0, r1 - r0),
                ro.range(r0, r1 - r0),
            )
        };
        for (r, (xr, yr)) in x[r0 * d..r1 * d].chunks(d).zip(y.chunks_mut(d)).enumerate() {
            let mu = xr.iter().sum::<f32>() / d as f32;
            let var = xr.iter().map(|v| (v - mu) * (v - mu)).sum::<f32>() / d as f32;
            let rs = 1.0 / (var + eps).sqrt();
            for i in 0..d {
                yr[i] = (xr[i] - mu) * rs * w[i] + b[i];
            }
            mean[r] = mu;
            rstd[r] = rs;
        }
    });
    (y, mean, rstd)
}

/// LayerNorm backward: with x̂ = (x − μ)·r and g = dy·w,
/// dx = r · (g − mean(g) − x̂ · mean(g · x̂)), dw = Σ dy · x̂, db = Σ dy.
fn layer_norm_bwd(
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = w.len();
    let n = x.len() / d;
    let mut dx = vec![0f32; x.len()];
    let dxo = SharedOut::new(&mut dx);
    let partial = run_tasks(n.div_ceil(ROWS_PER_TASK), x.len(), |t| {
        let (r0, r1) = rows_of(t, n);
        // SAFETY: task t owns rows r0..r1.
        let dx = unsafe { dxo.range(r0 * d, (r1 - r0) * d) };
        let mut dw = vec![0f32; d];
        let mut db = vec![0f32; d];
        let mut xhat = vec![0f32; d];
        let rows = x[r0 * d..r1 * d]
            .chunks(d)
            .zip(dy[r0 * d..r1 * d].chunks(d));
        for (r, ((xr, dyr), dxr)) in rows.zip(dx.chunks_mut(d)).enumerate() {
            let (mu, rs) = (mean[r0 + r], rstd[r0 + r]);
            let (mut sg, mut sgx) = (0f32, 0f32);
            for i in 0..d {
                xhat[i] = (xr[i] - mu) * rs;
                let g = dyr[i] * w[i];
                sg += g;
                sgx += g * xhat[i];
                dw[i] += dyr[i] * xhat[i];
                db[i] += dyr[i];
            }
            let (mg, mgx) = (sg / d as f32, sgx / d as f32);
            for i in 0..d {
                dxr[i] = rs * (dyr[i] * w[i] - mg - xhat[i] * mgx);
            }
        }
        (dw, db)
    });
    let (pw, pb): (Vec<_>, Vec<_>) = partial.into_iter().unzip();
    (dx, add_partials(pw, d), add_partials(pb, d))
}

#[derive(Clone, Debug)]
struct LayerNormState {
    x: FlexTensor,
    w: FlexTensor,
    mean: Vec<f32>,
    rstd: Vec<f32>,
}

impl FusedGrad<3> for LayerNormState {
    fn grads(self, dy: FlexTensor, _: [bool; 3]) -> [Option<FlexTensor>; 3] {
        let (dx, dw, db) = layer_norm_bwd(
            f32s(&self.x),
            f32s(&self.w),
            &self.mean,
            &self.rstd,
            f32s(&dy),
        );
        let d = dw.len();
        [
            Some(flex(dx, shape_of(&self.x))),
            Some(flex(dw, vec![d])),
            Some(flex(db, vec![d])),
        ]
    }
}

/// LayerNorm with affine weight and bias over the last axis of `x`.
pub fn layer_norm<const D: usize>(x: Tensor<D>, w: Tensor<1>, b: Tensor<1>, eps: f64) -> Tensor<D> {
    if let Some(([xp, wp, bp], ad)) = inputs([input(&x), input(&w), input(&b)]) {
        let (xp, wp, bp) = (contiguous(xp), contiguous(wp), contiguous(bp));
        let (y, mean, rstd) = layer_norm_fwd(f32s(&xp), f32s(&wp), f32s(&bp), eps as f32);
        let y = flex(y, shape_of(&xp));
        return finish(ad, y, || LayerNormState {
            x: xp,
            w: wp,
            mean,
            rstd,
        });
    }
    burn_layer_norm(x, w, Some(b), eps)
}

// ---------------------------------------------------------------------------------------------
// Vector math and GELU
// ---------------------------------------------------------------------------------------------

/// Compile `body` three times: for AVX-512, for AVX2 + FMA, and for the baseline, and pick at
/// run time (no `target-cpu` flag needed). The body is plain loops that the compiler
/// vectorises for each target.
macro_rules! multiversion {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn v4($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features.
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features.
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// e^x in f32, branch-free so that loops over it vectorise (Cephes `expf`: e^x = 2^n · e^r
/// with n = round(x·log₂e), |r| ≤ ln2/2, and a degree-5 polynomial for e^r; about 1 ulp).
/// n is rounded by adding 1.5·2²³, which leaves it in the low mantissa bits, so 2^n is built
/// with integer adds and a shift (no float-to-int conversion, which would not vectorise).
#[inline(always)]
fn exp_f32(x_in: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
    let x = x_in.clamp(-87.3, 88.3);
    let m = x * std::f32::consts::LOG2_E + MAGIC;
    let n = m - MAGIC;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let two_n = m.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127) << 23;
    let y = e * f32::from_bits(two_n);
    // Below the clamp (including −∞, a masked score) the true value underflows anyway: 0.
    if x_in < -87.3 {
        0.0
    } else {
        y
    }
}

/// erf(x) and e^(−x²) (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7), branch-free.
#[inline(always)]
fn erf_f32(x: f32) -> (f32, f32) {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
    let g = exp_f32(-a * a);
    ((1.0 - poly * g).copysign(x), g)
}

/// Lanes for the hand-split reductions below: a float sum is not reassociated by the
/// compiler, so sums and maxima run in 16 independent accumulators that it can vectorise.
const LANES: usize = 16;

/// max(x), −∞ for an empty slice.
#[inline(always)]
fn max_lanes(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] = acc[i].max(c[i]);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |a, &v| a.max(v));
    acc.iter().fold(tail, |a, &v| a.max(v))
}

/// x ← e^(x − c) in place; returns Σ x.
#[inline(always)]
fn exp_shift_sum(x: &mut [f32], c: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = x.chunks_exact_mut(LANES);
    for ch in &mut chunks {
        for i in 0..LANES {
            ch[i] = exp_f32(ch[i] - c);
            acc[i] += ch[i];
        }
    }
    let mut tail = 0f32;
    for v in chunks.into_remainder() {
        *v = exp_f32(*v - c);
        tail += *v;
    }
    acc.iter().sum::<f32>() + tail
}

/// Σ e^(x − c) without storing.
#[inline(always)]
fn exp_shift_total(x: &[f32], c: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for ch in &mut chunks {
        for i in 0..LANES {
            acc[i] += exp_f32(ch[i] - c);
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&v| exp_f32(v - c)).sum();
    acc.iter().sum::<f32>() + tail
}

multiversion! {
    /// Softmax of `row[..lim]` in place (the keys after `lim` are causally masked: 0);
    /// returns the log-sum-exp.
    fn softmax_row(row: &mut [f32], lim: usize) -> f32 {
        let (live, masked) = row.split_at_mut(lim);
        masked.iter_mut().for_each(|x| *x = 0.0);
        let mx = max_lanes(live);
        let sum = exp_shift_sum(live, mx);
        let inv = 1.0 / sum;
        live.iter_mut().for_each(|x| *x *= inv);
        mx + sum.ln()
    }
}

multiversion! {
    /// `row[..lim] ← e^(row − lse)`, the rest 0: the probabilities again from the scores.
    fn probs_row(row: &mut [f32], lim: usize, lse: f32) {
        let (live, masked) = row.split_at_mut(lim);
        masked.iter_mut().for_each(|x| *x = 0.0);
        live.iter_mut().for_each(|x| *x = exp_f32(*x - lse));
    }
}

multiversion! {
    /// `row[..lim] ·= scale` (the rest is overwritten by the softmax).
    fn scale_row(row: &mut [f32], lim: usize, scale: f32) {
        row[..lim].iter_mut().for_each(|x| *x *= scale);
    }
}

multiversion! {
    /// dS = P ∘ (dP − D) · scale, in place over dP.
    fn dscores_row(dp: &mut [f32], p: &[f32], delta: f32, scale: f32) {
        for (x, &pv) in dp.iter_mut().zip(p) {
            *x = pv * (*x - delta) * scale;
        }
    }
}

multiversion! {
    /// log Σ e^x of a row.
    fn logsumexp_row(row: &[f32]) -> f32 {
        let mx = max_lanes(row);
        mx + exp_shift_total(row, mx).ln()
    }
}

multiversion! {
    /// d ← g · e^(x − lse) (the softmax, scaled).
    fn softmax_scaled_row(d: &mut [f32], x: &[f32], lse: f32, g: f32) {
        for (o, &v) in d.iter_mut().zip(x) {
            *o = g * exp_f32(v - lse);
        }
    }
}

const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

multiversion! {
    /// z = h + b (per column), y = GELU(z) = z · Φ(z) = ½ z (1 + erf(z/√2)) (Hendrycks &
    /// Gimpel 2016), over rows of width `b.len()` (no bias when `b` is empty).
    fn bias_gelu_rows(h: &[f32], b: &[f32], z: &mut [f32], y: &mut [f32]) {
        #[inline(always)]
        fn gelu(v: f32) -> f32 {
            0.5 * v * (1.0 + erf_f32(v * std::f32::consts::FRAC_1_SQRT_2).0)
        }
        if b.is_empty() {
            for ((&v, zo), yo) in h.iter().zip(z.iter_mut()).zip(y.iter_mut()) {
                *zo = v;
                *yo = gelu(v);
            }
            return;
        }
        let d = b.len();
        for ((hr, zr), yr) in h.chunks(d).zip(z.chunks_mut(d)).zip(y.chunks_mut(d)) {
            for (((&hv, &bv), zo), yo) in hr.iter().zip(b).zip(zr.iter_mut()).zip(yr.iter_mut()) {
                let v = hv + bv;
                *zo = v;
                *yo = gelu(v);
            }
        }
    }
}

multiversion! {
    /// dz = dy · GELU'(z), GELU'(z) = Φ(z) + z · φ(z).
    fn gelu_grad_rows(z: &[f32], dy: &[f32], dz: &mut [f32]) {
        for ((&v, &g), o) in z.iter().zip(dy).zip(dz.iter_mut()) {
            let (e, gauss) = erf_f32(v * std::f32::consts::FRAC_1_SQRT_2);
            *o = g * (0.5 * (1.0 + e) + v * FRAC_1_SQRT_2PI * gauss);
        }
    }
}

/// Elements per task in the element-wise kernels (a multiple of every row width used).
const ELEMS_PER_TASK: usize = 1 << 16;

/// `(z, y)` for `h [n, d]` and bias `b [d]` (or none).
fn bias_gelu_fwd(h: &[f32], b: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let mut z = vec![0f32; h.len()];
    let mut y = vec![0f32; h.len()];
    let chunk = (ELEMS_PER_TASK / d).max(1) * d;
    let (zo, yo) = (SharedOut::new(&mut z), SharedOut::new(&mut y));
    run_tasks(h.len().div_ceil(chunk), h.len(), |t| {
        let (a, e) = (t * chunk, ((t + 1) * chunk).min(h.len()));
        // SAFETY: task t owns elements a..e.
        unsafe { bias_gelu_rows(&h[a..e], b, zo.range(a, e - a), yo.range(a, e - a)) };
    });
    (z, y)
}

/// `dz` and, with a bias, its gradient Σ_rows dz.
fn bias_gelu_bwd(z: &[f32], dy: &[f32], d: usize, bias: bool) -> (Vec<f32>, Vec<f32>) {
    let mut dz = vec![0f32; z.len()];
    let chunk = (ELEMS_PER_TASK / d).max(1) * d;
    let dzo = SharedOut::new(&mut dz);
    let partial = run_tasks(z.len().div_ceil(chunk), z.len(), |t| {
        let (a, e) = (t * chunk, ((t + 1) * chunk).min(z.len()));
        // SAFETY: task t owns elements a..e.
        let dz = unsafe { dzo.range(a, e - a) };
        gelu_grad_rows(&z[a..e], &dy[a..e], dz);
        let mut db = vec![0f32; if bias { d } else { 0 }];
        if bias {
            for row in dz.chunks(d) {
                db.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
        }
        db
    });
    (dz, add_partials(partial, if bias { d } else { 0 }))
}

#[derive(Clone, Debug)]
struct GeluState {
    z: FlexTensor,
}

impl GeluState {
    fn dz_db(&self, dy: &FlexTensor, bias: bool) -> (FlexTensor, Option<FlexTensor>) {
        let d = *shape_of(&self.z).last().expect("rank ≥ 1");
        let (dz, db) = bias_gelu_bwd(f32s(&self.z), f32s(dy), d, bias);
        (flex(dz, shape_of(&self.z)), bias.then(|| flex(db, vec![d])))
    }
}

impl FusedGrad<1> for GeluState {
    fn grads(self, dy: FlexTensor, _: [bool; 1]) -> [Option<FlexTensor>; 1] {
        [Some(self.dz_db(&dy, false).0)]
    }
}

impl FusedGrad<2> for GeluState {
    fn grads(self, dy: FlexTensor, wanted: [bool; 2]) -> [Option<FlexTensor>; 2] {
        let (dz, db) = self.dz_db(&dy, wanted[1]);
        [Some(dz), db]
    }
}

/// Exact GELU of `h + bias` (bias over the last axis): the MLP's `c_fc` bias and activation in
/// one pass.
pub fn bias_gelu<const D: usize>(h: Tensor<D>, bias: Option<Tensor<1>>) -> Tensor<D> {
    let d = h.dims()[D - 1];
    // y, and the pre-activation z the backward needs.
    let fwd = |hp: FlexTensor, bp: Option<FlexTensor>| {
        let hp = contiguous(hp);
        let bp = bp.map(contiguous);
        let (z, y) = bias_gelu_fwd(f32s(&hp), bp.as_ref().map_or(&[], f32s), d);
        let shape = shape_of(&hp);
        (flex(y, shape.clone()), GeluState { z: flex(z, shape) })
    };
    match &bias {
        None => {
            if let Some(([hp], ad)) = inputs([input(&h)]) {
                let (y, state) = fwd(hp, None);
                return finish(ad, y, || state);
            }
        }
        Some(b) => {
            if let Some(([hp, bp], ad)) = inputs([input(&h), input(b)]) {
                let (y, state) = fwd(hp, Some(bp));
                return finish(ad, y, || state);
            }
        }
    }
    let z = match bias {
        Some(b) => h + b.unsqueeze(),
        None => h,
    };
    burn::tensor::activation::gelu(z)
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy
// ---------------------------------------------------------------------------------------------

/// Per row of `logits [n, v]`: log-sum-exp, and the summed −log p(target) over rows whose
/// target is ≥ 0.
fn cross_entropy_fwd(logits: &[f32], v: usize, targets: &[i64]) -> (f64, Vec<f32>) {
    let n = targets.len();
    let mut lse = vec![0f32; n];
    let lo = SharedOut::new(&mut lse);
    let sums = run_tasks(n.div_ceil(ROWS_PER_TASK), logits.len(), |t| {
        let (r0, r1) = rows_of(t, n);
        // SAFETY: task t owns rows r0..r1.
        let lse = unsafe { lo.range(r0, r1 - r0) };
        let mut sum = 0f64;
        for (r, row) in logits[r0 * v..r1 * v].chunks(v).enumerate() {
            lse[r] = logsumexp_row(row);
            let tg = targets[r0 + r];
            if tg >= 0 {
                sum += (lse[r] - row[tg as usize]) as f64;
            }
        }
        sum
    });
    (sums.iter().sum(), lse)
}

/// d(Σ −log p(target))/d logits = g · (softmax − onehot(target)) on rows with a target, 0 elsewhere.
fn cross_entropy_bwd(logits: &[f32], v: usize, targets: &[i64], lse: &[f32], g: f32) -> Vec<f32> {
    let n = targets.len();
    let mut dl = vec![0f32; logits.len()];
    let dlo = SharedOut::new(&mut dl);
    run_tasks(n.div_ceil(ROWS_PER_TASK), logits.len(), |t| {
        let (r0, r1) = rows_of(t, n);
        // SAFETY: task t owns rows r0..r1.
        let dl = unsafe { dlo.range(r0 * v, (r1 - r0) * v) };
        for (r, (row, drow)) in logits[r0 * v..r1 * v]
            .chunks(v)
            .zip(dl.chunks_mut(v))
            .enumerate()
        {
            let tg = targets[r0 + r];
            if tg < 0 {
                continue;
            }
            softmax_scaled_row(drow, row, lse[r0 + r], g);
            drow[tg as usize] -= g;
        }
    });
    dl
}

#[derive(Clone, Debug)]
struct CrossEntropyState {
    logits: FlexTensor,
    targets: Vec<i64>,
    lse: Vec<f32>,
}

impl FusedGrad<1> for CrossEntropyState {
    fn grads(self, dy: FlexTensor, _: [bool; 1]) -> [Option<FlexTensor>; 1] {
        let shape = shape_of(&self.logits);
        let g = f32s(&dy)[0];
        let dl = cross_entropy_bwd(f32s(&self.logits), shape[1], &self.targets, &self.lse, g);
        [Some(flex(dl, shape))]
    }
}

/// Summed next-token cross-entropy `Σ −log softmax(logits_i)[t_i]` over the rows `i` of
/// `logits [n, vocab]` whose target `t_i` is ≥ 0 (a negative target means "no loss here"), as a
/// one-element tensor.
///
/// # Panics
/// If `targets.len() != n` or a target is ≥ vocab.
pub fn cross_entropy_sum(logits: Tensor<2>, targets: &[i64]) -> Tensor<1> {
    let [n, v] = logits.dims();
    assert_eq!(targets.len(), n, "one target per logits row");
    assert!(
        targets.iter().all(|&t| t < v as i64),
        "cross_entropy_sum: a target is outside the vocabulary ({v})"
    );
    if let Some(([lp], ad)) = inputs([input(&logits)]) {
        let lp = contiguous(lp);
        let (loss, lse) = cross_entropy_fwd(f32s(&lp), v, targets);
        let out = flex(vec![loss as f32], vec![1]);
        return finish(ad, out, || CrossEntropyState {
            logits: lp,
            targets: targets.to_vec(),
            lse,
        });
    }
    // Composite: gather the rows that have a target.
    let device = logits.device();
    let rows: Vec<i64> = (0..n as i64)
        .filter(|&i| targets[i as usize] >= 0)
        .collect();
    if rows.is_empty() {
        return logits.sum().mul_scalar(0.0);
    }
    let tg: Vec<i64> = rows.iter().map(|&i| targets[i as usize]).collect();
    let m = rows.len();
    let sel = logits.select(
        0,
        Tensor::<1, Int>::from_data(TensorData::new(rows, [m]), &device),
    );
    let lp = log_softmax(sel, 1);
    let tg = Tensor::<2, Int>::from_data(TensorData::new(tg, [m, 1]), &device);
    lp.gather(1, tg).sum().neg()
}

// ---------------------------------------------------------------------------------------------
// Linear
// ---------------------------------------------------------------------------------------------

/// A 2-D flex tensor's first element and (row, column) strides.
fn mat_view(t: &FlexTensor) -> (*const f32, isize, isize) {
    let l = t.layout();
    let st = l.strides();
    let base = t.storage::<f32>().as_ptr().wrapping_add(l.start_offset());
    (base, st[0], st[1])
}

/// `y [rows, n] = x [rows, k] · W [k, n] (+ b)`, `W` any strided view (a transposed tied
/// embedding is read in place).
fn linear_fwd(x: &[f32], k: usize, w: &FlexTensor, b: Option<&[f32]>) -> Vec<f32> {
    let rows = x.len() / k;
    let n = w.layout().shape()[1];
    let (wp, w_rs, w_cs) = mat_view(w);
    // SAFETY: x is [rows, k] contiguous, w a [k, n] view inside its storage, y fresh.
    let product = |y: *mut f32, accumulate: bool| unsafe {
        gemm_on(
            rows,
            n,
            k,
            y,
            n,
            accumulate,
            x.as_ptr(),
            k as isize,
            1,
            wp,
            w_rs,
            w_cs,
            true,
        )
    };
    match b {
        Some(b) => {
            let mut y = b.repeat(rows);
            product(y.as_mut_ptr(), true);
            y
        }
        None => written_by(rows * n, k, |y| product(y, false)),
    }
}

/// A buffer of `n` floats that `fill` writes completely through the pointer before anything
/// reads it (a product written by gemm with `accumulate = false`), so it is not zeroed first.
/// `inner` is the product's inner dimension: gemm writes nothing when it is 0, so then the
/// buffer is zeros.
fn written_by(n: usize, inner: usize, fill: impl FnOnce(*mut f32)) -> Vec<f32> {
    if inner == 0 || n == 0 {
        return vec![0f32; n];
    }
    let mut v: Vec<std::mem::MaybeUninit<f32>> = Vec::with_capacity(n);
    // SAFETY: MaybeUninit elements need no initialisation.
    unsafe { v.set_len(n) };
    fill(v.as_mut_ptr().cast::<f32>());
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: `fill` initialised all n elements; the allocation is moved, not copied.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<f32>(), n, v.capacity()) }
}

/// Column sums of `dy [rows, n]`: the bias gradient.
fn column_sums(dy: &[f32], n: usize) -> Vec<f32> {
    let rows = dy.len() / n;
    let partial = run_tasks(rows.div_ceil(ROWS_PER_TASK), dy.len(), |t| {
        let (r0, r1) = rows_of(t, rows);
        let mut acc = vec![0f32; n];
        for row in dy[r0 * n..r1 * n].chunks(n) {
            acc.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
        acc
    });
    add_partials(partial, n)
}

#[derive(Clone, Debug)]
struct LinearState {
    x: FlexTensor,
    w: FlexTensor,
}

/// Inputs x, W and (when N = 3) b.
impl<const N: usize> FusedGrad<N> for LinearState {
    fn grads(self, dy: FlexTensor, wanted: [bool; N]) -> [Option<FlexTensor>; N] {
        let LinearState { x, w } = self;
        let mut out: [Option<FlexTensor>; N] = std::array::from_fn(|_| None);
        let [k, n] = [w.layout().shape()[0], w.layout().shape()[1]];
        let dys = f32s(&dy);
        let rows = dys.len() / n;
        let (wp, w_rs, w_cs) = mat_view(&w);
        if wanted[0] {
            // dX = dY · Wᵀ.
            let dx = written_by(rows * k, n, |dx| unsafe {
                gemm_on(
                    rows,
                    k,
                    n,
                    dx,
                    k,
                    false,
                    dys.as_ptr(),
                    n as isize,
                    1,
                    wp,
                    w_cs,
                    w_rs,
                    true,
                )
            });
            out[0] = Some(flex(dx, shape_of(&x)));
        }
        if wanted[1] {
            // dW = Xᵀ · dY.
            let xs = f32s(&x);
            let dw = written_by(k * n, rows, |dw| unsafe {
                gemm_on(
                    k,
                    n,
                    rows,
                    dw,
                    n,
                    false,
                    xs.as_ptr(),
                    1,
                    k as isize,
                    dys.as_ptr(),
                    n as isize,
                    1,
                    true,
                )
            });
            out[1] = Some(flex(dw, vec![k, n]));
        }
        if N == 3 && wanted[N - 1] {
            out[N - 1] = Some(flex(column_sums(dys, n), vec![n]));
        }
        out
    }
}

/// `x · W + b` over the last axis of `x`, with `W [d_in, d_out]` (Hugging Face's Conv1D
/// layout; a transposed view such as a tied embedding `wteᵀ` is read in place).
pub fn linear<const D: usize>(x: Tensor<D>, w: Tensor<2>, b: Option<Tensor<1>>) -> Tensor<D> {
    let k = w.dims()[0];
    let fwd = |xp: FlexTensor, wp: FlexTensor, bp: Option<FlexTensor>| {
        let xp = contiguous(xp);
        let bp = bp.map(contiguous);
        let y = linear_fwd(f32s(&xp), k, &wp, bp.as_ref().map(f32s));
        let mut shape = shape_of(&xp);
        *shape.last_mut().expect("rank ≥ 1") = wp.layout().shape()[1];
        (flex(y, shape), LinearState { x: xp, w: wp })
    };
    match &b {
        None => {
            if let Some(([xp, wp], ad)) = inputs([input(&x), input(&w)]) {
                let (y, state) = fwd(xp, wp, None);
                return finish(ad, y, || state);
            }
        }
        Some(bt) => {
            if let Some(([xp, wp, bp], ad)) = inputs([input(&x), input(&w), input(bt)]) {
                let (y, state) = fwd(xp, wp, Some(bp));
                return finish(ad, y, || state);
            }
        }
    }
    burn::tensor::module::linear(x, w, b)
}

// ---------------------------------------------------------------------------------------------
// Attention
// ---------------------------------------------------------------------------------------------

/// Query rows per block.
const BLOCK: usize = 64;

/// Where the `[batch, head, row, d_head]` elements of one operand live in a buffer: element
/// `(b, h, r, e)` is at `b·batch + h·head + r·row + e`. Held as an address so rayon tasks can
/// share it; every task touches only its own (b, h).
#[derive(Clone, Copy, Debug)]
struct HeadView {
    addr: usize,
    batch: usize,
    head: usize,
    row: usize,
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

    fn at(&self, b: usize, h: usize) -> *mut f32 {
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

/// `C[m×n] (+)= A·B` for strided row-major views (`*_rs` row strides, `*_cs` column strides):
/// on rayon's threads when `parallel` and the product is big enough to pay for it, else on this
/// thread (the per-head attention products, already spread over heads).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_on(
    m: usize,
    n: usize,
    k: usize,
    c: *mut f32,
    c_rs: usize,
    accumulate: bool,
    a: *const f32,
    a_rs: isize,
    a_cs: isize,
    b: *const f32,
    b_rs: isize,
    b_cs: isize,
    parallel: bool,
) {
    let parallelism = if parallel && m * n * k >= PAR_MIN_WORK * 4 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the caller guarantees the views are in bounds and `c` does not alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            c_rs as isize,
            accumulate,
            a,
            a_cs,
            a_rs,
            b,
            b_cs,
            b_rs,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
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
            let mut sbuf = vec![0f32; BLOCK * sh.total];
            for i0 in (0..s).step_by(BLOCK) {
                let m = BLOCK.min(s - i0);
                let n = sh.past + i0 + m; // causal: later keys are all masked
                let sb = &mut sbuf[..m * n];
                // SAFETY: the views cover [b, h, rows, dh] inside their buffers (the callers build
                // them from the tensors they read: `packed_views`, `head_view_4d`).
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
    let ov = HeadView::of(o.as_ptr(), s * d, dh, d);
    let gv = HeadView::of(dout.as_ptr(), s * d, dh, d);
    let work = sh.b * sh.nh * s * total * dh;
    run_tasks(sh.b * sh.nh, work, |t| {
        let (bi, hi) = (t / sh.nh, t % sh.nh);
        let (qp, kp, vp) = (q.at(bi, hi), k.at(bi, hi), v.at(bi, hi));
        let (op, gp) = (ov.at(bi, hi), gv.at(bi, hi));
        let lse = &lse[t * s..(t + 1) * s];
        // D_i = rowsum(dO ∘ O).
        let delta: Vec<f32> = (0..s)
            .map(|i| unsafe {
                let (orow, grow) = (op.add(i * ov.row), gp.add(i * gv.row));
                (0..dh).map(|e| *orow.add(e) * *grow.add(e)).sum()
            })
            .collect();
        let mut dk_acc = vec![0f32; total * dh];
        let mut dv_acc = vec![0f32; total * dh];
        let mut pbuf = vec![0f32; BLOCK * total];
        let mut dsbuf = vec![0f32; BLOCK * total];
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
                );
            }
        }
        let (dkp, dvp) = (dk.at(bi, hi), dv.at(bi, hi));
        for j in 0..total {
            unsafe {
                std::ptr::copy_nonoverlapping(dk_acc.as_ptr().add(j * dh), dkp.add(j * dk.row), dh);
                std::ptr::copy_nonoverlapping(dv_acc.as_ptr().add(j * dh), dvp.add(j * dv.row), dh);
            }
        }
    });
}

/// A `[b, h, rows, dh]` view of a flex tensor with unit stride along `dh`.
fn head_view_4d(t: &FlexTensor) -> HeadView {
    let l = t.layout();
    let st = l.strides();
    assert!(
        st[3] == 1 && st.iter().all(|&x| x >= 0),
        "unit inner stride"
    );
    let base = t.storage::<f32>().as_ptr().wrapping_add(l.start_offset());
    HeadView::of(base, st[0] as usize, st[1] as usize, st[2] as usize)
}

fn unit_inner(t: FlexTensor) -> FlexTensor {
    let st = t.layout().strides();
    if st[st.len() - 1] == 1 && st.iter().all(|&x| x >= 0) {
        t
    } else {
        t.to_contiguous()
    }
}

#[derive(Clone, Debug)]
struct PackedState {
    qkv: FlexTensor,
    out: FlexTensor,
    lse: Vec<f32>,
    shape: AttnShape,
}

fn packed_views(qkv: &FlexTensor, sh: &AttnShape) -> (HeadView, HeadView, HeadView) {
    let (s, d, dh) = (sh.s, sh.nh * sh.dh, sh.dh);
    let base = f32s(qkv).as_ptr();
    let view = |off: usize| HeadView::of(base.wrapping_add(off), s * 3 * d, dh, 3 * d);
    (view(0), view(d), view(2 * d))
}

impl FusedGrad<1> for PackedState {
    fn grads(self, dy: FlexTensor, _: [bool; 1]) -> [Option<FlexTensor>; 1] {
        let sh = &self.shape;
        let (s, d, dh) = (sh.s, sh.nh * sh.dh, sh.dh);
        let (q, k, v) = packed_views(&self.qkv, sh);
        let mut dqkv = vec![0f32; sh.b * s * 3 * d];
        let base = dqkv.as_mut_ptr();
        let view = |off: usize| HeadView::of(base.wrapping_add(off), s * 3 * d, dh, 3 * d);
        let (dq, dk, dv) = (view(0), view(d), view(2 * d));
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
        [Some(flex(dqkv, vec![sh.b, s, 3 * d]))]
    }
}

#[derive(Clone, Debug)]
struct SplitState {
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    out: FlexTensor,
    lse: Vec<f32>,
    shape: AttnShape,
}

impl FusedGrad<3> for SplitState {
    fn grads(self, dout: FlexTensor, _: [bool; 3]) -> [Option<FlexTensor>; 3] {
        let st = self;
        let sh = &st.shape;
        let (b, nh, s, total, dh) = (sh.b, sh.nh, sh.s, sh.total, sh.dh);
        let (q, k, v) = (
            head_view_4d(&st.q),
            head_view_4d(&st.k),
            head_view_4d(&st.v),
        );
        let mut dq = vec![0f32; b * nh * s * dh];
        let mut dk = vec![0f32; b * nh * total * dh];
        let mut dv = vec![0f32; b * nh * total * dh];
        let dqv = HeadView::of(dq.as_mut_ptr(), nh * s * dh, s * dh, dh);
        let dkv = HeadView::of(dk.as_mut_ptr(), nh * total * dh, total * dh, dh);
        let dvv = HeadView::of(dv.as_mut_ptr(), nh * total * dh, total * dh, dh);
        attention_bwd(
            sh,
            q,
            k,
            v,
            f32s(&st.out),
            &st.lse,
            f32s(&dout),
            dqv,
            dkv,
            dvv,
        );
        [
            Some(flex(dq, vec![b, nh, s, dh])),
            Some(flex(dk, vec![b, nh, total, dh])),
            Some(flex(dv, vec![b, nh, total, dh])),
        ]
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

/// Append `new [b, h, s, dh]` to a KV-cache slab holding `len` positions, and return the slab
/// (`[b, h, capacity, dh]`, capacity ≥ len + s; the caller reads the first len + s positions).
///
/// On plain flex (inference) the slab grows geometrically and new positions are written in
/// place when the cache owns it alone, so a decoding step copies one position per layer
/// instead of the whole cache; elsewhere (autodiff, other backends) it is a concatenation.
pub fn kv_append(slab: Option<Tensor<4>>, len: usize, new: Tensor<4>) -> Tensor<4> {
    let [b, nh, s, dh] = new.dims();
    let need = len + s;
    assert!(
        slab.is_some() || len == 0,
        "kv_append: {len} cached positions but no slab"
    );
    // In place only on plain flex: under autodiff the cache must stay a graph of concatenations.
    let plain = |t: &Tensor<4>| input(t).filter(|i| i.ad.is_none()).map(|i| i.p);
    let slab_p = match &slab {
        None => Some(None),
        Some(t) => plain(t).filter(|p| p.is_contiguous()).map(Some),
    };
    if let (Some(newp), Some(slab_p)) = (plain(&new), slab_p) {
        let newp = unit_inner(newp);
        let nv = head_view_4d(&newp);
        let cap_of = |p: &FlexTensor| p.layout().shape()[2];
        drop(slab); // the primitive (if any) is now the only reference the cache had
        let mut out = match slab_p {
            Some(p) if cap_of(&p) >= need && p.is_unique() => p,
            old => {
                let cap = (2 * need).max(16);
                let mut buf = vec![0f32; b * nh * cap * dh];
                if let Some(old) = old {
                    let (oc, src) = (cap_of(&old), f32s(&old));
                    for bh in 0..b * nh {
                        buf[bh * cap * dh..bh * cap * dh + len * dh]
                            .copy_from_slice(&src[bh * oc * dh..bh * oc * dh + len * dh]);
                    }
                }
                flex(buf, vec![b, nh, cap, dh])
            }
        };
        let cap = cap_of(&out);
        let dst = out.try_storage_mut::<f32>().expect("a slab this call owns");
        for bi in 0..b {
            for hi in 0..nh {
                let src = nv.at(bi, hi);
                for r in 0..s {
                    let o = ((bi * nh + hi) * cap + len + r) * dh;
                    // SAFETY: the view covers [b, h, s, dh] inside `newp`.
                    let row = unsafe { std::slice::from_raw_parts(src.add(r * nv.row), dh) };
                    dst[o..o + dh].copy_from_slice(row);
                }
            }
        }
        return Tensor::from_primitive::<Flex>(out);
    }
    match slab {
        None => new,
        Some(t) => {
            let old = if t.dims()[2] == len {
                t
            } else {
                t.narrow(2, 0, len)
            };
            Tensor::cat(vec![old, new], 2)
        }
    }
}

/// Causal multi-head self-attention over packed projections `qkv [b, s, 3·d]` (queries, keys,
/// values side by side, as GPT-2's `c_attn` produces them), no cache: returns the context with
/// heads merged, `[b, s, d]`. `valid [b·s]` marks real keys (None = all real).
pub fn self_attention(
    qkv: Tensor<3>,
    n_head: usize,
    scale: f64,
    valid: Option<&[bool]>,
) -> Tensor<3> {
    let [b, s, d3] = qkv.dims();
    let d = d3 / 3;
    let dh = d / n_head;
    let shape = AttnShape {
        b,
        nh: n_head,
        s,
        total: s,
        dh,
        past: 0,
        scale: scale as f32,
        valid: valid.map(<[bool]>::to_vec),
    };
    if let Some(([qp], ad)) = inputs([input(&qkv)]) {
        let qp = contiguous(qp);
        let (q, k, v) = packed_views(&qp, &shape);
        let (o, lse) = attention_fwd(&shape, q, k, v);
        let out = flex(o, vec![b, s, d]);
        let saved = out.clone();
        return finish(ad, out, || PackedState {
            qkv: qp,
            out: saved,
            lse,
            shape,
        });
    }
    let heads = |t: Tensor<3>| t.reshape([b, s, n_head, dh]).swap_dims(1, 2);
    let q = heads(qkv.clone().narrow(2, 0, d));
    let k = heads(qkv.clone().narrow(2, d, d));
    let v = heads(qkv.narrow(2, 2 * d, d));
    composite_attention([q, k, v], &shape)
}

/// Causal multi-head attention of queries `q [b, h, s, dh]` at absolute positions
/// `past..past+s` over keys and values `[b, h, total, dh]` (the cached ones first), with
/// `valid [b·total]` marking real keys (None = all real): returns `[b, s, h·dh]`.
pub fn attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    past: usize,
    scale: f64,
    valid: Option<&[bool]>,
) -> Tensor<3> {
    let [b, nh, s, dh] = q.dims();
    let total = k.dims()[2];
    assert_eq!(total, past + s, "keys = cached + new positions");
    let shape = AttnShape {
        b,
        nh,
        s,
        total,
        dh,
        past,
        scale: scale as f32,
        valid: valid.map(<[bool]>::to_vec),
    };
    if let Some(([qp, kp, vp], ad)) = inputs([input(&q), input(&k), input(&v)]) {
        let (qp, kp, vp) = (unit_inner(qp), unit_inner(kp), unit_inner(vp));
        let (o, lse) = attention_fwd(
            &shape,
            head_view_4d(&qp),
            head_view_4d(&kp),
            head_view_4d(&vp),
        );
        let out = flex(o, vec![b, s, nh * dh]);
        let saved = out.clone();
        return finish(ad, out, || SplitState {
            q: qp,
            k: kp,
            v: vp,
            out: saved,
            lse,
            shape,
        });
    }
    composite_attention([q, k, v], &shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cpu_autodiff_device, cpu_device};
    use burn::tensor::Device;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn randn<const D: usize>(shape: [usize; D], seed: u64, dev: &Device) -> Tensor<D> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        Tensor::from_data(TensorData::new(v, shape), dev)
    }

    fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{what}[{i}]: fused {x} vs composite {y}"
            );
        }
    }

    /// Run `f` on fresh leaves built by `make` with the fused kernels on and off; compare the
    /// outputs, the gradients of Σ output·weights with respect to every leaf, and the
    /// inference (no autodiff) outputs.
    fn check<const D: usize, const O: usize>(
        make: impl Fn(&Device) -> Vec<Tensor<D>>,
        f: impl Fn(Vec<Tensor<D>>) -> Tensor<O>,
        tol: f32,
    ) {
        let dev = cpu_autodiff_device();
        let mut runs = Vec::new();
        for on in [true, false] {
            set_enabled(on);
            let leaves: Vec<Tensor<D>> = make(&dev).into_iter().map(|t| t.require_grad()).collect();
            let out = f(leaves.clone());
            let w = randn(out.dims(), 99, &dev);
            let grads = (out.clone() * w).sum().backward();
            let g: Vec<Vec<f32>> = leaves
                .iter()
                .map(|l| vals(l.grad(&grads).expect("a gradient")))
                .collect();
            let plain = vals(f(make(&cpu_device())));
            runs.push((vals(out.inner()), g, plain));
        }
        set_enabled(true);
        let (fo, fg, fp) = &runs[0];
        let (co, cg, cp) = &runs[1];
        assert_close(fo, co, tol, "output");
        assert_close(fp, cp, tol, "inference output");
        assert_close(fo, fp, tol, "autodiff vs inference");
        for (i, (a, b)) in fg.iter().zip(cg).enumerate() {
            assert_close(a, b, tol, &format!("gradient of input {i}"));
        }
    }

    #[test]
    fn layer_norm_matches_burn_values_and_gradients() {
        check(
            |d| vec![randn([3, 70, 48], 1, d).mul_scalar(3.0).add_scalar(0.5)],
            |x| {
                let d = x[0].device();
                let w = randn([48], 2, &d).add_scalar(1.0);
                let b = randn([48], 3, &d);
                layer_norm(x[0].clone(), w, b, 1e-5)
            },
            1e-4,
        );
        // Gradients of the affine parameters too.
        check(
            |d| vec![randn([48], 2, d).add_scalar(1.0), randn([48], 3, d)],
            |p| {
                let x = randn([2, 65, 48], 1, &p[0].device());
                layer_norm(x, p[0].clone(), p[1].clone(), 1e-5).reshape([2 * 65 * 48])
            },
            1e-4,
        );
    }

    #[test]
    fn bias_gelu_matches_burn_values_and_gradients() {
        check(
            |d| vec![randn([3, 50, 40], 11, d).mul_scalar(4.0)],
            |h| gelu_with_bias(h[0].clone(), true),
            1e-5,
        );
        check(
            |d| vec![randn([3, 50, 40], 12, d).mul_scalar(4.0)],
            |h| gelu_with_bias(h[0].clone(), false),
            1e-5,
        );
        // Gradient of the bias.
        check(
            |d| vec![randn([40], 13, d)],
            |b| {
                let h = randn([2, 30, 40], 14, &b[0].device()).mul_scalar(3.0);
                bias_gelu(h, Some(b[0].clone())).reshape([2 * 30 * 40])
            },
            1e-5,
        );
        // exp and erf against the standard library at known points.
        for x in [-20.0f32, -3.3, -1.0, -0.1, 0.0, 0.37, 1.0, 2.5, 9.0, 40.0] {
            let e = exp_f32(x);
            assert!((e - x.exp()).abs() <= 2e-7 * x.exp(), "exp({x}) = {e}");
        }
        // erf(1) = 0.8427007929497149, erf(−0.5) = −0.5204998778130465.
        assert!((erf_f32(1.0).0 - 0.842_700_8).abs() < 3e-7);
        assert!((erf_f32(-0.5).0 + 0.520_499_9).abs() < 3e-7);
    }

    fn gelu_with_bias(h: Tensor<3>, with_bias: bool) -> Tensor<3> {
        let b = randn([40], 15, &h.device());
        bias_gelu(h, with_bias.then_some(b))
    }

    #[test]
    fn linear_matches_burn_values_and_gradients() {
        // x, W and b all get gradients; 3-D input, bias.
        check(
            |d| {
                vec![
                    randn([2 * 37, 24], 16, d),
                    randn([24, 10], 17, d),
                    randn([1, 10], 20, d),
                ]
            },
            |t| {
                let x = t[0].clone().reshape([2, 37, 24]);
                linear(x, t[1].clone(), Some(t[2].clone().reshape([10])))
            },
            1e-4,
        );
        // A transposed weight view (the tied LM head), no bias.
        check(
            |d| vec![randn([3 * 21, 16], 18, d), randn([120, 16], 19, d)],
            |t| {
                let x = t[0].clone().reshape([3, 21, 16]);
                linear(x, t[1].clone().transpose(), None)
            },
            1e-4,
        );
    }

    #[test]
    fn cross_entropy_matches_burn_values_and_gradients() {
        let targets: Vec<i64> = (0..150)
            .map(|i| if i % 7 == 3 { -1 } else { (i * 13) % 37 })
            .collect();
        check(
            |d| vec![randn([150, 37], 4, d).mul_scalar(4.0)],
            |x| cross_entropy_sum(x[0].clone(), &targets),
            1e-4,
        );
        // Known answer: uniform logits give log(vocab) per counted row.
        let l = Tensor::<2>::zeros([3, 8], &cpu_device());
        let loss = vals(cross_entropy_sum(l, &[1, -1, 7]))[0];
        assert!((loss - 2.0 * 8f32.ln()).abs() < 1e-5);
    }

    #[test]
    fn self_attention_matches_burn_values_and_gradients() {
        // s = 150 spans three query blocks (64 + 64 + 22); d = 48, 4 heads of 12.
        check(
            |d| vec![randn([2, 150, 144], 5, d)],
            |x| self_attention(x[0].clone(), 4, 0.3, None),
            2e-4,
        );
        // Left padding: row 0 has 5 padding keys, row 1 none.
        let valid: Vec<bool> = (0..2 * 70).map(|i| i >= 5).collect();
        check(
            |d| vec![randn([2, 70, 48], 6, d)],
            |x| self_attention(x[0].clone(), 2, 0.25, Some(&valid)),
            2e-4,
        );
    }

    #[test]
    fn cached_attention_matches_burn_values_and_gradients() {
        // 67 cached positions + 9 new, padding in row 1, gradients into q, k and v.
        let (b, nh, past, s, dh) = (2, 3, 67, 9, 8);
        let total = past + s;
        let valid: Vec<bool> = (0..b * total)
            .map(|i| !(total..total + 4).contains(&i))
            .collect();
        check(
            |d| {
                vec![
                    randn([b, nh, s, dh], 7, d),
                    randn([b, nh, total, dh], 8, d),
                    randn([b, nh, total, dh], 9, d),
                ]
            },
            |t| {
                attention(
                    t[0].clone(),
                    t[1].clone(),
                    t[2].clone(),
                    past,
                    0.35,
                    Some(&valid),
                )
            },
            2e-4,
        );
        // Strided views (a swap_dims of a [b, s, h, dh] tensor) are read in place.
        check(
            |d| vec![randn([b, total, nh, dh], 10, d)],
            |t| {
                let kv = t[0].clone().swap_dims(1, 2);
                let q = kv.clone().narrow(2, past, s);
                attention(q, kv.clone(), kv, past, 0.35, None)
            },
            2e-4,
        );
    }

    #[test]
    fn flex_tensors_reach_the_kernels() {
        // The fused path needs the primitives; if burn's dispatch changed shape these would
        // silently fall back to the composite ops, so check the downcasts themselves.
        let ad = randn([2, 3], 1, &cpu_autodiff_device()).require_grad();
        assert!(input(&ad).is_some_and(|i| i.ad.is_some()));
        let plain = randn([2, 3], 1, &cpu_device());
        assert!(input(&plain).is_some_and(|i| i.ad.is_none()));
        // All inputs tracked: handles for the backward; none tracked: plain; a mix: burn's ops.
        assert!(inputs([input(&ad), input(&ad)]).is_some_and(|(_, h)| h.is_some()));
        assert!(inputs([input(&plain), input(&plain)]).is_some_and(|(_, h)| h.is_none()));
        assert!(inputs([input(&ad), input(&plain)]).is_none());
    }

    #[test]
    fn kv_append_grows_a_slab_in_place() {
        let dev = cpu_device();
        let a = randn([2, 3, 5, 4], 21, &dev);
        let b = randn([2, 3, 1, 4], 22, &dev);
        // A strided view, as the model passes it (a swap_dims of [b, s, h, dh]).
        let c = randn([2, 1, 3, 4], 23, &dev).swap_dims(1, 2);
        let want = vals(Tensor::cat(vec![a.clone(), b.clone(), c.clone()], 2));
        // Where a slab's data lives.
        let addr = |t: &Tensor<4>| input(t).expect("flex").p.storage::<f32>().as_ptr() as usize;
        let slab = kv_append(None, 0, a.clone());
        let (cap, at) = (slab.dims()[2], addr(&slab));
        assert_eq!(cap, 16, "room to grow");
        let slab = kv_append(Some(slab), 5, b.clone());
        let slab = kv_append(Some(slab), 6, c.clone());
        // Both positions were written into the slab the cache owned.
        assert_eq!((slab.dims()[2], addr(&slab)), (cap, at));
        assert_close(&vals(slab.clone().narrow(2, 0, 7)), &want, 0.0, "slab");
        // A shared slab (a clone alive) is copied, never written under the other owner.
        let keep = slab.clone();
        let grown = kv_append(Some(slab), 7, b.clone());
        assert_ne!(addr(&grown), addr(&keep));
        assert_eq!(addr(&keep), at);
        assert_close(&vals(grown.narrow(2, 0, 7)), &want, 0.0, "copied slab");
        // Composite path: a plain concatenation.
        set_enabled(false);
        let slab = kv_append(None, 0, a);
        let slab = kv_append(Some(slab), 5, b);
        let slab = kv_append(Some(slab), 6, c);
        set_enabled(true);
        assert_eq!(slab.dims()[2], 7);
        assert_close(&vals(slab), &want, 0.0, "concatenation");
    }
}
