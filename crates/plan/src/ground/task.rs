//! The STRIPS task: goal literals, the fact table (reachable fluent atoms, goal atoms, then the
//! complement facts `(not p)` that compile negative preconditions and goals away), and the
//! reachable instantiations as ground actions over fact indices.

use crate::fxhash::FxHashMap as HashMap;
use crate::pddl::{ActionSchema, Domain, Literal, Problem, Term};

use super::instantiate::Inst;
use super::reach::Reachable;
use super::symbols::{AtomKey, InitAtoms, Interner, Predicates};
use super::{invalid, GroundAction, GroundError};

/// The goal over fluent atoms; static goal literals and (in)equalities are decided here.
pub(super) struct Goal {
    /// False when a static goal literal or an (in)equality is false.
    pub satisfiable: bool,
    pub pos: Vec<AtomKey>,
    pub neg: Vec<AtomKey>,
}

impl Goal {
    pub fn collect(
        problem: &Problem,
        it: &Interner,
        preds: &Predicates,
        init: &InitAtoms,
    ) -> Result<Self, GroundError> {
        let mut goal = Goal {
            satisfiable: true,
            pos: Vec::new(),
            neg: Vec::new(),
        };
        for l in &problem.goal {
            let Literal { atom, positive } = l;
            let mut args = Vec::new();
            for t in &atom.args {
                let Term::Const(c) = t else {
                    unreachable!("parser rejects variables in goals")
                };
                args.push(*it.object_ids.get(c).ok_or_else(|| {
                    invalid(&problem.file, format!("`:goal` uses unknown object `{c}`"))
                })?);
            }
            if atom.predicate == "=" {
                if (args[0] == args[1]) != *positive {
                    goal.satisfiable = false;
                }
                continue;
            }
            let pid = *it.pred_ids.get(&atom.predicate).ok_or_else(|| {
                invalid(
                    &problem.file,
                    format!("`:goal` uses undeclared predicate `{}`", atom.predicate),
                )
            })?;
            let key: AtomKey = (pid, args.into());
            if preds.is_static(pid) {
                if init.atoms.contains(&key) != *positive {
                    goal.satisfiable = false;
                }
            } else if *positive {
                goal.pos.push(key);
            } else {
                goal.neg.push(key);
            }
        }
        Ok(goal)
    }
}

/// The final fact table: positive facts (reachable fluent atoms in first-seen order, then goal
/// atoms), then complement facts `(not p)` for the negative literals that need them.
pub(super) struct Facts {
    pos: HashMap<AtomKey, u32>,
    neg: HashMap<AtomKey, u32>,
    pub names: Vec<String>,
}

impl Facts {
    pub fn new(reach: &Reachable, goal: &Goal, insts: &[Inst], it: &Interner) -> Self {
        let mut pos: HashMap<AtomKey, u32> = HashMap::default();
        let mut keys: Vec<AtomKey> = Vec::new();
        for k in reach.atoms().chain(&goal.pos) {
            if !pos.contains_key(k) {
                pos.insert(k.clone(), keys.len() as u32);
                keys.push(k.clone());
            }
        }
        let n_pos = keys.len();
        let mut names: Vec<String> = keys.iter().map(|k| it.atom_name(k)).collect();
        // Complements for negative preconditions of reachable actions, then negative goals.
        let neg_needed = insts
            .iter()
            .zip(&reach.action_ok)
            .filter(|(_, &ok)| ok)
            .flat_map(|(ins, _)| &ins.neg_pre)
            .chain(&goal.neg);
        let mut neg: HashMap<AtomKey, u32> = HashMap::default();
        for k in neg_needed {
            if neg.contains_key(k) {
                continue;
            }
            neg.insert(k.clone(), (n_pos + neg.len()) as u32);
            names.push(format!("(not {})", it.atom_name(k)));
        }
        Facts { pos, neg, names }
    }

    /// The ground action of `ins` (which must be relaxed-reachable).
    fn action(&self, ins: &Inst, domain: &Domain, it: &Interner) -> GroundAction {
        let mut pre: Vec<u32> = ins.pre.iter().map(|k| self.pos[k]).collect();
        pre.extend(ins.neg_pre.iter().map(|k| self.neg[k]));
        let mut add: Vec<u32> = ins.add.iter().map(|k| self.pos[k]).collect();
        // Deletes of unreachable atoms are dropped (they are never true).
        let mut del: Vec<u32> = ins
            .del
            .iter()
            .filter_map(|k| self.pos.get(k).copied())
            .collect();
        // Complement bookkeeping: adding p deletes (not p) and deleting p adds (not p).
        for k in &ins.add {
            if let Some(&n) = self.neg.get(k) {
                del.push(n);
            }
        }
        for k in &ins.del {
            if let Some(&n) = self.neg.get(k) {
                if !ins.add.contains(k) {
                    add.push(n);
                }
            }
        }
        for v in [&mut pre, &mut add, &mut del] {
            v.sort_unstable();
            v.dedup();
        }
        GroundAction {
            schema: domain.actions[ins.schema].name.clone(),
            args: ins
                .binding
                .iter()
                .map(|&o| it.objects[o as usize].clone())
                .collect(),
            pre,
            add,
            del,
        }
    }

    /// The relaxed-reachable instantiations as ground actions, in instantiation order.
    pub fn actions(
        &self,
        insts: &[Inst],
        reach: &Reachable,
        domain: &Domain,
        it: &Interner,
    ) -> Vec<GroundAction> {
        insts
            .iter()
            .zip(&reach.action_ok)
            .filter(|(_, &ok)| ok)
            .map(|(ins, _)| self.action(ins, domain, it))
            .collect()
    }

    /// The initial state: fluent initial atoms and the complements of atoms not initially true.
    pub fn init(&self, init: &InitAtoms) -> Vec<u32> {
        let mut out: Vec<u32> = init.fluent.iter().map(|k| self.pos[k]).collect();
        for (k, &n) in &self.neg {
            if !init.atoms.contains(k) {
                out.push(n);
            }
        }
        out.sort_unstable();
        out
    }

    /// The goal facts, sorted.
    pub fn goal(&self, goal: &Goal) -> Vec<u32> {
        let mut out: Vec<u32> = goal.pos.iter().map(|k| self.pos[k]).collect();
        out.extend(goal.neg.iter().map(|k| self.neg[k]));
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The cost of each ground action under IPC action costs (`None` when the domain declares no
/// `total-cost`: unit costs), [`ActionSchema::cost_under`] its objects (an undefined value is an
/// error).
pub(super) fn action_costs(
    domain: &Domain,
    problem: &Problem,
    actions: &[GroundAction],
) -> Result<Option<Vec<f64>>, GroundError> {
    if !domain.has_action_costs() {
        return Ok(None);
    }
    let values = problem.function_value_map();
    let schemas: HashMap<&str, &ActionSchema> = domain
        .actions
        .iter()
        .map(|a| (a.name.as_str(), a))
        .collect();
    let costs = actions.iter().map(|a| {
        let schema = schemas[a.schema.as_str()];
        let arg = |t: &Term| match t {
            Term::Const(c) => c.clone(),
            Term::Var(v) => {
                let i = schema.params.iter().position(|p| &p.name == v);
                a.args[i.expect("checked by the parser")].clone()
            }
        };
        schema.cost_under(&values, arg).map_err(|term| {
            invalid(
                &problem.file,
                format!("no value for `{term}` in `:init` (the cost of `{a}`)"),
            )
        })
    });
    Ok(Some(costs.collect::<Result<_, _>>()?))
}
