//! Fuzzing of the checkpoint loader (issue 16): a saved checkpoint with `config.json` or
//! `model.safetensors` mutated or truncated. The property: no panic, and either `Ok` or a typed
//! error. `SUPERPOSE_FUZZ_CASES=N` runs N cases (default 64).

use proptest::prelude::*;
use superpose_model::checkpoint::{CONFIG_FILE, WEIGHTS_FILE};
use superpose_model::*;
use superpose_util::fuzz::{cases, mutate_bytes as mutate};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn mutated_checkpoints_never_panic(
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..6),
        which in 0u8..3,
        digits in prop::collection::vec(prop::sample::select(b"0123456789-e.".to_vec()), 1..14),
    ) {
        let dev = cpu_device();
        let dir = tempfile::tempdir().unwrap();
        let model = Model::new(&ModelConfig::gpt2(ModelSize {
            vocab_size: 12,
            n_positions: 16,
            d_model: 8,
            n_layer: 1,
            n_head: 2,
        }), &dev);
        save_checkpoint(&model, dir.path()).unwrap();
        let cfg = dir.path().join(CONFIG_FILE);
        let weights = dir.path().join(WEIGHTS_FILE);
        match which {
            0 => {
                let b = std::fs::read(&cfg).unwrap();
                std::fs::write(&cfg, mutate(&b, &edits)).unwrap();
            }
            1 => {
                let b = std::fs::read(&weights).unwrap();
                std::fs::write(&weights, mutate(&b, &edits)).unwrap();
            }
            _ => {
                // One number of config.json replaced (huge sizes, negatives, exponents).
                let text = std::fs::read_to_string(&cfg).unwrap();
                let keys: Vec<usize> = text.match_indices("\": ").map(|(i, _)| i + 3).collect();
                let at = keys[edits[0].1 % keys.len()];
                let end = text[at..].find([',', '\n']).map_or(text.len(), |j| at + j);
                let mut t = text.clone();
                t.replace_range(at..end, std::str::from_utf8(&digits).unwrap());
                std::fs::write(&cfg, t).unwrap();
            }
        }
        let _ = load_checkpoint(dir.path(), &dev);
    }
}
