//! Solution extraction as satisfiability: the planning graph compiled to CNF and handed to
//! CaDiCaL (Kautz & Selman 1999, "Unifying SAT-based and Graph-based Planning", Blackbox;
//! Kautz & Selman 1996 for the encoding, Rintanen 2012 for the incremental use of one solver).
//!
//! Variables (one per node of the graph, per level): a fact variable `p@i` for every fact of
//! `P_i` (`i ≥ 0`) and an action variable `a@i` for every ground action of `A_i`. No-ops get no
//! variable: the no-op of `p` in `A_{i-1}` is `p@{i-1}` itself (Kautz & Selman's no-op
//! elimination); what a no-op's mutexes excluded is said by the deleter clauses below.
//!
//! Clauses, for each new level `i ≥ 1` (layer `A_{i-1}` and facts `P_i`):
//! - precondition: `a@{i-1} ⇒ p@{i-1}` for every precondition `p` of `a`;
//! - backward support: `p@i ⇒ p@{i-1} ∨ a₁@{i-1} ∨ …` over the achievers of `p` in `A_{i-1}`
//!   (the no-op disjunct only when `p ∈ P_{i-1}`);
//! - action mutexes: the static ones (inconsistent effects, interference) as `¬a ∨ ¬b`.
//!   Competing needs are left out: they follow by resolution from the precondition clauses and
//!   the fact mutexes;
//! - no-op mutexes: a deleter `d` of `p` is mutex with every achiever of `p` in `A_{i-1}` (the
//!   no-op by interference, the others by inconsistent effects), so `¬d@{i-1} ∨ ¬p@i`;
//! - fact mutexes of `P_i` (inconsistent support, Blum & Furst's pruning) as `¬p@i ∨ ¬q@i`;
//! - symmetry breaking ([`crate::symmetry`]): for each class `o_1, o_2, …` of interchangeable
//!   objects, `u(o_j)@i` ("`o_j` used by some action at a step ≤ i") with
//!   `u(o_j)@i ⇒ u(o_j)@{i-1} ∨ a₁@i ∨ …` over the actions naming `o_j`, and `b@i ⇒ u(o_j)@i`
//!   for every action `b` naming `o_{j+1}`: plans start to use a class's members in order.
//!   Every plan has a renamed twin of the same length that does, so the first satisfiable
//!   stage does not move (Rintanen 2003).
//!
//! - progress: some fact is true at `i` that was false at `i - 1`. A step that makes nothing new
//!   true leaves a subset of the state before it, so dropping it leaves a plan one step shorter
//!   (STRIPS is monotone in the state: preconditions and goals still hold). Stage `t` is only
//!   solved after every shorter stage failed, so a plan of `t` steps is a shortest plan and
//!   every one of its steps progresses; with the symmetry clauses, its renamed twin does too.
//!   Miconic s9-1: 9.8 → 3.1 s of CPU (docs/planning-sat.md).
//!
//! - split actions ([`crate::split`]; Robinson, Gretton, Pham & Sattar 2009): where a schema's
//!   parameters fall into two parts that no fact names together, and the schema's actions in
//!   layer `A_{i-1}` are pairwise mutex (at most one runs in a step), a variable per
//!   *component* stands for them: miconic's moves become "leave `f1`" and "arrive at `f2`",
//!   `2n` variables instead of `n(n - 1)`. Each clause above takes a component where it took
//!   an action (it carries that action's facts of its part); at most one component per part
//!   is true, each true component has a partner of the other part that makes an action of
//!   the layer with it, and a pair that makes none is excluded. So the true components of a
//!   step are one action or none, and the stage's answer is the direct encoding's (a test
//!   compares them stage by stage). Miconic s7-4: 9,535 → 3,025 variables at stage 22,
//!   2.9 → 1.3 s of CPU (docs/planning-sat.md).
//!
//! - initial state (level 0, once): `p@0` for every fact of `P_0`, as units. Without them
//!   level 0 is free ("`p` used at level 0", the backward view) and the solver cannot propagate
//!   the initial state forwards; it has to find it by search. They keep every stage's answer:
//!   run the true actions of a model of stage `t` from the initial state; every fact true in the
//!   model holds in that run (backward support and deleter clauses, by induction on the level),
//!   so the run is a valid parallel plan of `t` steps. The assignment "`p@i` = `p` holds after
//!   `i` steps", with the model's action, component and symmetry variables, satisfies every
//!   clause above (the progress clauses because every shorter stage failed) and makes every
//!   initial fact true. Freecell 3-4: 0.87 → 0.24 s of CPU (docs/planning-sat.md, "Measured:
//!   the initial state as units").
//!
//! Goals are not clauses: stage `t` solves under the assumptions `g@t`, so the clauses of every
//! level are added once to one solver and the clauses it learns at stage `t` are kept for stage
//! `t + 1` (levels above `t` are unconstrained at stage `t`: nothing forces their facts true).
//!
//! Grown at the goals' end only, the encoding keeps what the solver learned about the levels
//! next to the initial state, but what it learned about the levels next to the goals (the
//! regression of the goals, Graphplan's backward view) is tied to the goals' level and is
//! learned again one level higher at the next stage. So once the graph has levelled off (every
//! layer above `L` has the same content), the encoding becomes double-ended ([`GoalBlock`],
//! after Gocht & Balyo 2017): the last [`GOAL_BLOCK_ROWS`] levels below the goals are rows
//! counted from the goals down, kept from stage to stage; new levels go in at the
//! initial-state end, below them. The two blocks meet at level `top`, where `p@top ⇔` the fact
//! in the block's last row, behind an activation literal assumed at that stage only and
//! switched off for good at the next; a learned clause that used the join carries the literal
//! and dies with it. Each stage's formula is the forward one up to the renaming of its levels,
//! so its answer is the same (a test compares them stage by stage). Over the 76 levelling-off
//! problems measured, 13% less CPU in all; miconic s7-1 0.26 → 0.15 s, gripper prob03 0.16 →
//! 0.06 (docs/planning-sat.md, "Measured: the double-ended encoding").
//!
//! The first attempt of a run is made on the goals' backward relevance cone alone ([`Cone`]),
//! in a fresh solver: most problems are solved at the first stage where the goals are non-mutex,
//! and there the cone is a fraction of the graph (mprime prob13: 0.59 M clauses against 1.27 M).
//! Where that stage is UNSAT, it is solved again on the whole graph by the incremental solver,
//! which then carries on as above (docs/planning-sat.md, "Measured: the first attempt on the
//! goals' cone"). Before any of this, `graphplan_sat` builds the graph inside the goals' cone
//! only ([`PlanningGraph::goal_cone`]: the same nodes and fact mutexes there, no operator mutex
//! rows) and makes that first attempt on it ([`SatExtractor::on_goal_cone`]); the full graph is
//! built only when the attempt fails, and it too has no operator mutex rows
//! ([`PlanningGraph::without_op_mutexes`]): the encoding needs only the graph's fact mutexes.
//!
//! Every literal is handed to the solver negated (our `x` is CaDiCaL's `¬x`): CaDiCaL decides
//! true first, so its default phase then leaves actions and facts out of the plan, as SAT
//! planners set it (the `cadical` crate exposes no option setter).
//!
//! A model is decoded backwards from the goals, no-op first (as Graphplan's extraction tries
//! achievers): actions true in the model but not needed for a goal are dropped.

