//! The LM-cut heuristic (Helmert & Domshlak 2009, "Landmarks, critical paths and abstractions:
//! what's the difference anyway?", ICAPS): an admissible estimate of the cost to the goal that
//! dominates h_max. Each round computes h_max under the current costs, keeps for every action its
//! costliest precondition (its *precondition choice function*, `pcf`), and cuts the resulting
//! justification graph between the state and the *goal zone* (the facts from which the goal is
//! reached by zero-cost edges). The actions crossing the cut form a disjunctive action landmark:
//! every plan uses one of them. Its least cost `m` is added to the estimate and taken off the cost
//! of every action in the cut; the rounds end when h_max is 0. The sum of the `m`s is LM-cut.

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
pub struct LmCut<'t> {
    task: &'t GroundTask,
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
}

impl<'t> LmCut<'t> {
    pub fn new(task: &'t GroundTask) -> Self {
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
        LmCut {
            task,
            pre,
            add,
            cost,
            consumers,
            achievers,
            goal,
            truth,
        }
    }

    /// LM-cut of `state`; `None` when the goal is relaxed-unreachable from it.
    pub fn evaluate(&self, state: &FixedBitSet) -> Option<f64> {
        let facts = self.task.num_facts() + 2;
        let mut cost = self.cost.clone();
        let mut hmax = vec![f64::INFINITY; facts];
        let mut pcf = vec![NONE; self.pre.len()];
        let mut h = 0.0;
        loop {
            self.h_max(state, &cost, &mut hmax, &mut pcf);
            let hg = hmax[self.goal as usize];
            if hg.is_infinite() {
                return None;
            }
            if hg <= ZERO {
                return Some(h);
            }
            let cut = self.cut(state, &cost, &pcf);
            let m = cut
                .iter()
                .map(|&a| cost[a as usize])
                .fold(f64::INFINITY, f64::min);
            debug_assert!(m > ZERO && m.is_finite(), "a cut costs {m}");
            h += m;
            for &a in &cut {
                let c = &mut cost[a as usize];
                *c = if *c - m <= ZERO { 0.0 } else { *c - m };
            }
        }
    }

    /// h_max of every fact under `cost` (a generalised Dijkstra, as
    /// [`crate::heuristic::Relaxed::h_max_cost`]) and every reached action's costliest
    /// precondition: the first of them to settle last.
    fn h_max(&self, state: &FixedBitSet, cost: &[f64], hmax: &mut [f64], pcf: &mut [u32]) {
        hmax.fill(f64::INFINITY);
        pcf.fill(NONE);
        let mut missing: Vec<u32> = self.pre.iter().map(|p| p.len() as u32).collect();
        let mut settled = FixedBitSet::with_capacity(hmax.len());
        let mut heap = BinaryHeap::new();
        for f in state.ones().map(|f| f as u32).chain([self.truth]) {
            hmax[f as usize] = 0.0;
            heap.push(Reverse((cost_key(0.0), f)));
        }
        while let Some(Reverse((_, f))) = heap.pop() {
            if settled.put(f as usize) {
                continue;
            }
            let c = hmax[f as usize];
            for &a in &self.consumers[f as usize] {
                missing[a as usize] -= 1;
                if missing[a as usize] > 0 {
                    continue;
                }
                // `f` settled last among the preconditions of `a`: the costliest.
                pcf[a as usize] = f;
                let ca = c + cost[a as usize];
                for &g in &self.add[a as usize] {
                    if ca < hmax[g as usize] {
                        hmax[g as usize] = ca;
                        heap.push(Reverse((cost_key(ca), g)));
                    }
                }
            }
        }
    }

    /// The actions of one landmark: backwards from `goal` over zero-cost edges `pcf(a) → add(a)`
    /// (the goal zone), then forwards from the state over the edges outside it; an action whose
    /// edge enters the zone from the state's side is in the cut.
    fn cut(&self, state: &FixedBitSet, cost: &[f64], pcf: &[u32]) -> Vec<u32> {
        let facts = self.task.num_facts() + 2;
        let mut zone = FixedBitSet::with_capacity(facts);
        let mut stack = vec![self.goal];
        zone.insert(self.goal as usize);
        while let Some(g) = stack.pop() {
            for &a in &self.achievers[g as usize] {
                let p = pcf[a as usize];
                if p != NONE && cost[a as usize] <= ZERO && !zone.put(p as usize) {
                    stack.push(p);
                }
            }
        }
        let mut seen = FixedBitSet::with_capacity(facts);
        let mut in_cut = FixedBitSet::with_capacity(self.pre.len());
        let mut cut = Vec::new();
        let mut stack: Vec<u32> = state.ones().map(|f| f as u32).collect();
        stack.push(self.truth);
        for &f in &stack {
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
        cut
    }
}
