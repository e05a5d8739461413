//! Grounding: typed instantiation of action schemas, static-predicate pruning (a predicate no
//! action changes is evaluated against the initial state while parameters are bound),
//! (in)equality, then relaxed-reachability pruning (facts and actions not reachable when delete
//! lists are ignored are dropped). Negative preconditions on changing predicates are compiled
//! into complementary facts `(not p)`.
//!
//! `ground` runs the phases in order: `symbols` (objects by type, predicates, initial
//! state), `instantiate` (schemas with static pruning, or driven by relaxed reachability where
//! static pruning leaves too many), `reach` (relaxed reachability) and `task` (goal, fact table
//! with complements, ground actions and their costs).

use std::fmt;
use std::time::Instant;

use fixedbitset::FixedBitSet;

use crate::pddl::{Domain, Problem};

mod instantiate;
mod reach;
mod symbols;
mod task;

use instantiate::{instantiate, Context};
use reach::relaxed_reachability;
use symbols::{collect_objects, InitAtoms, Interner, Predicates};
use task::{action_costs, Facts, Goal};

/// Grounding errors (bad references between domain and problem, or a limit reached).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroundError {
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    /// A [`GroundLimits`] limit was reached (`file`: the domain whose schemas were grounded).
    #[error("{file}: {message}")]
    LimitReached { file: String, message: String },
    /// A check of [`crate::check::check`] failed (with its `file:line:col`).
    #[error(transparent)]
    Pddl(#[from] crate::pddl::PddlError),
}

/// What grounding may spend: it stops with [`GroundError::LimitReached`] at the deadline, or
/// before the instantiated actions would take more than `max_bytes` ([`ground`] uses
/// [`GroundLimits::default`]: no deadline, 2 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroundLimits {
    pub deadline: Option<Instant>,
    pub max_bytes: usize,
    /// Bytes of instantiations the static enumeration may produce before grounding starts over
    /// driven by relaxed reachability (the same actions and facts, in discovery order; see
    /// `instantiate.rs`). Below it the task is exactly that of static pruning then relaxed
    /// reachability, order included.
    pub static_bytes: usize,
}

impl GroundLimits {
    /// The default `static_bytes`: 256 MiB. The largest grounding of the 521 shared problems
    /// (logistics98 prob28: 3.0 M instantiations, 153 thousand reachable) passes it.
    pub const STATIC_BYTES: usize = 256 << 20;
}

impl Default for GroundLimits {
    fn default() -> Self {
        GroundLimits {
            deadline: None,
            max_bytes: 2 << 30,
            static_bytes: GroundLimits::STATIC_BYTES,
        }
    }
}

/// A ground STRIPS action over fact indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroundAction {
    /// Schema name.
    pub schema: String,
    /// Object arguments.
    pub args: Vec<String>,
    pub pre: Vec<u32>,
    pub add: Vec<u32>,
    pub del: Vec<u32>,
}

impl GroundAction {
    /// The IPC form `(name arg ...)`.
    pub fn name(&self) -> String {
        let mut s = format!("({}", self.schema);
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s.push(')');
        s
    }
}

impl fmt::Display for GroundAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Counts reported by the grounder.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroundStats {
    /// Instantiations that passed type, static and (in)equality checks (with
    /// `reachability_driven`: the relaxed-reachable ones only).
    pub instantiated_actions: usize,
    /// The static enumeration passed its size limit and grounding was driven by relaxed
    /// reachability (the same actions; facts and actions in discovery order).
    pub reachability_driven: bool,
    /// Actions left after relaxed-reachability pruning.
    pub actions: usize,
    /// Facts left after relaxed-reachability pruning (including goal facts).
    pub facts: usize,
    /// Facts of static predicates (true in every state), removed from the task.
    pub static_facts: usize,
}

