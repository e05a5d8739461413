//! `superpose think` and `superpose bench model` (owner: model crate).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use superpose_model::bench::{BenchReport, BenchSetup, Figure, ShapeOverrides, ShapePreset};
use superpose_model::generate::{self, ColdStop, DecodeConfig, Sampling, ThinkConfig, ThinkMode};
use superpose_model::lexicon::Lexicon;
use superpose_model::probe::{self, EmbeddingTable};
use superpose_model::{load_checkpoint, Slot};

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

/// `--shape`: the named setups of the benchmark.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shape {
    /// 4 layers, d 256, 4 heads, vocab 1000; training 16 × 256 (issue 4's reference).
    Reference,
    /// The CPU training recipe: 2 layers, d 128, 4 heads; batch 64 of ~50 tokens, 4 thoughts.
    Recipe,
    /// Tiny shapes: a smoke test of the benchmark itself (numbers not comparable).
    Quick,
}

impl From<Shape> for ShapePreset {
    fn from(s: Shape) -> Self {
        match s {
            Shape::Reference => ShapePreset::Reference,
            Shape::Recipe => ShapePreset::Recipe,
            Shape::Quick => ShapePreset::Quick,
        }
    }
}

#[derive(Args)]
pub struct BenchModelArgs {
    /// Print the figures as JSON (`{"runs": [one report per thread setting]}`).
    #[arg(long)]
    json: bool,
    /// Also run bench/pytorch_reference.py (needs `python3 -c 'import torch'`) and print ratios;
    /// its steps alternate with ours, one each in turn, so both see the same machine.
    #[arg(long)]
    vs_pytorch: bool,
    /// Python interpreter for --vs-pytorch.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Timed steps per figure (median is reported).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Named setup; the flags below change single sizes of it.
    #[arg(long, value_enum, default_value_t = Shape::Reference)]
    shape: Shape,
    /// Same as `--shape quick`.
    #[arg(long)]
    quick: bool,
    /// Model width.
    #[arg(long)]
    d_model: Option<usize>,
    /// Transformer blocks.
    #[arg(long)]
    layers: Option<usize>,
    /// Attention heads (must divide --d-model).
    #[arg(long)]
    heads: Option<usize>,
    /// Vocabulary size.
    #[arg(long)]
    vocab: Option<usize>,
    /// Training sequence length.
    #[arg(long)]
    seq: Option<usize>,
    /// Batch of training and of the Coconut step.
    #[arg(long)]
    batch: Option<usize>,
    /// Thoughts of the Coconut step and of latent generation.
    #[arg(long)]
    thoughts: Option<usize>,
    /// Thread settings to measure, comma-separated: a count or `all` (each in its own process,
    /// `RAYON_NUM_THREADS` for superpose and `torch.set_num_threads` for PyTorch).
    #[arg(long, default_value = "1,all", value_delimiter = ',')]
    threads: Vec<String>,
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

/// The environment variable that carries one thread setting's run to a child process.
const CHILD_RUN: &str = "SUPERPOSE_BENCH_CHILD";

/// `--threads` entries as counts (`all` = the machine's cores).
fn thread_settings(list: &[String]) -> anyhow::Result<Vec<usize>> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = Vec::new();
    for t in list {
        let n = match t.trim() {
            "all" => all,
            x => match x.parse::<usize>() {
                Ok(n) if (1..=4096).contains(&n) => n,
                _ => bail!("--threads: `{t}` is not a thread count in 1..=4096 or `all`"),
            },
        };
        if !out.contains(&n) {
            out.push(n);
        }
    }
    anyhow::ensure!(!out.is_empty(), "--threads: give at least one setting");
    Ok(out)
}

pub fn bench(a: BenchModelArgs) -> anyhow::Result<ExitCode> {
    let preset = if a.quick { Shape::Quick } else { a.shape };
    let setup = BenchSetup::preset(preset.into()).with(&ShapeOverrides {
        d_model: a.d_model,
        n_layer: a.layers,
        n_head: a.heads,
        vocab_size: a.vocab,
        seq: a.seq,
        batch: a.batch,
        thoughts: a.thoughts,
    });
    setup.validate()?;
    let steps = a.steps.max(1);
    let settings = thread_settings(&a.threads)?;
    if std::env::var_os(CHILD_RUN).is_some() {
        // One thread setting, measured in this process (its rayon pool has that many threads).
        let report = measure_here(&setup, steps, a.vs_pytorch.then_some(a.python.as_str()))?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
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
    let mut runs = Vec::new();
    for &n in &settings {
        eprintln!("{n} thread(s):");
        runs.push(measure_child(n)?);
    }
    if a.json {
        // Through a JSON value, so the keys print sorted as they always have.
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(json!({ "runs": runs }))?)?
        );
    } else {
        for report in &runs {
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
    }
    Ok(ExitCode::SUCCESS)
}

