//! Typed instantiation of action schemas. Static atoms (predicates no action changes) and
//! (in)equality are evaluated against the initial state while parameters are bound: checks on
//! one parameter filter its candidates up front, the others run as soon as their last parameter
//! is bound, and a static atom can generate a parameter's candidates from an index of the
//! initial state. Where that enumeration passes `GroundLimits::static_bytes` (schemas with many
//! parameters over fluent predicates only), the same machinery runs in rounds driven by relaxed
//! reachability instead: positive fluent preconditions are checked, and generate candidates,
//! against the atoms reached so far ([`instantiate_reachable`]).

use std::time::Instant;

use fixedbitset::FixedBitSet;

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::pddl::{ActionSchema, Atom, Domain, Term};

use super::symbols::{Args, AtomKey, InitAtoms, Interner, ObjectsOfType, Predicates};
use super::{invalid, GroundError, GroundLimits};

/// A schema argument: a parameter slot or an object id.
#[derive(Clone, Debug)]
enum Arg {
    Param(usize),
    Obj(u32),
}

fn resolve(a: &Arg, binding: &[u32]) -> u32 {
    match a {
        Arg::Param(p) => binding[*p],
        Arg::Obj(o) => *o,
    }
}

/// A schema atom with parameters resolved to slot indices or object ids.
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

    /// The parameters it mentions, sorted, without repeats.
    fn params(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .args
            .iter()
            .filter_map(|a| match a {
                Arg::Param(p) => Some(*p),
                Arg::Obj(_) => None,
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// One instantiation of a schema over interned atoms. Static atoms and (in)equality are gone
/// (checked); negative preconditions are kept apart for compilation into complement facts.
pub(super) struct Inst {
    pub schema: usize,
    pub binding: Vec<u32>,
    pub pre: Vec<AtomKey>,
    pub neg_pre: Vec<AtomKey>,
    pub add: Vec<AtomKey>,
    pub del: Vec<AtomKey>,
}

impl Inst {
    /// Heap and inline bytes of this instantiation (an estimate for the grounding budget: the
    /// relaxed-reachability tables built from it take about as much again).
    pub fn bytes(&self) -> usize {
        // An atom's arguments are inline unless there are more than four.
        let atoms = |v: &[AtomKey]| {
            v.iter()
                .map(|k| std::mem::size_of::<AtomKey>() + 4 * k.1.spilled() as usize * k.1.len())
                .sum::<usize>()
        };
        std::mem::size_of::<Inst>()
            + 4 * self.binding.len()
            + atoms(&self.pre)
            + atoms(&self.neg_pre)
            + atoms(&self.add)
            + atoms(&self.del)
    }
}

/// What instantiation reads: the interned objects of each type, the predicates and the
/// initial state.
pub(super) struct Context<'a> {
    pub domain: &'a Domain,
    pub objects_of_type: &'a ObjectsOfType,
    pub preds: &'a Predicates,
    pub init: &'a InitAtoms,
}

/// The instantiations to ground, within `limits`, and whether they came from the
/// reachability-driven enumeration: every schema instantiated with static pruning
/// ([`instantiate_all`]) unless that passes `limits.static_bytes`, then
/// [`instantiate_reachable`].
pub(super) fn instantiate(
    cx: &Context,
    it: &mut Interner,
    limits: &GroundLimits,
) -> Result<(Vec<Inst>, bool), GroundError> {
    let first = GroundLimits {
        max_bytes: limits.max_bytes.min(limits.static_bytes),
        ..*limits
    };
    match instantiate_all(cx, it, &first) {
        Ok(insts) => Ok((insts, false)),
        // Only reachable instantiations are kept there: it may fit where static pruning did not.
        Err(stopped) if stopped.why == Stop::Memory => Ok((
            instantiate_reachable(cx, it, limits).map_err(|s| s.error(cx, limits))?,
            true,
        )),
        Err(stopped) => Err(stopped.error(cx, limits)),
    }
}

/// Where and why an instantiation stopped.
struct Stopped {
    why: Stop,
    schema: usize,
    count: usize,
}

impl Stopped {
    fn new(why: Stop, schema: usize, count: usize) -> Self {
        Stopped { why, schema, count }
    }

    fn error(self, cx: &Context, limits: &GroundLimits) -> GroundError {
        let why = match self.why {
            Stop::Deadline => "the time limit was reached".to_string(),
            Stop::Memory => format!(
                "the instantiated actions would take over {} MiB",
                limits.max_bytes >> 20
            ),
            Stop::Invalid(e) => return e,
        };
        GroundError::LimitReached {
            file: cx.domain.file.clone(),
            message: format!(
                "grounding stopped in action `{}`: {why} ({} instantiations so far)",
                cx.domain.actions[self.schema].name, self.count
            ),
        }
    }
}

/// Instantiate every schema of the domain, in order, with static pruning, within `limits`
/// (the deadline is polled every [`Budget::POLL`] candidate bindings; the bytes are
/// [`Inst::bytes`] summed).
fn instantiate_all(
    cx: &Context,
    it: &mut Interner,
    limits: &GroundLimits,
) -> Result<Vec<Inst>, Stopped> {
    let schemas = convert_all(cx, it)?;
    let mut insts = Vec::new();
    let mut budget = Budget::new(limits);
    let known = Known::initial(cx);
    for (si, schema) in schemas.iter().enumerate() {
        schema
            .enumerate(cx, it.objects.len(), &known, &mut budget, |b, budget| {
                let inst = schema.make_inst(si, b, cx.preds);
                budget.charge(&inst)?;
                insts.push(inst);
                Ok(())
            })
            .map_err(|why| Stopped::new(why, si, insts.len()))?;
    }
    Ok(insts)
}

/// Every schema of the domain over interned predicates and parameter slots.
fn convert_all<'s>(cx: &Context<'s>, it: &mut Interner) -> Result<Vec<Schema<'s>>, Stopped> {
    let actions = cx.domain.actions.iter().enumerate();
    actions
        .map(|(si, a)| {
            Schema::convert(cx, a, it).map_err(|e| Stopped::new(Stop::Invalid(e), si, 0))
        })
        .collect()
}

