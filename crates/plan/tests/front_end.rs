//! The PDDL front end on quirks users bring (issue 16 items 1, 10, 11; issue 19 item 4): every
//! bad input is an error with its `file:line:col`, IPC habits that are harmless are accepted.

use superpose_plan::pddl::{parse_domain_str, parse_problem_str};
use superpose_plan::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

const DOMAIN: &str = "(define (domain d)
  (:requirements :strips :typing)
  (:types block table - object)
  (:predicates (on ?x - block ?y - block) (clear ?x - block) (at ?x - block ?t - table))
  (:action move :parameters (?x - block ?y - block)
    :precondition (clear ?x)
    :effect (and (on ?x ?y) (not (clear ?y)))))";

fn problem(objects: &str, init: &str, goal: &str) -> String {
    format!("(define (problem p) (:domain d)\n  (:objects {objects})\n  (:init {init})\n  (:goal {goal}))")
}

/// Parses DOMAIN and the problem, checks them; the error as text.
fn check_err(domain: &str, problem: &str) -> String {
    let d = parse_domain_str(domain, "d.pddl").map_err(|e| e.to_string());
    let d = match d {
        Ok(d) => d,
        Err(e) => return e,
    };
    let p = parse_problem_str(problem, "p.pddl").map_err(|e| e.to_string());
    match p.and_then(|p| check(&d, &p).map_err(|e| e.to_string())) {
        Ok(notes) => panic!("expected an error, got notes {notes:?}"),
        Err(e) => e,
    }
}

