//! superpose-lab: the conservation-of-complexity report.
//!
//! The seed's claim: superposed (disjunctive) representations can cut the number of
//! sequential steps and the average cost, but not the worst-case work; and a union can look
//! like it reached the goal when no path can be extracted. Each experiment here turns one part
//! of that into tables and plots from real runs of the other crates:
//!
//! | experiment | crate(s) | question |
//! |---|---|---|
//! | `reach-steps-vs-work` | graph, construct | thought steps vs diameter; multiply-adds vs BFS edge visits vs matrix powers |
//! | `reach-capacity` | construct | accuracy of the Theorem-1 construction when width d < n |
//! | `plan-spurious-reach` | plan | levels where the goals "look reached" vs where a plan exists |
//! | `union-vs-states` | plan | superposing facts (relaxed union) vs superposing states (exact) |
//! | `trained-thoughts` | train | accuracy vs hops of trained checkpoints, probe tables |
//! | `shortcut-audit` | graph | can the questions be answered without reading the root? |
//!
//! `superpose demo` = every experiment in quick mode on embedded data, one HTML report.

pub mod data;
pub mod experiments;
pub mod html_check;
pub mod plot;
pub mod report;
pub mod table;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};

pub use report::{ExperimentResult, Plot, Status};
/// The progress bar every experiment draws (owned by `superpose-util`).
pub use superpose_util::progress_bar;
pub use table::Table;

/// Errors of the lab (the CLI adds context and exits with code 2).
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("unknown experiment `{0}` (expected one of: {list}, or `all`)", list = ExperimentId::names().join(", "))]
    UnknownExperiment(String),
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plot rendering failed: {0}")]
    Plot(String),
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Table(#[from] table::TableError),
}

impl LabError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        LabError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The experiments, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExperimentId {
    ReachStepsVsWork,
    ReachCapacity,
    PlanSpuriousReach,
    UnionVsStates,
    TrainedThoughts,
    ShortcutAudit,
}

impl ExperimentId {
    pub const ALL: [ExperimentId; 6] = [
        ExperimentId::ReachStepsVsWork,
        ExperimentId::ReachCapacity,
        ExperimentId::PlanSpuriousReach,
        ExperimentId::UnionVsStates,
        ExperimentId::TrainedThoughts,
        ExperimentId::ShortcutAudit,
    ];