/// Instantiate the schemas driven by relaxed reachability (as Fast Downward's grounder does,
/// by naive rounds): each round enumerates the bindings whose positive fluent preconditions are
/// among the atoms reached so far (static ones and (in)equality as in [`instantiate_all`]), and
/// the add effects of the new instantiations are the atoms of the next round, until no new atom
/// is reached. The instantiations are those that static pruning then relaxed reachability keep,
/// in discovery order, without enumerating the unreachable ones (IPC-2018 organic synthesis:
/// nine-parameter schemas over one fluent predicate).
fn instantiate_reachable(
    cx: &Context,
    it: &mut Interner,
    limits: &GroundLimits,
) -> Result<Vec<Inst>, Stopped> {
    let schemas = convert_all(cx, it)?;
    let n_objects = it.objects.len();
    let mut budget = Budget::new(limits);
    let mut atoms = cx.init.atoms.clone();
    let mut by_pred = cx.init.by_pred.clone();
    let mut seen: Vec<HashSet<Vec<u32>>> = vec![HashSet::default(); schemas.len()];
    let mut insts: Vec<Inst> = Vec::new();
    loop {
        let mut new_atoms: Vec<AtomKey> = Vec::new();
        for (si, schema) in schemas.iter().enumerate() {
            let known = Known {
                atoms: &atoms,
                by_pred: &by_pred,
                fluents: true,
            };
            let seen = &mut seen[si];
            schema
                .enumerate(cx, n_objects, &known, &mut budget, |b, budget| {
                    if seen.contains(b) {
                        return Ok(());
                    }
                    let inst = schema.make_inst(si, b, cx.preds);
                    budget.charge(&inst)?;
                    seen.insert(b.to_vec());
                    new_atoms.extend(inst.add.iter().filter(|a| !atoms.contains(*a)).cloned());
                    insts.push(inst);
                    Ok(())
                })
                .map_err(|why| Stopped::new(why, si, insts.len()))?;
        }
        let mut grew = false;
        for a in new_atoms {
            if !atoms.contains(&a) {
                by_pred.entry(a.0).or_default().push(a.1.to_vec());
                atoms.insert(a);
                grew = true;
            }
        }
        if !grew {
            return Ok(insts);
        }
    }
}

