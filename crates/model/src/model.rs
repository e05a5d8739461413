//! The transformer: a GPT-2-family decoder over input *embeddings*, so that every context
//! position may hold a token embedding or a latent vector (Coconut, Hao et al. 2024; Soft
//! Thinking, Zhang et al. 2025; the superposition construction of Zhu et al. 2025).

use std::collections::BTreeMap;

use burn::module::{Module, Param};
use burn::tensor::activation;
use burn::tensor::module::embedding;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Activation, ModelConfig, NormKind, NormPlacement, PositionKind, ThoughtScale};
use crate::fused::{self, linear};
pub use crate::hf::NamedTensor;
use crate::hf::{norm_names, BlockNames, LM_HEAD, LN_F, WPE, WTE};
use crate::ModelError;

/// One input position: a token id (looked up in `wte`) or a latent vector (passed straight in).
#[derive(Clone, Debug, PartialEq)]
pub enum Slot {
    Token(u32),
    Latent(Vec<f32>),
}

/// A padded batch ready for [`Model::forward`].
#[derive(Clone, Debug)]
pub struct Batch {
    /// `[batch, seq, d_model]` input embeddings (no positions added).
    pub embeds: Tensor<3>,
    /// `[batch, seq]` position ids, counting from 0 at each row's first real slot.
    pub positions: Tensor<2, Int>,
    /// `[batch, seq]`, true = real slot, false = left padding.
    pub key_mask: Tensor<2, Bool>,
    /// Number of left-padding columns in each row.
    pub pad: Vec<usize>,
}

impl Batch {
    pub fn into_input(self, output_attentions: bool) -> ForwardInput {
        ForwardInput {
            embeds: self.embeds,
            positions: self.positions,
            key_mask: Some(self.key_mask),
            output_attentions,
        }
    }
}

/// Input of the core pass.
#[derive(Clone, Debug)]
pub struct ForwardInput {
    /// `[batch, seq, d_model]`.
    pub embeds: Tensor<3>,
    /// `[batch, seq]` position ids (before `position_offset` is added).
    pub positions: Tensor<2, Int>,
    /// `[batch, seq_total]` or `[batch, seq]` (new positions only, when a cache is used);
    /// true = attendable. `None` = every position is real.
    pub key_mask: Option<Tensor<2, Bool>>,
    /// Return the attention probabilities of every layer.
    pub output_attentions: bool,
}

impl ForwardInput {
    /// Unpadded input: positions `start..start+seq` in every row.
    pub fn new(embeds: Tensor<3>, start: usize) -> Self {
        let [b, s, _] = embeds.dims();
        let device = embeds.device();
        let pos: Vec<i64> = (0..b)
            .flat_map(|_| (start..start + s).map(|p| p as i64))
            .collect();
        Self {
            positions: Tensor::from_data(TensorData::new(pos, [b, s]), &device),
            embeds,
            key_mask: None,
            output_attentions: false,
        }
    }
}

/// Output of the core pass.
#[derive(Clone, Debug)]
pub struct ForwardOutput {
    /// Last layer output after the final norm: what continuous thought feeds back.
    pub hidden: Tensor<3>,
    /// `[batch, seq, vocab]`.
    pub logits: Tensor<3>,
    /// Residual stream after each block (before the final norm), for the logit lens.
    pub layer_hidden: Vec<Tensor<3>>,
    /// Per layer `[batch, head, q, k]` when `output_attentions`.
    pub attentions: Vec<Tensor<4>>,
}

/// One layer's cache slab: the packed projection rows (`[b, capacity, 3·d]`, queries, keys and
/// values as `c_attn` produced them; None before the first pass). Attention reads the cached
/// keys and values and the new queries from it in place ([`fused::self_attention`]).
type KvSlabs = Option<Tensor<3>>;

/// Cached keys and values of every layer, plus the key mask of the cached positions.
#[derive(Clone, Debug)]
pub struct KvCache {
    layers: Vec<KvSlabs>,
    /// Per layer, the unsmeared key `[batch, 1, d]` of the last cached position (smeared keys).
    last_keys: Vec<Option<Tensor<3>>>,
    key_mask: Option<Tensor<2, Bool>>,
    len: usize,
}

