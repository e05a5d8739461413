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

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::graph::PlanningGraph;
use crate::ground::GroundTask;
use crate::split::Split;

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

/// What the encoding takes from the ground task once per run (for the goal-cone graph and the
/// full graph alike): the classes of interchangeable objects and the split of its schemas.
#[derive(Debug, Clone, Default)]
pub struct SatTask {
    /// [`crate::symmetry::interchangeable_objects`].
    pub symmetry: Vec<Vec<Vec<u32>>>,
    /// Shared by the goal-cone graph's extractor and the full graph's (not copied).
    pub split: Rc<Split>,
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
        SatTask { symmetry, split }
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

/// The planning graph as one incremental SAT problem.
pub struct SatExtractor {
    solver: cadical::Solver<Hooks>,
    /// `fact_var[i][f]`: variable of `f@i`, 0 when `f ∉ P_i`.
    fact_var: Vec<Vec<i32>>,
    /// `op_var[i]`: `(operator, variable)` for the ground actions of `A_i`, by operator index.
    op_var: Vec<Vec<(u32, i32)>>,
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

    /// Add layer `A_{i-1}` and facts `P_i` (`i = levels()`). False when the deadline passed.
    fn encode_level(&mut self, g: &PlanningGraph, deadline: Option<Instant>) -> bool {
        let i = self.levels();
        let layer = g.level(i - 1);
        let in_cone = |op: usize| self.cone.as_ref().is_none_or(|c| c.ops[i - 1].contains(op));
        let chosen: Vec<usize> = layer
            .ops
            .ones()
            .filter(|&op| op >= g.n_facts && in_cone(op))
            .collect();
        // Units of the layer: its actions, or for a splitting schema whose actions here are
        // pairwise mutex, their components.
        let mut units: Vec<u32> = Vec::with_capacity(chosen.len());
        let mut var_of = vec![0i32; self.stamp.len()];
        let split_here = self.split.exclusive_families(g, i - 1, &chosen);
        let mut ops = Vec::with_capacity(chosen.len());
        for &op in &chosen {
            match self.split.of_op(op, g.n_facts) {
                Some((s, pair)) if split_here.contains(&s) => {
                    for c in pair {
                        let u = self.n_ops + c as usize;
                        if var_of[u] == 0 {
                            var_of[u] = -1; // placeholder: variable below
                            units.push(u as u32);
                        }
                    }
                }
                _ => units.push(op as u32),
            }
        }
        let split = Rc::clone(&self.split);
        for &u in &units {
            let v = self.new_var();
            var_of[u as usize] = v;
            ops.push((u, v));
            for &p in split.unit_pre(g, u) {
                let pv = self.fact_var[i - 1][p as usize];
                self.add(&[lit(v, false), lit(pv, true)]);
            }
        }
        for &s in &split_here {
            self.encode_components(g, s, &chosen, &var_of);
        }
        if !self.encode_interference(g, &var_of, deadline) {
            return false;
        }
        self.encode_symmetry(&var_of);
        // Facts of P_i: backward support, deleters, mutexes.
        let prev = std::mem::take(&mut self.fact_var[i - 1]);
        let row = self.new_fact_row(g, i);
        let mut clause = std::mem::take(&mut self.clause_buf);
        for f in g.level(i).facts.ones().filter(|&f| row[f] != 0) {
            // A deleter of f is mutex with every achiever of f (no-op included): ¬d ∨ ¬f@i.
            for &d in &self.dels[f] {
                let dv = var_of[d as usize];
                if dv != 0 {
                    self.solver.add_clause([lit(dv, false), lit(row[f], false)]);
                    self.clauses += 1;
                }
            }
            clause.clear();
            clause.push(lit(row[f], false));
            if prev[f] != 0 {
                clause.push(lit(prev[f], true));
            }
            for &u in &self.adds[f] {
                let v = var_of[u as usize];
                if v != 0 {
                    clause.push(lit(v, true));
                }
            }
            self.add(&clause);
            for q in g.level(i).fact_mutex[f]
                .ones()
                .filter(|&q| q > f && row[q] != 0)
            {
                self.add(&[lit(row[f], false), lit(row[q], false)]);
            }
        }
        self.clause_buf = clause;
        self.encode_progress(g, i, &prev, &row);
        self.fact_var[i - 1] = prev;
        self.fact_var.push(row);
        self.encode_forward(g, i, &ops, &var_of);
        self.op_var.push(ops);
        true
    }

