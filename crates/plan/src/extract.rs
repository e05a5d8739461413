//! Solution extraction and the Graphplan stage loop.
//!
//! Extraction is the backward search of the original `planner.c` (`basicplan`): the goals of a
//! level are handled one at a time from the last index; a goal already made true by a chosen
//! action is skipped ("made true by luck"); achievers are tried no-op first; an achiever mutex
//! with a chosen one is skipped; after a choice every remaining goal must still have a
//! non-excluded achiever (`goals_still_possible`); when a level is covered, the precondition set
//! is looked up in the memo of failed goal sets of the previous level (`lookup_bad`, keyed by a
//! goal bitset), non-minimal action sets are rejected (`action_set_is_minimal`), and a failed
//! set is memoised (`insert_bad`).
//!
//! Termination (Blum & Furst 1997, §3.2, Theorem 1; the `planner.c` completeness check): once
//! the graph has levelled off at `n`, if a failed stage `t > n` leaves the number of memoised
//! sets at level `n` unchanged from the previous failed stage, no plan exists.

use crate::fxhash::FxHashSet as HashSet;
use std::time::Instant;

use fixedbitset::FixedBitSet;

use crate::diagnostics::{Extraction, LevelDiagnostics};
use crate::ebl::{EblExtractor, NogoodMemo};
use crate::graph::{ExpandError, PlanningGraph};
use crate::ground::GroundTask;
use crate::levels::{fact_set, with_stack, Levels, SearchStats};
use crate::sat::{SatAnswer, SatExtractor, SatStage, SatTask};
use crate::{GraphplanResult, GraphplanSummary, Limits, Outcome, Plan};

/// Backward search state over a planning graph.
pub struct Extractor<'g> {
    g: &'g PlanningGraph,
    /// `memo[i]`: goal sets proven unachievable at level `i` (as fact bitsets).
    pub memo: Vec<HashSet<FixedBitSet>>,
    /// Per-level counters, chosen operators and extracted steps.
    lv: Levels<u32>,
    pub stats: SearchStats,
}

impl<'g> Extractor<'g> {
    pub fn new(g: &'g PlanningGraph, deadline: Option<Instant>) -> Self {
        Extractor {
            g,
            memo: Vec::new(),
            lv: Levels::new(g.n_facts),
            stats: SearchStats::new(deadline),
        }
    }

    /// Stage `t`: try to extract a plan for `goals` from level `t`. On failure the goal set is
    /// memoised at level `t` (as `do_plan` does). Returns the steps on success.
    pub fn extract(&mut self, t: usize, goals: &[u32]) -> Option<Vec<Vec<u32>>> {
        while self.memo.len() <= t {
            self.memo.push(HashSet::default());
        }
        self.lv.ensure(t, self.g.n_facts);
        self.stats.nodes = 0;
        self.lv.mark_goals(t, goals, true);
        let ok = with_stack(
            self,
            |e| &mut e.lv.stack_room,
            goals.len(),
            |e| e.solve_level(t, goals),
        );
        self.lv.mark_goals(t, goals, false);
        if ok {
            return Some(self.lv.steps[..t].to_vec());
        }
        if !self.stats.aborted {
            self.memo[t].insert(fact_set(self.g.n_facts, goals));
        }
        None
    }

    /// Cover the goals of level `t` (marked in `used[t]`) with operators of `A_{t-1}`.
    fn solve_level(&mut self, t: usize, goals: &[u32]) -> bool {
        if t == 0 {
            return true; // goals at level 0 are preconditions of A_0 operators, so in P_0
        }
        let excluded = FixedBitSet::with_capacity(self.g.n_ops);
        let mut subgoals = Vec::new();
        self.assign(t, goals, goals.len() as isize - 1, &excluded, &mut subgoals)
    }

    fn goals_still_possible(
        &self,
        t: usize,
        goals: &[u32],
        upto: usize,
        excluded: &FixedBitSet,
    ) -> bool {
        let is_true = &self.lv.is_true[t];
        goals[..upto].iter().all(|&g| {
            // A goal already made true by a chosen operator keeps that (non-excluded) achiever.
            is_true[g as usize] > 0
                || self
                    .g
                    .achievers(t, g as usize)
                    .iter()
                    .any(|&op| !excluded.contains(op as usize))
        })
    }

