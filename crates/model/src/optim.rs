//! AdamW (Loshchilov & Hutter 2019) with decoupled weight decay, global-norm gradient clipping
//! and a state keyed by parameter *path*, so that it survives a save/load of the model (burn's
//! own optimizer keys its state by `ParamId`, which a weights file does not keep) and can be
//! written to a safetensors file for `--resume`.
//!
//! Each parameter's update is one parallel pass ([`crate::fused::adamw_update`]); the training
//! loop and `bench model` step this same optimizer.
//!
//! burn's `GradientClipping::Norm` clips every parameter separately; [`global_grad_norm`]
//! computes the norm over all parameters together (as `torch.nn.utils.clip_grad_norm_`).

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use crate::fused::{adamw_update, AdamWStep};
use crate::ModelError;

/// AdamW hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl AdamWConfig {
    /// `torch.optim.AdamW`'s defaults (β 0.9/0.999, ε 1e-8, λ 0.01): the benchmark's, as the
    /// PyTorch reference script uses them.
    pub const TORCH: AdamWConfig = AdamWConfig {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
}

/// First and second moments of one parameter, flattened.
#[derive(Clone)]
struct Moments {
    m: Tensor<1>,
    v: Tensor<1>,
}

/// AdamW state: the step count and the moments of every parameter, by module path.
#[derive(Clone, Default)]
pub struct AdamW {
    /// Number of updates applied since the last reset (bias correction uses it).
    pub t: u64,
    moments: BTreeMap<String, Moments>,
}

impl AdamW {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget the moments (Coconut resets the optimizer at every stage switch).
    pub fn reset(&mut self) {
        self.t = 0;
        self.moments.clear();
    }

    /// One AdamW update of every parameter that has a gradient in `grads`; gradients are first
    /// multiplied by `grad_scale` (the global-norm clipping factor).
    pub fn step<M: Module>(
        &mut self,
        cfg: &AdamWConfig,
        lr: f64,
        module: M,
        grads: &mut GradientsParams,
        grad_scale: f64,
    ) -> M {
        self.t += 1;
        let mut mapper = StepMapper {
            path: Vec::new(),
            grads,
            moments: &mut self.moments,
            cfg: *cfg,
            lr,
            t: self.t,
            grad_scale,
        };
        module.map(&mut mapper)
    }

    /// Write the state to a safetensors file (`<path>.m`, `<path>.v` tensors plus the step).
    pub fn save(&self, file: &Path) -> Result<(), ModelError> {
        let mut buffers: Vec<(String, Vec<u8>, usize)> = Vec::new();
        for (name, mo) in &self.moments {
            for (suffix, t) in [("m", &mo.m), ("v", &mo.v)] {
                let data = t.to_data();
                let vals: Vec<f32> = data.try_to_vec::<f32>().map_err(|e| ModelError::File {
                    path: file.display().to_string(),
                    message: format!("optimizer state {name}: {e:?}"),
                })?;
                let n = vals.len();
                let bytes: Vec<u8> = vals.iter().flat_map(|x| x.to_le_bytes()).collect();
                buffers.push((format!("{name}.{suffix}"), bytes, n));
            }
        }
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = buffers
            .iter()
            .map(|(name, bytes, n)| {
                let view =
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![*n], bytes)
                        .expect("shape matches the buffer");
                (name.clone(), view)
            })
            .collect();
        let mut meta = std::collections::HashMap::new();
        meta.insert("t".to_string(), self.t.to_string());
        let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| ModelError::File {
            path: file.display().to_string(),
            message: e.to_string(),
        })?;
        superpose_fsutil::write_atomic(file, &bytes).map_err(|error| ModelError::Io {
            path: file.display().to_string(),
            error,
        })
    }

    /// Read a state written by [`AdamW::save`].
    pub fn load(file: &Path, device: &Device) -> Result<Self, ModelError> {
        let bytes = std::fs::read(file).map_err(|error| ModelError::Io {
            path: file.display().to_string(),
            error,
        })?;
        let bad = |message: String| ModelError::File {
            path: file.display().to_string(),
            message,
        };
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
        let t = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("t"))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad("missing step count `t` in the metadata".into()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
        let mut halves: BTreeMap<String, (Option<Tensor<1>>, Option<Tensor<1>>)> = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(bad(format!("tensor {name} is not f32")));
            }
            let vals: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let n = vals.len();
            let tensor = Tensor::<1>::from_data(TensorData::new(vals, [n]), device);
            let (base, which) = name
                .rsplit_once('.')
                .ok_or_else(|| bad(format!("unexpected tensor name {name}")))?;
            let entry = halves.entry(base.to_string()).or_default();
            match which {
                "m" => entry.0 = Some(tensor),
                "v" => entry.1 = Some(tensor),
                _ => return Err(bad(format!("unexpected tensor name {name}"))),
            }
        }
        let mut moments = BTreeMap::new();
        for (name, (m, v)) in halves {
            match (m, v) {
                (Some(m), Some(v)) => {
                    moments.insert(name, Moments { m, v });
                }
                _ => return Err(bad(format!("incomplete moments for {name}"))),
            }
        }
        Ok(AdamW { t, moments })
    }
}