/// The atoms enumeration checks preconditions against: the initial state (static pruning), or
/// with `fluents` the atoms reached so far, against which positive fluent preconditions are
/// checked too (the reachability-driven rounds).
struct Known<'a> {
    atoms: &'a HashSet<AtomKey>,
    /// The arguments of `atoms`, by predicate.
    by_pred: &'a HashMap<u32, Vec<Vec<u32>>>,
    fluents: bool,
}

impl<'a> Known<'a> {
    fn initial(cx: &Context<'a>) -> Self {
        Known {
            atoms: &cx.init.atoms,
            by_pred: &cx.init.by_pred,
            fluents: false,
        }
    }

    /// Is the precondition `s` checked while its parameters are bound?
    fn checks(&self, s: &SAtom, preds: &Predicates) -> bool {
        Schema::checked_at_grounding(s, preds) || (self.fluents && s.positive)
    }
}

/// Why an enumeration stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stop {
    Deadline,
    Memory,
    /// A schema names an unknown constant.
    Invalid(GroundError),
}

/// What is left of the grounding limits while schemas are instantiated.
struct Budget {
    deadline: Option<Instant>,
    bytes_left: usize,
    /// Candidate bindings tried since the last look at the clock.
    steps: usize,
}

impl Budget {
    /// Candidate bindings between two looks at the clock.
    const POLL: usize = 1 << 14;

    fn new(limits: &GroundLimits) -> Self {
        Budget {
            deadline: limits.deadline,
            bytes_left: limits.max_bytes,
            steps: 0,
        }
    }

    /// Count one candidate binding; `Err` once the deadline has passed.
    fn step(&mut self) -> Result<(), Stop> {
        self.steps += 1;
        if self.steps >= Self::POLL {
            self.steps = 0;
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Stop::Deadline);
            }
        }
        Ok(())
    }

    /// Charge one instantiation; `Err` when the bytes are spent.
    fn charge(&mut self, inst: &Inst) -> Result<(), Stop> {
        let b = inst.bytes();
        if b > self.bytes_left {
            return Err(Stop::Memory);
        }
        self.bytes_left -= b;
        Ok(())
    }
}

/// An action schema over interned predicates and parameter slots.
struct Schema<'s> {
    params: &'s ActionSchema,
    pre: Vec<SAtom>,
    add: Vec<SAtom>,
    del: Vec<SAtom>,
}

impl<'s> Schema<'s> {
    fn convert(cx: &Context, a: &'s ActionSchema, it: &mut Interner) -> Result<Self, GroundError> {
        let pidx: HashMap<&str, usize> = a
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let mut conv = |at: &Atom, positive: bool| -> Result<SAtom, GroundError> {
            let mut args = Vec::new();
            for t in &at.args {
                args.push(match t {
                    Term::Var(v) => Arg::Param(pidx[v.as_str()]),
                    Term::Const(c) => Arg::Obj(*it.object_ids.get(c).ok_or_else(|| {
                        invalid(&cx.domain.file, format!("unknown constant `{c}`"))
                    })?),
                });
            }
            let pred = it.pred(&at.predicate);
            Ok(SAtom {
                pred,
                args,
                positive,
                is_eq: pred == cx.preds.eq,
            })
        };
        let mut pre = Vec::new();
        for l in &a.precondition {
            pre.push(conv(&l.atom, l.positive)?);
        }
        let add = a
            .add
            .iter()
            .map(|x| conv(x, true))
            .collect::<Result<_, _>>()?;
        let del = a
            .del
            .iter()
            .map(|x| conv(x, true))
            .collect::<Result<_, _>>()?;
        Ok(Schema {
            params: a,
            pre,
            add,
            del,
        })
    }

    /// Does the precondition `s` hold at grounding time (static or (in)equality)?
    fn checked_at_grounding(s: &SAtom, preds: &Predicates) -> bool {
        s.is_eq || preds.is_static(s.pred)
    }

