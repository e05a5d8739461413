//! The planning graph (Blum & Furst 1997, §2) on bitsets.
//!
//! Fact layer `P_0` is the initial state; action layer `A_i` holds every action whose
//! preconditions are in `P_i` and pairwise non-mutex there, plus one no-op per fact of `P_i`
//! (no-ops come first among a fact's achievers, as in the original code); `P_{i+1}` is the union
//! of the add effects of `A_i`. Mutexes follow the four binary rules (see [`Mutex`]). The graph
//! *levels off* at `n` when `P_{n+1}` has the same facts and the same mutex pairs as `P_n`;
//! by monotonicity equal counts mean equal sets, and every later layer equals layer `n`, so
//! layers past `n` are not stored (indices are clamped).
//!
//! Operators are numbered `0..n_facts` for the no-ops (no-op `i` keeps fact `i`) followed by the
//! ground actions (`n_facts + a`).

use fixedbitset::FixedBitSet;

use crate::ground::GroundTask;

mod cone;
pub use cone::GoalCone;

/// Why two nodes of the graph are mutually exclusive (Blum & Furst 1997, §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Mutex {
    /// Action rule: one action deletes an add effect of the other.
    InconsistentEffects,
    /// Action rule: one action deletes a precondition of the other.
    Interference,
    /// Action rule: a precondition of one is mutex with a precondition of the other in `P_i`.
    CompetingNeeds,
    /// Fact rule: every achiever of one is mutex with every achiever of the other in `A_{i-1}`.
    InconsistentSupport,
}

/// One stage of the graph: fact layer `P_i` and the action layer `A_i` that leaves it.
#[derive(Debug, Clone)]
pub struct Level {
    /// Facts in `P_i`.
    pub facts: FixedBitSet,
    /// `fact_mutex[p]` = facts mutex with `p` in `P_i` (empty bitset when `p` is absent).
    pub fact_mutex: Vec<FixedBitSet>,
    /// Number of unordered mutex fact pairs in `P_i`.
    pub fact_mutex_pairs: usize,
    /// Operators in `A_i` (no-ops and actions); empty until `P_{i+1}` is built.
    pub ops: FixedBitSet,
    /// `op_mutex[a]` = operators mutex with `a` in `A_i` (empty bitset when `a` is absent).
    pub op_mutex: Vec<FixedBitSet>,
    /// Number of unordered mutex operator pairs in `A_i` (no-ops included).
    pub op_mutex_pairs: usize,
    /// Number of ground actions (no-ops excluded) in `A_i`.
    pub num_actions: usize,
    /// Achievers of each fact of `P_{i+1}` within `A_i`, no-op first.
    pub achievers: Vec<Vec<u32>>,
}

impl Level {
    /// Are facts `p` and `q` mutex in this fact layer?
    pub fn facts_mutex(&self, p: usize, q: usize) -> bool {
        let m = &self.fact_mutex[p];
        m.len() > q && m.contains(q)
    }
}

/// Why the graph could not grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpandError {
    /// The next layer would exceed the memory limit (bytes needed in all).
    TooLarge(usize),
    /// The deadline passed while building the layer.
    Timeout,
}

/// Per-fact operator bitsets: consumers, achievers and deleters of each fact.
#[derive(Debug, Clone)]
struct IndexBits {
    consumers: Vec<FixedBitSet>,
    achievers: Vec<FixedBitSet>,
    deleters: Vec<FixedBitSet>,
}

/// Build [`IndexBits`] when the three tables need at most 96 MiB.
fn index_bits(n_ops: usize, lists: [&[Vec<u32>]; 3]) -> Option<IndexBits> {
    let n_facts = lists[0].len();
    if n_facts.saturating_mul(n_ops) > 1 << 28 {
        return None;
    }
    let to_bits = |l: &[Vec<u32>]| -> Vec<FixedBitSet> {
        l.iter()
            .map(|ops| {
                let mut b = FixedBitSet::with_capacity(n_ops);
                for &o in ops {
                    b.insert(o as usize);
                }
                b
            })
            .collect()
    };
    Some(IndexBits {
        consumers: to_bits(lists[0]),
        achievers: to_bits(lists[1]),
        deleters: to_bits(lists[2]),
    })
}

