//! Fuzzing of the training-config loader and the training crate's ProsQA reader (issue 16):
//! random bytes, and mutations and truncations of the shipped files. The property: no panic,
//! and either `Ok` or a typed error naming the file. `SUPERPOSE_FUZZ_CASES=N` runs N cases per
//! target (default 64).

use proptest::prelude::*;
use superpose_train::{data::read_prosqa, TrainConfig, TrainError};
use superpose_util::fuzz::{cases, mutate};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn edits() -> impl Strategy<Value = Vec<(u8, usize, u8)>> {
    prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..8)
}

fn parse_config(text: &str) {
    match TrainConfig::parse(text, "fuzz.toml") {
        Ok(_) => {}
        Err(TrainError::Config { file, .. }) => assert_eq!(file, "fuzz.toml"),
        Err(e) => panic!("not a config error: {e}"),
    }
}

/// A value in a config replaced by random digits and signs (huge, negative, NaN-like).
fn with_number(text: &str, digits: &[u8]) -> String {
    let mut t = text.to_string();
    if let Some(i) = t.find(" = ").map(|i| i + 3) {
        let end = t[i..].find('\n').map_or(t.len(), |j| i + j);
        t.replace_range(i..end, std::str::from_utf8(digits).unwrap());
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn config_loader_never_panics(
        e in edits(),
        raw in prop::collection::vec(any::<u8>(), 0..200),
        digits in prop::collection::vec(prop::sample::select(b"0123456789-+e.naif".to_vec()), 1..24),
        line in 0usize..40,
    ) {
        parse_config(&String::from_utf8_lossy(&raw));
        for name in ["rbs-cpu.toml", "cot-cpu.toml"] {
            let base = std::fs::read_to_string(format!("{ROOT}/configs/{name}")).unwrap();
            parse_config(&mutate(&base, &e));
            // One value replaced: pick the `line`-th `key = value` line.
            let mut lines: Vec<String> = base.lines().map(String::from).collect();
            let keyed: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(" = ")).collect();
            let i = keyed[line % keyed.len()];
            lines[i] = with_number(&lines[i], &digits);
            parse_config(&lines.join("\n"));
        }
    }

    #[test]
    fn prosqa_reader_never_panics(e in edits()) {
        let path = format!("{ROOT}/data/prosqa/prosqa_valid.json");
        let text = std::fs::read_to_string(&path).unwrap();
        // The first two records keep each case fast.
        let cut = text.match_indices("}, {").nth(1).map_or(text.len(), |(i, _)| i + 1);
        let base = format!("{}]", &text[..cut]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fuzz.json");
        std::fs::write(&file, mutate(&base, &e)).unwrap();
        match read_prosqa(&file) {
            Ok(_) => {}
            Err(err) => assert!(err.to_string().contains("fuzz.json"), "{err}"),
        }
    }
}
