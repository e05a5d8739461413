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
    /// (schema, argument tokens) → action index.
    action_of: HashMap<(u32, Key), u32>,
    action_key: Vec<(u32, Key)>,
    /// Per token: facts naming it as an argument, actions naming it as an argument.
    facts_with: Vec<Vec<u32>>,
    actions_with: Vec<Vec<u32>>,
    /// Per fact: actions using it (precondition, add or delete).
    users: Vec<Vec<u32>>,
    in_init: Vec<bool>,
    in_goal: Vec<bool>,
}

struct Interner(HashMap<String, u32>);

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        let n = self.0.len() as u32 + 2;
        *self.0.entry(s.to_string()).or_insert(n)
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

fn arg_positions(key: &Key) -> impl Iterator<Item = usize> + '_ {
    (1..key.len()).filter(move |&i| key[i] > CLOSE && key[i - 1] != OPEN)
}

fn swapped(key: &Key, x: u32, y: u32) -> Key {
    let mut k = key.clone();
    for i in arg_positions(key) {
        if k[i] == x {
            k[i] = y;
        } else if k[i] == y {
            k[i] = x;
        }
    }
    k
}

impl<'t> Index<'t> {
    fn new(task: &'t GroundTask) -> Self {
        let mut names = Interner(HashMap::default());
        let fact_key: Vec<Key> = task
            .facts
            .iter()
            .map(|f| fact_tokens(f, &mut names))
            .collect();
        let action_key: Vec<(u32, Key)> = task
            .actions
            .iter()
            .map(|a| {
                let schema = names.id(&a.schema);
                (schema, a.args.iter().map(|x| names.id(x)).collect())
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
        for (a, (_, args)) in action_key.iter().enumerate() {
            for &x in args {
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
        }
    }

    /// The fact `f` with `x` and `y` swapped, if the task has it.
    fn swap_fact(&self, f: u32, x: u32, y: u32) -> Option<u32> {
        let k = &self.fact_key[f as usize];
        if !arg_positions(k).any(|i| k[i] == x || k[i] == y) {
            return Some(f);
        }
        self.fact_of.get(&swapped(k, x, y)).copied()
    }

    /// Whether the facts `a` with `x` and `y` swapped are the facts `b` (as sets).
    fn same_facts(&self, a: &[u32], b: &[u32], x: u32, y: u32) -> bool {
        let sa: Option<Vec<u32>> = a.iter().map(|&f| self.swap_fact(f, x, y)).collect();
        let Some(mut sa) = sa else {
            return false;
        };
        let mut sb = b.to_vec();
        sa.sort_unstable();
        sb.sort_unstable();
        sa == sb
    }

    /// Whether swapping `x` and `y` maps the task onto itself.
    fn swap_is_symmetry(&self, x: u32, y: u32) -> bool {
        let facts = self.facts_with[x as usize]
            .iter()
            .chain(&self.facts_with[y as usize]);
        for &f in facts.clone() {
            let Some(g) = self.swap_fact(f, x, y) else {
                return false;
            };
            let (f, g) = (f as usize, g as usize);
            if self.in_init[f] != self.in_init[g] || self.in_goal[f] != self.in_goal[g] {
                return false;
            }
        }
        let by_args = self.actions_with[x as usize]
            .iter()
            .chain(&self.actions_with[y as usize]);
        let by_facts = facts.flat_map(|&f| self.users[f as usize].iter());
        by_args.chain(by_facts).all(|&a| {
            let (schema, args) = &self.action_key[a as usize];
            let args: Key = args
                .iter()
                .map(|&t| match t {
                    t if t == x => y,
                    t if t == y => x,
                    t => t,
                })
                .collect();
            let Some(&b) = self.action_of.get(&(*schema, args)) else {
                return false;
            };
            let (p, q) = (
                &self.task.actions[a as usize],
                &self.task.actions[b as usize],
            );
            self.same_facts(&p.pre, &q.pre, x, y)
                && self.same_facts(&p.add, &q.add, x, y)
                && self.same_facts(&p.del, &q.del, x, y)
        })
    }

    /// A cheap invariant of a swap-symmetry: objects with different signatures are never
    /// interchangeable.
    fn signature(&self, x: u32) -> Vec<(u32, u32, u8)> {
        let mut s: Vec<(u32, u32, u8)> = Vec::new();
        for &a in &self.actions_with[x as usize] {
            let (schema, args) = &self.action_key[a as usize];
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

/// Classes of interchangeable objects (two or more members each, in the order of the task's
/// first mention); per member, the ground actions (indices into `task.actions`) that name it
/// among their arguments.
pub fn interchangeable_objects(task: &GroundTask) -> Vec<Vec<Vec<u32>>> {
    let ix = Index::new(task);
    // Objects: tokens that some action takes as an argument, by first mention.
    let mut objects: Vec<u32> = Vec::new();
    let mut seen = vec![false; ix.actions_with.len()];
    for (_, args) in &ix.action_key {
        for &t in args {
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