    fn assign(
        &mut self,
        t: usize,
        goals: &[u32],
        mut cindex: isize,
        excluded: &FixedBitSet,
        subgoals: &mut Vec<u32>,
    ) -> bool {
        if self.stats.aborted {
            return false;
        }
        // Skip goals made true "by luck" by an operator already chosen at this step.
        while cindex >= 0 && self.lv.is_true[t][goals[cindex as usize] as usize] > 0 {
            cindex -= 1;
        }
        if cindex < 0 {
            return self.next_level(t, subgoals);
        }
        let v = goals[cindex as usize] as usize;
        let g = self.g;
        // Reuse a pooled bitset for the exclusion set of this choice point.
        let mut excl = self.lv.pool.pop().unwrap_or_default();
        let result = 'choices: {
            for &op in g.achievers(t, v) {
                let op = op as usize;
                if excluded.contains(op) {
                    continue; // mutex with an operator already chosen
                }
                excl.clone_from(excluded);
                excl.union_with(g.op_mutex_row(t - 1, op));
                if !self.goals_still_possible(t, goals, cindex as usize, &excl) {
                    continue;
                }
                if self.stats.tick() {
                    break 'choices false;
                }
                // Commit: add effects become true at t, preconditions become goals at t-1.
                let mark = self.lv.commit(g, t, op, op as u32, subgoals);
                let ok = self.assign(t, goals, cindex - 1, &excl, subgoals);
                self.lv.undo(g, t, op, subgoals, mark);
                if ok {
                    break 'choices true;
                }
                if self.stats.aborted {
                    break 'choices false;
                }
            }
            false
        };
        self.lv.pool.push(excl);
        result
    }

    /// All goals of level `t` are covered: recurse on the precondition set at `t-1`.
    fn next_level(&mut self, t: usize, subgoals: &[u32]) -> bool {
        // Memo lookup (`lookup_bad`) in a reused buffer; a key is allocated only on a miss.
        let key = self.lv.key(subgoals);
        if self.memo[t - 1].contains(key) {
            self.stats.memo_hits += 1;
            return false;
        }
        let key = key.clone();
        // Minimality: every chosen operator must be the only achiever of some goal at t.
        let g = self.g;
        let minimal = self.lv.chosen[t].iter().all(|&op| {
            g.op_add[op as usize]
                .iter()
                .any(|&f| self.lv.used[t][f as usize] > 0 && self.lv.is_true[t][f as usize] == 1)
        });
        if !minimal {
            return false;
        }
        let sub: Vec<u32> = subgoals.to_vec();
        let ok = with_stack(
            self,
            |e| &mut e.lv.stack_room,
            sub.len(),
            |e| e.solve_level(t - 1, &sub),
        );
        if ok {
            let acts: Vec<u32> = self.lv.chosen[t]
                .iter()
                .copied()
                .filter(|&op| !g.is_noop(op as usize))
                .collect();
            self.lv.steps[t - 1] = acts;
        } else if !self.stats.aborted {
            self.memo[t - 1].insert(key);
        }
        ok
    }
}

/// Run Graphplan: expand the graph stage by stage, extract when the goals are present and
/// pairwise non-mutex, stop with a plan, a proof of unsolvability, or at a limit.
pub fn graphplan(task: &GroundTask, limits: &Limits) -> GraphplanResult {
    graphplan_with(task, limits, Search::Classic)
}

/// Graphplan with EBL/DDB extraction ([`crate::ebl`]): the same graph, stages and step-optimal
/// plans, usually far fewer search nodes; unsolvability is proved only by the level-off test.
pub fn graphplan_ebl(task: &GroundTask, limits: &Limits) -> GraphplanResult {
    graphplan_with(task, limits, Search::Ebl)
}

/// Graphplan with extraction by SAT ([`crate::sat`], CaDiCaL): the same graph and stages, the
/// same step-optimal number of levels. The first stage is tried on the graph built inside the
/// goals' cone only ([`PlanningGraph::goal_cone`]); the full graph is built when that fails,
/// also without operator mutex rows ([`PlanningGraph::without_op_mutexes`]).
/// Unsolvability is proved by the level-off test, or, once the graph has levelled off and a
/// stage past it is UNSAT, by exhausting the state space (breadth-first search with a state
/// budget that doubles at each such stage).
pub fn graphplan_sat(task: &GroundTask, limits: &Limits) -> GraphplanResult {
    graphplan_with(task, limits, Search::Sat)
}

/// Which extraction the stage loop runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Search {
    Classic,
    Ebl,
    Sat,
}

