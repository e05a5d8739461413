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

/// `C[m×n] (+)= A·B` for strided row-major views (`*_rs` row strides, `*_cs` column strides).
///
/// With `parallel`, a product big enough to pay for a fork is cut into one block of output
/// rows (or, when there are few rows, of output columns) per rayon thread, each a
/// single-threaded gemm: one fork/join per product. gemm's own `Rayon` mode forks twice per
/// depth block (the packing, then the products) and, on a 2-core machine, lost most of the
/// second core on the 8–512-row products of a Coconut step. Without `parallel` (the per-head
/// attention products, already spread over heads) the product runs on this thread.
///
/// With `row_init` (`[n]`, linear's bias), every output row is first set to it and then
/// accumulated into, `C = 1·row_init + A·B`; each block sets its own rows just before its
/// product, on the thread that computes them, instead of one thread filling the whole output
/// first.
///
/// Every output element is the same sum over `k` in the same order however the output is
/// cut (gemm's depth blocking depends on `k` only, and blocks are cut at multiples of
/// [`SPLIT_ALIGN`] so no block falls into gemm's small-matrix paths), so the result does not
/// depend on the thread count; `split_gemm_is_bitwise_the_whole_product` checks it.
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
    row_init: Option<&[f32]>,
) {
    if let Some(init) = row_init {
        assert_eq!(init.len(), n, "one initial value per output column");
    }
    let accumulate = accumulate || row_init.is_some();
    let parts = if parallel {
        split_parts(m, n, k, rayon::current_num_threads())
    } else {
        Split::Whole
    };
    // SAFETY (all arms): the caller guarantees the views are in bounds and `c` does not alias
    // `a` or `b`; the blocks write disjoint rows (columns) of `c`.
    let (c, a, b) = (c as usize, a as usize, b as usize);
    let one = move |rows: (usize, usize), cols: (usize, usize)| unsafe {
        let (r0, r1) = rows;
        let (c0, c1) = cols;
        if let Some(init) = row_init {
            for r in r0..r1 {
                let row = (c as *mut f32).add(r * c_rs + c0);
                std::ptr::copy_nonoverlapping(init.as_ptr().add(c0), row, c1 - c0);
            }
        }
        gemm_single(
            r1 - r0,
            c1 - c0,
            k,
            (c as *mut f32).add(r0 * c_rs + c0),
            c_rs,
            accumulate,
            (a as *const f32).offset(r0 as isize * a_rs),
            a_rs,
            a_cs,
            (b as *const f32).offset(c0 as isize * b_cs),
            b_rs,
            b_cs,
        )
    };
    if parts != Split::Whole {
        crate::wake_keepers();
    }
    match parts {
        Split::Whole => one((0, m), (0, n)),
        Split::Rows(p) => {
            use rayon::prelude::*;
            (0..p)
                .into_par_iter()
                .for_each(|t| one(block_of(t, p, m), (0, n)));
        }
        Split::Cols(p) => {
            use rayon::prelude::*;
            (0..p)
                .into_par_iter()
                .for_each(|t| one((0, m), block_of(t, p, n)));
        }
    }
}

/// Blocks are cut at multiples of this many rows or columns (gemm's register tiles are 16
/// floats wide with AVX-512).
const SPLIT_ALIGN: usize = 16;

/// Fewest multiply-adds per block of a split product: below this, handing a block to another
/// thread costs more than it saves.
const SPLIT_MIN_WORK: usize = PAR_MIN_WORK * 4;

/// How [`gemm_on`] cuts a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Split {
    Whole,
    Rows(usize),
    Cols(usize),
}