/// A ground STRIPS task: facts are indices `0..facts.len()`.
#[derive(Debug, Clone)]
pub struct GroundTask {
    pub domain_name: String,
    pub problem_name: String,
    /// Fact names, e.g. `(on a b)` or `(not (at t1 l2))` for a compiled negative precondition.
    pub facts: Vec<String>,
    pub actions: Vec<GroundAction>,
    pub init: Vec<u32>,
    pub goal: Vec<u32>,
    /// False when a static goal fact is false in the initial state (unsolvable by grounding).
    pub goal_satisfiable: bool,
    /// Each action's cost under IPC action costs; `None`: the domain has none (unit costs).
    pub costs: Option<Vec<f64>>,
    pub stats: GroundStats,
}

impl GroundTask {
    pub fn num_facts(&self) -> usize {
        self.facts.len()
    }
    /// The initial state as a bitset.
    pub fn init_state(&self) -> FixedBitSet {
        bitset(self.facts.len(), &self.init)
    }
    /// The goal as a bitset.
    pub fn goal_set(&self) -> FixedBitSet {
        bitset(self.facts.len(), &self.goal)
    }
    /// The cost of action `a` (1 without action costs).
    pub fn action_cost(&self, a: usize) -> f64 {
        self.costs.as_ref().map_or(1.0, |c| c[a])
    }
    /// The IPC name of its costs: `general` under action costs, else `unit`.
    pub fn cost_kind(&self) -> &'static str {
        if self.costs.is_some() {
            "general"
        } else {
            "unit"
        }
    }
    /// Look an action up by its IPC name (case-insensitive, whitespace-normalised).
    pub fn action_by_name(&self, name: &str) -> Option<usize> {
        let norm = normalise_call(name);
        self.actions.iter().position(|a| a.name() == norm)
    }
}

/// Normalise `( Pick-Up  A )` to `(pick-up a)`.
pub fn normalise_call(s: &str) -> String {
    let inner = s.trim().trim_start_matches('(').trim_end_matches(')');
    format!(
        "({})",
        inner
            .split_whitespace()
            .map(|t| t.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

pub(crate) fn bitset(n: usize, items: &[u32]) -> FixedBitSet {
    let mut b = FixedBitSet::with_capacity(n);
    for &i in items {
        b.insert(i as usize);
    }
    b
}

fn invalid(file: &str, message: String) -> GroundError {
    GroundError::Invalid {
        file: file.to_string(),
        message,
    }
}

/// [`ground_within`] the default limits (no deadline, 2 GiB of instantiations).
pub fn ground(domain: &Domain, problem: &Problem) -> Result<GroundTask, GroundError> {
    ground_within(domain, problem, &GroundLimits::default())
}

/// Ground `problem` against `domain`: check the references, intern objects and predicates,
/// instantiate each schema with static pruning, prune by relaxed reachability, then build the
/// STRIPS task with negative literals compiled into complement facts. Stops with
/// [`GroundError::LimitReached`] when `limits` are reached while instantiating.
pub fn ground_within(
    domain: &Domain,
    problem: &Problem,
    limits: &GroundLimits,
) -> Result<GroundTask, GroundError> {
    crate::check::check(domain, problem)?;
    let mut it = Interner::default();
    let objects_of_type = collect_objects(domain, problem, &mut it)?;
    let preds = Predicates::intern(domain, &mut it);
    let init = InitAtoms::collect(problem, &it, &preds)?;
    let cx = Context {
        domain,
        objects_of_type: &objects_of_type,
        preds: &preds,
        init: &init,
    };
    let (insts, reachability_driven) = instantiate(&cx, &mut it, limits)?;
    let reach = relaxed_reachability(&init.fluent, &insts);
    let goal = Goal::collect(problem, &it, &preds, &init)?;
    let facts = Facts::new(&reach, &goal, &insts, &it);
    let actions = facts.actions(&insts, &reach, domain, &it);
    let costs = action_costs(domain, problem, &actions)?;
    let stats = GroundStats {
        instantiated_actions: insts.len(),
        reachability_driven,
        actions: actions.len(),
        facts: facts.names.len(),
        static_facts: init.static_count,
    };
    Ok(GroundTask {
        domain_name: domain.name.clone(),
        problem_name: problem.name.clone(),
        init: facts.init(&init),
        goal: facts.goal(&goal),
        facts: facts.names,
        actions,
        goal_satisfiable: goal.satisfiable,
        costs,
        stats,
    })
}
