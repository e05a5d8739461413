//! The `superpose` binary end to end: subcommands, JSON outputs and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn superpose(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_superpose"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run superpose")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn help_lists_every_subcommand() {
    let out = superpose(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in [
        "demo", "graph", "plan", "think", "reach", "train", "eval", "lab", "bench",
    ] {
        assert!(text.contains(sub), "--help lacks {sub}:\n{text}");
        assert!(superpose(&[sub, "--help"]).status.success(), "{sub} --help");
    }
}

#[test]
fn graph_generate_then_solve_confirms_every_label() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.json");
    let f = file.to_str().unwrap();
    let out = superpose(&[
        "graph", "generate", "--family", "prosqa", "--count", "40", "--seed", "3", "--hops", "3-4",
        "--out", f,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = superpose(&["graph", "solve", f, "--json"]);
    assert!(out.status.success());
    let v = json(&out);
    assert_eq!(v["tasks"], 40);
    assert_eq!(v["correct"], 40);
    let hops = v["mean_hops"].as_f64().unwrap();
    assert!((3.0..=4.0).contains(&hops), "mean hops {hops}");
}

#[test]
fn malformed_graph_file_is_a_clear_error_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, "[{\"edges\": [[0, 1]],}]").unwrap();
    let out = superpose(&["graph", "solve", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json"), "{err}");
}

#[test]
fn plan_exit_codes_solved_unsolvable_bad_input() {
    let x = "data/pddl/extra";
    let out = superpose(&[
        "plan",
        "solve",
        &format!("{x}/jobs-domain.pddl"),
        &format!("{x}/jobs-3-2.pddl"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["status"], "solved");
    assert_eq!(v["plan_length"], 6);
    assert!(v["levels"].as_array().unwrap().len() >= 5);
    assert!(v["time_s"].as_f64().is_some());

    let out = superpose(&[
        "plan",
        "solve",
        &format!("{x}/hole-domain.pddl"),
        &format!("{x}/holes-3-2.pddl"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["status"], "unsolvable");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad-domain.pddl");
    std::fs::write(
        &bad,
        "(define (domain d)\n  (:predicates (p))\n  (:action a :effect (forall (?x) (p))))\n",
    )
    .unwrap();
    let out = superpose(&[
        "plan",
        "solve",
        bad.to_str().unwrap(),
        &format!("{x}/jobs-3-2.pddl"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad-domain.pddl:3:"), "{err}");
}

#[test]
fn plan_graphplan_ebl_solves_at_the_same_level() {
    let x = "data/pddl/blocks";
    let mut steps = Vec::new();
    for algo in ["graphplan", "graphplan-ebl"] {
        let out = superpose(&[
            "plan",
            "solve",
            &format!("{x}/domain.pddl"),
            &format!("{x}/probBLOCKS-6-2.pddl"),
            "--algo",
            algo,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{algo}");
        let v = json(&out);
        assert_eq!(v["status"], "solved");
        steps.push(v["plan_steps"].as_u64().unwrap());
        let nodes: u64 = v["levels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["search_nodes"].as_u64().unwrap())
            .sum();
        assert!(nodes > 0, "{algo}: extraction ran");
    }
    assert_eq!(steps[0], steps[1], "both are step-optimal");
}

#[test]
fn plan_validate_reports_the_failing_step() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("bad.plan");
    std::fs::write(&plan, "(finish j1 m1)\n").unwrap();
    let x = "data/pddl/extra";
    let out = superpose(&[
        "plan",
        "validate",
        &format!("{x}/jobs-domain.pddl"),
        &format!("{x}/jobs-3-2.pddl"),
        plan.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("step 1"), "{text}");
}

#[test]
fn reach_construct_answers_the_shared_validation_file() {
    let out = superpose(&[
        "reach",
        "construct",
        "--graph",
        "data/prosqa/prosqa_valid_graph_4_coconut.json",
        "--limit",
        "20",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["tasks"], 20);
    assert_eq!(v["correct"], 20);
    assert_eq!(v["accuracy"], 1.0);
}

#[test]
fn bench_model_vs_pytorch_without_torch_fails_fast_and_clearly() {
    // `false` stands in for a Python without PyTorch.
    let out = superpose(&[
        "bench",
        "model",
        "--quick",
        "--vs-pytorch",
        "--python",
        "false",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs PyTorch"), "{err}");
    assert!(
        !err.contains("measuring"),
        "measured before checking: {err}"
    );
}

#[test]
fn bench_model_vs_pytorch_alternates_steps_with_the_partner_script() {
    // A stand-in for `python3 bench/pytorch_reference.py --serve`: it passes the `import torch`
    // probe, sends the header line, logs each command it is given and answers every step
    // with 0.5 s.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("commands.log");
    let fake = dir.path().join("python");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\n[ \"$1\" = -c ] && exit 0\n\
             echo '{{\"torch_version\": \"fake\", \"threads\": 1}}'\n\
             while read cmd; do echo \"$cmd\" >> {}; echo 0.5; done\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = superpose(&[
        "bench",
        "model",
        "--quick",
        "--vs-pytorch",
        "--python",
        fake.to_str().unwrap(),
        "--threads",
        "1",
        "--steps",
        "2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One partner step after each of ours, warm-ups included: 1 + 2 per figure, batch-32
    // generation's at most 3 timed runs included.
    let commands = std::fs::read_to_string(&log).unwrap();
    let want: Vec<&str> = ["train", "coconut", "gen1", "gen32"]
        .iter()
        .flat_map(|c| [*c; 3])
        .collect();
    assert_eq!(commands.lines().collect::<Vec<_>>(), want);
    let v = json(&out);
    let run = &v["runs"][0];
    assert_eq!(run["pytorch_version"], "fake");
    assert_eq!(run["pytorch_coconut_step_ms"], 500.0);
    let b = run["shapes"]["train_batch"].as_f64().unwrap();
    let s = run["shapes"]["train_seq"].as_f64().unwrap();
    assert_eq!(run["pytorch_train_tokens_per_s"], b * s / 0.5);
    let ratio = run["train_ratio"].as_f64().unwrap();
    let ours = run["train_tokens_per_s"].as_f64().unwrap();
    assert!((ratio - ours / (b * s / 0.5)).abs() < 1e-9 * ratio);
}

#[test]
fn bench_model_quick_json_has_the_figures_per_thread_setting() {
    let out = superpose(&[
        "bench",
        "model",
        "--quick",
        "--steps",
        "1",
        "--json",
        "--threads",
        "1,2",
        "--thoughts",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let runs = v["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    for (run, threads) in runs.iter().zip([1, 2]) {
        // Each setting ran in its own process with that many rayon threads.
        assert_eq!(run["threads"], threads);
        assert_eq!(
            run["shapes"]["coconut_latents"], 3,
            "--thoughts reaches the shapes"
        );
        assert_eq!(run["shapes"]["gen_latents"], 3);
        for k in [
            "train_tokens_per_s",
            "coconut_step_ms",
            "latent_gen_b1_tokens_per_s",
            "latent_gen_b32_tokens_per_s",
        ] {
            assert!(run[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {}", run[k]);
        }
    }
}

#[test]
fn bench_model_refuses_bad_shapes_naming_the_flag() {
    for (args, flag) in [
        (&["--heads", "3"][..], "--heads 3 must divide --d-model"),
        (&["--d-model", "0"][..], "--d-model"),
        (&["--threads", "0"][..], "--threads"),
        (&["--batch", "99999999"][..], "--batch"),
    ] {
        let mut all = vec!["bench", "model", "--quick", "--steps", "1"];
        all.extend_from_slice(args);
        let out = superpose(&all);
        assert!(!out.status.success(), "{args:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn unknown_burn_device_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_superpose"))
        .args([
            "eval",
            "--checkpoint",
            "no-such-run",
            "--data",
            "data/prosqa/prosqa_valid.json",
        ])
        .current_dir(repo())
        .env("BURN_DEVICE", "tpu")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("BURN_DEVICE=tpu") && err.contains("flex"),
        "{err}"
    );
}

/// `think --prompt` through a Hugging Face tokenizer.json (GPT-2 byte-level BPE): the prompt is
/// encoded by the tokenizer, the answer decoded by it. Needs `--features tokenizers`.
#[cfg(feature = "tokenizers")]
#[test]
fn think_reads_a_hugging_face_tokenizer_json() {
    use superpose_model::{save_checkpoint, Model, ModelConfig, ModelSize};
    let dir = tempfile::tempdir().unwrap();
    let config = ModelConfig::gpt2(ModelSize {
        vocab_size: 13,
        n_positions: 32,
        d_model: 16,
        n_layer: 1,
        n_head: 2,
    });
    let model = Model::new_seeded(&config, 3, &superpose_model::cpu_device());
    save_checkpoint(&model, dir.path()).unwrap();
    // "hi" = 6, "Ġthere" = 11 (see superpose_model::text's tests).
    std::fs::write(
        dir.path().join("tokenizer.json"),
        include_str!("../../model/tests/data/tiny-gpt2-tokenizer.json"),
    )
    .unwrap();
    let out = superpose(&[
        "think",
        "--checkpoint",
        dir.path().to_str().unwrap(),
        "--prompt",
        "hi there",
        "--mode",
        "none",
        "--max-new-tokens",
        "3",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["prompt_tokens"], serde_json::json!([6, 11]));
    let ids: Vec<u32> = v["answer_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u32)
        .collect();
    assert!(ids.len() <= 3 && ids.iter().all(|&t| t < 13));
    assert!(v["answer"].is_string());
}
