//! Model configuration: a GPT-2-family decoder plus the switches the hand-built
//! superposition construction (Zhu et al. 2025, Theorem 1) needs.

use serde::{Deserialize, Serialize};
use serde_inline_default::serde_inline_default;

use crate::ModelError;

/// How position information enters the residual stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PositionKind {
    /// A learned table `wpe` of `n_positions` rows (GPT-2).
    Learned,
    /// Fixed sinusoids (Vaswani et al. 2017): `PE[p, 2i] = sin(p / base^(2i/d))`,
    /// `PE[p, 2i+1] = cos(p / base^(2i/d))`. Zhu et al. use base 10 000.
    Sinusoidal { base: f32 },
    /// No position signal at all (the construction may encode positions itself).
    None,
}

/// The normalisation used in every block (and after the last one when `final_norm`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NormKind {
    /// `(x - mean) / sqrt(var + eps)`, times `weight` plus `bias` when `affine`.
    LayerNorm { affine: bool, eps: f64 },
    /// Plain `x / ‖x‖₂` (the construction's normalisation).
    L2,
    /// No normalisation.
    Identity,
}

/// Where the norm sits relative to each residual sub-block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormPlacement {
    /// GPT-2: `h = h + attn(norm(h)); h = h + mlp(norm(h))`.
    Pre,
    /// `h = norm(h + attn(h)); h = norm(h + mlp(h))` (or `norm(mlp(h))` without MLP residual).
    Post,
}

/// How a continuous thought (the last hidden state, after the final norm) is scaled before it
/// is fed back as the next input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThoughtScale {
    /// As is (Coconut): a LayerNorm output, norm ≈ √d, far above a token embedding's.
    #[default]
    Hidden,
    /// Rescaled to the mean norm of the token embedding rows, so that a thought enters the
    /// residual stream at the scale of a token (of the superposition `Σ e_v / ‖Σ e_v‖` of Zhu
    /// et al. 2025) and a block's update is not swamped by it.
    Embedding,
}

/// The MLP non-linearity.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activation {
    /// Exact GELU, `x Φ(x)` (PyTorch `nn.GELU()`).
    Gelu,
    /// Tanh-approximated GELU (`gelu_new` in Hugging Face GPT-2).
    GeluTanh,
    Relu,
    /// Hard threshold `1{x >= eps}` (inference only: its gradient is zero).
    Threshold {
        eps: f32,
    },
    Identity,
}

/// Per-layer switches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerSwitches {
    pub activation: Activation,
    /// `false` = skip the MLP sub-block entirely (no weights, no residual add).
    pub mlp: bool,
    /// `false` = no residual connection around the MLP (Zhu et al.).
    pub mlp_residual: bool,
}

impl Default for LayerSwitches {
    fn default() -> Self {
        Self {
            activation: Activation::Gelu,
            mlp: true,
            mlp_residual: true,
        }
    }
}

/// The size of a GPT-2-style model ([`ModelConfig::gpt2`]): named fields, so that no two
/// integers can swap places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSize {
    pub vocab_size: usize,
    /// Maximum context length (rows of the position table).
    pub n_positions: usize,
    pub d_model: usize,
    pub n_layer: usize,
    pub n_head: usize,
}

/// Everything that fixes the shape and wiring of a [`crate::Model`].
#[serde_inline_default]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub vocab_size: usize,
    /// Maximum context length (rows of the position table).
    pub n_positions: usize,
    pub d_model: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// Hidden width of the MLP (usually `4 * d_model`).
    pub d_mlp: usize,
    pub position: PositionKind,
    /// Index of the first position (0 = GPT-2; Zhu et al. count from 1).
    #[serde(default)]
    pub position_offset: usize,
    pub norm: NormKind,
    pub placement: NormPlacement,
    /// Empty = every layer uses `default_layer`; otherwise exactly `n_layer` entries.
    #[serde(default)]
    pub layers: Vec<LayerSwitches>,
    #[serde(default)]
    pub default_layer: LayerSwitches,
    /// Apply `norm` after the last block (GPT-2: true).
    #[serde_inline_default(true)]
    pub final_norm: bool,
    /// `None` = scores scaled by `1/sqrt(d_head)`; `Some(s)` = scores multiplied by `s`.
    #[serde(default)]
    pub attn_scale: Option<f32>,
    /// LM head = token embedding transposed (GPT-2).
    #[serde_inline_default(true)]
    pub tie_embeddings: bool,
    /// Biases in the attention and MLP linears (GPT-2: true).
    #[serde_inline_default(true)]
    pub bias: bool,
    /// Smeared keys (Olsson et al. 2022, "In-context learning and induction heads", §3):
    /// head h's key at position j is `σ(α_h)·k_j + (1 − σ(α_h))·k_{j−1}` with a learned
    /// `α_h` per head (`h.{i}.attn.smear`; `k_{−1}` = 0), so a query can match a token
    /// through the token before it in one layer. Off = GPT-2.
    #[serde(default)]
    pub smear_keys: bool,
    /// How a fed-back continuous thought is scaled.
    #[serde(default)]
    pub thought_scale: ThoughtScale,
}

