//! Fixtures for the tests of this crate and of the crates above it (lab, cli): the minimal
//! config, and one training run small enough to finish in seconds on one core, with the
//! knobs those tests vary.

use crate::config::TrainConfig;
use crate::TrainError;

/// The smallest config the parser accepts: only the keys without a default (line 1 is
/// `[run]`; the config tests locate errors by line).
pub const MINIMAL_TOML: &str = r#"[run]
name = "t"
mode = "coconut"

[data]
train_graphs = 10
val_graphs = 5
min_hops = 3
max_hops = 4

[model]
n_layer = 2
n_head = 2
d_model = 16

[optim]
epochs = 2
batch_size = 4
lr = 1e-3
"#;

/// A tiny Coconut-style training run. `Default` is the trainer's own unit-test run; the other
/// tests change a few fields (`TinyRun { n_layer: 1, ..TinyRun::default() }`).
#[derive(Clone, Debug, PartialEq)]
pub struct TinyRun {
    pub name: String,
    /// nocot | cot | coconut | coconut-bfs | pause
    pub mode: String,
    pub checkpoint_every: usize,
    pub eval_every_epochs: usize,
    pub train_graphs: usize,
    pub val_graphs: usize,
    pub node_tokens: usize,
    pub n_layer: usize,
    pub p_mix: f64,
    pub epochs: usize,
    pub grad_accum: usize,
    pub warmup_steps: usize,
}

impl Default for TinyRun {
    fn default() -> Self {
        TinyRun {
            name: "tiny".into(),
            mode: "coconut".into(),
            checkpoint_every: 2,
            eval_every_epochs: 1,
            train_graphs: 12,
            val_graphs: 6,
            node_tokens: 12,
            n_layer: 2,
            p_mix: 0.2,
            epochs: 3,
            grad_accum: 2,
            warmup_steps: 2,
        }
    }
}

impl TinyRun {
    /// The run as a config file's TOML (3–4 hops, 8–12 nodes, d_model 16, two heads,
    /// stages of one epoch up to 2, batch 4, lr 3e-3, seed 7).
    pub fn toml(&self) -> String {
        format!(
            r#"[run]
name = "{name}"
mode = "{mode}"
seed = 7
checkpoint_every = {checkpoint_every}
eval_every_epochs = {eval_every_epochs}

[data]
train_graphs = {train_graphs}
val_graphs = {val_graphs}
min_hops = 3
max_hops = 4
node_tokens = {node_tokens}
min_nodes = 8
max_nodes = 12

[model]
n_layer = {n_layer}
n_head = 2
d_model = 16
n_positions = 96

[curriculum]
max_stage = 2
epochs_per_stage = 1
p_mix = {p_mix:?}

[optim]
epochs = {epochs}
batch_size = 4
grad_accum = {grad_accum}
lr = 3e-3
warmup_steps = {warmup_steps}
"#,
            name = self.name,
            mode = self.mode,
            checkpoint_every = self.checkpoint_every,
            eval_every_epochs = self.eval_every_epochs,
            train_graphs = self.train_graphs,
            val_graphs = self.val_graphs,
            node_tokens = self.node_tokens,
            n_layer = self.n_layer,
            p_mix = self.p_mix,
            epochs = self.epochs,
            grad_accum = self.grad_accum,
            warmup_steps = self.warmup_steps,
        )
    }

    /// The run, parsed and validated.
    pub fn config(&self) -> Result<TrainConfig, TrainError> {
        TrainConfig::parse(&self.toml(), "tiny.toml")
    }
}
