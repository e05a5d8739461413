//! Decoding and thinking against full recomputation; probes against known mixtures.

use superpose_model::generate::*;
use superpose_model::probe::*;
use superpose_model::*;

mod common;
use common::to_vec;

/// With `ThoughtScale::Embedding` each fed-back thought is the last hidden state rescaled to
/// the mean norm of the token embedding rows (computed here by hand), and the cached
/// generation equals full recomputation with those scaled thoughts.
#[test]
fn embedding_scaled_thoughts_have_the_token_norm() {
    let (plain, dev) = model();
    let mut cfg = plain.config().clone();
    cfg.thought_scale = ThoughtScale::Embedding;
    let m = Model::from_named(&cfg, &plain.to_named(), &dev).unwrap();
    let wte = &plain.to_named()["wte.weight"];
    let d = wte.shape[1];
    let mean_norm = wte
        .data
        .chunks(d)
        .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt())
        .sum::<f32>()
        / wte.shape[0] as f32;
    assert!((m.thought_norm().unwrap() - mean_norm).abs() < 1e-5);
    assert_eq!(plain.thought_norm(), None);
    let (bot, eot) = (27u32, 28u32);
    let prompt = vec![Slot::Token(2), Slot::Token(9), Slot::Token(4)];
    let out = generate::continuous_thoughts(
        &m,
        std::slice::from_ref(&prompt),
        3,
        Some(bot),
        Some(eot),
        DecodeConfig::greedy(2, None),
    )
    .unwrap();
    let mut row = prompt.clone();
    row.push(Slot::Token(bot));
    for k in 0..3 {
        let (_, h) = full_last(&m, &dev, &row);
        let len = h.iter().map(|v| v * v).sum::<f32>().sqrt();
        let want: Vec<f32> = h.iter().map(|v| v * mean_norm / len).collect();
        let got = &out[0].thoughts[k];
        let diff = want
            .iter()
            .zip(got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-4, "thought {k}: {diff}");
        row.push(Slot::Latent(want));
    }
}

fn model() -> (Model, Device) {
    let dev = cpu_device();
    (
        Model::new_seeded(
            &ModelConfig::gpt2(ModelSize {
                vocab_size: 29,
                n_positions: 40,
                d_model: 16,
                n_layer: 2,
                n_head: 2,
            }),
            11,
            &dev,
        ),
        dev,
    )
}

/// Full (uncached) pass over one row: (last logits, last hidden).
fn full_last(m: &Model, dev: &Device, row: &[Slot]) -> (Vec<f32>, Vec<f32>) {
    let out = m.forward(
        m.embed_slots(&[row.to_vec()], dev)
            .unwrap()
            .into_input(false),
        None,
    );
    let s = row.len();
    (
        to_vec(out.logits.narrow(1, s - 1, 1)),
        to_vec(out.hidden.narrow(1, s - 1, 1)),
    )
}

fn argmax(v: &[f32]) -> u32 {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0 as u32
}

#[test]
fn greedy_batched_cached_equals_full_recompute() {
    let (m, dev) = model();
    let prompts = vec![
        vec![
            Slot::Token(3),
            Slot::Token(4),
            Slot::Token(5),
            Slot::Token(6),
            Slot::Token(7),
        ],
        vec![Slot::Token(8), Slot::Token(1)],
    ];
    let got = generate::greedy(&m, &prompts, 6, None).unwrap();
    for (r, p) in prompts.iter().enumerate() {
        let mut row = p.clone();
        let mut want = vec![];
        for _ in 0..6 {
            let t = argmax(&full_last(&m, &dev, &row).0);
            want.push(t);
            row.push(Slot::Token(t));
        }
        assert_eq!(got[r], want, "row {r}");
    }
}