use std::rc::Rc;
use std::time::Instant;

use fixedbitset::FixedBitSet;

use crate::fxhash::FxHashMap as HashMap;
use crate::graph::PlanningGraph;
use crate::ground::GroundTask;
use crate::split::Split;

mod encode;
mod goal_block;
#[cfg(test)]
mod tests;

use goal_block::GoalBlock;
pub use goal_block::GOAL_BLOCK_ROWS;

/// How ground actions become variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SatActions {
    /// Where a schema splits and its actions in a layer are pairwise mutex, a variable per
    /// component ([`crate::split`]); elsewhere a variable per action.
    #[default]
    Split,
    /// A variable per ground action everywhere (Kautz & Selman's direct representation).
    Direct,
}

/// How the encoding grows from one stage to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SatGrowth {
    /// Forward until the graph has levelled off, then double-ended ([`GoalBlock`]): the levels
    /// next to the goals are kept from stage to stage as well as those next to the initial
    /// state.
    #[default]
    DoubleEnded,
    /// A level at the goals' end per stage (Kautz & Selman; the ablation baseline).
    Forward,
}

/// What the encoding takes from the ground task once per run (for the goal-cone graph and the
/// full graph alike): the classes of interchangeable objects and the split of its schemas.
#[derive(Debug, Clone, Default)]
pub struct SatTask {
    /// [`crate::symmetry::interchangeable_objects`].
    pub symmetry: Vec<Vec<Vec<u32>>>,
    /// Shared by the goal-cone graph's extractor and the full graph's (not copied).
    pub split: Rc<Split>,
    /// How the encoding grows over the stages.
    pub growth: SatGrowth,
}

