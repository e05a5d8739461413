//! The LM-cut heuristic (Helmert & Domshlak 2009, "Landmarks, critical paths and abstractions:
//! what's the difference anyway?", ICAPS): an admissible estimate of the cost to the goal that
//! dominates h_max. Each round computes h_max under the current costs, keeps for every action its
//! costliest precondition (its *precondition choice function*, `pcf`), and cuts the resulting
//! justification graph between the state and the *goal zone* (the facts from which the goal is
//! reached by zero-cost edges). The actions crossing the cut form a disjunctive action landmark:
//! every plan uses one of them. Its least cost `m` is added to the estimate and taken off the cost
//! of every action in the cut; the rounds end when h_max is 0. The sum of the `m`s is LM-cut.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use fixedbitset::FixedBitSet;

use crate::ground::GroundTask;
use crate::heuristic::cost_key;

/// Costs at or below this are zero: costs are reduced by subtraction, and a remainder of the
/// order of rounding must not count as a landmark.
const ZERO: f64 = 1e-9;

/// No precondition chosen: the action is not reached under h_max.
const NONE: u32 = u32::MAX;

/// The task extended with two artificial facts, as in the paper: `goal` (added by an
/// artificial zero-cost action whose preconditions are the goals) and `truth` (true in every
/// state, the one precondition of actions that have none), so that every action has a
/// precondition and the goal is one fact.
pub struct LmCut {
    /// Preconditions of every action, `truth` for the actions without; the artificial goal
    /// action last.
    pre: Vec<Vec<u32>>,
    /// Add effects, the goal action's being `goal`.
    add: Vec<Vec<u32>>,
    /// Base costs: the task's (1 without action costs), 0 for the goal action.
    cost: Vec<f64>,
    /// Actions with the fact as a precondition, and actions adding it.
    consumers: Vec<Vec<u32>>,
    achievers: Vec<Vec<u32>>,
    goal: u32,
    truth: u32,
    /// Working memory reused by every evaluation.
    scratch: RefCell<Round>,
}

impl LmCut {
    pub fn new(task: &GroundTask) -> Self {
        let n = task.num_facts() as u32;
        let (goal, truth) = (n, n + 1);
        let mut pre: Vec<Vec<u32>> = Vec::with_capacity(task.actions.len() + 1);
        let mut add: Vec<Vec<u32>> = Vec::with_capacity(task.actions.len() + 1);
        let mut cost = Vec::with_capacity(task.actions.len() + 1);
        for (a, act) in task.actions.iter().enumerate() {
            pre.push(if act.pre.is_empty() {
                vec![truth]
            } else {
                act.pre.clone()
            });
            add.push(act.add.clone());
            cost.push(task.action_cost(a));
        }
        pre.push(if task.goal.is_empty() {
            vec![truth]
        } else {
            task.goal.clone()
        });
        add.push(vec![goal]);
        cost.push(0.0);
        let mut consumers = vec![Vec::new(); n as usize + 2];
        let mut achievers = vec![Vec::new(); n as usize + 2];
        for a in 0..pre.len() {
            for &p in &pre[a] {
                consumers[p as usize].push(a as u32);
            }
            for &f in &add[a] {
                achievers[f as usize].push(a as u32);
            }
        }
        let scratch = RefCell::new(Round::new(n as usize + 2, &pre, &cost));
        LmCut {
            pre,
            add,
            cost,
            consumers,
            achievers,
            goal,
            truth,
            scratch,
        }
    }

    /// LM-cut of `state`; `None` when the goal is relaxed-unreachable from it.
    pub fn evaluate(&self, state: &FixedBitSet) -> Option<f64> {
        let mut scratch = self.scratch.borrow_mut();
        let r = &mut *scratch;
        r.reset(self);
        self.h_max(state, r);
        let mut h = 0.0;
        loop {
            let hg = r.hmax[self.goal as usize];
            if hg.is_infinite() {
                return None;
            }
            if hg <= ZERO {
                return Some(h);
            }
            self.cut(state, r);
            let m = r
                .cut
                .iter()
                .map(|&a| r.cost[a as usize])
                .fold(f64::INFINITY, f64::min);
            debug_assert!(m > ZERO && m.is_finite(), "a cut costs {m}");
            h += m;
            for &a in &r.cut {
                let c = &mut r.cost[a as usize];
                *c = if *c - m <= ZERO { 0.0 } else { *c - m };
            }
            self.h_max_after_cut(r);
        }
    }

