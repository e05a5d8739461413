//! LayerNorm with affine weight and bias (Ba et al. 2016): one pass forward keeping the row
//! mean and reciprocal standard deviation, one pass backward.

use burn::tensor::module::layer_norm as burn_layer_norm;
use burn::tensor::Tensor;
use burn_flex::FlexTensor;

use super::{
    add_partials, contiguous, f32s, finish, flex, input, inputs, rows_of, run_tasks, shape_of,
    FusedGrad, TaskOut, ROWS_PER_TASK,
};

/// `y = (x − μ) / sqrt(σ² + eps) · w + b` over the last axis of `x [n, d]` (Ba et al. 2016);
/// returns `y`, μ and 1/sqrt(σ² + eps) per row.
fn layer_norm_fwd(x: &[f32], w: &[f32], b: &[f32], eps: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = w.len();
    let n = x.len() / d;
    let (y, mean, rstd) = (TaskOut::new(x.len()), TaskOut::new(n), TaskOut::new(n));
    let (yo, mo, ro) = (y.shared(), mean.shared(), rstd.shared());
    run_tasks(n.div_ceil(ROWS_PER_TASK), x.len(), |t| {
        let (r0, r1) = rows_of(t, n);
        // SAFETY: task t owns rows r0..r1.
        let (y, mean, rstd) = unsafe {
            (
                yo.take(r0 * d, (r1 - r0) * d),
                mo.take(r0, r1 - r0),
                ro.take(r0, r1 - r0),
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
    // SAFETY: the tasks took every element of the three.
    unsafe { (y.into_vec(), mean.into_vec(), rstd.into_vec()) }
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
    let dx_out = TaskOut::new(x.len());
    let dxo = dx_out.shared();
    let partial = run_tasks(n.div_ceil(ROWS_PER_TASK), x.len(), |t| {
        let (r0, r1) = rows_of(t, n);
        // SAFETY: task t owns rows r0..r1.
        let dx = unsafe { dxo.take(r0 * d, (r1 - r0) * d) };
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
    // SAFETY: the tasks took every element.
    let dx = unsafe { dx_out.into_vec() };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::testing::{check, randn};

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
}
