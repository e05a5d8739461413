//! The planning graph restricted to the goals' backward relevance cone, built without the
//! operator mutex rows.
//!
//! Graphplan's mutexes at a node depend only on nodes below it that a plan through it could use:
//! facts `p, q ∈ P_i` are mutex when every pair of their achievers in `A_{i-1}` is; two
//! operators are mutex by the static rules or when preconditions of theirs are mutex in
//! `P_{i-1}`; an action is in `A_{i-1}` when its preconditions are in `P_{i-1}` and pairwise
//! non-mutex. So the graph's nodes and mutexes inside a set of nodes closed under "achievers of
//! a fact, preconditions of an action, the fact below a no-op" are computed from that set
//! alone. The goals' cone at stage `t` over the *relaxed* graph (no mutexes; a superset of
//! Graphplan's at every level) is such a set: [`PlanningGraph::goal_cone`] builds Graphplan's
//! graph inside it, level by level, and gets exactly the full graph's presence and fact mutexes
//! on its nodes, hence the same answer to "goals present and pairwise non-mutex at `t`" and the
//! same plans of `t` steps.
//!
//! What it skips is the full graph's operator mutex rows, quadratic in the actions of a layer
//! (mprime prob13: 58 M pairs at level 8, most of classic Graphplan's time there). Fact mutexes
//! are decided pair by pair from the achievers, stopping at the first non-mutex pair of them; a
//! pair already mutex one level down only tests the achiever pairs that can have changed (new
//! operators, or preconditions whose mutex was lost: [`Stale`]).
//! The result has no operator mutex rows: it serves [`crate::sat::SatExtractor`], which needs
//! only the fact mutexes (its module documentation), not the backward search. The same rule
//! ([`OpRows`], `fact_mutexes_lazily`) builds the layers of a full graph made by
//! [`PlanningGraph::without_op_mutexes`] (the whole graph is such a closed node set).

use fixedbitset::FixedBitSet;

use super::{ExpandError, Level, PlanningGraph};
use crate::ground::GroundTask;
use crate::heuristic::UNREACHED;

/// Relaxed reachability (preconditions present, no mutexes) by operator: the first layer of
/// each fact and operator (a no-op's is its fact's), [`UNREACHED`] when never.
struct Relaxed {
    fact: Vec<u32>,
    op: Vec<u32>,
}

impl Relaxed {
    fn of(task: &GroundTask) -> Option<Relaxed> {
        // Run to the fixpoint (later stages than the goals' first are tried too).
        let levels = crate::heuristic::Relaxed::new(task).levels(&task.init_state(), false)?;
        let mut op = levels.fact.clone();
        op.extend_from_slice(&levels.action);
        Some(Relaxed {
            fact: levels.fact,
            op,
        })
    }

    /// The first level with every goal, if any.
    fn goal_level(&self, goals: &[u32]) -> Option<usize> {
        goals
            .iter()
            .map(|&f| self.fact[f as usize])
            .try_fold(0u32, |m, l| (l != UNREACHED).then_some(m.max(l)))
            .map(|l| l as usize)
    }
}

/// What [`PlanningGraph::goal_cone`] found at the first stage it could decide.
pub struct GoalCone {
    /// The graph inside the cone, `t + 1` fact layers (`depth() == t`).
    pub graph: PlanningGraph,
    /// The stage: the first at which the goals are present and pairwise non-mutex, or the
    /// last one tried.
    pub t: usize,
    /// Whether the goals are present and pairwise non-mutex at `t` (in the full graph too).
    pub goals_non_mutex: bool,
}

