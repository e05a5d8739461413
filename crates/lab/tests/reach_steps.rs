//! `reach-steps-vs-work --quick`: the columns exist and every graph measurement equals what
//! the graph crate's solvers report for the same (regenerated) tasks.

use superpose_graph::solve;
use superpose_lab::experiments::reach_steps::{groups, loglog_slope, GROUP_COLUMNS, TASK_COLUMNS};
use superpose_lab::{run_experiment, ExperimentId, RunOptions, Status};

#[test]
fn quick_run_matches_the_graph_crate() {
    let opts = RunOptions {
        quick: true,
        progress: false,
        ..RunOptions::default()
    };
    let r = run_experiment(ExperimentId::ReachStepsVsWork, &opts).unwrap();
    assert_eq!(r.status, Status::Ok);
    let names: Vec<&str> = r.table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, GROUP_COLUMNS.iter().map(|c| c.0).collect::<Vec<_>>());
    let tasks = &r.extra_tables[0];
    assert_eq!(tasks.name, "tasks");
    assert_eq!(tasks.columns.len(), TASK_COLUMNS.len());
    let gs = groups(true, opts.seed);
    assert_eq!(r.table.rows.len(), gs.len());
    let mut row = 0;
    for (gi, g) in gs.iter().enumerate() {
        let ts = g.tasks().unwrap();
        assert_eq!(r.table.get(gi, "tasks").unwrap(), ts.len());
        let mut ecc_sum = 0.0;
        for t in &ts {
            let get = |c: &str| tasks.get(row, c).unwrap().as_u64().unwrap();
            let b = solve::bfs(&t.graph, t.root);
            assert_eq!(get("n"), t.graph.n() as u64);
            assert_eq!(get("m"), t.graph.num_edges() as u64);
            assert_eq!(get("hops"), t.hops() as u64);
            assert_eq!(get("eccentricity"), b.eccentricity() as u64);
            assert_eq!(get("bfs_edge_visits"), b.ops);
            assert_eq!(get("diameter"), solve::diameter(&t.graph).value as u64);
            let c = solve::matrix_power_reachability(&t.graph);
            assert_eq!(get("matrix_ops"), c.ops);
            assert_eq!(get("matrix_squarings"), c.squarings as u64);
            assert_eq!(
                get("reach_edge_visits"),
                solve::reach_sets(&t.graph, t.root, t.hops()).ops
            );
            ecc_sum += b.eccentricity() as f64;
            row += 1;
        }
        let mean = r.table.get(gi, "eccentricity").unwrap().as_f64().unwrap();
        assert!((mean - ecc_sum / ts.len() as f64).abs() < 1e-9);
    }
    assert_eq!(row, tasks.rows.len());
    // chains: the BFS needs n-1 rounds
    for i in 0..r.table.rows.len() {
        if r.table.get(i, "family").unwrap() == "chain" {
            let n = r.table.get(i, "n").unwrap().as_f64().unwrap();
            let ecc = r.table.get(i, "eccentricity").unwrap().as_f64().unwrap();
            assert_eq!(
                ecc,
                n - 2.0,
                "chain root reaches n-1 nodes (one distractor node)"
            );
        }
    }
    assert_eq!(r.plots.len(), 2);
}

#[test]
fn loglog_slope_recovers_exponents() {
    let cube: Vec<(f64, f64)> = (1..6)
        .map(|i| (i as f64, (i as f64).powi(3) * 2.0))
        .collect();
    assert!((loglog_slope(&cube).unwrap() - 3.0).abs() < 1e-9);
    assert_eq!(loglog_slope(&[(1.0, 1.0)]), None);
}

#[test]
fn full_size_groups_generate() {
    for g in groups(false, 7) {
        let ts = g.tasks().unwrap();
        assert_eq!(ts.len(), g.count, "{} {}", g.family_name(), g.size);
    }
}
