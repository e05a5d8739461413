//! # superpose-train
//!
//! Training small transformers from scratch on graph reachability, as in Zhu et al. 2025 §5
//! ("Reasoning by Superposition") and Coconut (Hao et al. 2024): no-CoT, discrete CoT,
//! Coconut's continuous-thought curriculum (and Coconut-BFS targets), and pause-as-thought.
//!
//! Modules:
//! - [`tokenizer`]: the symbolic vocabulary (node ids as tokens, `|`, `[Q]`, `[R]`, `[A]`,
//!   `<bot>`, `<eot>`, `<latent>`, `<eos>`, `<none>`, `<pause>`).
//! - [`data`]: [`data::ReachExample`] (graph, root, candidates, gold path, BFS distances);
//!   ProsQA JSON reader.
//! - [`curriculum`]: sequence layout and the stage schedule.
//! - [`config`]: the TOML run configuration.
//! - [`schedule`], [`optim`]: learning-rate schedule, AdamW with global-norm clipping.
//! - [`checkpoint`]: atomic files.
//! - [`batch`], [`multipass`]: Coconut's collator layout and multi-pass forward (one pass per
//!   continuous thought through the KV cache; gradients flow through every fed-back state).
//! - [`trainer`]: the training loop and checkpoints; [`eval`]: accuracy and probes.
//!
//! Public API for other crates (the model is `superpose_model::Model`):
//! ```text
//! TrainConfig::load(path) -> Result<TrainConfig, TrainError>      (TOML; errors name file:line:col)
//! trainer::train(&cfg, &TrainOptions{out, resume, progress, eval}) -> Result<TrainSummary, _>
//! trainer::evaluate(checkpoint_dir, &[ReachExample], &EvalOptions) -> Result<EvalReport, _>
//! trainer::load_for_eval(dir, &device) -> (Model, RunMeta)       (run dir or ckpt-* dir)
//! eval::evaluate_model(&model, &ModelMeta, &[ReachExample], &EvalOptions, &device) -> EvalReport
//!   EvalReport { tasks, correct, accuracy, by_hops, choice_accuracy, no_answer,
//!                zeroed_thoughts, shuffled_thoughts,
//!                thought_node_inner: Vec<ProbeRow>  (Zhu et al. Table 5),
//!                edge_attention: Vec<ProbeRow>      (Zhu et al. Table 1) }   (serde)
//!   ProbeRow { step, not_reachable, reachable, frontier, optimal: GroupStat{mean, sd, count} }
//! data::read_prosqa(path) / data::generate_examples(n, seed, min_nodes, max_nodes, min_hops, max_hops)
//! ReachExample::from_task(&superpose_graph::ReachTask)
//! multipass::multipass(&model, &HostBatch, continuous, &ThoughtFeed, attn_layer, &device)
//! ```
pub mod batch;
pub mod causal;
pub mod checkpoint;
pub mod config;
pub mod curriculum;
pub mod data;
pub mod eval;
pub mod multipass;
/// AdamW lives in `superpose-model` (the benchmark steps the same optimizer as training).
pub use superpose_model::optim;
pub mod schedule;
pub mod testing;
pub mod tokenizer;
pub mod trainer;

use std::path::Path;

pub use config::TrainConfig;
pub use curriculum::{LossSpan, Mode};
pub use data::ReachExample;
pub use tokenizer::Vocab;

/// Errors of the training library (the CLI prints them; exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{file}:{line}:{col}: {msg}")]
    Config {
        file: String,
        line: usize,
        col: usize,
        msg: String,
    },
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error("{file}: {msg}")]
    Data { file: String, msg: String },
    #[error("checkpoint {path}: {msg}")]
    Checkpoint { path: String, msg: String },
    #[error(
        "training diverged at step {step} (loss {loss}); the last good checkpoint is {checkpoint}"
    )]
    Diverged {
        step: usize,
        loss: f32,
        checkpoint: String,
    },
    #[error("{0}")]
    Invalid(String),
    /// A model-side failure (the optimizer state's file, a checkpoint's weights).
    #[error(transparent)]
    Model(#[from] superpose_model::ModelError),
}

impl TrainError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.display().to_string(),
            err: source,
        }
    }
}
