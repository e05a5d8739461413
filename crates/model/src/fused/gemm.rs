//! The strided matrix product every kernel uses (the `gemm` crate that flex itself calls), and
//! the buffers it writes.

use burn_flex::FlexTensor;

use super::PAR_MIN_WORK;

/// A 2-D flex tensor's first element and (row, column) strides.
pub(super) fn mat_view(t: &FlexTensor) -> (*const f32, isize, isize) {
    let l = t.layout();
    let st = l.strides();
    let base = t.storage::<f32>().as_ptr().wrapping_add(l.start_offset());
    (base, st[0], st[1])
}

/// A buffer of `n` floats that `fill` writes completely through the pointer before anything
/// reads it (a product written by gemm with `accumulate = false`), so it is not zeroed first.
/// `inner` is the product's inner dimension: gemm writes nothing when it is 0, so then the
/// buffer is zeros.
pub(super) fn written_by(n: usize, inner: usize, fill: impl FnOnce(*mut f32)) -> Vec<f32> {
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

/// `C[m×n] (+)= A·B` for strided row-major views (`*_rs` row strides, `*_cs` column strides):
/// on rayon's threads when `parallel` and the product is big enough to pay for it, else on this
/// thread (the per-head attention products, already spread over heads).
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_on(
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
