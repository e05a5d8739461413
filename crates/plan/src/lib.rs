//! superpose-plan: Graphplan (Blum & Furst 1997) for STRIPS PDDL, with per-level diagnostics
//! that put the planning graph's union projection next to the true reachable state sets, plus
//! state-space baselines (BFS, A* with h_max, greedy best-first with h_FF) and a plan validator.
//!
//! # Public API
//!
//! ```no_run
//! use superpose_plan::*;
//! let domain = parse_domain("data/pddl/blocks/domain.pddl")?;
//! let problem = parse_problem("data/pddl/blocks/probBLOCKS-4-0.pddl")?;
//! let task = ground(&domain, &problem)?;                  // GroundTask (facts, actions, init, goal)
//! let r = graphplan(&task, &Limits::default());           // GraphplanResult
//! match &r.outcome {
//!     Outcome::Solved(plan) => {
//!         // Every plan is checked by simulation (lifted, against the PDDL) before use.
//!         validate_plan(&domain, &problem, &plan.ipc_calls(&task))?;
//!         print!("{}", plan.to_ipc(&task));
//!     }
//!     Outcome::Unsolvable { stage, .. } => println!("unsolvable at stage {stage}"),
//!     Outcome::LimitReached { reason } => println!("limit: {reason}"),
//! }
//! for l in &r.levels { println!("{} {} {}", l.level, l.facts, l.fact_mutex_pairs); }
//! println!("{:?}", r.summary);                            // goals first present / non-mutex, ...
//! let exact = exact_reachable_by_level(&task, 6, 100_000); // true reachable sets per level
//! let h = relaxed_goal_level(&task);                       // level of the relaxed (mutex-free) graph
//! let b = bfs(&task, &Limits::default());                  // also astar_hmax, gbfs_hff
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules, each readable alone: [`pddl`] (tokenizer, parser → AST), [`ground`] (typed
//! instantiation, pruning), [`graph`] ([`PlanningGraph`], [`Level`], [`Mutex`]), [`extract`]
//! (backward search with memoisation, Blum–Furst termination), [`sat`] (extraction as SAT; its
//! split actions in [`split`], its symmetry classes in [`symmetry`]), [`search`] (baselines),
//! [`validate`] (plan simulation, IPC plan files), [`diagnostics`] (per-level table, exact
//! reachability), [`bench`] (suite runner).

pub mod bench;
pub mod check;
pub mod diagnostics;
pub mod ebl;
pub mod extract;
pub mod fxhash;
pub mod graph;
pub mod ground;
pub mod heuristic;
mod levels;
pub mod lmcut;
pub mod pddl;
pub mod sat;
pub mod search;
mod sexpr;
pub mod split;
pub mod symmetry;
pub mod validate;

use std::time::Duration;

pub use check::check;
pub use diagnostics::{
    exact_reachable_by_level, relaxed_goal_level, ExactLevel, ExactReachability, Extraction,
    LevelDiagnostics,
};
pub use extract::{graphplan, graphplan_ebl, graphplan_sat};
pub use graph::{Level, Mutex, PlanningGraph};
pub use ground::{
    ground, ground_within, GroundAction, GroundError, GroundLimits, GroundStats, GroundTask,
};
pub use pddl::{parse_domain, parse_problem, Domain, PddlError, Problem};
pub use search::{astar_hmax, astar_lmcut, bfs, gbfs_hff, SearchResult};
pub use validate::{parse_plan_file, validate_plan, PlanError, ValidationError};

/// Any error of this crate (all are bad input).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pddl(#[from] PddlError),
    #[error(transparent)]
    Ground(#[from] GroundError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// Resource limits shared by all planners.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock limit (checked cooperatively).
    pub time_limit: Option<Duration>,
    /// Graphplan: stop after this many levels.
    pub max_levels: usize,
    /// Graphplan: stop when the stored graph would exceed this many bytes.
    pub max_graph_bytes: usize,
    /// State-space search: stop after storing this many states.
    pub max_states: usize,
    /// Grounding: stop before the instantiated actions would take more than this many bytes.
    pub max_ground_bytes: usize,
    /// graphplan-sat: how ground actions become variables (split components by default; the
    /// direct representation, a variable per action, is the ablation baseline).
    pub sat_actions: sat::SatActions,
    /// graphplan-sat: how the encoding grows over the stages (double-ended once the graph has
    /// levelled off; forward only is the ablation baseline).
    pub sat_growth: sat::SatGrowth,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_limit: None,
            max_levels: 10_000,
            max_graph_bytes: 2 << 30,
            max_states: 20_000_000,
            max_ground_bytes: GroundLimits::default().max_bytes,
            sat_actions: sat::SatActions::default(),
            sat_growth: sat::SatGrowth::default(),
        }
    }
}

