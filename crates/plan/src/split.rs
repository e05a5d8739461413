//! The split representation of actions for the SAT encoding (Robinson, Gretton, Pham & Sattar
//! 2009, "SAT-Based Parallel Planning Using a Split Representation of Actions").
//!
//! A schema's parameters fall into two parts when no fact of any of its ground actions names
//! objects of both: miconic's `(up ?f1 ?f2)` needs and deletes `(lift-at ?f1)` and adds
//! `(lift-at ?f2)`. Each ground action is then the conjunction of two *components*, one per
//! part (`up-from f1`, `up-to f2`), and each component carries the facts of its part. Where at
//! most one action of the schema can run in a step, a variable per component stands for the
//! actions: `|A| + |B|` variables instead of `|A| · |B|`. Components with the same side and facts
//! in two schemas are one (miconic's `up` and `down` leave `f1` alike), and such schemas form one
//! *family*. The encoder ([`crate::sat`]) checks the condition layer by layer
//! ([`Split::exclusive_families`]: every two of the layer's actions of the family mutex) and
//! keeps a variable per action where it fails.

use crate::fxhash::FxHashMap as HashMap;
use crate::graph::PlanningGraph;
use crate::ground::GroundTask;

/// The schemas whose actions split into two components, and those components.
#[derive(Debug, Clone, Default)]
pub struct Split {
    /// Per ground action (index into `task.actions`): its family's index in `families` and
    /// its two components, when its schema splits.
    pub of_action: Vec<Option<(u32, [u32; 2])>>,
    /// Per family (the splitting schemas that share a component; before
    /// `merge_families`, per splitting schema): its ground actions.
    pub families: Vec<Vec<u32>>,
    /// Per component: the facts it needs, adds and deletes.
    pub pre: Vec<Vec<u32>>,
    pub add: Vec<Vec<u32>>,
    pub del: Vec<Vec<u32>>,
    /// The ground action made of two components.
    pub action_of: HashMap<[u32; 2], u32>,
    /// Per component: its family and side (0: the part of the first parameter); read it with
    /// [`Split::component_home`].
    home: Vec<(u32, usize)>,
}

/// The objects a fact names: `(on a b)` → `a b`, `(not (at t l))` → `t l`.
fn fact_args(name: &str) -> Vec<&str> {
    let mut words = name.split(|c: char| c == '(' || c == ')' || c.is_whitespace());
    let mut words: Vec<&str> = words.by_ref().filter(|w| !w.is_empty()).collect();
    if words.first() == Some(&"not") {
        words.remove(0);
    }
    if !words.is_empty() {
        words.remove(0);
    }
    words
}

/// The most actions of a family whose mutexes [`exclusive`] tests pair by pair, when neither
/// side decides them (quadratic; above it the family keeps a variable per action in that layer).
const MAX_PAIRWISE: usize = 512;

/// Are the actions `pairs` (component pairs) pairwise mutex, `clash` deciding two components?
fn exclusive(pairs: &[[u32; 2]], clash: &dyn Fn(usize, usize) -> bool) -> bool {
    for side in 0..2 {
        let mut comps: Vec<u32> = pairs.iter().map(|p| p[side]).collect();
        comps.sort_unstable();
        comps.dedup();
        // Every two actions differ or agree on this side; either way they clash there.
        if comps
            .iter()
            .enumerate()
            .all(|(k, &x)| comps[k..].iter().all(|&y| clash(x as usize, y as usize)))
        {
            return true;
        }
    }
    if pairs.len() > MAX_PAIRWISE {
        return false;
    }
    let mutex = |p: [u32; 2], q: [u32; 2]| {
        p.iter()
            .any(|&x| q.iter().any(|&y| clash(x as usize, y as usize)))
    };
    (0..pairs.len()).all(|x| (x + 1..pairs.len()).all(|y| mutex(pairs[x], pairs[y])))
}

/// A component's identity across schemas: its side and the facts it needs, adds and deletes.
type ComponentKey<'a> = (usize, &'a [u32], &'a [u32], &'a [u32]);

fn find(parent: &mut [usize], x: usize) -> usize {
    let mut r = x;
    while parent[r] != r {
        r = parent[r];
    }
    parent[x] = r;
    r
}