impl KvCache {
    pub fn new(n_layer: usize) -> Self {
        Self {
            layers: vec![None; n_layer],
            last_keys: vec![None; n_layer],
            key_mask: None,
            len: 0,
        }
    }
    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The key mask of all cached positions (`None` = all real).
    pub fn key_mask(&self) -> Option<&Tensor<2, Bool>> {
        self.key_mask.as_ref()
    }
}

/// LayerNorm gain and bias (`ln_*.weight`, `ln_*.bias`).
#[derive(Module, Debug)]
pub struct NormParams {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
}

/// Causal self-attention with Hugging Face Conv1D weights (`[d_in, d_out]`).
#[derive(Module, Debug)]
pub struct Attention {
    pub c_attn_w: Param<Tensor<2>>,
    pub c_attn_b: Option<Param<Tensor<1>>>,
    pub c_proj_w: Param<Tensor<2>>,
    pub c_proj_b: Option<Param<Tensor<1>>>,
    /// Smear logits `α` `[n_head]` (only with `smear_keys`).
    pub smear: Option<Param<Tensor<1>>>,
}

/// The MLP sub-block (Conv1D weights).
#[derive(Module, Debug)]
pub struct Mlp {
    pub c_fc_w: Param<Tensor<2>>,
    pub c_fc_b: Option<Param<Tensor<1>>>,
    pub c_proj_w: Param<Tensor<2>>,
    pub c_proj_b: Option<Param<Tensor<1>>>,
}

#[derive(Module, Debug)]
pub struct Block {
    pub ln_1: Option<NormParams>,
    pub attn: Attention,
    pub ln_2: Option<NormParams>,
    pub mlp: Option<Mlp>,
}

/// The transformer over mixed token/latent contexts.
#[derive(Module, Debug)]
pub struct Model {
    /// Token embedding `[vocab, d_model]`.
    pub wte: Param<Tensor<2>>,
    /// Learned positions `[n_positions, d_model]` (only with `PositionKind::Learned`).
    pub wpe: Option<Param<Tensor<2>>>,
    pub h: Vec<Block>,
    pub ln_f: Option<NormParams>,
    /// Untied LM head `[vocab, d_model]` (Hugging Face `lm_head.weight`).
    pub lm_head: Option<Param<Tensor<2>>>,
    #[module(skip)]
    pub(crate) config: ModelConfig,
}

/// Which logits a pass computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Logits {
    All,
    Last,
}

/// Standard normal samples (Box–Muller) from a seeded ChaCha stream, scaled by `std`.
fn normal(rng: &mut ChaCha8Rng, n: usize, std: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let u1: f32 = rng.gen::<f32>().max(1e-12);
        let u2: f32 = rng.gen::<f32>();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = 2.0 * std::f32::consts::PI * u2;
        out.push(r * t.cos() * std);
        if out.len() < n {
            out.push(r * t.sin() * std);
        }
    }
    out
}

/// Sinusoidal table `[n, d]` (Vaswani et al. 2017, §3.5).
pub fn sinusoidal_table(n: usize, d: usize, base: f32) -> Vec<f32> {
    let mut t = vec![0f32; n * d];
    for p in 0..n {
        for i in 0..d / 2 {
            let freq = (base as f64).powf(-(2.0 * i as f64) / d as f64);
            let a = p as f64 * freq;
            t[p * d + 2 * i] = a.sin() as f32;
            t[p * d + 2 * i + 1] = a.cos() as f32;
        }
    }
    t
}