impl PlanningGraph {
    /// Graphplan's graph inside the goals' cone at the first stages `t` where the goals are
    /// relaxed-reachable: stages `t₀, t₀ + 1, …` (at most `tries`) until the goals are present
    /// and pairwise non-mutex. `None` when the goals are not even relaxed-reachable, or the
    /// deadline passed. See the module documentation.
    pub fn goal_cone(
        task: &GroundTask,
        tries: usize,
        deadline: Option<std::time::Instant>,
    ) -> Option<GoalCone> {
        let mut g = PlanningGraph::without_op_mutexes(task);
        let relaxed = Relaxed::of(task)?;
        let t0 = relaxed.goal_level(&task.goal)?;
        let mut last = None;
        for t in t0..t0 + tries.max(1) {
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return None;
            }
            let (facts, ops) = relaxed_cone(&g, &relaxed, t, &task.goal);
            let levels = g.inside(&facts, &ops, deadline).ok()?;
            let top = &levels[t];
            let ok = task.goal.iter().all(|&f| top.facts.contains(f as usize))
                && task.goal.iter().enumerate().all(|(k, &p)| {
                    task.goal[k + 1..]
                        .iter()
                        .all(|&q| !top.facts_mutex(p as usize, q as usize))
                });
            last = Some((t, levels, ok));
            if ok {
                break;
            }
        }
        let (t, levels, ok) = last?;
        g.install(levels);
        Some(GoalCone {
            graph: g,
            t,
            goals_non_mutex: ok,
        })
    }

    /// Graphplan's levels `0..=t` restricted to `facts[i]` and `ops[i]` (a cone: see the module
    /// documentation), with fact mutexes and no operator mutex rows; `self` is a fresh graph
    /// (level 0 only), for its tables. An error when the deadline passes.
    fn inside(
        &self,
        facts: &[FixedBitSet],
        ops: &[FixedBitSet],
        deadline: Option<std::time::Instant>,
    ) -> Result<Vec<Level>, ExpandError> {
        let t = facts.len() - 1;
        let mut p0 = self.levels[0].facts.clone();
        p0.intersect_with(&facts[0]);
        let mut levels = vec![Level {
            facts: p0,
            ..empty_level(self.n_facts)
        }];
        let mut scratch = OpRows::default();
        for k in 0..t {
            let cur = &levels[k];
            // A_k inside the cone: no-ops of the facts kept at k + 1, cone actions whose
            // preconditions are present and pairwise non-mutex.
            let mut layer = FixedBitSet::with_capacity(self.n_ops);
            for f in cur.facts.ones().filter(|&f| facts[k + 1].contains(f)) {
                layer.insert(f);
            }
            for a in ops[k].ones() {
                let pre = &self.op_pre[a];
                let ok = pre.iter().all(|&p| cur.facts.contains(p as usize))
                    && pre.iter().enumerate().all(|(j, &p)| {
                        pre[j + 1..]
                            .iter()
                            .all(|&q| !cur.facts_mutex(p as usize, q as usize))
                    });
                if ok {
                    layer.insert(a);
                }
            }
            let mut achievers = vec![Vec::new(); self.n_facts];
            let mut next = FixedBitSet::with_capacity(self.n_facts);
            for f in facts[k + 1].ones() {
                let ach: Vec<u32> = self.all_achievers[f]
                    .iter()
                    .copied()
                    .filter(|&o| layer.contains(o as usize))
                    .collect();
                if !ach.is_empty() {
                    next.insert(f);
                    achievers[f] = ach;
                }
            }
            scratch.fill(self, cur, &layer);
            let prev = k.checked_sub(1).map(|j| &levels[j]);
            let (fact_mutex, pairs) =
                self.fact_mutexes_lazily(prev, cur, &next, &achievers, &scratch, deadline)?;
            let lk = &mut levels[k];
            lk.num_actions = layer.count_ones(self.n_facts..);
            lk.ops = layer;
            lk.achievers = achievers;
            levels.push(Level {
                facts: next,
                fact_mutex,
                fact_mutex_pairs: pairs,
                ..empty_level(self.n_facts)
            });
        }
        Ok(levels)
    }

    /// Make `levels` (from [`PlanningGraph::inside`]) this fresh graph's levels.
    fn install(&mut self, levels: Vec<Level>) {
        for (i, l) in levels.iter().enumerate() {
            for f in l.facts.ones() {
                self.fact_level[f] = self.fact_level[f].min(i as u32);
            }
            for o in l.ops.ones() {
                self.op_level[o] = self.op_level[o].min(i as u32);
            }
        }
        self.depth = levels.len() - 1;
        self.levels = levels;
    }

    /// Fact mutexes of `next` (`P_{k+1}`) from the achievers, deciding each operator pair on
    /// demand from `rows` (static rules, then competing needs in `P_k`, `cur`). Pairs non-mutex
    /// in `P_k` stay non-mutex (their no-ops are present and not mutex), as in
    /// [`PlanningGraph::expand`].
    ///
    /// A pair mutex in `P_k` too was decided there from all pairs of its achievers in
    /// `A_{k-1}` (`prev.achievers`, kept in `A_k`): each is mutex by the static rules, which do
    /// not change, or by competing needs, a mutex pair of their preconditions in `P_{k-1}`
    /// (`prev`). Unless such a precondition pair is no longer mutex in `P_k` ([`Stale`]), those
    /// achiever pairs are still mutex, and only the pairs with an achiever new in `A_k` are
    /// tested.
    pub(super) fn fact_mutexes_lazily(
        &self,
        prev: Option<&Level>,
        cur: &Level,
        next: &FixedBitSet,
        achievers: &[Vec<u32>],
        rows: &OpRows,
        deadline: Option<std::time::Instant>,
    ) -> Result<(Vec<FixedBitSet>, usize), ExpandError> {
        let mut new_facts = next.clone();
        new_facts.difference_with(&cur.facts);
        let mut out: Vec<FixedBitSet> = vec![FixedBitSet::new(); self.n_facts];
        for p in next.ones() {
            out[p] = FixedBitSet::with_capacity(self.n_facts);
        }
        let stale = prev.map(|prev| Stale::new(self, prev, cur, next));
        let known = prev.zip(stale.as_ref());
        let mut pairs = 0;
        let mut cand = FixedBitSet::with_capacity(self.n_facts);
        let (mut new_p, mut new_q) = (Vec::new(), Vec::new());
        let compatible = |xs: &[u32], ys: &[u32]| {
            xs.iter().any(|&a| {
                ys.iter()
                    .any(|&b| a == b || !rows.mutex(self, a as usize, b as usize))
            })
        };
        for (n, p) in next.ones().enumerate() {
            if n % 64 == 63 && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Err(ExpandError::Timeout);
            }
            cand.clear();
            if cur.facts.contains(p) {
                cand.union_with(&cur.fact_mutex[p]);
                cand.union_with(&new_facts);
            } else {
                cand.union_with(next);
            }
            // Achievers of p in A_{k-1}, when p was in P_k (and they are all in A_k).
            let old_p = known
                .filter(|_| cur.facts.contains(p))
                .map(|(l, _)| l.achievers[p].as_slice())
                .filter(|old| added(old, &achievers[p], &mut new_p));
            for q in cand.ones().filter(|&q| q > p && next.contains(q)) {
                // Those of q, when the pair was mutex in P_k and nothing under it went stale.
                let old_q = known
                    .filter(|(_, st)| {
                        old_p.is_some()
                            && cur.facts.contains(q)
                            && cur.fact_mutex[p].contains(q)
                            && !st.touches(p, q)
                    })
                    .map(|(l, _)| l.achievers[q].as_slice())
                    .filter(|old| added(old, &achievers[q], &mut new_q));
                let supported = match (old_p, old_q) {
                    // Only the pairs with an achiever new in A_k can be compatible.
                    (Some(old_p), Some(_)) => {
                        compatible(&new_p, &achievers[q]) || compatible(old_p, &new_q)
                    }
                    _ => compatible(&achievers[p], &achievers[q]),
                };
                if !supported {
                    out[p].insert(q);
                    out[q].insert(p);
                    pairs += 1;
                }
            }
        }
        Ok((out, pairs))
    }
}