    /// The components of schema `s` stand for its actions among `chosen`: at most one
    /// component per part, and the true pair one of those actions (`c_A ⇒ ∨ c_B` over its
    /// partners, and the converse; `¬c_A ∨ ¬c_B` for a pair that is no action here).
    fn encode_components(&mut self, g: &PlanningGraph, s: u32, chosen: &[usize], var_of: &[i32]) {
        let mut partners: [HashMap<u32, Vec<u32>>; 2] = Default::default();
        let mut valid = HashSet::default();
        for &op in chosen {
            if let Some((t, [a, b])) = self.split.of_op(op, g.n_facts) {
                if t == s {
                    partners[0].entry(a).or_default().push(b);
                    partners[1].entry(b).or_default().push(a);
                    valid.insert((a, b));
                }
            }
        }
        let n_ops = self.n_ops;
        let var = |c: u32| var_of[n_ops + c as usize];
        let mut sides: [Vec<u32>; 2] = Default::default();
        for side in 0..2 {
            let mut comps: Vec<u32> = partners[side].keys().copied().collect();
            comps.sort_unstable();
            for &c in &comps {
                let mut clause = vec![lit(var(c), false)];
                clause.extend(partners[side][&c].iter().map(|&d| lit(var(d), true)));
                self.add(&clause);
            }
            let vs: Vec<i32> = comps.iter().map(|&c| var(c)).collect();
            self.at_most_one(&vs);
            sides[side] = comps;
        }
        for &a in &sides[0] {
            for &b in &sides[1] {
                if !valid.contains(&(a, b)) {
                    self.add(&[lit(var(a), false), lit(var(b), false)]);
                }
            }
        }
    }

    /// The progress clause of step `i`: some fact of `P_i` is true at `i` and false at `i - 1`
    /// (`n_f ⇒ f@i`, `n_f ⇒ ¬f@{i-1}`, `n_f₁ ∨ n_f₂ ∨ …`; a fact new in `P_i` is its own `n_f`).
    fn encode_progress(&mut self, g: &PlanningGraph, i: usize, prev: &[i32], row: &[i32]) {
        let mut clause = std::mem::take(&mut self.clause_buf);
        clause.clear();
        // In a cone, a fact of the cone at `i` present in `P_{i-1}` is in the cone there too, so
        // `prev[f] == 0` still means "not in `P_{i-1}`".
        for f in g.level(i).facts.ones().filter(|&f| row[f] != 0) {
            if prev[f] == 0 {
                clause.push(lit(row[f], true));
                continue;
            }
            let n = self.new_var();
            self.add(&[lit(n, false), lit(row[f], true)]);
            self.add(&[lit(n, false), lit(prev[f], false)]);
            clause.push(lit(n, true));
        }
        self.add(&clause);
        self.clause_buf = clause;
    }

    /// Forward clauses between `P_{i-1}` and `P_i`, true of every state a plan passes through:
    /// an action's add effects hold after it (`a@{i-1} ⇒ e@i`), and a fact that holds and is
    /// deleted by no chosen action still holds (`p@{i-1} ⇒ p@i ∨ d₁@{i-1} ∨ …`).
    /// The symmetry-breaking clauses of the new layer (see the module documentation).
    fn encode_symmetry(&mut self, var_of: &[i32]) {
        let mut clause = std::mem::take(&mut self.clause_buf);
        for c in 0..self.classes.len() {
            let members = self.classes[c].len();
            for j in 0..members - 1 {
                clause.clear();
                let prev = self.used[c][j];
                if prev != 0 {
                    clause.push(lit(prev, true));
                }
                for &op in &self.classes[c][j] {
                    if var_of[op as usize] != 0 {
                        clause.push(lit(var_of[op as usize], true));
                    }
                }
                // No way to have used o_j yet: u(o_j) stays false (no variable).
                let u = if clause.is_empty() {
                    0
                } else {
                    let u = self.new_var();
                    clause.push(lit(u, false));
                    self.add(&clause);
                    u
                };
                self.used[c][j] = u;
                for k in 0..self.classes[c][j + 1].len() {
                    let b = var_of[self.classes[c][j + 1][k] as usize];
                    if b == 0 {
                        continue;
                    }
                    if u == 0 {
                        self.add(&[lit(b, false)]);
                    } else {
                        self.add(&[lit(b, false), lit(u, true)]);
                    }
                }
            }
        }
        self.clause_buf = clause;
    }