impl SatTask {
    pub fn new(task: &GroundTask, actions: SatActions) -> SatTask {
        let symmetry = crate::symmetry::interchangeable_objects(task);
        let split = match actions {
            // The symmetry clauses name actions: their schemas are not split.
            SatActions::Split => {
                let named: Vec<u32> = symmetry.iter().flatten().flatten().copied().collect();
                Rc::new(Split::new(task, &named))
            }
            SatActions::Direct => Rc::default(),
        };
        SatTask {
            symmetry,
            split,
            growth: SatGrowth::default(),
        }
    }
}

/// What the solver answered at one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SatAnswer {
    Sat,
    Unsat,
    /// Stopped by the deadline.
    Unknown,
}

/// The solver's view of one stage (one row of the per-level trace).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SatStage {
    /// Answered on the goals' relevance cone in a fresh solver ([`Cone`]), not on the whole
    /// graph (the first attempt; when the cone is UNSAT the stage is solved again on the whole
    /// graph and this is false).
    pub cone: bool,
    pub answer: SatAnswer,
    /// Clauses CaDiCaL learned in this call, counted through its learner hook (CaDiCaL hands
    /// it the clause of every conflict analysis, units included, so this is its conflict count
    /// up to conflicts that learn nothing). The crate exposes no statistics call, so decisions,
    /// propagations and the exact conflict count are not available.
    pub learned_clauses: u64,
    /// Variables and clauses added to the solver so far (all levels up to this one).
    pub vars: usize,
    pub clauses: usize,
    /// Seconds spent encoding the new levels of this stage.
    pub encode_s: f64,
    /// Seconds spent in the solver at this stage.
    pub solve_s: f64,
}

/// Solver callbacks: the deadline, and a count of learned clauses.
struct Hooks {
    deadline: Option<Instant>,
    learned: u64,
}

impl cadical::Callbacks for Hooks {
    fn terminate(&mut self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
    fn max_length(&self) -> i32 {
        i32::MAX
    }
    fn learn(&mut self, _clause: &[i32]) {
        self.learned += 1;
    }
}

/// Literal of our variable `v` (positive: `v` true) as handed to the solver (negated; see the
/// module documentation).
fn lit(v: i32, positive: bool) -> i32 {
    if positive {
        -v
    } else {
        v
    }
}

/// The units of one layer (actions by operator index, or split components) and their variables.
type LayerVars = Vec<(u32, i32)>;

/// The planning graph as one incremental SAT problem.
pub struct SatExtractor {
    solver: cadical::Solver<Hooks>,
    /// `fact_var[i][f]`: variable of `f@i`, 0 when `f ∉ P_i`.
    fact_var: Vec<Vec<i32>>,
    /// `op_var[i]`: `(operator, variable)` for the ground actions of `A_i`, by operator index.
    op_var: Vec<LayerVars>,
    vars: i32,
    clauses: usize,
    /// Per-fact lists of the ground actions (operator indices) that need, add and delete it.
    need: Vec<Vec<u32>>,
    adds: Vec<Vec<u32>>,
    dels: Vec<Vec<u32>>,
    /// Scratch: `stamp[b] == epoch` when the pair `(a, b)` was already emitted for the current
    /// `a` (the epoch grows with every action of every layer).
    stamp: Vec<u64>,
    epoch: u64,
    /// `stages[t]`: the solver's view of stage `t` (`None` where it was not called).
    pub stages: Vec<Option<SatStage>>,
    clause_buf: Vec<i32>,
    /// Interchangeable objects: per class, per member in order, the operators naming it.
    classes: Vec<Vec<Vec<u32>>>,
    /// `used[c][j]`: the variable `u(o_j)` of class `c` at the last encoded layer (0: false).
    used: Vec<Vec<i32>>,
    /// When set, only the nodes of this cone are encoded (see [`Cone`]).
    cone: Option<Cone>,
    /// How the first stage is solved.
    first_stage: FirstStage,
    /// Schemas whose actions may be encoded by their two components ([`crate::split`]);
    /// component `c` is unit `n_ops + c` in `need`, `adds`, `dels` and `var_of`.
    split: Rc<Split>,
    n_ops: usize,
    /// Once the graph has levelled off: the levels from the goals down ([`GoalBlock`]).
    goal: Option<GoalBlock>,
    growth: SatGrowth,
}

/// How [`SatExtractor::extract`] solves the first stage it is given.
#[derive(Debug, Clone)]
enum FirstStage {
    /// On the stage's cone in a fresh solver, then, when UNSAT, on the whole graph.
    ConeThenWhole,
    /// On the stage's cone only: the graph is itself a goal cone ([`PlanningGraph::goal_cone`]).
    ConeOnly,
    /// On the whole graph: the cone attempt was made on the goal-cone graph and failed (its
    /// record, added to this stage's).
    WholeAfter(SatStage),
}

/// The goals' backward relevance cone at stage `t`: the nodes of the graph a plan of `t` steps
/// can use. `facts[t]` holds the goals; `ops[i-1]` the actions of `A_{i-1}` adding a fact of
/// `facts[i]`; `facts[i-1]` the facts of `facts[i]` present in `P_{i-1}` (their no-ops) and the
/// preconditions of `ops[i-1]`. Backward-chaining a plan from its goals (no-op first, as
/// [`SatExtractor::decode`] does) only ever visits cone nodes, so the CNF restricted to them has
/// a model whenever the whole graph's has one, and is often far smaller.
#[derive(Debug, Clone)]
pub struct Cone {
    pub facts: Vec<FixedBitSet>,
    pub ops: Vec<FixedBitSet>,
}

impl Cone {
    /// The cone of `goals` at stage `t` of `g` (`t ≤ g.depth()`).
    pub fn new(g: &PlanningGraph, t: usize, goals: &[u32]) -> Cone {
        let (facts, ops) = g.backward_cone(
            t,
            goals,
            |i, f| g.level(i).facts.contains(f),
            |i, op| g.level(i).ops.contains(op),
        );
        Cone { facts, ops }
    }

