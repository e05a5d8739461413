//! Grounding: typed instantiation of action schemas, static-predicate pruning (a predicate no
//! action changes is evaluated against the initial state while parameters are bound),
//! (in)equality, then relaxed-reachability pruning (facts and actions not reachable when delete
//! lists are ignored are dropped). Negative preconditions on changing predicates are compiled
//! into complementary facts `(not p)`.

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fmt;

use fixedbitset::FixedBitSet;

use crate::pddl::{Domain, Literal, Problem, Term};

/// Grounding errors (bad references between domain and problem).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroundError {
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    /// A check of [`crate::check::check`] failed (with its `file:line:col`).
    #[error(transparent)]
    Pddl(#[from] crate::pddl::PddlError),
}

/// A ground STRIPS action over fact indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroundAction {
    /// Schema name.
    pub schema: String,
    /// Object arguments.
    pub args: Vec<String>,
    pub pre: Vec<u32>,
    pub add: Vec<u32>,
    pub del: Vec<u32>,
}

impl GroundAction {
    /// The IPC form `(name arg ...)`.
    pub fn name(&self) -> String {
        let mut s = format!("({}", self.schema);
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s.push(')');
        s
    }
}

impl fmt::Display for GroundAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Counts reported by the grounder.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroundStats {
    /// Instantiations that passed type, static and (in)equality checks.
    pub instantiated_actions: usize,
    /// Actions left after relaxed-reachability pruning.
    pub actions: usize,
    /// Facts left after relaxed-reachability pruning (including goal facts).
    pub facts: usize,
    /// Facts of static predicates (true in every state), removed from the task.
    pub static_facts: usize,
}

/// A ground STRIPS task: facts are indices `0..facts.len()`.
#[derive(Debug, Clone)]
pub struct GroundTask {
    pub domain_name: String,
    pub problem_name: String,
    /// Fact names, e.g. `(on a b)` or `(not (at t1 l2))` for a compiled negative precondition.
    pub facts: Vec<String>,
    pub actions: Vec<GroundAction>,
    pub init: Vec<u32>,
    pub goal: Vec<u32>,
    /// False when a static goal fact is false in the initial state (unsolvable by grounding).
    pub goal_satisfiable: bool,
    pub stats: GroundStats,
}

impl GroundTask {
    pub fn num_facts(&self) -> usize {
        self.facts.len()
    }
    /// The initial state as a bitset.
    pub fn init_state(&self) -> FixedBitSet {
        bitset(self.facts.len(), &self.init)
    }
    /// The goal as a bitset.
    pub fn goal_set(&self) -> FixedBitSet {
        bitset(self.facts.len(), &self.goal)
    }
    /// Look an action up by its IPC name (case-insensitive, whitespace-normalised).
    pub fn action_by_name(&self, name: &str) -> Option<usize> {
        let norm = normalise_call(name);
        self.actions.iter().position(|a| a.name() == norm)
    }
}

