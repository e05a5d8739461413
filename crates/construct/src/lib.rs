//! # superpose-construct: the Theorem-1 superposition transformer, built by hand
//!
//! Zhu et al. 2025 ("Reasoning by Superposition", arXiv 2505.12514, Theorem 1) prove that a
//! two-layer transformer with C ≥ diameter continuous thoughts decides graph reachability,
//! thought c being the normalised superposition Σ_{v∈R_c} u_v / √|R_c| of every node reached
//! in ≤ c hops. This crate writes those weights down (`weights`) in Hugging Face GPT-2
//! layout, loads them into the ordinary `superpose_model` runtime, runs the continuous-
//! thought loop with its KV cache, and checks every thought against exact BFS from
//! `superpose_graph`.
//!
//! ## Public API (quick reference)
//!
//! ```text
//! Construction::new(n_max, ConstructOptions) -> Result<Construction, ConstructError>
//! Construction::sized_for(&[ReachTask], Thoughts, ConstructOptions)   // n_max, m_max, max_thoughts from the tasks
//!   .run_task(&ReachTask, Thoughts) -> Result<ConstructRun, _>
//!         ConstructRun { answer, correct, hops, num_thoughts, sufficient, n, m, max_err,
//!                        margin, thoughts: Vec<ThoughtRecord>, prefill_macs, thought_macs,
//!                        answer_macs, bfs_edge_visits }
//!         ThoughtRecord { step, decoded, exact (R_c), set_exact, max_err, macs, context,
//!                         bfs_edge_visits }
//!   .run_tasks(&[ReachTask], Thoughts, progress: FnMut(done)) -> Result<RunSummary, _>
//!         RunSummary { tasks, correct, accuracy, sufficient, correct_sufficient, max_err,
//!                      thoughts, thoughts_set_exact, total_macs, ..., runs }
//!   .weights() (.layout, .constants, .tensors)   .model() (the runtime Model)   .model_config()
//! engine::{model_config, named_tensors, load_model}: the runtime switches and weight loading
//! ConstructOptions { m_max, max_thoughts, embedding: NodeEmbedding::{Orthonormal, RandomUnit{dim,seed}},
//!                    d_pe, pe_base, logit_gap, temperature_scale, eps_scale }   (Default)
//! Thoughts::{Fixed(c), Eccentricity}
//! capacity::capacity_study(&CapacityParams, progress) -> Result<CapacityReport, _>
//!   CapacityReport { rows: Vec<CapacityRow>, by_size: Vec<SizeRow> } .to_csv() .size_csv()
//! weights::Weights::build(n_max, &opts) (named tensors, no runtime)
//! layout::{Layout, Question, prompt_tokens, sinusoid}   cost::{step_macs, prefill_macs}
//! ```
//!
//! Every matrix is documented in `weights.rs` with the lemma it implements.

pub mod capacity;
pub mod cost;
pub mod engine;
pub mod layout;
#[cfg(test)]
mod reference;
pub mod run;
pub mod weights;

use serde::{Deserialize, Serialize};
use superpose_graph::ReachTask;

pub use layout::{Layout, NodeEmbedding, Question};
pub use run::{ConstructRun, ThoughtRecord, Thoughts};
pub use weights::{Constants, ConstructOptions, Weights};

/// Errors of the construction.
#[derive(Debug, thiserror::Error)]
pub enum ConstructError {
    #[error("invalid construction settings: {0}")]
    Config(String),
    #[error("task does not fit the construction: {0}")]
    TooLarge(String),
    #[error("model runtime: {0}")]
    Runtime(String),
    #[error("task generation: {0}")]
    Generate(String),
}

/// The hand-built transformer, loaded and ready to run tasks.
pub struct Construction {
    weights: Weights,
    model: superpose_model::Model,
}