    /// Hand `emit` every binding that passes the checks `known` makes (static atoms and
    /// (in)equality; with `known.fluents` positive fluent atoms too).
    fn enumerate(
        &self,
        cx: &Context,
        n_objects: usize,
        known: &Known,
        budget: &mut Budget,
        mut emit: impl FnMut(&[u32], &mut Budget) -> Result<(), Stop>,
    ) -> Result<(), Stop> {
        let mut cands: Vec<Vec<u32>> = Vec::new();
        for p in &self.params.params {
            cands.push(cx.objects_of_type.get(&p.ty).cloned().unwrap_or_default());
        }
        let checked: Vec<&SAtom> = self
            .pre
            .iter()
            .filter(|s| known.checks(s, cx.preds))
            .collect();
        let mut check = StaticCheck::new(known.atoms);
        let Some(multi) = prune_candidates(&checked, &mut cands, &mut check) else {
            return Ok(());
        };
        if cands.is_empty() {
            return emit(&[], budget);
        }
        let plan = BindingPlan::new(&multi, cands, known.by_pred, n_objects);
        plan.enumerate(&mut check, budget, emit)
    }

    /// The instantiation under `b`: fluent preconditions split by sign, effects, duplicates
    /// removed.
    fn make_inst(&self, schema: usize, b: &[u32], preds: &Predicates) -> Inst {
        let mut i = Inst {
            schema,
            binding: b.to_vec(),
            pre: Vec::new(),
            neg_pre: Vec::new(),
            add: Vec::new(),
            del: Vec::new(),
        };
        for s in &self.pre {
            if Self::checked_at_grounding(s, preds) {
                continue;
            }
            if s.positive {
                i.pre.push(s.bind(b));
            } else {
                i.neg_pre.push(s.bind(b));
            }
        }
        i.add.extend(self.add.iter().map(|s| s.bind(b)));
        i.del.extend(self.del.iter().map(|s| s.bind(b)));
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
}

fn dedup(v: &mut Vec<AtomKey>) {
    let mut seen = HashSet::default();
    v.retain(|x| seen.insert(x.clone()));
}

/// Evaluates static atoms and (in)equality against the initial state.
struct StaticCheck<'a> {
    init: &'a HashSet<AtomKey>,
    key: AtomKey,
}

impl<'a> StaticCheck<'a> {
    fn new(init: &'a HashSet<AtomKey>) -> Self {
        StaticCheck {
            init,
            key: (0, Args::new()),
        }
    }

    fn holds(&mut self, s: &SAtom, b: &[u32]) -> bool {
        let v = if s.is_eq {
            resolve(&s.args[0], b) == resolve(&s.args[1], b)
        } else {
            self.key.0 = s.pred;
            self.key.1.clear();
            self.key.1.extend(s.args.iter().map(|x| resolve(x, b)));
            self.init.contains(&self.key)
        };
        v == s.positive
    }
}

/// Run the checks on no parameter and filter each parameter's candidates by the checks on it
/// alone. Returns the checks on several parameters (with those parameters), or `None` when no
/// instantiation can pass.
fn prune_candidates<'s>(
    statics: &[&'s SAtom],
    cands: &mut [Vec<u32>],
    check: &mut StaticCheck,
) -> Option<Vec<(&'s SAtom, Vec<usize>)>> {
    let mut tmp = vec![0u32; cands.len()];
    let mut multi = Vec::new();
    let mut ok = true;
    for &s in statics {
        let ps = s.params();
        match ps.len() {
            0 => ok &= check.holds(s, &tmp),
            1 => {
                let p = ps[0];
                cands[p].retain(|&o| {
                    tmp[p] = o;
                    check.holds(s, &tmp)
                });
            }
            _ => multi.push((s, ps)),
        }
    }
    (ok && !cands.iter().any(|c| c.is_empty())).then_some(multi)
}

/// At one depth, a positive static atom in which the parameter bound there occurs once and all
/// other arguments are already bound yields the candidates from an index of the initial state
/// instead of filtering every object of the type.
struct Generator {
    others: Vec<Arg>,
    index: HashMap<Vec<u32>, Vec<u32>>,
}

