//! Graphplan's backward search recurses once per goal it assigns, so its depth is the number of
//! goals summed over the levels it descends (petri-net-alignment p01 of IPC 2018: 267 goals
//! from level 147 down, over 15 thousand frames). Such a search must run to its answer on any thread,
//! not overflow the stack and abort the process: the extractors grow the stack at each level.

use superpose_plan::*;

/// `n` objects, each to be taken from `a` through `b` to `c`: two parallel steps, `2n` actions,
/// and a backward search `2n` goals deep.
fn wide_chain(n: usize) -> (Domain, Problem, GroundTask) {
    let domain = "(define (domain chain) (:requirements :strips)
        (:predicates (a ?x) (b ?x) (c ?x))
        (:action ab :parameters (?x) :precondition (a ?x) :effect (and (b ?x) (not (a ?x))))
        (:action bc :parameters (?x) :precondition (b ?x) :effect (and (c ?x) (not (b ?x)))))";
    let objects: Vec<String> = (0..n).map(|i| format!("o{i}")).collect();
    let init: Vec<String> = objects.iter().map(|o| format!("(a {o})")).collect();
    let goal: Vec<String> = objects.iter().map(|o| format!("(c {o})")).collect();
    let problem = format!(
        "(define (problem wide) (:domain chain) (:objects {}) (:init {}) (:goal (and {})))",
        objects.join(" "),
        init.join(" "),
        goal.join(" ")
    );
    grounded(domain, &problem)
}

/// A token moved along `k` cells: `k` parallel steps of one goal each.
fn long_chain(k: usize) -> (Domain, Problem, GroundTask) {
    let domain = "(define (domain line) (:requirements :strips)
        (:predicates (at ?c) (next ?c ?d))
        (:action move :parameters (?c ?d) :precondition (and (at ?c) (next ?c ?d))
            :effect (and (at ?d) (not (at ?c)))))";
    let cells: Vec<String> = (0..=k).map(|i| format!("c{i}")).collect();
    let next: Vec<String> = (0..k).map(|i| format!("(next c{i} c{})", i + 1)).collect();
    let problem = format!(
        "(define (problem long) (:domain line) (:objects {}) (:init (at c0) {}) (:goal (at c{k})))",
        cells.join(" "),
        next.join(" ")
    );
    grounded(domain, &problem)
}

fn grounded(domain: &str, problem: &str) -> (Domain, Problem, GroundTask) {
    let d = pddl::parse_domain_str(domain, "domain.pddl").unwrap();
    let p = pddl::parse_problem_str(problem, "problem.pddl").unwrap();
    let task = ground(&d, &p).unwrap();
    (d, p, task)
}

fn solve(algo: &str, task: &GroundTask) -> GraphplanResult {
    let limits = Limits::default();
    match algo {
        "graphplan" => graphplan(task, &limits),
        _ => graphplan_ebl(task, &limits),
    }
}

/// Runs `f` on a thread with a 256 KiB stack: far less than the search below needs (a few
/// hundred bytes a goal in release builds, more in debug ones).
fn on_small_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn_scoped(s, f)
            .unwrap()
            .join()
            .unwrap()
    })
}

/// The plan `algo` finds on a small stack, checked by the lifted validator.
fn validated_plan(algo: &str, (domain, problem, task): &(Domain, Problem, GroundTask)) -> Plan {
    let r = on_small_stack(|| solve(algo, task));
    let Outcome::Solved(plan) = r.outcome else {
        panic!("{algo}: {:?}", r.outcome);
    };
    let report = validate_plan(domain, problem, &plan.ipc_calls(task)).unwrap();
    assert_eq!(report.steps, plan.len(), "{algo}");
    plan
}

#[test]
fn backward_search_deeper_than_the_stack_finds_the_plan() {
    let n = 4000;
    let task = wide_chain(n);
    for algo in ["graphplan", "graphplan-ebl"] {
        let plan = validated_plan(algo, &task);
        let widths: Vec<usize> = plan.steps.iter().map(Vec::len).collect();
        assert_eq!(widths, [n, n], "{algo}: every `ab`, then every `bc`");
    }
}

#[test]
fn backward_search_through_more_levels_than_the_stack_holds_finds_the_plan() {
    let k = 300;
    let task = long_chain(k);
    for algo in ["graphplan", "graphplan-ebl"] {
        let plan = validated_plan(algo, &task);
        assert_eq!(plan.steps.len(), k, "{algo}: one move a step");
        assert!(plan.steps.iter().all(|s| s.len() == 1), "{algo}");
    }
}
