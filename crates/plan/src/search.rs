//! Baselines over individual states, on the same grounding as Graphplan: breadth-first search
//! (optimal sequential length), A* with h_max (Bonet & Geffner 2001; admissible, so optimal),
//! and greedy best-first search with h_FF (Hoffmann & Nebel 2001: the length of a plan
//! extracted from the relaxed planning graph, i.e. the union with no deletes and no mutexes).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::fxhash::FxHasher;
use hashbrown::HashTable;
use std::hash::Hasher;
use std::time::Instant;

use fixedbitset::{Block, FixedBitSet};

use crate::ground::GroundTask;
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

/// The relaxed planning graph evaluator (no deletes, no mutexes).
pub struct Relaxed<'t> {
    task: &'t GroundTask,
    consumers: Vec<Vec<u32>>,
    achievers: Vec<Vec<u32>>,
    /// Actions with no preconditions.
    free: Vec<u32>,
}

/// Not reached in a relaxed exploration.
pub const UNREACHED: u32 = u32::MAX;

/// The first relaxed layer of every fact and action ([`Relaxed::levels`]).
#[derive(Debug, Clone)]
pub struct RelaxedLevels {
    /// By fact.
    pub fact: Vec<u32>,
    /// By ground action (index into `GroundTask::actions`).
    pub action: Vec<u32>,
}

/// Heuristic values of one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaxedValues {
    /// h_max: first relaxed layer holding all goals.
    pub h_max: usize,
    /// h_FF: size of the relaxed plan extracted backwards.
    pub h_ff: usize,
}

impl<'t> Relaxed<'t> {
    pub fn new(task: &'t GroundTask) -> Self {
        let mut consumers = vec![Vec::new(); task.num_facts()];
        let mut achievers = vec![Vec::new(); task.num_facts()];
        let mut free = Vec::new();
        for (a, act) in task.actions.iter().enumerate() {
            for &f in &act.add {
                achievers[f as usize].push(a as u32);
            }
            if act.pre.is_empty() {
                free.push(a as u32);
            }
            for &p in &act.pre {
                consumers[p as usize].push(a as u32);
            }
        }
        Relaxed {
            task,
            consumers,
            achievers,
            free,
        }
    }

    /// Layered relaxed exploration from `state`: the first layer of every fact and of every
    /// action (`u32::MAX`: not reached). With `to_goals` it stops at the first layer holding
    /// every goal and is `None` when some goal is unreachable; otherwise it runs to the
    /// fixpoint. The one relaxed reachability of the crate (heuristics, the goal cone of
    /// [`crate::graph::PlanningGraph::goal_cone`], [`crate::diagnostics::relaxed_goal_level`]).
    pub fn levels(&self, state: &FixedBitSet, to_goals: bool) -> Option<RelaxedLevels> {
        let task = self.task;
        let n = task.num_facts();
        let mut fact = vec![UNREACHED; n];
        let mut action = vec![UNREACHED; task.actions.len()];
        let mut missing: Vec<u32> = task.actions.iter().map(|a| a.pre.len() as u32).collect();
        let mut layer: Vec<u32> = state.ones().map(|f| f as u32).collect();
        for &f in &layer {
            fact[f as usize] = 0;
        }
        let mut goals_left = task
            .goal
            .iter()
            .filter(|&&g| !state.contains(g as usize))
            .count();
        let mut k = 0u32;
        let mut ready: Vec<u32> = self.free.clone();
        while !to_goals || goals_left > 0 {
            // Actions enabled by the facts of layer k.
            for &f in &layer {
                for &a in &self.consumers[f as usize] {
                    missing[a as usize] -= 1;
                    if missing[a as usize] == 0 {
                        ready.push(a);
                    }
                }
            }
            let mut next = Vec::new();
            for &a in &ready {
                if action[a as usize] != UNREACHED {
                    continue;
                }
                action[a as usize] = k;
                for &f in &task.actions[a as usize].add {
                    if fact[f as usize] == UNREACHED {
                        fact[f as usize] = k + 1;
                        next.push(f);
                        if task.goal.binary_search(&f).is_ok() {
                            goals_left -= 1;
                        }
                    }
                }
            }
            ready.clear();
            if next.is_empty() {
                if to_goals {
                    return None;
                }
                break;
            }
            layer = next;
            k += 1;
        }
        Some(RelaxedLevels { fact, action })
    }

