//! Extraction with explanation-based learning and dependency-directed backtracking
//! (Kambhampati 2000, "Planning Graph as a (Dynamic) CSP: Exploiting EBL, DDB and other CSP
//! Search Techniques in Graphplan", JAIR 12).
//!
//! The search is the one of [`crate::extract`] (no-ops first, forward check) with the
//! distance-based orderings of Kambhampati & Nigenda (2000): goals hardest first (latest to enter
//! the graph, then fewest achievers) and achievers by the layer they entered, earliest first.
//! Every failure returns an *explanation*: the subset of the level's goals that
//! caused it.
//! - An achiever excluded by a mutex is explained by the goal whose chosen operator excludes it.
//! - A forward-check failure is explained by the goal left without achievers and the goals whose
//!   operators exclude those achievers.
//! - A failed precondition set at `t-1` is explained by a nogood `N` of level `t-1`, regressed
//!   to the goals at `t` whose operators need a fact of `N`.
//!
//! Conflict-directed backjumping: when the explanation of a subtree does not name the goal being
//! assigned, no other achiever of that goal can help, and the search jumps back past it. The
//! explanation of a failed level is memoised as a *nogood* (a goal set, usually far smaller than
//! the failed set), and a precondition set fails at once when it contains a memoised nogood
//! (subset lookup, not `planner.c`'s exact match).
//!
//! The no-op-first order, the goal order and the returned plans are those of the plain search, so
//! plans are still step-optimal. `planner.c`'s minimality check is dropped: a non-minimal action
//! set's preconditions contain those of the minimal one, so a nogood of the minimal set prunes it.
//! Blum & Furst's memo-fixpoint termination test is not applied to nogood memos (its proof is for
//! memos of whole failed goal sets), so this search proves unsolvability only when the levelled-off
//! graph never has the goals pairwise non-mutex.

use std::time::Instant;

use fixedbitset::FixedBitSet;

use crate::graph::PlanningGraph;
use crate::levels::{fact_set, with_stack, Levels, SearchStats};

/// Nogoods of one level: goal sets proven unachievable there, kept in a set-trie (facts in
/// increasing order along each path) so that "does `S` contain a stored nogood?" only walks the
/// branches whose facts are in `S`.
#[derive(Clone)]
pub struct NogoodMemo {
    /// Trie nodes; node 0 is the root. `children` are (fact, node) pairs.
    nodes: Vec<TrieNode>,
    len: usize,
}

#[derive(Clone, Default)]
struct TrieNode {
    children: Vec<(u32, u32)>,
    /// A nogood ends here.
    terminal: bool,
}

impl Default for NogoodMemo {
    fn default() -> Self {
        NogoodMemo {
            nodes: vec![TrieNode::default()],
            len: 0,
        }
    }
}

impl NogoodMemo {
    /// Number of nogoods stored.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A stored nogood contained in `goals` (its facts in increasing order), if any.
    pub fn subset_of(&self, goals: &FixedBitSet) -> Option<Vec<u32>> {
        let sorted: Vec<u32> = goals.ones().map(|f| f as u32).collect();
        let mut path = Vec::new();
        self.find(0, goals, &sorted, &mut path).then_some(path)
    }

