//! The Hugging Face GPT-2 weight layout: the tensor names (the one place they are spelled;
//! no `transformer.` prefix), [`NamedTensor`], and the exchange between a [`Model`] and its
//! named tensors (checkpoints, the hand-built construction).

use std::collections::BTreeMap;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

use crate::config::{ModelConfig, PositionKind};
use crate::model::{Attention, Block, Mlp, Model, NormParams};
use crate::ModelError;

/// Token embedding `[vocab, d_model]`.
pub const WTE: &str = "wte.weight";
/// Learned positions `[n_positions, d_model]`.
pub const WPE: &str = "wpe.weight";
/// Untied LM head `[vocab, d_model]`.
pub const LM_HEAD: &str = "lm_head.weight";
/// The final norm (its tensors: [`norm_names`]).
pub const LN_F: &str = "ln_f";

/// The weight and bias of the norm called `norm` (`ln_f`, `h.{i}.ln_1`, …).
pub fn norm_names(norm: &str) -> [String; 2] {
    [format!("{norm}.weight"), format!("{norm}.bias")]
}

/// The tensor names of block `i` (`h.{i}.…`); the norms are prefixes for [`norm_names`].
/// Attention and MLP weights are Conv1D, `[d_in, d_out]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockNames {
    pub ln_1: String,
    /// `[d, 3d]`: queries, keys and values side by side.
    pub c_attn_weight: String,
    pub c_attn_bias: String,
    pub attn_proj_weight: String,
    pub attn_proj_bias: String,
    /// `[n_head]` smear logits (only with `smear_keys`; not a GPT-2 tensor).
    pub attn_smear: String,
    pub ln_2: String,
    pub c_fc_weight: String,
    pub c_fc_bias: String,
    pub mlp_proj_weight: String,
    pub mlp_proj_bias: String,
}

impl BlockNames {
    pub fn new(i: usize) -> Self {
        let p = format!("h.{i}");
        Self {
            ln_1: format!("{p}.ln_1"),
            c_attn_weight: format!("{p}.attn.c_attn.weight"),
            c_attn_bias: format!("{p}.attn.c_attn.bias"),
            attn_proj_weight: format!("{p}.attn.c_proj.weight"),
            attn_proj_bias: format!("{p}.attn.c_proj.bias"),
            attn_smear: format!("{p}.attn.smear"),
            ln_2: format!("{p}.ln_2"),
            c_fc_weight: format!("{p}.mlp.c_fc.weight"),
            c_fc_bias: format!("{p}.mlp.c_fc.bias"),
            mlp_proj_weight: format!("{p}.mlp.c_proj.weight"),
            mlp_proj_bias: format!("{p}.mlp.c_proj.bias"),
        }
    }

    /// The MLP's four tensors (absent when the layer's MLP is off).
    pub fn mlp(&self) -> [&str; 4] {
        [
            &self.c_fc_weight,
            &self.c_fc_bias,
            &self.mlp_proj_weight,
            &self.mlp_proj_bias,
        ]
    }
}

/// A plain named tensor (row-major f32), used for Hugging Face-compatible weight exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl NamedTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self { shape, data }
    }

    /// All zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self {
            shape: shape.to_vec(),
            data: vec![0.0; shape.iter().product()],
        }
    }
}

fn param2(data: Vec<f32>, shape: [usize; 2], device: &Device) -> Param<Tensor<2>> {
    Param::from_data(TensorData::new(data, shape), device)
}
fn param1(data: Vec<f32>, len: usize, device: &Device) -> Param<Tensor<1>> {
    Param::from_data(TensorData::new(data, [len]), device)
}