impl ModelConfig {
    /// A GPT-2-style config of the given size: learned positions, pre-LayerNorm (eps 1e-5),
    /// exact GELU, MLP 4x, tied head, biases.
    pub fn gpt2(size: ModelSize) -> Self {
        let ModelSize {
            vocab_size,
            n_positions,
            d_model,
            n_layer,
            n_head,
        } = size;
        Self {
            vocab_size,
            n_positions,
            d_model,
            n_layer,
            n_head,
            d_mlp: 4 * d_model,
            position: PositionKind::Learned,
            position_offset: 0,
            norm: NormKind::LayerNorm {
                affine: true,
                eps: 1e-5,
            },
            placement: NormPlacement::Pre,
            layers: Vec::new(),
            default_layer: LayerSwitches::default(),
            final_norm: true,
            attn_scale: None,
            tie_embeddings: true,
            bias: true,
            smear_keys: false,
            thought_scale: ThoughtScale::Hidden,
        }
    }

    /// The reference benchmark model of issue 4: 4 layers, d 256, 4 heads, MLP 4x, vocab 1000,
    /// context 256.
    pub fn reference() -> Self {
        Self::gpt2(ModelSize {
            vocab_size: 1000,
            n_positions: 256,
            d_model: 256,
            n_layer: 4,
            n_head: 4,
        })
    }

    pub fn d_head(&self) -> usize {
        self.d_model / self.n_head.max(1)
    }

    /// The switches of layer `i`.
    pub fn layer(&self, i: usize) -> &LayerSwitches {
        self.layers.get(i).unwrap_or(&self.default_layer)
    }

    /// Whether the norms carry `weight`/`bias` tensors.
    pub fn norm_has_params(&self) -> bool {
        matches!(self.norm, NormKind::LayerNorm { affine: true, .. })
    }

    /// Checks the config for inconsistencies, naming the offending field.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |msg: String| Err(ModelError::Config(msg));
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("n_positions", self.n_positions),
            ("d_model", self.d_model),
            ("n_head", self.n_head),
        ] {
            if v == 0 {
                return bad(format!("{name} must be positive"));
            }
        }
        if !self.d_model.is_multiple_of(self.n_head) {
            return bad(format!(
                "d_model ({}) must be divisible by n_head ({})",
                self.d_model, self.n_head
            ));
        }
        if !self.layers.is_empty() && self.layers.len() != self.n_layer {
            return bad(format!(
                "layers has {} entries but n_layer is {} (use an empty list for all-default)",
                self.layers.len(),
                self.n_layer
            ));
        }
        let any_mlp = (0..self.n_layer).any(|i| self.layer(i).mlp);
        if any_mlp && self.d_mlp == 0 {
            return bad("d_mlp must be positive when a layer has an MLP".into());
        }
        if let PositionKind::Sinusoidal { base } = self.position {
            if !(base > 0.0 && base.is_finite()) {
                return bad(format!("sinusoidal base must be positive, got {base}"));
            }
            if !self.d_model.is_multiple_of(2) {
                return bad("sinusoidal positions need an even d_model".into());
            }
        }
        if let NormKind::LayerNorm { eps, .. } = self.norm {
            if !(eps >= 0.0 && eps.is_finite()) {
                return bad(format!("layer-norm eps must be >= 0, got {eps}"));
            }
        }
        if let Some(s) = self.attn_scale {
            if !s.is_finite() {
                return bad(format!("attn_scale must be finite, got {s}"));
            }
        }
        Ok(())
    }
}
