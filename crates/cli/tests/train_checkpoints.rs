//! Checkpointing of `superpose train` under stops and kills (issue 16, items 8 and the kill -9
//! test): a run always leaves a checkpoint where it stops, `--resume` needs one, and a run
//! killed with SIGKILL during its saves resumes to byte-identical final weights.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use superpose_train::testing::TinyRun;

fn superpose(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_superpose"))
        .args(args)
        .output()
        .expect("run superpose")
}

/// A run of a few seconds that saves a checkpoint after every step.
fn tiny_config(dir: &Path, checkpoint_every: usize) -> PathBuf {
    let path = dir.join(format!("tiny-{checkpoint_every}.toml"));
    let run = TinyRun {
        checkpoint_every,
        eval_every_epochs: 0,
        train_graphs: 16,
        val_graphs: 4,
        n_layer: 1,
        p_mix: 0.0,
        grad_accum: 1,
        warmup_steps: 0,
        ..TinyRun::default()
    };
    std::fs::write(&path, run.toml()).unwrap();
    path
}

fn train(config: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    superpose(&args)
}

/// The weights of the checkpoint `latest` names.
fn final_weights(out: &Path) -> Vec<u8> {
    let name = std::fs::read_to_string(out.join("latest")).unwrap();
    std::fs::read(out.join(name.trim()).join("model/model.safetensors")).unwrap()
}

#[test]
fn a_stopped_run_leaves_a_checkpoint_and_resume_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path(), 500);
    let out = dir.path().join("run");
    let r = train(&cfg, &out, &["--resume"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("holds no checkpoint"));
    let r = train(&cfg, &out, &["--max-steps", "3"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        std::fs::read_to_string(out.join("latest")).unwrap(),
        "ckpt-00000003"
    );

    // A checkpoint whose meta.json claims more node tokens than the model has is refused.
    let meta = out.join("ckpt-00000003/meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["meta"]["vocab"]["n_nodes"] = serde_json::json!(100000);
    std::fs::write(&meta, v.to_string()).unwrap();
    let r = superpose(&[
        "eval",
        "--checkpoint",
        out.to_str().unwrap(),
        "--data",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/prosqa/prosqa_valid.json"
        ),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("larger than the model's"), "{err}");
}

#[test]
fn kill_9_during_saves_then_resume_ends_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path(), 1);
    let full = dir.path().join("full");
    let r = train(&cfg, &full, &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));

    // Small graphs (node ids below the config's 12 node tokens) for `eval`.
    let data = dir.path().join("small.json");
    let r = superpose(&[
        "graph",
        "generate",
        "--family",
        "prosqa",
        "--min-nodes",
        "8",
        "--max-nodes",
        "12",
        "--count",
        "2",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let killed = dir.path().join("killed");
    // Kill twice: once right after the first checkpoint appears, once after it changes on
    // the resumed run; every step saves, so the kills land during or between saves.
    for round in 0..2 {
        let mut args = vec![
            "train".to_string(),
            "--config".into(),
            cfg.display().to_string(),
            "--out".into(),
            killed.display().to_string(),
            "--quiet".into(),
        ];
        if round > 0 {
            args.push("--resume".into());
        }
        let before = std::fs::read_to_string(killed.join("latest")).ok();
        let mut child = Command::new(env!("CARGO_BIN_EXE_superpose"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        loop {
            let now = std::fs::read_to_string(killed.join("latest")).ok();
            if (now.is_some() && now != before) || start.elapsed() > Duration::from_secs(60) {
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // The directory always loads: `latest` names a complete checkpoint.
        let r = superpose(&[
            "eval",
            "--checkpoint",
            killed.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--no-probes",
            "--no-ablations",
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let r = train(&cfg, &killed, &["--resume"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(final_weights(&killed), final_weights(&full));
}