impl Model {
    /// Random GPT-2 initialisation (weights N(0, 0.02), residual projections scaled by
    /// 1/sqrt(2 n_layer), biases 0, norm gains 1) from seed 0. Panics on an invalid config;
    /// use [`Model::try_new`] for an error instead.
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        Self::try_new(config, 0, device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Random GPT-2 initialisation from `seed` (deterministic, backend-independent).
    pub fn new_seeded(config: &ModelConfig, seed: u64, device: &Device) -> Self {
        Self::try_new(config, seed, device).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_new(config: &ModelConfig, seed: u64, device: &Device) -> Result<Self, ModelError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut named = BTreeMap::new();
        let d = config.d_model;
        let std = 0.02;
        let proj_std = 0.02 / (2.0 * config.n_layer.max(1) as f32).sqrt();
        let mut put = |name: String, shape: Vec<usize>, data: Vec<f32>| {
            named.insert(name, NamedTensor { shape, data });
        };
        put(
            WTE.into(),
            vec![config.vocab_size, d],
            normal(&mut rng, config.vocab_size * d, std),
        );
        if config.position == PositionKind::Learned {
            put(
                WPE.into(),
                vec![config.n_positions, d],
                normal(&mut rng, config.n_positions * d, 0.01),
            );
        }
        let norm = |put: &mut dyn FnMut(String, Vec<usize>, Vec<f32>), name: &str| {
            if config.norm_has_params() {
                let [w, b] = norm_names(name);
                put(w, vec![d], vec![1.0; d]);
                put(b, vec![d], vec![0.0; d]);
            }
        };
        for i in 0..config.n_layer {
            let n = BlockNames::new(i);
            norm(&mut put, &n.ln_1);
            put(
                n.c_attn_weight.clone(),
                vec![d, 3 * d],
                normal(&mut rng, d * 3 * d, std),
            );
            put(
                n.attn_proj_weight.clone(),
                vec![d, d],
                normal(&mut rng, d * d, proj_std),
            );
            if config.bias {
                put(n.c_attn_bias.clone(), vec![3 * d], vec![0.0; 3 * d]);
                put(n.attn_proj_bias.clone(), vec![d], vec![0.0; d]);
            }
            if config.smear_keys {
                // α = 0: each key starts as the even mix of its own and the previous position's.
                put(
                    n.attn_smear.clone(),
                    vec![config.n_head],
                    vec![0.0; config.n_head],
                );
            }
            if config.layer(i).mlp {
                let m = config.d_mlp;
                norm(&mut put, &n.ln_2);
                put(
                    n.c_fc_weight.clone(),
                    vec![d, m],
                    normal(&mut rng, d * m, std),
                );
                put(
                    n.mlp_proj_weight.clone(),
                    vec![m, d],
                    normal(&mut rng, m * d, proj_std),
                );
                if config.bias {
                    put(n.c_fc_bias.clone(), vec![m], vec![0.0; m]);
                    put(n.mlp_proj_bias.clone(), vec![d], vec![0.0; d]);
                }
            }
        }
        if config.final_norm {
            norm(&mut put, LN_F);
        }
        if !config.tie_embeddings {
            put(
                LM_HEAD.into(),
                vec![config.vocab_size, d],
                normal(&mut rng, config.vocab_size * d, std),
            );
        }
        Self::from_named(config, &named, device)
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.wte.val().device()
    }

    /// Token embedding matrix `[vocab, d_model]`.
    pub fn token_embedding(&self) -> Tensor<2> {
        self.wte.val()
    }

    /// Token ids `[batch, seq]` -> input embeddings `[batch, seq, d_model]` (no positions).
    pub fn embed_tokens(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        embedding(self.wte.val(), ids)
    }

    /// Ragged rows of slots -> left-padded embeddings, per-row position ids (0 at each row's
    /// first real slot) and key mask. Left padding puts every row's last slot in the same
    /// column, so the first latent after a shared-length suffix lines up (Coconut's collator).
    pub fn embed_slots(&self, rows: &[Vec<Slot>], device: &Device) -> Result<Batch, ModelError> {
        let c = &self.config;
        let d = c.d_model;
        let b = rows.len();
        let s = rows.iter().map(Vec::len).max().unwrap_or(0);
        if b == 0 || s == 0 {
            return Err(ModelError::Input("empty batch or all rows empty".into()));
        }
        if s > c.n_positions {
            return Err(ModelError::Input(format!(
                "a row has {s} slots but the model's context is {} positions",
                c.n_positions
            )));
        }
        let mut ids = vec![0i64; b * s];
        let mut pos = vec![0i64; b * s];
        let mut mask = vec![false; b * s];
        let mut is_latent = vec![false; b * s];
        let mut latents = Vec::new();
        let mut pad = Vec::with_capacity(b);
        for (r, row) in rows.iter().enumerate() {
            let p = s - row.len();
            pad.push(p);
            for (j, slot) in row.iter().enumerate() {
                let col = r * s + p + j;
                mask[col] = true;
                pos[col] = j as i64;
                match slot {
                    Slot::Token(t) => {
                        if *t as usize >= c.vocab_size {
                            return Err(ModelError::Input(format!(
                                "row {r} slot {j}: token id {t} >= vocab_size {}",
                                c.vocab_size
                            )));
                        }
                        ids[col] = *t as i64;
                    }
                    Slot::Latent(v) => {
                        if v.len() != d {
                            return Err(ModelError::Input(format!(
                                "row {r} slot {j}: latent has {} values, d_model is {d}",
                                v.len()
                            )));
                        }
                        if latents.is_empty() {
                            latents = vec![0f32; b * s * d];
                        }
                        latents[col * d..(col + 1) * d].copy_from_slice(v);
                        is_latent[col] = true;
                    }
                }
            }
        }
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, s]), device);
        let mut embeds = self.embed_tokens(ids);
        if !latents.is_empty() {
            let lat = Tensor::<3>::from_data(TensorData::new(latents, [b, s, d]), device);
            let m = Tensor::<3, Bool>::from_data(TensorData::new(is_latent, [b, s, 1]), device)
                .expand([b, s, d]);
            embeds = embeds.mask_where(m, lat);
        }
        Ok(Batch {
            embeds,
            positions: Tensor::from_data(TensorData::new(pos, [b, s]), device),
            key_mask: Tensor::from_data(TensorData::new(mask, [b, s]), device),
            pad,
        })
    }

    /// The configured normalisation.
    fn norm(&self, p: Option<&NormParams>, x: Tensor<3>) -> Tensor<3> {
        match self.config.norm {
            NormKind::LayerNorm { eps, .. } => match p {
                Some(p) => fused::layer_norm(x, p.weight.val(), p.bias.val(), eps),
                None => {
                    let mean = x.clone().mean_dim(2);
                    let xc = x - mean;
                    let var = (xc.clone() * xc.clone()).mean_dim(2);
                    xc / (var + eps).sqrt()
                }
            },
            // x / ‖x‖ (Zhu et al.'s normalisation), guarded against the zero vector.
            NormKind::L2 => {
                let n = (x.clone() * x.clone()).sum_dim(2).sqrt().clamp_min(1e-12);
                x / n
            }
            NormKind::Identity => x,
        }
    }

    /// Final norm (when configured), as applied before the LM head.
    pub fn final_norm(&self, x: Tensor<3>) -> Tensor<3> {
        if self.config.final_norm {
            self.norm(self.ln_f.as_ref(), x)
        } else {
            x
        }
    }

    /// `hidden [batch, seq, d] -> logits [batch, seq, vocab]` (tied: `hidden · wteᵀ`).
    pub fn lm_head(&self, hidden: Tensor<3>) -> Tensor<3> {
        let w = match &self.lm_head {
            Some(w) => w.val(),
            None => self.wte.val(),
        };
        linear(hidden, w.transpose(), None)
    }

    /// Position embeddings for position ids `[batch, seq]`, or `None` without positions.
    fn position_embeddings(&self, positions: Tensor<2, Int>) -> Option<Tensor<3>> {
        let c = &self.config;
        let pos = if c.position_offset > 0 {
            positions.add_scalar(c.position_offset as i64)
        } else {
            positions
        };
        match c.position {
            PositionKind::Learned => Some(embedding(self.wpe.as_ref()?.val(), pos)),
            PositionKind::Sinusoidal { base } => {
                let n = c.n_positions + c.position_offset;
                let table = sinusoidal_table(n, c.d_model, base);
                let t =
                    Tensor::<2>::from_data(TensorData::new(table, [n, c.d_model]), &pos.device());
                Some(embedding(t, pos))
            }
            PositionKind::None => None,
        }
    }

    /// The core pass over input embeddings (tokens or latents alike).
    pub fn forward(&self, input: ForwardInput, cache: Option<&mut KvCache>) -> ForwardOutput {
        self.forward_impl(input, cache, Logits::All)
    }

    /// The norm a fed-back thought is given: the mean norm of the token embedding rows with
    /// [`ThoughtScale::Embedding`], None (as is) with [`ThoughtScale::Hidden`].
    pub fn thought_norm(&self) -> Option<f32> {
        if self.config.thought_scale == ThoughtScale::Hidden {
            return None;
        }
        let norms = self.wte.val().detach().powi_scalar(2).sum_dim(1).sqrt();
        Some(norms.mean().into_scalar())
    }

    /// Like [`Model::forward`] but the logits cover only the last position (`[batch, 1, vocab]`):
    /// what incremental decoding needs.
    pub fn forward_last(&self, input: ForwardInput, cache: Option<&mut KvCache>) -> ForwardOutput {
        self.forward_impl(input, cache, Logits::Last)
    }

    pub(crate) fn forward_impl(
        &self,
        input: ForwardInput,
        mut cache: Option<&mut KvCache>,
        logits_mode: Logits,
    ) -> ForwardOutput {
        let c = &self.config;
        let [b, s, _] = input.embeds.dims();
        let device = input.embeds.device();
        let past = cache.as_ref().map_or(0, |c| c.len);
        let total = past + s;

        // The key mask over all `total` positions (None = all real).
        let new_mask = joined_key_mask(input.key_mask, cache.as_deref(), b, s, &device);
        // Which keys are real (`[b, total]`, None = all): padding keys are masked, except that
        // a query always sees itself so that a padding query never has an empty softmax row;
        // later positions are masked causally (query i sits at absolute position past + i).
        let valid = new_mask
            .as_ref()
            .map(|m| {
                m.to_data()
                    .convert::<bool>()
                    .try_into_vec::<bool>()
                    .expect("bool mask")
            })
            .filter(|m| m.iter().any(|v| !v));
        if let Some(cache) = cache.as_mut() {
            cache.key_mask = new_mask;
        }

        let mut h = input.embeds;
        if let Some(p) = self.position_embeddings(input.positions) {
            h = h + p;
        }
        let keys = KeyInfo {
            past,
            prev_keep: c
                .smear_keys
                .then(|| smear_keep(valid.as_deref(), b, s, past, &device))
                .flatten(),
            valid: valid.as_deref(),
        };
        let mut layer_hidden = Vec::with_capacity(c.n_layer);
        let mut attentions = Vec::new();
        for (i, block) in self.h.iter().enumerate() {
            let sw = c.layer(i);
            let layer_cache = cache
                .as_mut()
                .map(|c| (&mut c.layers[i], &mut c.last_keys[i]));
            let attn_in = match c.placement {
                NormPlacement::Pre => self.norm(block.ln_1.as_ref(), h.clone()),
                NormPlacement::Post => h.clone(),
            };
            let (a, probs) =
                self.attention(block, attn_in, layer_cache, &keys, input.output_attentions);
            if let Some(p) = probs {
                attentions.push(p);
            }
            match c.placement {
                NormPlacement::Pre => {
                    h = h + a;
                    if let Some(m) = &block.mlp {
                        let y =
                            self.mlp(m, sw.activation, self.norm(block.ln_2.as_ref(), h.clone()));
                        h = if sw.mlp_residual { h + y } else { y };
                    }
                }
                NormPlacement::Post => {
                    h = self.norm(block.ln_1.as_ref(), h + a);
                    if let Some(m) = &block.mlp {
                        let y = self.mlp(m, sw.activation, h.clone());
                        let z = if sw.mlp_residual { h + y } else { y };
                        h = self.norm(block.ln_2.as_ref(), z);
                    }
                }
            }
            layer_hidden.push(h.clone());
        }
        if let Some(cache) = cache {
            cache.len = total;
        }
        let hidden = self.final_norm(h);
        let logits = match logits_mode {
            Logits::All => self.lm_head(hidden.clone()),
            Logits::Last => self.lm_head(hidden.clone().narrow(1, s - 1, 1)),
        };
        ForwardOutput {
            hidden,
            logits,
            layer_hidden,
            attentions,
        }
    }

    fn mlp(&self, m: &Mlp, act: Activation, x: Tensor<3>) -> Tensor<3> {
        let bias = m.c_fc_b.as_ref().map(|b| b.val());
        // With exact GELU the bias is added by the fused activation, in the same pass.
        let (in_linear, in_gelu) = match act {
            Activation::Gelu => (None, bias),
            _ => (bias, None),
        };
        let y = linear(x, m.c_fc_w.val(), in_linear);
        let y = match act {
            Activation::Gelu => fused::bias_gelu(y, in_gelu),
            Activation::GeluTanh => activation::gelu_approximate(y),
            Activation::Relu => activation::relu(y),
            // 1{x >= eps}: the hard threshold of the construction (zero gradient).
            Activation::Threshold { eps } => y.greater_equal_elem(eps).float(),
            Activation::Identity => y,
        };
        linear(y, m.c_proj_w.val(), m.c_proj_b.as_ref().map(|b| b.val()))
    }

    /// Multi-head causal self-attention (keys smeared first when `smear_keys`), appending this step's keys/values to the cache.
    /// Runs `fused` kernels on the CPU backend (burn's composite ops elsewhere, and when the
    /// attention probabilities are asked for).
    fn attention(
        &self,
        block: &Block,
        x: Tensor<3>,
        cache: Option<(&mut KvSlabs, &mut Option<Tensor<3>>)>,
        keys: &KeyInfo,
        output_attentions: bool,
    ) -> (Tensor<3>, Option<Tensor<4>>) {
        let (past, valid) = (keys.past, keys.valid);
        let c = &self.config;
        let [b, s, d] = x.dims();
        let (nh, dh) = (c.n_head, c.d_head());
        let a = &block.attn;
        let mut qkv = linear(x, a.c_attn_w.val(), a.c_attn_b.as_ref().map(|b| b.val()));
        let (cache, last_key) = cache.unzip();
        if let Some(alpha) = &a.smear {
            qkv = smear_keys(qkv, alpha.val(), nh, last_key, keys.prev_keep.clone());
        }
        let scale = c.attn_scale.map_or(1.0 / (dh as f64).sqrt(), |s| s as f64);
        let total = past + s;
        // The rows attention reads: this pass's alone, or the cache's first `total` after
        // this pass's are appended (the slab has room to grow).
        let rows = match cache {
            None => qkv,
            Some(slot) => {
                let slab = fused::kv_append(slot.take(), past, qkv);
                let rows = if slab.dims()[1] == total {
                    slab.clone()
                } else {
                    slab.clone().narrow(1, 0, total)
                };
                *slot = Some(slab);
                rows
            }
        };
        let (ctx, probs) = if output_attentions {
            let heads = |t: Tensor<3>, n: usize| t.reshape([b, n, nh, dh]).swap_dims(1, 2);
            let q = heads(rows.clone().narrow(1, past, s).narrow(2, 0, d), s);
            let k = heads(rows.clone().narrow(2, d, d), total);
            let v = heads(rows.narrow(2, 2 * d, d), total);
            let mut scores = q.matmul(k.swap_dims(2, 3)) * scale;
            if let Some(m) = fused::attention_mask(valid, b, nh, s, total, past, &scores.device()) {
                scores = scores.mask_fill(m, f32::NEG_INFINITY);
            } else {
                // No cache and no padding (`attention_mask` is None only then): mask j > i.
                // burn's `tril_mask` is `true` strictly above the diagonal.
                let causal = Tensor::<2, Bool>::tril_mask([s, total], 0, &scores.device());
                scores = scores.mask_fill(
                    causal.unsqueeze::<4>().expand([b, nh, s, total]),
                    f32::NEG_INFINITY,
                );
            }
            let p = activation::softmax(scores, 3);
            let ctx = p.clone().matmul(v).swap_dims(1, 2).reshape([b, s, d]);
            (ctx, Some(p))
        } else {
            (fused::self_attention(rows, past, nh, scale, valid), None)
        };
        let y = linear(ctx, a.c_proj_w.val(), a.c_proj_b.as_ref().map(|b| b.val()));
        (y, probs)
    }
}

