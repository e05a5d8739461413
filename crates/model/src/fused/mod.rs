//! Fused CPU kernels for burn's `flex` backend, each with a hand-written backward pass.
//!
//! Burn's autodiff builds attention, LayerNorm, GELU and the cross-entropy out of chains of
//! small tensor ops (burn 0.22's `attention` falls back to matmul → mask → softmax → matmul
//! under autodiff, and the softmax alone records five ops), each allocating a full-size
//! temporary and recording a node whose backward allocates more; `linear` on a 3-D input
//! becomes a broadcast batched matmul plus an add. On the CPU that bookkeeping cost as much as
//! the matrix products. Here each is one op with one backward:
//!
//! - [`self_attention`]: causal multi-head attention over the packed projection rows (a KV
//!   cache's and this pass's), computed per (row, head) in blocks of query rows, FlashAttention-style (Dao et al. 2022): the scores of
//!   a block, masked, soft-maxed and multiplied by V without materialising the `[b, h, s, s]`
//!   probabilities; only the row log-sum-exp is kept, and the backward recomputes the block's
//!   probabilities from it. Key blocks above the diagonal are skipped. Matrix products go
//!   through `gemm` (the crate flex itself uses), single-threaded per head; heads run in
//!   parallel on rayon.
//! - [`linear()`]: one gemm forward, two backward, the weight read through its strides.
//! - [`layer_norm()`]: the row mean and reciprocal standard deviation are kept for the backward.
//! - [`bias_gelu`]: the MLP's bias and exact GELU in one pass.
//! - [`cross_entropy_sum`]: log-sum-exp per row; the backward is `softmax − onehot`.
//! - [`kv_append`]: a KV cache of packed rows that grows in place during decoding.
//! - [`adamw_update`]: one AdamW step of a parameter and its moments, in place, in parallel.
//!
//! They run when every input lives on the flex device (plain, or autodiff without gradient
//! checkpointing) as f32; otherwise, or when switched off ([`set_enabled`], or
//! `SUPERPOSE_FUSED=0` in the environment), the same functions fall back to burn's composite
//! ops, so every backend computes the same thing. The tests check both paths against each
//! other, values and gradients.
//!
//! One file per op (`adamw.rs`, `attention.rs`, `linear.rs`, `layer_norm.rs`, `gelu.rs`, `cross_entropy.rs`,
//! `kv.rs`); `gemm.rs` holds the strided matrix product they share, `vecmath.rs` the branch-free
//! exp/erf and row reductions, and this module the input path (`input`, `inputs`, `finish`),
//! the backward step every op registers (`FusedBackward` over a `FusedGrad` state) and the
//! parallel helpers.

mod adamw;
mod attention;
mod cross_entropy;
mod gelu;
mod gemm;
mod kv;
mod layer_norm;
mod linear;
#[cfg(test)]
mod testing;
mod vecmath;

pub use adamw::{adamw_update, AdamWStep};
pub use attention::{attention_mask, self_attention};
pub use cross_entropy::cross_entropy_sum;
pub use gelu::bias_gelu;
pub use kv::kv_append;
pub use layer_norm::layer_norm;
pub use linear::linear;

use std::cell::Cell;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{DType, Tensor, TensorData};
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

    /// The autodiff handles of inputs whose gradient may already hold other uses'
    /// contributions (a weight used by every Coconut pass): [`FusedBackward`] adds this op's
    /// gradient to it in parallel ([`add_gradient`]) instead of burn's one-thread add.
    fn accumulated(&self) -> [Option<AdTensor>; N] {
        std::array::from_fn(|_| None)
    }
}

/// burn's backward step for every fused op: it hands the output's gradient to the op's state.
#[derive(Debug)]
struct FusedBackward<S>(std::marker::PhantomData<S>);

impl<S: FusedGrad<N>, const N: usize> Backward<Flex, N> for FusedBackward<S> {
    type State = S;