    /// h_max of every fact under `r.cost` (a generalised Dijkstra, as
    /// [`crate::heuristic::Relaxed::h_max_cost`]) and every reached action's costliest
    /// precondition: the first of them to settle last.
    fn h_max(&self, state: &FixedBitSet, r: &mut Round) {
        for f in state.ones().map(|f| f as u32).chain([self.truth]) {
            r.hmax[f as usize] = 0.0;
            r.heap.push(Reverse((cost_key(0.0), f)));
        }
        while let Some(Reverse((_, f))) = r.heap.pop() {
            if r.settled.put(f as usize) {
                continue;
            }
            let c = r.hmax[f as usize];
            for &a in &self.consumers[f as usize] {
                r.missing[a as usize] -= 1;
                if r.missing[a as usize] > 0 {
                    continue;
                }
                // `f` settled last among the preconditions of `a`: the costliest.
                r.pcf[a as usize] = f;
                r.improve_effects(&self.add[a as usize], c + r.cost[a as usize]);
            }
        }
    }

    /// h_max after the costs of the `cut` actions went down (Fast Downward's incremental
    /// exploration): values only decrease, so the cut actions' effects are improved and the
    /// improvements propagated in order of value; an action whose chosen precondition improved
    /// keeps it unless another is now strictly costlier (Fast Downward's rule). The values equal
    /// [`LmCut::h_max`] from scratch under the new costs; the choices among equally costly
    /// preconditions may differ, and they decide which landmarks are found: on the first eight
    /// problems of each shared folder this rule solves 55 in 10 s, recomputing from scratch 50.
    fn h_max_after_cut(&self, r: &mut Round) {
        for i in 0..r.cut.len() {
            let a = r.cut[i] as usize;
            let v = r.hmax[r.pcf[a] as usize] + r.cost[a];
            r.improve_effects(&self.add[a], v);
        }
        while let Some(Reverse((key, f))) = r.heap.pop() {
            if key != cost_key(r.hmax[f as usize]) {
                continue; // a stale entry: `f` improved again since
            }
            for &a in &self.consumers[f as usize] {
                if r.pcf[a as usize] != f {
                    // Unreached (`NONE`), or `f` was cheaper than its costliest precondition,
                    // which stays the costliest; as Fast Downward, the choice is kept.
                    continue;
                }
                let (p, v) = self.pre[a as usize]
                    .iter()
                    .map(|&q| (q, r.hmax[q as usize]))
                    .fold(
                        (f, r.hmax[f as usize]),
                        |m, x| if x.1 > m.1 { x } else { m },
                    );
                r.pcf[a as usize] = p;
                r.improve_effects(&self.add[a as usize], v + r.cost[a as usize]);
            }
        }
    }

    /// The actions of one landmark, into `r.cut`: backwards from `goal` over zero-cost edges
    /// `pcf(a) → add(a)` (the goal zone), then forwards from the state over the edges outside
    /// it; an action whose edge enters the zone from the state's side is in the cut.
    fn cut(&self, state: &FixedBitSet, r: &mut Round) {
        let Round {
            cost,
            pcf,
            zone,
            seen,
            in_cut,
            cut,
            stack,
            ..
        } = r;
        zone.clear();
        seen.clear();
        in_cut.clear();
        cut.clear();
        stack.clear();
        stack.push(self.goal);
        zone.insert(self.goal as usize);
        while let Some(g) = stack.pop() {
            for &a in &self.achievers[g as usize] {
                let p = pcf[a as usize];
                if p != NONE && cost[a as usize] <= ZERO && !zone.put(p as usize) {
                    stack.push(p);
                }
            }
        }
        stack.extend(state.ones().map(|f| f as u32));
        stack.push(self.truth);
        for &f in stack.iter() {
            seen.insert(f as usize);
        }
        while let Some(f) = stack.pop() {
            for &a in &self.consumers[f as usize] {
                if pcf[a as usize] != f {
                    continue;
                }
                for &g in &self.add[a as usize] {
                    if zone.contains(g as usize) {
                        if !in_cut.put(a as usize) {
                            cut.push(a);
                        }
                    } else if !seen.put(g as usize) {
                        stack.push(g);
                    }
                }
            }
        }
    }
}

/// The working memory of one LM-cut evaluation, kept between evaluations (A* evaluates every
/// state it generates; reusing it made A*/LM-cut 4–10% faster, same expansions): the costs left,
/// h_max of every fact, every action's costliest precondition and preconditions still missing,
/// the exploration's queue, and the goal zone, the facts seen and the cut of [`LmCut::cut`].
struct Round {
    cost: Vec<f64>,
    hmax: Vec<f64>,
    pcf: Vec<u32>,
    missing: Vec<u32>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    settled: FixedBitSet,
    zone: FixedBitSet,
    seen: FixedBitSet,
    in_cut: FixedBitSet,
    cut: Vec<u32>,
    stack: Vec<u32>,
}