    /// Facts and actions in the cone (all levels together).
    pub fn size(&self) -> (usize, usize) {
        let count = |v: &[FixedBitSet]| v.iter().map(|b| b.count_ones(..)).sum();
        (count(&self.facts), count(&self.ops))
    }
}

impl SatExtractor {
    /// The extractor of `g`, a planning graph of a task, with what the encoding takes from
    /// that task (`prep`: its symmetry classes and split schemas).
    pub fn new(g: &PlanningGraph, prep: &SatTask) -> Self {
        let split = Rc::clone(&prep.split);
        let classes: Vec<Vec<Vec<u32>>> = prep
            .symmetry
            .iter()
            .map(|c| {
                c.iter()
                    .map(|acts| acts.iter().map(|&a| (g.n_facts as u32) + a).collect())
                    .collect()
            })
            .collect();
        let used = classes.iter().map(|c| vec![0; c.len()]).collect();
        let mut need = vec![Vec::new(); g.n_facts];
        let mut adds = vec![Vec::new(); g.n_facts];
        let mut dels = vec![Vec::new(); g.n_facts];
        for op in g.n_facts..g.n_ops {
            for &f in &g.op_pre[op] {
                need[f as usize].push(op as u32);
            }
            for &f in &g.op_add[op] {
                adds[f as usize].push(op as u32);
            }
            for &f in &g.op_del[op] {
                dels[f as usize].push(op as u32);
            }
        }
        for c in 0..split.len() {
            let u = (g.n_ops + c) as u32;
            for &f in &split.pre[c] {
                need[f as usize].push(u);
            }
            for &f in &split.add[c] {
                adds[f as usize].push(u);
            }
            for &f in &split.del[c] {
                dels[f as usize].push(u);
            }
        }
        let units = g.n_ops + split.len();
        let s = SatExtractor {
            // CaDiCaL's `unsat` configuration (no stabilising phases, no local search): most of
            // a run is spent proving stages UNSAT (docs/planning-sat.md has the measurements).
            solver: cadical::Solver::with_config("unsat")
                .unwrap_or_else(|_| cadical::Solver::new()),
            fact_var: Vec::new(),
            op_var: Vec::new(),
            vars: 0,
            clauses: 0,
            need,
            adds,
            dels,
            stamp: vec![0; units],
            epoch: 0,
            stages: Vec::new(),
            clause_buf: Vec::new(),
            classes,
            used,
            cone: None,
            first_stage: FirstStage::ConeThenWhole,
            split,
            n_ops: g.n_ops,
            goal: None,
            growth: prep.growth,
        };
        // Nothing is encoded yet: the first stage restarts the solver on its cone (`extract`).
        s
    }

    /// For a graph built inside the goals' cone ([`PlanningGraph::goal_cone`]): a stage that
    /// fails there is not solved again on the same nodes.
    pub fn on_goal_cone(&mut self) {
        self.first_stage = FirstStage::ConeOnly;
    }