#[test]
fn continuous_thoughts_feed_back_the_last_hidden_state() {
    let (m, dev) = model();
    let (bot, eot) = (27u32, 28u32);
    let prompts = vec![
        vec![Slot::Token(2), Slot::Token(9), Slot::Token(4)],
        vec![Slot::Token(5)],
    ];
    let out = generate::continuous_thoughts(
        &m,
        &prompts,
        3,
        Some(bot),
        Some(eot),
        DecodeConfig::greedy(4, None),
    )
    .unwrap();
    for (r, p) in prompts.iter().enumerate() {
        let mut row = p.clone();
        row.push(Slot::Token(bot));
        assert_eq!(out[r].thoughts.len(), 3);
        for k in 0..3 {
            let (_, h) = full_last(&m, &dev, &row);
            let diff = h
                .iter()
                .zip(&out[r].thoughts[k])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(diff < 1e-4, "row {r} thought {k}: {diff}");
            row.push(Slot::Latent(h));
        }
        row.push(Slot::Token(eot));
        let mut want = vec![];
        for _ in 0..4 {
            let t = argmax(&full_last(&m, &dev, &row).0);
            want.push(t);
            row.push(Slot::Token(t));
        }
        assert_eq!(out[r].tokens, want, "row {r}");
    }
}

#[test]
fn soft_thinking_mixes_embeddings_and_cold_stops() {
    let (m, dev) = model();
    let table = EmbeddingTable::from_model(&m);
    let prompt = vec![vec![Slot::Token(2), Slot::Token(9)]];
    // top_k = 2: each thought is p1 e_a + p2 e_b with the renormalised top-2 probabilities.
    let out = generate::soft_thinking(
        &m,
        &prompt,
        2,
        Some(2),
        None,
        None,
        Some(27),
        Some(28),
        DecodeConfig::greedy(2, None),
    )
    .unwrap();
    assert_eq!(out[0].thoughts.len(), 2);
    let mut row = prompt[0].clone();
    row.push(Slot::Token(27));
    for k in 0..2 {
        let (lg, _) = full_last(&m, &dev, &row);
        let dist = truncated_distribution(&lg, 1.0, Some(2), None);
        assert_eq!(dist.len(), 2);
        let mut want = vec![0f32; 16];
        for (t, p) in &dist {
            for (w, e) in want.iter_mut().zip(table.row(*t as usize)) {
                *w += p * e;
            }
        }
        let diff = want
            .iter()
            .zip(&out[0].thoughts[k])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-4, "thought {k}: {diff}");
        row.push(Slot::Latent(want));
    }
    // Cold stop with a threshold above any entropy: stops before the first thought.
    let cs = ColdStop {
        entropy: 100.0,
        patience: 1,
    };
    let out = generate::soft_thinking(
        &m,
        &prompt,
        5,
        None,
        Some(0.9),
        Some(cs),
        Some(27),
        Some(28),
        DecodeConfig::greedy(2, None),
    )
    .unwrap();
    assert!(out[0].cold_stopped);
    assert!(out[0].thoughts.is_empty());
    assert_eq!(out[0].tokens.len(), 2);
    // A threshold below any entropy never stops early.
    let cs = ColdStop {
        entropy: 0.0,
        patience: 1,
    };
    let out = generate::soft_thinking(
        &m,
        &prompt,
        3,
        None,
        None,
        Some(cs),
        Some(27),
        Some(28),
        DecodeConfig::greedy(1, None),
    )
    .unwrap();
    assert!(!out[0].cold_stopped);
    assert_eq!(out[0].thoughts.len(), 3);
}

#[test]
fn sampling_is_seeded_and_top_k_one_is_greedy() {
    let (m, _) = model();
    let p = vec![vec![Slot::Token(1), Slot::Token(2)]; 3];
    let a = generate::sample(&m, &p, 8, None, 1.5, None, Some(0.95), 42).unwrap();
    let b = generate::sample(&m, &p, 8, None, 1.5, None, Some(0.95), 42).unwrap();
    assert_eq!(a, b);
    let g = generate::greedy(&m, &p, 8, None).unwrap();
    let k1 = generate::sample(&m, &p, 8, None, 1.0, Some(1), None, 7).unwrap();
    assert_eq!(g, k1);
    // high temperature over 3 identical rows: rows draw independently from one stream
    let hot = generate::sample(&m, &p, 8, None, 5.0, None, None, 3).unwrap();
    assert!(hot[0] != hot[1] || hot[1] != hot[2]);
}

