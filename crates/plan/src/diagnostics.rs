//! Per-level diagnostics: the planning graph's union projection next to the true reachable
//! state sets.
//!
//! Level `k` of the planning graph is a disjunctive projection of the states reachable in `k`
//! parallel steps: a fact is in `P_k` iff it holds in one of them (relaxed reachability), and a
//! pair that co-occurs in one of them is never mutex (Kambhampati, ECP-97). The exact columns
//! enumerate those states by breadth-first search, a parallel step being any non-empty set of
//! applicable actions that pairwise do not interfere (no inconsistent effects, no interference).

use crate::fxhash::FxHashSet as HashSet;

use fixedbitset::FixedBitSet;

use crate::ground::GroundTask;
use crate::sat::SatAnswer;

/// What extraction did at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Extraction {
    NotTried,
    Failed,
    Succeeded,
}

/// One row of the per-level table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LevelDiagnostics {
    pub level: usize,
    /// Facts in `P_level`.
    pub facts: usize,
    /// Mutex fact pairs in `P_level`.
    pub fact_mutex_pairs: usize,
    /// Ground actions (no-ops excluded) in `A_{level-1}`, the layer leading here (0 at level 0).
    pub actions: usize,
    /// Mutex operator pairs (no-ops included) in `A_{level-1}`; `None` (`null`, `-` in the
    /// trace) where they were not counted: graphplan-sat's graphs decide operator pairs on demand
    /// and keep no operator mutex rows ([`crate::graph::PlanningGraph::without_op_mutexes`]).
    pub action_mutex_pairs: Option<usize>,
    pub goals_present: bool,
    pub goals_non_mutex: bool,
    /// The graph had levelled off at or before this level (known when this row was written).
    pub leveled_off: bool,
    pub extraction: Extraction,
    /// Failed goal sets memoised at this level (at the end of the run).
    pub memo_entries: usize,
    /// Operators tried by extraction in stage `level` (no-ops included).
    pub search_nodes: u64,
    /// Memo hits in stage `level`.
    pub memo_hits: u64,
    /// `--exact`: states reachable within `level` parallel steps.
    pub exact_states: Option<usize>,
    /// `--exact`: does one of them hold every goal?
    pub exact_goal_state: Option<bool>,
    /// `graphplan-sat`: the solver's answer, learned clauses and time at this stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sat: Option<crate::sat::SatStage>,
}

/// Exact reachability within `level` parallel steps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExactLevel {
    pub level: usize,
    /// States reachable within `level` steps (cumulative).
    pub states: usize,
    /// Does some such state hold every goal?
    pub goal_state: bool,
    /// Does every goal hold in some such state (the union covers the goals)?
    pub goals_covered: bool,
    /// Does every pair of goals hold together in some such state?
    pub goal_pairs_cooccur: bool,
    /// Facts true in some such state (the exact union projection).
    pub union_facts: usize,
}

/// Result of [`exact_reachable_by_level`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExactReachability {
    pub levels: Vec<ExactLevel>,
    /// The state cap stopped the enumeration (later levels missing).
    pub truncated: bool,
    /// No new state appeared: the reachable set is complete.
    pub exhausted: bool,
}

fn interferes(task: &GroundTask, a: usize, b: usize) -> bool {
    let (x, y) = (&task.actions[a], &task.actions[b]);
    x.del.iter().any(|d| y.pre.contains(d) || y.add.contains(d))
        || y.del.iter().any(|d| x.pre.contains(d) || x.add.contains(d))
}

/// What the states seen so far say about the goals: the union projection, whether some state
/// holds every goal, and which goals and goal pairs hold in some state.
struct GoalObserver {
    goal: FixedBitSet,
    goals: Vec<usize>,
    union: FixedBitSet,
    any_goal_state: bool,
    goal_seen: Vec<bool>,
    /// `pair_seen[i * goals.len() + j]` for `i < j`.
    pair_seen: Vec<bool>,
}