/// The longest time limit accepted, in seconds (one year): every deadline `now + limit` is then
/// representable as an `Instant`.
pub const MAX_TIME_LIMIT_S: f64 = 31_536_000.0;

/// The largest memory limit accepted (planning graph, grounding), in MiB (1 TiB).
pub const MAX_MEMORY_MB: usize = 1 << 20;

/// A time or memory limit out of range (bad input).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    #[error("{name} must be a number of seconds in (0, {MAX_TIME_LIMIT_S}], got {value}")]
    Time { name: String, value: f64 },
    #[error("{name} must be a number of MiB in 1..={MAX_MEMORY_MB}, got {value}")]
    Memory { name: String, value: usize },
}

impl Limits {
    /// Default limits with a time limit in seconds (an out-of-range value, see
    /// [`Limits::parse_time`], means no time limit).
    pub fn with_time(secs: f64) -> Self {
        Limits {
            time_limit: Limits::parse_time("time limit", secs).ok(),
            ..Default::default()
        }
    }

    /// Checks a time limit given in seconds (`name` is the flag or field that gave it): finite,
    /// positive and at most [`MAX_TIME_LIMIT_S`].
    pub fn parse_time(name: &str, secs: f64) -> Result<Duration, LimitError> {
        let bad = || LimitError::Time {
            name: name.to_string(),
            value: secs,
        };
        if !(secs > 0.0 && secs <= MAX_TIME_LIMIT_S) {
            return Err(bad());
        }
        Duration::try_from_secs_f64(secs).map_err(|_| bad())
    }

    /// Checks a memory limit in MiB and returns it in bytes (no wrap-around).
    pub fn parse_mib(name: &str, mb: usize) -> Result<usize, LimitError> {
        if !(1..=MAX_MEMORY_MB).contains(&mb) {
            return Err(LimitError::Memory {
                name: name.to_string(),
                value: mb,
            });
        }
        Ok(mb << 20)
    }

    /// The deadline of a run started at `start` (none without a time limit, or if the instant
    /// would overflow).
    pub fn deadline(&self, start: std::time::Instant) -> Option<std::time::Instant> {
        self.time_limit.and_then(|d| start.checked_add(d))
    }

    /// The grounding limits of a run started at `start`.
    pub fn ground_limits(&self, start: std::time::Instant) -> GroundLimits {
        GroundLimits {
            deadline: self.deadline(start),
            max_bytes: self.max_ground_bytes,
            ..GroundLimits::default()
        }
    }

    /// These limits for what is left of a run started at `start` (the time limit less the time
    /// spent, e.g. on parsing and grounding).
    pub fn remaining(&self, start: std::time::Instant) -> Limits {
        let mut lim = self.clone();
        if let Some(t) = lim.time_limit {
            lim.time_limit = Some(t.saturating_sub(start.elapsed()));
        }
        lim
    }
}

/// A plan as parallel steps of ground-action indices (a sequential plan has one per step).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    pub steps: Vec<Vec<usize>>,
}

