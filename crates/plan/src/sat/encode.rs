//! The clauses of one layer of the planning graph: preconditions, support, the static action
//! mutexes in linear size, fact mutexes, forward effects, progress and symmetry clauses (the
//! encoding in the module documentation of [`super`]).

use std::rc::Rc;
use std::time::Instant;

use super::{lit, LayerVars, SatExtractor};
use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::graph::PlanningGraph;

impl SatExtractor {
    /// Add layer `A_{i-1}` and facts `P_i` (`i = levels()`). False when the deadline passed.
    pub(super) fn encode_level(&mut self, g: &PlanningGraph, deadline: Option<Instant>) -> bool {
        let i = self.levels();
        let prev = std::mem::take(&mut self.fact_var[i - 1]);
        let mut used = std::mem::take(&mut self.used);
        let done = self.encode_layer(g, i, &prev, None, &mut used, deadline);
        self.used = used;
        self.fact_var[i - 1] = prev;
        let Some((row, ops)) = done else {
            return false;
        };
        self.fact_var.push(row);
        self.op_var.push(ops);
        true
    }

    /// The clauses of layer `A_{i-1}` (the graph's content at `i - 1`) between the fact rows
    /// `prev` (`P_{i-1}`) and `row` (`P_i`; made here, after the layer's variables, when
    /// `None`). `used`: the symmetry variables before the layer, replaced by the layer's.
    /// Returns the row of `P_i` and the layer's units; `None` when the deadline passed.
    pub(super) fn encode_layer(
        &mut self,
        g: &PlanningGraph,
        i: usize,
        prev: &[i32],
        row: Option<Vec<i32>>,
        used: &mut [Vec<i32>],
        deadline: Option<Instant>,
    ) -> Option<(Vec<i32>, LayerVars)> {
        let layer = g.level(i - 1);
        let in_cone = |op: usize| self.cone.as_ref().is_none_or(|c| c.ops[i - 1].contains(op));
        let chosen: Vec<usize> = layer
            .ops
            .ones()
            .filter(|&op| op >= g.n_facts && in_cone(op))
            .collect();
        // Units of the layer: its actions, or for a splitting schema whose actions here are
        // pairwise mutex, their components.
        let mut units: Vec<u32> = Vec::with_capacity(chosen.len());
        let mut var_of = vec![0i32; self.stamp.len()];
        let split_here = self.split.exclusive_families(g, i - 1, &chosen);
        let mut ops = Vec::with_capacity(chosen.len());
        for &op in &chosen {
            match self.split.of_op(op, g.n_facts) {
                Some((s, pair)) if split_here.contains(&s) => {
                    for c in pair {
                        let u = self.n_ops + c as usize;
                        if var_of[u] == 0 {
                            var_of[u] = -1; // placeholder: variable below
                            units.push(u as u32);
                        }
                    }
                }
                _ => units.push(op as u32),
            }
        }
        let split = Rc::clone(&self.split);
        for &u in &units {
            let v = self.new_var();
            var_of[u as usize] = v;
            ops.push((u, v));
            for &p in split.unit_pre(g, u) {
                let pv = prev[p as usize];
                self.add(&[lit(v, false), lit(pv, true)]);
            }
        }
        for &s in &split_here {
            self.encode_components(g, s, &chosen, &var_of);
        }
        if !self.encode_interference(g, &var_of, deadline) {
            return None;
        }
        self.encode_symmetry(&var_of, used);
        // Facts of P_i: backward support, deleters, mutexes.
        let row = row.unwrap_or_else(|| self.new_fact_row(g, i));
        let mut clause = std::mem::take(&mut self.clause_buf);
        for f in g.level(i).facts.ones().filter(|&f| row[f] != 0) {
            // A deleter of f is mutex with every achiever of f (no-op included): ¬d ∨ ¬f@i.
            for &d in &self.dels[f] {
                let dv = var_of[d as usize];
                if dv != 0 {
                    self.solver.add_clause([lit(dv, false), lit(row[f], false)]);
                    self.clauses += 1;
                }
            }
            clause.clear();
            clause.push(lit(row[f], false));
            if prev[f] != 0 {
                clause.push(lit(prev[f], true));
            }
            for &u in &self.adds[f] {
                let v = var_of[u as usize];
                if v != 0 {
                    clause.push(lit(v, true));
                }
            }
            self.add(&clause);
            for q in g.level(i).fact_mutex[f]
                .ones()
                .filter(|&q| q > f && row[q] != 0)
            {
                self.add(&[lit(row[f], false), lit(row[q], false)]);
            }
        }
        self.clause_buf = clause;
        self.encode_progress(g, i, prev, &row);
        self.encode_forward(g, i, prev, &row, &ops, &var_of);
        Some((row, ops))
    }