    /// Depth-first search for a terminal below `node` along facts of `goals`; `rest` holds the
    /// goal facts greater than the node's own fact. Walks whichever list is shorter: the
    /// node's children (checking membership) or the remaining goals (binary search).
    fn find(&self, node: usize, goals: &FixedBitSet, rest: &[u32], path: &mut Vec<u32>) -> bool {
        let n = &self.nodes[node];
        if n.terminal {
            return true;
        }
        let visit = |f: u32, child: u32, path: &mut Vec<u32>| {
            let i = rest.partition_point(|&x| x <= f);
            path.push(f);
            if self.find(child as usize, goals, &rest[i..], path) {
                return true;
            }
            path.pop();
            false
        };
        if n.children.len() <= rest.len() {
            for &(f, child) in &n.children {
                if goals.contains(f as usize) && visit(f, child, path) {
                    return true;
                }
            }
        } else {
            for &f in rest {
                if let Ok(k) = n.children.binary_search_by_key(&f, |c| c.0) {
                    if visit(f, n.children[k].1, path) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Store `nogood` unless a stored one already covers it.
    pub fn insert(&mut self, nogood: &FixedBitSet) {
        if nogood.is_clear() || self.subset_of(nogood).is_some() {
            return;
        }
        let mut node = 0usize;
        for f in nogood.ones() {
            let f = f as u32;
            // Children stay sorted by fact (binary search in `find`).
            node = match self.nodes[node].children.binary_search_by_key(&f, |c| c.0) {
                Ok(k) => self.nodes[node].children[k].1 as usize,
                Err(k) => {
                    let child = self.nodes.len();
                    self.nodes.push(TrieNode::default());
                    self.nodes[node].children.insert(k, (f, child as u32));
                    child
                }
            };
        }
        self.nodes[node].terminal = true;
        self.len += 1;
    }
}

/// EBL/DDB backward search state over a planning graph.
pub struct EblExtractor<'g> {
    g: &'g PlanningGraph,
    /// `nogoods[i]`: goal sets proven unachievable at level `i`.
    pub nogoods: Vec<NogoodMemo>,
    /// Per-level counters, chosen operators (with the goal each was chosen for) and steps.
    lv: Levels<(u32, u32)>,
    pub stats: SearchStats,
    /// Reusable achiever lists (one per open choice point).
    lists: Vec<Vec<u32>>,
}

impl<'g> EblExtractor<'g> {
    pub fn new(g: &'g PlanningGraph, deadline: Option<Instant>) -> Self {
        EblExtractor {
            g,
            nogoods: Vec::new(),
            lv: Levels::new(g.n_facts),
            stats: SearchStats::new(deadline),
            lists: Vec::new(),
        }
    }

    /// Stage `t`: extract a plan for `goals` from level `t`, or memoise the nogood that explains
    /// the failure at level `t`.
    pub fn extract(&mut self, t: usize, goals: &[u32]) -> Option<Vec<Vec<u32>>> {
        while self.nogoods.len() <= t {
            self.nogoods.push(NogoodMemo::default());
        }
        self.lv.ensure(t, self.g.n_facts);
        self.stats.nodes = 0;
        self.lv.mark_goals(t, goals, true);
        // The memo's insertion recurses as deep as the nogood is wide: on the search's stack.
        let solved = with_stack(
            self,
            |e| &mut e.lv.stack_room,
            goals.len(),
            |e| match e.solve_level(t, goals) {
                Ok(()) => true,
                Err(nogood) => {
                    if !e.stats.aborted {
                        e.nogoods[t].insert(&nogood);
                    }
                    false
                }
            },
        );
        self.lv.mark_goals(t, goals, false);
        solved.then(|| self.lv.steps[..t].to_vec())
    }

    /// Cover `goals` at level `t`; on failure return a nogood `N ⊆ goals` of level `t`.
    fn solve_level(&mut self, t: usize, goals: &[u32]) -> Result<(), FixedBitSet> {
        if t == 0 {
            return Ok(());
        }
        let g = self.g;
        // Goals are assigned from the last index: sort hardest last (Kambhampati & Nigenda 2000).
        let mut order = goals.to_vec();
        order.sort_by_key(|&f| {
            let f = f as usize;
            (
                g.fact_level[f],
                std::cmp::Reverse(g.achievers(t, f).len()),
                f,
            )
        });
        let excluded = FixedBitSet::with_capacity(g.n_ops);
        let mut subgoals = Vec::new();
        match self.assign(
            t,
            &order,
            order.len() as isize - 1,
            &excluded,
            &mut subgoals,
        ) {
            Ok(()) => Ok(()),
            // An empty explanation cannot arise from the rules above; fall back to all goals.
            Err(n) if n.is_clear() => Err(fact_set(self.g.n_facts, goals)),
            Err(n) => Err(n),
        }
    }

    /// The goal whose chosen operator at level `t` is mutex with `op` (in `A_{t-1}`).
    fn culprit(&self, t: usize, op: u32) -> Option<u32> {
        self.lv.chosen[t]
            .iter()
            .find(|&&(c, _)| self.g.op_mutex_row(t - 1, c as usize).contains(op as usize))
            .map(|&(_, goal)| goal)
    }

    /// Forward check: the first goal of `goals[..upto]`, not yet true, with every achiever
    /// excluded.
    fn first_impossible(
        &self,
        t: usize,
        goals: &[u32],
        upto: usize,
        excluded: &FixedBitSet,
    ) -> Option<u32> {
        let is_true = &self.lv.is_true[t];
        goals[..upto].iter().copied().find(|&gk| {
            is_true[gk as usize] == 0
                && self
                    .g
                    .achievers(t, gk as usize)
                    .iter()
                    .all(|&op| excluded.contains(op as usize))
        })
    }

    fn assign(
        &mut self,
        t: usize,
        goals: &[u32],
        mut cindex: isize,
        excluded: &FixedBitSet,
        subgoals: &mut Vec<u32>,
    ) -> Result<(), FixedBitSet> {
        let n_facts = self.g.n_facts;
        if self.stats.aborted {
            return Err(FixedBitSet::with_capacity(n_facts));
        }
        while cindex >= 0 && self.lv.is_true[t][goals[cindex as usize] as usize] > 0 {
            cindex -= 1;
        }
        if cindex < 0 {
            return self.next_level(t, subgoals);
        }
        let v = goals[cindex as usize];
        // Explanation of this goal's failure: itself plus the reasons each achiever failed.
        let mut conflict = FixedBitSet::with_capacity(n_facts);
        conflict.insert(v as usize);
        let g = self.g;
        // Value ordering (Kambhampati & Nigenda 2000): the no-op first, then actions by the
        // layer they entered the graph, earliest first (stable: index order within a layer).
        let mut achievers = self.lists.pop().unwrap_or_default();
        achievers.clear();
        achievers.extend_from_slice(g.achievers(t, v as usize));
        let start = usize::from(achievers.first().is_some_and(|&op| g.is_noop(op as usize)));
        achievers[start..].sort_by_key(|&op| g.op_level[op as usize]);
        // Pooled buffers: one achiever list and one exclusion set per open choice point.
        let mut excl = self.lv.pool.pop().unwrap_or_default();
        let result = self.try_each(
            t, goals, cindex, excluded, subgoals, v, conflict, &mut excl, &achievers,
        );
        self.lv.pool.push(excl);
        self.lists.push(achievers);
        result
    }

    /// Try each achiever of goal `v` (at `goals[cindex]`) in turn; `excl` is scratch space.
    #[allow(clippy::too_many_arguments)]
    fn try_each(
        &mut self,
        t: usize,
        goals: &[u32],
        cindex: isize,
        excluded: &FixedBitSet,
        subgoals: &mut Vec<u32>,
        v: u32,
        mut conflict: FixedBitSet,
        excl: &mut FixedBitSet,
        achievers: &[u32],
    ) -> Result<(), FixedBitSet> {
        let g = self.g;
        for &op in achievers {
            if excluded.contains(op as usize) {
                // Mutex with an operator chosen for another goal: that goal is to blame.
                if let Some(c) = self.culprit(t, op) {
                    conflict.insert(c as usize);
                }
                continue;
            }
            excl.clone_from(excluded);
            excl.union_with(g.op_mutex_row(t - 1, op as usize));
            if let Some(gk) = self.first_impossible(t, goals, cindex as usize, excl) {
                // `gk` has no achiever left: blame it and whoever excludes its achievers
                // (this operator, chosen for `v`, or earlier ones).
                conflict.insert(gk as usize);
                for &b in g.achievers(t, gk as usize) {
                    if g.op_mutex_row(t - 1, op as usize).contains(b as usize) {
                        continue; // excluded by this operator: `v` is already in the set
                    }
                    if let Some(c) = self.culprit(t, b) {
                        conflict.insert(c as usize);
                    }
                }
                continue;
            }
            if self.stats.tick() {
                return Err(conflict);
            }
            let mark = self.lv.commit(g, t, op as usize, (op, v), subgoals);
            let r = self.assign(t, goals, cindex - 1, excl, subgoals);
            self.lv.undo(g, t, op as usize, subgoals, mark);
            match r {
                Ok(()) => return Ok(()),
                Err(c) => {
                    if self.stats.aborted {
                        return Err(c);
                    }
                    if !c.contains(v as usize) {
                        // Backjump: the failure below holds whatever `v` is achieved by.
                        return Err(c);
                    }
                    conflict.union_with(&c);
                }
            }
        }
        Err(conflict)
    }

    /// Regress a nogood (facts `n`) of level `t-1` to level `t`: for each of its facts, the goal
    /// whose chosen operator (earliest chosen first) needs it.
    fn regress(&self, t: usize, n: impl IntoIterator<Item = u32>) -> FixedBitSet {
        let mut c = FixedBitSet::with_capacity(self.g.n_facts);
        for f in n {
            if let Some(&(_, goal)) = self.lv.chosen[t]
                .iter()
                .find(|&&(op, _)| self.g.op_pre[op as usize].contains(&f))
            {
                c.insert(goal as usize);
            }
        }
        c
    }

    /// All goals of level `t` are covered: solve the precondition set at `t-1`.
    fn next_level(&mut self, t: usize, subgoals: &[u32]) -> Result<(), FixedBitSet> {
        with_stack(
            self,
            |e| &mut e.lv.stack_room,
            subgoals.len(),
            |e| e.cover_next_level(t, subgoals),
        )
    }

    /// [`Self::next_level`]'s search, on a stack with room for it.
    fn cover_next_level(&mut self, t: usize, subgoals: &[u32]) -> Result<(), FixedBitSet> {
        if let Some(n) = self.nogoods[t - 1].subset_of(self.lv.key(subgoals)) {
            self.stats.memo_hits += 1;
            return Err(self.regress(t, n));
        }
        let sub = subgoals.to_vec();
        match self.solve_level(t - 1, &sub) {
            Ok(()) => {
                let g = self.g;
                self.lv.steps[t - 1] = self.lv.chosen[t]
                    .iter()
                    .map(|&(op, _)| op)
                    .filter(|&op| !g.is_noop(op as usize))
                    .collect();
                Ok(())
            }
            Err(n) => {
                let c = self.regress(t, n.ones().map(|f| f as u32));
                if !self.stats.aborted {
                    self.nogoods[t - 1].insert(&n);
                }
                Err(c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(facts: &[usize]) -> FixedBitSet {
        let mut b = FixedBitSet::with_capacity(16);
        for &f in facts {
            b.insert(f);
        }
        b
    }

    #[test]
    fn nogood_memo_finds_stored_subsets_only() {
        let mut m = NogoodMemo::default();
        m.insert(&set(&[2, 5]));
        m.insert(&set(&[1, 3, 7]));
        m.insert(&set(&[1, 3, 7, 9])); // covered by {1, 3, 7}: not stored
        m.insert(&set(&[])); // the empty set is never a nogood
        assert_eq!(m.len(), 2);
        assert_eq!(m.subset_of(&set(&[0, 2, 4, 5])), Some(vec![2, 5]));
        assert_eq!(m.subset_of(&set(&[1, 3, 7, 8])), Some(vec![1, 3, 7]));
        assert_eq!(m.subset_of(&set(&[1, 3, 8])), None);
        assert_eq!(m.subset_of(&set(&[2, 3, 4, 6, 7])), None);
        // Both walks (children list / remaining goals) agree on a wide node.
        let mut w = NogoodMemo::default();
        for f in 0..12 {
            w.insert(&set(&[f, 14]));
        }
        assert_eq!(w.subset_of(&set(&[11, 14])), Some(vec![11, 14]));
        assert_eq!(w.subset_of(&set(&[3, 13])), None);
        assert_eq!(
            w.subset_of(&set(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])),
            None
        );
    }
}
