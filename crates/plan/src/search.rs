//! Baselines over individual states, on the same grounding as Graphplan: breadth-first search
//! (optimal sequential length); A* (Hart, Nilsson & Raphael 1968) with h_max (Bonet & Geffner
//! 2001) or LM-cut (Helmert & Domshlak 2009, the usual baseline of cost-optimal planning), both
//! admissible, so its plans are of least cost under IPC action costs and of fewest actions
//! without; and greedy best-first search with h_FF (Hoffmann & Nebel 2001: the length of a plan
//! extracted from the relaxed planning graph, i.e. the union with no deletes and no mutexes).
//! The heuristics are in [`crate::heuristic`] and [`crate::lmcut`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::fxhash::FxHasher;
use hashbrown::HashTable;
use std::hash::Hasher;
use std::time::Instant;

use fixedbitset::{Block, FixedBitSet};

use crate::ground::GroundTask;
use crate::heuristic::{cost_key, Relaxed};
use crate::lmcut::LmCut;
use crate::{Limits, Outcome, Plan};

/// Result of a state-space search.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchResult {
    pub outcome: Outcome,
    /// States expanded.
    pub expanded: usize,
    /// Distinct states stored.
    pub states: usize,
    pub time_s: f64,
}

/// The states a search has stored, each once: their bits in one arena (`words` blocks a state),
/// the step that reached each, and a hash table of their ids. Three allocations however many
/// states (a map from bitsets to ids held two heap copies of every state: two to four times the
/// memory, and seconds to free after millions of states).
struct Space {
    /// Facts (bits) per state, and the bitset blocks that hold them.
    bits: usize,
    words: usize,
    arena: Vec<Block>,
    /// `(parent state, action)` of every state (`u32::MAX` twice for the initial state).
    parent: Vec<(u32, u32)>,
    index: HashTable<u32>,
}

/// Fx hash of a state's blocks.
fn hash_blocks(blocks: &[Block]) -> u64 {
    let mut h = FxHasher::default();
    for &b in blocks {
        h.write_u64(b as u64);
    }
    h.finish()
}

impl Space {
    fn new(init: FixedBitSet) -> Self {
        let mut space = Space {
            bits: init.len(),
            words: init.as_slice().len(),
            arena: Vec::new(),
            parent: Vec::new(),
            index: HashTable::new(),
        };
        space.insert(&init, (u32::MAX, u32::MAX));
        space
    }
    /// Number of states stored.
    fn len(&self) -> usize {
        self.parent.len()
    }
    fn blocks(&self, id: u32) -> &[Block] {
        &self.arena[id as usize * self.words..][..self.words]
    }
    /// State `id` as a bitset.
    fn state(&self, id: u32) -> FixedBitSet {
        FixedBitSet::with_capacity_and_blocks(self.bits, self.blocks(id).iter().copied())
    }
    /// The id of state `t`, if stored.
    fn find(&self, t: &FixedBitSet) -> Option<u32> {
        let b = t.as_slice();
        self.index
            .find(hash_blocks(b), |&id| self.blocks(id) == b)
            .copied()
    }
    /// Store state `t` (not stored yet), reached by `parent`; its id.
    fn insert(&mut self, t: &FixedBitSet, parent: (u32, u32)) -> u32 {
        let id = self.len() as u32;
        let b = t.as_slice();
        debug_assert_eq!(b.len(), self.words, "every state has the task's facts");
        self.arena.extend_from_slice(b);
        self.parent.push(parent);
        let Space {
            arena,
            index,
            words,
            ..
        } = self;
        index.insert_unique(hash_blocks(b), id, |&j| {
            hash_blocks(&arena[j as usize * *words..][..*words])
        });
        id
    }
    fn plan_to(&self, mut s: u32) -> Plan {
        let mut acts = Vec::new();
        while self.parent[s as usize].0 != u32::MAX {
            let (p, a) = self.parent[s as usize];
            acts.push(a as usize);
            s = p;
        }
        acts.reverse();
        Plan::sequential(acts)
    }
}

/// Successor generator: actions indexed by their first precondition (lowest fact index), so a
/// state only looks at actions whose first precondition it holds.
struct Successors<'t> {
    task: &'t GroundTask,
    by_first_pre: Vec<Vec<u32>>,
    no_pre: Vec<u32>,
}

impl<'t> Successors<'t> {
    fn new(task: &'t GroundTask) -> Self {
        let mut by_first_pre = vec![Vec::new(); task.num_facts()];
        let mut no_pre = Vec::new();
        for (a, act) in task.actions.iter().enumerate() {
            match act.pre.first() {
                Some(&p) => by_first_pre[p as usize].push(a as u32),
                None => no_pre.push(a as u32),
            }
        }
        Successors {
            task,
            by_first_pre,
            no_pre,
        }
    }