impl Split {
    /// The split of `task`'s schemas; the actions of `exclude` (indices into `task.actions`:
    /// those the symmetry clauses name) keep their schema whole.
    pub fn new(task: &GroundTask, exclude: &[u32]) -> Split {
        let mut split = Split {
            of_action: vec![None; task.actions.len()],
            ..Split::default()
        };
        let mut by_schema: HashMap<&str, Vec<u32>> = HashMap::default();
        let mut order = Vec::new();
        for (a, act) in task.actions.iter().enumerate() {
            let e = by_schema.entry(act.schema.as_str()).or_default();
            if e.is_empty() {
                order.push(act.schema.as_str());
            }
            e.push(a as u32);
        }
        let mut excluded = vec![false; task.actions.len()];
        for &a in exclude {
            excluded[a as usize] = true;
        }
        let args: Vec<Vec<&str>> = task.facts.iter().map(|f| fact_args(f)).collect();
        for name in order {
            let acts = &by_schema[name];
            if acts.iter().any(|&a| excluded[a as usize]) {
                continue;
            }
            split.try_schema(task, acts, &args);
        }
        split.merge_families();
        split
    }

    /// Components of different schemas with the same side and the same facts (miconic's
    /// `up-from f` and `down-from f`) become one; schemas that share a component form one
    /// family, whose actions the encoder treats as one splitting schema.
    fn merge_families(&mut self) {
        let mut parent: Vec<usize> = (0..self.families.len()).collect();
        // `to[c]`: the merged id of component `c`; `first[id]`: the first component with it.
        let mut to: Vec<u32> = Vec::with_capacity(self.len());
        let mut first: Vec<usize> = Vec::new();
        let mut canon: HashMap<ComponentKey, u32> = HashMap::default();
        for (c, &(s, side)) in self.home.iter().enumerate() {
            let key = (side, &self.pre[c][..], &self.add[c][..], &self.del[c][..]);
            let next = first.len() as u32;
            let id = *canon.entry(key).or_insert(next);
            if id == next {
                first.push(c);
            } else {
                let (x, y) = (self.home[first[id as usize]].0, s);
                let (x, y) = (find(&mut parent, x as usize), find(&mut parent, y as usize));
                parent[x] = y;
            }
            to.push(id);
        }
        drop(canon);
        // Families: the classes of schemas, numbered in schema order.
        let mut family = vec![u32::MAX; self.families.len()];
        let mut families: Vec<Vec<u32>> = Vec::new();
        for s in 0..self.families.len() {
            let r = find(&mut parent, s);
            if family[r] == u32::MAX {
                family[r] = families.len() as u32;
                families.push(Vec::new());
            }
            family[s] = family[r];
            families[family[s] as usize].extend_from_slice(&self.families[s]);
        }
        let home = first
            .iter()
            .map(|&c| (family[self.home[c].0 as usize], self.home[c].1))
            .collect();
        let take =
            |v: &mut Vec<Vec<u32>>| first.iter().map(|&c| std::mem::take(&mut v[c])).collect();
        (self.pre, self.add, self.del) = (
            take(&mut self.pre),
            take(&mut self.add),
            take(&mut self.del),
        );
        self.home = home;
        self.families = families;
        self.action_of.clear();
        for (a, entry) in self.of_action.iter_mut().enumerate() {
            if let Some((s, [x, y])) = *entry {
                let pair = [to[x as usize], to[y as usize]];
                *entry = Some((family[s as usize], pair));
                self.action_of.entry(pair).or_insert(a as u32);
            }
        }
    }

