//! Interchangeable objects, for symmetry breaking in the SAT encoding (Rintanen 2003,
//! "Symmetry reduction for SAT representations of transition systems").
//!
//! Two objects `x` and `y` are *interchangeable* when swapping their names maps the task onto
//! itself: every ground action onto a ground action with the swapped preconditions and effects,
//! the initial state onto itself and the goal onto itself (the gripper's balls, or two packages
//! that start and end in the same places). Then any plan with `x` and `y` swapped throughout is
//! a plan of the same length, so a solver may look only at plans that start to use the members
//! of a class in a fixed order ([`crate::sat`] adds those clauses). Swaps compose: a class is
//! a chain of valid swaps with its first member.
//!
//! Static facts were compiled away by grounding; they still count, through the actions they
//! allowed: a swap is valid only if the swapped action exists.

use std::cell::RefCell;

use crate::fxhash::FxHashMap as HashMap;

use crate::ground::GroundTask;

/// Token ids of a fact or an action: `(` and `)` are 0 and 1, names from 2.
type Key = Vec<u32>;

const OPEN: u32 = 0;
const CLOSE: u32 = 1;

/// The task's facts and actions as token keys, with the indices a swap check needs.
struct Index<'t> {
    task: &'t GroundTask,
    /// Fact key → fact id.
    fact_of: HashMap<Key, u32>,
    fact_key: Vec<Key>,
    /// Action key (schema token, then the argument tokens) → action index.
    action_of: HashMap<Key, u32>,
    action_key: Vec<Key>,
    /// Per token: facts naming it as an argument, actions naming it as an argument.
    facts_with: Vec<Vec<u32>>,
    actions_with: Vec<Vec<u32>>,
    /// Per fact: actions using it (precondition, add or delete).
    users: Vec<Vec<u32>>,
    in_init: Vec<bool>,
    in_goal: Vec<bool>,
    /// Scratch of [`Index::swap_is_symmetry`], so that a check allocates nothing.
    scratch: RefCell<Scratch>,
}

/// Per fact, its image under the swap being checked (identity outside the facts naming `x`
/// or `y`); per action, the check that last looked at it; a key buffer.
struct Scratch {
    image: Vec<u32>,
    seen: Vec<u32>,
    check: u32,
    key: Key,
}

struct Interner(HashMap<String, u32>);

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.0.get(s) {
            return id;
        }
        let id = self.0.len() as u32 + 2;
        self.0.insert(s.to_string(), id);
        id
    }
}

/// A fact name such as `(at b1 rooma)` or `(not (at t1 l2))` as tokens; argument positions are
/// those not right after `(`.
fn fact_tokens(s: &str, names: &mut Interner) -> Key {
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    spaced
        .split_whitespace()
        .map(|t| match t {
            "(" => OPEN,
            ")" => CLOSE,
            t => names.id(t),
        })
        .collect()
}

fn arg_positions(key: &[u32]) -> impl Iterator<Item = usize> + '_ {
    (1..key.len()).filter(move |&i| key[i] > CLOSE && key[i - 1] != OPEN)
}

/// `key` with `x` and `y` exchanged at `positions`, written into `out`.
fn swap_at(out: &mut Key, key: &[u32], positions: impl Iterator<Item = usize>, x: u32, y: u32) {
    out.clear();
    out.extend_from_slice(key);
    for i in positions {
        if key[i] == x {
            out[i] = y;
        } else if key[i] == y {
            out[i] = x;
        }
    }
}

impl<'t> Index<'t> {
    fn new(task: &'t GroundTask) -> Self {
        let mut names = Interner(HashMap::default());
        let fact_key: Vec<Key> = task
            .facts
            .iter()
            .map(|f| fact_tokens(f, &mut names))
            .collect();
        let action_key: Vec<Key> = task
            .actions
            .iter()
            .map(|a| {
                let mut k = vec![names.id(&a.schema)];
                k.extend(a.args.iter().map(|x| names.id(x)));
                k
            })
            .collect();
        let n_tokens = names.0.len() + 2;
        let mut facts_with = vec![Vec::new(); n_tokens];
        for (f, k) in fact_key.iter().enumerate() {
            for i in arg_positions(k) {
                if facts_with[k[i] as usize].last() != Some(&(f as u32)) {
                    facts_with[k[i] as usize].push(f as u32);
                }
            }
        }
        let mut actions_with = vec![Vec::new(); n_tokens];
        for (a, key) in action_key.iter().enumerate() {
            for &x in &key[1..] {
                if actions_with[x as usize].last() != Some(&(a as u32)) {
                    actions_with[x as usize].push(a as u32);
                }
            }
        }
        let mut users = vec![Vec::new(); fact_key.len()];
        for (a, act) in task.actions.iter().enumerate() {
            for &f in act.pre.iter().chain(&act.add).chain(&act.del) {
                if users[f as usize].last() != Some(&(a as u32)) {
                    users[f as usize].push(a as u32);
                }
            }
        }
        let mut in_init = vec![false; fact_key.len()];
        task.init.iter().for_each(|&f| in_init[f as usize] = true);
        let mut in_goal = vec![false; fact_key.len()];
        task.goal.iter().for_each(|&f| in_goal[f as usize] = true);
        let scratch = RefCell::new(Scratch {
            image: (0..fact_key.len() as u32).collect(),
            seen: vec![0; action_key.len()],
            check: 0,
            key: Vec::new(),
        });
        Index {
            task,
            fact_of: fact_key.iter().cloned().zip(0..).collect(),
            fact_key,
            action_of: action_key.iter().cloned().zip(0..).collect(),
            action_key,
            facts_with,
            actions_with,
            users,
            in_init,
            in_goal,
            scratch,
        }
    }