    /// The first stage failed on the goal-cone graph already (`attempt`, its record there):
    /// solve it on the whole graph directly.
    pub fn after_goal_cone_attempt(&mut self, attempt: SatStage) {
        self.first_stage = FirstStage::WholeAfter(attempt);
    }

    fn new_var(&mut self) -> i32 {
        self.vars += 1;
        self.vars
    }

    fn new_fact_row(&mut self, g: &PlanningGraph, i: usize) -> Vec<i32> {
        let mut row = vec![0i32; g.n_facts];
        for f in g.level(i).facts.ones() {
            if self.cone.as_ref().is_none_or(|c| c.facts[i].contains(f)) {
                row[f] = self.new_var();
            }
        }
        row
    }

    fn add(&mut self, clause: &[i32]) {
        self.solver.add_clause(clause.iter().copied());
        self.clauses += 1;
    }

    /// Start over with a fresh solver that encodes only `cone`, or the whole graph when `None`
    /// (the stage statistics so far are kept).
    fn restart(&mut self, g: &PlanningGraph, cone: Option<Cone>) {
        self.solver =
            cadical::Solver::with_config("unsat").unwrap_or_else(|_| cadical::Solver::new());
        self.fact_var.clear();
        self.op_var.clear();
        self.vars = 0;
        self.clauses = 0;
        for u in &mut self.used {
            u.iter_mut().for_each(|v| *v = 0);
        }
        self.cone = cone;
        self.goal = None;
        // Level 0: the initial facts, true (see the module documentation, "initial state").
        let row = self.new_fact_row(g, 0);
        for &v in row.iter().filter(|&&v| v != 0) {
            self.add(&[lit(v, true)]);
        }
        self.fact_var.push(row);
    }

    /// Number of fact levels encoded (`P_0 ..= P_{levels()-1}`).
    pub fn levels(&self) -> usize {
        self.fact_var.len()
    }

    /// Stage `t`: is there a plan of `t` parallel steps in the graph reaching `goals`? Returns
    /// the steps (operator indices, no-ops left out) when there is, and the solver's view of
    /// the stage (answer `Unknown` when the deadline passed).
    pub fn extract(
        &mut self,
        g: &PlanningGraph,
        deadline: Option<Instant>,
        t: usize,
        goals: &[u32],
    ) -> (Option<Vec<Vec<u32>>>, SatStage) {
        // The first attempt (usually the last: most problems are solved at the first level
        // where the goals are non-mutex) encodes only the goals' cone in a fresh solver. When it
        // fails, the whole graph goes into one solver, incrementally, starting with this same
        // stage, so that what it learns carries over to the later stages as before; the stage's
        // record then counts both calls. When the attempt was made on the goal-cone graph
        // already (`graphplan_sat`), its record stands in for this one's first call.
        if self.stages.iter().any(Option::is_some) {
            return self.solve_stage(g, deadline, t, goals);
        }
        let first = match std::mem::replace(&mut self.first_stage, FirstStage::ConeThenWhole) {
            FirstStage::WholeAfter(first) => first,
            plan => {
                self.restart(g, Some(Cone::new(g, t, goals)));
                let (steps, first) = self.solve_stage(g, deadline, t, goals);
                if first.answer != SatAnswer::Unsat || matches!(plan, FirstStage::ConeOnly) {
                    return (steps, first);
                }
                first
            }
        };
        self.restart(g, None);
        let (steps, mut stage) = self.solve_stage(g, deadline, t, goals);
        stage.learned_clauses += first.learned_clauses;
        stage.encode_s += first.encode_s;
        stage.solve_s += first.solve_s;
        (steps, self.record(t, stage))
    }