/// `new` minus `old` into `out`, both sorted; false when `old` is not a subset of `new`.
fn added(old: &[u32], new: &[u32], out: &mut Vec<u32>) -> bool {
    out.clear();
    let mut i = 0;
    for &a in new {
        if i < old.len() && old[i] == a {
            i += 1;
        } else {
            out.push(a);
        }
    }
    i == old.len()
}

/// Which fact pairs of `P_{k+1}` may have an achiever pair in `A_{k-1}` that was mutex by
/// competing needs and no longer is: per fact `p` of `P_k`, `pre[p]`, the preconditions of its
/// achievers in `A_{k-1}` (its no-op's is `p` itself), and `reach[p]`, the facts whose mutex
/// with one of them in `P_{k-1}` is gone in `P_k` (a fact of `P_{k-1}` outside `P_k`'s cone
/// counts as having lost all its mutexes).
struct Stale {
    pre: Vec<FixedBitSet>,
    reach: Vec<FixedBitSet>,
}

impl Stale {
    fn new(g: &PlanningGraph, prev: &Level, cur: &Level, next: &FixedBitSet) -> Stale {
        let n = g.n_facts;
        let mut lost = vec![FixedBitSet::new(); n];
        for r in prev.facts.ones() {
            let mut l = prev.fact_mutex[r].clone();
            if cur.facts.contains(r) {
                l.difference_with(&cur.fact_mutex[r]);
            }
            lost[r] = l;
        }
        let mut pre = vec![FixedBitSet::new(); n];
        let mut reach = vec![FixedBitSet::new(); n];
        for p in next.ones().filter(|&p| cur.facts.contains(p)) {
            let mut ps = FixedBitSet::with_capacity(n);
            for &a in &prev.achievers[p] {
                for &r in &g.op_pre[a as usize] {
                    ps.insert(r as usize);
                }
            }
            let mut rs = FixedBitSet::with_capacity(n);
            for r in ps.ones() {
                rs.union_with(&lost[r]);
            }
            pre[p] = ps;
            reach[p] = rs;
        }
        Stale { pre, reach }
    }