impl Plan {
    /// A sequential plan, one action per step.
    pub fn sequential(actions: Vec<usize>) -> Self {
        Plan {
            steps: actions.into_iter().map(|a| vec![a]).collect(),
        }
    }
    /// Number of actions.
    pub fn len(&self) -> usize {
        self.steps.iter().map(Vec::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of (parallel) steps, empty steps included.
    pub fn num_steps(&self) -> usize {
        self.steps.len()
    }
    /// The actions in order (steps linearised; actions within a step are non-interfering).
    pub fn linearise(&self) -> Vec<usize> {
        self.steps.iter().flatten().copied().collect()
    }
    /// The sequential plan as `(name arg ...)` strings.
    pub fn ipc_calls(&self, task: &GroundTask) -> Vec<String> {
        self.linearise()
            .into_iter()
            .map(|a| task.actions[a].name())
            .collect()
    }
    /// The plan's cost: its number of actions, or the sum of their costs under IPC action
    /// costs.
    pub fn cost(&self, task: &GroundTask) -> f64 {
        self.steps
            .iter()
            .flatten()
            .map(|&a| task.action_cost(a))
            // Not `sum()`: an empty f64 sum is -0.0, printed `; cost = -0`.
            .fold(0.0, |c, x| c + x)
    }
    /// The IPC plan file's last line: `; cost = N (unit cost)`, or `(general cost)` under
    /// action costs.
    fn cost_line(&self, task: &GroundTask) -> String {
        format!("; cost = {} ({} cost)\n", self.cost(task), task.cost_kind())
    }
    /// IPC sequential plan text: one `(action arg ...)` per line, the cost line last.
    pub fn to_ipc(&self, task: &GroundTask) -> String {
        let mut s = String::new();
        for c in self.ipc_calls(task) {
            s.push_str(&c);
            s.push('\n');
        }
        s.push_str(&self.cost_line(task));
        s
    }
    /// IPC sequential plan with a `; step k` comment before each parallel step (Graphplan).
    pub fn to_ipc_with_steps(&self, task: &GroundTask) -> String {
        let mut s = String::new();
        for (i, step) in self.steps.iter().enumerate() {
            s.push_str(&format!("; step {}\n", i + 1));
            for &a in step {
                s.push_str(&task.actions[a].name());
                s.push('\n');
            }
        }
        s.push_str(&self.cost_line(task));
        s
    }
    /// The parallel plan: `step: (action ...)` lines, steps numbered from 1.
    pub fn to_parallel(&self, task: &GroundTask) -> String {
        let mut s = String::new();
        for (i, step) in self.steps.iter().enumerate() {
            for &a in step {
                s.push_str(&format!("{}: {}\n", i + 1, task.actions[a].name()));
            }
        }
        s
    }
}

/// How a planner run ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Outcome {
    Solved(Plan),
    /// Proved unsolvable (Graphplan: at this stage; search: state space exhausted).
    Unsolvable {
        stage: usize,
        reason: String,
    },
    LimitReached {
        reason: String,
    },
}

impl Outcome {
    /// `"solved"`, `"unsolvable"` or `"limit"`.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Solved(_) => "solved",
            Outcome::Unsolvable { .. } => "unsolvable",
            Outcome::LimitReached { .. } => "limit",
        }
    }
    pub fn plan(&self) -> Option<&Plan> {
        match self {
            Outcome::Solved(p) => Some(p),
            _ => None,
        }
    }
}

/// The reference-level summary of a Graphplan run (the columns of the data READMEs).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GraphplanSummary {
    pub goals_first_present: Option<usize>,
    pub goals_first_non_mutex: Option<usize>,
    /// `Some(n)`: `P_{n+1} = P_n` was detected while building the graph.
    pub leveled_off_at: Option<usize>,
    pub extraction_failed_at: Vec<usize>,
    pub plan_level: Option<usize>,
    pub unsolvable_at: Option<usize>,
    /// graphplan-sat solved the first stage on the graph built inside the goals' cone only
    /// (`PlanningGraph::goal_cone`): the rows count the cone's facts, actions and mutexes.
    pub goal_cone_only: bool,
}

/// Result of [`graphplan`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct GraphplanResult {
    pub outcome: Outcome,
    /// One row per fact level built.
    pub levels: Vec<LevelDiagnostics>,
    pub summary: GraphplanSummary,
    pub time_s: f64,
    pub ground: GroundStats,
}