/// A planning graph over a ground task.
#[derive(Debug, Clone)]
pub struct PlanningGraph {
    pub n_facts: usize,
    pub n_ops: usize,
    pub op_pre: Vec<Vec<u32>>,
    pub op_add: Vec<Vec<u32>>,
    pub op_del: Vec<Vec<u32>>,
    /// All potential achievers of each fact (no-op first, then actions by index).
    all_achievers: Vec<Vec<u32>>,
    /// Operators with the fact as a precondition.
    consumers: Vec<Vec<u32>>,
    /// Operators deleting the fact.
    deleters: Vec<Vec<u32>>,
    /// The same three indices as operator bitsets, when small enough (for word-parallel rows).
    index_bits: Option<IndexBits>,
    /// Stored stages `0..=last`; stage `i > last` equals stage `last` once levelled off.
    levels: Vec<Level>,
    /// Number of fact layers built minus one (the graph's depth).
    depth: usize,
    /// `Some(n)`: `P_{n+1}` equals `P_n` (facts and mutex pairs).
    pub leveled_off_at: Option<usize>,
    /// Approximate bytes held by the layers.
    pub bytes: usize,
    /// `fact_level[f]`: the first fact layer holding `f` (`u32::MAX` while absent).
    pub fact_level: Vec<u32>,
    /// `op_level[op]`: the first action layer holding `op` (`u32::MAX` while absent).
    pub op_level: Vec<u32>,
    /// No operator mutex rows: fact mutexes are decided from operator pairs on demand
    /// ([`PlanningGraph::without_op_mutexes`]).
    lazy: bool,
}

impl PlanningGraph {
    /// Build `P_0` (the initial state, no mutexes).
    pub fn new(task: &GroundTask) -> Self {
        let n_facts = task.num_facts();
        let n_ops = n_facts + task.actions.len();
        let mut op_pre = Vec::with_capacity(n_ops);
        let mut op_add = Vec::with_capacity(n_ops);
        let mut op_del = Vec::with_capacity(n_ops);
        for f in 0..n_facts as u32 {
            op_pre.push(vec![f]);
            op_add.push(vec![f]);
            op_del.push(Vec::new());
        }
        for a in &task.actions {
            op_pre.push(a.pre.clone());
            op_add.push(a.add.clone());
            op_del.push(a.del.clone());
        }
        let mut all_achievers = vec![Vec::new(); n_facts];
        let mut consumers = vec![Vec::new(); n_facts];
        let mut deleters = vec![Vec::new(); n_facts];
        for op in 0..n_ops {
            for &f in &op_add[op] {
                all_achievers[f as usize].push(op as u32);
            }
            for &f in &op_pre[op] {
                consumers[f as usize].push(op as u32);
            }
            for &f in &op_del[op] {
                deleters[f as usize].push(op as u32);
            }
        }
        let facts = task.init_state();
        let mut fact_level = vec![u32::MAX; n_facts];
        for f in facts.ones() {
            fact_level[f] = 0;
        }
        let level0 = Level {
            fact_mutex: vec![FixedBitSet::new(); n_facts],
            fact_mutex_pairs: 0,
            facts,
            ops: FixedBitSet::with_capacity(n_ops),
            op_mutex: Vec::new(),
            op_mutex_pairs: 0,
            num_actions: 0,
            achievers: Vec::new(),
        };
        let index_bits = index_bits(n_ops, [&consumers, &all_achievers, &deleters]);
        PlanningGraph {
            n_facts,
            n_ops,
            op_pre,
            op_add,
            op_del,
            all_achievers,
            consumers,
            deleters,
            index_bits,
            levels: vec![level0],
            depth: 0,
            leveled_off_at: None,
            bytes: 0,
            fact_level,
            op_level: vec![u32::MAX; n_ops],
            lazy: false,
        }
    }

