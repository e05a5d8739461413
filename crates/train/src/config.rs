//! Training configuration (TOML). Unknown keys are errors; every error names the file and, for
//! syntax and type errors, the line and column.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_inline_default::serde_inline_default;
use superpose_model::ThoughtScale;

use crate::curriculum::{LossSpan, Mode, PromptLayout};
pub use crate::data::DataFamily;
use crate::data::GraphSpec;
use crate::TrainError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub run: RunConfig,
    pub data: DataConfig,
    pub model: ModelShape,
    #[serde(default)]
    pub curriculum: CurriculumConfig,
    pub optim: OptimConfig,
}

#[serde_inline_default]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Run name (metrics and reports).
    pub name: String,
    /// nocot | cot | coconut | coconut-bfs | pause
    pub mode: Mode,
    /// Seed for model init, data generation order and shuffling.
    #[serde(default)]
    pub seed: u64,
    /// Output directory (overridden by `--out`); relative to the working directory.
    #[serde_inline_default(PathBuf::from("runs/train"))]
    pub out: PathBuf,
    /// Save a checkpoint every this many optimizer steps (and at every epoch end).
    #[serde_inline_default(200)]
    pub checkpoint_every: usize,
    /// Evaluate on the validation set every this many epochs (0 = only at the end).
    #[serde_inline_default(1)]
    pub eval_every_epochs: usize,
    /// Stop when the loss exceeds this multiple of max(running mean, 0.5) (after 50 steps in a
    /// stage), or when the loss or the gradient norm is not finite.
    #[serde_inline_default(10.0)]
    pub divergence_factor: f32,
    /// Stop after this many optimizer steps in this process (testing resume); 0 = no limit.
    #[serde(default)]
    pub max_steps: usize,
}

#[serde_inline_default]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// prosqa | twin
    #[serde(default)]
    pub family: DataFamily,
    /// Number of generated training graphs.
    pub train_graphs: usize,
    /// Number of generated validation graphs (distinct seed).
    pub val_graphs: usize,
    #[serde_inline_default(1)]
    pub train_seed: u64,
    #[serde_inline_default(2)]
    pub val_seed: u64,
    /// Keep graphs whose shortest root→target path has at least / at most this many hops.
    pub min_hops: usize,
    pub max_hops: usize,
    /// Node-token range (node ids must be below this; 31 in Zhu et al.).
    #[serde_inline_default(31)]
    pub node_tokens: u32,
    /// Node count of a generated graph is uniform in `min_nodes..=max_nodes`
    /// (ProsQA: 23 nodes on average; the graph crate's default range is 18–28). The twin family
    /// uses only `max_nodes`, as its bound on both sides together.
    #[serde_inline_default(18)]
    pub min_nodes: u32,
    #[serde_inline_default(28)]
    pub max_nodes: u32,
    /// ProsQA-format JSON files evaluated at the end of training (paths relative to the
    /// working directory).
    #[serde(default)]
    pub eval_files: Vec<PathBuf>,
}

#[serde_inline_default]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelShape {
    pub n_layer: usize,
    pub n_head: usize,
    pub d_model: usize,
    /// MLP width (default 4·d_model).
    #[serde(default)]
    pub d_mlp: Option<usize>,
    /// Context length (positions).
    #[serde_inline_default(256)]
    pub n_positions: usize,
    /// Smeared keys (Olsson et al. 2022): one learned mix per head of each key with the
    /// previous position's, so an edge's target can be found through its source in one layer.
    #[serde(default)]
    pub smear_keys: bool,
    /// `hidden` (Coconut: the last hidden state as is) or `embedding` (rescaled to the mean
    /// norm of the token embeddings, the scale of a token and of Zhu et al.'s superposition).
    #[serde(default)]
    pub thought_scale: ThoughtScale,
}