fn graphplan_with(task: &GroundTask, limits: &Limits, search: Search) -> GraphplanResult {
    let start = Instant::now();
    // What SAT's encoding takes from the task, found once for the goal-cone graph and the
    // full graph.
    let prep = match search {
        Search::Sat => SatTask {
            growth: limits.sat_growth,
            ..SatTask::new(task, limits.sat_actions)
        },
        _ => SatTask::default(),
    };
    let on_cone = match search {
        Search::Sat => sat_on_goal_cone(task, limits, start, &prep),
        _ => OnGoalCone::NotTried,
    };
    let run = |attempt| run_stages(task, limits, search, start, &prep, attempt);
    let mut r = match on_cone {
        OnGoalCone::Solved(r) => *r,
        OnGoalCone::Unsat(attempt) => run(Some(attempt)),
        OnGoalCone::NotTried => run(None),
    };
    // Level-off at n is detected while building P_{n+1}; mark every row from n on.
    if let Some(n) = r.summary.leveled_off_at {
        for l in &mut r.levels {
            l.leveled_off = l.level >= n;
        }
    }
    r
}

/// The memo kept across stages. An extractor borrows the graph, which grows between stages, so
/// each stage makes a new one and hands it the memo.
enum StageMemo {
    /// `planner.c`'s failed goal sets per level (exact match).
    FailedSets(Vec<HashSet<FixedBitSet>>),
    /// EBL/DDB nogoods per level (subset match).
    Nogoods(Vec<NogoodMemo>),
    /// One incremental SAT problem over all levels (its learned clauses play the memo's part),
    /// and the attempts at proving unsolvability by exhaustion.
    Sat(Box<SatExtractor>, ExhaustionProof),
}

impl StageMemo {
    /// Extract a plan for `goals` from level `t` of `g` with this memo's search.
    fn extract(
        &mut self,
        g: &PlanningGraph,
        deadline: Option<Instant>,
        t: usize,
        goals: &[u32],
    ) -> (Option<Vec<Vec<u32>>>, SearchStats) {
        match self {
            StageMemo::FailedSets(memo) => {
                let mut ex = Extractor::new(g, deadline);
                ex.memo = std::mem::take(memo);
                let r = ex.extract(t, goals);
                *memo = ex.memo;
                (r, ex.stats)
            }
            StageMemo::Nogoods(nogoods) => {
                let mut ex = EblExtractor::new(g, deadline);
                ex.nogoods = std::mem::take(nogoods);
                let r = ex.extract(t, goals);
                *nogoods = ex.nogoods;
                (r, ex.stats)
            }
            StageMemo::Sat(sat, _) => {
                let (r, stage) = sat.extract(g, deadline, t, goals);
                let mut stats = SearchStats::new(deadline);
                stats.aborted = stage.answer == SatAnswer::Unknown;
                (r, stats)
            }
        }
    }

    /// The solver's view of stage `t` (SAT extraction only).
    fn sat_stage(&self, t: usize) -> Option<SatStage> {
        match self {
            StageMemo::Sat(sat, _) => sat.stages.get(t).cloned().flatten(),
            _ => None,
        }
    }

    /// After a failed stage past the level-off: a proof that no plan exists, if this search has
    /// one. Classic memos: Blum & Furst's fixpoint (`prev` holds the memo count of the previous
    /// failed stage). SAT: the reachable state space exhausted within the current budget.
    fn unsolvable_after(
        &mut self,
        task: &GroundTask,
        n: usize,
        t: usize,
        prev: &mut Option<usize>,
        deadline: Option<Instant>,
        run_time: std::time::Duration,
    ) -> Option<String> {
        match self {
            StageMemo::FailedSets(_) => {
                let cur = self.len_at(n);
                if *prev == Some(cur) {
                    return Some(format!(
                        "memo fixpoint: {cur} failed goal sets at the levelled-off level {n}, unchanged over stage {t}"
                    ));
                }
                *prev = Some(cur);
                None
            }
            StageMemo::Nogoods(_) => None,
            StageMemo::Sat(_, proof) => proof.attempt(task, t, n, deadline, run_time),
        }
    }

    /// Number of goal sets (or nogoods) memoised at level `i`.
    fn len_at(&self, i: usize) -> usize {
        match self {
            StageMemo::FailedSets(m) => m.get(i).map_or(0, |s| s.len()),
            StageMemo::Nogoods(m) => m.get(i).map_or(0, |s| s.len()),
            StageMemo::Sat(..) => 0,
        }
    }
}