    /// The components of schema `s` stand for its actions among `chosen`: at most one
    /// component per part, and the true pair one of those actions (`c_A ⇒ ∨ c_B` over its
    /// partners, and the converse; `¬c_A ∨ ¬c_B` for a pair that is no action here).
    fn encode_components(&mut self, g: &PlanningGraph, s: u32, chosen: &[usize], var_of: &[i32]) {
        let mut partners: [HashMap<u32, Vec<u32>>; 2] = Default::default();
        let mut valid = HashSet::default();
        for &op in chosen {
            if let Some((t, [a, b])) = self.split.of_op(op, g.n_facts) {
                if t == s {
                    partners[0].entry(a).or_default().push(b);
                    partners[1].entry(b).or_default().push(a);
                    valid.insert((a, b));
                }
            }
        }
        let n_ops = self.n_ops;
        let var = |c: u32| var_of[n_ops + c as usize];
        let mut sides: [Vec<u32>; 2] = Default::default();
        for side in 0..2 {
            let mut comps: Vec<u32> = partners[side].keys().copied().collect();
            comps.sort_unstable();
            for &c in &comps {
                let mut clause = vec![lit(var(c), false)];
                clause.extend(partners[side][&c].iter().map(|&d| lit(var(d), true)));
                self.add(&clause);
            }
            let vs: Vec<i32> = comps.iter().map(|&c| var(c)).collect();
            self.at_most_one(&vs);
            sides[side] = comps;
        }
        for &a in &sides[0] {
            for &b in &sides[1] {
                if !valid.contains(&(a, b)) {
                    self.add(&[lit(var(a), false), lit(var(b), false)]);
                }
            }
        }
    }

    /// The progress clause of step `i`: some fact of `P_i` is true at `i` and false at `i - 1`
    /// (`n_f ⇒ f@i`, `n_f ⇒ ¬f@{i-1}`, `n_f₁ ∨ n_f₂ ∨ …`; a fact new in `P_i` is its own `n_f`).
    fn encode_progress(&mut self, g: &PlanningGraph, i: usize, prev: &[i32], row: &[i32]) {
        let mut clause = std::mem::take(&mut self.clause_buf);
        clause.clear();
        // In a cone, a fact of the cone at `i` present in `P_{i-1}` is in the cone there too, so
        // `prev[f] == 0` still means "not in `P_{i-1}`".
        for f in g.level(i).facts.ones().filter(|&f| row[f] != 0) {
            if prev[f] == 0 {
                clause.push(lit(row[f], true));
                continue;
            }
            let n = self.new_var();
            self.add(&[lit(n, false), lit(row[f], true)]);
            self.add(&[lit(n, false), lit(prev[f], false)]);
            clause.push(lit(n, true));
        }
        self.add(&clause);
        self.clause_buf = clause;
    }

    /// The symmetry-breaking clauses of the new layer (see the module documentation); `used`,
    /// the variables `u(o_j)` before the layer, becomes the layer's.
    fn encode_symmetry(&mut self, var_of: &[i32], used: &mut [Vec<i32>]) {
        let mut clause = std::mem::take(&mut self.clause_buf);
        for c in 0..self.classes.len() {
            let members = self.classes[c].len();
            for j in 0..members - 1 {
                clause.clear();
                let prev = used[c][j];
                if prev != 0 {
                    clause.push(lit(prev, true));
                }
                for &op in &self.classes[c][j] {
                    if var_of[op as usize] != 0 {
                        clause.push(lit(var_of[op as usize], true));
                    }
                }
                // No way to have used o_j yet: u(o_j) stays false (no variable).
                let u = if clause.is_empty() {
                    0
                } else {
                    let u = self.new_var();
                    clause.push(lit(u, false));
                    self.add(&clause);
                    u
                };
                used[c][j] = u;
                for k in 0..self.classes[c][j + 1].len() {
                    let b = var_of[self.classes[c][j + 1][k] as usize];
                    if b == 0 {
                        continue;
                    }
                    if u == 0 {
                        self.add(&[lit(b, false)]);
                    } else {
                        self.add(&[lit(b, false), lit(u, true)]);
                    }
                }
            }
        }
        self.clause_buf = clause;
    }

    /// Forward clauses between `P_{i-1}` (`prev`) and `P_i` (`row`), true of every state a plan
    /// passes through: an action's add effects hold after it (`a@{i-1} ⇒ e@i`), and a fact that
    /// holds and is deleted by no chosen action still holds (`p@{i-1} ⇒ p@i ∨ d₁@{i-1} ∨ …`).
    fn encode_forward(
        &mut self,
        g: &PlanningGraph,
        i: usize,
        prev: &[i32],
        row: &[i32],
        ops: &[(u32, i32)],
        var_of: &[i32],
    ) {
        let split = Rc::clone(&self.split);
        for &(op, v) in ops {
            for &e in split.unit_add(g, op) {
                let ev = row[e as usize];
                if ev != 0 {
                    self.add(&[lit(v, false), lit(ev, true)]);
                }
            }
        }
        let mut clause = std::mem::take(&mut self.clause_buf);
        for f in g.level(i - 1).facts.ones() {
            if prev[f] == 0 || row[f] == 0 {
                continue;
            }
            clause.clear();
            clause.push(lit(prev[f], false));
            clause.push(lit(row[f], true));
            for &d in &self.dels[f] {
                let dv = var_of[d as usize];
                if dv != 0 {
                    clause.push(lit(dv, true));
                }
            }
            self.add(&clause);
        }
        self.clause_buf = clause;
    }