    /// Build `P_0` of a graph whose layers get no operator mutex rows: [`PlanningGraph::expand`]
    /// decides each fact pair of `P_{k+1}` from its achievers' pairs, each operator pair on
    /// demand from per-operator fact rows (the static rules, then competing needs in `P_k`), as
    /// the goal-cone graph does ([`PlanningGraph::goal_cone`]; `graph/cone.rs`). Same facts,
    /// operators, achievers, fact mutexes and level-off as [`PlanningGraph::new`]'s graph, without
    /// the operator rows, quadratic in a layer's actions (mprime prob14: 169 M pairs at level 10):
    /// for SAT extraction, which needs only the fact mutexes. Such a graph has no
    /// [`PlanningGraph::op_mutex_row`]; [`PlanningGraph::op_mutex_reason`] decides a pair there.
    pub fn without_op_mutexes(task: &GroundTask) -> Self {
        let mut g = PlanningGraph::new(task);
        g.index_bits = None; // word-parallel rows serve the operator mutexes, not built here
        g.lazy = true;
        g
    }

    /// Whether the layers keep operator mutex rows (not on a graph from
    /// [`PlanningGraph::without_op_mutexes`] or [`PlanningGraph::goal_cone`]).
    pub fn has_op_mutex_rows(&self) -> bool {
        !self.lazy
    }

    /// Index of the last fact layer built.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Stage `i` (fact layer `P_i` and action layer `A_i`), clamped after level-off.
    pub fn level(&self, i: usize) -> &Level {
        &self.levels[i.min(self.levels.len() - 1)]
    }

    /// Is operator `op` a no-op?
    pub fn is_noop(&self, op: usize) -> bool {
        op < self.n_facts
    }

    /// The ground action index of a non-no-op operator.
    pub fn action_of(&self, op: usize) -> Option<usize> {
        op.checked_sub(self.n_facts)
    }

    /// Are facts `p` and `q` mutex in `P_i`?
    pub fn facts_mutex(&self, i: usize, p: usize, q: usize) -> bool {
        self.level(i).facts_mutex(p, q)
    }

    /// Are all `goals` in `P_i`?
    pub fn all_present(&self, i: usize, goals: &[u32]) -> bool {
        let l = self.level(i);
        goals.iter().all(|&g| l.facts.contains(g as usize))
    }

    /// Are all `goals` pairwise non-mutex in `P_i`?
    pub fn pairwise_non_mutex(&self, i: usize, goals: &[u32]) -> bool {
        goals.iter().enumerate().all(|(k, &p)| {
            goals[k + 1..]
                .iter()
                .all(|&q| !self.facts_mutex(i, p as usize, q as usize))
        })
    }

    /// Why operators `a` and `b` are mutex in `A_i`, if they are (static rules checked first).
    pub fn op_mutex_reason(&self, i: usize, a: usize, b: usize) -> Option<Mutex> {
        let l = self.level(i);
        if a == b || !l.ops.contains(a) || !l.ops.contains(b) {
            return None;
        }
        let touches = |x: usize, set: &[u32]| self.op_del[x].iter().any(|d| set.contains(d));
        if touches(a, &self.op_add[b]) || touches(b, &self.op_add[a]) {
            return Some(Mutex::InconsistentEffects);
        }
        if touches(a, &self.op_pre[b]) || touches(b, &self.op_pre[a]) {
            return Some(Mutex::Interference);
        }
        if self.op_pre[a].iter().any(|&p| {
            self.op_pre[b]
                .iter()
                .any(|&q| self.facts_mutex(i, p as usize, q as usize))
        }) {
            return Some(Mutex::CompetingNeeds);
        }
        None
    }

    /// Why facts `p` and `q` are mutex in `P_i`, if they are.
    pub fn fact_mutex_reason(&self, i: usize, p: usize, q: usize) -> Option<Mutex> {
        self.facts_mutex(i, p, q)
            .then_some(Mutex::InconsistentSupport)
    }