    /// Calls `f(action, successor)` for every applicable action, in action-index order.
    fn each(&self, s: &FixedBitSet, mut f: impl FnMut(usize, FixedBitSet)) {
        let mut applicable: Vec<u32> = self.no_pre.clone();
        for p in s.ones() {
            for &a in &self.by_first_pre[p] {
                if self.task.actions[a as usize].pre[1..]
                    .iter()
                    .all(|&q| s.contains(q as usize))
                {
                    applicable.push(a);
                }
            }
        }
        applicable.sort_unstable();
        for a in applicable {
            let act = &self.task.actions[a as usize];
            let mut t = s.clone();
            for &d in &act.del {
                t.set(d as usize, false);
            }
            for &x in &act.add {
                t.insert(x as usize);
            }
            f(a as usize, t);
        }
    }
}

fn finish(outcome: Outcome, space: &Space, expanded: usize, start: Instant) -> SearchResult {
    SearchResult {
        outcome,
        expanded,
        states: space.len(),
        time_s: start.elapsed().as_secs_f64(),
    }
}

fn trivially_unsolvable(task: &GroundTask, start: Instant) -> Option<SearchResult> {
    (!task.goal_satisfiable).then(|| SearchResult {
        outcome: Outcome::Unsolvable {
            stage: 0,
            reason: "a static goal fact is false in the initial state".into(),
        },
        expanded: 0,
        states: 0,
        time_s: start.elapsed().as_secs_f64(),
    })
}

/// Why a search must stop now, if it must: past the deadline, or more states stored than the
/// budget allows.
fn over_limit(deadline: Option<Instant>, states: usize, limits: &Limits) -> Option<String> {
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Some("time limit".into());
    }
    (states > limits.max_states).then(|| format!("state limit {}", limits.max_states))
}

/// Breadth-first search: a shortest sequential plan.
pub fn bfs(task: &GroundTask, limits: &Limits) -> SearchResult {
    let start = Instant::now();
    if let Some(r) = trivially_unsolvable(task, start) {
        return r;
    }
    let deadline = limits.deadline(start);
    let goal = task.goal_set();
    let mut space = Space::new(task.init_state());
    if goal.is_subset(&space.state(0)) {
        return finish(
            Outcome::Solved(Plan { steps: Vec::new() }),
            &space,
            0,
            start,
        );
    }
    let succ = Successors::new(task);
    let mut queue = VecDeque::from([0u32]);
    let mut expanded = 0;
    while let Some(s) = queue.pop_front() {
        expanded += 1;
        // The clock is read every 64 expansions: BFS expansions are cheap.
        let clock = deadline.filter(|_| expanded % 64 == 0);
        if let Some(reason) = over_limit(clock, space.len(), limits) {
            return finish(Outcome::LimitReached { reason }, &space, expanded, start);
        }
        let cur = space.state(s);
        let mut found = None;
        succ.each(&cur, |a, t| {
            if found.is_some() || space.find(&t).is_some() {
                return;
            }
            let id = space.insert(&t, (s, a as u32));
            if goal.is_subset(&t) {
                found = Some(id);
            }
            queue.push_back(id);
        });
        if let Some(id) = found {
            let plan = space.plan_to(id);
            return finish(Outcome::Solved(plan), &space, expanded, start);
        }
    }
    let reason = format!("state space exhausted ({} states)", space.len());
    finish(
        Outcome::Unsolvable { stage: 0, reason },
        &space,
        expanded,
        start,
    )
}

/// What orders a best-first search's open list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// A*: `f = g + h_max`, `g` the cost so far (Hart, Nilsson & Raphael 1968).
    AstarHmax,
    /// A*: `f = g + LM-cut` (Helmert & Domshlak 2009).
    AstarLmcut,
    /// Greedy: `h_FF` alone.
    GbfsHff,
}