/// SAT extraction's unsolvability test: after an UNSAT stage past the level-off, a breadth-first
/// search that exhausts the reachable state space without meeting a goal state proves that no
/// plan exists. Its state budget doubles with each attempt, and all attempts together take at
/// most [`ExhaustionProof::SHARE`] of the run time so far (or a millisecond each), so that on a solvable problem (the
/// usual case) the proof attempts cost a bounded share of the run.
struct ExhaustionProof {
    /// States of the next attempt; 0 once a search met a goal state (no proof can come).
    budget: usize,
    /// Time spent in attempts so far.
    spent: std::time::Duration,
}

impl ExhaustionProof {
    /// Fraction of the run time the attempts may take, all together.
    const SHARE: f64 = 0.1;
    /// States of the first attempt.
    const FIRST_BUDGET: usize = 20_000;

    fn new() -> Self {
        ExhaustionProof {
            budget: Self::FIRST_BUDGET,
            spent: std::time::Duration::ZERO,
        }
    }

    /// One attempt after the failed stage `t` (levelled off at `n`), if the share allows it.
    fn attempt(
        &mut self,
        task: &GroundTask,
        t: usize,
        n: usize,
        deadline: Option<Instant>,
        run_time: std::time::Duration,
    ) -> Option<String> {
        if self.budget == 0 {
            return None;
        }
        // At least a millisecond, so that a small unsolvable problem is proved at once.
        let allowed = (run_time.mul_f64(Self::SHARE).saturating_sub(self.spent))
            .max(std::time::Duration::from_millis(1));
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let limits = Limits {
            time_limit: Some(left.map_or(allowed, |l| l.min(allowed))),
            max_states: self.budget,
            ..Limits::default()
        };
        self.budget = self.budget.saturating_mul(2);
        let began = Instant::now();
        let r = crate::search::bfs(task, &limits);
        self.spent += began.elapsed();
        match r.outcome {
            Outcome::Solved(_) => {
                self.budget = 0;
                None
            }
            Outcome::Unsolvable { .. } => Some(format!(
                "SAT: no plan at stages up to {t} past the level-off at {n}, and the state space is exhausted ({} states, no goal state)",
                r.expanded
            )),
            _ => None,
        }
    }
}

/// The result of a run that stopped with `outcome`.
fn finish(
    task: &GroundTask,
    start: Instant,
    outcome: Outcome,
    levels: Vec<LevelDiagnostics>,
    summary: GraphplanSummary,
) -> GraphplanResult {
    GraphplanResult {
        outcome,
        levels,
        summary,
        time_s: start.elapsed().as_secs_f64(),
        ground: task.stats.clone(),
    }
}

/// Graphplan's stage loop (Blum & Furst 1997): record stage `t`, extract when the goals
/// are present and pairwise non-mutex, test for unsolvability and limits, expand, repeat.
/// `goal_cone_attempt`: graphplan-sat's record of its first stage where [`sat_on_goal_cone`]
/// found it UNSAT already (the stage then goes to the whole graph directly); `prep`: what its
/// encoding takes from the task.
fn run_stages(
    task: &GroundTask,
    limits: &Limits,
    search: Search,
    start: Instant,
    prep: &SatTask,
    goal_cone_attempt: Option<SatStage>,
) -> GraphplanResult {
    if !task.goal_satisfiable {
        let summary = GraphplanSummary {
            unsolvable_at: Some(0),
            ..GraphplanSummary::default()
        };
        let outcome = Outcome::Unsolvable {
            stage: 0,
            reason: "a static goal fact is false in the initial state".into(),
        };
        return finish(task, start, outcome, Vec::new(), summary);
    }
    // SAT extraction needs the fact mutexes only: no operator mutex rows.
    let g = match search {
        Search::Sat => PlanningGraph::without_op_mutexes(task),
        Search::Classic | Search::Ebl => PlanningGraph::new(task),
    };
    let mut run = StageRun::new(task, limits, search, start, g, prep);
    if let (StageMemo::Sat(ex, _), Some(attempt)) = (&mut run.memo, goal_cone_attempt) {
        ex.after_goal_cone_attempt(attempt);
    }
    let mut t = 0usize;
    loop {
        let (present, non_mutex) = run.record_stage(t);
        let stop = if non_mutex {
            run.extract(t)
        } else {
            run.never_reached(t, present)
        };
        if let Some(outcome) = stop.or_else(|| run.expand(t).err()) {
            return finish(task, start, outcome, run.levels, run.summary);
        }
        t += 1;
    }
}

