//! Bookkeeping shared by the two backward searches ([`crate::extract`] and [`crate::ebl`]):
//! `planner.c`'s per-level counters and the operators chosen at each level.

use std::time::Instant;

use fixedbitset::FixedBitSet;

use crate::graph::PlanningGraph;

/// Stack a backward search may take per frame: an `assign` frame (a few hundred bytes in release
/// builds, more unoptimised) or a step of the memo lookup's recursion.
const STACK_PER_FRAME: usize = 4 << 10;
/// Frames a level's search takes besides one per goal (`next_level`, `solve_level`, the memo).
const LEVEL_FRAMES: usize = 8;
/// Frames granted at once when the stack must be checked (so the check is rare).
const GRANT_FRAMES: usize = 1 << 10;
/// Stack left free under any grant.
const STACK_MARGIN: usize = 256 << 10;

/// Run one level's search, `goals` goals to assign, with stack for it. A backward search
/// recurses once per goal, so its depth is the number of goals summed over the levels it
/// descends (15 thousand frames and more on IPC 2018's petri-net-alignment p01: 267 goals,
/// 147 levels), more than a thread's stack holds. `room(ex)` counts the frames still granted
/// to the search on the stack it runs on (0 outside a search): while a level fits, it only
/// moves the count; otherwise the stack is checked and, with less than a grant left, a fresh
/// segment is allocated (`stacker`), so the check costs nothing on a search's usual path.
#[inline]
pub(crate) fn with_stack<E, R>(
    ex: &mut E,
    room: fn(&mut E) -> &mut usize,
    goals: usize,
    search: impl FnOnce(&mut E) -> R,
) -> R {
    let frames = goals.saturating_add(LEVEL_FRAMES);
    let left = *room(ex);
    if frames > left {
        return with_new_grant(ex, room, frames, search);
    }
    *room(ex) = left - frames;
    let r = search(ex);
    *room(ex) = left;
    r
}

/// [`with_stack`]'s rare path: check the stack, and grant `frames` or more on it or on a fresh
/// segment.
#[cold]
#[inline(never)]
fn with_new_grant<E, R>(
    ex: &mut E,
    room: fn(&mut E) -> &mut usize,
    frames: usize,
    search: impl FnOnce(&mut E) -> R,
) -> R {
    let left = *room(ex);
    let grant = frames.max(GRANT_FRAMES);
    let bytes = grant
        .saturating_mul(STACK_PER_FRAME)
        .saturating_add(STACK_MARGIN);
    let r = stacker::maybe_grow(bytes, bytes.saturating_mul(4), || {
        *room(ex) = grant - frames;
        search(ex)
    });
    *room(ex) = left;
    r
}

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
    /// Frames of stack still granted to the search (see [`with_stack`]).
    pub stack_room: usize,
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
            stack_room: 0,
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