/// Best-first search: A* with h_max or LM-cut (optimal in cost under action costs, in actions
/// without), or greedy best-first with h_FF. Ties go to the lower `h`, then to the state queued first.
fn best_first(task: &GroundTask, limits: &Limits, order: Order) -> SearchResult {
    let start = Instant::now();
    if let Some(r) = trivially_unsolvable(task, start) {
        return r;
    }
    let deadline = limits.deadline(start);
    let goal = task.goal_set();
    let relaxed = Relaxed::new(task);
    let lmcut = (order == Order::AstarLmcut).then(|| LmCut::new(task));
    let succ = Successors::new(task);
    let mut space = Space::new(task.init_state());
    // The heuristic of a state, `None` when it cannot reach the goal. A* under action costs
    // needs h_max in costs; without them, h_max in layers is the same number, found faster.
    let h = |t: &FixedBitSet| -> Option<f64> {
        match (order, &task.costs) {
            (Order::AstarHmax, Some(costs)) => relaxed.h_max_cost(t, costs),
            (Order::AstarHmax, None) => relaxed.h_max(t).map(|v| v as f64),
            (Order::AstarLmcut, _) => lmcut.as_ref().and_then(|l| l.evaluate(t)),
            (Order::GbfsHff, _) => relaxed.evaluate(t).map(|v| v.h_ff as f64),
        }
    };
    let prio = |g: f64, hv: f64| match order {
        Order::AstarHmax | Order::AstarLmcut => g + hv,
        Order::GbfsHff => hv,
    };
    let Some(h0) = h(&space.state(0)) else {
        return finish(
            Outcome::Unsolvable {
                stage: 0,
                reason: "goal relaxed-unreachable".into(),
            },
            &space,
            0,
            start,
        );
    };
    // The cheapest cost found to each stored state.
    let mut g_of: Vec<f64> = vec![0.0];
    // Heap of (priority, h, tie counter, state), costs as `cost_key`s.
    let mut heap: BinaryHeap<Reverse<(u64, u64, u64, u32)>> = BinaryHeap::new();
    let mut counter = 0u64;
    heap.push(Reverse((cost_key(prio(0.0, h0)), cost_key(h0), counter, 0)));
    let mut closed = FixedBitSet::new();
    let mut expanded = 0;
    while let Some(Reverse((_, _, _, s))) = heap.pop() {
        let su = s as usize;
        if closed.len() <= su {
            closed.grow(su + 1024);
        }
        if closed.contains(su) {
            continue;
        }
        closed.insert(su);
        let cur = space.state(s);
        if goal.is_subset(&cur) {
            let plan = space.plan_to(s);
            return finish(Outcome::Solved(plan), &space, expanded, start);
        }
        expanded += 1;
        if let Some(reason) = over_limit(deadline, space.len(), limits) {
            return finish(Outcome::LimitReached { reason }, &space, expanded, start);
        }
        let g = g_of[su];
        let mut children = Vec::new();
        succ.each(&cur, |a, t| children.push((a, t)));
        for (a, t) in children {
            let gt = g + task.action_cost(a);
            let id = match space.find(&t) {
                Some(id) => {
                    // A*: reopen on a cheaper path (h_max is consistent, so rarely needed;
                    // LM-cut is not always).
                    if order != Order::GbfsHff && gt < g_of[id as usize] {
                        g_of[id as usize] = gt;
                        space.parent[id as usize] = (s, a as u32);
                        if closed.len() > id as usize {
                            closed.set(id as usize, false);
                        }
                        id
                    } else {
                        continue;
                    }
                }
                None => {
                    g_of.push(gt);
                    space.insert(&t, (s, a as u32))
                }
            };
            let Some(ht) = h(&t) else {
                continue;
            };
            counter += 1;
            let f = prio(g_of[id as usize], ht);
            heap.push(Reverse((cost_key(f), cost_key(ht), counter, id)));
        }
    }
    let reason = format!("state space exhausted ({} states)", space.len());
    finish(
        Outcome::Unsolvable { stage: 0, reason },
        &space,
        expanded,
        start,
    )
}

/// A* with h_max: a plan of least cost under IPC action costs, of fewest actions without.
pub fn astar_hmax(task: &GroundTask, limits: &Limits) -> SearchResult {
    best_first(task, limits, Order::AstarHmax)
}

/// A* with LM-cut: a plan of least cost, as [`astar_hmax`], with a stronger admissible estimate.
pub fn astar_lmcut(task: &GroundTask, limits: &Limits) -> SearchResult {
    best_first(task, limits, Order::AstarLmcut)
}

/// Greedy best-first search with h_FF (not optimal).
pub fn gbfs_hff(task: &GroundTask, limits: &Limits) -> SearchResult {
    best_first(task, limits, Order::GbfsHff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bitset of `n` over `bits` facts (its binary digits, repeated with a stride).
    fn state(n: u64, bits: usize) -> FixedBitSet {
        let mut s = FixedBitSet::with_capacity(bits);
        for i in 0..bits {
            if (n >> (i % 17)) & 1 == 1 && (i / 17) as u64 % 3 != n % 3 {
                s.insert(i);
            }
        }
        s
    }

    #[test]
    fn space_stores_each_state_once_and_finds_it_by_value() {
        for bits in [1, 63, 64, 65, 300] {
            let mut seen = std::collections::HashMap::new();
            let mut space = Space::new(state(0, bits));
            seen.insert(state(0, bits), 0u32);
            for n in 1..5000u64 {
                let t = state(n, bits);
                match seen.get(&t) {
                    Some(&id) => assert_eq!(space.find(&t), Some(id), "{bits} bits, n {n}"),
                    None => {
                        assert_eq!(space.find(&t), None, "{bits} bits, n {n}");
                        let id = space.insert(&t, (0, n as u32));
                        seen.insert(t, id);
                    }
                }
            }
            assert_eq!(space.len(), seen.len(), "{bits} bits");
            for (t, &id) in &seen {
                assert_eq!(
                    &space.state(id),
                    t,
                    "{bits} bits: the arena gives back the state"
                );
            }
        }
    }
}