/// The `[curriculum]` table (Hao et al. 2024, §3; every field optional, defaults in
/// `Default`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CurriculumConfig {
    /// Largest latent stage (Coconut's `max_latent_stage`).
    pub max_stage: usize,
    /// Thoughts per replaced reasoning step (Coconut's `c`).
    pub thoughts_per_step: usize,
    /// Epochs per stage; stage `min(first_stage + epoch / epochs_per_stage, max_stage)`.
    pub epochs_per_stage: usize,
    /// Probability of training a sample at a uniformly drawn earlier stage.
    pub p_mix: f64,
    /// Reset the AdamW moments at every stage switch (Coconut, following iCoT).
    pub reset_optimizer: bool,
    /// rest (Coconut) | next (only the next gold node) | zhu (Zhu et al. §5.1: one node at
    /// exact distance stage+1 on a shortest path, no answer loss before the final stage)
    pub loss_span: LossSpan,
    /// Stage of the first epoch (0 = Coconut's schedule; max_stage = all thoughts from step 1).
    pub first_stage: usize,
    /// Weight of the auxiliary frontier loss before the final stage (0 = off): at thought i
    /// the cross-entropy between the LM head's distribution and the uniform distribution over
    /// the nodes within i hops of the root.
    pub frontier_weight: f64,
    /// Weight of the frontier loss at the final stage (default: `frontier_weight`).
    pub frontier_weight_final: Option<f64>,
    /// Teacher forcing of the thoughts (CoT2-style): the probability, at the first step, that a
    /// training example's thought slots receive the exact superposition of the nodes within
    /// i hops instead of the fed-back hidden state; it falls linearly to 0 at
    /// `teacher_forcing_steps` (scheduled sampling). 0 = off.
    pub teacher_forcing: f64,
    /// Optimizer steps over which the teacher-forcing probability falls to 0.
    pub teacher_forcing_steps: usize,
    /// Readout bottleneck (a control): the positions after the thoughts cannot attend to the
    /// edge list, so the answer can only come from the thoughts. Continuous modes only.
    pub readout_bottleneck: bool,
    /// Where the thoughts start: `bot` (`… [R] root <bot>`, Coconut) or `root` (`… [R] root`,
    /// the first thought is the root's own hidden state, as in Zhu et al.'s code).
    pub layout: PromptLayout,
}

impl CurriculumConfig {
    /// Stage trained in `epoch` (0-based) by a curriculum method.
    pub fn stage(&self, epoch: usize) -> usize {
        (self.first_stage + epoch / self.epochs_per_stage.max(1)).min(self.max_stage)
    }

    /// Number of thoughts used at evaluation: the final stage (Hao et al. §4.2).
    pub fn eval_thoughts(&self) -> usize {
        self.max_stage * self.thoughts_per_step
    }

    /// Teacher-forcing probability at optimizer step `step` (0-based).
    pub fn teacher_forcing_at(&self, step: usize) -> f64 {
        if self.teacher_forcing_steps == 0 {
            return 0.0;
        }
        let left = 1.0 - step as f64 / self.teacher_forcing_steps as f64;
        self.teacher_forcing * left.max(0.0)
    }

    /// Frontier-loss weight at `stage`.
    pub fn frontier_weight_at(&self, stage: usize) -> f64 {
        if stage >= self.max_stage {
            self.frontier_weight_final.unwrap_or(self.frontier_weight)
        } else {
            self.frontier_weight
        }
    }
}

impl Default for CurriculumConfig {
    fn default() -> Self {
        CurriculumConfig {
            max_stage: 4,
            thoughts_per_step: 1,
            epochs_per_stage: 1,
            p_mix: 0.0,
            reset_optimizer: false,
            loss_span: LossSpan::Rest,
            first_stage: 0,
            frontier_weight: 0.0,
            frontier_weight_final: None,
            teacher_forcing: 0.0,
            teacher_forcing_steps: 0,
            readout_bottleneck: false,
            layout: PromptLayout::Bot,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    Constant,
    Cosine,
}

#[serde_inline_default]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    pub epochs: usize,
    /// Sequences per optimizer step (split into `grad_accum` micro-batches).
    pub batch_size: usize,
    #[serde_inline_default(1)]
    pub grad_accum: usize,
    pub lr: f64,
    #[serde_inline_default(LrSchedule::Constant)]
    pub schedule: LrSchedule,
    #[serde(default)]
    pub warmup_steps: usize,
    /// Cosine floor as a fraction of `lr`.
    #[serde(default)]
    pub min_lr_ratio: f64,
    #[serde_inline_default(0.9)]
    pub beta1: f64,
    #[serde_inline_default(0.95)]
    pub beta2: f64,
    #[serde_inline_default(1e-8)]
    pub eps: f64,
    #[serde_inline_default(0.01)]
    pub weight_decay: f64,
    /// Global-norm gradient clipping threshold (0 = off).
    #[serde_inline_default(1.0)]
    pub clip_norm: f64,
}

/// Largest accepted model width.
pub const MAX_D_MODEL: usize = 16_384;
/// Largest accepted number of layers.
pub const MAX_N_LAYER: usize = 256;
/// Largest accepted context length.
pub const MAX_POSITIONS: usize = 65_536;
/// Largest accepted number of node tokens.
pub const MAX_NODE_TOKENS: usize = 65_536;
/// Largest accepted number of generated training or validation graphs.
pub const MAX_GRAPHS: usize = 10_000_000;
/// Largest accepted batch.
pub const MAX_BATCH: usize = 65_536;
/// Largest accepted parameter count (4 GB of f32 weights, 16 GB with AdamW's moments and
/// gradients).
pub const MAX_PARAMS: f64 = 1e9;

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
    (line, col)
}

