//! The planning graph built inside the goals' cone (`PlanningGraph::goal_cone`, graphplan-sat's
//! first attempt) agrees with the full graph on every node it holds: the same presence, the same
//! fact mutexes, the same first stage with the goals non-mutex; it holds every node of the full
//! graph's own cone; and graphplan-sat's plans from it sit at classic Graphplan's level and
//! validate.

use superpose_plan::graph::PlanningGraph;
use superpose_plan::sat::Cone;
use superpose_plan::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/pddl");

/// Small problems of every domain (the full graph is built to compare against).
const PROBLEMS: &[(&str, &str)] = &[
    ("blocks", "probBLOCKS-4-0"),
    ("blocks", "probBLOCKS-6-1"),
    ("depot", "p01"),
    ("driverlog", "p01"),
    ("freecell", "p01"),
    ("gripper", "prob01"),
    ("logistics00", "probLOGISTICS-4-0"),
    ("logistics98", "prob01"),
    ("miconic", "s3-0"),
    ("mprime", "prob01"),
    ("mprime", "prob05"),
    ("rovers", "p01"),
    ("satellite", "p01-pfile1"),
    ("zenotravel", "p01"),
];

fn load_problem(domain: &str, problem: &str) -> (Domain, Problem, GroundTask) {
    load(
        format!("{DATA}/{domain}/domain.pddl"),
        format!("{DATA}/{domain}/{problem}.pddl"),
    )
    .unwrap_or_else(|e| panic!("{domain}/{problem}: {e}"))
}

#[test]
fn the_cone_graph_has_the_full_graphs_nodes_and_mutexes() {
    let mut solved_at_first_stage = 0;
    for &(domain, problem) in PROBLEMS {
        let (_, _, task) = load_problem(domain, problem);
        let name = format!("{domain}/{problem}");
        let cone = PlanningGraph::goal_cone(&task, 16, None).expect("goals reachable");
        let t = cone.t;
        let mut full = PlanningGraph::new(&task);
        while full.depth() < t {
            full.expand(usize::MAX, None).unwrap();
        }
        // The first stage with the goals non-mutex is the same (within the tries).
        let first = (0..=t)
            .find(|&i| full.all_present(i, &task.goal) && full.pairwise_non_mutex(i, &task.goal));
        assert_eq!(first == Some(t), cone.goals_non_mutex, "{name}: stage {t}");
        let c = &cone.graph;
        assert_eq!(c.depth(), t, "{name}");
        for i in 0..=t {
            let facts = &c.level(i).facts;
            assert!(facts.is_subset(&full.level(i).facts), "{name}: P_{i}");
            for p in facts.ones() {
                for q in facts.ones() {
                    assert_eq!(
                        c.facts_mutex(i, p, q),
                        full.facts_mutex(i, p, q),
                        "{name}: facts {p}, {q} at level {i}"
                    );
                }
            }
            if i < t {
                assert!(
                    c.level(i).ops.is_subset(&full.level(i).ops),
                    "{name}: A_{i}"
                );
            }
        }
        // Every node a plan of t steps can use in the full graph is in the cone graph.
        if cone.goals_non_mutex {
            solved_at_first_stage += 1;
            let whole = Cone::new(&full, t, &task.goal);
            for i in 0..=t {
                assert!(
                    whole.facts[i].is_subset(&c.level(i).facts),
                    "{name}: cone facts at {i}"
                );
                if i < t {
                    assert!(
                        whole.ops[i].is_subset(&c.level(i).ops),
                        "{name}: cone actions at {i}"
                    );
                }
            }
        }
    }
    assert!(solved_at_first_stage >= 10, "{solved_at_first_stage}");
}

#[test]
fn plans_found_inside_the_cone_are_step_optimal_and_valid() {
    let mut on_cone = 0;
    for &(domain, problem) in PROBLEMS {
        let (d, p, task) = load_problem(domain, problem);
        let name = format!("{domain}/{problem}");
        let classic = graphplan(&task, &Limits::with_time(120.0));
        let sat = graphplan_sat(&task, &Limits::with_time(120.0));
        assert_eq!(sat.summary.plan_level, classic.summary.plan_level, "{name}");
        // Operator mutex pairs are counted by classic's graph, not by SAT's (no rows kept).
        assert!(
            classic
                .levels
                .iter()
                .all(|l| l.action_mutex_pairs.is_some()),
            "{name}"
        );
        assert!(
            sat.levels[1..]
                .iter()
                .all(|l| l.action_mutex_pairs.is_none()),
            "{name}"
        );
        let plan = sat.outcome.plan().expect("SAT solves it");
        validate_plan(&d, &p, &plan.ipc_calls(&task)).expect("SAT plan validates");
        if sat.summary.goal_cone_only {
            on_cone += 1;
            // Only the first non-mutex stage was tried, and it is classic's first one.
            assert_eq!(
                sat.summary.goals_first_non_mutex, classic.summary.goals_first_non_mutex,
                "{name}"
            );
            assert!(sat.summary.extraction_failed_at.is_empty(), "{name}");
        } else {
            assert!(!classic.summary.extraction_failed_at.is_empty(), "{name}");
        }
    }
    assert!(on_cone >= 5, "{on_cone} problems solved on the goal cone");
}

/// graphplan-sat's full graph (`PlanningGraph::without_op_mutexes`: fact mutexes decided from
/// operator pairs on demand, no operator mutex rows) is Graphplan's graph: level by level, up to
/// the level-off, the same facts, operators, achievers and fact mutexes, and the same level-off.
#[test]
fn the_graph_without_operator_rows_is_graphplans_graph() {
    let mut mutex_pairs = 0;
    for &(domain, problem) in PROBLEMS
        .iter()
        .chain(&[("miconic", "s7-4"), ("freecell", "p02")])
    {
        let (_, _, task) = load_problem(domain, problem);
        let name = format!("{domain}/{problem}");
        let mut full = PlanningGraph::new(&task);
        let mut lazy = PlanningGraph::without_op_mutexes(&task);
        for _ in 0..40 {
            let i = full.depth();
            assert_eq!(lazy.depth(), i, "{name}");
            let (f, l) = (full.level(i), lazy.level(i));
            assert_eq!(l.facts, f.facts, "{name}: P_{i}");
            assert_eq!(l.fact_mutex_pairs, f.fact_mutex_pairs, "{name}: P_{i}");
            for p in f.facts.ones() {
                assert_eq!(
                    l.fact_mutex[p], f.fact_mutex[p],
                    "{name}: mutexes of {p} in P_{i}"
                );
            }
            mutex_pairs += f.fact_mutex_pairs;
            if i > 0 {
                let (fa, la) = (full.level(i - 1), lazy.level(i - 1));
                assert_eq!(la.ops, fa.ops, "{name}: A_{}", i - 1);
                assert_eq!(la.achievers, fa.achievers, "{name}: A_{}", i - 1);
                assert_eq!(la.num_actions, fa.num_actions, "{name}: A_{}", i - 1);
                assert_eq!(la.op_mutex_pairs, 0, "{name}: no operator rows");
            }
            if full.leveled_off_at.is_some() {
                break;
            }
            full.expand(usize::MAX, None).unwrap();
            lazy.expand(usize::MAX, None).unwrap();
            assert_eq!(lazy.leveled_off_at, full.leveled_off_at, "{name}");
        }
        assert!(
            full.leveled_off_at.is_some(),
            "{name}: levels off within 40"
        );
    }
    assert!(
        mutex_pairs > 10_000,
        "{mutex_pairs} fact mutex pairs compared"
    );
}
