//! `superpose demo` end to end: every experiment in quick mode, the report folder, and an
//! index.html that is well formed and inlines every plot.

use superpose_lab::table::html_escape;
use superpose_lab::{html_check::check_well_formed, run_demo, ExperimentId, Status};

#[test]
fn demo_writes_a_well_formed_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("superpose-report");
    let outcome = run_demo(&out, false).unwrap();
    assert_eq!(outcome.index, out.join("index.html"));
    assert_eq!(outcome.results.len(), ExperimentId::ALL.len());
    let html = std::fs::read_to_string(&outcome.index).unwrap();
    check_well_formed(&html).unwrap();
    // no external resources: the report is self-contained
    for bad in ["<script", "src=\"http", "href=\"http", "<link"] {
        assert!(!html.contains(bad), "report references {bad}");
    }
    for r in &outcome.results {
        let sub = out.join(r.id.name());
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(sub.join("results.json")).unwrap())
                .unwrap();
        assert_eq!(json["experiment"], r.id.name());
        assert!(sub.join("README.md").exists());
        match &r.status {
            Status::Ok => {
                assert_eq!(json["status"], "ok");
                assert!(!r.table.rows.is_empty(), "{} has no rows", r.id.name());
                let csv = std::fs::read_to_string(sub.join("results.csv")).unwrap();
                assert_eq!(csv.lines().count(), r.table.rows.len() + 1);
                assert!(!r.interpretation.is_empty());
                for p in &r.plots {
                    let svg = std::fs::read_to_string(sub.join(&p.file_name)).unwrap();
                    assert!(svg.contains("<svg"));
                    check_well_formed(&svg[svg.find("<svg").unwrap()..]).unwrap();
                    // the plot is inlined in the report
                    assert!(html.contains(&html_escape(&p.caption)), "{}", p.caption);
                }
            }
            Status::NotAvailable(reason) => {
                assert_eq!(json["status"], "not_available");
                assert_eq!(json["reason"], reason.as_str());
                assert!(html.contains("Not available"));
            }
        }
    }
}
