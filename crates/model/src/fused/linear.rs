//! `x · W + b` as one op: one gemm forward, two backward, the weight read through its strides.

use burn::tensor::Tensor;
use burn_flex::FlexTensor;

use super::gemm::{gemm_on, gemm_transposed_out, mat_view, written_by};
use super::{
    add_partials, contiguous, f32s, finish, flex, input, inputs, rows_of, run_tasks, shape_of,
    AdTensor, FusedGrad, ROWS_PER_TASK,
};

/// `y [rows, n] = x [rows, k] · W [k, n] (+ b)`, `W` any strided view (a transposed tied
/// embedding is read in place).
fn linear_fwd(x: &[f32], k: usize, w: &FlexTensor, b: Option<&[f32]>) -> Vec<f32> {
    let rows = x.len() / k;
    let n = w.layout().shape()[1];
    let (wp, w_rs, w_cs) = mat_view(w);
    if k == 0 {
        return b.map_or_else(|| vec![0f32; rows * n], |b| b.repeat(rows));
    }
    // SAFETY: x is [rows, k] contiguous, w a [k, n] view inside its storage, y fresh; every
    // element of y is written (the bias rows set first, then the product added).
    written_by(rows * n, k, |y| unsafe {
        gemm_on(
            rows,
            n,
            k,
            y,
            n,
            false,
            x.as_ptr(),
            k as isize,
            1,
            wp,
            w_rs,
            w_cs,
            true,
            b,
        )
    })
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

/// Up to this many rows (a Coconut pass's batch), dX = dY·Wᵀ is computed transposed: the
/// row-major product packed all of `W` transposed for a handful of output rows (0.4–0.9 ms
/// per call at the reference shape, 7% of a one-thread Coconut step).
const FEW_ROWS: usize = 64;

/// Fewest multiply-adds per product for the backward's dX and dW to run side by side.
const SIDE_BY_SIDE_MIN_WORK: usize = 1 << 18;

/// A weight's first element, shared by the two backward products.
#[derive(Clone, Copy)]
struct SendPtr(*const f32);
// SAFETY: only read, while the weight tensor it points into is alive.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    fn get(self) -> *const f32 {
        self.0
    }
}

#[derive(Clone, Debug)]
struct LinearState {
    x: FlexTensor,
    w: FlexTensor,
    /// The weight's autodiff handle: a weight used by several passes (Coconut's) gets one
    /// gradient per use, summed in parallel ([`FusedGrad::accumulated`]).
    w_ad: Option<AdTensor>,
}

/// Inputs x, W and (when N = 3) b.
impl<const N: usize> FusedGrad<N> for LinearState {
    fn grads(self, dy: FlexTensor, wanted: [bool; N]) -> [Option<FlexTensor>; N] {
        let LinearState { x, w, .. } = self;
        let mut out: [Option<FlexTensor>; N] = std::array::from_fn(|_| None);
        let [k, n] = [w.layout().shape()[0], w.layout().shape()[1]];
        let dys = f32s(&dy);
        let rows = dys.len() / n;
        let (wp, w_rs, w_cs) = mat_view(&w);
        let wp = SendPtr(wp);
        let xs = f32s(&x);
        // dX = dY · Wᵀ and dW = Xᵀ · dY take the same number of multiply-adds. When both are
        // wanted and big enough, they run side by side on two threads, each a whole product
        // (split further only when there are more than two threads): one fork/join instead
        // of one per product.
        let dx = |parallel: bool| {
            if (2..=FEW_ROWS).contains(&rows) && n > 0 {
                // Written transposed, then turned back (see `gemm_transposed_out`).
                let t = written_by(k * rows, n, |t| unsafe {
                    gemm_transposed_out(
                        rows,
                        k,
                        n,
                        t,
                        dys.as_ptr(),
                        n as isize,
                        1,
                        wp.get(),
                        w_cs,
                        w_rs,
                    )
                });
                let mut dx = vec![0f32; rows * k];
                for (i, col) in t.chunks_exact(rows).enumerate() {
                    for (r, v) in col.iter().enumerate() {
                        dx[r * k + i] = *v;
                    }
                }
                return dx;
            }
            written_by(rows * k, n, |dx| unsafe {
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
                    wp.get(),
                    w_cs,
                    w_rs,
                    parallel,
                    None,
                )
            })
        };
        let dw = |parallel: bool| {
            written_by(k * n, rows, |dw| unsafe {
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
                    parallel,
                    None,
                )
            })
        };
        let threads = rayon::current_num_threads();
        let (dx, dw) = match (wanted[0], wanted[1]) {
            (true, true) if threads > 1 && rows * k * n >= SIDE_BY_SIDE_MIN_WORK => {
                crate::wake_keepers();
                let (a, b) = rayon::join(|| dx(threads > 2), || dw(threads > 2));
                (Some(a), Some(b))
            }
            (want_dx, want_dw) => (want_dx.then(|| dx(true)), want_dw.then(|| dw(true))),
        };
        out[0] = dx.map(|dx| flex(dx, shape_of(&x)));
        out[1] = dw.map(|dw| flex(dw, vec![k, n]));
        if N == 3 && wanted[N - 1] {
            out[N - 1] = Some(flex(column_sums(dys, n), vec![n]));
        }
        out
    }

    fn accumulated(&self) -> [Option<AdTensor>; N] {
        std::array::from_fn(|i| if i == 1 { self.w_ad.clone() } else { None })
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
        (
            flex(y, shape),
            LinearState {
                x: xp,
                w: wp,
                w_ad: None,
            },
        )
    };
    match &b {
        None => {
            if let Some(([xp, wp], ad)) = inputs([input(&x), input(&w)]) {
                let (y, mut state) = fwd(xp, wp, None);
                state.w_ad = ad.as_ref().map(|a| a[1].clone());
                return finish(ad, y, || state);
            }
        }
        Some(bt) => {
            if let Some(([xp, wp, bp], ad)) = inputs([input(&x), input(&w), input(bt)]) {
                let (y, mut state) = fwd(xp, wp, Some(bp));
                state.w_ad = ad.as_ref().map(|a| a[1].clone());
                return finish(ad, y, || state);
            }
        }
    }
    burn::tensor::module::linear(x, w, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::testing::{check, randn};

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
        // Big enough for the backward's side-by-side products and split gemm (on ≥ 2 threads).
        check(
            |d| {
                vec![
                    randn([2 * 150, 128], 21, d),
                    randn([128, 96], 22, d),
                    randn([1, 96], 23, d),
                ]
            },
            |t| {
                let x = t[0].clone().reshape([2, 150, 128]);
                linear(x, t[1].clone(), Some(t[2].clone().reshape([96])))
            },
            1e-4,
        );
        // A Coconut pass's few rows: dX is computed transposed.
        check(
            |d| vec![randn([8, 40], 24, d), randn([40, 72], 25, d)],
            |t| linear(t[0].clone().reshape([8, 1, 40]), t[1].clone(), None),
            1e-4,
        );
        // One weight used twice (as by every Coconut pass): its two gradients are summed by
        // `add_gradient`.
        check(
            |d| vec![randn([2 * 150, 96], 26, d), randn([96, 96], 27, d)],
            |t| {
                let x = t[0].clone().reshape([2, 150, 96]);
                let h = linear(x, t[1].clone(), None);
                linear(h, t[1].clone(), None)
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
}