impl Generator {
    fn find(
        p: usize,
        checks: &[&SAtom],
        init_by_pred: &HashMap<u32, Vec<Vec<u32>>>,
    ) -> Option<Self> {
        checks.iter().find_map(|s| {
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
        })
    }
}

/// The order in which parameters are bound, the checks that run at each depth and the
/// candidate source of each depth.
struct BindingPlan<'s> {
    order: Vec<usize>,
    checks: Vec<Vec<&'s SAtom>>,
    gens: Vec<Option<Generator>>,
    cands: Vec<Vec<u32>>,
    allowed: Vec<FixedBitSet>,
}

impl<'s> BindingPlan<'s> {
    fn new(
        multi: &[(&'s SAtom, Vec<usize>)],
        cands: Vec<Vec<u32>>,
        init_by_pred: &HashMap<u32, Vec<Vec<u32>>>,
        n_objects: usize,
    ) -> Self {
        let n = cands.len();
        let order = binding_order(multi, &cands);
        let mut depth_of = vec![0usize; n];
        for (d, &p) in order.iter().enumerate() {
            depth_of[p] = d;
        }
        let mut checks: Vec<Vec<&SAtom>> = vec![Vec::new(); n];
        for (s, ps) in multi {
            let d = ps.iter().map(|&p| depth_of[p]).max().unwrap_or(0);
            checks[d].push(*s);
        }
        let gens = order
            .iter()
            .enumerate()
            .map(|(d, &p)| Generator::find(p, &checks[d], init_by_pred))
            .collect();
        let allowed = cands
            .iter()
            .map(|c| {
                let mut b = FixedBitSet::with_capacity(n_objects);
                for &o in c {
                    b.insert(o as usize);
                }
                b
            })
            .collect();
        BindingPlan {
            order,
            checks,
            gens,
            cands,
            allowed,
        }
    }

    /// The candidates of depth `d` given the parameters bound above it.
    fn fill(&self, d: usize, binding: &[u32], list: &mut Vec<u32>, keybuf: &mut Vec<u32>) {
        let p = self.order[d];
        list.clear();
        match &self.gens[d] {
            Some(g) => {
                keybuf.clear();
                keybuf.extend(g.others.iter().map(|a| resolve(a, binding)));
                if let Some(v) = g.index.get(keybuf.as_slice()) {
                    list.extend(
                        v.iter()
                            .copied()
                            .filter(|&o| self.allowed[p].contains(o as usize)),
                    );
                }
            }
            None => list.extend_from_slice(&self.cands[p]),
        }
    }

    /// Depth-first enumeration of the bindings that pass every check, in binding order; stops
    /// at the first `Err` of the budget or of `emit`.
    fn enumerate(
        &self,
        check: &mut StaticCheck,
        budget: &mut Budget,
        mut emit: impl FnMut(&[u32], &mut Budget) -> Result<(), Stop>,
    ) -> Result<(), Stop> {
        let n = self.order.len();
        let mut binding = vec![0u32; n];
        let mut idx = vec![0usize; n];
        let mut cur: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut keybuf: Vec<u32> = Vec::new();
        let mut depth = 0usize;
        self.fill(0, &binding, &mut cur[0], &mut keybuf);
        loop {
            let p = self.order[depth];
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
            budget.step()?;
            if self.checks[depth].iter().all(|s| check.holds(s, &binding)) {
                if depth + 1 == n {
                    emit(&binding, budget)?;
                    idx[depth] += 1;
                } else {
                    depth += 1;
                    idx[depth] = 0;
                    self.fill(depth, &binding, &mut cur[depth], &mut keybuf);
                }
            } else {
                idx[depth] += 1;
            }
        }
        Ok(())
    }
}

/// Greedily the parameter that completes the most multi-parameter checks, then the one with the
/// fewest candidates (e.g. drive-truck binds ?city right after ?loc-from so that `in-city`
/// prunes early).
fn binding_order(multi: &[(&SAtom, Vec<usize>)], cands: &[Vec<u32>]) -> Vec<usize> {
    let n = cands.len();
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
    order
}
