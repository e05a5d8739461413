//! Forward-pass behaviour: slots, padding, KV cache, attention paths, config switches.

use superpose_model::*;

mod common;
use common::{max_abs_diff, to_vec};

fn tiny() -> ModelConfig {
    ModelConfig::gpt2(ModelSize {
        vocab_size: 23,
        n_positions: 32,
        d_model: 16,
        n_layer: 2,
        n_head: 2,
    })
}

fn embedding_row(model: &Model, t: usize) -> Vec<f32> {
    let d = model.config().d_model;
    to_vec(model.token_embedding())[t * d..(t + 1) * d].to_vec()
}

#[test]
fn latent_embedding_of_token_equals_token() {
    let dev = cpu_device();
    let model = Model::new_seeded(&tiny(), 7, &dev);
    let toks = [3u32, 9, 4, 17, 1];
    let as_tokens: Vec<Slot> = toks.iter().map(|&t| Slot::Token(t)).collect();
    let mut as_latent = as_tokens.clone();
    as_latent[2] = Slot::Latent(embedding_row(&model, 4));
    as_latent[4] = Slot::Latent(embedding_row(&model, 1));
    let a = model.embed_slots(&[as_tokens], &dev).unwrap();
    let b = model.embed_slots(&[as_latent], &dev).unwrap();
    let la = to_vec(model.forward(a.into_input(false), None).logits);
    let lb = to_vec(model.forward(b.into_input(false), None).logits);
    assert!(max_abs_diff(&la, &lb) < 1e-5);
    // and a different latent changes the logits after it
    let mut other: Vec<Slot> = toks.iter().map(|&t| Slot::Token(t)).collect();
    other[2] = Slot::Latent(embedding_row(&model, 5));
    let c = model.embed_slots(&[other], &dev).unwrap();
    let lc = to_vec(model.forward(c.into_input(false), None).logits);
    assert!(max_abs_diff(&la, &lc) > 1e-4);
}

/// Left padding: a padded row gives the same logits on its real positions as the row alone.
#[test]
fn left_padding_matches_unpadded_row() {
    let dev = cpu_device();
    let model = Model::new_seeded(&tiny(), 1, &dev);
    let short = vec![Slot::Token(5), Slot::Token(6), Slot::Token(7)];
    let long: Vec<Slot> = (0..6).map(|t| Slot::Token(t + 2)).collect();
    let batch = model
        .embed_slots(&[short.clone(), long.clone()], &dev)
        .unwrap();
    assert_eq!(batch.pad, vec![3, 0]);
    let v = model.config().vocab_size;
    let both = to_vec(model.forward(batch.into_input(false), None).logits);
    let alone = model.embed_slots(&[short], &dev).unwrap();
    let alone = to_vec(model.forward(alone.into_input(false), None).logits);
    // row 0, columns 3..6
    let padded_row0 = &both[3 * v..6 * v];
    assert!(max_abs_diff(padded_row0, &alone) < 1e-5);
    let alone_long = model.embed_slots(&[long], &dev).unwrap();
    let alone_long = to_vec(model.forward(alone_long.into_input(false), None).logits);
    assert!(max_abs_diff(&both[6 * v..], &alone_long) < 1e-5);
}

