//! Throughput measurements for `superpose bench model` (issue 4's reference shapes), the
//! typed report it prints ([`BenchReport`]), and the training-loss helper the measurements
//! share with trainers.

use std::time::Instant;

use burn::optim::GradientsParams;
use serde::{Deserialize, Serialize};

use crate::fused;
use crate::generate::{self, DecodeConfig};
use crate::model::{ForwardInput, KvCache, Model, Slot};
use crate::optim::{AdamW, AdamWConfig};
use crate::{Device, Int, ModelConfig, ModelError, ModelSize, Tensor, TensorData};

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchShapes {
    /// Training: batch × sequence of random tokens.
    pub train_batch: usize,
    pub train_seq: usize,
    /// Coconut step: prefix (KV cache), `coconut_latents` single-slot thought passes, answer.
    pub coconut_batch: usize,
    pub coconut_prefix: usize,
    pub coconut_latents: usize,
    pub coconut_answer: usize,
    /// Latent generation: prompt + `<bot>`, thoughts, `<eot>`, greedy answer tokens.
    pub gen_prompt: usize,
    pub gen_latents: usize,
    pub gen_answer: usize,
}

impl Default for BenchShapes {
    fn default() -> Self {
        BenchSetup::preset(ShapePreset::Reference).shapes
    }
}

impl BenchShapes {
    /// Tiny shapes: a smoke test of the benchmark itself (numbers not comparable).
    pub fn quick() -> Self {
        BenchSetup::preset(ShapePreset::Quick).shapes
    }

    /// Tokens one training step reads.
    pub fn train_tokens(&self) -> usize {
        self.train_batch * self.train_seq
    }

    /// Positions one generation run produces at batch `batch` (thoughts, `<eot>`, answer).
    pub fn generated(&self, batch: usize) -> usize {
        batch * (self.gen_latents + 1 + self.gen_answer)
    }

    /// Longest sequence any figure runs (rows of the position table it needs).
    pub fn max_len(&self) -> usize {
        let coconut = self.coconut_prefix + self.coconut_latents + self.coconut_answer;
        let gen = self.gen_prompt + 1 + self.gen_latents + 1 + self.gen_answer;
        self.train_seq.max(coconut).max(gen)
    }
}

/// The named setups of `superpose bench model --shape`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShapePreset {
    /// Issue 4's reference: 4 layers, d 256, 4 heads, vocab 1000; training 16 × 256, Coconut
    /// step batch 8 (prefix 64, 4 thoughts, answer 64), generation 32 + 16 thoughts + 16.
    Reference,
    /// The CPU training recipe (`configs/twin-coconut.toml`): 2 layers, d 128, 4 heads, vocab
    /// 48; batch 64 of ~50 tokens, 4 thoughts.
    Recipe,
    /// Tiny shapes: a smoke test of the benchmark itself (numbers not comparable).
    Quick,
}

/// Per-flag changes to a preset (`None` keeps the preset's value).
#[derive(Clone, Copy, Debug, Default)]
pub struct ShapeOverrides {
    pub d_model: Option<usize>,
    pub n_layer: Option<usize>,
    pub n_head: Option<usize>,
    pub vocab_size: Option<usize>,
    /// Training sequence length.
    pub seq: Option<usize>,
    /// Batch of training and of the Coconut step.
    pub batch: Option<usize>,
    /// Thoughts of the Coconut step and of latent generation.
    pub thoughts: Option<usize>,
}

/// Model size and shapes of one benchmark: the one description both sides run
/// (`bench/pytorch_reference.py --setup JSON` reads it serialised).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchSetup {
    pub size: ModelSize,
    pub shapes: BenchShapes,
}

/// Largest model dimension, layer count, batch or sequence `bench model` accepts.
const MAX_BENCH_DIM: usize = 1 << 16;