    /// Whether swapping `x` and `y` maps the task onto itself: every fact naming either has a
    /// swapped twin with the same initial and goal truth, and every action naming either or
    /// using such a fact has a swapped twin with the swapped preconditions and effects.
    fn swap_is_symmetry(&self, x: u32, y: u32) -> bool {
        let mut guard = self.scratch.borrow_mut();
        let sc = &mut *guard;
        let named = || {
            self.facts_with[x as usize]
                .iter()
                .chain(&self.facts_with[y as usize])
        };
        let ok = self.swap_facts(sc, named(), x, y) && self.swap_actions(sc, named(), x, y);
        for &f in named() {
            sc.image[f as usize] = f;
        }
        ok
    }

    /// Record the image of every fact of `named` in `sc.image`; false when one has none, or
    /// differs from it in the initial state or the goal.
    fn swap_facts<'a>(
        &self,
        sc: &mut Scratch,
        named: impl Iterator<Item = &'a u32>,
        x: u32,
        y: u32,
    ) -> bool {
        for &f in named {
            let k = &self.fact_key[f as usize];
            let mut key = std::mem::take(&mut sc.key);
            swap_at(&mut key, k, arg_positions(k), x, y);
            let g = self.fact_of.get(key.as_slice()).copied();
            sc.key = key;
            let Some(g) = g else {
                return false;
            };
            let (fi, gi) = (f as usize, g as usize);
            if self.in_init[fi] != self.in_init[gi] || self.in_goal[fi] != self.in_goal[gi] {
                return false;
            }
            sc.image[fi] = g;
        }
        true
    }

    /// Every action naming `x` or `y`, or using a fact of `named`, once each: its swapped twin
    /// exists and has the images of its preconditions, adds and deletes.
    fn swap_actions<'a>(
        &self,
        sc: &mut Scratch,
        named: impl Iterator<Item = &'a u32>,
        x: u32,
        y: u32,
    ) -> bool {
        sc.check = sc.check.wrapping_add(1);
        if sc.check == 0 {
            sc.seen.iter_mut().for_each(|s| *s = 0);
            sc.check = 1;
        }
        let by_args = self.actions_with[x as usize]
            .iter()
            .chain(&self.actions_with[y as usize]);
        let by_facts = named.flat_map(|&f| self.users[f as usize].iter());
        for &a in by_args.chain(by_facts) {
            if sc.seen[a as usize] == sc.check {
                continue;
            }
            sc.seen[a as usize] = sc.check;
            let k = &self.action_key[a as usize];
            let mut key = std::mem::take(&mut sc.key);
            swap_at(&mut key, k, 1..k.len(), x, y); // the schema token is not an argument
            let b = self.action_of.get(key.as_slice()).copied();
            sc.key = key;
            let Some(b) = b else {
                return false;
            };
            let (p, q) = (
                &self.task.actions[a as usize],
                &self.task.actions[b as usize],
            );
            let image = &sc.image;
            if !(same_set(&p.pre, &q.pre, image)
                && same_set(&p.add, &q.add, image)
                && same_set(&p.del, &q.del, image))
            {
                return false;
            }
        }
        true
    }

    /// A cheap invariant of a swap-symmetry: objects with different signatures are never
    /// interchangeable.
    fn signature(&self, x: u32) -> Vec<(u32, u32, u8)> {
        let mut s: Vec<(u32, u32, u8)> = Vec::new();
        for &a in &self.actions_with[x as usize] {
            let (schema, args) = self.action_key[a as usize].split_first().expect("schema");
            for (i, &t) in args.iter().enumerate() {
                if t == x {
                    s.push((*schema, i as u32, 0));
                }
            }
        }
        for &f in &self.facts_with[x as usize] {
            let k = &self.fact_key[f as usize];
            let tag = 1 + self.in_init[f as usize] as u8 + 2 * self.in_goal[f as usize] as u8;
            for i in arg_positions(k) {
                if k[i] == x {
                    s.push((k[i - 1], i as u32, tag));
                }
            }
        }
        s.sort_unstable();
        s
    }
}

/// Whether the images of `a` under `image` (an involution on facts) are the facts `b`, as sets.
fn same_set(a: &[u32], b: &[u32], image: &[u32]) -> bool {
    a.iter().all(|&f| b.contains(&image[f as usize]))
        && b.iter().all(|&g| a.contains(&image[g as usize]))
}