/// Incremental decoding with the KV cache equals recomputing the whole (padded) sequence.
#[test]
fn kv_cache_equals_full_recompute() {
    let dev = cpu_device();
    let model = Model::new_seeded(&tiny(), 3, &dev);
    let d = model.config().d_model;
    let rows = vec![
        vec![
            Slot::Token(1),
            Slot::Token(2),
            Slot::Latent(vec![0.3; d]),
            Slot::Token(4),
            Slot::Token(8),
            Slot::Token(9),
        ],
        vec![
            Slot::Token(11),
            Slot::Latent(vec![-0.2; d]),
            Slot::Token(12),
            Slot::Token(13),
        ],
    ];
    let full = model.embed_slots(&rows, &dev).unwrap();
    let full_out = model.forward(full.clone().into_input(false), None);
    let full_logits = to_vec(full_out.logits);
    let full_hidden = to_vec(full_out.hidden);
    // Feed the same batch in chunks of 3, 1, 2 columns.
    let mut cache = KvCache::new(model.config().n_layer);
    let mut got_logits = Vec::new();
    let mut got_hidden = Vec::new();
    let (b, v) = (2, model.config().vocab_size);
    let mut start = 0;
    for len in [3usize, 1, 2] {
        let input = ForwardInput {
            embeds: full.embeds.clone().narrow(1, start, len),
            positions: full.positions.clone().narrow(1, start, len),
            key_mask: Some(full.key_mask.clone().narrow(1, start, len)),
            output_attentions: false,
        };
        let out = model.forward(input, Some(&mut cache));
        got_logits.push(to_vec(out.logits));
        got_hidden.push(to_vec(out.hidden));
        start += len;
    }
    assert_eq!(cache.len(), 6);
    // reassemble [b, 6, v] from chunks [b, len, v]
    let mut logits = vec![0f32; b * 6 * v];
    let mut hidden = vec![0f32; b * 6 * d];
    let mut col = 0;
    for (chunk, (lg, hd)) in [3usize, 1, 2]
        .iter()
        .zip(got_logits.iter().zip(&got_hidden))
    {
        for r in 0..b {
            for j in 0..*chunk {
                logits[(r * 6 + col + j) * v..(r * 6 + col + j + 1) * v]
                    .copy_from_slice(&lg[(r * chunk + j) * v..(r * chunk + j + 1) * v]);
                hidden[(r * 6 + col + j) * d..(r * 6 + col + j + 1) * d]
                    .copy_from_slice(&hd[(r * chunk + j) * d..(r * chunk + j + 1) * d]);
            }
        }
        col += chunk;
    }
    // padded positions of row 1 (columns 0,1) are not comparable; compare real ones
    for r in 0..b {
        let first = if r == 1 { 2 } else { 0 };
        for j in first..6 {
            let a = &logits[(r * 6 + j) * v..(r * 6 + j + 1) * v];
            let e = &full_logits[(r * 6 + j) * v..(r * 6 + j + 1) * v];
            assert!(max_abs_diff(a, e) < 1e-4, "row {r} col {j}");
            let a = &hidden[(r * 6 + j) * d..(r * 6 + j + 1) * d];
            let e = &full_hidden[(r * 6 + j) * d..(r * 6 + j + 1) * d];
            assert!(max_abs_diff(a, e) < 1e-4, "row {r} col {j}");
        }
    }
}

/// The explicit-softmax path (which returns attention maps) equals the fused kernel, and
/// every attention row is a distribution over allowed (causal, non-padding) keys.
#[test]
fn attention_maps_match_fused_path() {
    let dev = cpu_device();
    let model = Model::new_seeded(&tiny(), 5, &dev);
    let rows = vec![
        vec![
            Slot::Token(1),
            Slot::Token(2),
            Slot::Token(3),
            Slot::Token(4),
        ],
        vec![Slot::Token(5), Slot::Token(6)],
    ];
    let batch = model.embed_slots(&rows, &dev).unwrap();
    let fused = to_vec(model.forward(batch.clone().into_input(false), None).logits);
    let out = model.forward(batch.into_input(true), None);
    assert!(max_abs_diff(&fused, &to_vec(out.logits)) < 1e-4);
    assert_eq!(out.attentions.len(), 2);
    let p = to_vec(out.attentions[0].clone()); // [2, 2, 4, 4]
    for r in 0..2 {
        for h in 0..2 {
            for i in 0..4 {
                let row = &p[((r * 2 + h) * 4 + i) * 4..((r * 2 + h) * 4 + i + 1) * 4];
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                for (j, &w) in row.iter().enumerate() {
                    if j > i {
                        assert_eq!(w, 0.0, "future key {j} from query {i}");
                    }
                    // row 1 is left-padded by 2: real queries never see keys 0, 1
                    if r == 1 && i >= 2 && j < 2 {
                        assert_eq!(w, 0.0);
                    }
                }
            }
        }
    }
}

#[test]
fn construction_switches_run_and_differ() {
    let dev = cpu_device();
    // Every switch the hand-built construction uses, each away from GPT-2's setting.
    let switches = |activation, mlp, mlp_residual| LayerSwitches {
        activation,
        mlp,
        mlp_residual,
    };
    let cfg = ModelConfig {
        position: PositionKind::Sinusoidal { base: 10_000.0 },
        position_offset: 1,
        norm: NormKind::L2,
        placement: NormPlacement::Post,
        layers: vec![
            switches(Activation::Relu, true, false),
            switches(Activation::Threshold { eps: 0.0 }, false, true),
        ],
        attn_scale: Some(2.0),
        tie_embeddings: false,
        bias: false,
        ..tiny()
    };
    let model = Model::new_seeded(&cfg, 2, &dev);
    let names = model.to_named();
    assert!(!names.contains_key("wpe.weight"));
    assert!(!names.contains_key("h.1.mlp.c_fc.weight"));
    assert!(names.contains_key("lm_head.weight"));
    assert!(!names
        .keys()
        .any(|k| k.ends_with(".bias") || k.contains("ln_")));
    let rows = vec![vec![Slot::Token(1), Slot::Token(2), Slot::Token(3)]];
    let out = model.forward(
        model.embed_slots(&rows, &dev).unwrap().into_input(false),
        None,
    );
    // Post-L2 norm: every residual-stream vector after a block has unit length.
    let h = to_vec(out.layer_hidden[1].clone());
    for row in h.chunks(cfg.d_model) {
        let n: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-4, "norm {n}");
    }
    // LayerNorm without affine: zero mean, unit variance.
    let mut cfg2 = tiny();
    cfg2.norm = NormKind::LayerNorm {
        affine: false,
        eps: 0.0,
    };
    cfg2.placement = NormPlacement::Post;
    let m2 = Model::new_seeded(&cfg2, 2, &dev);
    let out = m2.forward(m2.embed_slots(&rows, &dev).unwrap().into_input(false), None);
    for row in to_vec(out.layer_hidden[0].clone()).chunks(16) {
        let mean: f32 = row.iter().sum::<f32>() / 16.0;
        let var: f32 = row.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / 16.0;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3);
    }
}

