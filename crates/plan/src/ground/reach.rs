//! Relaxed reachability: the atoms and instantiations reachable from the initial state when
//! delete lists and negative preconditions are ignored (a fixpoint by counting each action's
//! unreached preconditions).

use crate::fxhash::FxHashMap as HashMap;

use super::instantiate::Inst;
use super::symbols::AtomKey;

/// Atoms in first-seen order (initial fluent atoms first), with their ids.
#[derive(Default)]
struct AtomTable {
    ids: HashMap<AtomKey, u32>,
    atoms: Vec<AtomKey>,
}

impl AtomTable {
    fn intern(&mut self, k: &AtomKey) -> u32 {
        if let Some(&i) = self.ids.get(k) {
            return i;
        }
        let i = self.atoms.len() as u32;
        self.atoms.push(k.clone());
        self.ids.insert(k.clone(), i);
        i
    }

    fn intern_all(&mut self, ks: &[AtomKey]) -> Vec<u32> {
        ks.iter().map(|k| self.intern(k)).collect()
    }
}

/// Result of [`relaxed_reachability`].
pub(super) struct Reachable {
    /// Every atom mentioned (initial fluent atoms, preconditions and adds), first-seen order.
    pub atoms: Vec<AtomKey>,
    /// `reached[i]`: `atoms[i]` is relaxed-reachable.
    pub reached: Vec<bool>,
    /// `action_ok[i]`: instantiation `i` is relaxed-reachable.
    pub action_ok: Vec<bool>,
}

impl Reachable {
    /// The reachable atoms, in first-seen order.
    pub fn atoms(&self) -> impl Iterator<Item = &AtomKey> {
        self.atoms
            .iter()
            .zip(&self.reached)
            .filter_map(|(k, &r)| r.then_some(k))
    }
}

/// Relaxed reachability from `init_fluent` over `insts`.
pub(super) fn relaxed_reachability(init_fluent: &[AtomKey], insts: &[Inst]) -> Reachable {
    let mut table = AtomTable::default();
    let init_ids = table.intern_all(init_fluent);
    let mut pre_ids: Vec<Vec<u32>> = Vec::with_capacity(insts.len());
    let mut add_ids: Vec<Vec<u32>> = Vec::with_capacity(insts.len());
    for ins in insts {
        pre_ids.push(table.intern_all(&ins.pre));
        add_ids.push(table.intern_all(&ins.add));
    }
    let n_atoms = table.atoms.len();
    let mut reached = vec![false; n_atoms];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n_atoms];
    let mut missing: Vec<usize> = vec![0; insts.len()];
    for (ai, pre) in pre_ids.iter().enumerate() {
        missing[ai] = pre.len();
        for &p in pre {
            consumers[p as usize].push(ai);
        }
    }
    let mut queue: Vec<u32> = Vec::new();
    let mut action_ok = vec![false; insts.len()];
    for &i in &init_ids {
        reached[i as usize] = true;
        queue.push(i);
    }
    let fire = |ai: usize, queue: &mut Vec<u32>, reached: &mut [bool], action_ok: &mut [bool]| {
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
    Reachable {
        atoms: table.atoms,
        reached,
        action_ok,
    }
}
