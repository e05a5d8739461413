//! Hostile inputs against the binary (issue 16): every case exits 2 with a message naming the
//! flag, field or file:line:col, never a panic, an abort or a touched user file.

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

/// Runs `args`, expects exit code 2 and returns stderr.
fn bad_input(args: &[&str]) -> String {
    let out = superpose(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    err
}

const D: &str = "data/pddl/blocks/domain.pddl";
const P: &str = "data/pddl/blocks/probBLOCKS-4-0.pddl";

#[test]
fn plan_out_leaves_a_users_tmp_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("x.tmp");
    std::fs::write(&tmp, "keep").unwrap();
    let plan = dir.path().join("x.plan");
    let out = superpose(&["plan", "solve", D, P, "--out", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&tmp).unwrap(), "keep");
    assert!(std::fs::read_to_string(&plan)
        .unwrap()
        .contains("; cost = 6"));
    // Only the user's file and the plan: no temp file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn time_and_memory_limits_are_range_checked() {
    for t in ["1e300", "1e19", "nan", "-1", "0", "inf"] {
        let flag = format!("--time-limit={t}");
        let err = bad_input(&["plan", "solve", D, P, &flag]);
        assert!(err.contains("--time-limit must be"), "{t}: {err}");
    }
    let err = bad_input(&["plan", "solve", D, P, "--max-graph-mb", "17592186044416"]);
    assert!(err.contains("--max-graph-mb must be"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("b.csv");
    let err = bad_input(&[
        "plan",
        "bench",
        "data/pddl/blocks",
        "--time-limit",
        "1e19",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(err.contains("--time-limit"), "{err}");
    let lab = dir.path().join("lab");
    let err = bad_input(&[
        "lab",
        "run",
        "plan-spurious-reach",
        "--time-limit",
        "1e300",
        "--out",
        lab.to_str().unwrap(),
    ]);
    assert!(err.contains("--time-limit"), "{err}");
}

#[test]
fn deep_nesting_and_wrong_arity_are_bad_input_in_solve_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.pddl");
    let n = 100_000;
    std::fs::write(
        &deep,
        format!(
            "(define (problem p) (:domain blocks) (:objects a b c d)\n(:init (handempty))\n(:goal {}(on d c){}))",
            "(and ".repeat(n),
            ")".repeat(n)
        ),
    )
    .unwrap();
    let plan = dir.path().join("p.plan");
    std::fs::write(&plan, "(pick-up a)\n").unwrap();
    let deep = deep.to_str().unwrap();
    let err = bad_input(&["plan", "solve", D, deep]);
    assert!(
        err.contains("deep.pddl:3:") && err.contains("nesting deeper than 1000"),
        "{err}"
    );
    let err = bad_input(&["plan", "validate", D, deep, plan.to_str().unwrap()]);
    assert!(err.contains("nesting deeper than 1000"), "{err}");

    let arity = dir.path().join("arity.pddl");
    std::fs::write(
        &arity,
        std::fs::read_to_string(repo().join(P))
            .unwrap()
            .replace("(ON B A)", "(ON B A C)"),
    )
    .unwrap();
    let err = bad_input(&["plan", "solve", D, arity.to_str().unwrap()]);
    assert!(
        err.contains("arity.pddl:6:") && err.contains("takes 2 arguments, given 3"),
        "{err}"
    );
}

#[test]
fn a_tyreworld_style_domain_solves_with_a_note() {
    let d = "crates/plan/tests/data/tyre-mini-domain.pddl";
    let p = "crates/plan/tests/data/tyre-mini.pddl";
    let out = superpose(&["plan", "solve", d, p, "--parallel"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("tyre-mini-domain.pddl:13:") && err.contains("note: `wrench`"),
        "{err}"
    );
}

#[test]
fn sizes_are_capped_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("g.json");
    let f = f.to_str().unwrap();
    let err = bad_input(&[
        "graph",
        "generate",
        "--family",
        "prosqa",
        "--count",
        "100000000",
        "--out",
        f,
    ]);
    assert!(
        err.contains("count 100000000 is above the limit of 1000000"),
        "{err}"
    );
    for (flag, v) in [("--n", "10000000000"), ("--n", "1000001")] {
        let err = bad_input(&[
            "graph", "generate", "--family", "chain", flag, v, "--out", f,
        ]);
        assert!(err.contains("n <= 1000000"), "{err}");
    }
    let err = bad_input(&[
        "graph",
        "generate",
        "--family",
        "grid",
        "--rows",
        "4294967296",
        "--cols",
        "4294967296",
        "--out",
        f,
    ]);
    assert!(err.contains("rows*cols"), "{err}");
    let err = bad_input(&[
        "graph",
        "generate",
        "--family",
        "erdos-renyi",
        "--n",
        "20000",
        "--p",
        "1",
        "--out",
        f,
    ]);
    assert!(err.contains("n*n*p"), "{err}");
    let err = bad_input(&["bench", "graph", "--count", "1000000000"]);
    assert!(err.contains("limit"), "{err}");
    let err = bad_input(&[
        "reach",
        "construct",
        "--family",
        "prosqa",
        "--count",
        "1000000000",
    ]);
    assert!(err.contains("limit"), "{err}");
    let err = bad_input(&[
        "reach",
        "construct",
        "--family",
        "chain",
        "--count",
        "2",
        "--thoughts",
        "1000000",
    ]);
    assert!(err.contains("positions"), "{err}");
    let err = bad_input(&[
        "reach",
        "construct",
        "--family",
        "chain",
        "--count",
        "2",
        "--temperature-scale",
        "nan",
    ]);
    assert!(err.contains("--temperature-scale must be"), "{err}");
    let cap = dir.path().join("cap");
    let err = bad_input(&[
        "reach",
        "capacity",
        "--n",
        "100000",
        "--out",
        cap.to_str().unwrap(),
    ]);
    assert!(err.contains("limit"), "{err}");
    // One 5,000-node chain: the construction's weights would need tens of GB.
    let out = superpose(&[
        "graph", "generate", "--family", "chain", "--n", "5000", "--count", "1", "--out", f,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = bad_input(&["reach", "construct", "--graph", f]);
    assert!(err.contains("GiB"), "{err}");
    let err = bad_input(&["graph", "solve", f, "--solver", "matrix-power"]);
    assert!(
        err.contains("record 0 has 5001 nodes") || err.contains("record 0 has 5000 nodes"),
        "{err}"
    );
}

#[test]
fn io_errors_are_printed_once() {
    let err = bad_input(&[
        "graph",
        "generate",
        "--family",
        "prosqa",
        "--count",
        "2",
        "--out",
        "/nonexistent-dir/x/g.json",
    ]);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn eval_and_think_refuse_ids_beyond_the_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("huge.json");
    std::fs::write(
        &data,
        r#"[{"question": "q", "answer": "a", "steps": [], "idx_to_symbol": ["x", "y"],
             "edges": [[0, 2000000000]], "root": 0, "target": 1, "neg_target": 0}]"#,
    )
    .unwrap();
    let err = bad_input(&[
        "eval",
        "--checkpoint",
        "nowhere",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(
        err.contains("huge.json") && err.contains("record 0") && err.contains("2000000000"),
        "{err}"
    );

    use superpose_model::{save_checkpoint, Model, ModelConfig};
    let ck = dir.path().join("ck");
    let model = Model::new_seeded(
        &ModelConfig::gpt2(superpose_model::ModelSize {
            vocab_size: 13,
            n_positions: 32,
            d_model: 16,
            n_layer: 1,
            n_head: 2,
        }),
        3,
        &superpose_model::cpu_device(),
    );
    save_checkpoint(&model, &ck).unwrap();
    std::fs::write(ck.join("vocab.json"), r#"{"a": 0, "b": 1000000000000}"#).unwrap();
    let err = bad_input(&[
        "think",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--tokens",
        "0",
    ]);
    assert!(
        err.contains("vocab.json") && err.contains("1000000000000"),
        "{err}"
    );
}

#[test]
fn a_grounding_too_large_for_its_memory_limit_is_a_limit_not_an_abort() {
    // 40⁴ = 2.56 M instantiations of a four-parameter schema: over 1 MiB.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("wide.pddl");
    let p = dir.path().join("w.pddl");
    std::fs::write(
        &d,
        "(define (domain wide) (:predicates (p ?a ?b ?c ?d))
           (:action link :parameters (?a ?b ?c ?d) :precondition () :effect (p ?a ?b ?c ?d)))",
    )
    .unwrap();
    let objects: Vec<String> = (0..40).map(|i| format!("o{i}")).collect();
    std::fs::write(
        &p,
        format!(
            "(define (problem w) (:domain wide) (:objects {}) (:init) (:goal (p o0 o0 o0 o1)))",
            objects.join(" ")
        ),
    )
    .unwrap();
    let (d, p) = (d.to_str().unwrap(), p.to_str().unwrap());
    let out = superpose(&["plan", "solve", d, p, "--max-ground-mb", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("wide.pddl: grounding stopped in action `link`")
            && err.contains("over 1 MiB")
            && err.contains("--max-ground-mb"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_reader_that_closes_the_pipe_early_ends_the_output_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    // `superpose plan ground ... --list | head -c 16`: thousands of lines into a closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_superpose"))
        .args([
            "plan",
            "ground",
            "data/pddl/logistics98/domain.pddl",
            "data/pddl/logistics98/prob05.pddl",
            "--list",
        ])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // The read end is closed here.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}