    /// Split the schema whose ground actions are `acts`, if its parameters fall into two parts
    /// and every component carries the same facts in every action that has it.
    fn try_schema(&mut self, task: &GroundTask, acts: &[u32], args: &[Vec<&str>]) {
        let k = task.actions[acts[0] as usize].args.len();
        if k < 2 || acts.len() < 2 {
            return;
        }
        // Parameters named together by a fact are in one part.
        let mut parent: Vec<usize> = (0..k).collect();
        let mut groups = k;
        let positions = |act: &crate::ground::GroundAction, f: u32| -> Vec<usize> {
            (0..k)
                .filter(|&j| args[f as usize].contains(&act.args[j].as_str()))
                .collect()
        };
        for &a in acts {
            let act = &task.actions[a as usize];
            for &f in act.pre.iter().chain(&act.add).chain(&act.del) {
                let ps = positions(act, f);
                for w in ps.windows(2) {
                    let (x, y) = (find(&mut parent, w[0]), find(&mut parent, w[1]));
                    if x != y {
                        parent[x] = y;
                        groups -= 1;
                    }
                }
            }
            if groups == 1 {
                return;
            }
        }
        let root0 = find(&mut parent, 0);
        let in_a: Vec<bool> = (0..k).map(|j| find(&mut parent, j) == root0).collect();
        if in_a.iter().all(|&x| x) {
            return;
        }
        // Components keyed by (part, the part's arguments).
        let base = self.pre.len() as u32;
        let mut keys: HashMap<(bool, Vec<&str>), u32> = HashMap::default();
        // Per local component: its side and its facts (pre, add, del).
        let mut facts: Vec<(usize, [Vec<u32>; 3])> = Vec::new();
        let mut comps_of = Vec::with_capacity(acts.len());
        for &a in acts {
            let act = &task.actions[a as usize];
            let mut pair = [0u32; 2];
            let mut parts: [[Vec<u32>; 3]; 2] = Default::default();
            for (s, list) in [&act.pre, &act.add, &act.del].into_iter().enumerate() {
                for &f in list {
                    let ps = positions(act, f);
                    let part_a = ps.first().is_none_or(|&j| in_a[j]);
                    parts[usize::from(!part_a)][s].push(f);
                }
            }
            for (side, p) in parts.iter_mut().enumerate() {
                for l in p.iter_mut() {
                    l.sort_unstable();
                }
                let key_args: Vec<&str> = (0..k)
                    .filter(|&j| in_a[j] == (side == 0))
                    .map(|j| act.args[j].as_str())
                    .collect();
                let next = keys.len() as u32;
                let c = *keys.entry((side == 0, key_args)).or_insert(next);
                if c == next {
                    facts.push((side, p.clone()));
                } else if facts[c as usize].1 != *p {
                    return; // the component's facts depend on the other part
                }
                pair[side] = c;
            }
            // A part must not delete what the other needs or adds.
            let [fa, fb] = &parts;
            let clash = |x: &[Vec<u32>; 3], y: &[Vec<u32>; 3]| {
                x[2].iter().any(|f| y[0].contains(f) || y[1].contains(f))
            };
            if clash(fa, fb) || clash(fb, fa) {
                return;
            }
            comps_of.push(pair);
        }
        // Worth it only with fewer variables than actions.
        if facts.len() >= acts.len() {
            return;
        }
        let schema = self.families.len() as u32;
        self.families.push(acts.to_vec());
        for (side, [pre, add, del]) in facts {
            self.home.push((schema, side));
            self.pre.push(pre);
            self.add.push(add);
            self.del.push(del);
        }
        for (&a, pair) in acts.iter().zip(comps_of) {
            let pair = [base + pair[0], base + pair[1]];
            self.of_action[a as usize] = Some((schema, pair));
            self.action_of.insert(pair, a);
        }
    }