impl Round {
    /// For `facts` facts (the artificial two included), actions with preconditions `pre` and
    /// base costs `cost`.
    fn new(facts: usize, pre: &[Vec<u32>], cost: &[f64]) -> Round {
        let actions = pre.len();
        Round {
            cost: cost.to_vec(),
            hmax: vec![f64::INFINITY; facts],
            pcf: vec![NONE; actions],
            missing: pre.iter().map(|p| p.len() as u32).collect(),
            heap: BinaryHeap::new(),
            settled: FixedBitSet::with_capacity(facts),
            zone: FixedBitSet::with_capacity(facts),
            seen: FixedBitSet::with_capacity(facts),
            in_cut: FixedBitSet::with_capacity(actions),
            cut: Vec::new(),
            stack: Vec::new(),
        }
    }

    /// Back to the start of an evaluation: base costs, nothing reached.
    fn reset(&mut self, lm: &LmCut) {
        self.cost.copy_from_slice(&lm.cost);
        self.hmax.fill(f64::INFINITY);
        self.pcf.fill(NONE);
        for (m, p) in self.missing.iter_mut().zip(&lm.pre) {
            *m = p.len() as u32;
        }
        self.heap.clear();
        self.settled.clear();
    }

    /// Lower each effect's h_max to `v` where that is an improvement, queueing it.
    fn improve_effects(&mut self, add: &[u32], v: f64) {
        for &g in add {
            if v < self.hmax[g as usize] {
                self.hmax[g as usize] = v;
                self.heap.push(Reverse((cost_key(v), g)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ground::{GroundAction, GroundStats};

    /// A random task: `n` facts, `m` actions with up to three preconditions and two effects
    /// each, costs 0 to 4 (a small linear congruential generator: no dependency for a test).
    fn random_task(seed: u64, n: u32, m: usize) -> GroundTask {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = |k: u32| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % k as u64) as u32
        };
        let set = |len: u32, next: &mut dyn FnMut(u32) -> u32| {
            let mut v: Vec<u32> = (0..len).map(|_| next(n)).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let actions: Vec<GroundAction> = (0..m)
            .map(|i| GroundAction {
                schema: format!("a{i}"),
                args: Vec::new(),
                pre: set(next(4), &mut next),
                add: set(1 + next(2), &mut next),
                del: Vec::new(),
            })
            .collect();
        let costs = (0..m).map(|_| next(5) as f64).collect();
        GroundTask {
            domain_name: "random".into(),
            problem_name: format!("r{seed}"),
            facts: (0..n).map(|f| format!("(f{f})")).collect(),
            actions,
            init: set(2, &mut next),
            goal: set(3, &mut next),
            goal_satisfiable: true,
            costs: Some(costs),
            stats: GroundStats::default(),
        }
    }

    /// After every cut, the incremental h_max equals h_max from scratch under the new costs, and
    /// each reached action's chosen precondition is one of its costliest.
    #[test]
    fn incremental_h_max_equals_h_max_from_scratch_after_every_cut() {
        let mut rounds = 0;
        for seed in 0..300 {
            let task = random_task(seed, 12, 16);
            let lm = LmCut::new(&task);
            let state = task.init_state();
            let fresh = |cost: &[f64]| {
                let mut r = Round::new(task.num_facts() + 2, &lm.pre, cost);
                lm.h_max(&state, &mut r);
                r
            };
            let mut r = fresh(&lm.cost);
            while r.hmax[lm.goal as usize].is_finite() && r.hmax[lm.goal as usize] > ZERO {
                lm.cut(&state, &mut r);
                assert!(!r.cut.is_empty(), "seed {seed}: an empty cut");
                let m = r
                    .cut
                    .iter()
                    .map(|&a| r.cost[a as usize])
                    .fold(f64::INFINITY, f64::min);
                assert!(m > 0.0, "seed {seed}: a cut of cost {m}");
                for i in 0..r.cut.len() {
                    let a = r.cut[i] as usize;
                    r.cost[a] -= m;
                }
                lm.h_max_after_cut(&mut r);
                let want = fresh(&r.cost);
                assert_eq!(r.hmax, want.hmax, "seed {seed}: h_max after a cut");
                for (a, &p) in r.pcf.iter().enumerate() {
                    assert_eq!(p == NONE, want.pcf[a] == NONE, "seed {seed}: action {a}");
                    if p != NONE {
                        assert_eq!(r.hmax[p as usize], r.hmax[want.pcf[a] as usize]);
                    }
                }
                rounds += 1;
            }
        }
        assert!(
            rounds > 100,
            "the random tasks have cuts to check ({rounds})"
        );
    }
}