/// A continuous thought as it is fed back (`[rows, 1, d]`, Coconut's last hidden state or any
/// vector put in its place), scaled per [`ModelConfig::thought_scale`]: with `norm` =
/// [`Model::thought_norm`] (computed once per pass sequence, the weights being fixed there)
/// each row is rescaled to that norm (a zero row stays zero); None leaves it as is.
pub fn thought_input(x: Tensor<3>, norm: Option<f32>) -> Tensor<3> {
    match norm {
        None => x,
        Some(n) => {
            let len = x.clone().powi_scalar(2).sum_dim(2).sqrt().add_scalar(1e-6);
            x.div(len).mul_scalar(n)
        }
    }
}

/// The mask and positions one pass's attention layers share.
struct KeyInfo<'a> {
    /// Cached positions before this pass.
    past: usize,
    /// Which of the `past + s` keys are real (`[b, past + s]`), None = all.
    valid: Option<&'a [bool]>,
    /// For smeared keys, `[b, s, 1]`: 1 where the position before holds a real token, 0
    /// after padding (None = all real); computed once per pass for every layer.
    prev_keep: Option<Tensor<3>>,
}

/// With smeared keys, a padding position counts as no position: the key after it smears with 0,
/// as at the start. `[b, s, 1]` (1 = keep the previous key), None when no key is padding.
fn smear_keep(
    valid: Option<&[bool]>,
    b: usize,
    s: usize,
    past: usize,
    device: &Device,
) -> Option<Tensor<3>> {
    let valid = valid?;
    let total = past + s;
    let keep: Vec<f32> = (0..b)
        .flat_map(|r| (past..total).map(move |j| (j > 0 && valid[r * total + j - 1]) as u8 as f32))
        .collect();
    Some(Tensor::<3>::from_data(
        TensorData::new(keep, [b, s, 1]),
        device,
    ))
}