impl BenchSetup {
    pub fn preset(p: ShapePreset) -> Self {
        let (size, shapes) = match p {
            ShapePreset::Reference => ((1000, 256, 256, 4, 4), [16, 256, 8, 64, 4, 64, 32, 16, 16]),
            ShapePreset::Recipe => ((48, 64, 128, 2, 4), [64, 50, 64, 44, 4, 4, 44, 4, 3]),
            ShapePreset::Quick => ((100, 64, 32, 2, 2), [2, 32, 2, 8, 2, 8, 8, 4, 4]),
        };
        let (vocab_size, n_positions, d_model, n_layer, n_head) = size;
        let [train_batch, train_seq, coconut_batch, coconut_prefix, coconut_latents, coconut_answer, gen_prompt, gen_latents, gen_answer] =
            shapes;
        BenchSetup {
            size: ModelSize {
                vocab_size,
                n_positions,
                d_model,
                n_layer,
                n_head,
            },
            shapes: BenchShapes {
                train_batch,
                train_seq,
                coconut_batch,
                coconut_prefix,
                coconut_latents,
                coconut_answer,
                gen_prompt,
                gen_latents,
                gen_answer,
            },
        }
    }

    /// The preset with `o` applied; the position table grows to the longest sequence.
    pub fn with(mut self, o: &ShapeOverrides) -> Self {
        let z = &mut self.size;
        z.d_model = o.d_model.unwrap_or(z.d_model);
        z.n_layer = o.n_layer.unwrap_or(z.n_layer);
        z.n_head = o.n_head.unwrap_or(z.n_head);
        z.vocab_size = o.vocab_size.unwrap_or(z.vocab_size);
        let sh = &mut self.shapes;
        sh.train_seq = o.seq.unwrap_or(sh.train_seq);
        if let Some(b) = o.batch {
            sh.train_batch = b;
            sh.coconut_batch = b;
        }
        if let Some(t) = o.thoughts {
            sh.coconut_latents = t;
            sh.gen_latents = t;
        }
        z.n_positions = z.n_positions.max(sh.max_len() + 1);
        self
    }

    /// Checks the sizes (`--d-model` and the other flags): positive, within
    /// [`MAX_BENCH_DIM`], heads dividing the width, a vocabulary with room for `<bot>` and
    /// `<eot>`.
    pub fn validate(&self) -> Result<(), ModelError> {
        let z = &self.size;
        let sh = &self.shapes;
        let dims = [
            ("--d-model", z.d_model),
            ("--layers", z.n_layer),
            ("--heads", z.n_head),
            ("--vocab", z.vocab_size),
            ("--seq", sh.train_seq),
            ("--batch", sh.train_batch),
            ("--batch", sh.coconut_batch),
        ];
        for (flag, v) in dims {
            if v == 0 || v > MAX_BENCH_DIM {
                return Err(ModelError::Input(format!(
                    "{flag} must be in 1..={MAX_BENCH_DIM}, got {v}"
                )));
            }
        }
        if sh.coconut_latents > MAX_BENCH_DIM {
            return Err(ModelError::Input(format!(
                "--thoughts must be at most {MAX_BENCH_DIM}, got {}",
                sh.coconut_latents
            )));
        }
        if !z.d_model.is_multiple_of(z.n_head) {
            return Err(ModelError::Input(format!(
                "--heads {} must divide --d-model {}",
                z.n_head, z.d_model
            )));
        }
        if z.vocab_size < 3 {
            return Err(ModelError::Input(format!(
                "--vocab must be at least 3 (room for <bot> and <eot>), got {}",
                z.vocab_size
            )));
        }
        Ok(())
    }

    /// The GPT-2-family configuration measured.
    pub fn config(&self) -> ModelConfig {
        ModelConfig::gpt2(self.size)
    }
}

/// What `superpose bench model` measured at one thread setting; its `--json` output lists
/// these, serialised.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchReport {
    /// The backend measured ([`crate::backend_name`]).
    pub backend: String,
    /// `fused` (this crate's CPU kernels) or `composite` (burn's ops).
    pub kernels: String,
    pub threads: usize,
    pub config: ModelConfig,
    pub shapes: BenchShapes,
    pub train_tokens_per_s: f64,
    pub coconut_step_ms: f64,
    pub latent_gen_b1_tokens_per_s: f64,
    pub latent_gen_b32_tokens_per_s: f64,
    /// The PyTorch figures of the same invocation and the ratios, with `--vs-pytorch`.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub pytorch: Option<PyTorchComparison>,
}

