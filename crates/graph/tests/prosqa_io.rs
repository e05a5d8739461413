//! ProsQA I/O on the shared validation splits: byte-exact round trips, labels, gold steps,
//! and clear errors on malformed input.

use std::path::Path;

use superpose_graph::prosqa::{
    parse_records, read_records, read_tasks, records_to_json, steps_path, CoconutRecord,
    ProsqaError,
};
use superpose_graph::solve::{bfs, is_shortest_path, neighbor_k, solve_task};

const COCONUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/prosqa/prosqa_valid.json"
);
const SYMBOLIC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/prosqa/prosqa_valid_graph_4_coconut.json"
);

#[test]
fn records_round_trip_byte_identical_on_both_shared_files() {
    for file in [COCONUT, SYMBOLIC] {
        let original = std::fs::read_to_string(file).unwrap();
        let records = read_records(file).unwrap();
        assert!(records.len() >= 257, "{file}: {} records", records.len());
        assert_eq!(records_to_json(&records), original, "{file}");
    }
}

#[test]
fn tasks_round_trip_byte_identical_on_both_shared_files() {
    let dir = tempfile::tempdir().unwrap();
    for (i, file) in [COCONUT, SYMBOLIC].into_iter().enumerate() {
        let tasks = read_tasks(file).unwrap();
        let out = dir.path().join(format!("out{i}.json"));
        superpose_graph::prosqa::write_tasks(&out, &tasks).unwrap();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(file).unwrap(),
            "{file}"
        );
        // And the tasks read back are the same tasks.
        assert_eq!(read_tasks(&out).unwrap(), tasks);
    }
}

#[test]
fn bfs_answer_equals_label_and_steps_are_shortest_paths_on_shared_splits() {
    for file in [COCONUT, SYMBOLIC] {
        let records = read_records(file).unwrap();
        let tasks = read_tasks(file).unwrap();
        for (i, (r, t)) in records.iter().zip(&tasks).enumerate() {
            let a = solve_task(t);
            assert_eq!(a.answer, Some(r.target), "{file} record {i}");
            assert!(a.correct && !a.distractor_reachable);
            let path = steps_path(&r.steps, &r.idx_to_symbol)
                .unwrap_or_else(|| panic!("{file} record {i}: steps do not parse"));
            assert!(
                is_shortest_path(&t.graph, r.root, r.target, &path),
                "{file} record {i}: steps are not a shortest path"
            );
            assert_eq!(t.gold_path, path);
            assert_eq!(Some(t.hops()), bfs(&t.graph, t.root).dist[t.target]);
            // The answer sentence names the target; the question offers both candidates.
            let names = &r.idx_to_symbol;
            assert_eq!(
                r.answer,
                format!("{} is a {}.", names[r.root], names[r.target])
            );
            let [c1, c2] = t.candidates();
            assert!(r.question.ends_with(&format!(
                "Is {} a {} or {}?",
                names[r.root], names[c1], names[c2]
            )));
        }
    }
}

#[test]
fn shared_neighbor_k_is_the_set_of_nodes_on_shortest_paths() {
    let tasks = read_tasks(SYMBOLIC).unwrap();
    assert_eq!(tasks.len(), 257);
    for (i, t) in tasks.iter().enumerate() {
        let given = t.neighbor_k.as_ref().expect("symbolic file has neighbor_k");
        let computed = neighbor_k(&t.graph, t.root, t.target).unwrap();
        assert_eq!(given.len(), computed.len(), "record {i}");
        for (g, c) in given.iter().zip(&computed) {
            let mut g = g.clone();
            g.sort_unstable();
            assert_eq!(&g, c, "record {i}");
        }
        assert!((3..=4).contains(&t.hops()), "record {i}: {} hops", t.hops());
    }
}

fn err_of(text: &str) -> String {
    let e = parse_records(text, Path::new("bad.json")).unwrap_err();
    e.to_string()
}

