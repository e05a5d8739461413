//! One AdamW update of a parameter (Loshchilov & Hutter 2019) as a single parallel pass.
//!
//! Written as tensor ops, an update is a dozen element-wise passes over the parameter, each
//! allocating a temporary, on one thread. Here each element's gradient scaling, moments, bias
//! correction and decoupled decay are one expression, the parameter and both moments are
//! updated in place when the update owns them alone, and chunks of elements run on rayon.
//!
//! The expression is the composite's, operation for operation in f32 (each scalar rounded to
//! f32 as burn's scalar ops round it, no fused multiply-add), so the two paths agree bitwise:
//! `fused_update_is_bitwise_the_composite` checks it, and training's losses do not move.

use burn::backend::Flex;
use burn::tensor::{DType, Tensor};
use burn_flex::FlexTensor;

use super::vecmath::multiversion;
use super::{enabled, flex, input, run_tasks, SharedOut};

/// The step's scalars: hyper-parameters, learning rate, step count and gradient scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWStep {
    /// Decay rate of the first moment (β1).
    pub beta1: f64,
    /// Decay rate of the second moment (β2).
    pub beta2: f64,
    /// Added to √v̂ in the denominator (ε).
    pub eps: f64,
    /// Decoupled weight decay (λ).
    pub weight_decay: f64,
    /// Learning rate of this step.
    pub lr: f64,
    /// Updates applied so far, this one included (t ≥ 1; the bias correction uses it).
    pub t: u64,
    /// Factor on the gradient before the update (global-norm clipping; 1 = none).
    pub grad_scale: f64,
}

/// The scalars as the composite ops see them: each computed in f64, then rounded to f32.
#[derive(Clone, Copy, Debug)]
struct Scalars {
    grad_scale: f32,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    bc1: f32,
    bc2: f32,
    eps: f32,
    decay: f32,
    lr: f32,
}

impl AdamWStep {
    fn scalars(&self) -> Scalars {
        let t = self.t as i32;
        Scalars {
            grad_scale: self.grad_scale as f32,
            beta1: self.beta1 as f32,
            one_minus_beta1: (1.0 - self.beta1) as f32,
            beta2: self.beta2 as f32,
            one_minus_beta2: (1.0 - self.beta2) as f32,
            bc1: (1.0 - self.beta1.powi(t)) as f32,
            bc2: (1.0 - self.beta2.powi(t)) as f32,
            eps: self.eps as f32,
            decay: (1.0 - self.lr * self.weight_decay) as f32,
            lr: self.lr as f32,
        }
    }
}

/// Elements per task of the parallel pass.
const CHUNK: usize = 1 << 14;

/// The updated parameter `p` and moments `m`, `v` (all flat, `[n]`) after one AdamW step with
/// gradient `g`: m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; θ ← θ(1 − lr·λ) − lr·m̂/(√v̂ + ε)
/// with m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ) (Kingma & Ba 2015, Alg. 1; the decay decoupled as in
/// Loshchilov & Hutter 2019, Alg. 2). A first step passes zero moments.
pub fn adamw_update(
    p: Tensor<1>,
    g: Tensor<1>,
    m: Tensor<1>,
    v: Tensor<1>,
    step: &AdamWStep,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let plain = |t: &Tensor<1>| t.dtype() == DType::F32 && input(t).is_some_and(|i| i.ad.is_none());
    if !(enabled() && [&p, &g, &m, &v].into_iter().all(plain)) {
        return composite(p, g, m, v, step);
    }
    let prim = |t: Tensor<1>| {
        t.try_into_primitive::<Flex>()
            .expect("checked: a plain flex tensor")
    };
    let n = p.dims()[0];
    let (mut pp, gp, mut mp, mut vp) = (owned(prim(p)), prim(g), owned(prim(m)), owned(prim(v)));
    let gp = super::contiguous(gp);
    let gs = super::f32s(&gp);
    assert!(
        gs.len() == n && mp.layout().num_elements() == n && vp.layout().num_elements() == n,
        "adamw_update: parameter, gradient and moments have the same length"
    );
    let s = step.scalars();
    let out = |t: &mut FlexTensor| {
        SharedOut::new(t.try_storage_mut::<f32>().expect("owned by this update"))
    };
    let (po, mo, vo) = (out(&mut pp), out(&mut mp), out(&mut vp));
    run_tasks(n.div_ceil(CHUNK), n, |c| {
        let (a, len) = (c * CHUNK, CHUNK.min(n - c * CHUNK));
        // SAFETY: chunk c owns elements a..a+len of the three buffers, alive until the join.
        let (p, m, v) = unsafe { (po.range(a, len), mo.range(a, len), vo.range(a, len)) };
        update_chunk(p, &gs[a..a + len], m, v, s);
    });
    let t = |x: FlexTensor| Tensor::<1>::from_primitive::<Flex>(x);
    (t(pp), t(mp), t(vp))
}

/// `t` as a contiguous buffer starting at its storage's first element that no other tensor
/// shares (written in place), or a copy of it.
fn owned(t: FlexTensor) -> FlexTensor {
    let n = t.layout().num_elements();
    if t.is_unique()
        && t.layout().contiguous_offsets() == Some((0, n))
        && t.storage::<f32>().len() == n
    {
        return t;
    }
    let c = t.to_contiguous();
    flex(super::f32s(&c).to_vec(), vec![n])
}