    fn encode_forward(&mut self, g: &PlanningGraph, i: usize, ops: &[(u32, i32)], var_of: &[i32]) {
        let split = Rc::clone(&self.split);
        for &(op, v) in ops {
            for &e in split.unit_add(g, op) {
                let ev = self.fact_var[i][e as usize];
                if ev != 0 {
                    self.add(&[lit(v, false), lit(ev, true)]);
                }
            }
        }
        let mut clause = std::mem::take(&mut self.clause_buf);
        for f in g.level(i - 1).facts.ones() {
            if self.fact_var[i - 1][f] == 0 || self.fact_var[i][f] == 0 {
                continue;
            }
            clause.clear();
            clause.push(lit(self.fact_var[i - 1][f], false));
            clause.push(lit(self.fact_var[i][f], true));
            for &d in &self.dels[f] {
                let dv = var_of[d as usize];
                if dv != 0 {
                    clause.push(lit(dv, true));
                }
            }
            self.add(&clause);
        }
        self.clause_buf = clause;
    }

    /// The static action mutexes of a layer (`var_of[op]`: the variable of `op` in it, 0 when
    /// absent), fact by fact: a deleter `x` of `f` is mutex with every other action `y` that
    /// needs or adds `f` (interference, inconsistent effects). Said in linear size per fact
    /// rather than one binary clause per pair: with `Z` the actions both deleting and needing
    /// (or adding) `f`, `X`/`Y` the pure deleters and the pure needers/adders,
    /// `x ⇒ U`, `y ⇒ W`, `¬U ∨ ¬W` (small sides: the pairs themselves), and at most one of
    /// `Z ∪ {O}` where `X ∪ Y ⇒ O`. Exactly the pairwise relation once the auxiliary variables
    /// are projected away. False when the deadline passed.
    fn encode_interference(
        &mut self,
        g: &PlanningGraph,
        var_of: &[i32],
        deadline: Option<Instant>,
    ) -> bool {
        let (mut xs, mut ys, mut zs) = (Vec::new(), Vec::new(), Vec::new());
        for f in 0..g.n_facts {
            if f % 256 == 255 && deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            // stamp == in_x: deletes f, not yet seen on the other side; == seen: handled.
            self.epoch += 2;
            let (in_x, seen) = (self.epoch - 1, self.epoch);
            xs.clear();
            ys.clear();
            zs.clear();
            for &d in &self.dels[f] {
                if var_of[d as usize] != 0 {
                    self.stamp[d as usize] = in_x;
                    xs.push(d);
                }
            }
            if xs.is_empty() {
                continue;
            }
            for &b in self.need[f].iter().chain(&self.adds[f]) {
                let (b, st) = (b as usize, self.stamp[b as usize]);
                if var_of[b] == 0 || st == seen {
                    continue;
                }
                if st == in_x {
                    zs.push(var_of[b]);
                } else {
                    ys.push(var_of[b]);
                }
                self.stamp[b] = seen;
            }
            let stamp = &self.stamp;
            xs.retain(|&d| stamp[d as usize] == in_x);
            let xv: Vec<i32> = xs.iter().map(|&d| var_of[d as usize]).collect();
            self.exclude_sides(&xv, &ys);
            if !zs.is_empty() {
                if !xv.is_empty() || !ys.is_empty() {
                    let o = self.new_var();
                    for &v in xv.iter().chain(&ys) {
                        self.add(&[lit(v, false), lit(o, true)]);
                    }
                    zs.push(o);
                }
                self.at_most_one(&zs);
            }
        }
        true
    }

    /// No variable of `xs` true together with one of `ys`.
    fn exclude_sides(&mut self, xs: &[i32], ys: &[i32]) {
        if xs.is_empty() || ys.is_empty() {
            return;
        }
        if xs.len() * ys.len() <= xs.len() + ys.len() + 3 {
            for &x in xs {
                for &y in ys {
                    self.add(&[lit(x, false), lit(y, false)]);
                }
            }
            return;
        }
        let (u, w) = (self.new_var(), self.new_var());
        for &x in xs {
            self.add(&[lit(x, false), lit(u, true)]);
        }
        for &y in ys {
            self.add(&[lit(y, false), lit(w, true)]);
        }
        self.add(&[lit(u, false), lit(w, false)]);
    }