/// `bench/pytorch_reference.py`'s figures beside ours; every ratio is a speed ratio, > 1 means
/// superpose is faster.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PyTorchComparison {
    pub pytorch_train_tokens_per_s: f64,
    pub pytorch_coconut_step_ms: f64,
    pub pytorch_latent_gen_b1_tokens_per_s: f64,
    pub pytorch_latent_gen_b32_tokens_per_s: f64,
    pub train_ratio: f64,
    pub coconut_ratio: f64,
    pub latent_gen_b1_ratio: f64,
    pub latent_gen_b32_ratio: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pytorch_version: Option<serde_json::Value>,
}

/// The four figures of the benchmark (the commands of `bench/pytorch_reference.py --serve`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Figure {
    Train,
    Coconut,
    GenB1,
    GenB32,
}

impl Figure {
    /// The figure's command word.
    pub fn name(self) -> &'static str {
        match self {
            Figure::Train => "train",
            Figure::Coconut => "coconut",
            Figure::GenB1 => "gen1",
            Figure::GenB32 => "gen32",
        }
    }
}

/// One figure of the report as a table row.
pub struct BenchRow {
    pub label: &'static str,
    pub ours: f64,
    pub unit: &'static str,
    /// PyTorch's figure and the speed ratio, when compared.
    pub pytorch: Option<(f64, f64)>,
}

impl BenchReport {
    /// Measure the four figures on `dev` (`steps` timed steps each, at most 3 for batch-32
    /// generation); `progress` hears what is being measured. `between(figure, timed)` is
    /// called after each of our steps (warm-up steps too, with `timed` false), outside our
    /// timing: an interleaved comparison runs the other framework's step of the same figure
    /// there, so that both sides' steps alternate and see the same machine.
    pub fn measure(
        dev: &Device,
        config: &ModelConfig,
        shapes: &BenchShapes,
        steps: usize,
        progress: impl Fn(&str),
        between: &mut dyn FnMut(Figure, bool),
    ) -> Self {
        let backend = crate::backend_name(dev);
        // Fused CPU kernels run on flex unless SUPERPOSE_FUSED=0 (burn's composite ops then).
        let kernels = if fused::enabled() && backend.contains("flex") {
            "fused"
        } else {
            "composite"
        }
        .to_string();
        progress(&format!(
            "measuring training throughput on {backend} ({kernels} kernels) ..."
        ));
        let train = train_step_times(dev, config, shapes, 1, steps, &mut |t| {
            between(Figure::Train, t)
        });
        let train = shapes.train_tokens() as f64 / median_of(train);
        progress("measuring the Coconut-style step ...");
        let coconut = coconut_step_times(dev, config, shapes, 1, steps, &mut |t| {
            between(Figure::Coconut, t)
        });
        let coconut = 1000.0 * median_of(coconut);
        progress("measuring latent generation ...");
        let mut gen = |batch: usize, reps: usize, f: Figure| {
            let times =
                latent_generation_times(dev, config, shapes, batch, reps, &mut |t| between(f, t));
            shapes.generated(batch) as f64 / median_of(times)
        };
        let gen1 = gen(1, steps, Figure::GenB1);
        let gen32 = gen(32, steps.min(3), Figure::GenB32);
        BenchReport {
            backend,
            kernels,
            threads: rayon::current_num_threads(),
            config: config.clone(),
            shapes: shapes.clone(),
            train_tokens_per_s: train,
            coconut_step_ms: coconut,
            latent_gen_b1_tokens_per_s: gen1,
            latent_gen_b32_tokens_per_s: gen32,
            pytorch: None,
        }
    }