/// Normalise `( Pick-Up  A )` to `(pick-up a)`.
pub fn normalise_call(s: &str) -> String {
    let inner = s.trim().trim_start_matches('(').trim_end_matches(')');
    format!(
        "({})",
        inner
            .split_whitespace()
            .map(|t| t.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

pub(crate) fn bitset(n: usize, items: &[u32]) -> FixedBitSet {
    let mut b = FixedBitSet::with_capacity(n);
    for &i in items {
        b.insert(i as usize);
    }
    b
}

type AtomKey = (u32, Vec<u32>);

struct Interner {
    objects: Vec<String>,
    object_ids: HashMap<String, u32>,
    preds: Vec<String>,
    pred_ids: HashMap<String, u32>,
}

impl Interner {
    fn pred(&mut self, p: &str) -> u32 {
        if let Some(&i) = self.pred_ids.get(p) {
            return i;
        }
        let i = self.preds.len() as u32;
        self.preds.push(p.to_string());
        self.pred_ids.insert(p.to_string(), i);
        i
    }
    fn atom_name(&self, key: &AtomKey) -> String {
        let mut s = format!("({}", self.preds[key.0 as usize]);
        for &o in &key.1 {
            s.push(' ');
            s.push_str(&self.objects[o as usize]);
        }
        s.push(')');
        s
    }
}

/// A schema atom with parameters resolved to slot indices or object ids.
#[derive(Clone, Debug)]
enum Arg {
    Param(usize),
    Obj(u32),
}

#[derive(Clone, Debug)]
struct SAtom {
    pred: u32,
    args: Vec<Arg>,
    positive: bool,
    is_eq: bool,
}

impl SAtom {
    fn bind(&self, binding: &[u32]) -> AtomKey {
        (
            self.pred,
            self.args.iter().map(|a| resolve(a, binding)).collect(),
        )
    }
}

fn resolve(a: &Arg, binding: &[u32]) -> u32 {
    match a {
        Arg::Param(p) => binding[*p],
        Arg::Obj(o) => *o,
    }
}

/// Ground `problem` against `domain`.
pub fn ground(domain: &Domain, problem: &Problem) -> Result<GroundTask, GroundError> {
    crate::check::check(domain, problem)?;
    let bad = |file: &str, message: String| GroundError::Invalid {
        file: file.to_string(),
        message,
    };
    // Type hierarchy: parent map.
    let mut parent: HashMap<String, String> = HashMap::default();
    for (t, p) in &domain.types {
        if t != "object" {
            parent.insert(t.clone(), p.clone());
        }
    }
    let ancestors = |t: &str| -> Vec<String> {
        let mut out = vec![t.to_string()];
        let mut cur = t.to_string();
        let mut guard = 0;
        while let Some(p) = parent.get(&cur) {
            if out.contains(p) || guard > 100 {
                break;
            }
            out.push(p.clone());
            cur = p.clone();
            guard += 1;
        }
        if !out.iter().any(|x| x == "object") {
            out.push("object".into());
        }
        out
    };
    let known_type = |t: &str| {
        t == "object"
            || parent.contains_key(t)
            || domain.types.iter().any(|(n, p)| n == t || p == t)
    };

    // Objects: domain constants then problem objects.
    let mut it = Interner {
        objects: Vec::new(),
        object_ids: HashMap::default(),
        preds: Vec::new(),
        pred_ids: HashMap::default(),
    };
    let mut objects_of_type: HashMap<String, Vec<u32>> = HashMap::default();
    for o in domain.constants.iter().chain(&problem.objects) {
        if !known_type(&o.ty) {
            return Err(bad(
                &problem.file,
                format!("object `{}` has unknown type `{}`", o.name, o.ty),
            ));
        }
        if it.object_ids.contains_key(&o.name) {
            continue;
        }
        let id = it.objects.len() as u32;
        it.objects.push(o.name.clone());
        it.object_ids.insert(o.name.clone(), id);
        for t in ancestors(&o.ty) {
            objects_of_type.entry(t).or_default().push(id);
        }
    }
    let eq_pred = it.pred("=");
    let mut arity: HashMap<u32, usize> = HashMap::default();
    for p in &domain.predicates {
        let id = it.pred(&p.name);
        arity.insert(id, p.params.len());
    }
    // Fluent predicates: those in some effect. Everything else is static.
    let mut fluent: HashSet<u32> = HashSet::default();
    for a in &domain.actions {
        for at in a.add.iter().chain(&a.del) {
            fluent.insert(it.pred(&at.predicate));
        }
    }
    // Initial state atoms.
    let mut init_atoms: HashSet<AtomKey> = HashSet::default();
    for g in &problem.init {
        let pid = match it.pred_ids.get(&g.predicate) {
            Some(&p) if p != eq_pred => p,
            _ => {
                return Err(bad(
                    &problem.file,
                    format!("`:init` uses undeclared predicate `{}`", g.predicate),
                ))
            }
        };
        if arity.get(&pid) != Some(&g.args.len()) {
            return Err(bad(
                &problem.file,
                format!("`:init` atom {g} has the wrong number of arguments"),
            ));
        }
        let mut args = Vec::new();
        for a in &g.args {
            args.push(
                *it.object_ids.get(a).ok_or_else(|| {
                    bad(&problem.file, format!("`:init` uses unknown object `{a}`"))
                })?,
            );
        }
        init_atoms.insert((pid, args));
    }
    let mut init_by_pred: HashMap<u32, Vec<Vec<u32>>> = HashMap::default();
    for k in &init_atoms {
        init_by_pred.entry(k.0).or_default().push(k.1.clone());
    }
    for v in init_by_pred.values_mut() {
        v.sort_unstable(); // deterministic candidate order
    }
    let static_facts = init_atoms.iter().filter(|k| !fluent.contains(&k.0)).count();

    // Instantiate schemas.
    struct Inst {
        schema: usize,
        binding: Vec<u32>,
        pre: Vec<AtomKey>,
        neg_pre: Vec<AtomKey>,
        add: Vec<AtomKey>,
        del: Vec<AtomKey>,
    }
    let mut insts: Vec<Inst> = Vec::new();
    for (si, a) in domain.actions.iter().enumerate() {
        let pidx: HashMap<&str, usize> = a
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let conv_atom = |it: &mut Interner,
                         at: &crate::pddl::Atom,
                         positive: bool|
         -> Result<SAtom, GroundError> {
            let mut args = Vec::new();
            for t in &at.args {
                args.push(match t {
                    Term::Var(v) => Arg::Param(pidx[v.as_str()]),
                    Term::Const(c) => Arg::Obj(
                        *it.object_ids
                            .get(c)
                            .ok_or_else(|| bad(&domain.file, format!("unknown constant `{c}`")))?,
                    ),
                });
            }
            let pred = it.pred(&at.predicate);
            Ok(SAtom {
                pred,
                args,
                positive,
                is_eq: pred == eq_pred,
            })
        };
        let mut pre = Vec::new();
        for l in &a.precondition {
            pre.push(conv_atom(&mut it, &l.atom, l.positive)?);
        }
        let add: Vec<SAtom> = a
            .add
            .iter()
            .map(|x| conv_atom(&mut it, x, true))
            .collect::<Result<_, _>>()?;
        let del: Vec<SAtom> = a
            .del
            .iter()
            .map(|x| conv_atom(&mut it, x, true))
            .collect::<Result<_, _>>()?;
        // Candidate objects per parameter.
        let n = a.params.len();
        let mut cands: Vec<Vec<u32>> = Vec::new();
        for p in &a.params {
            cands.push(objects_of_type.get(&p.ty).cloned().unwrap_or_default());
        }
        // Checks that can run at grounding time: static atoms and (in)equality.
        let statics: Vec<&SAtom> = pre
            .iter()
            .filter(|s| s.is_eq || !fluent.contains(&s.pred))
            .collect();
        let params_of = |s: &SAtom| -> Vec<usize> {
            let mut v: Vec<usize> = s
                .args
                .iter()
                .filter_map(|a| {
                    if let Arg::Param(p) = a {
                        Some(*p)
                    } else {
                        None
                    }
                })
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let mut key: AtomKey = (0, Vec::new());
        let mut holds = |s: &SAtom, b: &[u32]| -> bool {
            let v = if s.is_eq {
                resolve(&s.args[0], b) == resolve(&s.args[1], b)
            } else {
                key.0 = s.pred;
                key.1.clear();
                key.1.extend(s.args.iter().map(|x| resolve(x, b)));
                init_atoms.contains(&key)
            };
            v == s.positive
        };
        // Ground checks first; checks on one parameter filter its candidates up front.
        let mut tmp = vec![0u32; n];
        let mut multi: Vec<(&SAtom, Vec<usize>)> = Vec::new();
        let mut ok = true;
        for s in &statics {
            let ps = params_of(s);
            match ps.len() {
                0 => ok &= holds(s, &tmp),
                1 => {
                    let p = ps[0];
                    cands[p].retain(|&o| {
                        tmp[p] = o;
                        holds(s, &tmp)
                    });
                }
                _ => multi.push((s, ps)),
            }
        }
        if !ok || cands.iter().any(|c| c.is_empty()) {
            continue;
        }
        if n == 0 {
            insts.push(make_inst(si, &[], &pre, &add, &del, &fluent, eq_pred));
            continue;
        }
        // Binding order: greedily the parameter that completes the most multi-parameter checks,
        // then the one with the fewest candidates (e.g. drive-truck binds ?city right after
        // ?loc-from so that `in-city` prunes early).
        let mut order: Vec<usize> = Vec::with_capacity(n);
        let mut bound = vec![false; n];
        for _ in 0..n {
            let best = (0..n)
                .filter(|&p| !bound[p])
                .max_by_key(|&p| {
                    let done = multi
                        .iter()
                        .filter(|(_, ps)| ps.contains(&p) && ps.iter().all(|&q| q == p || bound[q]))
                        .count();
                    (
                        done,
                        std::cmp::Reverse(cands[p].len()),
                        std::cmp::Reverse(p),
                    )
                })
                .expect("an unbound parameter");
            bound[best] = true;
            order.push(best);
        }
        let mut depth_of = vec![0usize; n];
        for (d, &p) in order.iter().enumerate() {
            depth_of[p] = d;
        }
        let mut checks: Vec<Vec<&SAtom>> = vec![Vec::new(); n];
        for (s, ps) in &multi {
            let d = ps.iter().map(|&p| depth_of[p]).max().unwrap_or(0);
            checks[d].push(s);
        }
        // Generators: at depth d, a positive static atom in which order[d] occurs once and all
        // other arguments are already bound yields the candidates from an index of the initial
        // state instead of filtering every object of the type.
        struct Generator {
            others: Vec<Arg>,
            index: HashMap<Vec<u32>, Vec<u32>>,
        }
        let mut gens: Vec<Option<Generator>> = Vec::with_capacity(n);
        for (d, &p) in order.iter().enumerate() {
            let gen = checks[d].iter().find_map(|s| {
                if s.is_eq || !s.positive {
                    return None;
                }
                let occ: Vec<usize> = (0..s.args.len())
                    .filter(|&i| matches!(s.args[i], Arg::Param(q) if q == p))
                    .collect();
                if occ.len() != 1 {
                    return None;
                }
                let pos = occ[0];
                let others: Vec<Arg> = s
                    .args
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != pos)
                    .map(|(_, a)| a.clone())
                    .collect();
                let mut index: HashMap<Vec<u32>, Vec<u32>> = HashMap::default();
                for k in init_by_pred.get(&s.pred).into_iter().flatten() {
                    let key: Vec<u32> = k
                        .iter()
                        .enumerate()
                        .filter(|&(i, _)| i != pos)
                        .map(|(_, &o)| o)
                        .collect();
                    index.entry(key).or_default().push(k[pos]);
                }
                Some(Generator { others, index })
            });
            gens.push(gen);
        }
        let mut allowed: Vec<FixedBitSet> = Vec::with_capacity(n);
        for c in &cands {
            let mut b = FixedBitSet::with_capacity(it.objects.len());
            for &o in c {
                b.insert(o as usize);
            }
            allowed.push(b);
        }
        // Depth-first enumeration of bindings in that order.
        let mut binding = vec![0u32; n];
        let mut idx = vec![0usize; n];
        let mut cur: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut keybuf: Vec<u32> = Vec::new();
        let fill = |d: usize, binding: &[u32], cur: &mut Vec<Vec<u32>>, keybuf: &mut Vec<u32>| {
            let p = order[d];
            let list = &mut cur[d];
            list.clear();
            match &gens[d] {
                Some(g) => {
                    keybuf.clear();
                    keybuf.extend(g.others.iter().map(|a| resolve(a, binding)));
                    if let Some(v) = g.index.get(keybuf.as_slice()) {
                        list.extend(
                            v.iter()
                                .copied()
                                .filter(|&o| allowed[p].contains(o as usize)),
                        );
                    }
                }
                None => list.extend_from_slice(&cands[p]),
            }
        };
        let mut depth = 0usize;
        fill(0, &binding, &mut cur, &mut keybuf);
        loop {
            let p = order[depth];
            if idx[depth] >= cur[depth].len() {
                idx[depth] = 0;
                if depth == 0 {
                    break;
                }
                depth -= 1;
                idx[depth] += 1;
                continue;
            }
            binding[p] = cur[depth][idx[depth]];
            if checks[depth].iter().all(|s| holds(s, &binding)) {
                if depth + 1 == n {
                    insts.push(make_inst(si, &binding, &pre, &add, &del, &fluent, eq_pred));
                    idx[depth] += 1;
                } else {
                    depth += 1;
                    idx[depth] = 0;
                    fill(depth, &binding, &mut cur, &mut keybuf);
                }
            } else {
                idx[depth] += 1;
            }
        }
    }
    fn make_inst(
        schema: usize,
        b: &[u32],
        pre: &[SAtom],
        add: &[SAtom],
        del: &[SAtom],
        fluent: &HashSet<u32>,
        _eq: u32,
    ) -> Inst {
        let mut i = Inst {
            schema,
            binding: b.to_vec(),
            pre: Vec::new(),
            neg_pre: Vec::new(),
            add: Vec::new(),
            del: Vec::new(),
        };
        for s in pre {
            if s.is_eq || !fluent.contains(&s.pred) {
                continue;
            }
            if s.positive {
                i.pre.push(s.bind(b));
            } else {
                i.neg_pre.push(s.bind(b));
            }
        }
        for s in add {
            i.add.push(s.bind(b));
        }
        for s in del {
            i.del.push(s.bind(b));
        }
        dedup(&mut i.pre);
        dedup(&mut i.neg_pre);
        dedup(&mut i.add);
        dedup(&mut i.del);
        // STRIPS semantics: delete then add, so an atom both added and deleted stays true.
        let adds: HashSet<&AtomKey> = i.add.iter().collect();
        let del: Vec<AtomKey> = i
            .del
            .iter()
            .filter(|d| !adds.contains(d))
            .cloned()
            .collect();
        i.del = del;
        i
    }
    fn dedup(v: &mut Vec<AtomKey>) {
        let mut seen = HashSet::default();
        v.retain(|x| seen.insert(x.clone()));
    }
    let instantiated = insts.len();

    // Relaxed reachability (delete lists and negative preconditions ignored).
    let mut atom_ids: HashMap<AtomKey, u32> = HashMap::default();
    let mut atoms: Vec<AtomKey> = Vec::new();
    let intern =
        |k: &AtomKey, atom_ids: &mut HashMap<AtomKey, u32>, atoms: &mut Vec<AtomKey>| -> u32 {
            if let Some(&i) = atom_ids.get(k) {
                return i;
            }
            let i = atoms.len() as u32;
            atoms.push(k.clone());
            atom_ids.insert(k.clone(), i);
            i
        };
    let mut init_fluent: Vec<AtomKey> = init_atoms
        .iter()
        .filter(|k| fluent.contains(&k.0))
        .cloned()
        .collect();
    init_fluent.sort();
    for k in &init_fluent {
        intern(k, &mut atom_ids, &mut atoms);
    }
    let mut pre_ids: Vec<Vec<u32>> = Vec::with_capacity(insts.len());
    let mut add_ids: Vec<Vec<u32>> = Vec::with_capacity(insts.len());
    for ins in &insts {
        pre_ids.push(
            ins.pre
                .iter()
                .map(|k| intern(k, &mut atom_ids, &mut atoms))
                .collect(),
        );
        add_ids.push(
            ins.add
                .iter()
                .map(|k| intern(k, &mut atom_ids, &mut atoms))
                .collect(),
        );
    }
    let mut reached = vec![false; atoms.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); atoms.len()];
    let mut missing: Vec<usize> = vec![0; insts.len()];
    for (ai, pre) in pre_ids.iter().enumerate() {
        missing[ai] = pre.len();
        for &p in pre {
            consumers[p as usize].push(ai);
        }
    }
    let mut queue: Vec<u32> = Vec::new();
    let mut action_ok = vec![false; insts.len()];
    for k in &init_fluent {
        let i = atom_ids[k];
        reached[i as usize] = true;
        queue.push(i);
    }
    let fire =
        |ai: usize, queue: &mut Vec<u32>, reached: &mut Vec<bool>, action_ok: &mut Vec<bool>| {
            action_ok[ai] = true;
            for &f in &add_ids[ai] {
                if !reached[f as usize] {
                    reached[f as usize] = true;
                    queue.push(f);
                }
            }
        };
    for (ai, &m) in missing.iter().enumerate() {
        if m == 0 {
            fire(ai, &mut queue, &mut reached, &mut action_ok);
        }
    }
    while let Some(f) = queue.pop() {
        for &ai in &consumers[f as usize] {
            missing[ai] -= 1;
            if missing[ai] == 0 {
                fire(ai, &mut queue, &mut reached, &mut action_ok);
            }
        }
    }

    // Goal literals.
    let mut goal_satisfiable = true;
    let mut goal_pos: Vec<AtomKey> = Vec::new();
    let mut goal_neg: Vec<AtomKey> = Vec::new();
    for l in &problem.goal {
        let Literal { atom, positive } = l;
        let mut args = Vec::new();
        for t in &atom.args {
            let Term::Const(c) = t else {
                unreachable!("parser rejects variables in goals")
            };
            args.push(
                *it.object_ids.get(c).ok_or_else(|| {
                    bad(&problem.file, format!("`:goal` uses unknown object `{c}`"))
                })?,
            );
        }
        if atom.predicate == "=" {
            if (args[0] == args[1]) != *positive {
                goal_satisfiable = false;
            }
            continue;
        }
        let pid = *it.pred_ids.get(&atom.predicate).ok_or_else(|| {
            bad(
                &problem.file,
                format!("`:goal` uses undeclared predicate `{}`", atom.predicate),
            )
        })?;
        let key = (pid, args);
        if !fluent.contains(&pid) {
            if init_atoms.contains(&key) != *positive {
                goal_satisfiable = false;
            }
        } else if *positive {
            goal_pos.push(key);
        } else {
            goal_neg.push(key);
        }
    }

    // Final fact table: reachable fluent atoms (init first), goal atoms, then complements.
    let mut fact_ids: HashMap<AtomKey, u32> = HashMap::default();
    let mut fact_keys: Vec<AtomKey> = Vec::new();
    let add_fact =
        |k: &AtomKey, fact_ids: &mut HashMap<AtomKey, u32>, fact_keys: &mut Vec<AtomKey>| -> u32 {
            if let Some(&i) = fact_ids.get(k) {
                return i;
            }
            let i = fact_keys.len() as u32;
            fact_keys.push(k.clone());
            fact_ids.insert(k.clone(), i);
            i
        };
    for (i, k) in atoms.iter().enumerate() {
        if reached[i] {
            add_fact(k, &mut fact_ids, &mut fact_keys);
        }
    }
    for k in &goal_pos {
        add_fact(k, &mut fact_ids, &mut fact_keys);
    }
    let n_pos = fact_keys.len();
    // Complement facts for negative preconditions / goals on fluents.
    let mut neg_needed: Vec<AtomKey> = Vec::new();
    for (ai, ins) in insts.iter().enumerate() {
        if action_ok[ai] {
            neg_needed.extend(ins.neg_pre.iter().cloned());
        }
    }
    neg_needed.extend(goal_neg.iter().cloned());
    let mut neg_ids: HashMap<AtomKey, u32> = HashMap::default();
    let mut names: Vec<String> = fact_keys.iter().map(|k| it.atom_name(k)).collect();
    for k in neg_needed {
        if neg_ids.contains_key(&k) {
            continue;
        }
        let id = (n_pos + neg_ids.len()) as u32;
        neg_ids.insert(k.clone(), id);
        names.push(format!("(not {})", it.atom_name(&k)));
    }

    let mut actions = Vec::new();
    for (ai, ins) in insts.iter().enumerate() {
        if !action_ok[ai] {
            continue;
        }
        let mut pre: Vec<u32> = ins.pre.iter().map(|k| fact_ids[k]).collect();
        pre.extend(ins.neg_pre.iter().map(|k| neg_ids[k]));
        let mut add: Vec<u32> = ins.add.iter().map(|k| fact_ids[k]).collect();
        // Deletes of unreachable atoms are dropped (they are never true).
        let mut del: Vec<u32> = ins
            .del
            .iter()
            .filter_map(|k| fact_ids.get(k).copied())
            .collect();
        // Complement bookkeeping: adding p deletes (not p) and deleting p adds (not p).
        for k in &ins.add {
            if let Some(&n) = neg_ids.get(k) {
                del.push(n);
            }
        }
        for k in &ins.del {
            if let Some(&n) = neg_ids.get(k) {
                if !ins.add.contains(k) {
                    add.push(n);
                }
            }
        }
        pre.sort_unstable();
        pre.dedup();
        add.sort_unstable();
        add.dedup();
        del.sort_unstable();
        del.dedup();
        let schema = &domain.actions[ins.schema];
        actions.push(GroundAction {
            schema: schema.name.clone(),
            args: ins
                .binding
                .iter()
                .map(|&o| it.objects[o as usize].clone())
                .collect(),
            pre,
            add,
            del,
        });
    }
    let mut init: Vec<u32> = init_fluent.iter().map(|k| fact_ids[k]).collect();
    for (k, &n) in &neg_ids {
        if !init_atoms.contains(k) {
            init.push(n);
        }
    }
    init.sort_unstable();
    let mut goal: Vec<u32> = goal_pos.iter().map(|k| fact_ids[k]).collect();
    goal.extend(goal_neg.iter().map(|k| neg_ids[k]));
    goal.sort_unstable();
    goal.dedup();
    let stats = GroundStats {
        instantiated_actions: instantiated,
        actions: actions.len(),
        facts: names.len(),
        static_facts,
    };
    Ok(GroundTask {
        domain_name: domain.name.clone(),
        problem_name: problem.name.clone(),
        facts: names,
        actions,
        init,
        goal,
        goal_satisfiable,
        stats,
    })
}