    /// Whether `p` and `q` have preconditions of achievers whose mutex was lost.
    fn touches(&self, p: usize, q: usize) -> bool {
        !self.reach[p].is_disjoint(&self.pre[q])
    }
}

/// Per operator of one layer, two fact sets as flat bit rows: `bad[a]`, the facts a partner
/// must not need (those `a` deletes and those mutex in `P_k` with a precondition of `a`), and
/// `touched[a]`, the facts a partner must not delete (`a`'s preconditions and add effects).
/// Then `a` and `b` are mutex iff `b` needs a fact of `bad[a]`, adds one `a` deletes, or
/// deletes one of `touched[a]`: the four rules with one bit test per fact of `b`.
#[derive(Default)]
pub(super) struct OpRows {
    /// `slot[op]`: the row of `op`, `u32::MAX` when it is not in the layer.
    slot: Vec<u32>,
    words: usize,
    bad: Vec<u64>,
    deleted: Vec<u64>,
    touched: Vec<u64>,
}

impl OpRows {
    pub(super) fn fill(&mut self, g: &PlanningGraph, cur: &Level, layer: &FixedBitSet) {
        let words = g.n_facts.div_ceil(64);
        let n = layer.count_ones(..);
        self.words = words;
        self.slot.clear();
        self.slot.resize(g.n_ops, u32::MAX);
        for v in [&mut self.bad, &mut self.deleted, &mut self.touched] {
            v.clear();
            v.resize(n * words, 0);
        }
        let set = |row: &mut [u64], f: usize| row[f / 64] |= 1 << (f % 64);
        for (s, a) in layer.ones().enumerate() {
            self.slot[a] = s as u32;
            let r = s * words..(s + 1) * words;
            for &p in &g.op_pre[a] {
                set(&mut self.touched[r.clone()], p as usize);
                let m = &cur.fact_mutex[p as usize];
                for (w, &x) in self.bad[r.clone()].iter_mut().zip(m.as_slice()) {
                    *w |= x as u64;
                }
            }
            for &e in &g.op_add[a] {
                set(&mut self.touched[r.clone()], e as usize);
            }
            for &d in &g.op_del[a] {
                set(&mut self.bad[r.clone()], d as usize);
                set(&mut self.deleted[r.clone()], d as usize);
            }
        }
    }