    /// Stage `t` on the encoding as it stands (cone or whole graph).
    fn solve_stage(
        &mut self,
        g: &PlanningGraph,
        deadline: Option<Instant>,
        t: usize,
        goals: &[u32],
    ) -> (Option<Vec<Vec<u32>>>, SatStage) {
        let enc = Instant::now();
        let mut stage = SatStage {
            cone: self.cone.is_some(),
            answer: SatAnswer::Unknown,
            learned_clauses: 0,
            vars: 0,
            clauses: 0,
            encode_s: 0.0,
            solve_s: 0.0,
        };
        if !self.reach(g, t, deadline) {
            stage.encode_s = enc.elapsed().as_secs_f64();
            return (None, self.record(t, stage));
        }
        stage.encode_s = enc.elapsed().as_secs_f64();
        let run = Instant::now();
        self.solver.set_callbacks(Some(Hooks {
            deadline,
            learned: 0,
        }));
        let assumptions = self.assumptions(t, goals);
        let answer = self.solver.solve_with(assumptions);
        stage.solve_s = run.elapsed().as_secs_f64();
        stage.learned_clauses = self.solver.get_callbacks().map_or(0, |h| h.learned);
        stage.answer = match answer {
            Some(true) => SatAnswer::Sat,
            Some(false) => SatAnswer::Unsat,
            None => SatAnswer::Unknown,
        };
        let steps = (answer == Some(true)).then(|| self.decode(g, t, goals));
        (steps, self.record(t, stage))
    }

    /// The assumptions of stage `t`: the goals at level `t`, and the join of the stage.
    fn assumptions(&self, t: usize, goals: &[u32]) -> Vec<i32> {
        let mut out: Vec<i32> = goals
            .iter()
            .map(|&f| lit(self.row_at(t, t)[f as usize], true))
            .collect();
        if let Some(b) = self.goal.as_ref().filter(|b| b.join != 0) {
            out.push(lit(b.join, true));
        }
        out
    }

    fn record(&mut self, t: usize, mut stage: SatStage) -> SatStage {
        stage.vars = self.vars as usize;
        stage.clauses = self.clauses;
        if self.stages.len() <= t {
            self.stages.resize(t + 1, None);
        }
        self.stages[t] = Some(stage.clone());
        stage
    }

    /// Is our variable `v` true in the solver's model?
    fn holds(&self, v: i32) -> bool {
        v != 0 && self.solver.value(lit(v, true)) == Some(true)
    }

    /// The actions of layer `A_l` true in the model, in the layer's unit order: an action's
    /// own variable, or the pair of true components of a split schema.
    fn true_actions(&self, t: usize, l: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let mut open: HashMap<u32, [Option<u32>; 2]> = HashMap::default();
        for &(u, v) in self.ops_at(t, l) {
            if !self.holds(v) {
                continue;
            }
            match (u as usize).checked_sub(self.n_ops) {
                None => out.push(u),
                Some(c) => {
                    let c = c as u32;
                    let (family, side) = self.split.component_home(c);
                    let e = open.entry(family).or_default();
                    e[side] = Some(c);
                    if let [Some(a), Some(b)] = *e {
                        // The clauses exclude every pair that is no action of the layer.
                        let act = self.split.action_of[&[a, b]] as usize;
                        let n_facts = self.n_ops - self.split.of_action.len();
                        out.push((n_facts + act) as u32);
                    }
                }
            }
        }
        out
    }

    /// Read the plan off the model, backwards from the goals at level `t`: a needed fact is
    /// kept by its no-op when `p@{i-1}` is true, else by the first true action adding it.
    fn decode(&self, g: &PlanningGraph, t: usize, goals: &[u32]) -> Vec<Vec<u32>> {
        let mut steps = vec![Vec::new(); t];
        let mut needed: Vec<u32> = goals.to_vec();
        let mut achieved = vec![false; g.n_facts];
        let mut is_needed = vec![false; g.n_facts];
        let layer_ops: Vec<Vec<u32>> = (0..t).map(|l| self.true_actions(t, l)).collect();
        for i in (1..=t).rev() {
            achieved.iter_mut().for_each(|x| *x = false);
            let mut chosen: Vec<u32> = Vec::new();
            let mut below: Vec<u32> = Vec::new();
            is_needed.iter_mut().for_each(|x| *x = false);
            let mut need_below = |f: u32, below: &mut Vec<u32>| {
                if !is_needed[f as usize] {
                    is_needed[f as usize] = true;
                    below.push(f);
                }
            };
            for &f in &needed {
                if achieved[f as usize] {
                    continue;
                }
                if self.holds(self.row_at(t, i - 1)[f as usize]) {
                    need_below(f, &mut below);
                    continue;
                }
                let by = layer_ops[i - 1]
                    .iter()
                    .find(|&&op| g.op_add[op as usize].contains(&f));
                if let Some(&op) = by {
                    chosen.push(op);
                    for &e in &g.op_add[op as usize] {
                        achieved[e as usize] = true;
                    }
                    for &p in &g.op_pre[op as usize] {
                        need_below(p, &mut below);
                    }
                }
            }
            chosen.sort_unstable();
            steps[i - 1] = chosen;
            needed = below;
        }
        steps
    }
}