/// A valid one-node-path record as JSON, with `field` replaced by `value` (or removed).
fn record_with(field: &str, value: Option<&str>) -> String {
    let fields = [
        ("question", r#""Tom is a wumpus. Is Tom a wumpus or Bob?""#),
        ("answer", r#""Tom is a wumpus.""#),
        ("steps", r#"["Tom is a wumpus."]"#),
        ("idx_to_symbol", r#"["Tom", "Bob", "wumpus"]"#),
        ("edges", "[[0, 2]]"),
        ("root", "0"),
        ("target", "2"),
        ("neg_target", "1"),
    ];
    let body: Vec<String> = fields
        .iter()
        .filter_map(|&(k, v)| {
            if k == field {
                value.map(|x| format!("\"{k}\": {x}"))
            } else {
                Some(format!("\"{k}\": {v}"))
            }
        })
        .collect();
    format!("{{{}}}", body.join(", "))
}

#[test]
fn a_valid_handmade_record_parses() {
    let good = record_with("", None);
    let recs = parse_records(&format!("[{good}]"), Path::new("x.json")).unwrap();
    let t = recs[0].to_task().unwrap();
    assert_eq!(t.gold_path, vec![0, 2]);
    assert!(t.target_first);
    assert_eq!(records_to_json(&recs), format!("[{good}]"));
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let e = err_of("[{\"question\": \"a\",\n  \"answer\" \"b\"}]");
    assert!(e.contains("bad.json:2:"), "{e}");
    assert!(e.contains("malformed JSON"), "{e}");
}

#[test]
fn not_an_array_is_rejected() {
    let e = err_of("{\"question\": 1}");
    assert!(e.contains("bad.json") && e.contains("array"), "{e}");
}

#[test]
fn record_errors_name_record_index_and_field() {
    let good = record_with("", None);
    let cases = [
        ("target", None, "missing"),
        ("root", Some("-1"), "non-negative integer"),
        ("root", Some("1.0"), "non-negative integer"),
        ("question", Some("3"), "expected a string"),
        ("neg_target", Some("7"), "out of range"),
        ("steps", Some(r#"["ok", 5]"#), "expected a string"),
    ];
    for (field, value, message) in cases {
        let bad = record_with(field, value);
        let e = err_of(&format!("[{good}, {bad}]"));
        assert!(e.contains("bad.json"), "{e}");
        assert!(e.contains("record 1"), "{e}");
        assert!(e.contains(&format!("`{field}")), "{e}");
        assert!(e.contains(message), "{e}");
    }
    let bad = record_with("edges", Some("[[0, 2], [0]]"));
    let e = err_of(&format!("[{bad}]"));
    assert!(e.contains("record 0") && e.contains("`edges[1]`"), "{e}");
    let bad = record_with("edges", Some("[[0, 2], [0, 9]]"));
    let e = err_of(&format!("[{bad}]"));
    assert!(
        e.contains("`edges[1]`") && e.contains("out of range"),
        "{e}"
    );
    let e = err_of("[3]");
    assert!(
        e.contains("record 0") && e.contains("expected an object"),
        "{e}"
    );
}

#[test]
fn bad_neighbor_k_is_reported() {
    let good = record_with("", None);
    let with_nk = |nk: &str| format!("[{}, \"neighbor_k\": {nk}}}]", &good[..good.len() - 1]);
    let e = err_of(&with_nk(r#"{"0": [0], "x": [2]}"#));
    assert!(e.contains("record 0") && e.contains("neighbor_k.x"), "{e}");
    let e = err_of(&with_nk(r#"{"0": [0], "1": [5]}"#));
    assert!(
        e.contains("neighbor_k.1") && e.contains("out of range"),
        "{e}"
    );
    // Keys that skip a hop parse as records but not as tasks.
    let recs = parse_records(&with_nk(r#"{"0": [0], "2": [2]}"#), Path::new("b.json")).unwrap();
    let (field, _) = recs[0].to_task().unwrap_err();
    assert_eq!(field, "neighbor_k.2");
    let ok = parse_records(&with_nk(r#"{"0": [0], "1": [2]}"#), Path::new("b.json")).unwrap();
    assert_eq!(
        ok[0].to_task().unwrap().neighbor_k,
        Some(vec![vec![0], vec![2]])
    );
}

#[test]
fn missing_file_names_the_file() {
    let e = read_records("/nonexistent/prosqa.json").unwrap_err();
    assert!(matches!(e, ProsqaError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/prosqa.json"));
}

#[test]
fn strings_are_escaped_like_python_json_dumps() {
    // Python: json.dumps("é😀\"\\\n") == '"\\u00e9\\ud83d\\ude00\\"\\\\\\n"'
    let rec = CoconutRecord {
        question: "é😀\"\\\n".into(),
        answer: String::new(),
        steps: vec![],
        idx_to_symbol: vec![],
        edges: vec![],
        root: 0,
        target: 0,
        neg_target: 0,
        neighbor_k: None,
        extra: vec![],
    };
    let json = records_to_json(&[rec]);
    assert!(
        json.starts_with(r#"[{"question": "\u00e9\ud83d\ude00\"\\\n", "answer": """#),
        "{json}"
    );
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back[0]["question"], "é😀\"\\\n");
}