impl Model {
    /// The names and shapes every checkpoint of `config` must hold (Hugging Face GPT-2 layout,
    /// no `transformer.` prefix).
    pub fn expected_shapes(config: &ModelConfig) -> BTreeMap<String, Vec<usize>> {
        let d = config.d_model;
        let m = config.d_mlp;
        let mut out = BTreeMap::new();
        out.insert(WTE.to_string(), vec![config.vocab_size, d]);
        if config.position == PositionKind::Learned {
            out.insert(WPE.into(), vec![config.n_positions, d]);
        }
        let norm = |out: &mut BTreeMap<String, Vec<usize>>, name: String| {
            if config.norm_has_params() {
                let [w, b] = norm_names(&name);
                out.insert(w, vec![d]);
                out.insert(b, vec![d]);
            }
        };
        for i in 0..config.n_layer {
            let n = BlockNames::new(i);
            norm(&mut out, n.ln_1.clone());
            out.insert(n.c_attn_weight.clone(), vec![d, 3 * d]);
            out.insert(n.attn_proj_weight.clone(), vec![d, d]);
            if config.bias {
                out.insert(n.c_attn_bias.clone(), vec![3 * d]);
                out.insert(n.attn_proj_bias.clone(), vec![d]);
            }
            if config.smear_keys {
                out.insert(n.attn_smear.clone(), vec![config.n_head]);
            }
            if config.layer(i).mlp {
                norm(&mut out, n.ln_2.clone());
                out.insert(n.c_fc_weight.clone(), vec![d, m]);
                out.insert(n.mlp_proj_weight.clone(), vec![m, d]);
                if config.bias {
                    out.insert(n.c_fc_bias.clone(), vec![m]);
                    out.insert(n.mlp_proj_bias.clone(), vec![d]);
                }
            }
        }
        if config.final_norm {
            norm(&mut out, LN_F.into());
        }
        if !config.tie_embeddings {
            out.insert(LM_HEAD.into(), vec![config.vocab_size, d]);
        }
        out
    }

    /// Builds a model from Hugging Face GPT-2 named tensors. A `transformer.` prefix is
    /// accepted; the causal-mask buffers `h.*.attn.bias` / `masked_bias` of old checkpoints are
    /// ignored when `bias` is off or their shape is not a bias vector. Missing, unexpected or
    /// mis-shaped tensors are errors naming the tensor.
    pub fn from_named(
        config: &ModelConfig,
        tensors: &BTreeMap<String, NamedTensor>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        // Every layer has at least two tensors (c_attn and attn.c_proj): checked before the
        // expected shapes are listed, so an absurd n_layer is an error, not an allocation.
        if config.n_layer > tensors.len() / 2 {
            return Err(ModelError::Mismatch(format!(
                "config has n_layer {} but the weights hold only {} tensors",
                config.n_layer,
                tensors.len()
            )));
        }
        let expected = Self::expected_shapes(config);
        let mut found: BTreeMap<String, &NamedTensor> = BTreeMap::new();
        for (name, t) in tensors {
            let key = name
                .strip_prefix("transformer.")
                .unwrap_or(name)
                .to_string();
            if !expected.contains_key(&key) {
                let hf_buffer = key.ends_with(".attn.bias") || key.ends_with(".attn.masked_bias");
                if hf_buffer {
                    continue;
                }
                // A tied checkpoint may still carry a copy of the head (HF save of a tied model).
                if key == LM_HEAD && config.tie_embeddings {
                    continue;
                }
                return Err(ModelError::Mismatch(format!(
                    "unexpected tensor `{name}` for this config (n_layer {}, bias {}, tie_embeddings {})",
                    config.n_layer, config.bias, config.tie_embeddings
                )));
            }
            let numel: usize = t.shape.iter().product();
            if numel != t.data.len() {
                return Err(ModelError::Mismatch(format!(
                    "tensor `{name}` has shape {:?} ({numel} values) but holds {} values",
                    t.shape,
                    t.data.len()
                )));
            }
            if t.shape != expected[&key] {
                return Err(ModelError::Mismatch(format!(
                    "tensor `{name}` has shape {:?}, expected {:?}",
                    t.shape, expected[&key]
                )));
            }
            if let Some(bad) = t.data.iter().position(|v| !v.is_finite()) {
                return Err(ModelError::Mismatch(format!(
                    "tensor `{name}` holds a non-finite value at flat index {bad}"
                )));
            }
            found.insert(key, t);
        }
        if let Some(missing) = expected.keys().find(|k| !found.contains_key(*k)) {
            return Err(ModelError::Mismatch(format!("missing tensor `{missing}`")));
        }
        let get2 = |k: &str| {
            let t = found[k];
            param2(t.data.clone(), [t.shape[0], t.shape[1]], device)
        };
        let get1 = |k: &str| {
            let t = found[k];
            param1(t.data.clone(), t.shape[0], device)
        };
        let opt1 = |k: String| found.contains_key(&k).then(|| get1(&k));
        let norm = |name: &str| {
            config.norm_has_params().then(|| NormParams {
                weight: get1(&norm_names(name)[0]),
                bias: get1(&norm_names(name)[1]),
            })
        };
        let mut h = Vec::with_capacity(config.n_layer);
        for i in 0..config.n_layer {
            let n = BlockNames::new(i);
            let mlp = config.layer(i).mlp.then(|| Mlp {
                c_fc_w: get2(&n.c_fc_weight),
                c_fc_b: opt1(n.c_fc_bias.clone()),
                c_proj_w: get2(&n.mlp_proj_weight),
                c_proj_b: opt1(n.mlp_proj_bias.clone()),
            });
            h.push(Block {
                ln_1: norm(&n.ln_1),
                attn: Attention {
                    c_attn_w: get2(&n.c_attn_weight),
                    c_attn_b: opt1(n.c_attn_bias.clone()),
                    c_proj_w: get2(&n.attn_proj_weight),
                    c_proj_b: opt1(n.attn_proj_bias.clone()),
                    smear: opt1(n.attn_smear.clone()),
                },
                ln_2: if config.layer(i).mlp {
                    norm(&n.ln_2)
                } else {
                    None
                },
                mlp,
            });
        }
        Ok(Self {
            wte: get2(WTE),
            wpe: found.contains_key(WPE).then(|| get2(WPE)),
            h,
            ln_f: if config.final_norm { norm(LN_F) } else { None },
            lm_head: found.contains_key(LM_HEAD).then(|| get2(LM_HEAD)),
            config: config.clone(),
        })
    }

