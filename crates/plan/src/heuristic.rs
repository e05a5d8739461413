//! Heuristics over the relaxed task (no deletes, no mutexes: the union of the planning graph
//! without its mutexes), evaluated on one state: h_max (Bonet & Geffner 2001) in layers and
//! under action costs, and h_FF (Hoffmann & Nebel 2001), the size of a relaxed plan extracted
//! backwards. One relaxed reachability serves them, the goal cone of
//! [`crate::graph::PlanningGraph::goal_cone`] and [`crate::diagnostics::relaxed_goal_level`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use fixedbitset::FixedBitSet;

use crate::ground::GroundTask;

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

    /// h_max of `state` in unit-cost steps: the first relaxed layer holding every goal; `None`
    /// when some goal is unreachable.
    pub fn h_max(&self, state: &FixedBitSet) -> Option<usize> {
        Some(self.goal_level(&self.levels(state, true)?.fact))
    }

    /// The latest first layer of a goal, given every fact's first layer (all goals reached).
    fn goal_level(&self, fact_level: &[u32]) -> usize {
        self.task
            .goal
            .iter()
            .map(|&g| fact_level[g as usize] as usize)
            .max()
            .unwrap_or(0)
    }

    /// h_max of `state` under action costs (Bonet & Geffner 2001, eq. 5 with max): a fact of
    /// `state` costs 0, any other the least over its achievers `a` of `cost(a)` plus the
    /// costliest precondition of `a`; h_max is the costliest goal. A generalised Dijkstra over
    /// facts: an action fires when its last precondition is settled, and facts settle in order
    /// of cost, so the last goal settled is the answer. Admissible and consistent for
    /// non-negative costs. `None` when some goal is unreachable.
    pub fn h_max_cost(&self, state: &FixedBitSet, costs: &[f64]) -> Option<f64> {
        let task = self.task;
        let mut best = vec![f64::INFINITY; task.num_facts()];
        let mut settled = FixedBitSet::with_capacity(task.num_facts());
        let mut missing: Vec<u32> = task.actions.iter().map(|a| a.pre.len() as u32).collect();
        let mut heap = BinaryHeap::new();
        let mut goals_left = task.goal.len();
        if goals_left == 0 {
            return Some(0.0);
        }
        let reach = |f: u32, c: f64, best: &mut [f64], heap: &mut BinaryHeap<_>| {
            if c < best[f as usize] {
                best[f as usize] = c;
                heap.push(Reverse((cost_key(c), f)));
            }
        };
        for f in state.ones() {
            reach(f as u32, 0.0, &mut best, &mut heap);
        }
        for &a in &self.free {
            for &f in &task.actions[a as usize].add {
                reach(f, costs[a as usize], &mut best, &mut heap);
            }
        }
        while let Some(Reverse((_, f))) = heap.pop() {
            if settled.put(f as usize) {
                continue;
            }
            let c = best[f as usize];
            if task.goal.binary_search(&f).is_ok() {
                goals_left -= 1;
                if goals_left == 0 {
                    return Some(c);
                }
            }
            for &a in &self.consumers[f as usize] {
                missing[a as usize] -= 1;
                if missing[a as usize] == 0 {
                    let ca = c + costs[a as usize];
                    for &g in &task.actions[a as usize].add {
                        reach(g, ca, &mut best, &mut heap);
                    }
                }
            }
        }
        None
    }

    /// h_max and h_FF of `state`; `None` when some goal is unreachable.
    pub fn evaluate(&self, state: &FixedBitSet) -> Option<RelaxedValues> {
        let task = self.task;
        let n = task.num_facts();
        let RelaxedLevels {
            fact: fact_level,
            action: act_level,
        } = self.levels(state, true)?;
        let h_max = self.goal_level(&fact_level);
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

/// A heap key ordered as the non-negative cost `c`: for `c >= 0` the IEEE-754 bits, read as an
/// integer, are in the order of the values. The one place costs become heap keys (h_max
/// under costs, A*'s `f = g + h`).
pub fn cost_key(c: f64) -> u64 {
    debug_assert!(
        c >= 0.0 && !c.is_nan(),
        "cost {c} is not a non-negative number"
    );
    // `+ 0.0` turns -0.0 (a cost written `-0`) into 0.0, whose bits are the least.
    (c + 0.0).to_bits()
}

#[cfg(test)]
mod tests {
    use super::cost_key;

    #[test]
    fn cost_keys_are_in_the_order_of_the_costs() {
        let costs = [-0.0, 0.0, 1e-300, 0.5, 1.0, 2.5, 3.0, 1e15, f64::INFINITY];
        for w in costs.windows(2) {
            assert!(cost_key(w[0]) <= cost_key(w[1]), "{} then {}", w[0], w[1]);
        }
        assert_eq!(cost_key(-0.0), cost_key(0.0), "-0 is 0");
        assert!(cost_key(0.5) < cost_key(1.0));
    }
}
