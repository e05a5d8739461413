//! Shared checks for the fused kernels' tests: every op against burn's composite ops.

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::set_enabled;
use crate::{cpu_autodiff_device, cpu_device};

pub(super) fn randn<const D: usize>(shape: [usize; D], seed: u64, dev: &Device) -> Tensor<D> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    Tensor::from_data(TensorData::new(v, shape), dev)
}

pub(super) fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

pub(super) fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
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
pub(super) fn check<const D: usize, const O: usize>(
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