/// Smeared keys (Olsson et al. 2022, §3): the key block of `qkv` `[b, s, 3d]` becomes
/// `σ(α_h)·k_j + (1 − σ(α_h))·k_{j−1}` per head h, where `k_{−1}` is the last cached
/// position's raw key (`last_key`, updated here) or 0 at the start of the sequence; `keep`
/// ([`smear_keep`]) zeroes the previous key after a padding position.
fn smear_keys(
    qkv: Tensor<3>,
    alpha: Tensor<1>,
    n_head: usize,
    last_key: Option<&mut Option<Tensor<3>>>,
    keep: Option<Tensor<3>>,
) -> Tensor<3> {
    let [b, s, d3] = qkv.dims();
    let d = d3 / 3;
    let device = qkv.device();
    let q = qkv.clone().narrow(2, 0, d);
    let k = qkv.clone().narrow(2, d, d);
    let v = qkv.narrow(2, 2 * d, d);
    let before = last_key
        .as_ref()
        .and_then(|l| l.as_ref().cloned())
        .unwrap_or_else(|| Tensor::zeros([b, 1, d], &device));
    let mut prev = if s > 1 {
        Tensor::cat(vec![before, k.clone().narrow(1, 0, s - 1)], 1)
    } else {
        before
    };
    if let Some(keep) = keep {
        prev = prev * keep;
    }
    if let Some(slot) = last_key {
        *slot = Some(k.clone().narrow(1, s - 1, 1));
    }
    let gate = activation::sigmoid(alpha)
        .reshape([n_head, 1])
        .expand([n_head, d / n_head])
        .reshape([1, 1, d]);
    let smeared = k * gate.clone() + prev * (gate.neg() + 1.0);
    Tensor::cat(vec![q, smeared, v], 2)
}

/// The key mask over all `past + s` positions (None = all real), `past` being the cached
/// length: the new positions' mask (`[b, s]`, or already `[b, past + s]`) after the cached
/// one, where a side without a mask counts as all real.
fn joined_key_mask(
    mask: Option<Tensor<2, Bool>>,
    cache: Option<&KvCache>,
    b: usize,
    s: usize,
    device: &Device,
) -> Option<Tensor<2, Bool>> {
    let past = cache.map_or(0, |c| c.len);
    let prev = cache.and_then(|c| c.key_mask.clone());
    let all_real =
        |n: usize| Tensor::<2, Bool>::from_data(TensorData::new(vec![true; b * n], [b, n]), device);
    match mask {
        Some(m) if m.dims()[1] == past + s => Some(m),
        Some(m) => {
            assert_eq!(
                m.dims()[1],
                s,
                "key_mask must cover seq or cached+seq positions"
            );
            match (past, prev) {
                (0, _) => Some(m),
                (_, Some(p)) => Some(Tensor::cat(vec![p, m], 1)),
                (_, None) => Some(Tensor::cat(vec![all_real(past), m], 1)),
            }
        }
        None => prev.map(|p| Tensor::cat(vec![p, all_real(s)], 1)),
    }
}