    /// The name used on the command line and as the output folder.
    pub fn name(self) -> &'static str {
        match self {
            ExperimentId::ReachStepsVsWork => "reach-steps-vs-work",
            ExperimentId::ReachCapacity => "reach-capacity",
            ExperimentId::PlanSpuriousReach => "plan-spurious-reach",
            ExperimentId::UnionVsStates => "union-vs-states",
            ExperimentId::TrainedThoughts => "trained-thoughts",
            ExperimentId::ShortcutAudit => "shortcut-audit",
        }
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|e| e.name()).collect()
    }

    pub fn from_name(s: &str) -> Result<Self, LabError> {
        Self::ALL
            .iter()
            .copied()
            .find(|e| e.name() == s)
            .ok_or_else(|| LabError::UnknownExperiment(s.to_string()))
    }

    pub fn title(self) -> &'static str {
        match self {
            ExperimentId::ReachStepsVsWork => {
                "Sequential steps vs total work for graph reachability"
            }
            ExperimentId::ReachCapacity => "Capacity of the superposition construction",
            ExperimentId::PlanSpuriousReach => "Planning graph: looks reached vs really reached",
            ExperimentId::UnionVsStates => "Superposing facts vs superposing states",
            ExperimentId::TrainedThoughts => "Trained continuous thoughts",
            ExperimentId::ShortcutAudit => "Shortcuts: answering without reading the root",
        }
    }

    /// What the experiment measures and how (method only; conclusions come from the numbers).
    pub fn description(self) -> &'static str {
        match self {
            ExperimentId::ReachStepsVsWork => "For each graph family and size: the number of continuous thoughts the hand-built Theorem-1 transformer (Zhu et al. 2025) needs, beside the root eccentricity and graph diameter; and the work each method does: the construction's multiply-adds, BFS edge visits, and boolean matrix powers (the log-depth parallel algorithm). Fewer sequential steps is the promise of superposition; the work columns show what it costs.",
            ExperimentId::ReachCapacity => "The Theorem-1 construction with its orthonormal node embeddings replaced by seeded random unit vectors in dimension d (threshold adjusted), run on random reachability tasks: answer accuracy against d, for several graph sizes n and reached-set sizes. A superposition of |R| vectors in d dimensions stays decodable only while d is large enough.",
            ExperimentId::PlanSpuriousReach => "Graphplan on PDDL problems, per problem: the level where the goals first appear in the planning graph (the union of reachable facts), where they are first pairwise non-mutex, where extraction is first attempted, the level of the plan actually found, and the backward search effort; where the state space is small, the exact number of reachable states and the first level at which a single state holds all goals.",
            ExperimentId::UnionVsStates => "The Graphplan analogy made executable. A thought that superposes facts holds the relaxed union (the planning graph without mutexes); a thought that superposes states needs one dimension per state. Per small planning problem: the level at which each representation claims the goal, and the size each representation needs (facts vs reachable states).",
            ExperimentId::TrainedThoughts => "Trained checkpoints (given with --checkpoint) evaluated on reachability tasks: accuracy against the number of hops, including hop counts beyond the training range, and the probe tables of the continuous thoughts.",
            ExperimentId::ShortcutAudit => "The shipped ProsQA files and generated tasks of every family (ProsQA at its default size and at 10–14 nodes, the twin family at 3–4 and 5–8 hops), audited with rules that never read the root (in- and out-degree, ancestor and descendant counts, distances from in-degree-0 nodes, node id, question order; each direction its own rule) beside root-aware meet-in-the-middle searches (k hops forward from the root meet j hops backward from a candidate). Ties count 1/2; a root-agnostic rule far from 50% is a shortcut a trained model can use instead of its thoughts (issue 15).",
        }
    }
}

/// Options shared by every experiment.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Small sizes and embedded data only (CI and the demo).
    pub quick: bool,
    /// Show progress bars on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
    pub seed: u64,
    /// Trained checkpoints for `trained-thoughts`.
    pub checkpoints: Vec<PathBuf>,
    /// PDDL suite for full runs of the planning experiments (a folder of domain folders).
    /// None: the repository's `data/pddl` when it exists, else the embedded problems.
    pub pddl_dir: Option<PathBuf>,
    /// Per-problem time limit for the planner (parsed once, by `superpose_plan::Limits::parse_time`).
    pub time_limit: std::time::Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            quick: true,
            progress: true,
            seed: 7,
            checkpoints: Vec::new(),
            pddl_dir: None,
            time_limit: std::time::Duration::from_secs(10),
        }
    }
}

/// Runs one experiment. Experiments that cannot run report `Status::NotAvailable` with the
/// reason; errors are only for bad input (unreadable checkpoint folder, bad PDDL folder, I/O).
pub fn run_experiment(id: ExperimentId, opts: &RunOptions) -> Result<ExperimentResult, LabError> {
    let start = Instant::now();
    let mut r = match id {
        ExperimentId::ReachStepsVsWork => experiments::reach_steps::run(opts)?,
        ExperimentId::ReachCapacity => experiments::reach_capacity::run(opts)?,
        ExperimentId::PlanSpuriousReach => experiments::plan_spurious::run(opts)?,
        ExperimentId::UnionVsStates => experiments::union_states::run(opts)?,
        ExperimentId::TrainedThoughts => experiments::trained::run(opts)?,
        ExperimentId::ShortcutAudit => experiments::shortcut_audit::run(opts)?,
    };
    r.quick = opts.quick;
    r.elapsed_s = start.elapsed().as_secs_f64();
    Ok(r)
}