    /// The static action mutexes of a layer (`var_of[op]`: the variable of `op` in it, 0 when
    /// absent), fact by fact: a deleter `x` of `f` is mutex with every other action `y` that
    /// needs or adds `f` (interference, inconsistent effects). Said in linear size per fact
    /// rather than one binary clause per pair: with `Z` the actions both deleting and needing
    /// (or adding) `f`, `X`/`Y` the pure deleters and the pure needers/adders,
    /// `x ⇒ U`, `y ⇒ W`, `¬U ∨ ¬W` (small sides: the pairs themselves), and at most one of
    /// `Z ∪ {O}` where `X ∪ Y ⇒ O`. Exactly the pairwise relation once the auxiliary variables
    /// are projected away. False when the deadline passed.
    fn encode_interference(
        &mut self,
        g: &PlanningGraph,
        var_of: &[i32],
        deadline: Option<Instant>,
    ) -> bool {
        let (mut xs, mut ys, mut zs) = (Vec::new(), Vec::new(), Vec::new());
        for f in 0..g.n_facts {
            if f % 256 == 255 && deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            // stamp == in_x: deletes f, not yet seen on the other side; == seen: handled.
            self.epoch += 2;
            let (in_x, seen) = (self.epoch - 1, self.epoch);
            xs.clear();
            ys.clear();
            zs.clear();
            for &d in &self.dels[f] {
                if var_of[d as usize] != 0 {
                    self.stamp[d as usize] = in_x;
                    xs.push(d);
                }
            }
            if xs.is_empty() {
                continue;
            }
            for &b in self.need[f].iter().chain(&self.adds[f]) {
                let (b, st) = (b as usize, self.stamp[b as usize]);
                if var_of[b] == 0 || st == seen {
                    continue;
                }
                if st == in_x {
                    zs.push(var_of[b]);
                } else {
                    ys.push(var_of[b]);
                }
                self.stamp[b] = seen;
            }
            let stamp = &self.stamp;
            xs.retain(|&d| stamp[d as usize] == in_x);
            let xv: Vec<i32> = xs.iter().map(|&d| var_of[d as usize]).collect();
            self.exclude_sides(&xv, &ys);
            if !zs.is_empty() {
                if !xv.is_empty() || !ys.is_empty() {
                    let o = self.new_var();
                    for &v in xv.iter().chain(&ys) {
                        self.add(&[lit(v, false), lit(o, true)]);
                    }
                    zs.push(o);
                }
                self.at_most_one(&zs);
            }
        }
        true
    }

    /// No variable of `xs` true together with one of `ys`.
    pub(super) fn exclude_sides(&mut self, xs: &[i32], ys: &[i32]) {
        if xs.is_empty() || ys.is_empty() {
            return;
        }
        if xs.len() * ys.len() <= xs.len() + ys.len() + 3 {
            for &x in xs {
                for &y in ys {
                    self.add(&[lit(x, false), lit(y, false)]);
                }
            }
            return;
        }
        let (u, w) = (self.new_var(), self.new_var());
        for &x in xs {
            self.add(&[lit(x, false), lit(u, true)]);
        }
        for &y in ys {
            self.add(&[lit(y, false), lit(w, true)]);
        }
        self.add(&[lit(u, false), lit(w, false)]);
    }

    /// At most one of `vs` true: pairwise when short, else Sinz's sequential counter.
    pub(super) fn at_most_one(&mut self, vs: &[i32]) {
        if vs.len() <= 5 {
            for (k, &a) in vs.iter().enumerate() {
                for &b in &vs[k + 1..] {
                    self.add(&[lit(a, false), lit(b, false)]);
                }
            }
            return;
        }
        // s_k: "one of vs[..=k] is true".
        let mut prev = 0;
        for (k, &v) in vs.iter().enumerate() {
            if k + 1 < vs.len() {
                let s = self.new_var();
                self.add(&[lit(v, false), lit(s, true)]);
                if prev != 0 {
                    self.add(&[lit(prev, false), lit(s, true)]);
                }
                if k > 0 {
                    self.add(&[lit(v, false), lit(prev, false)]);
                }
                prev = s;
            } else {
                self.add(&[lit(v, false), lit(prev, false)]);
            }
        }
    }
}