    /// Add the figures of `bench/pytorch_reference.py --json` (its output `py`) and the ratios.
    pub fn compare_with_pytorch(&mut self, py: &serde_json::Value) -> Result<(), ModelError> {
        let f = |k: &str| {
            py.get(k)
                .and_then(serde_json::Value::as_f64)
                .ok_or_else(|| ModelError::Input(format!("PyTorch output lacks `{k}`")))
        };
        let (pt, pc, p1, p32) = (
            f("train_tokens_per_s")?,
            f("coconut_step_ms")?,
            f("latent_gen_b1_tokens_per_s")?,
            f("latent_gen_b32_tokens_per_s")?,
        );
        self.pytorch = Some(PyTorchComparison {
            pytorch_train_tokens_per_s: pt,
            pytorch_coconut_step_ms: pc,
            pytorch_latent_gen_b1_tokens_per_s: p1,
            pytorch_latent_gen_b32_tokens_per_s: p32,
            train_ratio: self.train_tokens_per_s / pt,
            // a time: PyTorch's over ours is the speed ratio
            coconut_ratio: pc / self.coconut_step_ms,
            latent_gen_b1_ratio: self.latent_gen_b1_tokens_per_s / p1,
            latent_gen_b32_ratio: self.latent_gen_b32_tokens_per_s / p32,
            pytorch_version: py.get("torch_version").cloned(),
        });
        Ok(())
    }

    /// The four figures as table rows, in the order they are measured.
    pub fn rows(&self) -> [BenchRow; 4] {
        let p = self.pytorch.as_ref();
        let row = |label, ours, unit, theirs: Option<(f64, f64)>| BenchRow {
            label,
            ours,
            unit,
            pytorch: theirs,
        };
        [
            row(
                "training (fwd+bwd+AdamW)",
                self.train_tokens_per_s,
                "tok/s",
                p.map(|p| (p.pytorch_train_tokens_per_s, p.train_ratio)),
            ),
            row(
                "Coconut-style step",
                self.coconut_step_ms,
                "ms   ",
                p.map(|p| (p.pytorch_coconut_step_ms, p.coconut_ratio)),
            ),
            row(
                "latent generation, batch 1",
                self.latent_gen_b1_tokens_per_s,
                "tok/s",
                p.map(|p| (p.pytorch_latent_gen_b1_tokens_per_s, p.latent_gen_b1_ratio)),
            ),
            row(
                "latent generation, batch 32",
                self.latent_gen_b32_tokens_per_s,
                "tok/s",
                p.map(|p| {
                    (
                        p.pytorch_latent_gen_b32_tokens_per_s,
                        p.latent_gen_b32_ratio,
                    )
                }),
            ),
        ]
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

/// Training steps (forward + backward + AdamW on random tokens): the seconds of each of the
/// `steps` timed steps after `warmup`; `between(timed)` runs after each step, outside its
/// timing (see [`BenchReport::measure`]).
pub fn train_step_times(
    dev: &Device,
    config: &ModelConfig,
    shapes: &BenchShapes,
    warmup: usize,
    steps: usize,
    between: &mut dyn FnMut(bool),
) -> Vec<f64> {
    let dev = &dev.clone().autodiff();
    let mut model = Model::new_seeded(config, 0, dev);
    let mut optim = AdamW::new();
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
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(&AdamWConfig::TORCH, 3e-4, model, &mut grads, 1.0);
        let _ = model.wte.val().into_data(); // wait for the update
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
        between(i >= warmup);
    }
    times
}

/// Coconut-style training steps: prefix pass, `latents` sequential single-slot passes (each
/// feeding the last hidden state back, KV-cached), answer pass with loss, backward through the
/// whole chain, AdamW. The seconds of each of the `steps` timed steps after `warmup`;
/// `between(timed)` runs after each step, outside its timing.
pub fn coconut_step_times(
    dev: &Device,
    config: &ModelConfig,
    shapes: &BenchShapes,
    warmup: usize,
    steps: usize,
    between: &mut dyn FnMut(bool),
) -> Vec<f64> {
    let dev = &dev.clone().autodiff();
    let mut model = Model::new_seeded(config, 0, dev);
    let mut optim = AdamW::new();
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
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(&AdamWConfig::TORCH, 3e-4, model, &mut grads, 1.0);
        let _ = model.wte.val().into_data();
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
        between(i >= warmup);
    }
    times
}

