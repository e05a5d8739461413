//! Fuzzing of the ProsQA reader (issue 16): random bytes, and mutations and truncations of the
//! shipped file. The property: no panic, and either `Ok` or a typed error naming the file.
//! `SUPERPOSE_FUZZ_CASES=N` runs N cases (default 64).

use std::path::Path;

use proptest::prelude::*;
use superpose_graph::prosqa::{parse_records, records_to_json};
use superpose_util::fuzz::{cases, mutate};

/// The first three records of the shipped validation file, as JSON text.
fn base() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/prosqa/prosqa_valid.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let records = parse_records(&text, Path::new(path)).unwrap();
    records_to_json(&records[..3])
}

/// Parses and converts every record to a task (the path `graph solve` takes).
fn read(text: &str) {
    let path = Path::new("fuzz.json");
    match parse_records(text, path) {
        Ok(records) => {
            for r in &records {
                let _ = r.to_task();
            }
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.json"), "{e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..300)) {
        read(&String::from_utf8_lossy(&raw));
    }

    #[test]
    fn mutated_records_never_panic(
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..8),
        digits in prop::collection::vec(prop::sample::select(b"0123456789-e.".to_vec()), 1..12),
    ) {
        let base = base();
        read(&mutate(&base, &edits));
        // A number replaced by random digits (huge ids, negative, exponents).
        if let Some(i) = base.find(|c: char| c.is_ascii_digit()) {
            let mut t = base.clone();
            t.replace_range(i..i + 1, std::str::from_utf8(&digits).unwrap());
            read(&t);
        }
    }
}
