//! Smeared keys (Olsson et al. 2022): the attention scores against a hand computation, the
//! KV cache and left padding unchanged in meaning, the `σ(α) → 1` limit equal to GPT-2, and
//! the smear logits saved and loaded by name.

use std::collections::BTreeMap;

use superpose_model::hf::BlockNames;
use superpose_model::*;

mod common;
use common::{max_abs_diff, to_vec};

fn config(smear: bool) -> ModelConfig {
    let mut c = ModelConfig::gpt2(ModelSize {
        vocab_size: 19,
        n_positions: 16,
        d_model: 8,
        n_layer: 2,
        n_head: 2,
    });
    c.smear_keys = smear;
    c
}

/// A smeared model whose smear logits are `alphas` (per head, the same in every layer).
fn smeared(seed: u64, alphas: [f32; 2]) -> (Model, BTreeMap<String, NamedTensor>) {
    let dev = cpu_device();
    let mut named = Model::new_seeded(&config(true), seed, &dev).to_named();
    for i in 0..2 {
        let n = BlockNames::new(i);
        let t = named.get_mut(&n.attn_smear).unwrap();
        assert_eq!(t.shape, vec![2], "one smear logit per head");
        t.data = alphas.to_vec();
        // Sharper attention than at initialisation, so that the keys matter.
        for w in &mut named.get_mut(&n.c_attn_weight).unwrap().data {
            *w *= 40.0;
        }
    }
    let model = Model::from_named(&config(true), &named, &dev).unwrap();
    (model, named)
}

fn tokens(ids: &[u32]) -> Vec<Slot> {
    ids.iter().map(|&t| Slot::Token(t)).collect()
}

/// Layer 0's attention probabilities, recomputed by hand from the named weights:
/// `x = wte + wpe`, LayerNorm (gain 1, bias 0 at init), `qkv = x W + b`,
/// `k'_j = σ(α)·k_j + (1 − σ(α))·k_{j−1}` with `k_{−1} = 0`, causal softmax of `q·k'/√d_h`.
fn hand_attention(
    named: &BTreeMap<String, NamedTensor>,
    ids: &[u32],
    alphas: [f32; 2],
) -> Vec<f32> {
    let (d, nh, dh) = (8usize, 2usize, 4usize);
    let (wte, wpe) = (&named["wte.weight"].data, &named["wpe.weight"].data);
    let n = BlockNames::new(0);
    let (w, bias) = (&named[&n.c_attn_weight].data, &named[&n.c_attn_bias].data);
    let s = ids.len();
    let mut qkv = vec![vec![0f32; 3 * d]; s];
    for (p, &t) in ids.iter().enumerate() {
        let t = t as usize;
        let x: Vec<f32> = (0..d).map(|c| wte[t * d + c] + wpe[p * d + c]).collect();
        let mean = x.iter().sum::<f32>() / d as f32;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / d as f32;
        let x: Vec<f32> = x.iter().map(|v| (v - mean) / (var + 1e-5).sqrt()).collect();
        for o in 0..3 * d {
            qkv[p][o] = bias[o] + (0..d).map(|c| x[c] * w[c * 3 * d + o]).sum::<f32>();
        }
    }
    let mut probs = vec![0f32; nh * s * s];
    for h in 0..nh {
        let g = 1.0 / (1.0 + (-alphas[h]).exp());
        let key = |j: usize, c: usize| {
            let prev = if j == 0 {
                0.0
            } else {
                qkv[j - 1][d + h * dh + c]
            };
            g * qkv[j][d + h * dh + c] + (1.0 - g) * prev
        };
        for i in 0..s {
            let scores: Vec<f32> = (0..=i)
                .map(|j| (0..dh).map(|c| qkv[i][h * dh + c] * key(j, c)).sum::<f32>() / 2.0)
                .collect();
            let m = scores.iter().cloned().fold(f32::MIN, f32::max);
            let z: f32 = scores.iter().map(|v| (v - m).exp()).sum();
            for (j, v) in scores.iter().enumerate() {
                probs[(h * s + i) * s + j] = (v - m).exp() / z;
            }
        }
    }
    probs
}

