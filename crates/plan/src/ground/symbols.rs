//! The grounder's symbol tables: interned objects and predicates, the type hierarchy, which
//! predicates are fluent, and the initial state as interned atoms.

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::pddl::{Domain, Problem};

use super::{invalid, GroundError};

/// The object ids of an interned atom: up to four inline (nearly every atom), so that an
/// instantiation's atoms are not one heap allocation each. Hashes and orders as the slice.
pub(super) type Args = smallvec::SmallVec<[u32; 4]>;

/// An interned atom: predicate id and object ids.
pub(super) type AtomKey = (u32, Args);

/// Object and predicate names with their ids.
#[derive(Default)]
pub(super) struct Interner {
    pub objects: Vec<String>,
    pub object_ids: HashMap<String, u32>,
    pub preds: Vec<String>,
    pub pred_ids: HashMap<String, u32>,
}

impl Interner {
    pub fn pred(&mut self, p: &str) -> u32 {
        if let Some(&i) = self.pred_ids.get(p) {
            return i;
        }
        let i = self.preds.len() as u32;
        self.preds.push(p.to_string());
        self.pred_ids.insert(p.to_string(), i);
        i
    }

    pub fn atom_name(&self, key: &AtomKey) -> String {
        let mut s = format!("({}", self.preds[key.0 as usize]);
        for &o in &key.1 {
            s.push(' ');
            s.push_str(&self.objects[o as usize]);
        }
        s.push(')');
        s
    }
}

/// The type hierarchy of a domain (`type -> parent`, `object` at the root).
struct TypeTree<'d> {
    domain: &'d Domain,
    parent: HashMap<String, String>,
}

impl<'d> TypeTree<'d> {
    fn new(domain: &'d Domain) -> Self {
        let mut parent: HashMap<String, String> = HashMap::default();
        for (t, p) in &domain.types {
            if t != "object" {
                parent.insert(t.clone(), p.clone());
            }
        }
        TypeTree { domain, parent }
    }

    /// `t` and its ancestors, ending with `object` (cycles and chains over 100 are cut).
    fn ancestors(&self, t: &str) -> Vec<String> {
        let mut out = vec![t.to_string()];
        let mut cur = t.to_string();
        let mut guard = 0;
        while let Some(p) = self.parent.get(&cur) {
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
    }

    fn known(&self, t: &str) -> bool {
        t == "object"
            || self.parent.contains_key(t)
            || self.domain.types.iter().any(|(n, p)| n == t || p == t)
    }
}

/// Objects of each type (subtypes included).
pub(super) type ObjectsOfType = HashMap<String, Vec<u32>>;

/// Intern the domain's constants then the problem's objects, and list them under every type
/// they belong to.
pub(super) fn collect_objects(
    domain: &Domain,
    problem: &Problem,
    it: &mut Interner,
) -> Result<ObjectsOfType, GroundError> {
    let types = TypeTree::new(domain);
    let mut objects_of_type: ObjectsOfType = HashMap::default();
    for o in domain.constants.iter().chain(&problem.objects) {
        if !types.known(&o.ty) {
            return Err(invalid(
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
        for t in types.ancestors(&o.ty) {
            objects_of_type.entry(t).or_default().push(id);
        }
    }
    Ok(objects_of_type)
}

/// The predicates: `=`, declared arities, and the fluent ones (in some effect); every other
/// predicate is static.
pub(super) struct Predicates {
    pub eq: u32,
    pub arity: HashMap<u32, usize>,
    pub fluent: HashSet<u32>,
}

impl Predicates {
    pub fn intern(domain: &Domain, it: &mut Interner) -> Self {
        let eq = it.pred("=");
        let mut arity: HashMap<u32, usize> = HashMap::default();
        for p in &domain.predicates {
            let id = it.pred(&p.name);
            arity.insert(id, p.params.len());
        }
        let mut fluent: HashSet<u32> = HashSet::default();
        for a in &domain.actions {
            for at in a.add.iter().chain(&a.del) {
                fluent.insert(it.pred(&at.predicate));
            }
        }
        Predicates { eq, arity, fluent }
    }

    pub fn is_static(&self, pred: u32) -> bool {
        !self.fluent.contains(&pred)
    }
}

/// The initial state as interned atoms.
pub(super) struct InitAtoms {
    pub atoms: HashSet<AtomKey>,
    /// Arguments of the initial atoms of each predicate, sorted (deterministic candidate order).
    pub by_pred: HashMap<u32, Vec<Vec<u32>>>,
    /// The initial atoms of fluent predicates, sorted.
    pub fluent: Vec<AtomKey>,
    /// How many initial atoms are static (true in every state).
    pub static_count: usize,
}

impl InitAtoms {
    pub fn collect(
        problem: &Problem,
        it: &Interner,
        preds: &Predicates,
    ) -> Result<Self, GroundError> {
        let mut atoms: HashSet<AtomKey> = HashSet::default();
        for g in &problem.init {
            let pid = match it.pred_ids.get(&g.predicate) {
                Some(&p) if p != preds.eq => p,
                _ => {
                    return Err(invalid(
                        &problem.file,
                        format!("`:init` uses undeclared predicate `{}`", g.predicate),
                    ))
                }
            };
            if preds.arity.get(&pid) != Some(&g.args.len()) {
                return Err(invalid(
                    &problem.file,
                    format!("`:init` atom {g} has the wrong number of arguments"),
                ));
            }
            let mut args = Vec::new();
            for a in &g.args {
                args.push(*it.object_ids.get(a).ok_or_else(|| {
                    invalid(&problem.file, format!("`:init` uses unknown object `{a}`"))
                })?);
            }
            atoms.insert((pid, args.into()));
        }
        let mut by_pred: HashMap<u32, Vec<Vec<u32>>> = HashMap::default();
        for k in &atoms {
            by_pred.entry(k.0).or_default().push(k.1.to_vec());
        }
        for v in by_pred.values_mut() {
            v.sort_unstable();
        }
        let mut fluent: Vec<AtomKey> = atoms
            .iter()
            .filter(|k| !preds.is_static(k.0))
            .cloned()
            .collect();
        fluent.sort();
        let static_count = atoms.iter().filter(|k| preds.is_static(k.0)).count();
        Ok(InitAtoms {
            atoms,
            by_pred,
            fluent,
            static_count,
        })
    }
}