/// graphplan-sat's first attempt: the graph built inside the goals' cone only
/// ([`PlanningGraph::goal_cone`], no operator mutex rows), at the first stage where the goals
/// are present and pairwise non-mutex (trying up to [`GOAL_CONE_TRIES`] stages from the first
/// where they are relaxed-reachable), solved by SAT there. Those nodes have the full graph's
/// presence and fact mutexes, so that stage is the one the full run would try first, and a plan
/// found there is step-optimal. The result when it finds one (its rows count the cone's nodes,
/// `summary.goal_cone_only`). Otherwise the stages run on the full graph from the start, and
/// after an UNSAT answer the full run solves that stage on its whole graph directly (its
/// incremental solver then carries on, and its memo proves unsolvability where it can).
fn sat_on_goal_cone(
    task: &GroundTask,
    limits: &Limits,
    start: Instant,
    prep: &SatTask,
) -> OnGoalCone {
    use OnGoalCone::NotTried;
    if !task.goal_satisfiable {
        return NotTried;
    }
    let deadline = limits.deadline(start);
    let Some(cone) = PlanningGraph::goal_cone(task, GOAL_CONE_TRIES, deadline) else {
        return NotTried;
    };
    if !cone.goals_non_mutex || cone.t > limits.max_levels {
        return NotTried;
    }
    let mut run = StageRun::new(task, limits, Search::Sat, start, cone.graph, prep);
    if let StageMemo::Sat(ex, _) = &mut run.memo {
        ex.on_goal_cone();
    }
    for t in 0..=cone.t {
        run.record_stage(t);
    }
    match run.extract(cone.t) {
        Some(outcome @ Outcome::Solved(_)) => {
            run.summary.goal_cone_only = true;
            OnGoalCone::Solved(Box::new(finish(
                task,
                start,
                outcome,
                run.levels,
                run.summary,
            )))
        }
        None => match run.levels[cone.t].sat.take() {
            Some(attempt) => OnGoalCone::Unsat(attempt),
            None => NotTried,
        },
        Some(_) => NotTried, // the time limit: the full run stops at once
    }
}

/// What [`sat_on_goal_cone`] did.
enum OnGoalCone {
    Solved(Box<GraphplanResult>),
    /// The stage was UNSAT inside the cone (its record).
    Unsat(SatStage),
    /// No stage with the goals non-mutex within the tries, or no answer.
    NotTried,
}

/// Stages graphplan-sat tries inside the goals' cone before it builds the full graph.
const GOAL_CONE_TRIES: usize = 16;

/// The state of [`run_stages`]: the graph, the memo and the rows so far.
struct StageRun<'t> {
    task: &'t GroundTask,
    limits: &'t Limits,
    start: Instant,
    deadline: Option<Instant>,
    g: PlanningGraph,
    memo: StageMemo,
    /// Memo count at the levelled-off level after the previous failed stage.
    prev_memo_count: Option<usize>,
    levels: Vec<LevelDiagnostics>,
    summary: GraphplanSummary,
}

impl<'t> StageRun<'t> {
    fn new(
        task: &'t GroundTask,
        limits: &'t Limits,
        search: Search,
        start: Instant,
        g: PlanningGraph,
        prep: &SatTask,
    ) -> Self {
        let memo = match search {
            Search::Classic => StageMemo::FailedSets(Vec::new()),
            Search::Ebl => StageMemo::Nogoods(Vec::new()),
            Search::Sat => StageMemo::Sat(
                Box::new(SatExtractor::new(&g, prep)),
                ExhaustionProof::new(),
            ),
        };
        StageRun {
            task,
            limits,
            start,
            deadline: limits.deadline(start),
            g,
            memo,
            prev_memo_count: None,
            levels: Vec::new(),
            summary: GraphplanSummary::default(),
        }
    }

