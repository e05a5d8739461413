//! The construction-based experiments in quick mode against the `construct` crate.

use superpose_construct::capacity::capacity_study;
use superpose_graph::solve;
use superpose_lab::experiments::construct_bridge::{construction_for, THOUGHTS};
use superpose_lab::experiments::reach_capacity::{params, COLUMNS};
use superpose_lab::experiments::reach_steps::groups;
use superpose_lab::{run_experiment, ExperimentId, RunOptions, Status};

fn quick() -> RunOptions {
    RunOptions {
        quick: true,
        progress: false,
        ..RunOptions::default()
    }
}

#[test]
fn reach_capacity_rows_are_the_capacity_study() {
    let opts = quick();
    let r = run_experiment(ExperimentId::ReachCapacity, &opts).unwrap();
    assert_eq!(r.status, Status::Ok);
    let names: Vec<&str> = r.table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, COLUMNS.iter().map(|c| c.0).collect::<Vec<_>>());
    let rep = capacity_study(&params(true, opts.seed), |_, _| {}).unwrap();
    assert_eq!(r.table.rows.len(), rep.rows.len());
    let json = r.to_json();
    for (row, want) in json["rows"].as_array().unwrap().iter().zip(&rep.rows) {
        assert_eq!(row["n"], want.n);
        assert_eq!(row["d"], want.d);
        assert_eq!(row["embedding"], want.embedding.as_str());
        assert_eq!(row["tasks"], want.tasks);
        assert_eq!(row["accuracy"].as_f64().unwrap(), want.accuracy);
        assert_eq!(row["set_exact_rate"].as_f64().unwrap(), want.set_exact_rate);
    }
    assert_eq!(r.extra_tables[0].rows.len(), rep.by_size.len());
    // the theorem's setting is exact: orthonormal embeddings answer every task
    for row in json["rows"].as_array().unwrap() {
        if row["embedding"] == "orthonormal" {
            assert_eq!(row["accuracy"].as_f64().unwrap(), 1.0);
        }
    }
    assert_eq!(r.plots.len(), 3);
}

#[test]
fn reach_steps_construction_columns_match_the_construct_crate() {
    let opts = quick();
    let r = run_experiment(ExperimentId::ReachStepsVsWork, &opts).unwrap();
    let tasks_table = &r.extra_tables[0];
    let mut row = 0;
    for g in groups(true, opts.seed) {
        let tasks = g.tasks().unwrap();
        let con = construction_for(&tasks).unwrap();
        for t in &tasks {
            let run = con.run_task(t, THOUGHTS).unwrap();
            let get = |c: &str| tasks_table.get(row, c).unwrap().clone();
            assert_eq!(get("thoughts"), run.num_thoughts);
            // C = the root eccentricity (at least 1), from the graph crate independently
            let ecc = solve::eccentricity(&t.graph, t.root).value.max(1);
            assert_eq!(get("thoughts"), ecc);
            assert_eq!(get("construct_correct"), run.correct);
            assert_eq!(
                get("construct_macs"),
                run.prefill_macs + run.thought_macs + run.answer_macs
            );
            assert_eq!(get("thought_macs"), run.thought_macs);
            row += 1;
        }
    }
    assert_eq!(row, tasks_table.rows.len());
}