#[test]
fn sinusoidal_positions_follow_the_formula() {
    let t = sinusoidal_table(5, 4, 10_000.0);
    // p = 3, i = 1: freq = 10000^(-2/4) = 0.01
    assert!((t[3 * 4 + 2] - (0.03f32).sin()).abs() < 1e-6);
    assert!((t[3 * 4 + 3] - (0.03f32).cos()).abs() < 1e-6);
    assert!((t[3 * 4] - 3f32.sin()).abs() < 1e-6);
}

#[test]
fn config_errors_are_clear() {
    let mut c = tiny();
    c.n_head = 3;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("divisible by n_head"), "{e}");
    let mut c = tiny();
    c.layers = vec![LayerSwitches::default()];
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("layers has 1 entries"));
    let dev = cpu_device();
    let m = Model::new(&tiny(), &dev);
    let e = m
        .embed_slots(&[vec![Slot::Token(99)]], &dev)
        .unwrap_err()
        .to_string();
    assert!(e.contains("token id 99"), "{e}");
    let e = m
        .embed_slots(&[vec![Slot::Latent(vec![0.0; 3])]], &dev)
        .unwrap_err()
        .to_string();
    assert!(e.contains("latent has 3 values"), "{e}");
}

#[test]
fn named_round_trip_is_exact() {
    let dev = cpu_device();
    let m = Model::new_seeded(&tiny(), 4, &dev);
    let named = m.to_named();
    assert_eq!(named["h.0.attn.c_attn.weight"].shape, vec![16, 48]);
    assert_eq!(named["h.1.mlp.c_fc.weight"].shape, vec![16, 64]);
    let m2 = Model::from_named(&tiny(), &named, &dev).unwrap();
    assert_eq!(m2.to_named(), named);
    // prefixed names load too; a wrong shape is named in the error
    let mut pref: std::collections::BTreeMap<_, _> = named
        .iter()
        .map(|(k, v)| (format!("transformer.{k}"), v.clone()))
        .collect();
    assert!(Model::from_named(&tiny(), &pref, &dev).is_ok());
    pref.get_mut("transformer.h.1.ln_2.weight").unwrap().shape = vec![4, 4];
    let e = Model::from_named(&tiny(), &pref, &dev)
        .unwrap_err()
        .to_string();
    assert!(e.contains("h.1.ln_2.weight"), "{e}");
}

/// A batch of one row, fed through the KV cache one column at a time with a key mask, gives
/// finite values equal to the same row's full pass (the train crate's evaluation path).
#[test]
fn single_row_batch_cached_with_mask_is_finite_and_exact() {
    let dev = cpu_device();
    let model = Model::new_seeded(&tiny(), 5, &dev);
    let d = model.config().d_model;
    let row = vec![
        Slot::Token(2),
        Slot::Token(7),
        Slot::Latent(vec![0.3; d]),
        Slot::Token(9),
        Slot::Token(4),
    ];
    let full = model.embed_slots(std::slice::from_ref(&row), &dev).unwrap();
    let want = to_vec(model.forward(full.clone().into_input(false), None).logits);
    assert!(want.iter().all(|x| x.is_finite()));
    let v = model.config().vocab_size;
    let mut cache = KvCache::new(model.config().n_layer);
    // prefix of 3, then one column at a time, with the growing key mask
    let mut start = 0;
    for len in [3usize, 1, 1] {
        let input = ForwardInput {
            embeds: full.embeds.clone().narrow(1, start, len),
            positions: full.positions.clone().narrow(1, start, len),
            key_mask: Some(full.key_mask.clone().narrow(1, 0, start + len)),
            output_attentions: false,
        };
        let got = to_vec(model.forward(input, Some(&mut cache)).logits);
        assert!(got.iter().all(|x| x.is_finite()), "NaN at chunk {start}");
        let diff = max_abs_diff(&got, &want[start * v..(start + len) * v]);
        assert!(diff < 1e-4, "chunk at {start}: max diff {diff}");
        start += len;
    }
}