/// Where the first `section.key` named in a validation message is written in `text`: the line
/// of `key = ...` inside `[section]`, else the `[section]` header (None when neither is found,
/// e.g. a default value).
fn key_line_col(text: &str, msg: &str) -> Option<(usize, usize)> {
    let is_key = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let named = msg.split(|c: char| !is_key(c)).find_map(|w| {
        w.split_once('.')
            .filter(|(s, k)| s.starts_with(|c: char| c.is_ascii_alphabetic()) && !k.is_empty())
    })?;
    let (section, key) = named;
    let header = format!("[{section}]");
    let mut in_section = false;
    let mut header_at = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if t.starts_with('[') {
            in_section = t.trim_end().starts_with(&header);
            if in_section {
                header_at = Some(offset + indent);
            }
        } else if in_section {
            if let Some(rest) = t.strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    return Some(line_col(text, offset + indent));
                }
            }
        }
        offset += line.len();
    }
    header_at.map(|o| line_col(text, o))
}

impl TrainConfig {
    /// Parse TOML text; `file` is used in error messages.
    pub fn parse(text: &str, file: &str) -> Result<Self, TrainError> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            TrainError::Config {
                file: file.to_string(),
                line,
                col,
                msg: e.message().trim().to_string(),
            }
        })?;
        cfg.validate().map_err(|msg| {
            let (line, col) = key_line_col(text, &msg).unwrap_or((0, 0));
            TrainError::Config {
                file: file.to_string(),
                line,
                col,
                msg,
            }
        })?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Semantic checks (each message names the offending key).
    pub fn validate(&self) -> Result<(), String> {
        let m = &self.model;
        if m.n_layer == 0 || m.n_head == 0 || m.d_model == 0 {
            return Err("model.n_layer, model.n_head and model.d_model must be positive".into());
        }
        if !m.d_model.is_multiple_of(m.n_head) {
            return Err(format!(
                "model.d_model = {} is not divisible by model.n_head = {}",
                m.d_model, m.n_head
            ));
        }
        let d = &self.data;
        if d.min_hops == 0 || d.min_hops > d.max_hops {
            return Err(format!(
                "data.min_hops = {} and data.max_hops = {} must satisfy 1 <= min_hops <= max_hops",
                d.min_hops, d.max_hops
            ));
        }
        if d.train_seed == d.val_seed {
            return Err("data.train_seed and data.val_seed must differ (held-out graphs)".into());
        }
        if d.min_nodes < 3 || d.min_nodes > d.max_nodes {
            return Err(format!(
                "data.min_nodes = {} and data.max_nodes = {} must satisfy 3 <= min_nodes <= max_nodes",
                d.min_nodes, d.max_nodes
            ));
        }
        if d.max_nodes > d.node_tokens {
            return Err(format!(
                "data.max_nodes = {} exceeds data.node_tokens = {}",
                d.max_nodes, d.node_tokens
            ));
        }
        if d.train_graphs == 0 {
            return Err("data.train_graphs must be positive".into());
        }
        let o = &self.optim;
        if o.batch_size == 0 || o.grad_accum == 0 || !o.batch_size.is_multiple_of(o.grad_accum) {
            return Err(format!(
                "optim.batch_size = {} must be a positive multiple of optim.grad_accum = {}",
                o.batch_size, o.grad_accum
            ));
        }
        if !(o.lr > 0.0 && o.lr.is_finite()) {
            return Err(format!("optim.lr = {} must be positive", o.lr));
        }
        if !(0.0..1.0).contains(&o.beta1) || !(0.0..1.0).contains(&o.beta2) {
            return Err("optim.beta1 and optim.beta2 must be in [0, 1)".into());
        }
        if o.epochs == 0 {
            return Err("optim.epochs must be positive".into());
        }
        let c = &self.curriculum;
        if !(0.0..=1.0).contains(&c.p_mix) {
            return Err(format!("curriculum.p_mix = {} must be in [0, 1]", c.p_mix));
        }
        let weights = [Some(c.frontier_weight), c.frontier_weight_final];
        if weights
            .iter()
            .flatten()
            .any(|w| !(w.is_finite() && *w >= 0.0))
        {
            return Err(
                "curriculum.frontier_weight and frontier_weight_final must be finite and >= 0"
                    .into(),
            );
        }
        if !(0.0..=1.0).contains(&c.teacher_forcing) {
            return Err(format!(
                "curriculum.teacher_forcing = {} must be in [0, 1]",
                c.teacher_forcing
            ));
        }
        if c.teacher_forcing > 0.0 && (c.teacher_forcing_steps == 0 || !self.run.mode.continuous())
        {
            return Err("curriculum.teacher_forcing needs curriculum.teacher_forcing_steps > 0 and a continuous-thought mode".into());
        }
        if c.readout_bottleneck && !self.run.mode.continuous() {
            return Err(format!(
                "curriculum.readout_bottleneck needs a continuous-thought mode (coconut, coconut-bfs), not {}",
                self.run.mode.name()
            ));
        }
        if c.first_stage > c.max_stage {
            return Err(format!(
                "curriculum.first_stage = {} exceeds curriculum.max_stage = {}",
                c.first_stage, c.max_stage
            ));
        }
        if c.thoughts_per_step == 0 || c.epochs_per_stage == 0 {
            return Err(
                "curriculum.thoughts_per_step and curriculum.epochs_per_stage must be positive"
                    .into(),
            );
        }
        if self.run.checkpoint_every == 0 {
            return Err("run.checkpoint_every must be positive".into());
        }
        self.validate_limits()?;
        self.validate_optim_values()
    }

    /// Sizes within [`LIMITS`] (checked arithmetic), so that nothing later overflows or asks
    /// for more memory than a machine has.
    fn validate_limits(&self) -> Result<(), String> {
        for (key, value, max) in [
            ("model.d_model", self.model.d_model, MAX_D_MODEL),
            ("model.n_layer", self.model.n_layer, MAX_N_LAYER),
            ("model.n_positions", self.model.n_positions, MAX_POSITIONS),
            (
                "model.d_mlp",
                self.model.d_mlp.unwrap_or(0),
                4 * MAX_D_MODEL,
            ),
            (
                "data.node_tokens",
                self.data.node_tokens as usize,
                MAX_NODE_TOKENS,
            ),
            ("data.train_graphs", self.data.train_graphs, MAX_GRAPHS),
            ("data.val_graphs", self.data.val_graphs, MAX_GRAPHS),
            ("optim.batch_size", self.optim.batch_size, MAX_BATCH),
        ] {
            if value > max {
                return Err(format!("{key} = {value} is above the limit of {max}"));
            }
        }
        let c = &self.curriculum;
        let thoughts = c.max_stage.checked_mul(c.thoughts_per_step);
        if thoughts.is_none_or(|t| t >= self.model.n_positions) {
            return Err(format!(
                "curriculum.thoughts_per_step = {} times curriculum.max_stage = {} must be below \
                 model.n_positions = {}",
                c.thoughts_per_step, c.max_stage, self.model.n_positions
            ));
        }
        // GPT-2 parameters: per layer 4·d² (attention) + 2·d·d_mlp (MLP); embeddings.
        let m = &self.model;
        let (d, mlp) = (m.d_model as f64, m.d_mlp.unwrap_or(4 * m.d_model) as f64);
        let vocab = self.data.node_tokens as f64 + 64.0;
        let params =
            m.n_layer as f64 * (4.0 * d * d + 2.0 * d * mlp) + (vocab + m.n_positions as f64) * d;
        if params > MAX_PARAMS {
            return Err(format!(
                "model.d_model = {}, model.n_layer = {}: about {params:.3e} parameters, above the \
                 limit of {MAX_PARAMS:e}",
                m.d_model, m.n_layer
            ));
        }
        Ok(())
    }

    /// Optimizer and run values in their ranges (NaN is never in range).
    fn validate_optim_values(&self) -> Result<(), String> {
        let o = &self.optim;
        let checks = [
            (
                "optim.eps",
                o.eps,
                o.eps > 0.0 && o.eps.is_finite(),
                "a positive number",
            ),
            (
                "optim.weight_decay",
                o.weight_decay,
                o.weight_decay >= 0.0 && o.weight_decay.is_finite(),
                "a non-negative number",
            ),
            (
                "optim.clip_norm",
                o.clip_norm,
                o.clip_norm >= 0.0 && o.clip_norm.is_finite(),
                "a non-negative number (0 = off)",
            ),
            (
                "optim.min_lr_ratio",
                o.min_lr_ratio,
                (0.0..=1.0).contains(&o.min_lr_ratio),
                "in [0, 1]",
            ),
            (
                "run.divergence_factor",
                self.run.divergence_factor as f64,
                self.run.divergence_factor > 1.0 && self.run.divergence_factor.is_finite(),
                "a finite number above 1",
            ),
        ];
        for (key, value, ok, what) in checks {
            if !ok {
                return Err(format!("{key} = {value} must be {what}"));
            }
        }
        Ok(())
    }

    /// The generated graphs of this run: family, node range and hop range.
    pub fn graph_spec(&self) -> GraphSpec {
        let d = &self.data;
        GraphSpec {
            family: d.family,
            min_nodes: d.min_nodes as usize,
            max_nodes: d.max_nodes as usize,
            min_hops: d.min_hops,
            max_hops: d.max_hops,
        }
    }
    /// Thoughts at evaluation (0 for no-CoT and CoT).
    pub fn eval_thoughts(&self) -> usize {
        if self.run.mode.curriculum() {
            self.curriculum.eval_thoughts()
        } else {
            0
        }
    }

    /// Stage trained in `epoch`.
    pub fn stage(&self, epoch: usize) -> usize {
        if self.run.mode.curriculum() {
            self.curriculum.stage(epoch)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MINIMAL_TOML as MINIMAL;

    #[test]
    fn parses_minimal_with_defaults() {
        let c = TrainConfig::parse(MINIMAL, "m.toml").unwrap();
        assert_eq!(c.run.mode, Mode::Coconut);
        assert_eq!(c.optim.beta2, 0.95);
        assert_eq!(c.optim.weight_decay, 0.01);
        assert_eq!(c.curriculum.max_stage, 4);
        assert_eq!(c.eval_thoughts(), 4);
        // Every inline default, as its field declares it.
        assert_eq!(c.run.out, PathBuf::from("runs/train"));
        assert_eq!(
            (c.run.seed, c.run.checkpoint_every, c.run.eval_every_epochs),
            (0, 200, 1)
        );
        assert_eq!((c.run.divergence_factor, c.run.max_steps), (10.0, 0));
        assert_eq!((c.data.train_seed, c.data.val_seed), (1, 2));
        assert_eq!(
            (c.data.node_tokens, c.data.min_nodes, c.data.max_nodes),
            (31, 18, 28)
        );
        assert_eq!((c.model.n_positions, c.model.d_mlp), (256, None));
        assert_eq!(
            (c.optim.grad_accum, c.optim.schedule),
            (1, LrSchedule::Constant)
        );
        assert_eq!(
            (c.optim.beta1, c.optim.eps, c.optim.clip_norm),
            (0.9, 1e-8, 1.0)
        );
    }

    #[test]
    fn syntax_error_has_file_line_col() {
        let bad = MINIMAL.replace("n_head = 2", "n_head = = 2");
        let err = TrainConfig::parse(&bad, "bad.toml")
            .unwrap_err()
            .to_string();
        // `n_head` is on line 13 of MINIMAL
        assert!(err.starts_with("bad.toml:13:"), "{err}");
    }

    #[test]
    fn unknown_key_and_bad_value_are_located() {
        let bad = MINIMAL.replace("lr = 1e-3", "lr = 1e-3\nlearning_rate = 2");
        let err = TrainConfig::parse(&bad, "x.toml").unwrap_err().to_string();
        assert!(
            err.contains("x.toml:") && err.contains("learning_rate"),
            "{err}"
        );
        let bad = MINIMAL.replace("\"coconut\"", "\"cocnut\"");
        let err = TrainConfig::parse(&bad, "x.toml").unwrap_err().to_string();
        assert!(err.contains("x.toml:3:") && err.contains("cocnut"), "{err}");
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let bad = MINIMAL.replace("d_model = 16", "d_model = 15");
        let err = TrainConfig::parse(&bad, "x.toml").unwrap_err().to_string();
        assert!(
            err.contains("model.d_model") && err.contains("x.toml"),
            "{err}"
        );
        let bad = MINIMAL.replace("[data]", "[data]\nval_seed = 1");
        let err = TrainConfig::parse(&bad, "x.toml").unwrap_err().to_string();
        assert!(err.contains("val_seed"), "{err}");
    }

    #[test]
    fn shipped_configs_parse() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs"));
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                TrainConfig::load(&p).unwrap();
                n += 1;
            }
        }
        assert!(n >= 5, "expected the shipped configs, found {n}");
    }
}