impl GoalObserver {
    fn new(task: &GroundTask) -> Self {
        let goals: Vec<usize> = task.goal.iter().map(|&g| g as usize).collect();
        GoalObserver {
            goal: task.goal_set(),
            union: FixedBitSet::with_capacity(task.num_facts()),
            any_goal_state: false,
            goal_seen: vec![false; goals.len()],
            pair_seen: vec![false; goals.len() * goals.len()],
            goals,
        }
    }

    fn observe(&mut self, s: &FixedBitSet) {
        self.union.union_with(s);
        if self.goal.is_subset(s) {
            self.any_goal_state = true;
        }
        let n = self.goals.len();
        for (i, &g) in self.goals.iter().enumerate() {
            if s.contains(g) {
                self.goal_seen[i] = true;
                for (j, &h) in self.goals.iter().enumerate().skip(i + 1) {
                    if s.contains(h) {
                        self.pair_seen[i * n + j] = true;
                    }
                }
            }
        }
    }

    fn record(&self, level: usize, states: usize) -> ExactLevel {
        let n = self.goals.len();
        ExactLevel {
            level,
            states,
            goal_state: self.any_goal_state,
            goals_covered: self.goal_seen.iter().all(|&x| x),
            goal_pairs_cooccur: (0..n).all(|i| (i + 1..n).all(|j| self.pair_seen[i * n + j])),
            union_facts: self.union.count_ones(..),
        }
    }
}

/// Every non-empty set of pairwise non-interfering actions among `applicable[i..]` added to
/// `chosen` is one parallel step from `s`: `emit` gets each successor state and returns false
/// to stop (then this returns false). Include/exclude enumeration.
fn parallel_steps(
    task: &GroundTask,
    applicable: &[usize],
    i: usize,
    chosen: &mut Vec<usize>,
    s: &FixedBitSet,
    emit: &mut dyn FnMut(FixedBitSet) -> bool,
) -> bool {
    if i == applicable.len() {
        if chosen.is_empty() {
            return true;
        }
        let mut t = s.clone();
        for &a in chosen.iter() {
            for &d in &task.actions[a].del {
                t.set(d as usize, false);
            }
        }
        for &a in chosen.iter() {
            for &f in &task.actions[a].add {
                t.insert(f as usize);
            }
        }
        return emit(t);
    }
    let a = applicable[i];
    if chosen.iter().all(|&b| !interferes(task, a, b)) {
        chosen.push(a);
        let ok = parallel_steps(task, applicable, i + 1, chosen, s, emit);
        chosen.pop();
        if !ok {
            return false;
        }
    }
    parallel_steps(task, applicable, i + 1, chosen, s, emit)
}

/// Enumerate the states reachable within `0..=max_level` parallel steps by breadth-first
/// search, stopping (`truncated`) when more than `state_cap` states are stored or more than
/// `64 * state_cap` parallel steps were tried.
pub fn exact_reachable_by_level(
    task: &GroundTask,
    max_level: usize,
    state_cap: usize,
) -> ExactReachability {
    let init = task.init_state();
    let mut seen: HashSet<FixedBitSet> = HashSet::default();
    let mut steps_tried = 0usize;
    let step_budget = state_cap.saturating_mul(64);
    seen.insert(init.clone());
    let mut frontier = vec![init];
    let mut obs = GoalObserver::new(task);
    let mut out = ExactReachability {
        levels: Vec::new(),
        truncated: false,
        exhausted: false,
    };
    for s in &frontier {
        obs.observe(s);
    }
    out.levels.push(obs.record(0, seen.len()));
    'levels: for level in 1..=max_level {
        let mut next = Vec::new();
        for s in &frontier {
            let applicable: Vec<usize> = (0..task.actions.len())
                .filter(|&a| task.actions[a].pre.iter().all(|&p| s.contains(p as usize)))
                .collect();
            let mut emit = |t: FixedBitSet| -> bool {
                steps_tried += 1;
                if !seen.contains(&t) {
                    seen.insert(t.clone());
                    next.push(t);
                }
                // Parallel steps are subsets of the applicable actions; bound their number too.
                seen.len() <= state_cap && steps_tried <= step_budget
            };
            if !parallel_steps(task, &applicable, 0, &mut Vec::new(), s, &mut emit) {
                out.truncated = true;
                break 'levels;
            }
        }
        for s in &next {
            obs.observe(s);
        }
        out.levels.push(obs.record(level, seen.len()));
        if next.is_empty() {
            out.exhausted = true;
            break;
        }
        frontier = next;
    }
    out
}

