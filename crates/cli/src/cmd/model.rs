//! `superpose think` and `superpose bench model` (owner: model crate).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use superpose_model::bench::{BenchReport, BenchShapes};
use superpose_model::generate::{self, ColdStop, DecodeConfig, Sampling, ThinkConfig, ThinkMode};
use superpose_model::lexicon::Lexicon;
use superpose_model::probe::{self, EmbeddingTable};
use superpose_model::{load_checkpoint, ModelConfig, ModelSize, Slot};

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
    #[arg(long, visible_alias = "latents", default_value_t = 6)]
    thoughts: usize,
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

pub fn think(a: ThinkArgs) -> anyhow::Result<ExitCode> {
    let dev = superpose_model::default_device()?;
    let model = load_checkpoint(&a.checkpoint, &dev)
        .with_context(|| format!("loading checkpoint {}", a.checkpoint.display()))?;
    let lex = Lexicon::load(&a.checkpoint, model.config().vocab_size)?;
    let ids: Vec<u32> = match (&a.prompt, &a.tokens) {
        (Some(p), _) => lex.encode(p)?,
        (None, Some(t)) => t.clone(),
        (None, None) => bail!("give --prompt TEXT or --tokens IDS"),
    };
    if ids.is_empty() {
        bail!("the prompt is empty");
    }
    let mode = match a.mode {
        Mode::Coconut => ThinkMode::Continuous {
            thoughts: a.thoughts,
        },
        Mode::Soft => ThinkMode::Soft {
            max_thoughts: a.thoughts,
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
        bot: lex.resolve(a.bot.as_deref(), "<bot>")?,
        eot: lex.resolve(a.eot.as_deref(), "<eot>")?,
        mode,
        decode: DecodeConfig {
            max_new_tokens: a.max_new_tokens,
            // GPT-2 checkpoints end text with `<|endoftext|>`.
            eos: match lex.resolve(a.eos.as_deref(), "<eos>")? {
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
        let size = ModelSize {
            vocab_size: 100,
            n_positions: 64,
            d_model: 32,
            n_layer: 2,
            n_head: 2,
        };
        (ModelConfig::gpt2(size), BenchShapes::quick())
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
    // burn's default device: flex (CPU) unless the build has another backend or BURN_DEVICE
    // picks one of those compiled in.
    let dev = superpose_model::default_device()?;
    let mut report = BenchReport::measure(&dev, &config, &shapes, steps, |m| eprintln!("{m}"));
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
        report.compare_with_pytorch(&py)?;
    }
    if a.json {
        // Through a JSON value, so the keys print sorted as they always have.
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(&report)?)?
        );
    } else {
        println!(
            "superpose bench model ({}, {} kernels, {} threads)",
            report.backend, report.kernels, report.threads
        );
        for r in report.rows() {
            let mut s = format!("{:<34} {:>12.1} {}", r.label, r.ours, r.unit);
            if let Some((t, ratio)) = r.pytorch {
                s += &format!("   pytorch {t:>10.1}   ratio {ratio:.2}x");
            }
            println!("{s}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