/// Latent generation at batch `batch`: prompt + `<bot>`, `gen_latents` continuous thoughts,
/// `<eot>`, `gen_answer` greedy tokens, prefill included. The seconds of each of `reps` timed
/// runs (at least one) after one warm-up; `between(timed)` runs after each run, outside its
/// timing.
pub fn latent_generation_times(
    dev: &Device,
    config: &ModelConfig,
    shapes: &BenchShapes,
    batch: usize,
    reps: usize,
    between: &mut dyn FnMut(bool),
) -> Vec<f64> {
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
    for i in 0..reps.max(1) + 1 {
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
        if i > 0 {
            times.push(t0.elapsed().as_secs_f64()); // the first run is the warm-up
        }
        between(i > 0);
    }
    times
}

/// The median of at least one timing.
fn median_of(times: Vec<f64>) -> f64 {
    superpose_util::median(times).expect("at least one timed step")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> BenchReport {
        BenchReport {
            backend: "burn flex (CPU)".into(),
            kernels: "fused".into(),
            threads: 2,
            config: ModelConfig::reference(),
            shapes: BenchShapes::default(),
            train_tokens_per_s: 7000.0,
            coconut_step_ms: 200.0,
            latent_gen_b1_tokens_per_s: 2400.0,
            latent_gen_b32_tokens_per_s: 6000.0,
            pytorch: None,
        }
    }

    #[test]
    fn report_json_has_the_documented_keys_and_ratios() {
        let keys = |r: &BenchReport| -> Vec<String> {
            let v = serde_json::to_value(r).unwrap();
            v.as_object().unwrap().keys().cloned().collect()
        };
        let mut r = report();
        assert_eq!(
            keys(&r),
            [
                "backend",
                "coconut_step_ms",
                "config",
                "kernels",
                "latent_gen_b1_tokens_per_s",
                "latent_gen_b32_tokens_per_s",
                "shapes",
                "threads",
                "train_tokens_per_s"
            ]
        );
        let py = serde_json::json!({
            "torch_version": "2.9.0",
            "train_tokens_per_s": 3500.0,
            "coconut_step_ms": 100.0,
            "latent_gen_b1_tokens_per_s": 800.0,
            "latent_gen_b32_tokens_per_s": 6000.0,
        });
        r.compare_with_pytorch(&py).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        // Speed ratios, > 1 = superpose faster (the step is a time: PyTorch's over ours).
        assert_eq!(v["train_ratio"], 2.0);
        assert_eq!(v["coconut_ratio"], 0.5);
        assert_eq!(v["latent_gen_b1_ratio"], 3.0);
        assert_eq!(v["latent_gen_b32_ratio"], 1.0);
        assert_eq!(v["pytorch_version"], "2.9.0");
        assert_eq!(v["pytorch_coconut_step_ms"], 100.0);
        assert_eq!(keys(&r).len(), 18);
        let rows = r.rows();
        assert_eq!(rows[1].label, "Coconut-style step");
        assert_eq!(rows[1].pytorch, Some((100.0, 0.5)));
        // A PyTorch output without a figure is an error naming it.
        let e = report()
            .compare_with_pytorch(&serde_json::json!({"train_tokens_per_s": 1.0}))
            .unwrap_err();
        assert!(e.to_string().contains("coconut_step_ms"), "{e}");
    }

    #[test]
    fn recipe_is_the_twin_training_shape_and_overrides_grow_the_positions() {
        let r = BenchSetup::preset(ShapePreset::Recipe);
        let z = r.size;
        assert_eq!((z.n_layer, z.d_model, z.n_head), (2, 128, 4));
        assert_eq!((r.shapes.train_batch, r.shapes.coconut_latents), (64, 4));
        assert!(r.size.n_positions > r.shapes.max_len());
        r.validate().unwrap();
        let long = r.clone().with(&ShapeOverrides {
            seq: Some(300),
            thoughts: Some(6),
            batch: Some(8),
            ..ShapeOverrides::default()
        });
        assert_eq!(long.shapes.max_len(), 300);
        assert_eq!(long.size.n_positions, 301);
        assert_eq!((long.shapes.coconut_batch, long.shapes.gen_latents), (8, 6));
        assert_eq!(
            BenchShapes::default(),
            BenchSetup::preset(ShapePreset::Reference).shapes
        );
        let bad = r.with(&ShapeOverrides {
            n_head: Some(5),
            ..ShapeOverrides::default()
        });
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--heads 5"));
    }
}
