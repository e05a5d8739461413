//! `shortcut-audit --quick`: one summary row per task set, every rule row, the twin sets
//! shortcut-free and the ProsQA sets not, numbers equal to the graph crate's audit.

use serde_json::json;
use superpose_graph::audit::{audit, DEFAULT_BAND};
use superpose_graph::prosqa::read_tasks;
use superpose_lab::{run_experiment, ExperimentId, RunOptions, Status};

#[test]
fn quick_run_separates_shortcut_free_sets_from_prosqa() {
    let opts = RunOptions {
        quick: true,
        progress: false,
        ..RunOptions::default()
    };
    let r = run_experiment(ExperimentId::ShortcutAudit, &opts).unwrap();
    assert_eq!(r.status, Status::Ok);
    let rules = &r.extra_tables[0];
    assert_eq!(rules.name, "rules");
    // Two files + prosqa 10-14 + every family's defaults + a second twin range.
    let sets = r.table.rows.len();
    assert_eq!(
        sets,
        2 + 1 + superpose_graph::generate::FAMILY_NAMES.len() + 1
    );
    assert_eq!(rules.rows.len() % sets, 0);
    let label = |i: usize| r.table.get(i, "dataset").unwrap().as_str().unwrap();
    for i in 0..sets {
        let free = r.table.get(i, "shortcut_free").unwrap();
        if label(i).starts_with("twin") {
            assert_eq!(free, &json!(true), "{}", label(i));
        } else if label(i).contains("prosqa") {
            assert_eq!(free, &json!(false), "{}", label(i));
        }
    }
    // The shipped symbolic file's row equals the library's audit of the same file.
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/prosqa/prosqa_valid_graph_4_coconut.json"
    );
    let direct = audit(&read_tasks(file).unwrap(), DEFAULT_BAND).unwrap();
    let row = (0..sets).find(|&i| label(i).contains("graph_4")).unwrap();
    assert_eq!(
        r.table.get(row, "best_root_agnostic").unwrap(),
        &json!(direct.best_root_agnostic)
    );
    assert!(direct.best_root_agnostic > 0.6);
    assert_eq!(r.plots.len(), 1);
    assert!(r.plots[0].svg.contains("<svg"));
    assert!(r.interpretation.iter().any(|s| s.contains("twin 3-4 hops")));
}