    /// At most one of `vs` true: pairwise when short, else Sinz's sequential counter.
    fn at_most_one(&mut self, vs: &[i32]) {
        if vs.len() <= 5 {
            for (k, &a) in vs.iter().enumerate() {
                for &b in &vs[k + 1..] {
                    self.add(&[lit(a, false), lit(b, false)]);
                }
            }
            return;
        }
        // s_k: "one of vs[..=k] is true".
        let mut prev = 0;
        for (k, &v) in vs.iter().enumerate() {
            if k + 1 < vs.len() {
                let s = self.new_var();
                self.add(&[lit(v, false), lit(s, true)]);
                if prev != 0 {
                    self.add(&[lit(prev, false), lit(s, true)]);
                }
                if k > 0 {
                    self.add(&[lit(v, false), lit(prev, false)]);
                }
                prev = s;
            } else {
                self.add(&[lit(v, false), lit(prev, false)]);
            }
        }
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
        while self.levels() <= t {
            if !self.encode_level(g, deadline) {
                stage.encode_s = enc.elapsed().as_secs_f64();
                return (None, self.record(t, stage));
            }
        }
        stage.encode_s = enc.elapsed().as_secs_f64();
        let run = Instant::now();
        self.solver.set_callbacks(Some(Hooks {
            deadline,
            learned: 0,
        }));
        let assumptions: Vec<i32> = goals
            .iter()
            .map(|&f| lit(self.fact_var[t][f as usize], true))
            .collect();
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
    fn true_actions(&self, l: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let mut open: HashMap<u32, [Option<u32>; 2]> = HashMap::default();
        for &(u, v) in &self.op_var[l] {
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
        let layer_ops: Vec<Vec<u32>> = (0..t).map(|l| self.true_actions(l)).collect();
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
                if self.holds(self.fact_var[i - 1][f as usize]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An extractor with no graph behind it, for the clause builders alone.
    fn bare(vars: i32) -> SatExtractor {
        SatExtractor {
            solver: cadical::Solver::new(),
            fact_var: Vec::new(),
            op_var: Vec::new(),
            vars,
            clauses: 0,
            need: Vec::new(),
            adds: Vec::new(),
            dels: Vec::new(),
            stamp: Vec::new(),
            epoch: 0,
            stages: Vec::new(),
            clause_buf: Vec::new(),
            classes: Vec::new(),
            used: Vec::new(),
            cone: None,
            first_stage: FirstStage::ConeThenWhole,
            split: Rc::default(),
            n_ops: 0,
        }
    }

    /// Is the assignment "exactly the variables `1..=n` in `mask` true" consistent with the
    /// clauses (auxiliary variables free)?
    fn allows(s: &mut SatExtractor, n: i32, mask: u32) -> bool {
        let assumptions: Vec<i32> = (1..=n).map(|v| lit(v, mask >> (v - 1) & 1 == 1)).collect();
        s.solver.solve_with(assumptions) == Some(true)
    }

    /// A problem of the shared suite (`data/pddl/DOMAIN/PROBLEM.pddl`), loaded and grounded.
    fn suite_task(domain: &str, problem: &str) -> (crate::Domain, crate::Problem, GroundTask) {
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/pddl");
        crate::load(
            format!("{data}/{domain}/domain.pddl"),
            format!("{data}/{domain}/{problem}.pddl"),
        )
        .unwrap()
    }

    /// Validate decoded steps (graph operator indices) as a plan of the task (`label` names it
    /// in the panic).
    fn validate_steps(
        (d, p, task): &(&crate::Domain, &crate::Problem, &GroundTask),
        g: &PlanningGraph,
        steps: Vec<Vec<u32>>,
        label: &str,
    ) {
        let plan = crate::Plan {
            steps: steps
                .into_iter()
                .map(|s| s.into_iter().map(|op| op as usize - g.n_facts).collect())
                .collect(),
        };
        crate::validate_plan(d, p, &plan.ipc_calls(task))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
    }

    #[test]
    fn the_cone_gives_the_whole_graphs_answer_at_every_stage() {
        let problems = [
            ("gripper", "prob01"),
            ("blocks", "probBLOCKS-5-0"),
            ("logistics98", "prob01"),
            ("miconic", "s3-0"),
            ("depot", "p01"),
            ("freecell", "p01"),
        ];
        for (domain, problem) in problems {
            let (d, p, task) = suite_task(domain, problem);
            let prep = SatTask::new(&task, SatActions::Direct);
            let mut g = PlanningGraph::new(&task);
            let mut smaller = false;
            for t in 1.. {
                g.expand(usize::MAX, None).unwrap();
                if !g.all_present(t, &task.goal) || !g.pairwise_non_mutex(t, &task.goal) {
                    continue;
                }
                let cone = Cone::new(&g, t, &task.goal);
                let (cone_facts, cone_ops) = cone.size();
                let whole_facts: usize = (0..=t).map(|i| g.level(i).facts.count_ones(..)).sum();
                let whole_ops: usize = (0..t).map(|i| g.level(i).num_actions).sum();
                assert!(cone_facts <= whole_facts && cone_ops <= whole_ops);
                smaller |= cone_ops < whole_ops;
                let mut answers = Vec::new();
                for c in [None, Some(cone)] {
                    let mut s = SatExtractor::new(&g, &prep);
                    s.restart(&g, c);
                    let (steps, stage) = s.solve_stage(&g, None, t, &task.goal);
                    if let Some(steps) = steps {
                        validate_steps(&(&d, &p, &task), &g, steps, &format!("{problem} {t}"));
                    }
                    answers.push(stage.answer);
                }
                assert_eq!(answers[0], answers[1], "{domain} {problem} stage {t}");
                if answers[0] == SatAnswer::Sat {
                    break;
                }
            }
            assert!(smaller, "{domain} {problem}: the cone left nothing out");
        }
    }

    #[test]
    fn models_start_from_the_initial_state() {
        // Every initial fact is true at level 0 in the model of the first satisfiable stage
        // (before the units, a fact no plan step needed was free there, and CaDiCaL's phase
        // left it false), and the stage with one of them assumed false has no model.
        for (domain, problem) in [
            ("logistics98", "prob01"),
            ("depot", "p01"),
            ("gripper", "prob01"),
        ] {
            let (_, _, task) = suite_task(domain, problem);
            let prep = SatTask::new(&task, SatActions::Split);
            let mut g = PlanningGraph::new(&task);
            let mut s = SatExtractor::new(&g, &prep);
            s.restart(&g, None);
            let init: Vec<usize> = g.level(0).facts.ones().collect();
            let mut checked = false;
            for t in 1..=30 {
                g.expand(usize::MAX, None).unwrap();
                if !g.all_present(t, &task.goal) || !g.pairwise_non_mutex(t, &task.goal) {
                    continue;
                }
                let (steps, stage) = s.solve_stage(&g, None, t, &task.goal);
                if steps.is_none() {
                    assert_eq!(stage.answer, SatAnswer::Unsat);
                    continue;
                }
                for &f in &init {
                    let v = s.fact_var[0][f];
                    assert!(
                        s.holds(v),
                        "{domain} {problem}: initial fact {f} false at level 0"
                    );
                }
                let goals: Vec<i32> = task
                    .goal
                    .iter()
                    .map(|&f| lit(s.fact_var[t][f as usize], true))
                    .collect();
                for &f in &init {
                    let mut assumptions = goals.clone();
                    assumptions.push(lit(s.fact_var[0][f], false));
                    let answer = s.solver.solve_with(assumptions);
                    assert_eq!(answer, Some(false), "{domain} {problem}: fact {f}");
                }
                checked = true;
                break;
            }
            assert!(checked, "{domain} {problem}: no satisfiable stage up to 30");
        }
    }

    #[test]
    fn split_components_give_the_direct_answer_at_every_stage() {
        let problems = [
            ("miconic", "s3-0"),
            ("miconic", "s4-2"),
            ("freecell", "p01"),
            ("blocks", "probBLOCKS-5-0"),
        ];
        for (domain, problem) in problems {
            let (d, p, task) = suite_task(domain, problem);
            let preps = [
                SatTask::new(&task, SatActions::Direct),
                SatTask::new(&task, SatActions::Split),
            ];
            let mut g = PlanningGraph::new(&task);
            let mut fewer = false;
            for t in 1.. {
                g.expand(usize::MAX, None).unwrap();
                if !g.all_present(t, &task.goal) || !g.pairwise_non_mutex(t, &task.goal) {
                    continue;
                }
                let mut answers = Vec::new();
                let mut vars = Vec::new();
                for prep in &preps {
                    let mut s = SatExtractor::new(&g, prep);
                    s.restart(&g, None);
                    let (steps, stage) = s.solve_stage(&g, None, t, &task.goal);
                    if let Some(steps) = steps {
                        assert_eq!(steps.len(), t);
                        validate_steps(&(&d, &p, &task), &g, steps, &format!("{problem} {t}"));
                    }
                    answers.push(stage.answer);
                    vars.push(s.op_var.iter().map(Vec::len).sum::<usize>());
                }
                assert_eq!(answers[0], answers[1], "{domain} {problem} stage {t}");
                fewer |= vars[1] < vars[0];
                if answers[0] == SatAnswer::Sat {
                    break;
                }
            }
            // Blocks' schemas name their objects together: nothing splits there.
            assert_eq!(fewer, domain != "blocks", "{domain} {problem}");
        }
    }

    #[test]
    fn actions_that_can_run_together_keep_their_own_variables() {
        // Lamps: `(switch ?l ?h)` splits into a lamp part and a hand part. With two free hands,
        // two switches run in one step, so in that layer the schema is not encoded by its
        // components (they would allow one switch per step: a two-step plan). With one hand
        // busy at first, the switches of the first layer all need `(free h1)` and clash, and
        // the components stand for them there.
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
        for (problem, steps) in [("lamps-two-hands", 1), ("lamps-busy-hand", 2)] {
            let (_, _, task) = crate::load(
                format!("{data}/lamps-domain.pddl"),
                format!("{data}/{problem}.pddl"),
            )
            .unwrap();
            // The objects are interchangeable: without symmetry clauses, so that `switch` splits.
            let prep = SatTask {
                symmetry: Vec::new(),
                split: Rc::new(Split::new(&task, &[])),
            };
            assert!(!prep.split.is_empty(), "{problem}");
            let mut g = PlanningGraph::new(&task);
            let mut s = SatExtractor::new(&g, &prep);
            s.restart(&g, None);
            let mut components = 0;
            for t in 1..=steps {
                g.expand(usize::MAX, None).unwrap();
                if !g.all_present(t, &task.goal) || !g.pairwise_non_mutex(t, &task.goal) {
                    continue;
                }
                let (plan, stage) = s.solve_stage(&g, None, t, &task.goal);
                let expected = if t == steps {
                    SatAnswer::Sat
                } else {
                    SatAnswer::Unsat
                };
                assert_eq!(stage.answer, expected, "{problem} stage {t}");
                assert_eq!(plan.is_some(), t == steps);
            }
            for layer in &s.op_var {
                components += layer
                    .iter()
                    .filter(|&&(u, _)| u as usize >= s.n_ops)
                    .count();
            }
            assert_eq!(components > 0, problem == "lamps-busy-hand", "{problem}");
        }
    }

    #[test]
    fn at_most_one_allows_exactly_the_sets_of_size_at_most_one() {
        // Both forms: pairwise (n <= 5) and the sequential counter.
        for n in 1..=9 {
            let mut s = bare(n);
            let vs: Vec<i32> = (1..=n).collect();
            s.at_most_one(&vs);
            for mask in 0..1u32 << n {
                assert_eq!(
                    allows(&mut s, n, mask),
                    mask.count_ones() <= 1,
                    "n={n} mask={mask:b}"
                );
            }
        }
    }

    #[test]
    fn exclude_sides_forbids_exactly_the_cross_pairs() {
        // (1, 2) and (2, 2) take the pairs, the others the two auxiliary variables.
        for (a, b) in [(1, 1), (1, 2), (2, 2), (1, 6), (3, 4), (4, 4)] {
            let n = a + b;
            let mut s = bare(n);
            let xs: Vec<i32> = (1..=a).collect();
            let ys: Vec<i32> = (a + 1..=n).collect();
            s.exclude_sides(&xs, &ys);
            let x_mask = (1u32 << a) - 1;
            for mask in 0..1u32 << n {
                let cross = mask & x_mask != 0 && mask & !x_mask != 0;
                assert_eq!(allows(&mut s, n, mask), !cross, "{a}x{b} mask={mask:b}");
            }
        }
    }
}