/// Classes of interchangeable objects (two or more members each, in the order of the task's
/// first mention); per member, the ground actions (indices into `task.actions`) that name it
/// among their arguments.
pub fn interchangeable_objects(task: &GroundTask) -> Vec<Vec<Vec<u32>>> {
    let ix = Index::new(task);
    // Objects: tokens that some action takes as an argument, by first mention.
    let mut objects: Vec<u32> = Vec::new();
    let mut seen = vec![false; ix.actions_with.len()];
    for key in &ix.action_key {
        for &t in &key[1..] {
            if !seen[t as usize] {
                seen[t as usize] = true;
                objects.push(t);
            }
        }
    }
    let mut groups: HashMap<Vec<(u32, u32, u8)>, Vec<u32>> = HashMap::default();
    let mut order: Vec<Vec<(u32, u32, u8)>> = Vec::new();
    for &x in &objects {
        let sig = ix.signature(x);
        let g = groups.entry(sig.clone()).or_default();
        if g.is_empty() {
            order.push(sig);
        }
        g.push(x);
    }
    let mut classes = Vec::new();
    for sig in &order {
        let mut rest = groups[sig].clone();
        while rest.len() >= 2 {
            let first = rest[0];
            let (class, others): (Vec<u32>, Vec<u32>) = rest
                .iter()
                .partition(|&&y| y == first || ix.swap_is_symmetry(first, y));
            if class.len() >= 2 {
                classes.push(
                    class
                        .iter()
                        .map(|&o| ix.actions_with[o as usize].clone())
                        .collect(),
                );
            }
            rest = others;
        }
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ground::ground;
    use crate::pddl::{parse_domain_str, parse_problem_str};

    const GRIPPER: &str = "(define (domain gripper-strips)
      (:predicates (room ?r) (ball ?b) (gripper ?g) (at-robby ?r) (at ?b ?r) (free ?g)
                   (carry ?o ?g))
      (:action move :parameters (?from ?to)
        :precondition (and (room ?from) (room ?to) (at-robby ?from))
        :effect (and (at-robby ?to) (not (at-robby ?from))))
      (:action pick :parameters (?obj ?room ?gripper)
        :precondition (and (ball ?obj) (room ?room) (gripper ?gripper) (at ?obj ?room)
                           (at-robby ?room) (free ?gripper))
        :effect (and (carry ?obj ?gripper) (not (at ?obj ?room)) (not (free ?gripper))))
      (:action drop :parameters (?obj ?room ?gripper)
        :precondition (and (ball ?obj) (room ?room) (gripper ?gripper) (carry ?obj ?gripper)
                           (at-robby ?room))
        :effect (and (at ?obj ?room) (free ?gripper) (not (carry ?obj ?gripper)))))";

    fn task(problem: &str) -> GroundTask {
        let d = parse_domain_str(GRIPPER, "gripper.pddl").unwrap();
        let p = parse_problem_str(problem, "p.pddl").unwrap();
        ground(&d, &p).unwrap()
    }

    /// The members of each class, by the first argument naming them in their first action.
    fn names(t: &GroundTask, classes: &[Vec<Vec<u32>>]) -> Vec<Vec<String>> {
        classes
            .iter()
            .map(|c| {
                c.iter()
                    .map(|acts| {
                        // the argument shared by all of a member's actions
                        let a0 = &t.actions[acts[0] as usize].args;
                        a0.iter()
                            .find(|x| acts.iter().all(|&a| t.actions[a as usize].args.contains(x)))
                            .unwrap()
                            .clone()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn gripper_balls_and_grippers_are_interchangeable_rooms_are_not() {
        let t = task(
            "(define (problem p) (:domain gripper-strips)
              (:objects rooma roomb b1 b2 b3 left right)
              (:init (room rooma) (room roomb) (ball b1) (ball b2) (ball b3)
                     (gripper left) (gripper right) (at-robby rooma) (free left) (free right)
                     (at b1 rooma) (at b2 rooma) (at b3 rooma))
              (:goal (and (at b1 roomb) (at b2 roomb) (at b3 roomb))))",
        );
        let mut got = names(&t, &interchangeable_objects(&t));
        got.iter_mut().for_each(|c| c.sort());
        got.sort();
        assert_eq!(got, vec![vec!["b1", "b2", "b3"], vec!["left", "right"]]);
    }

    #[test]
    fn a_ball_with_another_goal_or_start_leaves_the_class() {
        // b3 must end in rooma; b2 starts in the other gripper's hand: only b1 ~ b4 remain,
        // and the grippers differ (one is free, one is not).
        let t = task(
            "(define (problem p) (:domain gripper-strips)
              (:objects rooma roomb b1 b2 b3 b4 left right)
              (:init (room rooma) (room roomb) (ball b1) (ball b2) (ball b3) (ball b4)
                     (gripper left) (gripper right) (at-robby rooma) (free left)
                     (carry b2 right) (at b1 rooma) (at b3 rooma) (at b4 rooma))
              (:goal (and (at b1 roomb) (at b2 roomb) (at b3 rooma) (at b4 roomb))))",
        );
        let got = names(&t, &interchangeable_objects(&t));
        assert_eq!(got, vec![vec!["b1", "b4"]]);
    }
}
