//! `trained-thoughts`: without a checkpoint it says so; with a tiny trained checkpoint its
//! accuracy-by-hops rows equal what the train crate's evaluator reports.

use superpose_lab::experiments::trained::{
    checkpoint_meta, eval_tasks, shipped_checkpoints, CAUSAL_COLUMNS, COLUMNS,
};
use superpose_lab::{run_experiment, ExperimentId, RunOptions, Status};
use superpose_train::eval::EvalOptions;
use superpose_train::testing::TinyRun;
use superpose_train::trainer::{evaluate, train, TrainOptions};

#[test]
fn without_checkpoint_it_runs_the_shipped_ones_or_says_so() {
    let opts = RunOptions {
        progress: false,
        ..RunOptions::default()
    };
    let r = run_experiment(ExperimentId::TrainedThoughts, &opts).unwrap();
    let shipped = shipped_checkpoints();
    match r.status {
        Status::NotAvailable(reason) => {
            assert!(shipped.is_empty(), "shipped checkpoints were not run");
            assert!(reason.contains("--checkpoint"));
            assert!(r.table.rows.is_empty());
        }
        Status::Ok => {
            assert!(!shipped.is_empty());
            let ckpts = r.to_json()["params"]["checkpoints"]
                .as_array()
                .unwrap()
                .len();
            assert_eq!(ckpts, shipped.len());
            assert!(!r.table.rows.is_empty());
        }
    }
}

#[test]
fn trained_checkpoint_rows_match_the_train_crate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cfg = TinyRun {
        name: "lab-tiny".into(),
        checkpoint_every: 100,
        eval_every_epochs: 10,
        val_graphs: 4,
        node_tokens: 24,
        epochs: 2,
        grad_accum: 1,
        ..TinyRun::default()
    }
    .config()
    .unwrap();
    train(
        &cfg,
        &TrainOptions {
            out: out.clone(),
            resume: false,
            progress: false,
            eval: EvalOptions {
                batch_size: 4,
                ..EvalOptions::default()
            },
        },
    )
    .unwrap();
    let opts = RunOptions {
        quick: true,
        progress: false,
        checkpoints: vec![out.clone()],
        ..RunOptions::default()
    };
    let r = run_experiment(ExperimentId::TrainedThoughts, &opts).unwrap();
    assert_eq!(r.status, Status::Ok);
    let names: Vec<&str> = r.table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, COLUMNS.iter().map(|c| c.0).collect::<Vec<_>>());
    // the same evaluation through the train crate directly
    let meta = checkpoint_meta(&out).unwrap();
    let tasks = eval_tasks(&meta, 1..=4 + 3, 24, opts.seed);
    let rep = evaluate(
        &out,
        &tasks,
        &EvalOptions {
            seed: opts.seed,
            probes: true,
            ablations: false,
            ..EvalOptions::default()
        },
    )
    .unwrap();
    assert_eq!(r.table.rows.len(), rep.by_hops.len());
    let json = r.to_json();
    let mut beyond = false;
    for row in json["rows"].as_array().unwrap() {
        let h = row["hops"].as_u64().unwrap();
        let a = &rep.by_hops[&h.to_string()];
        assert_eq!(row["tasks"], a.tasks);
        assert_eq!(row["correct"], a.correct);
        assert_eq!(row["in_training_range"], (3..=4).contains(&h));
        beyond |= h > 4;
    }
    assert!(beyond, "evaluation goes beyond the training range");
    let (causal, probes) = (&r.extra_tables[0], &r.extra_tables[1]);
    assert_eq!(
        probes.rows.len(),
        rep.thought_node_inner.len() + rep.edge_attention.len()
    );
    // Causal tests inside the training range: intact, zeroed, shuffled, mean, truncated to 0
    // and 1 of the 2 thoughts, transplanted.
    let names: Vec<&str> = causal.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        CAUSAL_COLUMNS.iter().map(|c| c.0).collect::<Vec<_>>()
    );
    let tests: Vec<String> = causal
        .rows
        .iter()
        .map(|row| row[2].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        tests,
        [
            "intact",
            "zeroed",
            "shuffled",
            "mean",
            "truncated-0",
            "truncated-1",
            "transplant-edge-removed"
        ]
    );
    assert_eq!(r.plots.len(), 2);
}
