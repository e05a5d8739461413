//! The lab's view of the `construct` crate: run the Theorem-1 construction (Zhu et al. 2025)
//! on a group of tasks and return, per task, its thought count, answer and multiply-adds.

use superpose_construct::{ConstructOptions, Construction, Thoughts};
use superpose_graph::ReachTask;

/// What one run of the construction cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    pub thoughts: usize,
    pub correct: bool,
    /// Multiply-adds of the whole forward computation (prompt, thoughts, answer).
    pub total_macs: u64,
    /// Multiply-adds of the thought steps only.
    pub thought_macs: u64,
}

/// How many continuous thoughts the lab runs: the root eccentricity, enough for every
/// question about this root (Theorem 1 needs C ≥ the diameter in general).
pub const THOUGHTS: Thoughts = Thoughts::Eccentricity;

/// The construction sized for a group of tasks: n_max = the largest node count, m_max the
/// largest edge count, max_thoughts the largest root eccentricity (orthonormal embeddings).
pub fn construction_for(tasks: &[ReachTask]) -> Result<Construction, String> {
    Construction::sized_for(tasks, THOUGHTS, ConstructOptions::default()).map_err(|e| e.to_string())
}

/// Runs the construction on every task of a group.
pub fn group_costs(tasks: &[ReachTask]) -> Result<Vec<Cost>, String> {
    let con = construction_for(tasks)?;
    tasks
        .iter()
        .map(|t| {
            let r = con.run_task(t, THOUGHTS).map_err(|e| e.to_string())?;
            Ok(Cost {
                thoughts: r.num_thoughts,
                correct: r.correct,
                total_macs: r.prefill_macs + r.thought_macs + r.answer_macs,
                thought_macs: r.thought_macs,
            })
        })
        .collect()
}

/// A one-line description of the settings, for `params`.
pub fn describe() -> String {
    let o = ConstructOptions::default();
    format!(
        "Theorem-1 construction, orthonormal node embeddings, C = root eccentricity thoughts, d_pe = {}, logit gap {}; sized per group (n_max, m_max, max_thoughts = the group's largest)",
        o.d_pe, o.logit_gap
    )
}