/// Parse and ground in one call.
pub fn load(
    domain: impl AsRef<std::path::Path>,
    problem: impl AsRef<std::path::Path>,
) -> Result<(Domain, Problem, GroundTask), Error> {
    load_within(domain, problem, &GroundLimits::default())
}

/// Parse and ground in one call, grounding within `limits`.
pub fn load_within(
    domain: impl AsRef<std::path::Path>,
    problem: impl AsRef<std::path::Path>,
    limits: &GroundLimits,
) -> Result<(Domain, Problem, GroundTask), Error> {
    let d = parse_domain(domain)?;
    let p = parse_problem(problem)?;
    let t = ground_within(&d, &p, limits)?;
    Ok((d, p, t))
}

/// The planners of this crate. With the `clap` feature it is the binary's `--algo` value
/// (the names of [`Algo::name`], these doc comments as the help).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Algo {
    /// Graphplan (Blum & Furst): planning graph with mutexes, memoised backward extraction.
    Graphplan,
    /// Graphplan with EBL/DDB extraction (Kambhampati 2000): learned nogoods, backjumping.
    GraphplanEbl,
    /// Graphplan with extraction by SAT (Kautz & Selman's Blackbox): the graph as CNF, CaDiCaL, incremental over levels.
    GraphplanSat,
    /// Breadth-first search over states (optimal sequential length).
    Bfs,
    /// A* over states with h_max (optimal: least cost under IPC action costs, else fewest actions).
    AstarHmax,
    /// A* over states with LM-cut (Helmert & Domshlak 2009; optimal as astar-hmax, better informed).
    AstarLmcut,
    /// Greedy best-first search over states with h_FF.
    GbfsHff,
}

impl Algo {
    pub const ALL: [Algo; 7] = [
        Algo::Graphplan,
        Algo::GraphplanEbl,
        Algo::GraphplanSat,
        Algo::Bfs,
        Algo::AstarHmax,
        Algo::AstarLmcut,
        Algo::GbfsHff,
    ];
    /// CLI name: `graphplan`, `graphplan-ebl`, `graphplan-sat`, `bfs`, `astar-hmax`,
    /// `astar-lmcut`, `gbfs-hff`.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Graphplan => "graphplan",
            Algo::GraphplanEbl => "graphplan-ebl",
            Algo::GraphplanSat => "graphplan-sat",
            Algo::Bfs => "bfs",
            Algo::AstarHmax => "astar-hmax",
            Algo::AstarLmcut => "astar-lmcut",
            Algo::GbfsHff => "gbfs-hff",
        }
    }
}

/// Result of [`run_algo`]: the outcome plus the Graphplan diagnostics when it ran.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunResult {
    pub outcome: Outcome,
    pub time_s: f64,
    pub graphplan: Option<GraphplanResult>,
    /// State-space search: states expanded.
    pub expanded: Option<usize>,
}

/// Run one planner on a ground task.
pub fn run_algo(task: &GroundTask, algo: Algo, limits: &Limits) -> RunResult {
    let from_search = |r: SearchResult| RunResult {
        outcome: r.outcome,
        time_s: r.time_s,
        graphplan: None,
        expanded: Some(r.expanded),
    };
    match algo {
        Algo::Graphplan | Algo::GraphplanEbl | Algo::GraphplanSat => {
            let r = match algo {
                Algo::Graphplan => graphplan(task, limits),
                Algo::GraphplanEbl => graphplan_ebl(task, limits),
                _ => graphplan_sat(task, limits),
            };
            RunResult {
                outcome: r.outcome.clone(),
                time_s: r.time_s,
                graphplan: Some(r),
                expanded: None,
            }
        }
        Algo::Bfs => from_search(bfs(task, limits)),
        Algo::AstarHmax => from_search(astar_hmax(task, limits)),
        Algo::AstarLmcut => from_search(astar_lmcut(task, limits)),
        Algo::GbfsHff => from_search(gbfs_hff(task, limits)),
    }
}
