//! The MLP's bias and exact GELU (Hendrycks & Gimpel 2016) in one pass forward and one
//! backward, keeping the pre-activation.

use burn::tensor::Tensor;
use burn_flex::FlexTensor;

use super::vecmath::{erf_f32, multiversion};
use super::{
    add_partials, contiguous, f32s, finish, flex, input, inputs, run_tasks, shape_of, FusedGrad,
    TaskOut,
};

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
    let (z, y) = (TaskOut::new(h.len()), TaskOut::new(h.len()));
    let chunk = (ELEMS_PER_TASK / d).max(1) * d;
    let (zo, yo) = (z.shared(), y.shared());
    run_tasks(h.len().div_ceil(chunk), h.len(), |t| {
        let (a, e) = (t * chunk, ((t + 1) * chunk).min(h.len()));
        // SAFETY: task t owns elements a..e.
        unsafe { bias_gelu_rows(&h[a..e], b, zo.take(a, e - a), yo.take(a, e - a)) };
    });
    // SAFETY: the tasks took every element.
    unsafe { (z.into_vec(), y.into_vec()) }
}

/// `dz` and, with a bias, its gradient Σ_rows dz.
fn bias_gelu_bwd(z: &[f32], dy: &[f32], d: usize, bias: bool) -> (Vec<f32>, Vec<f32>) {
    let dz_out = TaskOut::new(z.len());
    let chunk = (ELEMS_PER_TASK / d).max(1) * d;
    let dzo = dz_out.shared();
    let partial = run_tasks(z.len().div_ceil(chunk), z.len(), |t| {
        let (a, e) = (t * chunk, ((t + 1) * chunk).min(z.len()));
        // SAFETY: task t owns elements a..e.
        let dz = unsafe { dzo.take(a, e - a) };
        gelu_grad_rows(&z[a..e], &dy[a..e], dz);
        let mut db = vec![0f32; if bias { d } else { 0 }];
        if bias {
            for row in dz.chunks(d) {
                db.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
        }
        db
    });
    // SAFETY: the tasks took every element.
    let dz = unsafe { dz_out.into_vec() };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::testing::{check, randn};

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
    }

    fn gelu_with_bias(h: Tensor<3>, with_bias: bool) -> Tensor<3> {
        let b = randn([40], 15, &h.device());
        bias_gelu(h, with_bias.then_some(b))
    }
}
