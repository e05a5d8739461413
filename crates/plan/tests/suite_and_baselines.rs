//! All PDDL files parse; every planner's plans validate; BFS and A*/h_max find the known optima;
//! bad input gets a `file:line:col` error.

use std::path::{Path, PathBuf};

use superpose_plan::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/pddl");

fn suite_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(DATA)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().unwrap() != "extra")
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn all_533_suite_files_parse_and_first_problems_ground() {
    let mut domains = 0;
    let mut problems = 0;
    for dir in suite_dirs() {
        let pairs = pddl::suite_problems(&dir).unwrap();
        let domain = pairs[0].0.clone().expect("domain file");
        assert!(pairs.iter().all(|(d, _)| d.as_ref() == Some(&domain)));
        let d = parse_domain(domain).unwrap_or_else(|e| panic!("{e}"));
        domains += 1;
        for (i, (_, p)) in pairs.iter().enumerate() {
            let prob = parse_problem(p).unwrap_or_else(|e| panic!("{e}"));
            // Every shared problem passes the front end's checks, without notes.
            let notes = check(&d, &prob).unwrap_or_else(|e| panic!("{e}"));
            assert!(notes.is_empty(), "{notes:?}");
            problems += 1;
            if i == 0 {
                let t = ground(&d, &prob).unwrap_or_else(|e| panic!("{e}"));
                assert!(t.stats.actions > 0 && t.stats.facts > 0, "{}", p.display());
            }
        }
    }
    assert_eq!((domains, problems), (12, 521));
    // The hand-written examples parse too.
    for e in std::fs::read_dir(format!("{DATA}/extra")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pddl") {
            if pddl::is_domain_file(&p) {
                parse_domain(&p).unwrap_or_else(|e| panic!("{e}"));
            } else {
                parse_problem(&p).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}

/// (domain, problem, known optimal sequential length).
const SMALL: &[(&str, &str, Option<usize>)] = &[
    ("blocks/domain.pddl", "blocks/probBLOCKS-4-0.pddl", Some(6)),
    ("blocks/domain.pddl", "blocks/probBLOCKS-4-1.pddl", None),
    ("blocks/domain.pddl", "blocks/probBLOCKS-4-2.pddl", None),
    ("blocks/domain.pddl", "extra/sussman.pddl", Some(6)),
    ("gripper/domain.pddl", "gripper/prob01.pddl", Some(11)),
    ("extra/jobs-domain.pddl", "extra/jobs-3-2.pddl", Some(6)),
    ("extra/cake-domain.pddl", "extra/cake.pddl", Some(2)),
    ("extra/tire-domain.pddl", "extra/tire.pddl", Some(3)),
    ("extra/hw-domain.pddl", "extra/hw.pddl", Some(2)),
    ("miconic/domain.pddl", "miconic/s1-0.pddl", Some(4)),
    ("miconic/domain.pddl", "miconic/s2-0.pddl", None),
    ("depot/domain.pddl", "depot/p01.pddl", None),
    ("rovers/domain.pddl", "rovers/p01.pddl", None),
    ("zenotravel/domain.pddl", "zenotravel/p01.pddl", Some(1)),
    ("satellite/domain.pddl", "satellite/p01-pfile1.pddl", None),
    ("mprime/domain.pddl", "mprime/prob01.pddl", None),
];

#[test]
fn every_plan_from_every_algorithm_validates_and_optima_agree() {
    for &(d, p, optimum) in SMALL {
        let (dom, prob, task) = load(format!("{DATA}/{d}"), format!("{DATA}/{p}")).unwrap();
        let mut lengths = Vec::new();
        let mut steps = Vec::new();
        for algo in Algo::ALL {
            let r = run_algo(&task, algo, &Limits::with_time(60.0));
            let plan = r
                .outcome
                .plan()
                .unwrap_or_else(|| panic!("{p} {}: {:?}", algo.name(), r.outcome));
            validate_plan(&dom, &prob, &plan.ipc_calls(&task))
                .unwrap_or_else(|e| panic!("{p} {}: {e}", algo.name()));
            lengths.push(plan.len());
            steps.push(plan.num_steps());
        }
        let len = |a: Algo| lengths[Algo::ALL.iter().position(|&x| x == a).unwrap()];
        let num_steps = |a: Algo| steps[Algo::ALL.iter().position(|&x| x == a).unwrap()];
        let bfs_len = len(Algo::Bfs);
        assert_eq!(
            bfs_len,
            len(Algo::AstarHmax),
            "{p}: BFS and A*/h_max are optimal"
        );
        assert_eq!(
            bfs_len,
            len(Algo::AstarLmcut),
            "{p}: BFS and A*/LM-cut are optimal"
        );
        assert!(
            lengths.iter().all(|&l| l >= bfs_len),
            "{p}: nothing beats the optimum {lengths:?}"
        );
        // The three Graphplan searches are complete per level, so all plans are step-optimal.
        assert_eq!(
            num_steps(Algo::Graphplan),
            num_steps(Algo::GraphplanEbl),
            "{p}: Graphplan with and without EBL/DDB find plans at the same level"
        );
        assert_eq!(
            num_steps(Algo::Graphplan),
            num_steps(Algo::GraphplanSat),
            "{p}: SAT extraction finds its plan at Graphplan's level"
        );
        if let Some(o) = optimum {
            assert_eq!(bfs_len, o, "{p}: BFS length equals the known optimum");
        }
    }
}

#[test]
fn pigeonhole_unsolvable_for_every_algorithm() {
    let (_, _, task) = load(
        format!("{DATA}/extra/hole-domain.pddl"),
        format!("{DATA}/extra/holes-3-2.pddl"),
    )
    .unwrap();
    for algo in Algo::ALL {
        let limits = Limits {
            max_levels: 40,
            ..Limits::with_time(60.0)
        };
        let r = run_algo(&task, algo, &limits);
        if algo == Algo::GraphplanEbl {
            // Nogood memos carry no Blum–Furst fixpoint proof: EBL/DDB never claims a plan
            // here, and stops at the level limit.
            assert_eq!(r.outcome.status(), "limit", "{:?}", r.outcome);
            let gp = r.graphplan.unwrap();
            assert!(gp.levels.iter().any(|l| l.memo_entries > 0));
            continue;
        }
        assert_eq!(
            r.outcome.status(),
            "unsolvable",
            "{}: {:?}",
            algo.name(),
            r.outcome
        );
    }
}

#[test]
fn relaxed_goal_level_is_a_lower_bound_on_graph_presence() {
    // The relaxed graph has no mutexes, so its goals appear no later than in the planning graph.
    // In gripper, `pick` and `move` interfere, so Graphplan's goals first appear at 3, not 2.
    for (d, p, relaxed, present) in [
        ("blocks/domain.pddl", "blocks/probBLOCKS-4-0.pddl", 2, 2),
        ("extra/jobs-domain.pddl", "extra/jobs-3-2.pddl", 2, 2),
        ("gripper/domain.pddl", "gripper/prob01.pddl", 2, 3),
    ] {
        let (_, _, task) = load(format!("{DATA}/{d}"), format!("{DATA}/{p}")).unwrap();
        assert_eq!(relaxed_goal_level(&task), Some(relaxed), "{p}");
        let r = graphplan(&task, &Limits::default());
        assert_eq!(r.summary.goals_first_present, Some(present), "{p}");
    }
}

#[test]
fn grounding_counts_match_fast_downward() {
    // data/pddl/README.md: `probfreecell-2-1` has 3408 ground actions after reachability.
    let (_, _, t) = load(
        format!("{DATA}/freecell/domain.pddl"),
        format!("{DATA}/freecell/probfreecell-2-1.pddl"),
    )
    .unwrap();
    assert_eq!(t.stats.actions, 3408);
    // mprime's `(not (= ?n1 ?n2))` is enforced: no drink action with equal arguments.
    let (_, _, t) = load(
        format!("{DATA}/mprime/domain.pddl"),
        format!("{DATA}/mprime/prob01.pddl"),
    )
    .unwrap();
    let drinks: Vec<_> = t.actions.iter().filter(|a| a.schema == "drink").collect();
    assert!(!drinks.is_empty() && drinks.iter().all(|a| a.args[0] != a.args[1]));
}

#[test]
fn validator_names_the_failing_step() {
    let dom = parse_domain(format!("{DATA}/blocks/domain.pddl")).unwrap();
    let prob = parse_problem(format!("{DATA}/extra/sussman.pddl")).unwrap();
    let err = validate_plan(&dom, &prob, &["(unstack c a)", "(pick-up b)"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "step 2 (pick-up b): precondition (handempty) is false"
    );
    let err = validate_plan(&dom, &prob, &["(unstack c a)", "(put-down c)"]).unwrap_err();
    assert!(
        matches!(err, ValidationError::Goal { steps: 2, .. }),
        "{err}"
    );
    let err = validate_plan(&dom, &prob, &["(fly c)"]).unwrap_err();
    assert_eq!(err.to_string(), "step 1 (fly c): unknown action `fly`");
}

#[test]
fn bad_pddl_is_reported_with_file_line_col() {
    let dir = std::env::temp_dir().join(format!("superpose-plan-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad-domain.pddl");
    std::fs::write(
        &f,
        "(define (domain d)\n  (:requirements :strips :teleportation)\n)",
    )
    .unwrap();
    let e = parse_domain(&f).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:2:26: unknown requirement `:teleportation`", f.display())
    );
    std::fs::write(&f, "(define (domain d)\n (:predicates (p))\n (:action a :parameters ()\n   :precondition (q) :effect (p)))").unwrap();
    let e = parse_domain(&f).unwrap_err();
    assert_eq!((e.line, e.col), (4, 18));
    assert!(e.message.contains("undeclared predicate `q`"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn type_hierarchy_and_negative_preconditions() {
    let domain = "(define (domain lamps)
  (:requirements :strips :typing :negative-preconditions :equality)
  (:types lamp fan - device device - object)
  (:predicates (on ?d - device) (used ?d - device) (broken ?d - device))
  (:action switch-on :parameters (?d - device)
    :precondition (and (not (on ?d)) (not (broken ?d))) :effect (on ?d))
  (:action use :parameters (?d - device ?e - device)
    :precondition (and (on ?d) (not (= ?d ?e)) (not (used ?e))) :effect (and (used ?d) (not (on ?d)))))";
    let problem = "(define (problem p) (:domain lamps)
  (:objects l1 - lamp f1 - fan)
  (:init (broken f1))
  (:goal (and (used l1) (not (on l1)))))";
    let d = pddl::parse_domain_str(domain, "lamps.pddl").unwrap();
    let p = pddl::parse_problem_str(problem, "p.pddl").unwrap();
    let t = ground(&d, &p).unwrap();
    // Subtypes fill `device` parameters; the broken fan is never switched on (static pruning).
    let names: Vec<String> = t.actions.iter().map(|a| a.name()).collect();
    assert!(names.contains(&"(switch-on l1)".to_string()), "{names:?}");
    assert!(!names.contains(&"(switch-on f1)".to_string()), "{names:?}");
    assert!(
        names.contains(&"(use l1 f1)".to_string()) && !names.contains(&"(use l1 l1)".to_string()),
        "{names:?}"
    );
    for algo in Algo::ALL {
        let r = run_algo(&t, algo, &Limits::with_time(10.0));
        let plan = r
            .outcome
            .plan()
            .unwrap_or_else(|| panic!("{}: {:?}", algo.name(), r.outcome));
        assert_eq!(
            plan.ipc_calls(&t),
            vec!["(switch-on l1)", "(use l1 f1)"],
            "{}",
            algo.name()
        );
        validate_plan(&d, &p, &plan.ipc_calls(&t)).unwrap();
    }
    // The negative precondition blocks a second switch-on.
    let err = validate_plan(&d, &p, &["(switch-on l1)", "(switch-on l1)"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "step 2 (switch-on l1): precondition (not (on l1)) is false"
    );
}

#[test]
fn bench_runs_a_suite_folder_and_writes_csv() {
    let dir = std::env::temp_dir().join(format!("superpose-plan-bench-{}", std::process::id()));
    let suite = dir.join("blocks");
    std::fs::create_dir_all(&suite).unwrap();
    for f in ["domain.pddl", "probBLOCKS-4-0.pddl", "probBLOCKS-4-1.pddl"] {
        std::fs::copy(format!("{DATA}/blocks/{f}"), suite.join(f)).unwrap();
    }
    let rows = bench::run_suites(
        std::slice::from_ref(&suite),
        Algo::Graphplan,
        &Limits::with_time(30.0),
        None,
        |_| {},
    );
    assert_eq!(rows.len(), 2);
    let first = bench::run_suites(
        std::slice::from_ref(&suite),
        Algo::Graphplan,
        &Limits::with_time(30.0),
        Some(1),
        |_| {},
    );
    assert_eq!(
        first.len(),
        1,
        "--max-per-domain 1 runs the first problem only"
    );
    assert_eq!(first[0].problem, "probBLOCKS-4-0");
    assert!(
        rows.iter()
            .all(|r| r.status == "solved" && r.domain == "blocks"),
        "{rows:?}"
    );
    assert_eq!(rows[0].plan_length, Some(6)); // probBLOCKS-4-0: plan at level 6
    assert_eq!(rows[0].plan_cost, Some(6.0)); // unit costs: its length
    let csv = dir.join("out.csv");
    bench::write_csv(&rows, &csv).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("domain,problem,algo,status,plan_length"));
    assert!(text.lines().next().unwrap().ends_with(",detail,plan_cost"));
    assert!(text.lines().nth(1).unwrap().ends_with(",6"), "{text}");
    assert_eq!(text.lines().count(), 3);
    let s = bench::summarize(&rows);
    assert_eq!((s.len(), s[0].solved, s[0].problems), (1, 2, 2));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A ground task as sets of names (facts; actions with their preconditions, adds, deletes and
/// cost; initial state; goal): equal for two groundings that differ only in order.
fn as_sets(t: &GroundTask) -> Vec<Vec<String>> {
    let names = |v: &[u32]| {
        let mut n: Vec<String> = v.iter().map(|&f| t.facts[f as usize].clone()).collect();
        n.sort();
        n.join(" ")
    };
    let mut facts = t.facts.clone();
    facts.sort();
    let mut actions: Vec<String> = t
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!(
                "{a} pre[{}] add[{}] del[{}] cost {}",
                names(&a.pre),
                names(&a.add),
                names(&a.del),
                t.action_cost(i)
            )
        })
        .collect();
    actions.sort();
    vec![facts, actions, vec![names(&t.init)], vec![names(&t.goal)]]
}

#[test]
fn grounding_driven_by_reachability_gives_the_same_task_as_static_pruning() {
    let driven = GroundLimits {
        static_bytes: 0,
        ..GroundLimits::default()
    };
    let mut pairs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for dir in suite_dirs() {
        for (d, p) in pddl::suite_problems(&dir).unwrap().into_iter().take(3) {
            pairs.push((d.unwrap(), p));
        }
    }
    let extra = format!("{DATA}/extra");
    for (d, p) in [
        ("jobs-domain.pddl", "jobs-3-2.pddl"),
        ("cake-domain.pddl", "cake.pddl"),
    ] {
        pairs.push((format!("{extra}/{d}").into(), format!("{extra}/{p}").into()));
    }
    let tests = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    pairs.push((
        format!("{tests}/tyre-mini-domain.pddl").into(),
        format!("{tests}/tyre-mini.pddl").into(),
    ));
    for (d, p) in &pairs {
        let (dom, prob) = (parse_domain(d).unwrap(), parse_problem(p).unwrap());
        let a = ground(&dom, &prob).unwrap();
        let b = ground_within(&dom, &prob, &driven).unwrap();
        assert!(!a.stats.reachability_driven && b.stats.reachability_driven);
        assert_eq!(as_sets(&a), as_sets(&b), "{}", p.display());
        assert_eq!(b.stats.instantiated_actions, a.stats.actions);
        assert_eq!(
            (a.stats.actions, a.stats.facts, a.goal_satisfiable),
            (b.stats.actions, b.stats.facts, b.goal_satisfiable)
        );
    }
    assert_eq!(pairs.len(), 12 * 3 + 3);
}

#[test]
fn a_folder_with_a_domain_file_per_problem_pairs_each_problem_with_its_own() {
    // IPC folders since 2008: `p01-domain.pddl` / `domain_p01.pddl` beside `p01.pddl`. Two
    // different domains, so a problem paired with the other's domain would fail.
    let dir = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &str| {
        std::fs::copy(format!("{DATA}/{from}"), dir.path().join(to)).unwrap()
    };
    copy("blocks/domain.pddl", "p01-domain.pddl");
    copy("blocks/probBLOCKS-4-0.pddl", "p01.pddl");
    copy("gripper/domain.pddl", "domain_p02.pddl");
    copy("gripper/prob01.pddl", "p02-rooms2-balls4.pddl");
    copy("blocks/probBLOCKS-4-1.pddl", "p03.pddl");
    let pairs = pddl::suite_problems(dir.path()).unwrap();
    let names: Vec<(Option<String>, String)> = pairs
        .iter()
        .map(|(d, p)| {
            let name = |f: &Path| f.file_name().unwrap().to_string_lossy().into_owned();
            (d.as_deref().map(name), name(p))
        })
        .collect();
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        names,
        [
            (some("p01-domain.pddl"), "p01.pddl".to_string()),
            (
                some("domain_p02.pddl"),
                "p02-rooms2-balls4.pddl".to_string()
            ),
            (None, "p03.pddl".to_string()),
        ]
    );
    let rows = bench::run_suites(
        &[dir.path().to_path_buf()],
        Algo::GbfsHff,
        &Limits::with_time(30.0),
        None,
        |_| {},
    );
    let status: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.problem.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        status,
        [
            ("p01", "solved"),
            ("p02-rooms2-balls4", "solved"),
            ("p03", "error")
        ]
    );
    assert!(
        rows[2]
            .detail
            .starts_with("no domain file for this problem"),
        "{}",
        rows[2].detail
    );
    // With a `domain.pddl` beside them, a problem without its own uses it.
    copy("blocks/domain.pddl", "domain.pddl");
    let pairs = pddl::suite_problems(dir.path()).unwrap();
    assert!(pairs[2].0.as_ref().unwrap().ends_with("domain.pddl"));
    assert!(pairs[0].0.as_ref().unwrap().ends_with("p01-domain.pddl"));
}
