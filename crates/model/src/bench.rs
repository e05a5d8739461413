//! Throughput measurements for `superpose bench model` (issue 4's reference shapes), and the
//! training-loss helper they share with trainers.

use std::time::Instant;

use burn::optim::{AdamWConfig, GradientsParams};
use serde::{Deserialize, Serialize};

use crate::fused;
use crate::generate::{self, DecodeConfig};
use crate::model::{ForwardInput, KvCache, Model, Slot};
use crate::{Device, Int, ModelConfig, Tensor, TensorData};

/// Mean next-token cross-entropy of `logits [b, s, v]` against `targets [b, s]` (the fused
/// kernel on the CPU backend, see [`fused::cross_entropy_sum`]).
pub fn cross_entropy(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    let [b, s, v] = logits.dims();
    let targets = targets
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("int targets");
    fused::cross_entropy_sum(logits.reshape([b * s, v]), &targets).div_scalar((b * s) as f64)
}

/// Shapes of the benchmark (issue 4 defaults).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchShapes {
    pub train_batch: usize,
    pub train_seq: usize,
    pub coconut_batch: usize,
    pub coconut_prefix: usize,
    pub coconut_latents: usize,
    pub coconut_answer: usize,
    pub gen_prompt: usize,
    pub gen_latents: usize,
    pub gen_answer: usize,
}

impl Default for BenchShapes {
    fn default() -> Self {
        Self {
            train_batch: 16,
            train_seq: 256,
            coconut_batch: 8,
            coconut_prefix: 64,
            coconut_latents: 4,
            coconut_answer: 64,
            gen_prompt: 32,
            gen_latents: 16,
            gen_answer: 16,
        }
    }
}

fn tokens(rng_state: &mut u64, n: usize, vocab: usize) -> Vec<i64> {
    (0..n)
        .map(|_| {
            *rng_state = rng_state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((*rng_state >> 33) % vocab as u64) as i64
        })
        .collect()
}

/// Training throughput: tokens/s of forward + backward + AdamW on random tokens (median of
/// `steps` timed steps after `warmup`).
pub fn train_tokens_per_s(
    dev: &Device,
    config: &ModelConfig,
    shapes: &BenchShapes,
    warmup: usize,
    steps: usize,
) -> f64 {
    let dev = &dev.clone().autodiff();
    let mut model = Model::new_seeded(config, 0, dev);
    let mut optim = AdamWConfig::new().init();
    let (b, s, v) = (shapes.train_batch, shapes.train_seq, config.vocab_size);
    let mut st = 1u64;
    let mut times = Vec::new();
    for i in 0..warmup + steps {
        let ids = tokens(&mut st, b * (s + 1), v);
        let all = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, s + 1]), dev);
        let t0 = Instant::now();
        let inp = all.clone().narrow(1, 0, s);
        let tgt = all.narrow(1, 1, s);
        let out = model.forward(ForwardInput::new(model.embed_tokens(inp), 0), None);
        let loss = cross_entropy(out.logits, tgt);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(3e-4, model, grads);
        let _ = model.wte.val().into_data(); // wait for the update
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    (b * s) as f64 / median(&mut times)
}

/// One Coconut-style training step (ms): prefix pass, `latents` sequential single-slot passes
/// (each feeding the last hidden state back, KV-cached), answer pass with loss, backward
/// through the whole chain, AdamW.
pub fn coconut_step_ms(
    dev: &Device,
    config: &ModelConfig,
    shapes: &BenchShapes,
    warmup: usize,
    steps: usize,
) -> f64 {
    let dev = &dev.clone().autodiff();
    let mut model = Model::new_seeded(config, 0, dev);
    let mut optim = AdamWConfig::new().init();
    let (b, p, k, a, v) = (
        shapes.coconut_batch,
        shapes.coconut_prefix,
        shapes.coconut_latents,
        shapes.coconut_answer,
        config.vocab_size,
    );
    let mut st = 2u64;
    let mut times = Vec::new();
    for i in 0..warmup + steps {
        let prefix =
            Tensor::<2, Int>::from_data(TensorData::new(tokens(&mut st, b * p, v), [b, p]), dev);
        let answer = Tensor::<2, Int>::from_data(
            TensorData::new(tokens(&mut st, b * (a + 1), v), [b, a + 1]),
            dev,
        );
        let t0 = Instant::now();
        let mut cache = KvCache::new(config.n_layer);
        let out = model.forward_last(
            ForwardInput::new(model.embed_tokens(prefix), 0),
            Some(&mut cache),
        );
        let mut h = out.hidden.narrow(1, p - 1, 1);
        for j in 0..k {
            let out = model.forward_last(ForwardInput::new(h, p + j), Some(&mut cache));
            h = out.hidden;
        }
        let _ = h; // the last thought only feeds the answer through the cache in this layout
        let inp = answer.clone().narrow(1, 0, a);
        let tgt = answer.narrow(1, 1, a);
        let out = model.forward(
            ForwardInput::new(model.embed_tokens(inp), p + k),
            Some(&mut cache),
        );
        let loss = cross_entropy(out.logits, tgt);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(3e-4, model, grads);
        let _ = model.wte.val().into_data();
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    1000.0 * median(&mut times)
}

/// Latent generation throughput at batch `batch`: prompt + `<bot>`, `gen_latents` continuous
/// thoughts, `<eot>`, `gen_answer` greedy tokens; generated positions (thoughts + eot + answer)
/// per second, prefill included.
pub fn latent_generation_tokens_per_s(
    dev: &Device,
    config: &ModelConfig,
    shapes: &BenchShapes,
    batch: usize,
    reps: usize,
) -> f64 {
    let model = Model::new_seeded(config, 0, dev);
    let v = config.vocab_size as u32;
    let mut st = 3u64;
    let prompts: Vec<Vec<Slot>> = (0..batch)
        .map(|_| {
            tokens(&mut st, shapes.gen_prompt, config.vocab_size - 2)
                .into_iter()
                .map(|t| Slot::Token(t as u32))
                .collect()
        })
        .collect();
    let mut times = Vec::new();
    for _ in 0..reps.max(1) + 1 {
        let t0 = Instant::now();
        let out = generate::continuous_thoughts(
            &model,
            &prompts,
            shapes.gen_latents,
            Some(v - 2),
            Some(v - 1),
            DecodeConfig::greedy(shapes.gen_answer, None),
        )
        .expect("benchmark shapes fit the model");
        assert_eq!(out[0].tokens.len(), shapes.gen_answer);
        times.push(t0.elapsed().as_secs_f64());
    }
    times.remove(0); // warm-up
    let generated = batch * (shapes.gen_latents + 1 + shapes.gen_answer);
    generated as f64 / median(&mut times)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