    /// The families whose actions among `chosen` (operator indices of layer `A_l` of `g`) are
    /// two or more and pairwise mutex there: at most one of them runs in a step, so their
    /// components can stand for them. Two actions are mutex when a component of one
    /// interferes with a component of the other (deletes what it needs or adds) or needs a
    /// fact mutex in `P_l` with one the other's component needs; so the test runs on
    /// component pairs, and on action pairs only where neither side's components are
    /// pairwise exclusive on their own.
    pub fn exclusive_families(&self, g: &PlanningGraph, l: usize, chosen: &[usize]) -> Vec<u32> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut per: HashMap<u32, Vec<[u32; 2]>> = HashMap::default();
        for &op in chosen {
            if let Some((s, pair)) = self.of_op(op, g.n_facts) {
                per.entry(s).or_default().push(pair);
            }
        }
        let level = g.level(l);
        let clash = |x: usize, y: usize| {
            let hits = |d: &[u32], z: usize| {
                d.iter()
                    .any(|f| self.pre[z].contains(f) || self.add[z].contains(f))
            };
            hits(&self.del[x], y)
                || hits(&self.del[y], x)
                || (x != y
                    && self.pre[x].iter().any(|&p| {
                        self.pre[y]
                            .iter()
                            .any(|&q| level.fact_mutex[p as usize].contains(q as usize))
                    }))
        };
        let mut out: Vec<u32> = per
            .into_iter()
            .filter(|(_, pairs)| pairs.len() >= 2 && exclusive(pairs, &clash))
            .map(|(s, _)| s)
            .collect();
        out.sort_unstable();
        out
    }

    /// The facts unit `u` of an encoded layer of `g` needs: an operator's preconditions, or for
    /// `u = g.n_ops + c`, component `c`'s (the encoder numbers components after the operators).
    pub fn unit_pre<'a>(&'a self, g: &'a PlanningGraph, u: u32) -> &'a [u32] {
        match (u as usize).checked_sub(g.n_ops) {
            Some(c) => &self.pre[c],
            None => &g.op_pre[u as usize],
        }
    }

    /// The facts unit `u` adds (as [`Split::unit_pre`]).
    pub fn unit_add<'a>(&'a self, g: &'a PlanningGraph, u: u32) -> &'a [u32] {
        match (u as usize).checked_sub(g.n_ops) {
            Some(c) => &self.add[c],
            None => &g.op_add[u as usize],
        }
    }

    /// The family and components of operator `op` of a planning graph with `n_facts` facts
    /// (`None` for a no-op or an action of a schema that does not split).
    pub fn of_op(&self, op: usize, n_facts: usize) -> Option<(u32, [u32; 2])> {
        op.checked_sub(n_facts)
            .and_then(|a| self.of_action.get(a).copied().flatten())
    }

    /// The schema and side of component `c`.
    pub fn component_home(&self, c: u32) -> (u32, usize) {
        self.home[c as usize]
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.pre.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pre.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(domain: &str, problem: &str) -> GroundTask {
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/pddl");
        crate::load(
            format!("{data}/{domain}/domain.pddl"),
            format!("{data}/{domain}/{problem}.pddl"),
        )
        .unwrap()
        .2
    }

    #[test]
    fn miconic_moves_split_into_shared_from_and_to_components() {
        let t = task("miconic", "s3-0");
        let split = Split::new(&t, &[]);
        let name = |a: usize| t.actions[a].name();
        let mut moves = 0;
        for (a, act) in t.actions.iter().enumerate() {
            let Some((fam, [x, y])) = split.of_action[a] else {
                // board and depart name the floor and the passenger in `origin`/`destin`,
                // which are static; their facts split too, but each passenger has one floor.
                continue;
            };
            // The components carry exactly the action's facts.
            let (x, y) = (x as usize, y as usize);
            for (mine, theirs) in [
                (&act.pre, [&split.pre[x], &split.pre[y]]),
                (&act.add, [&split.add[x], &split.add[y]]),
                (&act.del, [&split.del[x], &split.del[y]]),
            ] {
                let mut union: Vec<u32> = theirs[0].iter().chain(theirs[1]).copied().collect();
                union.sort_unstable();
                let mut mine = mine.clone();
                mine.sort_unstable();
                assert_eq!(union, mine, "{}", name(a));
            }
            assert_eq!(split.action_of[&[x as u32, y as u32]] as usize, a);
            assert_eq!(split.component_home(x as u32), (fam, 0));
            assert_eq!(split.component_home(y as u32), (fam, 1));
            if act.schema == "up" || act.schema == "down" {
                moves += 1;
                // `(lift-at f1)` needed and deleted, `(lift-at f2)` added.
                assert_eq!((split.pre[x].len(), split.del[x].len()), (1, 1));
                assert_eq!((split.pre[y].len(), split.add[y].len()), (0, 1));
            }
        }
        assert!(moves > 0);
        // `(up f1 f2)` and `(down f1 f3)` leave f1 by the same component: one family.
        let from = |schema: &str| {
            let a = t
                .actions
                .iter()
                .position(|a| a.schema == schema && a.args[0] == "f1");
            split.of_action[a.unwrap()].unwrap()
        };
        let (up, down) = (from("up"), from("down"));
        assert_eq!(up.0, down.0);
        assert_eq!(up.1[0], down.1[0]);
        // Fewer components than moves: 2·floors against floors·(floors − 1).
        assert!(split.len() < t.actions.len());
    }

    #[test]
    fn schemas_that_name_their_objects_together_stay_whole() {
        // Blocks: `(stack ?x ?y)` adds `(on ?x ?y)`.
        let t = task("blocks", "probBLOCKS-5-0");
        let split = Split::new(&t, &[]);
        assert!(split.is_empty());
        assert!(split.of_action.iter().all(Option::is_none));
        // Excluded actions keep their schema whole.
        let t = task("miconic", "s3-0");
        let all: Vec<u32> = (0..t.actions.len() as u32).collect();
        assert!(Split::new(&t, &all).is_empty());
    }

    #[test]
    fn exclusive_needs_every_two_actions_to_clash() {
        // Components 0..4; side A {0, 1}, side B {2, 3}; clash(x, y) from a table.
        let table = |pairs: &[(usize, usize)]| {
            let pairs = pairs.to_vec();
            move |x: usize, y: usize| pairs.contains(&(x.min(y), x.max(y)))
        };
        let acts = [[0, 2], [0, 3], [1, 2]];
        // Side A clashes with itself and across: every two actions clash.
        assert!(exclusive(&acts, &table(&[(0, 0), (0, 1), (1, 1)])));
        // No side clashes throughout; pair by pair, the shared components 0 and 2 clash with
        // themselves, and [0, 3] against [1, 2] by 3–1.
        assert!(exclusive(&acts, &table(&[(0, 0), (2, 2), (1, 3)])));
        // Without 3–1, those two actions can run together.
        assert!(!exclusive(&acts, &table(&[(0, 0), (2, 2)])));
    }

    #[test]
    fn fact_args_reads_names_and_compiled_negations() {
        assert_eq!(fact_args("(on a b)"), vec!["a", "b"]);
        assert_eq!(fact_args("(not (at t1 l2))"), vec!["t1", "l2"]);
        assert!(fact_args("(handempty)").is_empty());
    }
}