multiversion! {
    /// The update of one chunk, each line one composite op in the composite's order.
    fn update_chunk(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: Scalars) {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let g = g * s.grad_scale;
            *m = *m * s.beta1 + g * s.one_minus_beta1;
            *v = *v * s.beta2 + (g * g) * s.one_minus_beta2;
            let update = (*m / s.bc1) / ((*v / s.bc2).sqrt() + s.eps);
            *p = *p * s.decay - update * s.lr;
        }
    }
}

/// The same update as burn tensor ops (any backend; fused kernels off).
fn composite(
    p: Tensor<1>,
    g: Tensor<1>,
    m: Tensor<1>,
    v: Tensor<1>,
    step: &AdamWStep,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let t = step.t as i32;
    let g = g.mul_scalar(step.grad_scale);
    let m = m
        .mul_scalar(step.beta1)
        .add(g.clone().mul_scalar(1.0 - step.beta1));
    let v = v
        .mul_scalar(step.beta2)
        .add(g.powi_scalar(2).mul_scalar(1.0 - step.beta2));
    let bc1 = 1.0 - step.beta1.powi(t);
    let bc2 = 1.0 - step.beta2.powi(t);
    let update = m
        .clone()
        .div_scalar(bc1)
        .div(v.clone().div_scalar(bc2).sqrt().add_scalar(step.eps));
    let p = p
        .mul_scalar(1.0 - step.lr * step.weight_decay)
        .sub(update.mul_scalar(step.lr));
    (p, m, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu_device;
    use crate::fused::set_enabled;
    use crate::fused::testing::{randn, vals};

    fn step(t: u64, grad_scale: f64) -> AdamWStep {
        AdamWStep {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
            lr: 3e-3,
            t,
            grad_scale,
        }
    }

    #[test]
    fn fused_update_is_bitwise_the_composite() {
        let dev = cpu_device();
        // Over several chunks (parallel), with a ragged last one; then a small one (serial).
        for n in [3 * CHUNK + 77, 300] {
            let p = randn([n], 1, &dev);
            let (mut fused, mut comp) = (None::<[Tensor<1>; 3]>, None::<[Tensor<1>; 3]>);
            for t in 1..=3 {
                let g = randn([n], 10 + t, &dev).mul_scalar(0.01);
                let zero = || Tensor::<1>::zeros([n], &dev);
                let [fp, fm, fv] = fused.take().unwrap_or_else(|| [p.clone(), zero(), zero()]);
                let [cp, cm, cv] = comp.take().unwrap_or_else(|| [p.clone(), zero(), zero()]);
                let s = step(t, if t == 2 { 0.5 } else { 1.0 });
                let (fp, fm, fv) = adamw_update(fp, g.clone(), fm, fv, &s);
                set_enabled(false);
                let (cp, cm, cv) = adamw_update(cp, g, cm, cv, &s);
                set_enabled(true);
                for (a, b, what) in [(&fp, &cp, "p"), (&fm, &cm, "m"), (&fv, &cv, "v")] {
                    let (a, b) = (vals(a.clone()), vals(b.clone()));
                    let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "n {n}, step {t}: {what} differs");
                }
                fused = Some([fp, fm, fv]);
                comp = Some([cp, cm, cv]);
            }
        }
    }

    #[test]
    fn first_step_moves_each_weight_by_lr_against_its_gradient_sign() {
        // After one step m̂ = g and v̂ = g², so θ' = θ(1 − lr·λ) − lr·sign(g) (ε negligible).
        let dev = cpu_device();
        let p0 = vec![0.5f32, -1.0, 2.0, 0.0];
        let g = vec![0.3f32, -0.2, -4.0, 1e-3];
        let t = |x: &[f32]| {
            Tensor::<1>::from_data(burn::tensor::TensorData::new(x.to_vec(), [4]), &dev)
        };
        let s = step(1, 1.0);
        let (p, m, v) = adamw_update(t(&p0), t(&g), t(&[0.0; 4]), t(&[0.0; 4]), &s);
        let (p, m, v) = (vals(p), vals(m), vals(v));
        for i in 0..4 {
            let want = p0[i] as f64 * (1.0 - s.lr * s.weight_decay) - s.lr * (g[i] as f64).signum();
            assert!((p[i] as f64 - want).abs() < 1e-6, "{i}: {} vs {want}", p[i]);
            assert!((m[i] as f64 - 0.1 * g[i] as f64).abs() < 1e-7);
            assert!((v[i] as f64 - 0.05 * (g[i] as f64).powi(2)).abs() < 1e-7);
        }
    }

    #[test]
    fn a_shared_parameter_is_copied_not_written_under_its_other_owner() {
        let dev = cpu_device();
        let p = randn([CHUNK * 5], 3, &dev);
        let before = vals(p.clone());
        let keep = p.clone();
        let g = randn([CHUNK * 5], 4, &dev);
        let zero = || Tensor::<1>::zeros([CHUNK * 5], &dev);
        let (updated, _, _) = adamw_update(p, g, zero(), zero(), &step(1, 1.0));
        assert_eq!(vals(keep), before, "the other owner's values are untouched");
        assert_ne!(vals(updated), before);
    }
}
