//! Range checks of the training config (issue 16, item 12 and the size limits of item 5): every
//! bad value is an error naming the key at its line:col, and nothing overflows.

use superpose_train::testing::MINIMAL_TOML as MINIMAL;
use superpose_train::{TrainConfig, TrainError};

/// Parses `MINIMAL` with `line` added under `[section]`; returns (line, col, message).
fn error_with(section: &str, line: &str) -> (usize, usize, String) {
    let text = MINIMAL.replace(&format!("[{section}]\n"), &format!("[{section}]\n{line}\n"));
    match TrainConfig::parse(&text, "c.toml") {
        Err(TrainError::Config { line, col, msg, .. }) => (line, col, msg),
        other => panic!("expected a config error for `{line}`, got {other:?}"),
    }
}

#[test]
fn bad_training_values_are_errors_at_their_key() {
    for (section, line, key, at) in [
        ("optim", "eps = -1", "optim.eps", 17),
        ("optim", "weight_decay = -5", "optim.weight_decay", 17),
        ("optim", "clip_norm = -1", "optim.clip_norm", 17),
        ("optim", "min_lr_ratio = 5", "optim.min_lr_ratio", 17),
        ("run", "divergence_factor = -1", "run.divergence_factor", 2),
        ("run", "divergence_factor = nan", "run.divergence_factor", 2),
    ] {
        let (l, c, msg) = error_with(section, line);
        assert!(msg.starts_with(key), "{line}: {msg}");
        assert_eq!((l, c), (at, 1), "{line}: {msg}");
    }
}

#[test]
fn sizes_are_capped_with_checked_arithmetic() {
    for (section, line, key) in [
        ("data", "node_tokens = 4000000000", "data.node_tokens"),
        ("model", "n_positions = 10000000000", "model.n_positions"),
        (
            "curriculum",
            "thoughts_per_step = 4611686018427387904",
            "curriculum.thoughts_per_step",
        ),
    ] {
        let text = if section == "curriculum" {
            format!("{MINIMAL}\n[curriculum]\n{line}\n")
        } else {
            MINIMAL.replace(&format!("[{section}]\n"), &format!("[{section}]\n{line}\n"))
        };
        let e = TrainConfig::parse(&text, "c.toml").unwrap_err().to_string();
        assert!(e.contains(key), "{line}: {e}");
        assert!(!e.starts_with("c.toml:0:0"), "{line}: {e}");
    }
    // Replacing a value: the error points at that line.
    for (from, to, key, line) in [
        ("d_model = 16", "d_model = 1000000", "model.d_model", 14),
        ("n_layer = 2", "n_layer = 100000000", "model.n_layer", 12),
        (
            "d_model = 16",
            "d_model = 8192\nn_positions = 60000",
            "model.d_model",
            14,
        ),
    ] {
        let text = MINIMAL.replace(from, to);
        let e = TrainConfig::parse(&text, "c.toml").unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("c.toml:{line}:1: {key}")),
            "{to}: {e}"
        );
    }
}

#[test]
fn a_semantic_error_reports_the_line_of_its_key() {
    let text = MINIMAL.replace("d_model = 16", "d_model = 15");
    let e = TrainConfig::parse(&text, "c.toml").unwrap_err().to_string();
    assert!(e.starts_with("c.toml:14:1: model.d_model = 15"), "{e}");
}