/// The cut of an `m×n×k` product over `threads`: as many blocks as threads (fewer when the
/// blocks would be under [`SPLIT_MIN_WORK`]), of rows when there are enough, else of columns.
fn split_parts(m: usize, n: usize, k: usize, threads: usize) -> Split {
    let work = m * n * k;
    let parts = threads.min(work / SPLIT_MIN_WORK);
    if parts < 2 {
        return Split::Whole;
    }
    // Each block at least 2 aligned tiles wide along the cut, so none is a tiny product.
    // And never a block gemm would treat differently from the whole product: a small matrix
    // (both sides ≤ 64), whose depth blocking differs when k > 512, or at most 256 elements,
    // summed by another kernel. `other` is the side left whole, `block` the narrowest block
    // along the cut: a block wider than 64 is never a small matrix, so a few-row product with
    // a deep k (a decoding step's MLP projection, 32 × 256 × 1024) may still be cut in columns.
    let keeps_path = |other: usize, block: usize| {
        other >= 2 && (other > 64 || block > 64 || (k <= 512 && other * block > 256))
    };
    let narrowest = |p: usize, len: usize| {
        (0..p)
            .map(|t| {
                let (s, e) = block_of(t, p, len);
                e - s
            })
            .min()
            .unwrap_or(0)
    };
    let cut = |p: usize, len: usize, other: usize| {
        if p >= 2 && keeps_path(other, narrowest(p, len)) {
            p
        } else {
            0
        }
    };
    let rows = cut(parts.min(m / (2 * SPLIT_ALIGN)), m, n);
    let cols = cut(parts.min(n / (2 * SPLIT_ALIGN)), n, m);
    if rows >= 2 && rows >= cols {
        Split::Rows(rows)
    } else if cols >= 2 {
        Split::Cols(cols)
    } else {
        Split::Whole
    }
}

/// `[start, end)` of block `t` of `parts` over `len`, cut at multiples of [`SPLIT_ALIGN`].
fn block_of(t: usize, parts: usize, len: usize) -> (usize, usize) {
    let tiles = len.div_ceil(SPLIT_ALIGN);
    let at = |t: usize| (tiles * t / parts * SPLIT_ALIGN).min(len);
    (at(t), at(t + 1))
}

/// One single-threaded gemm call.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_single(
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
) {
    // SAFETY: forwarded from the caller.
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
            gemm::Parallelism::None,
        );
    }
}