/// Measure in this process (a child started by [`measure_child`]); with `python`, PyTorch's
/// steps alternate with ours on as many threads and its figures and the ratios are added.
fn measure_here(
    setup: &BenchSetup,
    steps: usize,
    python: Option<&str>,
) -> anyhow::Result<BenchReport> {
    // burn's default device: flex (CPU) unless the build has another backend or BURN_DEVICE
    // picks one of those compiled in.
    let dev = superpose_model::default_device()?;
    let threads = superpose_model::compute_threads();
    let mut partner = python
        .map(|py| PyTorchPartner::start(py, setup, threads))
        .transpose()?;
    let mut report = BenchReport::measure(
        &dev,
        &setup.config(),
        &setup.shapes,
        steps,
        |m| eprintln!("  {m}"),
        &mut |f, timed| {
            if let Some(p) = partner.as_mut() {
                p.step(f, timed)
            }
        },
    );
    if let Some(p) = partner {
        report.compare_with_pytorch(&p.figures(setup)?)?;
    }
    Ok(report)
}

/// `bench/pytorch_reference.py --serve` on the same setup: runs PyTorch's step of a figure
/// whenever we have run ours, and keeps its timings.
struct PyTorchPartner {
    child: std::process::Child,
    to: std::process::ChildStdin,
    from: std::io::BufReader<std::process::ChildStdout>,
    /// The script's first line: torch version and threads.
    header: Value,
    times: std::collections::HashMap<Figure, Vec<f64>>,
    /// The first failure; later steps are skipped and `figures` reports it.
    failed: Option<anyhow::Error>,
}

impl PyTorchPartner {
    fn start(python: &str, setup: &BenchSetup, threads: usize) -> anyhow::Result<Self> {
        use std::process::{Command, Stdio};
        let script = pytorch_script();
        eprintln!("  starting {} --serve ...", script.display());
        let mut child = Command::new(python)
            .arg(&script)
            .arg("--serve")
            .arg("--threads")
            .arg(threads.to_string())
            .arg("--setup")
            .arg(serde_json::to_string(setup)?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("running {python} {}", script.display()))?;
        let to = child.stdin.take().context("the PyTorch script's stdin")?;
        let from = std::io::BufReader::new(child.stdout.take().context("its stdout")?);
        let mut partner = PyTorchPartner {
            child,
            to,
            from,
            header: Value::Null,
            times: Default::default(),
            failed: None,
        };
        let line = partner.read_line()?;
        partner.header = serde_json::from_str(&line)
            .with_context(|| format!("{}: first line is not JSON: {line:?}", script.display()))?;
        Ok(partner)
    }

    fn read_line(&mut self) -> anyhow::Result<String> {
        use std::io::BufRead;
        let mut line = String::new();
        if self.from.read_line(&mut line)? == 0 {
            bail!(
                "{} --serve ended early (is PyTorch installed? `python3 -c 'import torch'`)",
                pytorch_script().display()
            );
        }
        Ok(line.trim().to_string())
    }

    /// PyTorch's step of `figure`, kept when `timed`.
    fn step(&mut self, figure: Figure, timed: bool) {
        if self.failed.is_some() {
            return;
        }
        let run = |p: &mut Self| -> anyhow::Result<f64> {
            use std::io::Write;
            writeln!(p.to, "{}", figure.name())?;
            p.to.flush()?;
            let line = p.read_line()?;
            line.parse::<f64>()
                .with_context(|| format!("PyTorch's {} step: not seconds: {line:?}", figure.name()))
        };
        match run(self) {
            Ok(s) if timed => self.times.entry(figure).or_default().push(s),
            Ok(_) => {}
            Err(e) => self.failed = Some(e),
        }
    }

    /// The figures in `bench/pytorch_reference.py --json`'s keys (medians of the kept steps).
    fn figures(mut self, setup: &BenchSetup) -> anyhow::Result<Value> {
        drop(self.to); // end of input: the script exits
        let _ = self.child.wait();
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut median = |f: Figure| {
            let times = self.times.remove(&f).unwrap_or_default();
            superpose_util::median(times).with_context(|| format!("no PyTorch {} step", f.name()))
        };
        let sh = &setup.shapes;
        Ok(json!({
            "torch_version": self.header.get("torch_version"),
            "threads": self.header.get("threads"),
            "train_tokens_per_s": sh.train_tokens() as f64 / median(Figure::Train)?,
            "coconut_step_ms": 1000.0 * median(Figure::Coconut)?,
            "latent_gen_b1_tokens_per_s": sh.generated(1) as f64 / median(Figure::GenB1)?,
            "latent_gen_b32_tokens_per_s": sh.generated(32) as f64 / median(Figure::GenB32)?,
        }))
    }
}

/// Run this same command line in a child process with `threads` rayon threads.
fn measure_child(threads: usize) -> anyhow::Result<BenchReport> {
    let exe = std::env::current_exe().context("locating the superpose binary")?;
    let out = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(CHILD_RUN, "1")
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("starting the measuring process")?;
    anyhow::ensure!(
        out.status.success(),
        "the measuring process ({threads} threads) failed ({})",
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).context("reading the measuring process's report")
}