/// Aggregate of many runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub tasks: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Tasks with C ≥ hops, and how many of those were right.
    pub sufficient: usize,
    pub correct_sufficient: usize,
    /// Largest thought error over every thought of every task.
    pub max_err: f32,
    /// Thoughts whose decoded set equals R_c, out of all thoughts.
    pub thoughts: usize,
    pub thoughts_set_exact: usize,
    /// Totals over all tasks.
    pub total_macs: u64,
    pub total_thought_macs: u64,
    pub total_bfs_edge_visits: u64,
    pub runs: Vec<ConstructRun>,
}

impl Construction {
    /// Builds the weights for nodes 0..n_max and loads them into the runtime.
    pub fn new(n_max: usize, opts: ConstructOptions) -> Result<Self, ConstructError> {
        let weights = Weights::build(n_max, &opts)?;
        let model = engine::load_model(&weights)?;
        Ok(Construction { weights, model })
    }

    /// The construction sized for running every task of `tasks` with `thoughts`: n_max the
    /// largest node count (at least 2), m_max the largest edge count and max_thoughts the most
    /// thoughts any task takes (each at least 1); the rest of the options from `opts`.
    pub fn sized_for(
        tasks: &[ReachTask],
        thoughts: Thoughts,
        opts: ConstructOptions,
    ) -> Result<Self, ConstructError> {
        let n_max = tasks.iter().map(|t| t.graph.n()).max().unwrap_or(2).max(2);
        let m_max = tasks.iter().map(|t| t.graph.num_edges()).max();
        let max_thoughts = tasks.iter().map(|t| run::thoughts_for(t, thoughts)).max();
        let opts = ConstructOptions {
            m_max: m_max.unwrap_or(1).max(1),
            max_thoughts: max_thoughts.unwrap_or(1).max(1),
            ..opts
        };
        Self::new(n_max, opts)
    }

    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The runtime model the weights were loaded into.
    pub fn model(&self) -> &superpose_model::Model {
        &self.model
    }

    /// The runtime configuration (see [`engine::model_config`]).
    pub fn model_config(&self) -> superpose_model::ModelConfig {
        engine::model_config(&self.weights)
    }

    /// Runs one task: prompt, C continuous thoughts, `<A>`.
    pub fn run_task(&self, task: &ReachTask, t: Thoughts) -> Result<ConstructRun, ConstructError> {
        let c = run::thoughts_for(task, t);
        let mut rt = engine::Runtime::new(&self.model, &self.weights);
        run::run_with(&mut rt, &self.weights, task, c)
    }

    /// Runs every task (calling `progress` after each) and sums up.
    pub fn run_tasks(
        &self,
        tasks: &[ReachTask],
        t: Thoughts,
        mut progress: impl FnMut(usize),
    ) -> Result<RunSummary, ConstructError> {
        let mut runs = Vec::with_capacity(tasks.len());
        for (i, task) in tasks.iter().enumerate() {
            runs.push(self.run_task(task, t)?);
            progress(i + 1);
        }
        Ok(summarise(runs))
    }
}

/// Totals of a list of runs.
pub fn summarise(runs: Vec<ConstructRun>) -> RunSummary {
    let tasks = runs.len();
    let correct = runs.iter().filter(|r| r.correct).count();
    let suff: Vec<&ConstructRun> = runs.iter().filter(|r| r.sufficient).collect();
    RunSummary {
        tasks,
        correct,
        accuracy: if tasks == 0 {
            0.0
        } else {
            correct as f64 / tasks as f64
        },
        sufficient: suff.len(),
        correct_sufficient: suff.iter().filter(|r| r.correct).count(),
        max_err: runs.iter().map(|r| r.max_err).fold(0.0f32, f32::max),
        thoughts: runs.iter().map(|r| r.thoughts.len()).sum(),
        thoughts_set_exact: runs
            .iter()
            .map(|r| r.thoughts.iter().filter(|t| t.set_exact).count())
            .sum(),
        total_macs: runs
            .iter()
            .map(|r| r.prefill_macs + r.thought_macs + r.answer_macs)
            .sum(),
        total_thought_macs: runs.iter().map(|r| r.thought_macs).sum(),
        total_bfs_edge_visits: runs.iter().map(|r| r.bfs_edge_visits).sum(),
        runs,
    }
}

#[cfg(test)]
mod tests;