/// The first level of the relaxed planning graph (no deletes, no mutexes) holding every goal:
/// `h_max` of the initial state in unit-cost steps; `None` if some goal is unreachable.
pub fn relaxed_goal_level(task: &GroundTask) -> Option<usize> {
    crate::heuristic::Relaxed::new(task).h_max(&task.init_state())
}

/// Format the per-level table (the `--trace` output).
pub fn format_table(levels: &[LevelDiagnostics]) -> String {
    let exact = levels.iter().any(|l| l.exact_states.is_some());
    let mut s = String::from("level  facts  fact-mutex  actions  action-mutex  goals    non-mutex  extraction  memo  nodes");
    if exact {
        s.push_str("  exact-states  goal-state");
    }
    let sat = levels.iter().any(|l| l.sat.is_some());
    if sat {
        s.push_str("  sat        learned  sat-s");
    }
    s.push('\n');
    for l in levels {
        let ext = match l.extraction {
            Extraction::NotTried => "-",
            Extraction::Failed => "failed",
            Extraction::Succeeded => "PLAN",
        };
        s.push_str(&format!(
            "{:>5}  {:>5}  {:>10}  {:>7}  {:>12}  {:<7}  {:<9}  {:<10}  {:>4}  {:>5}",
            format!("{}{}", l.level, if l.leveled_off { "*" } else { "" }),
            l.facts,
            l.fact_mutex_pairs,
            l.actions,
            l.action_mutex_pairs
                .map_or_else(|| "-".to_string(), |n| n.to_string()),
            if l.goals_present { "present" } else { "absent" },
            if l.goals_non_mutex { "yes" } else { "no" },
            ext,
            l.memo_entries,
            l.search_nodes
        ));
        if exact {
            match (l.exact_states, l.exact_goal_state) {
                (Some(n), Some(g)) => {
                    s.push_str(&format!("  {:>12}  {}", n, if g { "yes" } else { "no" }))
                }
                _ => s.push_str("             -  -"),
            }
        }
        if sat {
            match &l.sat {
                Some(st) => s.push_str(&format!(
                    "  {:<7}  {:>9}  {:.3}",
                    format!("{}{}", sat_word(st.answer), if st.cone { " c" } else { "" }),
                    st.learned_clauses,
                    st.encode_s + st.solve_s
                )),
                None => s.push_str("  -                -  -"),
            }
        }
        s.push('\n');
    }
    s.push_str("(* = graph levelled off; memo = failed goal sets (graphplan-ebl: nogoods) stored at the level; nodes = operators tried in that stage)\n");
    if sat {
        s.push_str("(graphplan-sat: sat = CaDiCaL's answer with the goals at this level assumed; learned = clauses it learned (one per conflict analysis; decisions are not exposed by the cadical crate); sat-s = encoding + solving seconds; c = answered on the goals' relevance cone alone, in a fresh solver: the first attempt, solved again on the whole graph where it is UNSAT)\n");
    }
    for l in levels {
        if let Some(st) = l.sat.as_ref().filter(|st| st.answer == SatAnswer::Unsat) {
            s.push_str(&format!(
                "level {}: the union looks reached (goals present, pairwise non-mutex) but the solver proves UNSAT ({} learned clauses)\n",
                l.level, st.learned_clauses
            ));
        }
    }
    s
}

fn sat_word(a: SatAnswer) -> &'static str {
    match a {
        SatAnswer::Sat => "SAT",
        SatAnswer::Unsat => "UNSAT",
        SatAnswer::Unknown => "unknown",
    }
}