    /// Operators in the static mutex relation with `a` (inconsistent effects or interference),
    /// restricted to `present`; `a` itself excluded.
    fn static_mutex_row(&self, a: usize, present: &FixedBitSet, row: &mut FixedBitSet) {
        if let Some(bits) = &self.index_bits {
            // Word-parallel: OR the operator bitsets of the facts involved.
            for &f in &self.op_del[a] {
                row.union_with(&bits.consumers[f as usize]);
                row.union_with(&bits.achievers[f as usize]);
            }
            for &f in self.op_pre[a].iter().chain(&self.op_add[a]) {
                row.union_with(&bits.deleters[f as usize]);
            }
        } else {
            for &f in &self.op_del[a] {
                for &b in self.consumers[f as usize]
                    .iter()
                    .chain(&self.all_achievers[f as usize])
                {
                    row.insert(b as usize);
                }
            }
            for &f in self.op_pre[a].iter().chain(&self.op_add[a]) {
                for &b in &self.deleters[f as usize] {
                    row.insert(b as usize);
                }
            }
        }
        row.intersect_with(present);
        row.set(a, false);
    }

    /// Build `A_d` and `P_{d+1}` (d = current depth). After level-off this only advances the
    /// depth. Returns the new depth, or an error at the memory limit or the deadline. On a graph
    /// made by [`PlanningGraph::without_op_mutexes`], `A_d` gets no operator mutex rows and the
    /// fact mutexes of `P_{d+1}` are decided from operator pairs on demand (`graph/cone.rs`).
    pub fn expand(
        &mut self,
        max_bytes: usize,
        deadline: Option<std::time::Instant>,
    ) -> Result<usize, ExpandError> {
        if self.leveled_off_at.is_some() {
            self.depth += 1;
            return Ok(self.depth);
        }
        let (n_facts, n_ops) = (self.n_facts, self.n_ops);
        let k = self.levels.len() - 1;
        // --- Action layer A_k ---
        let ops = self.action_layer(k);
        for op in ops.ones() {
            if self.op_level[op] == u32::MAX {
                self.op_level[op] = k as u32;
            }
        }
        let num_actions = ops.count_ones(n_facts..);
        // Size of the new action and fact layers (mutex rows), checked before allocating them:
        // the operator rows kept with the layer, or, without them, the three per-operator fact
        // rows that decide operator pairs while the fact layer is built (then dropped).
        let present_facts = self.levels[k].facts.count_ones(..);
        let layer_ops = ops.count_ones(..);
        let (kept_op_bits, scratch_bits) = if self.lazy {
            (0, 3 * layer_ops * n_facts)
        } else {
            (layer_ops * n_ops, 0)
        };
        let est = (kept_op_bits + scratch_bits + 2 * present_facts * n_facts) / 8 + n_ops * 48;
        if self.bytes + est > max_bytes {
            return Err(ExpandError::TooLarge(self.bytes + est));
        }
        let (op_mutex, op_pairs) = if self.lazy {
            (Vec::new(), 0)
        } else {
            self.op_mutexes(k, &ops, deadline)?
        };
        // --- Fact layer P_{k+1} ---
        let (facts, achievers) = self.fact_layer(&ops);
        let cur = &self.levels[k];
        let mut new_facts = facts.clone();
        new_facts.difference_with(&cur.facts);
        let (fact_mutex, fact_pairs) = if self.lazy {
            let mut rows = cone::OpRows::default();
            rows.fill(self, cur, &ops);
            let prev = k.checked_sub(1).map(|j| &self.levels[j]);
            self.fact_mutexes_lazily(prev, cur, &facts, &achievers, &rows, deadline)?
        } else {
            self.fact_mutexes(cur, &facts, &new_facts, &achievers, &op_mutex)
        };
        let fact_count = facts.count_ones(..);
        let leveled = fact_count == cur.facts.count_ones(..) && fact_pairs == cur.fact_mutex_pairs;
        for f in new_facts.ones() {
            self.fact_level[f] = k as u32 + 1;
        }
        let layer_bytes = (kept_op_bits + fact_count * n_facts) / 8 + n_ops * 48;
        self.bytes += layer_bytes;
        let lk = &mut self.levels[k];
        lk.ops = ops;
        lk.op_mutex = op_mutex;
        lk.op_mutex_pairs = op_pairs;
        lk.num_actions = num_actions;
        lk.achievers = achievers;
        self.depth = k + 1;
        if leveled {
            // Monotonicity: equal counts mean equal sets, so P_{k+1} = P_k and A_{k+1} = A_k.
            self.leveled_off_at = Some(k);
        } else {
            self.levels.push(Level {
                facts,
                fact_mutex,
                fact_mutex_pairs: fact_pairs,
                ops: FixedBitSet::with_capacity(n_ops),
                op_mutex: Vec::new(),
                op_mutex_pairs: 0,
                num_actions: 0,
                achievers: Vec::new(),
            });
        }
        Ok(self.depth)
    }

