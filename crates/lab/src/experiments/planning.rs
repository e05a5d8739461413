//! Shared by the planning experiments: the problem set (embedded, or a PDDL suite folder)
//! and one measured Graphplan run per problem, with exact reachable-state counts where the
//! state space is small.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use superpose_plan::pddl::{parse_domain_str, parse_problem_str};
use superpose_plan::{
    exact_reachable_by_level, graphplan, ground, relaxed_goal_level, ExactReachability, Extraction,
    GraphplanResult, GroundTask, Limits, PlanningGraph,
};

use crate::{data, LabError, RunOptions};

/// A planning problem's source text.
#[derive(Clone, Debug)]
pub struct ProblemSource {
    /// `folder/problem`, e.g. `blocks/probBLOCKS-4-0`.
    pub name: String,
    pub domain_file: String,
    pub domain: String,
    pub problem_file: String,
    pub problem: String,
}

impl ProblemSource {
    fn embedded(p: &data::EmbeddedProblem) -> Self {
        ProblemSource {
            name: p.name.to_string(),
            domain_file: format!("(embedded) {} domain", p.name),
            domain: p.domain.to_string(),
            problem_file: format!("(embedded) {}.pddl", p.name),
            problem: p.problem.to_string(),
        }
    }

    /// Parses and grounds the problem.
    pub fn ground(&self) -> Result<GroundTask, String> {
        let d = parse_domain_str(&self.domain, &self.domain_file).map_err(|e| e.to_string())?;
        let p = parse_problem_str(&self.problem, &self.problem_file).map_err(|e| e.to_string())?;
        ground(&d, &p).map_err(|e| e.to_string())
    }
}

/// The embedded problems (quick runs and the demo).
pub fn embedded_problems() -> Vec<ProblemSource> {
    data::PROBLEMS.iter().map(ProblemSource::embedded).collect()
}

/// The problems of a full run: every problem of a PDDL suite folder (one folder per domain,
/// each with `domain.pddl`), plus the embedded hand-written examples of `extra/`.
pub fn suite_problems(opts: &RunOptions) -> Result<Vec<ProblemSource>, LabError> {
    let dir = match &opts.pddl_dir {
        Some(d) => {
            if !d.is_dir() {
                return Err(LabError::Input(format!(
                    "{}: not a folder (expected a PDDL suite with one folder per domain)",
                    d.display()
                )));
            }
            d.clone()
        }
        None => {
            let d = data::repo_pddl_dir();
            if !d.is_dir() {
                return Ok(embedded_problems());
            }
            d
        }
    };
    let mut out: Vec<ProblemSource> = data::PROBLEMS
        .iter()
        .filter(|p| p.name.starts_with("extra/"))
        .map(ProblemSource::embedded)
        .collect();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| LabError::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("domain.pddl").is_file())
        .collect();
    folders.sort();
    for f in folders {
        let domain_path = f.join("domain.pddl");
        let domain =
            std::fs::read_to_string(&domain_path).map_err(|e| LabError::io(&domain_path, e))?;
        let mut probs: Vec<PathBuf> = std::fs::read_dir(&f)
            .map_err(|e| LabError::io(&f, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "pddl")
                    && p.file_name().is_some_and(|n| n != "domain.pddl")
            })
            .collect();
        probs.sort_by_key(|p| natural_key(p));
        let folder = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for p in probs {
            let text = std::fs::read_to_string(&p).map_err(|e| LabError::io(&p, e))?;
            let stem = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            out.push(ProblemSource {
                name: format!("{folder}/{stem}"),
                domain_file: domain_path.display().to_string(),
                domain: domain.clone(),
                problem_file: p.display().to_string(),
                problem: text,
            });
        }
    }
    Ok(out)
}

/// Sort key that orders `p2` before `p10`.
fn natural_key(p: &Path) -> Vec<(String, u64)> {
    let s = p
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let mut key = Vec::new();
    let mut text = String::new();
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
        } else {
            if !num.is_empty() {
                key.push((std::mem::take(&mut text), num.parse().unwrap_or(0)));
                num.clear();
            }
            text.push(ch);
        }
    }
    key.push((text, num.parse().unwrap_or(0)));
    key
}

/// The problems of a run.
pub fn problems(opts: &RunOptions) -> Result<Vec<ProblemSource>, LabError> {
    if opts.quick {
        Ok(embedded_problems())
    } else {
        suite_problems(opts)
    }
}

/// Memory limit of the lab's planning graphs (512 MiB): the suite runs many problems in one
/// process.
pub const LAB_GRAPH_BYTES: usize = 1 << 29;