struct StepMapper<'a> {
    path: Vec<String>,
    grads: &'a mut GradientsParams,
    moments: &'a mut BTreeMap<String, Moments>,
    cfg: AdamWConfig,
    lr: f64,
    t: u64,
    grad_scale: f64,
}

impl ModuleMapper for StepMapper<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let shape = tensor.shape();
        let p = tensor.inner();
        let n = shape.num_elements();
        let g = grad.inner().reshape([n]);
        let key = self.path.join(".");
        let (m, v) = match self.moments.remove(&key) {
            Some(mo) => (mo.m, mo.v),
            None => (g.zeros_like(), g.zeros_like()),
        };
        let c = self.cfg;
        let step = AdamWStep {
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            weight_decay: c.weight_decay,
            lr: self.lr,
            t: self.t,
            grad_scale: self.grad_scale,
        };
        let (flat, m, v) = adamw_update(p.reshape([n]), g, m, v, &step);
        self.moments.insert(key, Moments { m, v });
        let mut updated: Tensor<D> = Tensor::from_inner(flat.reshape(shape));
        if require_grad {
            updated = updated.require_grad();
        }
        Param::from_mapped_value(id, updated, mapper)
    }
}

/// Global L2 norm of all gradients of `module` in `grads`.
pub fn global_grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    struct NormVisitor<'a> {
        grads: &'a GradientsParams,
        sum: f64,
    }
    impl ModuleVisitor for NormVisitor<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                let s: f32 = g.powi_scalar(2).sum().into_scalar();
                self.sum += s as f64;
            }
        }
    }
    let mut v = NormVisitor { grads, sum: 0.0 };
    module.visit(&mut v);
    v.sum.sqrt()
}

/// Scale factor for global-norm clipping: `min(1, max_norm / norm)` (0 = no clipping).
pub fn clip_scale(norm: f64, max_norm: f64) -> f64 {
    if max_norm > 0.0 && norm > max_norm {
        max_norm / (norm + 1e-6)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    fn setup() -> (Linear, Device) {
        let device = Device::flex().autodiff();
        let lin = LinearConfig::new(3, 2).init(&device);
        (lin, device)
    }

    fn grads_of(lin: &Linear, device: &Device) -> GradientsParams {
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 3.0], [1, 3]), device);
        let loss = lin.forward(x).powi_scalar(2).sum();
        GradientsParams::from_grads(loss.backward(), lin)
    }

    #[test]
    fn global_norm_matches_manual_sum() {
        let (lin, device) = setup();
        let grads = grads_of(&lin, &device);
        let gw: Vec<f32> = grads
            .get::<2>(lin.weight.id)
            .unwrap()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap();
        let gb: Vec<f32> = grads
            .get::<1>(lin.bias.as_ref().unwrap().id)
            .unwrap()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap();
        let manual: f64 = gw
            .iter()
            .chain(&gb)
            .map(|&x| (x as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        let norm = global_grad_norm(&lin, &grads);
        assert!(
            (norm - manual).abs() < 1e-4 * manual.max(1.0),
            "{norm} vs {manual}"
        );
        assert_eq!(clip_scale(norm, 0.0), 1.0);
        assert!((clip_scale(2.0, 1.0) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn adamw_first_step_is_sign_times_lr_plus_decay() {
        let (lin, device) = setup();
        let w0: Vec<f32> = lin.weight.val().to_data().try_to_vec::<f32>().unwrap();
        let mut grads = grads_of(&lin, &device);
        let g: Vec<f32> = grads
            .get::<2>(lin.weight.id)
            .unwrap()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap();
        let cfg = AdamWConfig {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-12,
            weight_decay: 0.01,
        };
        let mut opt = AdamW::new();
        let lr = 0.1;
        let lin = opt.step(&cfg, lr, lin, &mut grads, 1.0);
        let w1: Vec<f32> = lin.weight.val().to_data().try_to_vec::<f32>().unwrap();
        // After one step m̂ = g and v̂ = g², so the update is lr·sign(g).
        for i in 0..w0.len() {
            let expect = w0[i] as f64 * (1.0 - lr * 0.01) - lr * (g[i] as f64).signum();
            assert!(
                (w1[i] as f64 - expect).abs() < 1e-5,
                "{i}: {} vs {expect}",
                w1[i]
            );
        }
        assert!(lin.weight.val().is_require_grad());
        // state roundtrip through a file
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("opt.safetensors");
        opt.save(&f).unwrap();
        let back = AdamW::load(&f, &device).unwrap();
        assert_eq!(back.t, 1);
        assert_eq!(back.moments.len(), opt.moments.len());
        for (k, mo) in &opt.moments {
            let a: Vec<f32> = mo.v.to_data().try_to_vec::<f32>().unwrap();
            let b: Vec<f32> = back.moments[k].v.to_data().try_to_vec::<f32>().unwrap();
            assert_eq!(a, b);
        }
    }
}