    fn backward(self, ops: Ops<S, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let wanted = ops.parents.each_ref().map(Option::is_some);
        let handles = ops.state.accumulated();
        let input_grads = ops.state.grads(dy, wanted);
        for ((parent, g), handle) in ops.parents.into_iter().zip(input_grads).zip(handles) {
            if let (Some(node), Some(mut g)) = (parent, g) {
                // burn's `register` would add an earlier contribution on this thread.
                if let Some(old) = handle.and_then(|h| h.grad_remove(grads)) {
                    g = add_gradient(g, old);
                }
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

// Parallel helpers shared by the row-wise and element-wise kernels.

/// Rows per task in the row-wise kernels.
const ROWS_PER_TASK: usize = 64;

/// Below this much work (elements touched, or multiply-adds), a job runs on the calling
/// thread: handing it to rayon's pool costs a cross-thread round trip, more than a decoding
/// step's LayerNorm or attention takes.
const PAR_MIN_WORK: usize = 1 << 16;

/// `task(0..n)`, on rayon when the job is worth it, else on this thread; results in order.
fn run_tasks<T: Send>(n: usize, work: usize, task: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    if n > 1 && work >= PAR_MIN_WORK {
        crate::wake_keepers();
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

    /// [`SharedOut::range`] of a [`TaskOut`]'s buffer, zeroed first.
    ///
    /// # Safety
    /// As for `range`; each element is taken by one task only.
    #[allow(clippy::mut_from_ref)]
    unsafe fn take(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(start + len <= self.len);
        let p = (self.addr as *mut f32).wrapping_add(start);
        // SAFETY: in bounds (checked); zeroed through the raw pointer before the slice exists.
        unsafe {
            std::ptr::write_bytes(p, 0, len);
            std::slice::from_raw_parts_mut(p, len)
        }
    }
}

/// An output of `len` floats that [`run_tasks`] tasks fill in disjoint ranges covering it,
/// allocated without zeroing: each task zeroes the range it takes ([`SharedOut::take`]) just
/// before writing it, so the zeroing (and a fresh allocation's page faults) run on the threads
/// that write the data, while it is in their cache, instead of as one memset on the calling
/// thread before the tasks start.
struct TaskOut {
    buf: Vec<f32>,
    out: SharedOut,
}

impl TaskOut {
    fn new(len: usize) -> Self {
        let mut buf = Vec::with_capacity(len);
        let out = SharedOut {
            addr: buf.as_mut_ptr() as usize,
            len,
        };
        TaskOut { buf, out }
    }

    /// What the tasks write through.
    fn shared(&self) -> SharedOut {
        self.out
    }

    /// The filled buffer.
    ///
    /// # Safety
    /// The tasks must have taken (and so initialised) every element.
    unsafe fn into_vec(mut self) -> Vec<f32> {
        // SAFETY: the caller's promise; the capacity is `len`.
        unsafe { self.buf.set_len(self.out.len) };
        self.buf
    }
}

/// Elements per task of [`add_gradient`].
const ADD_CHUNK: usize = 1 << 14;

/// `new + old`, element by element in parallel chunks, written into `new` (this op's fresh
/// gradient): the sum burn's `Gradients::register` computes (`float_add(new, old)`), bit for
/// bit, on all threads instead of one. Shapes that differ go to burn's add.
fn add_gradient(new: FlexTensor, old: FlexTensor) -> FlexTensor {
    use burn::backend::ops::FloatTensorOps;
    let n = new.layout().num_elements();
    let unique_whole = new.is_unique() && new.layout().contiguous_offsets() == Some((0, n));
    if !unique_whole || new.layout().shape() != old.layout().shape() || new.dtype() != DType::F32 {
        return Flex::float_add(new, old);
    }
    let old = contiguous(old);
    let mut new = new;
    let out = SharedOut::new(new.try_storage_mut::<f32>().expect("checked unique"));
    let olds = f32s(&old);
    run_tasks(n.div_ceil(ADD_CHUNK), n, |c| {
        let (a, len) = (c * ADD_CHUNK, ADD_CHUNK.min(n - c * ADD_CHUNK));
        // SAFETY: chunk c owns elements a..a+len of the buffer, alive until the join.
        let dst = unsafe { out.range(a, len) };
        dst.iter_mut()
            .zip(&olds[a..a + len])
            .for_each(|(x, &o)| *x += o);
    });
    new
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::testing::randn;
    use crate::{cpu_autodiff_device, cpu_device};

    #[test]
    fn gradient_sums_are_bitwise_burns_add() {
        use burn::backend::ops::FloatTensorOps;
        let prim = |seed| {
            randn([3 * ADD_CHUNK + 5], seed, &cpu_device())
                .try_into_primitive::<Flex>()
                .unwrap()
        };
        let (new, old) = (prim(1), prim(2));
        let want = Flex::float_add(new.clone(), old.clone());
        // `new` shared (the clone above is gone only after `want`): copy it so it is unique.
        let new = flex(f32s(&new).to_vec(), vec![3 * ADD_CHUNK + 5]);
        let got = add_gradient(new, old);
        let bits = |t: &FlexTensor| f32s(t).iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want));
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
}