/// `Cᵀ = (A·B)ᵀ` into `ct` (`[n × m]`, row-major), single-threaded. With few rows `m` and a
/// row-major `B` read transposed (linear's dX = dY·Wᵀ), the row-major product makes gemm pack
/// all of `W` transposed on every call; written transposed, gemm reads `W` in place and packs
/// only the `m` rows of `A`. The caller transposes the small result back.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_transposed_out(
    m: usize,
    n: usize,
    k: usize,
    ct: *mut f32,
    a: *const f32,
    a_rs: isize,
    a_cs: isize,
    b: *const f32,
    b_rs: isize,
    b_cs: isize,
) {
    // SAFETY: forwarded from the caller (`ct` holds n·m floats, the views are in bounds).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            ct,
            m as isize,
            1,
            false,
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
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn split_gemm_is_bitwise_the_whole_product() {
        // The linear layers' shapes (forward, dX, dW) at the reference and recipe sizes and
        // at a Coconut pass's few rows, with odd sizes; k = 1024 spans two depth blocks.
        let shapes = [
            (4096, 768, 256),
            (512, 256, 1024),
            (8, 768, 256),
            (8, 1024, 256),
            (256, 1024, 512),
            (1024, 48, 128),
            (3200, 384, 128),
            (128, 384, 3200),
            (77, 1000, 256),
            (256, 130, 4096),
            (40, 512, 1024),
            (32, 256, 1024),
            (32, 1000, 256),
            (8, 256, 1024),
            (8, 160, 1024),
            (2, 1024, 256),
            (12, 48, 128),
        ];
        for (m, n, k) in shapes {
            let a = data(m * k, 1);
            let b = data(k * n, 2);
            let c0 = data(m * n, 3);
            for accumulate in [false, true] {
                // Whole, single thread.
                let mut whole = c0.clone();
                unsafe {
                    gemm_single(
                        m,
                        n,
                        k,
                        whole.as_mut_ptr(),
                        n,
                        accumulate,
                        a.as_ptr(),
                        k as isize,
                        1,
                        b.as_ptr(),
                        n as isize,
                        1,
                    )
                };
                for threads in [2, 3, 4, 16] {
                    let split = split_parts(m, n, k, threads);
                    let mut cut = c0.clone();
                    let run = |rows: (usize, usize), cols: (usize, usize), cut: &mut [f32]| unsafe {
                        gemm_single(
                            rows.1 - rows.0,
                            cols.1 - cols.0,
                            k,
                            cut.as_mut_ptr().add(rows.0 * n + cols.0),
                            n,
                            accumulate,
                            a.as_ptr().add(rows.0 * k),
                            k as isize,
                            1,
                            b.as_ptr().add(cols.0),
                            n as isize,
                            1,
                        )
                    };
                    match split {
                        Split::Whole => run((0, m), (0, n), &mut cut),
                        Split::Rows(p) => {
                            (0..p).for_each(|t| run(block_of(t, p, m), (0, n), &mut cut))
                        }
                        Split::Cols(p) => {
                            (0..p).for_each(|t| run((0, m), block_of(t, p, n), &mut cut))
                        }
                    }
                    assert!(
                        whole
                            .iter()
                            .zip(&cut)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{m}×{n}×{k}, {threads} threads ({split:?}), accumulate {accumulate}"
                    );
                }
            }
        }
    }

    #[test]
    fn rows_set_per_block_are_bitwise_bias_then_product() {
        // Linear's forward with a bias: each block sets its rows to the bias before its
        // product; the same as the bias repeated over the whole output, then accumulated.
        for (m, n, k) in [
            (4096, 768, 256),
            (3200, 384, 128),
            (8, 768, 256),
            (77, 1000, 256),
        ] {
            let (a, b, bias) = (data(m * k, 6), data(k * n, 7), data(n, 8));
            let mut want = bias.repeat(m);
            let mut got = vec![f32::NAN; m * n];
            unsafe {
                gemm_single(
                    m,
                    n,
                    k,
                    want.as_mut_ptr(),
                    n,
                    true,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                );
                gemm_on(
                    m,
                    n,
                    k,
                    got.as_mut_ptr(),
                    n,
                    false,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    true,
                    Some(&bias),
                );
            }
            assert!(
                want.iter()
                    .zip(&got)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{m}×{n}×{k}"
            );
        }
    }

    #[test]
    fn few_row_products_are_cut_in_columns() {
        // A decoding step's MLP projection (k = 1024) and a Coconut pass's 8 rows: the
        // column blocks are wider than 64, so gemm blocks them like the whole product.
        assert_eq!(split_parts(32, 256, 1024, 2), Split::Cols(2));
        assert_eq!(split_parts(8, 768, 256, 2), Split::Cols(2));
        assert_eq!(split_parts(8, 256, 1024, 2), Split::Cols(2));
        // Blocks of 64 columns with k > 512 would be small matrices: left whole.
        assert_eq!(split_parts(32, 128, 1024, 2), Split::Whole);
    }

    #[test]
    fn blocks_cover_the_range_in_aligned_cuts() {
        for len in [32, 33, 64, 100, 4096] {
            for parts in 2..=5 {
                let mut end = 0;
                for t in 0..parts {
                    let (s, e) = block_of(t, parts, len);
                    assert_eq!(s, end);
                    assert!(s % SPLIT_ALIGN == 0 && s <= e);
                    end = e;
                }
                assert_eq!(end, len);
            }
        }
    }

    #[test]
    fn transposed_out_is_bitwise_the_row_major_product() {
        // Linear's dX = dY·Wᵀ at a Coconut pass's few rows: dY [m × k], W [n × k].
        for (m, n, k) in [
            (8, 256, 1024),
            (8, 1024, 256),
            (8, 256, 768),
            (8, 256, 256),
            (2, 128, 512),
            (33, 384, 128),
            (64, 128, 1024),
            (16, 256, 1000),
        ] {
            let dy = data(m * k, 4);
            let w = data(n * k, 5);
            let mut whole = vec![0f32; m * n];
            let mut ct = vec![0f32; n * m];
            unsafe {
                gemm_single(
                    m,
                    n,
                    k,
                    whole.as_mut_ptr(),
                    n,
                    false,
                    dy.as_ptr(),
                    k as isize,
                    1,
                    w.as_ptr(),
                    1,
                    k as isize,
                );
                gemm_transposed_out(
                    m,
                    n,
                    k,
                    ct.as_mut_ptr(),
                    dy.as_ptr(),
                    k as isize,
                    1,
                    w.as_ptr(),
                    1,
                    k as isize,
                );
            }
            for r in 0..m {
                for i in 0..n {
                    assert_eq!(
                        whole[r * n + i].to_bits(),
                        ct[i * m + r].to_bits(),
                        "{m}×{n}×{k} at ({r}, {i})"
                    );
                }
            }
        }
    }
}