/// Settings of one measured run.
#[derive(Clone, Debug)]
pub struct MeasureSettings {
    /// The planner's limits: the run's time limit (at most 5 s with `--quick`) and
    /// [`LAB_GRAPH_BYTES`].
    pub limits: Limits,
    /// Exact state enumeration only for tasks with at most this many ground facts.
    pub exact_max_facts: usize,
    /// Stop the exact enumeration beyond this many states.
    pub exact_state_cap: usize,
    /// How many levels past the last Graphplan level to enumerate when there is no plan.
    pub exact_extra_levels: usize,
}

impl MeasureSettings {
    pub fn for_run(opts: &RunOptions) -> Self {
        MeasureSettings {
            limits: Limits {
                time_limit: Some(if opts.quick {
                    opts.time_limit.min(Duration::from_secs(5))
                } else {
                    opts.time_limit
                }),
                max_graph_bytes: LAB_GRAPH_BYTES,
                ..Limits::default()
            },
            exact_max_facts: if opts.quick { 60 } else { 120 },
            exact_state_cap: if opts.quick { 20_000 } else { 200_000 },
            exact_extra_levels: 2,
        }
    }
}

/// One problem, measured.
pub struct Measured {
    pub source: ProblemSource,
    pub task: GroundTask,
    pub gp: GraphplanResult,
    /// Time to build the same planning graph without extraction (seconds).
    pub expansion_s: f64,
    /// First level of the relaxed planning graph (no deletes, no mutexes) with every goal.
    pub relaxed_level: Option<usize>,
    pub exact: Option<ExactReachability>,
}

impl Measured {
    /// First level where extraction was attempted.
    pub fn first_extraction(&self) -> Option<usize> {
        self.gp
            .levels
            .iter()
            .find(|l| l.extraction != Extraction::NotTried)
            .map(|l| l.level)
    }
    pub fn failed_extractions(&self) -> usize {
        self.gp
            .levels
            .iter()
            .filter(|l| l.extraction == Extraction::Failed)
            .count()
    }
    pub fn extraction_nodes(&self) -> u64 {
        self.gp.levels.iter().map(|l| l.search_nodes).sum()
    }
    pub fn memo_entries(&self) -> usize {
        self.gp.levels.iter().map(|l| l.memo_entries).sum()
    }
    /// Share of the run time spent outside graph expansion (extraction), in [0, 1].
    pub fn extraction_share(&self) -> Option<f64> {
        (self.gp.time_s > 0.0)
            .then(|| ((self.gp.time_s - self.expansion_s) / self.gp.time_s).clamp(0.0, 1.0))
    }
    /// First level at which one exactly reachable state holds every goal (the truth a
    /// state superposition would report), when the enumeration got that far.
    pub fn exact_goal_level(&self) -> Option<usize> {
        self.exact
            .as_ref()?
            .levels
            .iter()
            .find(|l| l.goal_state)
            .map(|l| l.level)
    }
    /// First level at which every pair of goals co-occurs in some reachable state.
    pub fn exact_pairs_level(&self) -> Option<usize> {
        self.exact
            .as_ref()?
            .levels
            .iter()
            .find(|l| l.goal_pairs_cooccur)
            .map(|l| l.level)
    }
    /// States reachable within `level` parallel steps (if enumerated).
    pub fn exact_states_at(&self, level: usize) -> Option<usize> {
        self.exact
            .as_ref()?
            .levels
            .iter()
            .find(|l| l.level == level)
            .map(|l| l.states)
    }
    /// All reachable states, when the enumeration exhausted the state space.
    pub fn total_states(&self) -> Option<usize> {
        let e = self.exact.as_ref()?;
        (e.exhausted && !e.truncated).then(|| e.levels.last().map_or(0, |l| l.states))
    }
    pub fn plan_actions(&self) -> Option<usize> {
        self.gp.outcome.plan().map(|p| p.len())
    }
}

/// Runs Graphplan (with the crate's own limits), times the expansion alone, and enumerates
/// exact reachable states when the task is small.
pub fn measure(source: ProblemSource, s: &MeasureSettings) -> Result<Measured, String> {
    let task = source.ground()?;
    let gp = graphplan(&task, &s.limits);
    // The same graph without extraction: build levels 0..=depth.
    let depth = gp.levels.len().saturating_sub(1);
    let t0 = Instant::now();
    let deadline = s.limits.deadline(t0);
    let mut g = PlanningGraph::new(&task);
    for _ in 0..depth {
        if g.expand(s.limits.max_graph_bytes, deadline).is_err() {
            break;
        }
    }
    let expansion_s = t0.elapsed().as_secs_f64();
    let relaxed_level = relaxed_goal_level(&task);
    let exact = (task.num_facts() <= s.exact_max_facts).then(|| {
        let max_level = match gp.summary.plan_level {
            Some(p) => p,
            None => depth + s.exact_extra_levels,
        };
        exact_reachable_by_level(&task, max_level, s.exact_state_cap)
    });
    Ok(Measured {
        source,
        task,
        gp,
        expansion_s,
        relaxed_level,
        exact,
    })
}

pub use superpose_util::median;