    /// h_max and h_FF of `state`; `None` when some goal is unreachable.
    pub fn evaluate(&self, state: &FixedBitSet) -> Option<RelaxedValues> {
        let task = self.task;
        let n = task.num_facts();
        let RelaxedLevels {
            fact: fact_level,
            action: act_level,
        } = self.levels(state, true)?;
        let h_max = task
            .goal
            .iter()
            .map(|&g| fact_level[g as usize] as usize)
            .max()
            .unwrap_or(0);
        // FF relaxed plan extraction: achieve each goal at its first level with an action of
        // the previous layer; preconditions become goals at their own levels.
        let mut goals_at: Vec<Vec<u32>> = vec![Vec::new(); h_max + 1];
        let mut marked = FixedBitSet::with_capacity(n);
        for &g in &task.goal {
            let l = fact_level[g as usize] as usize;
            if l > 0 && !marked.put(g as usize) {
                goals_at[l].push(g);
            }
        }
        let mut chosen = FixedBitSet::with_capacity(task.actions.len());
        let mut h_ff = 0;
        for l in (1..=h_max).rev() {
            let gs = std::mem::take(&mut goals_at[l]);
            for g in gs {
                // An achiever of g whose level is l-1 (exists by construction).
                let a = self.achievers[g as usize]
                    .iter()
                    .map(|&a| a as usize)
                    .find(|&a| act_level[a] == (l - 1) as u32)
                    .expect("relaxed achiever");
                if chosen.put(a) {
                    continue;
                }
                h_ff += 1;
                for &p in &task.actions[a].pre {
                    let pl = fact_level[p as usize] as usize;
                    if pl > 0 && !marked.put(p as usize) {
                        goals_at[pl].push(p);
                    }
                }
            }
        }
        Some(RelaxedValues { h_max, h_ff })
    }
}

/// First relaxed level holding all goals from `state`, and the h_FF value.
pub fn relaxed_layers(task: &GroundTask, state: &FixedBitSet) -> Option<(usize, usize)> {
    Relaxed::new(task)
        .evaluate(state)
        .map(|v| (v.h_max, v.h_ff))
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

/// Best-first search on `key(g, h)`; `reopen` for A*.
fn best_first(task: &GroundTask, limits: &Limits, use_hmax: bool) -> SearchResult {
    let start = Instant::now();
    if let Some(r) = trivially_unsolvable(task, start) {
        return r;
    }
    let deadline = limits.deadline(start);
    let goal = task.goal_set();
    let relaxed = Relaxed::new(task);
    let succ = Successors::new(task);
    let mut space = Space::new(task.init_state());
    let h = |v: RelaxedValues| if use_hmax { v.h_max } else { v.h_ff };
    let Some(h0) = relaxed.evaluate(&space.state(0)) else {
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
    let mut g_of: Vec<usize> = vec![0];
    // Heap of (priority, h, tie counter, state).
    let mut heap: BinaryHeap<Reverse<(usize, usize, u64, u32)>> = BinaryHeap::new();
    let mut counter = 0u64;
    let prio = |g: usize, hv: usize| if use_hmax { g + hv } else { hv };
    heap.push(Reverse((prio(0, h(h0)), h(h0), counter, 0)));
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
            let id = match space.find(&t) {
                Some(id) => {
                    // A*: reopen on a cheaper path (h_max is consistent, so rarely needed).
                    if use_hmax && g + 1 < g_of[id as usize] {
                        g_of[id as usize] = g + 1;
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
                    g_of.push(g + 1);
                    space.insert(&t, (s, a as u32))
                }
            };
            let Some(v) = relaxed.evaluate(&t) else {
                continue;
            };
            counter += 1;
            heap.push(Reverse((prio(g_of[id as usize], h(v)), h(v), counter, id)));
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

/// A* with h_max: an optimal sequential plan.
pub fn astar_hmax(task: &GroundTask, limits: &Limits) -> SearchResult {
    best_first(task, limits, true)
}

/// Greedy best-first search with h_FF (not optimal).
pub fn gbfs_hff(task: &GroundTask, limits: &Limits) -> SearchResult {
    best_first(task, limits, false)
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
