//! Running the construction in the `superpose_model` runtime: the config switches, loading
//! the named weights with `Model::from_named`, and the KV-cached continuous-thought loop.

use std::collections::BTreeMap;

use superpose_model::hf::BlockNames;
use superpose_model::{
    Activation, ForwardInput, Int, KvCache, LayerSwitches, Model, ModelConfig, ModelSize,
    NamedTensor, NormKind, NormPlacement, PositionKind, Tensor, TensorData,
};

use crate::run::Engine;
use crate::weights::Weights;
use crate::ConstructError;

/// The runtime configuration of the construction (Zhu et al. §4.1 conventions):
/// Post placement with x/‖x‖ (no learned norm parameters), layer 1 attention only,
/// layer 2 threshold MLP `1{x ≥ ε}` without residual, no final norm (layer 2 already ends
/// with one), scores q·k unscaled (ξ lives in W_Q), biases (for the chooser gates), tied
/// readout Uᵀ. Positions: a learned-kind table that `weights` fills with the unit sinusoid
/// p̄_i in the position block only (the runtime's `Sinusoidal` kind spans all of d_model).
pub fn model_config(w: &Weights) -> ModelConfig {
    let l = &w.layout;
    let c = &w.constants;
    let mut cfg = ModelConfig::gpt2(ModelSize {
        vocab_size: l.vocab_size(),
        n_positions: c.n_positions,
        d_model: l.d_model,
        n_layer: 2,
        n_head: l.n_head,
    });
    cfg.d_mlp = c.d_mlp;
    cfg.position = PositionKind::Learned;
    cfg.position_offset = 0;
    cfg.norm = NormKind::L2;
    cfg.placement = NormPlacement::Post;
    cfg.layers = vec![
        LayerSwitches {
            activation: Activation::Identity,
            mlp: false,
            mlp_residual: false,
        },
        LayerSwitches {
            activation: Activation::Threshold { eps: c.eps as f32 },
            mlp: true,
            mlp_residual: false,
        },
    ];
    cfg.default_layer = cfg.layers[1].clone();
    cfg.final_norm = false;
    cfg.attn_scale = Some(1.0);
    cfg.tie_embeddings = true;
    cfg.bias = true;
    cfg
}

/// The named tensors the runtime loads (layer 1 has no MLP tensors: its MLP is off).
pub fn named_tensors(w: &Weights) -> BTreeMap<String, NamedTensor> {
    let layer1 = BlockNames::new(0);
    w.tensors
        .iter()
        .filter(|(k, _)| !layer1.mlp().contains(&k.as_str()))
        .map(|(k, t)| (k.clone(), t.clone()))
        .collect()
}

/// Loads the construction into the runtime.
pub fn load_model(w: &Weights) -> Result<Model, ConstructError> {
    let cfg = model_config(w);
    Model::from_named(&cfg, &named_tensors(w), &superpose_model::cpu_device())
        .map_err(|e| ConstructError::Runtime(e.to_string()))
}

/// One task's pass through the runtime: prompt prefill, then one position per call, all
/// through the runtime's KV cache.
pub(crate) struct Runtime<'a> {
    model: &'a Model,
    cache: KvCache,
    /// 1-based position of the next input (row of `wpe`).
    next_pos: usize,
    d: usize,
}

impl<'a> Runtime<'a> {
    pub(crate) fn new(model: &'a Model, w: &Weights) -> Self {
        Runtime {
            model,
            cache: KvCache::new(2),
            next_pos: 1,
            d: w.layout.d_model,
        }
    }

    /// Runs `len` new positions (embeddings without positions) through the runtime with the
    /// cache; returns the final hidden state and the logits at the last of them.
    fn run(
        &mut self,
        embeds: Tensor<3>,
        len: usize,
    ) -> Result<(Vec<f32>, Vec<f32>), ConstructError> {
        let device = superpose_model::cpu_device();
        let pos: Vec<i64> = (self.next_pos..self.next_pos + len)
            .map(|p| p as i64)
            .collect();
        let input = ForwardInput {
            embeds,
            positions: Tensor::<2, Int>::from_data(TensorData::new(pos, [1, len]), &device),
            key_mask: None,
            output_attentions: false,
        };
        let out = self.model.forward_last(input, Some(&mut self.cache));
        self.next_pos += len;
        let to_vec = |t: Tensor<3>| {
            t.into_data()
                .try_into_vec_as::<f32>()
                .map_err(|e| ConstructError::Runtime(format!("reading a tensor: {e:?}")))
        };
        let hidden = to_vec(out.hidden.narrow(1, len - 1, 1))?;
        let logits = to_vec(out.logits)?;
        Ok((hidden, logits))
    }

    /// Token ids → input embeddings through the runtime's own `wte` lookup.
    fn tokens(&self, ids: &[u32]) -> Tensor<3> {
        let device = superpose_model::cpu_device();
        let v: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
        self.model.embed_tokens(Tensor::<2, Int>::from_data(
            TensorData::new(v, [1, ids.len()]),
            &device,
        ))
    }
}

impl Engine for Runtime<'_> {
    fn prefill(&mut self, ids: &[u32]) -> Result<Vec<f32>, ConstructError> {
        let e = self.tokens(ids);
        Ok(self.run(e, ids.len())?.0)
    }
    fn latent(&mut self, thought: &[f32]) -> Result<Vec<f32>, ConstructError> {
        // A continuous thought enters the context as a raw input vector (Slot::Latent).
        let device = superpose_model::cpu_device();
        let e = Tensor::<3>::from_data(TensorData::new(thought.to_vec(), [1, 1, self.d]), &device);
        Ok(self.run(e, 1)?.0)
    }
    fn token_logits(&mut self, id: u32) -> Result<Vec<f32>, ConstructError> {
        let e = self.tokens(&[id]);
        Ok(self.run(e, 1)?.1)
    }
}