    /// The operators of `A_k`: those of `A_{k-1}`, the no-op of every fact of `P_k`, and every
    /// action whose preconditions are in `P_k` and pairwise non-mutex there.
    fn action_layer(&self, k: usize) -> FixedBitSet {
        let cur = &self.levels[k];
        let mut ops = if k > 0 {
            self.levels[k - 1].ops.clone()
        } else {
            FixedBitSet::with_capacity(self.n_ops)
        };
        for f in cur.facts.ones() {
            ops.insert(f); // no-op of every present fact
        }
        for op in self.n_facts..self.n_ops {
            if ops.contains(op) {
                continue; // actions, once present, stay present (monotonicity)
            }
            let pre = &self.op_pre[op];
            let ok = pre.iter().all(|&p| cur.facts.contains(p as usize))
                && pre.iter().all(|&p| {
                    // "If an operator needs two facts that are mutually exclusive, then we don't
                    // put it in the graph" (graphplan.c).
                    let m = &cur.fact_mutex[p as usize];
                    m.is_empty() || pre.iter().all(|&q| !m.contains(q as usize))
                });
            if ok {
                ops.insert(op);
            }
        }
        ops
    }

    /// The mutex rows of the operators `ops` of `A_k` and the number of mutex pairs.
    fn op_mutexes(
        &self,
        k: usize,
        ops: &FixedBitSet,
        deadline: Option<std::time::Instant>,
    ) -> Result<(Vec<FixedBitSet>, usize), ExpandError> {
        let cur = &self.levels[k];
        let mut op_mutex: Vec<FixedBitSet> = vec![FixedBitSet::new(); self.n_ops];
        let mut op_pairs = 0usize;
        let mut fm = FixedBitSet::with_capacity(self.n_facts);
        for (i, a) in ops.ones().enumerate() {
            if i % 512 == 511 && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Err(ExpandError::Timeout);
            }
            let mut row = FixedBitSet::with_capacity(self.n_ops);
            // Inconsistent effects and interference (static).
            self.static_mutex_row(a, ops, &mut row);
            self.competing_needs_row(cur, a, ops, &mut fm, &mut row);
            op_pairs += row.count_ones(..);
            op_mutex[a] = row;
        }
        Ok((op_mutex, op_pairs / 2))
    }

    /// Competing needs: add to `row` the operators of `ops` with a precondition mutex in `P_k`
    /// (`cur`) with a precondition of `a` (`fm` is scratch).
    fn competing_needs_row(
        &self,
        cur: &Level,
        a: usize,
        ops: &FixedBitSet,
        fm: &mut FixedBitSet,
        row: &mut FixedBitSet,
    ) {
        fm.clear();
        for &p in &self.op_pre[a] {
            let m = &cur.fact_mutex[p as usize];
            if !m.is_empty() {
                fm.union_with(m);
            }
        }
        if fm.is_clear() {
            return;
        }
        let mut cn = FixedBitSet::with_capacity(self.n_ops);
        for q in fm.ones() {
            match &self.index_bits {
                Some(bits) => cn.union_with(&bits.consumers[q]),
                None => {
                    for &b in &self.consumers[q] {
                        cn.insert(b as usize);
                    }
                }
            }
        }
        cn.intersect_with(ops);
        row.union_with(&cn);
    }

    /// The facts of `P_{k+1}` (those with an achiever in `ops`) and each fact's achievers.
    fn fact_layer(&self, ops: &FixedBitSet) -> (FixedBitSet, Vec<Vec<u32>>) {
        let mut facts = FixedBitSet::with_capacity(self.n_facts);
        let mut achievers: Vec<Vec<u32>> = vec![Vec::new(); self.n_facts];
        for (f, ach) in achievers.iter_mut().enumerate() {
            for &op in &self.all_achievers[f] {
                if ops.contains(op as usize) {
                    ach.push(op);
                }
            }
            if !ach.is_empty() {
                facts.insert(f);
            }
        }
        (facts, achievers)
    }

    /// The mutex rows of the facts of `P_{k+1}` and the number of mutex pairs (inconsistent
    /// support); `cur` is `P_k` and `new_facts` the facts not in it.
    fn fact_mutexes(
        &self,
        cur: &Level,
        facts: &FixedBitSet,
        new_facts: &FixedBitSet,
        achievers: &[Vec<u32>],
        op_mutex: &[FixedBitSet],
    ) -> (Vec<FixedBitSet>, usize) {
        let n_facts = self.n_facts;
        let mut fact_mutex: Vec<FixedBitSet> = vec![FixedBitSet::new(); n_facts];
        for p in facts.ones() {
            fact_mutex[p] = FixedBitSet::with_capacity(n_facts);
        }
        let mut fact_pairs = 0usize;
        let mut cand = FixedBitSet::with_capacity(n_facts);
        for p in facts.ones() {
            // Candidates: pairs mutex in P_k (mutexes only disappear) and pairs with a new fact.
            cand.clear();
            if cur.facts.contains(p) {
                cand.union_with(&cur.fact_mutex[p]);
                cand.union_with(new_facts);
            } else {
                cand.union_with(facts);
            }
            for q in cand.ones() {
                if q <= p || !facts.contains(q) {
                    continue;
                }
                // Inconsistent support: every achiever of p is mutex with every achiever of q.
                let supported = achievers[p].iter().any(|&a| {
                    achievers[q]
                        .iter()
                        .any(|&b| a == b || !op_mutex[a as usize].contains(b as usize))
                });
                if !supported {
                    fact_mutex[p].insert(q);
                    fact_mutex[q].insert(p);
                    fact_pairs += 1;
                }
            }
        }
        (fact_mutex, fact_pairs)
    }

    /// Achievers of fact `f` at `P_i` (i ≥ 1), i.e. operators of `A_{i-1}` adding `f`, no-op first.
    pub fn achievers(&self, i: usize, f: usize) -> &[u32] {
        &self.level(i - 1).achievers[f]
    }

    /// Operator mutex row in `A_i`.
    ///
    /// # Panics
    ///
    /// On a graph from [`PlanningGraph::without_op_mutexes`], which keeps no rows
    /// ([`PlanningGraph::op_mutex_reason`] decides a pair there).
    pub fn op_mutex_row(&self, i: usize, op: usize) -> &FixedBitSet {
        assert!(!self.lazy, "a graph without operator mutex rows");
        &self.level(i).op_mutex[op]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ground::GroundAction;

    fn hw_task() -> GroundTask {
        // Kambhampati's homework example: A1: p -> q; A2: r -> ¬q, w. Facts p=0 q=1 r=2 w=3.
        GroundTask {
            domain_name: "hw".into(),
            problem_name: "hw".into(),
            facts: vec!["(p)".into(), "(q)".into(), "(r)".into(), "(w)".into()],
            actions: vec![
                GroundAction {
                    schema: "a1".into(),
                    args: vec![],
                    pre: vec![0],
                    add: vec![1],
                    del: vec![],
                },
                GroundAction {
                    schema: "a2".into(),
                    args: vec![],
                    pre: vec![2],
                    add: vec![3],
                    del: vec![1],
                },
            ],
            init: vec![0, 2],
            goal: vec![1, 3],
            goal_satisfiable: true,
            costs: None,
            stats: Default::default(),
        }
    }

    #[test]
    fn inconsistent_effects_make_goals_mutex_at_level_one() {
        let t = hw_task();
        let mut g = PlanningGraph::new(&t);
        g.expand(usize::MAX, None).unwrap();
        assert_eq!(g.op_mutex_reason(0, 4, 5), Some(Mutex::InconsistentEffects));
        assert!(g.facts_mutex(1, 1, 3));
        assert_eq!(
            g.fact_mutex_reason(1, 1, 3),
            Some(Mutex::InconsistentSupport)
        );
        g.expand(usize::MAX, None).unwrap();
        // At level 2, q can persist (no-op) alongside a2 at level 1... q and w become non-mutex.
        assert!(!g.facts_mutex(2, 1, 3));
    }

    #[test]
    fn a_graph_without_operator_rows_has_the_same_mutexes_and_no_rows() {
        let t = hw_task();
        let mut g = PlanningGraph::without_op_mutexes(&t);
        g.expand(usize::MAX, None).unwrap();
        assert_eq!(g.level(0).op_mutex_pairs, 0);
        assert_eq!(g.op_mutex_reason(0, 4, 5), Some(Mutex::InconsistentEffects));
        assert!(g.facts_mutex(1, 1, 3));
        g.expand(usize::MAX, None).unwrap();
        assert!(!g.facts_mutex(2, 1, 3));
        let rows = std::panic::catch_unwind(|| g.op_mutex_row(0, 4).len());
        assert!(rows.is_err(), "no operator rows to hand out");
    }

    #[test]
    fn first_levels_of_facts_and_operators() {
        // Chain: a0: p -> q; a1: q -> r; a2: p -> r. Facts p=0 q=1 r=2; ops 3, 4, 5.
        let act = |pre: u32, add: u32| GroundAction {
            schema: "a".into(),
            args: vec![],
            pre: vec![pre],
            add: vec![add],
            del: vec![],
        };
        let t = GroundTask {
            facts: vec!["(p)".into(), "(q)".into(), "(r)".into()],
            actions: vec![act(0, 1), act(1, 2), act(0, 2)],
            init: vec![0],
            goal: vec![2],
            ..hw_task()
        };
        let mut g = PlanningGraph::new(&t);
        g.expand(usize::MAX, None).unwrap();
        g.expand(usize::MAX, None).unwrap();
        g.expand(usize::MAX, None).unwrap();
        // p at 0; q and r at 1 (r via a2); a0 and a2 enter A_0, a1 enters A_1.
        assert_eq!(g.fact_level, vec![0, 1, 1]);
        assert_eq!(&g.op_level[3..], &[0, 1, 0]);
        // Achievers of r in A_2: its no-op first, then by operator index (planner.c's order).
        assert_eq!(g.achievers(3, 2), &[2, 4, 5]);
    }

    #[test]
    fn list_and_bitset_indices_give_the_same_graph() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/pddl/blocks");
        let (_, _, t) = crate::load(
            format!("{dir}/domain.pddl"),
            format!("{dir}/probBLOCKS-5-0.pddl"),
        )
        .unwrap();
        let mut a = PlanningGraph::new(&t);
        let mut b = PlanningGraph::new(&t);
        assert!(b.index_bits.is_some());
        b.index_bits = None; // the fallback used for very large tasks
        for _ in 0..12 {
            a.expand(usize::MAX, None).unwrap();
            b.expand(usize::MAX, None).unwrap();
            let d = a.depth();
            for i in [d - 1, d] {
                let (x, y) = (a.level(i), b.level(i));
                assert_eq!(
                    (x.fact_mutex_pairs, &x.facts),
                    (y.fact_mutex_pairs, &y.facts)
                );
                assert_eq!(
                    (x.op_mutex_pairs, &x.ops, &x.op_mutex),
                    (y.op_mutex_pairs, &y.ops, &y.op_mutex)
                );
            }
        }
        assert_eq!(a.leveled_off_at, Some(10)); // data/pddl/README.md: blocks-5-0 levels off at 10
    }
}
