//! `superpose think` and `superpose bench model` (owner: model crate).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use superpose_model::bench::{self, BenchShapes};
use superpose_model::generate::{self, ColdStop, DecodeConfig, Sampling, ThinkConfig, ThinkMode};
use superpose_model::probe::{self, EmbeddingTable};
use superpose_model::{load_checkpoint, ModelConfig, Slot};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Mode {
    /// Continuous thought (Coconut): feed the last hidden state back K times.
    Coconut,
    /// Soft thinking: feed probability-weighted mixtures of token embeddings.
    Soft,
    /// No thoughts: plain decoding.
    None,
}

#[derive(Args)]
pub struct ThinkArgs {
    /// Checkpoint directory (model.safetensors + config.json, optional vocab.json, and with the
    /// `tokenizers` feature an optional Hugging Face tokenizer.json).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Prompt text: encoded by the checkpoint's tokenizer.json (`tokenizers` feature), else split
    /// on whitespace and looked up in its vocab.json.
    #[arg(long, conflicts_with = "tokens")]
    prompt: Option<String>,
    /// Prompt as comma-separated token ids, e.g. `5,17,3`.
    #[arg(long, value_delimiter = ',')]
    tokens: Option<Vec<u32>>,
    /// How to think between <bot> and <eot>.
    #[arg(long, value_enum, default_value_t = Mode::Coconut)]
    mode: Mode,
    /// Number of latent thoughts (coconut: exactly; soft: at most).
    #[arg(long, default_value_t = 6)]
    latents: usize,
    /// Token id (or vocab string) of <bot>; default: `<bot>` from vocab.json if present.
    #[arg(long)]
    bot: Option<String>,
    /// Token id (or vocab string) of <eot>; default: `<eot>` from vocab.json if present.
    #[arg(long)]
    eot: Option<String>,
    /// Token id (or vocab string) that ends the answer; default: `<eos>` from vocab.json if present.
    #[arg(long)]
    eos: Option<String>,
    /// Maximum answer tokens.
    #[arg(long, default_value_t = 16)]
    max_new_tokens: usize,
    /// Sampling temperature for the answer (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Top-k truncation (answer sampling and soft thoughts).
    #[arg(long)]
    top_k: Option<usize>,
    /// Top-p (nucleus) truncation (answer sampling and soft thoughts).
    #[arg(long)]
    top_p: Option<f32>,
    /// Random seed for sampling (ChaCha8).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Soft thinking cold stop: entropy threshold in nats (off when absent).
    #[arg(long)]
    cold_stop_entropy: Option<f32>,
    /// Soft thinking cold stop: consecutive low-entropy thoughts before stopping.
    #[arg(long, default_value_t = 2)]
    cold_stop_patience: usize,
    /// Number of superposition components printed per thought.
    #[arg(long, default_value_t = 5)]
    probe_k: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Reads `vocab.json` (a list of token strings, or an object token -> id) if present; every id
/// must be below the model's `vocab_size`.
fn read_vocab(dir: &Path, vocab_size: usize) -> anyhow::Result<Option<Vec<String>>> {
    let path = dir.join("vocab.json");
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: malformed JSON at line {} column {}: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let vocab = match v {
        Value::Array(a) => a
            .into_iter()
            .enumerate()
            .map(|(i, s)| match s {
                Value::String(s) => Ok(s),
                _ => bail!("{}: entry {i} is not a string", path.display()),
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        Value::Object(m) => {
            let mut out = vec![String::new(); m.len()];
            for (k, id) in m {
                let id = id
                    .as_u64()
                    .with_context(|| format!("{}: id of `{k}` is not an integer", path.display()))?
                    as usize;
                anyhow::ensure!(
                    id < vocab_size,
                    "{}: id {id} of `{k}` is not below the model's vocabulary size {vocab_size}",
                    path.display()
                );
                if id >= out.len() {
                    out.resize(id + 1, String::new());
                }
                out[id] = k;
            }
            out
        }
        _ => bail!(
            "{}: expected a list of tokens or an object token -> id",
            path.display()
        ),
    };
    Ok(Some(vocab))
}

/// How `think` maps between text and token ids: the checkpoint's `tokenizer.json` (with the
/// `tokenizers` feature), else its `vocab.json` (prompt split on whitespace), else bare ids.
struct Lexicon {
    vocab: Option<Vec<String>>,
    index: HashMap<String, u32>,
    #[cfg(feature = "tokenizers")]
    hf: Option<superpose_model::text::TextTokenizer>,
}

impl Lexicon {
    fn load(dir: &Path, vocab_size: usize) -> anyhow::Result<Self> {
        let vocab = read_vocab(dir, vocab_size)?;
        let index = vocab
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| (s.clone(), i as u32))
            .collect();
        #[cfg(feature = "tokenizers")]
        let hf = {
            let path = dir.join("tokenizer.json");
            path.exists()
                .then(|| superpose_model::text::TextTokenizer::from_file(&path))
                .transpose()?
        };
        Ok(Lexicon {
            vocab,
            index,
            #[cfg(feature = "tokenizers")]
            hf,
        })
    }

    /// The id of a vocabulary string such as `<bot>`.
    fn lookup(&self, s: &str) -> Option<u32> {
        #[cfg(feature = "tokenizers")]
        if let Some(id) = self.hf.as_ref().and_then(|t| t.id(s)) {
            return Some(id);
        }
        self.index.get(s).copied()
    }

    /// The vocabulary string of an id (the id itself when there is no vocabulary).
    fn name(&self, t: u32) -> String {
        #[cfg(feature = "tokenizers")]
        if let Some(s) = self.hf.as_ref().and_then(|h| h.token(t)) {
            return s;
        }
        self.vocab
            .as_ref()
            .and_then(|v| v.get(t as usize))
            .cloned()
            .unwrap_or_else(|| t.to_string())
    }

    /// Prompt text to ids.
    fn encode(&self, text: &str, dir: &Path) -> anyhow::Result<Vec<u32>> {
        #[cfg(feature = "tokenizers")]
        if let Some(h) = &self.hf {
            return Ok(h.encode(text)?);
        }
        let hint = if cfg!(feature = "tokenizers") {
            ""
        } else if dir.join("tokenizer.json").exists() {
            " (this build cannot read tokenizer.json: rebuild with `--features tokenizers`)"
        } else {
            ""
        };
        if self.vocab.is_none() {
            bail!(
                "--prompt needs {}/vocab.json or tokenizer.json; use --tokens instead{hint}",
                dir.display()
            );
        }
        text.split_whitespace()
            .map(|w| {
                self.index
                    .get(w)
                    .copied()
                    .with_context(|| format!("prompt word `{w}` is not in vocab.json{hint}"))
            })
            .collect()
    }

    /// The answer as text: decoded by `tokenizer.json` when there is one, else the vocabulary
    /// strings joined by spaces.
    fn answer(&self, ids: &[u32]) -> anyhow::Result<String> {
        #[cfg(feature = "tokenizers")]
        if let Some(h) = &self.hf {
            return Ok(h.decode(ids)?);
        }
        Ok(ids
            .iter()
            .map(|&t| self.name(t))
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// `--bot`/`--eot`/`--eos`: an id, or a vocabulary string; `default` when absent.
    fn resolve(&self, tok: &Option<String>, default: &str) -> anyhow::Result<Option<u32>> {
        match tok {
            Some(s) => match s.parse::<u32>() {
                Ok(id) => Ok(Some(id)),
                Err(_) => self
                    .lookup(s)
                    .map(Some)
                    .with_context(|| format!("token `{s}` is not in the checkpoint's vocabulary")),
            },
            None => Ok(self.lookup(default)),
        }
    }
}

pub fn think(a: ThinkArgs) -> anyhow::Result<ExitCode> {
    let dev = superpose_model::default_device()?;
    let model = load_checkpoint(&a.checkpoint, &dev)
        .with_context(|| format!("loading checkpoint {}", a.checkpoint.display()))?;
    let lex = Lexicon::load(&a.checkpoint, model.config().vocab_size)?;
    let ids: Vec<u32> = match (&a.prompt, &a.tokens) {
        (Some(p), _) => lex.encode(p, &a.checkpoint)?,
        (None, Some(t)) => t.clone(),
        (None, None) => bail!("give --prompt TEXT or --tokens IDS"),
    };
    if ids.is_empty() {
        bail!("the prompt is empty");
    }
    let mode = match a.mode {
        Mode::Coconut => ThinkMode::Continuous { k: a.latents },
        Mode::Soft => ThinkMode::Soft {
            max_thoughts: a.latents,
            top_k: a.top_k,
            top_p: a.top_p,
            temperature: 1.0,
            cold_stop: a.cold_stop_entropy.map(|entropy| ColdStop {
                entropy,
                patience: a.cold_stop_patience,
            }),
        },
        Mode::None => ThinkMode::None,
    };
    let sampling = if a.temperature > 0.0 {
        Sampling::Sample {
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            seed: a.seed,
        }
    } else {
        Sampling::Greedy
    };
    let cfg = ThinkConfig {
        bot: lex.resolve(&a.bot, "<bot>")?,
        eot: lex.resolve(&a.eot, "<eot>")?,
        mode,
        decode: DecodeConfig {
            max_new_tokens: a.max_new_tokens,
            // GPT-2 checkpoints end text with `<|endoftext|>`.
            eos: match lex.resolve(&a.eos, "<eos>")? {
                None if a.eos.is_none() => lex.lookup("<|endoftext|>"),
                eos => eos,
            },
            sampling,
        },
    };
    let prompt: Vec<Slot> = ids.iter().map(|&t| Slot::Token(t)).collect();
    let out = generate::think(&model, &[prompt], &cfg)?.remove(0);
    let table = EmbeddingTable::from_model(&model);
    let probes: Vec<_> = out
        .thoughts
        .iter()
        .enumerate()
        .map(|(i, t)| probe::probe_thought(&table, i, t, a.probe_k))
        .collect();
    let answer = lex.answer(&out.tokens)?;
    if a.json {
        let j = json!({
            "prompt_tokens": ids,
            "answer_tokens": out.tokens,
            "answer": answer,
            "thought_entropies": out.thought_entropies,
            "cold_stopped": out.cold_stopped,
            "truncated": out.truncated,
            "thoughts": probes,
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        for p in &probes {
            let comps: Vec<String> = p
                .nnls
                .components
                .iter()
                .take(a.probe_k)
                .map(|c| format!("{}:{:.2}", lex.name(c.token), c.score))
                .collect();
            let cos: Vec<String> = p
                .top_cosine
                .iter()
                .map(|c| format!("{}({:.2})", lex.name(c.token), c.score))
                .collect();
            println!(
                "thought {:>2}  norm {:>7.3}  nnls [{}] residual {:.2}  cosine {}",
                p.step,
                p.norm,
                comps.join(" "),
                p.nnls.relative_residual,
                cos.join(" ")
            );
        }
        if out.cold_stopped {
            println!("(cold stop after {} thoughts)", out.thoughts.len());
        }
        println!("answer: {answer}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct BenchModelArgs {
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
    /// Also run bench/pytorch_reference.py (needs `python3 -c 'import torch'`) and print ratios.
    #[arg(long)]
    vs_pytorch: bool,
    /// Python interpreter for --vs-pytorch.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Timed steps per figure (median is reported).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Tiny shapes (smoke test of the benchmark itself, numbers not comparable).
    #[arg(long)]
    quick: bool,
}

fn pytorch_script() -> PathBuf {
    let here = PathBuf::from("bench/pytorch_reference.py");
    if here.exists() {
        return here;
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../bench/pytorch_reference.py"
    ))
}

pub fn bench(a: BenchModelArgs) -> anyhow::Result<ExitCode> {
    let (config, shapes) = if a.quick {
        let s = BenchShapes {
            train_batch: 2,
            train_seq: 32,
            coconut_batch: 2,
            coconut_prefix: 8,
            coconut_latents: 2,
            coconut_answer: 8,
            gen_prompt: 8,
            gen_latents: 4,
            gen_answer: 4,
        };
        (ModelConfig::gpt2_like(100, 64, 32, 2, 2), s)
    } else {
        (ModelConfig::reference(), BenchShapes::default())
    };
    let steps = a.steps.max(1);
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; run `cargo run --release -p superpose -- bench model` for real numbers");
    }
    if a.vs_pytorch {
        // Check before measuring anything, so a missing PyTorch costs seconds, not minutes.
        let probe = std::process::Command::new(&a.python)
            .args(["-c", "import torch"])
            .output()
            .with_context(|| format!("running {}", a.python))?;
        if !probe.status.success() {
            bail!(
                "--vs-pytorch needs PyTorch: `{} -c 'import torch'` failed:\n{}\
                 run without --vs-pytorch for superpose's figures alone",
                a.python,
                String::from_utf8_lossy(&probe.stderr)
            );
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // burn's default device: flex (CPU) unless the build has another backend or BURN_DEVICE
    // picks one of those compiled in.
    let dev = superpose_model::default_device()?;
    let backend = superpose_model::backend_name(&dev);
    // Fused CPU kernels run on flex unless SUPERPOSE_FUSED=0 (burn's composite ops then).
    let kernels = if superpose_model::fused::enabled() && backend.contains("flex") {
        "fused"
    } else {
        "composite"
    };
    eprintln!("measuring training throughput on {backend} ({kernels} kernels) ...");
    let train = bench::train_tokens_per_s(&dev, &config, &shapes, 1, steps);
    eprintln!("measuring the Coconut-style step ...");
    let coconut = bench::coconut_step_ms(&dev, &config, &shapes, 1, steps);
    eprintln!("measuring latent generation ...");
    let gen1 = bench::latent_generation_tokens_per_s(&dev, &config, &shapes, 1, steps);
    let gen32 = bench::latent_generation_tokens_per_s(&dev, &config, &shapes, 32, steps.min(3));
    let mut out = json!({
        "backend": backend,
        "kernels": kernels,
        "threads": threads,
        "config": config,
        "shapes": shapes,
        "train_tokens_per_s": train,
        "coconut_step_ms": coconut,
        "latent_gen_b1_tokens_per_s": gen1,
        "latent_gen_b32_tokens_per_s": gen32,
    });
    if a.vs_pytorch {
        let script = pytorch_script();
        let mut cmd = std::process::Command::new(&a.python);
        cmd.arg(&script)
            .arg("--json")
            .arg("--steps")
            .arg(steps.to_string());
        if a.quick {
            cmd.arg("--quick");
        }
        eprintln!("running {} ...", script.display());
        let res = cmd
            .output()
            .with_context(|| format!("running {} {}", a.python, script.display()))?;
        if !res.status.success() {
            bail!(
                "{} failed (is PyTorch installed? `{} -c 'import torch'`):\n{}",
                script.display(),
                a.python,
                String::from_utf8_lossy(&res.stderr)
            );
        }
        let py: Value =
            serde_json::from_slice(&res.stdout).context("parsing the PyTorch script's JSON")?;
        let f = |k: &str| {
            py.get(k)
                .and_then(Value::as_f64)
                .with_context(|| format!("PyTorch output lacks `{k}`"))
        };
        let (pt, pc, p1, p32) = (
            f("train_tokens_per_s")?,
            f("coconut_step_ms")?,
            f("latent_gen_b1_tokens_per_s")?,
            f("latent_gen_b32_tokens_per_s")?,
        );
        let o = out.as_object_mut().expect("object");
        o.insert("pytorch_train_tokens_per_s".into(), pt.into());
        o.insert("pytorch_coconut_step_ms".into(), pc.into());
        o.insert("pytorch_latent_gen_b1_tokens_per_s".into(), p1.into());
        o.insert("pytorch_latent_gen_b32_tokens_per_s".into(), p32.into());
        o.insert("train_ratio".into(), (train / pt).into());
        // a speed ratio: > 1 means superpose is faster
        o.insert("coconut_ratio".into(), (pc / coconut).into());
        o.insert("latent_gen_b1_ratio".into(), (gen1 / p1).into());
        o.insert("latent_gen_b32_ratio".into(), (gen32 / p32).into());
        if let Some(v) = py.get("torch_version") {
            o.insert("pytorch_version".into(), v.clone());
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let g = |k: &str| out.get(k).and_then(Value::as_f64);
        let row = |label: &str, ours: &str, theirs: &str, ratio: &str, unit: &str| {
            let mut s = format!("{label:<34} {:>12.1} {unit}", g(ours).unwrap_or(f64::NAN));
            if let (Some(t), Some(r)) = (g(theirs), g(ratio)) {
                s += &format!("   pytorch {t:>10.1}   ratio {r:.2}x");
            }
            println!("{s}");
        };
        println!(
            "superpose bench model ({}, {kernels} kernels, {threads} threads)",
            out["backend"].as_str().unwrap_or("?")
        );
        row(
            "training (fwd+bwd+AdamW)",
            "train_tokens_per_s",
            "pytorch_train_tokens_per_s",
            "train_ratio",
            "tok/s",
        );
        row(
            "Coconut-style step",
            "coconut_step_ms",
            "pytorch_coconut_step_ms",
            "coconut_ratio",
            "ms   ",
        );
        row(
            "latent generation, batch 1",
            "latent_gen_b1_tokens_per_s",
            "pytorch_latent_gen_b1_tokens_per_s",
            "latent_gen_b1_ratio",
            "tok/s",
        );
        row(
            "latent generation, batch 32",
            "latent_gen_b32_tokens_per_s",
            "pytorch_latent_gen_b32_tokens_per_s",
            "latent_gen_b32_ratio",
            "tok/s",
        );
    }
    Ok(ExitCode::SUCCESS)
}