    /// All weights as Hugging Face GPT-2 named tensors (Conv1D orientation `[d_in, d_out]`).
    pub fn to_named(&self) -> BTreeMap<String, NamedTensor> {
        let mut out = BTreeMap::new();
        fn put<const D: usize>(
            out: &mut BTreeMap<String, NamedTensor>,
            name: String,
            p: &Param<Tensor<D>>,
        ) {
            let t = p.val();
            let shape = t.dims().to_vec();
            let data = t
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32 tensor");
            out.insert(name, NamedTensor { shape, data });
        }
        fn put_opt<const D: usize>(
            out: &mut BTreeMap<String, NamedTensor>,
            name: String,
            p: &Option<Param<Tensor<D>>>,
        ) {
            if let Some(p) = p {
                put(out, name, p);
            }
        }
        let norm = |out: &mut BTreeMap<String, NamedTensor>, name: &str, n: &Option<NormParams>| {
            if let Some(n) = n {
                let [w, b] = norm_names(name);
                put(out, w, &n.weight);
                put(out, b, &n.bias);
            }
        };
        put(&mut out, WTE.into(), &self.wte);
        put_opt(&mut out, WPE.into(), &self.wpe);
        for (i, b) in self.h.iter().enumerate() {
            let n = BlockNames::new(i);
            norm(&mut out, &n.ln_1, &b.ln_1);
            put(&mut out, n.c_attn_weight.clone(), &b.attn.c_attn_w);
            put_opt(&mut out, n.c_attn_bias.clone(), &b.attn.c_attn_b);
            put(&mut out, n.attn_proj_weight.clone(), &b.attn.c_proj_w);
            put_opt(&mut out, n.attn_proj_bias.clone(), &b.attn.c_proj_b);
            put_opt(&mut out, n.attn_smear.clone(), &b.attn.smear);
            norm(&mut out, &n.ln_2, &b.ln_2);
            if let Some(m) = &b.mlp {
                put(&mut out, n.c_fc_weight.clone(), &m.c_fc_w);
                put_opt(&mut out, n.c_fc_bias.clone(), &m.c_fc_b);
                put(&mut out, n.mlp_proj_weight.clone(), &m.c_proj_w);
                put_opt(&mut out, n.mlp_proj_bias.clone(), &m.c_proj_b);
            }
        }
        norm(&mut out, LN_F, &self.ln_f);
        put_opt(&mut out, LM_HEAD.into(), &self.lm_head);
        out
    }
}