#[test]
fn eos_stops_a_row_and_context_limit_truncates() {
    let (m, _) = model();
    let p = vec![vec![Slot::Token(1), Slot::Token(2)]];
    let g = generate::greedy(&m, &p, 5, None).unwrap();
    let eos = g[0][1];
    let e = generate::greedy(&m, &p, 5, Some(eos)).unwrap();
    let stop = g[0].iter().position(|&t| t == eos).unwrap();
    assert_eq!(e[0], g[0][..=stop].to_vec());
    // n_positions 40: a 38-slot prompt leaves room for 2 more inputs, i.e. 3 tokens
    let long = vec![(0..38).map(|i| Slot::Token(i % 20)).collect::<Vec<_>>()];
    let out = generate::think(
        &m,
        &long,
        &ThinkConfig {
            bot: None,
            eot: None,
            mode: ThinkMode::None,
            decode: DecodeConfig::greedy(10, None),
        },
    )
    .unwrap();
    assert!(out[0].truncated);
    assert_eq!(out[0].tokens.len(), 3);
}

#[test]
fn half_half_mixture_is_recovered_by_nnls() {
    let dev = cpu_device();
    // d (32) > vocab (20): embeddings are linearly independent, so the decomposition is unique.
    let m = Model::new_seeded(
        &ModelConfig::gpt2(ModelSize {
            vocab_size: 20,
            n_positions: 16,
            d_model: 32,
            n_layer: 1,
            n_head: 2,
        }),
        5,
        &dev,
    );
    let table = EmbeddingTable::from_model(&m);
    let mix: Vec<f32> = table
        .row(3)
        .iter()
        .zip(table.row(7))
        .map(|(a, b)| 0.5 * a + 0.5 * b)
        .collect();
    // the mixture runs through the model as a latent slot
    let rows = vec![vec![
        Slot::Token(1),
        Slot::Latent(mix.clone()),
        Slot::Token(2),
    ]];
    let out = m.forward(m.embed_slots(&rows, &dev).unwrap().into_input(false), None);
    assert!(to_vec(out.logits).iter().all(|x| x.is_finite()));
    for cands in [8, 20] {
        let r = nnls(&table, &mix, cands);
        assert!(r.relative_residual < 1e-3, "{r:?}");
        let w = |t: u32| {
            r.components
                .iter()
                .find(|c| c.token == t)
                .map_or(0.0, |c| c.score)
        };
        assert!(
            (w(3) - 0.5).abs() < 1e-3 && (w(7) - 0.5).abs() < 1e-3,
            "{r:?}"
        );
        let rest: f32 = r
            .components
            .iter()
            .filter(|c| c.token != 3 && c.token != 7)
            .map(|c| c.score)
            .sum();
        assert!(rest < 1e-3, "{r:?}");
    }
    let cos: Vec<u32> = top_k_cosine(&table, &mix, 2)
        .iter()
        .map(|c| c.token)
        .collect();
    assert!(cos.contains(&3) && cos.contains(&7));
    let inner = top_k_inner(&table, table.row(5), 1);
    assert_eq!(inner[0].token, 5);
    assert!((thought_norms(&[vec![3.0, 4.0]])[0] - 5.0).abs() < 1e-6);
    // a negative direction is not representable: NNLS keeps coefficients >= 0
    let neg: Vec<f32> = table.row(3).iter().map(|x| -x).collect();
    let r = nnls(&table, &neg, 20);
    assert!(r.components.iter().all(|c| c.score > 0.0));
    assert!(r.relative_residual > 0.5);
}

#[test]
fn logit_lens_last_layer_matches_logits() {
    let (m, dev) = model();
    let rows = vec![vec![Slot::Token(1), Slot::Token(2), Slot::Token(3)]];
    let b = m.embed_slots(&rows, &dev).unwrap();
    let lens = logit_lens(&m, b.clone().into_input(false), 0, 2, 3);
    assert_eq!(lens.len(), 2);
    let logits = to_vec(m.forward(b.into_input(false), None).logits.narrow(1, 2, 1));
    assert_eq!(lens[1].top[0].token, argmax(&logits));
    let p: f32 = lens[0].top.iter().map(|c| c.score).sum();
    assert!(p > 0.0 && p <= 1.0 + 1e-5);
}