    /// Are operators `a` and `b` (both in the layer) mutex?
    fn mutex(&self, g: &PlanningGraph, a: usize, b: usize) -> bool {
        let base = self.slot[a] as usize * self.words;
        let has = |v: &[u64], f: u32| v[base + f as usize / 64] >> (f % 64) & 1 == 1;
        g.op_pre[b].iter().any(|&f| has(&self.bad, f))
            || g.op_add[b].iter().any(|&f| has(&self.deleted, f))
            || g.op_del[b].iter().any(|&f| has(&self.touched, f))
    }
}

/// A level with no facts, operators or mutexes yet.
fn empty_level(n_facts: usize) -> Level {
    Level {
        facts: FixedBitSet::with_capacity(n_facts),
        fact_mutex: vec![FixedBitSet::new(); n_facts],
        fact_mutex_pairs: 0,
        ops: FixedBitSet::new(),
        op_mutex: Vec::new(),
        op_mutex_pairs: 0,
        num_actions: 0,
        achievers: Vec::new(),
    }
}

/// The goals' cone at stage `t` of the relaxed graph: `facts[i]` and `ops[i]` (actions of
/// `A_i`, no-ops left out: a fact of `facts[i + 1]` in `facts[i]` stands for its no-op).
fn relaxed_cone(
    g: &PlanningGraph,
    r: &Relaxed,
    t: usize,
    goals: &[u32],
) -> (Vec<FixedBitSet>, Vec<FixedBitSet>) {
    g.backward_cone(
        t,
        goals,
        |i, f| r.fact[f] as usize <= i,
        |i, op| r.op[op] as usize <= i,
    )
}

impl PlanningGraph {
    /// The backward relevance cone of `goals` at stage `t` over the nodes `fact_in(i, f)` (`f` in
    /// `P_i`) and `op_in(i, op)` (`op` in `A_i`) call present: `facts[t]` holds the goals;
    /// `ops[i-1]` the present actions adding a fact of `facts[i]`; `facts[i-1]` the facts of
    /// `facts[i]` present in `P_{i-1}` (their no-ops) and the preconditions of `ops[i-1]`. Over
    /// the graph's own layers this is [`crate::sat::Cone`], over the relaxed ones the set the
    /// goal-cone graph is built in.
    pub(crate) fn backward_cone(
        &self,
        t: usize,
        goals: &[u32],
        fact_in: impl Fn(usize, usize) -> bool,
        op_in: impl Fn(usize, usize) -> bool,
    ) -> (Vec<FixedBitSet>, Vec<FixedBitSet>) {
        let mut facts = vec![FixedBitSet::with_capacity(self.n_facts); t + 1];
        let mut ops = vec![FixedBitSet::with_capacity(self.n_ops); t];
        for &f in goals {
            facts[t].insert(f as usize);
        }
        for i in (1..=t).rev() {
            let (lower, upper) = facts.split_at_mut(i);
            let (here, layer) = (&mut lower[i - 1], &mut ops[i - 1]);
            for f in upper[0].ones() {
                if fact_in(i - 1, f) {
                    here.insert(f);
                }
                for &a in &self.all_achievers[f] {
                    let a = a as usize;
                    if !self.is_noop(a) && op_in(i - 1, a) {
                        layer.insert(a);
                    }
                }
            }
            for a in layer.ones() {
                for &p in &self.op_pre[a] {
                    here.insert(p as usize);
                }
            }
        }
        (facts, ops)
    }
}
