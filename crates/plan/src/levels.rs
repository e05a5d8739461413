//! Bookkeeping shared by the two backward searches ([`crate::extract`] and [`crate::ebl`]):
//! `planner.c`'s per-level counters and the operators chosen at each level.

use std::time::Instant;

use fixedbitset::FixedBitSet;

use crate::graph::PlanningGraph;

/// Per-level state of a backward search. `C` is what is recorded per chosen operator (the
/// operator, or the operator and the goal it was chosen for).
pub(crate) struct Levels<C> {
    /// `is_true[i][f]`: number of chosen operators in `A_{i-1}` adding `f`.
    pub is_true: Vec<Vec<u32>>,
    /// `used[i][f]`: number of chosen operators of `A_i` needing `f` (1 for a top goal).
    pub used: Vec<Vec<u32>>,
    /// Chosen operators of `A_{i-1}` for level `i`.
    pub chosen: Vec<Vec<C>>,
    /// Extracted steps (non-no-op operators): `steps[i]` = actions of `A_i`.
    pub steps: Vec<Vec<u32>>,
    /// Reusable exclusion bitsets (one per open choice point).
    pub pool: Vec<FixedBitSet>,
    /// Reusable memo lookup key.
    key_buf: FixedBitSet,
}

impl<C> Levels<C> {
    pub fn new(n_facts: usize) -> Self {
        Levels {
            is_true: Vec::new(),
            used: Vec::new(),
            chosen: Vec::new(),
            steps: Vec::new(),
            pool: Vec::new(),
            key_buf: FixedBitSet::with_capacity(n_facts),
        }
    }

    /// `facts` as a bitset, in a reused buffer (a memo lookup key; clone it to keep it).
    pub fn key(&mut self, facts: &[u32]) -> &FixedBitSet {
        self.key_buf.clear();
        for &f in facts {
            self.key_buf.insert(f as usize);
        }
        &self.key_buf
    }

    /// Make levels `0..=t` exist.
    pub fn ensure(&mut self, t: usize, n_facts: usize) {
        while self.is_true.len() <= t {
            self.is_true.push(vec![0; n_facts]);
            self.used.push(vec![0; n_facts]);
            self.chosen.push(Vec::new());
            self.steps.push(Vec::new());
        }
    }

    /// Mark the top goals of a stage at level `t` as needed (`on`) or release them.
    pub fn mark_goals(&mut self, t: usize, goals: &[u32], on: bool) {
        for &g in goals {
            let u = &mut self.used[t][g as usize];
            if on {
                *u += 1;
            } else {
                *u -= 1;
            }
        }
    }

    /// Commit operator `op` at level `t`: its add effects become true at `t` and its
    /// preconditions become goals at `t-1` (new ones are pushed on `subgoals`). Returns the
    /// length of `subgoals` before, for [`Levels::undo`].
    pub fn commit(
        &mut self,
        g: &PlanningGraph,
        t: usize,
        op: usize,
        entry: C,
        subgoals: &mut Vec<u32>,
    ) -> usize {
        self.chosen[t].push(entry);
        for &f in &g.op_add[op] {
            self.is_true[t][f as usize] += 1;
        }
        let mark = subgoals.len();
        for &f in &g.op_pre[op] {
            let u = &mut self.used[t - 1][f as usize];
            if *u == 0 {
                subgoals.push(f);
            }
            *u += 1;
        }
        mark
    }

    /// Undo [`Levels::commit`] of `op` at level `t`.
    pub fn undo(
        &mut self,
        g: &PlanningGraph,
        t: usize,
        op: usize,
        subgoals: &mut Vec<u32>,
        mark: usize,
    ) {
        for &f in &g.op_pre[op] {
            self.used[t - 1][f as usize] -= 1;
        }
        subgoals.truncate(mark);
        for &f in &g.op_add[op] {
            self.is_true[t][f as usize] -= 1;
        }
        self.chosen[t].pop();
    }
}

/// Counters of one extraction stage and the time limit, shared by both backward searches.
#[derive(Clone, Copy, Debug)]
pub struct SearchStats {
    /// Operators tried (no-ops included) in the current stage.
    pub nodes: u64,
    /// Precondition sets rejected by the memo.
    pub memo_hits: u64,
    /// The deadline passed during the search: a failure then proves nothing.
    pub aborted: bool,
    deadline: Option<Instant>,
}

impl SearchStats {
    pub fn new(deadline: Option<Instant>) -> Self {
        SearchStats {
            nodes: 0,
            memo_hits: 0,
            aborted: false,
            deadline,
        }
    }

    /// Count a search node; every 1,024 nodes, check the deadline. True (and `aborted` set)
    /// once it has passed.
    pub fn tick(&mut self) -> bool {
        self.nodes += 1;
        if self.nodes & 1023 == 0 && self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.aborted = true;
        }
        self.aborted
    }
}

/// The set of `facts` as a bitset over `n_facts` facts.
pub(crate) fn fact_set(n_facts: usize, facts: &[u32]) -> FixedBitSet {
    let mut k = FixedBitSet::with_capacity(n_facts);
    for &f in facts {
        k.insert(f as usize);
    }
    k
}