/// Runs several experiments in order.
pub fn run_experiments(
    ids: &[ExperimentId],
    opts: &RunOptions,
) -> Result<Vec<ExperimentResult>, LabError> {
    ids.iter().map(|&id| run_experiment(id, opts)).collect()
}

/// The `--json` summary of a set of runs: per experiment its status, headline numbers and
/// the folder it was written to.
pub fn json_summary(results: &[ExperimentResult], out: &Path, index: &Path) -> Value {
    json!({
        "report": index.display().to_string(),
        "experiments": results.iter().map(|r| {
            let (status, reason) = match &r.status {
                Status::Ok => ("ok", Value::Null),
                Status::NotAvailable(x) => ("not_available", Value::String(x.clone())),
            };
            json!({
                "experiment": r.id.name(),
                "status": status,
                "reason": reason,
                "elapsed_s": r.elapsed_s,
                "rows": r.table.rows.len(),
                "dir": out.join(r.id.name()).display().to_string(),
                "summary": r.summary,
                "interpretation": r.interpretation,
            })
        }).collect::<Vec<_>>(),
    })
}

/// A terminal summary of a set of runs: per experiment, a heading, the interpretation and
/// the main table (at most `max_rows` rows).
pub fn terminal_summary(results: &[ExperimentResult], max_rows: usize) -> String {
    let mut s = String::new();
    for r in results {
        s.push_str(&format!("\n== {} ({}) ==\n", r.id.title(), r.id.name()));
        match &r.status {
            Status::NotAvailable(reason) => s.push_str(&format!("  not available: {reason}\n")),
            Status::Ok => {
                let t = if r.terminal_columns.is_empty() {
                    r.table.clone()
                } else {
                    r.table.select(&r.terminal_columns)
                };
                s.push_str(&t.to_text(max_rows));
                for p in &r.interpretation {
                    s.push_str(&wrap(p, 96, "  * "));
                }
                s.push_str(&format!("  ({:.1} s)\n", r.elapsed_s));
            }
        }
    }
    s
}

/// Word-wraps a paragraph with a first-line prefix and matching indentation.
fn wrap(text: &str, width: usize, prefix: &str) -> String {
    let indent = " ".repeat(prefix.chars().count());
    let mut out = String::new();
    let mut line = prefix.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The outcome of `superpose demo`.
pub struct DemoOutcome {
    pub results: Vec<ExperimentResult>,
    pub index: PathBuf,
}

/// `superpose demo`: every experiment in quick mode on embedded data, written to `out`
/// (`superpose-report` by default) with one `index.html`.
pub fn run_demo(out: &Path, progress: bool) -> Result<DemoOutcome, LabError> {
    let opts = RunOptions {
        quick: true,
        progress,
        ..RunOptions::default()
    };
    let results = run_experiments(&ExperimentId::ALL, &opts)?;
    let index = report::write_report(
        out,
        "superpose: conservation of complexity",
        "Small versions of every experiment, run on data embedded in the binary (superpose demo). \
         Superposed (disjunctive) representations can cut the number of sequential steps; \
         the tables below show what happens to the total work, and when a union claims a goal \
         that no path reaches.",
        &results,
    )?;
    Ok(DemoOutcome { results, index })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for id in ExperimentId::ALL {
            assert_eq!(ExperimentId::from_name(id.name()).unwrap(), id);
        }
        let err = ExperimentId::from_name("nope").unwrap_err().to_string();
        assert!(err.contains("reach-capacity") && err.contains("nope"));
    }

    #[test]
    fn wrap_respects_width() {
        let w = wrap(&"word ".repeat(50), 30, "  * ");
        assert!(w.lines().all(|l| l.chars().count() <= 30));
        assert!(w.starts_with("  * word"));
    }
}
