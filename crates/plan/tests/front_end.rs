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
    let extra = DOMAIN.replace(":strips :typing", ":strips :typing :adl :action-costs");
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
        deadline: None,
        max_bytes: 64 << 10,
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