#[test]
fn a_tyreworld_style_domain_resolves_its_constants_from_the_problem_and_solves() {
    let (d, p, t) = load(
        format!("{DATA}/tyre-mini-domain.pddl"),
        format!("{DATA}/tyre-mini.pddl"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let notes = check(&d, &p).unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(
        notes[0],
        format!(
            "{DATA}/tyre-mini-domain.pddl:13:33: note: `wrench` is not in `:constants`; it names \
             the object `wrench` of {DATA}/tyre-mini.pddl"
        )
    );
    assert!(notes[1].contains("`jack`"), "{notes:?}");
    let r = graphplan(&t, &Limits::with_time(30.0));
    let Outcome::Solved(plan) = &r.outcome else {
        panic!("tyre-mini: {:?}", r.outcome)
    };
    // Hand reasoning in tyre-mini.pddl: level 5, 7 actions.
    assert_eq!((plan.num_steps(), plan.len()), (5, 7));
    validate_plan(&d, &p, &plan.ipc_calls(&t)).unwrap();
}

#[test]
fn a_domain_constant_that_no_problem_declares_is_an_error_at_its_use() {
    let d = parse_domain_str(
        &std::fs::read_to_string(format!("{DATA}/tyre-mini-domain.pddl")).unwrap(),
        "dom.pddl",
    )
    .unwrap();
    let p = parse_problem_str(
        "(define (problem q) (:domain tyre-mini) (:objects jack h) (:init (hub h)) (:goal (free h)))",
        "q.pddl",
    )
    .unwrap();
    let e = check(&d, &p).unwrap_err().to_string();
    assert!(e.starts_with("dom.pddl:13:"), "{e}");
    assert!(e.contains("unknown constant `wrench`"), "{e}");
    assert!(ground(&d, &p).is_err());
}

#[test]
fn wrong_arity_is_an_error_with_its_position_not_unsolvable() {
    let e = check_err(DOMAIN, &problem("a b - block", "(clear a)", "(on a b a)"));
    assert_eq!(e, "p.pddl:4:10: predicate `on` takes 2 arguments, given 3");
    let e = check_err(DOMAIN, &problem("a b - block", "(clear a b)", "(on a b)"));
    assert_eq!(
        e,
        "p.pddl:3:10: predicate `clear` takes 1 arguments, given 2"
    );
    let bad = DOMAIN.replace(":precondition (clear ?x)", ":precondition (clear ?x ?y)");
    assert!(check_err(&bad, "").starts_with("d.pddl:6:19: predicate `clear`"));
    let bad = DOMAIN.replace("(not (clear ?y))", "(not (clear))");
    assert!(check_err(&bad, "").starts_with("d.pddl:7:34: predicate `clear`"));
}

#[test]
fn wrongly_typed_and_unknown_objects_are_errors() {
    let e = check_err(
        DOMAIN,
        &problem("a - block t - table", "(clear t)", "(clear a)"),
    );
    assert_eq!(
        e,
        "p.pddl:3:10: argument 1 of `clear` must be of type `block`, but `t` is a `table`"
    );
    let e = check_err(DOMAIN, &problem("a - block", "(clear z)", "(clear a)"));
    assert_eq!(e, "p.pddl:3:10: unknown object `z` in `(clear ...)`");
    let e = check_err(DOMAIN, &problem("a - blok", "", "(clear a)"));
    assert_eq!(e, "p.pddl:2:13: object `a` has unknown type `blok`");
}

#[test]
fn duplicate_objects_one_type_accepted_two_types_refused() {
    let d = parse_domain_str(DOMAIN, "d.pddl").unwrap();
    let p = parse_problem_str(
        &problem("a b - block a - block", "(clear a)", "(on a b)"),
        "p.pddl",
    )
    .unwrap();
    assert!(check(&d, &p).unwrap().is_empty());
    assert!(ground(&d, &p).is_ok());
    let e = check_err(DOMAIN, &problem("a b - block a - table", "", "(clear a)"));
    assert_eq!(
        e,
        "p.pddl:2:25: object `a` is declared with type `table` here and with type `block` at p.pddl:2:13"
    );
}

#[test]
fn a_problem_for_another_domain_is_an_error() {
    let p = problem("a - block", "", "(clear a)").replace("(:domain d)", "(:domain blocks)");
    let e = check_err(DOMAIN, &p);
    assert_eq!(
        e,
        "p.pddl:1:30: the problem is for domain `blocks`, but d.pddl defines domain `d`"
    );
}

#[test]
fn domain_errors_blame_the_domain_file() {
    let undeclared = DOMAIN.replace("?t - table))", "?t - tabel))");
    assert_eq!(
        check_err(&undeclared, ""),
        "d.pddl:4:77: unknown type `tabel` in predicate `at`"
    );
    let twice = DOMAIN.replace(
        "(:action move",
        "(:action move :parameters () :effect ())\n  (:action move",
    );
    let e = check_err(&twice, "");
    assert!(
        e.starts_with("d.pddl:6:3: action `move` is defined twice (first at 5:3)"),
        "{e}"
    );
    let conflict = DOMAIN.replace("(clear ?x - block) ", "(clear ?x - block) (clear ?x ?y) ");
    assert_eq!(
        check_err(&conflict, ""),
        "d.pddl:4:62: predicate `clear` is declared again with other parameters (first at 4:43)"
    );
    // The same declaration twice is harmless.
    let same = DOMAIN.replace(
        "(clear ?x - block) ",
        "(clear ?x - block) (clear ?y - block) ",
    );
    assert!(parse_domain_str(&same, "d.pddl").is_ok());
}

#[test]
fn requirements_absent_extra_and_unknown() {
    let none = DOMAIN.replace("(:requirements :strips :typing)", "");
    assert!(parse_domain_str(&none, "d.pddl").is_ok());
    let extra = DOMAIN.replace(":strips :typing", ":strips :typing :adl :fluents");
    let d = parse_domain_str(&extra, "d.pddl").unwrap();
    assert_eq!(d.notes.len(), 2, "{:?}", d.notes);
    assert!(
        d.notes[0].starts_with("d.pddl:2:34: note: requirement `:adl`"),
        "{:?}",
        d.notes
    );
    let unknown = DOMAIN.replace(":strips :typing", ":strips :teleport");
    assert_eq!(
        check_err(&unknown, ""),
        "d.pddl:2:26: unknown requirement `:teleport`"
    );
    let either = DOMAIN.replace("(?x - block ?y - block)", "(?x - (either block table) ?y)");
    assert_eq!(
        check_err(&either, ""),
        "d.pddl:5:35: unsupported feature `either` types"
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_an_error_not_a_stack_overflow() {
    let deep = |n: usize| format!("{}(clear a){}", "(and ".repeat(n), ")".repeat(n));
    let p = problem("a b - block", "(clear a)", &deep(100_000));
    let e = check_err(DOMAIN, &p);
    assert_eq!(
        e,
        format!("p.pddl:4:{}: nesting deeper than 1000", 10 + 5 * 998)
    );
    let p = problem("a b - block", "(clear a)", &deep(500));
    let d = parse_domain_str(DOMAIN, "d.pddl").unwrap();
    let p = parse_problem_str(&p, "p.pddl").unwrap();
    assert!(ground(&d, &p).is_ok());
}

/// A schema of four free parameters over `n` objects: `n⁴` instantiations, none pruned
/// statically (the grounding-limit tests below).
fn wide_task(n: usize) -> (pddl::Domain, pddl::Problem) {
    let d = parse_domain_str(
        "(define (domain wide) (:predicates (p ?a ?b ?c ?d))
           (:action link :parameters (?a ?b ?c ?d) :precondition ()
             :effect (p ?a ?b ?c ?d)))",
        "wide.pddl",
    )
    .unwrap();
    let objects: Vec<String> = (0..n).map(|i| format!("o{i}")).collect();
    let p = parse_problem_str(
        &format!(
            "(define (problem w) (:domain wide) (:objects {}) (:init) (:goal (p o0 o0 o0 o1)))",
            objects.join(" ")
        ),
        "w.pddl",
    )
    .unwrap();
    (d, p)
}

#[test]
fn grounding_stops_at_its_memory_and_time_limits_with_a_clear_error() {
    // Within the limits: all n⁴ instantiations are kept.
    let (d, p) = wide_task(6);
    let t = ground(&d, &p).unwrap();
    assert_eq!(t.stats.instantiated_actions, 6usize.pow(4));
    assert_eq!(t.stats.actions, 6usize.pow(4));
    // Memory: 64 KiB holds a few hundred instantiations, not 1,296.
    let small = GroundLimits {
        max_bytes: 64 << 10,
        ..GroundLimits::default()
    };
    match ground_within(&d, &p, &small) {
        Err(GroundError::LimitReached { file, message }) => {
            assert_eq!(file, "wide.pddl");
            assert!(
                message.contains("`link`") && message.contains("would take over 0 MiB"),
                "{message}"
            );
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }
    // Time: a deadline already passed is seen within the first 2¹⁴ candidate bindings.
    let (d, p) = wide_task(40);
    let past = GroundLimits {
        deadline: Some(std::time::Instant::now()),
        ..GroundLimits::default()
    };
    match ground_within(&d, &p, &past) {
        Err(GroundError::LimitReached { message, .. }) => {
            assert!(message.contains("time limit"), "{message}")
        }
        other => panic!("expected the time limit, got {other:?}"),
    }
}

/// A domain with IPC action costs: a static cost table, a constant cost, a free action.
const ROADS: &str = include_str!("data/roads-domain.pddl");
fn roads_problem(init_extra: &str) -> String {
    format!(
        "(define (problem r) (:domain roads) (:objects a b c - place)
  (:init (at a) (road a b) (road b c) (road a c) (= (total-cost) 0)
         (= (road-length a b) 5) (= (road-length b c) 7) {init_extra})
  (:goal (at c)) (:metric minimize (total-cost)))"
    )
}

#[test]
fn action_costs_are_read_and_each_plan_reports_its_cost() {
    let d = parse_domain_str(ROADS, "roads.pddl").unwrap();
    assert!(d.has_action_costs());
    let p = parse_problem_str(&roads_problem("(= (road-length a c) 20)"), "r.pddl").unwrap();
    let notes = check(&d, &p).unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("roads.pddl:5:3: note: action costs are read")),
        "{notes:?}"
    );
    let t = ground(&d, &p).unwrap();
    let cost_of = |name: &str| t.action_cost(t.action_by_name(name).unwrap());
    assert_eq!(cost_of("(drive a b)"), 5.0);
    assert_eq!(cost_of("(drive a c)"), 20.0);
    assert_eq!(cost_of("(refuel)"), 2.5);
    assert_eq!(cost_of("(honk)"), 0.0);
    // Shortest in actions (bfs) and in parallel steps (Graphplan): refuel, drive a c. Their
    // cost is reported, not minimised (refuel, a→b, b→c would cost 14.5).
    for algo in [Algo::Bfs, Algo::Graphplan, Algo::GraphplanSat] {
        let r = run_algo(&t, algo, &Limits::default());
        let plan = r.outcome.plan().unwrap();
        assert_eq!(plan.ipc_calls(&t), ["(refuel)", "(drive a c)"], "{algo:?}");
        assert_eq!(plan.cost(&t), 22.5);
        assert!(plan.to_ipc(&t).ends_with("; cost = 22.5 (general cost)\n"));
        // The validator computes the cost on the lifted PDDL, apart from the grounder.
        let report = validate_plan(&d, &p, &plan.ipc_calls(&t)).unwrap();
        assert_eq!((report.steps, report.cost), (2, 22.5));
        assert_eq!(
            report.to_string(),
            "plan valid: 2 steps, cost 22.5, goal satisfied"
        );
    }
    let report = validate_plan(&d, &p, &["(refuel)", "(drive a b)", "(drive b c)"]).unwrap();
    assert_eq!(report.cost, 14.5);
    // A*/h_max minimises the cost: the longer, cheaper plan, its cost validated on the PDDL.
    let plan = run_algo(&t, Algo::AstarHmax, &Limits::default())
        .outcome
        .plan()
        .unwrap()
        .clone();
    assert_eq!(
        plan.ipc_calls(&t),
        ["(refuel)", "(drive a b)", "(drive b c)"]
    );
    assert_eq!(plan.cost(&t), 14.5);
    let report = validate_plan(&d, &p, &plan.ipc_calls(&t)).unwrap();
    assert_eq!((report.steps, report.cost), (3, 14.5));
    // Without action costs: unit costs, as before.
    let (d, p, t) = load(
        format!("{DATA}/tyre-mini-domain.pddl"),
        format!("{DATA}/tyre-mini.pddl"),
    )
    .unwrap();
    let plan = run_algo(&t, Algo::Bfs, &Limits::default())
        .outcome
        .plan()
        .unwrap()
        .clone();
    assert!(t.costs.is_none());
    assert_eq!(plan.cost(&t), plan.len() as f64);
    assert!(plan
        .to_ipc(&t)
        .ends_with(&format!("; cost = {} (unit cost)\n", plan.len())));
    let report = validate_plan(&d, &p, &plan.ipc_calls(&t)).unwrap();
    assert_eq!(report.cost, plan.len() as f64);
    assert!(!report.general_cost);
}

#[test]
fn numeric_constructs_beyond_action_costs_are_refused_where_written() {
    let dom = |from: &str, to: &str| ROADS.replace(from, to);
    let domain_err = |text: &str| {
        parse_domain_str(text, "roads.pddl")
            .unwrap_err()
            .to_string()
    };
    // A function value missing from `:init` is an error naming the problem and the term.
    let d = parse_domain_str(ROADS, "roads.pddl").unwrap();
    let p = parse_problem_str(&roads_problem(""), "r.pddl").unwrap();
    let e = ground(&d, &p).unwrap_err().to_string();
    assert_eq!(
        e,
        "r.pddl: no value for `(road-length a c)` in `:init` (the cost of `(drive a c)`)"
    );
    for (from, to, want) in [
        (
            "(increase (total-cost) 2.5)",
            "(increase (fuel) 2.5)",
            "roads.pddl:11:28: unsupported feature numeric fluents (`increase` of a function other than `(total-cost)`)",
        ),
        (
            "(increase (total-cost) 2.5)",
            "(increase (total-cost) -1)",
            "roads.pddl:11:51: an action cost must be a non-negative number or a function term, found `-1`",
        ),
        (
            "(increase (total-cost) 2.5)",
            "(increase (total-cost) (+ 1 2))",
            "roads.pddl:11:51: unsupported feature arithmetic (`+`) in an action cost",
        ),
        (
            "(road-length ?a ?b - place) - number)",
            "(road-length ?a ?b - place) - place)",
            "roads.pddl:5:67: unsupported feature object fluents (a function type other than `number`)",
        ),
        (
            "(total-cost) - number ",
            "",
            "roads.pddl:6:3: action `drive` increases `total-cost`, which `:functions` does not declare",
        ),
        (
            "(road-length ?a ?b)))",
            "(road-length ?a)))",
            "roads.pddl:8:63: function `road-length` takes 2 arguments, given 1",
        ),
        (
            "(road-length ?a ?b)))",
            "(distance ?a ?b)))",
            "roads.pddl:8:63: function `distance` is not declared in `:functions`",
        ),
        (
            "(road-length ?a ?b)))",
            "(road-length ?a ?c)))",
            "roads.pddl:8:63: variable `?c` is not a parameter of action `drive`",
        ),
        (
            ":precondition (fuelled)",
            ":precondition (> (total-cost) 3)",
            "roads.pddl:12:46: unsupported feature numeric comparisons (`>`)",
        ),
    ] {
        assert!(ROADS.contains(from), "{from}");
        assert_eq!(domain_err(&dom(from, to)), want, "{to}");
    }
    let problem_err = |from: &str, to: &str| {
        let text = roads_problem("(= (road-length a c) 20)").replace(from, to);
        match parse_problem_str(&text, "r.pddl") {
            Err(e) => e.to_string(),
            Ok(p) => match check(&d, &p) {
                Err(e) => e.to_string(),
                Ok(_) => format!("accepted: {to}"),
            },
        }
    };
    assert_eq!(
        problem_err("minimize (total-cost)", "maximize (total-cost)"),
        "r.pddl:4:18: unsupported feature a `:metric` other than `(minimize (total-cost))`"
    );
    assert_eq!(
        problem_err("(= (road-length a b) 5)", "(= (road-length a b) x)"),
        "r.pddl:3:31: expected a non-negative number, found `x`"
    );
    assert_eq!(
        problem_err("(= (road-length a b) 5)", "(= (road-length a) 5)"),
        "r.pddl:3:10: function `road-length` takes 2 arguments, given 1"
    );
    assert_eq!(
        problem_err("(= (road-length a b) 5)", "(= (road-length a z) 5)"),
        "r.pddl:3:10: unknown object `z` in `(road-length a z)`"
    );
    assert_eq!(
        problem_err("(= (road-length a b) 5)", "(= (speed a b) 5)"),
        "r.pddl:3:10: function `speed` is not declared in the domain's `:functions`"
    );
}

#[test]
fn a_grounding_too_large_for_static_pruning_fits_when_driven_by_reachability() {
    // `q` is fluent, so static pruning keeps all 20⁴ = 160,000 instantiations of `link`;
    // only `(q o0)` is ever true, so 20³ = 8,000 are reachable.
    let d = parse_domain_str(
        "(define (domain wide) (:predicates (p ?a ?b ?c ?d) (q ?a))
           (:action link :parameters (?a ?b ?c ?d) :precondition (q ?a) :effect (p ?a ?b ?c ?d))
           (:action drop :parameters (?a) :precondition (q ?a) :effect (not (q ?a))))",
        "wide.pddl",
    )
    .unwrap();
    let objects: Vec<String> = (0..20).map(|i| format!("o{i}")).collect();
    let p = parse_problem_str(
        &format!(
            "(define (problem w) (:domain wide) (:objects {}) (:init (q o0)) (:goal (p o0 o1 o2 o3)))",
            objects.join(" ")
        ),
        "w.pddl",
    )
    .unwrap();
    let whole = ground(&d, &p).unwrap();
    assert!(!whole.stats.reachability_driven);
    assert_eq!(whole.stats.instantiated_actions, 20usize.pow(4) + 20);
    assert_eq!(whole.stats.actions, 20usize.pow(3) + 1);
    // 8 MiB: too little for the 160,000, enough for the 8,001 reachable ones.
    let small = GroundLimits {
        max_bytes: 8 << 20,
        ..GroundLimits::default()
    };
    let t = ground_within(&d, &p, &small).unwrap();
    assert!(t.stats.reachability_driven);
    assert_eq!(t.stats.instantiated_actions, 20usize.pow(3) + 1);
    assert_eq!(t.stats.actions, whole.stats.actions);
    let plan = run_algo(&t, Algo::Bfs, &Limits::default())
        .outcome
        .plan()
        .unwrap()
        .clone();
    assert_eq!(plan.ipc_calls(&t), ["(link o0 o1 o2 o3)"]);
}