#[test]
fn smeared_scores_match_a_hand_computation() {
    let dev = cpu_device();
    let alphas = [2.0, -1.5];
    let (model, named) = smeared(3, alphas);
    let ids: [u32; 5] = [3, 7, 7, 1, 12];
    let batch = model.embed_slots(&[tokens(&ids)], &dev).unwrap();
    let out = model.forward(batch.into_input(true), None);
    let got = to_vec(out.attentions[0].clone());
    let want = hand_attention(&named, &ids, alphas);
    assert!(max_abs_diff(&got, &want) < 1e-5, "{got:?}\n{want:?}");
}

#[test]
fn gate_near_one_is_plain_gpt2() {
    let dev = cpu_device();
    let (model, named) = smeared(4, [40.0, 40.0]);
    let mut plain = named.clone();
    plain.retain(|k, _| !k.ends_with(".attn.smear"));
    let gpt2 = Model::from_named(&config(false), &plain, &dev).unwrap();
    let rows = [tokens(&[1, 2, 3, 4, 5])];
    let a = model.embed_slots(&rows, &dev).unwrap();
    let b = gpt2.embed_slots(&rows, &dev).unwrap();
    let la = to_vec(model.forward(a.into_input(false), None).logits);
    let lb = to_vec(gpt2.forward(b.into_input(false), None).logits);
    assert!(max_abs_diff(&la, &lb) < 1e-5);
    // A gate away from one changes the output: the smear is live.
    let (other, _) = smeared(4, [-3.0, 1.0]);
    let c = other.embed_slots(&rows, &dev).unwrap();
    let lc = to_vec(other.forward(c.into_input(false), None).logits);
    assert!(max_abs_diff(&la, &lc) > 1e-3);
}

#[test]
fn cached_chunks_and_left_padding_equal_one_pass() {
    let dev = cpu_device();
    let (model, _) = smeared(5, [0.7, -2.0]);
    let long = vec![
        Slot::Token(2),
        Slot::Token(9),
        Slot::Latent(vec![0.3; 8]),
        Slot::Token(4),
        Slot::Token(11),
        Slot::Token(6),
    ];
    let short = tokens(&[5, 6, 7]);
    let batch = model
        .embed_slots(&[long.clone(), short.clone()], &dev)
        .unwrap();
    let (b, s, v) = (2, 6, model.config().vocab_size);
    let full = to_vec(model.forward(batch.clone().into_input(false), None).logits);
    // Left padding: the short row's real positions equal the row alone.
    let alone = model.embed_slots(&[short], &dev).unwrap();
    let alone = to_vec(model.forward(alone.into_input(false), None).logits);
    assert!(max_abs_diff(&full[(s + 3) * v..2 * s * v], &alone) < 1e-5);
    // The KV cache: chunks of 2, 1, 3 columns give the same logits.
    let mut cache = KvCache::new(2);
    let mut got = vec![0f32; b * s * v];
    let mut start = 0;
    for len in [2usize, 1, 3] {
        let input = ForwardInput {
            embeds: batch.embeds.clone().narrow(1, start, len),
            positions: batch.positions.clone().narrow(1, start, len),
            key_mask: Some(batch.key_mask.clone().narrow(1, start, len)),
            output_attentions: false,
        };
        let out = to_vec(model.forward(input, Some(&mut cache)).logits);
        for r in 0..b {
            for j in 0..len {
                let dst = (r * s + start + j) * v;
                let src = (r * len + j) * v;
                got[dst..dst + v].copy_from_slice(&out[src..src + v]);
            }
        }
        start += len;
    }
    assert!(max_abs_diff(&got, &full) < 1e-4);
}

#[test]
fn smear_logits_round_trip_and_are_checked() {
    let dev = cpu_device();
    let (model, named) = smeared(6, [0.25, -0.5]);
    let back = model.to_named();
    assert_eq!(back[&BlockNames::new(1).attn_smear].data, vec![0.25, -0.5]);
    assert_eq!(back, named);
    // A smeared config without its smear tensors is a clear error naming the tensor.
    let mut missing = named.clone();
    missing.remove(&BlockNames::new(0).attn_smear);
    let err = Model::from_named(&config(true), &missing, &dev).unwrap_err();
    assert!(err.to_string().contains("h.0.attn.smear"), "{err}");
}
