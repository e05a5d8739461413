//! Shortcut audit: known rule outcomes on hand-built tasks, chance on the twin family, the
//! known shortcut on the released symbolic split.

use superpose_graph::audit::{audit, AuditError, AuditReport, DEFAULT_BAND};
use superpose_graph::generate::{generate, Family, TwinParams};
use superpose_graph::prosqa::read_tasks;
use superpose_graph::{Digraph, ReachTask};

const SYMBOLIC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/prosqa/prosqa_valid_graph_4_coconut.json"
);

/// Root 0 → 1 → 2 = target; decoy root 3 → 4 = distractor.
fn chains(target_first: bool) -> ReachTask {
    let g = Digraph::from_edges(5, [(0, 1), (1, 2), (3, 4)]).unwrap();
    ReachTask::new(g, 0, 2, 4, target_first).unwrap()
}

fn acc(r: &AuditReport, rule: &str) -> (f64, f64) {
    let row = r.row(rule).unwrap_or_else(|| panic!("no row {rule}"));
    (row.accuracy, row.ties)
}

#[test]
fn hand_built_task_gives_the_known_rule_outcomes() {
    let r = audit(&[chains(true)], DEFAULT_BAND).unwrap();
    assert_eq!(r.tasks, 1);
    // Target 2: in-degree 1, ancestors {0, 1}, 2 hops below its in-degree-0 ancestor, share
    // of in-degree-0 ancestors 1/2. Distractor 4: in-degree 1, ancestors {3}, 1 hop, share 1.
    assert_eq!(acc(&r, "higher in-degree"), (0.5, 1.0));
    assert_eq!(acc(&r, "more ancestors"), (1.0, 0.0));
    assert_eq!(acc(&r, "fewer ancestors"), (0.0, 0.0));
    assert_eq!(acc(&r, "more descendants"), (0.5, 1.0));
    assert_eq!(acc(&r, "farther from nearest in-deg-0 node"), (1.0, 0.0));
    assert_eq!(acc(&r, "longer longest path from in-deg-0"), (1.0, 0.0));
    assert_eq!(acc(&r, "more in-deg-0 ancestors"), (0.5, 1.0));
    assert_eq!(acc(&r, "higher share of in-deg-0 ancestors"), (0.0, 0.0));
    assert_eq!(acc(&r, "larger node id"), (0.0, 0.0));
    assert_eq!(acc(&r, "listed first in question"), (1.0, 0.0));
    // The target is 2 hops from the root: budgets 0 and 1 find neither candidate.
    assert_eq!(acc(&r, "root: meet within 1 hops (k+j=1)"), (0.5, 1.0));
    assert_eq!(acc(&r, "root: meet within 2 hops (k+j=2)"), (1.0, 0.0));
    assert_eq!(acc(&r, "root: full search"), (1.0, 0.0));
    assert_eq!(r.best_root_agnostic, 1.0);
    assert!(!r.shortcut_free);
    assert!(r.verdict.starts_with("shortcuts"), "{}", r.verdict);
    assert_eq!(r.rows.iter().filter(|x| x.root_aware).count(), 8);
}

#[test]
fn accuracies_average_over_tasks() {
    let r = audit(&[chains(true), chains(false)], DEFAULT_BAND).unwrap();
    assert_eq!(acc(&r, "listed first in question"), (0.5, 0.0));
    assert_eq!(acc(&r, "listed second in question"), (0.5, 0.0));
    assert_eq!(acc(&r, "more ancestors"), (1.0, 0.0));
    assert_eq!(audit(&[], DEFAULT_BAND), Err(AuditError::NoTasks));
    // The table and JSON carry every row.
    assert_eq!(r.to_table().lines().count(), r.rows.len() + 1);
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["best_root_agnostic"], 1.0);
}

#[test]
fn twin_family_has_no_root_agnostic_shortcut() {
    let tasks = generate(&Family::Twin(TwinParams::default()), 300, 11, None).unwrap();
    let r = audit(&tasks, 0.10).unwrap();
    for row in r.rows.iter().filter(|x| !x.root_aware) {
        if row.rule.contains("node id") || row.rule.contains("listed") {
            // Random relabelling and question order: chance, never a tie.
            assert!((row.accuracy - 0.5).abs() < 0.1, "{row:?}");
        } else {
            // The side swap is an automorphism: every structural statistic ties.
            assert_eq!((row.accuracy, row.ties), (0.5, 1.0), "{row:?}");
        }
    }
    assert!(r.shortcut_free, "{}", r.verdict);
    assert_eq!(acc(&r, "root: full search").0, 1.0);
    // 3-4 hops: a budget of 2 finds nothing, 4 finds every target.
    assert_eq!(acc(&r, "root: meet within 2 hops (k+j=2)"), (0.5, 1.0));
    assert_eq!(acc(&r, "root: meet within 4 hops (k+j=4)"), (1.0, 0.0));
}

#[test]
fn released_symbolic_split_shows_the_known_shortcut() {
    let tasks = read_tasks(SYMBOLIC).unwrap();
    let r = audit(&tasks, DEFAULT_BAND).unwrap();
    let (far, _) = acc(&r, "farther from nearest in-deg-0 node");
    assert!(far > 0.6, "farther-from-in-degree-0 scores {far}");
    assert!(r.best_root_agnostic >= far);
    assert!(!r.shortcut_free, "{}", r.verdict);
    assert!(acc(&r, "root: full search").0 > 0.99);
}