    /// Push the row of stage `t` and update the summary; returns whether the goals are present
    /// and whether they are pairwise non-mutex.
    fn record_stage(&mut self, t: usize) -> (bool, bool) {
        let g = &self.g;
        let goals = &self.task.goal;
        let lvl = g.level(t);
        let present = g.all_present(t, goals);
        let non_mutex = present && g.pairwise_non_mutex(t, goals);
        let (actions, op_pairs) = if t > 0 {
            let a = g.level(t - 1);
            let pairs = g.has_op_mutex_rows().then_some(a.op_mutex_pairs);
            (a.num_actions, pairs)
        } else {
            (0, Some(0))
        };
        self.levels.push(LevelDiagnostics {
            level: t,
            facts: lvl.facts.count_ones(..),
            fact_mutex_pairs: lvl.fact_mutex_pairs,
            actions,
            action_mutex_pairs: op_pairs,
            goals_present: present,
            goals_non_mutex: non_mutex,
            leveled_off: g.leveled_off_at.is_some_and(|n| t >= n),
            extraction: Extraction::NotTried,
            memo_entries: 0,
            search_nodes: 0,
            memo_hits: 0,
            exact_states: None,
            exact_goal_state: None,
            sat: None,
        });
        let s = &mut self.summary;
        if present && s.goals_first_present.is_none() {
            s.goals_first_present = Some(t);
        }
        if non_mutex && s.goals_first_non_mutex.is_none() {
            s.goals_first_non_mutex = Some(t);
        }
        s.leveled_off_at = g.leveled_off_at;
        (present, non_mutex)
    }

    /// Extract at stage `t` (goals present and non-mutex): the outcome if the run stops here.
    fn extract(&mut self, t: usize) -> Option<Outcome> {
        if t == 0 {
            self.levels[0].extraction = Extraction::Succeeded;
            self.summary.plan_level = Some(0);
            return Some(Outcome::Solved(Plan { steps: Vec::new() }));
        }
        let (result, stats) = self
            .memo
            .extract(&self.g, self.deadline, t, &self.task.goal);
        self.levels[t].search_nodes = stats.nodes;
        self.levels[t].memo_hits = stats.memo_hits;
        self.levels[t].sat = self.memo.sat_stage(t);
        for (i, l) in self.levels.iter_mut().enumerate() {
            l.memo_entries = self.memo.len_at(i);
        }
        if let Some(steps) = result {
            self.levels[t].extraction = Extraction::Succeeded;
            self.summary.plan_level = Some(t);
            let n_facts = self.g.n_facts;
            let steps = steps
                .into_iter()
                .map(|s| s.into_iter().map(|op| op as usize - n_facts).collect())
                .collect();
            return Some(Outcome::Solved(Plan { steps }));
        }
        if stats.aborted {
            return Some(Outcome::LimitReached {
                reason: "time limit during extraction".into(),
            });
        }
        self.levels[t].extraction = Extraction::Failed;
        self.summary.extraction_failed_at.push(t);
        // Blum–Furst termination: memo count at the levelled-off level unchanged over a stage
        // (not for nogood memos: see `crate::ebl`); for SAT, the state space exhausted.
        let n = self.g.leveled_off_at.filter(|&n| t > n)?;
        let reason = self.memo.unsolvable_after(
            self.task,
            n,
            t,
            &mut self.prev_memo_count,
            self.deadline,
            self.start.elapsed(),
        )?;
        self.summary.unsolvable_at = Some(t);
        Some(Outcome::Unsolvable { stage: t, reason })
    }

    /// Goals not present or not non-mutex at stage `t`: unsolvable once past the level-off.
    fn never_reached(&mut self, t: usize, present: bool) -> Option<Outcome> {
        let n = self.g.leveled_off_at.filter(|&n| t > n)?;
        self.summary.unsolvable_at = Some(t);
        let why = if present {
            "pairwise non-mutex"
        } else {
            "present"
        };
        Some(Outcome::Unsolvable {
            stage: t,
            reason: format!("graph levelled off at {n} and the goals are never {why}"),
        })
    }

    /// Check the time and level limits, then build the next stage.
    fn expand(&mut self, t: usize) -> Result<(), Outcome> {
        let limit = |reason: String| Outcome::LimitReached { reason };
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(limit("time limit".into()));
        }
        if t >= self.limits.max_levels {
            return Err(limit(format!("level limit {}", self.limits.max_levels)));
        }
        match self.g.expand(self.limits.max_graph_bytes, self.deadline) {
            Ok(_) => Ok(()),
            Err(ExpandError::TooLarge(bytes)) => Err(limit(format!(
                "planning graph would exceed the memory limit ({} MB)",
                bytes >> 20
            ))),
            Err(ExpandError::Timeout) => Err(limit("time limit during graph expansion".into())),
        }
    }
}
