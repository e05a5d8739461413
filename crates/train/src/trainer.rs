//! The training loop: curriculum epochs, gradient accumulation, global-norm clipping, AdamW,
//! JSONL metrics, atomic checkpoints with exact `--resume`, divergence stop, final evaluation.
//!
//! Output directory layout:
//! - `metrics.jsonl`: one JSON object per optimizer step (`kind: "step"`) and per evaluation
//!   (`kind: "eval"`);
//! - `ckpt-<step>/`: `model/` (the model crate's checkpoint), `optimizer.safetensors`,
//!   `state.json` (position in the run), `meta.json` (vocabulary, mode, thoughts, config);
//! - `latest`: the name of the newest complete checkpoint (replaced atomically);
//! - `final.json`: the [`TrainSummary`] (with the final evaluation reports).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use superpose_model::{Model, ModelConfig, ModelSize};

use crate::batch::collate;
use crate::checkpoint::{
    checkpoint_at_stop, json_bytes, latest_checkpoint, read_json, save_checkpoint, write_atomic,
};
pub use crate::checkpoint::{load_for_eval, read_run_meta, resolve_checkpoint};
use crate::config::TrainConfig;
use crate::curriculum::{encode, prompt_len, sample_stage, Encoded};
use crate::data::{generate_examples, read_prosqa, ReachExample};
use crate::eval::{evaluate_model, EvalOptions, EvalReport, ModelMeta};
use crate::multipass::{frontier_loss, lm_loss, multipass, teacher_thoughts, ThoughtFeed};
use crate::optim::{clip_scale, global_grad_norm, AdamW, AdamWConfig};
use crate::schedule::learning_rate;
use crate::tokenizer::Vocab;
use crate::TrainError;

/// Options that are not part of the experiment (where to write, whether to resume).
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub out: PathBuf,
    pub resume: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Evaluation options for the end-of-epoch and final evaluations.
    pub eval: EvalOptions,
}

/// Where a run stands (saved in every checkpoint).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epoch in progress (0-based) and the next step inside it.
    pub epoch: usize,
    pub step_in_epoch: usize,
    /// Optimizer steps done.
    pub global_step: usize,
    /// Exponential moving average of the loss (divergence detection).
    pub loss_ema: Option<f64>,
    /// Steps since the last stage switch.
    pub steps_in_stage: usize,
    /// Stage of the previous epoch (for the optimizer reset).
    pub last_stage: Option<usize>,
    /// Wall time spent so far (all processes).
    pub elapsed_s: f64,
    /// Last step's loss.
    pub last_loss: Option<f64>,
}

/// What a finished (or stopped) run reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    pub run: String,
    pub mode: String,
    pub steps: usize,
    pub epochs: usize,
    pub wall_s: f64,
    pub final_loss: Option<f64>,
    /// True when `run.max_steps` stopped the run before the end.
    pub stopped_early: bool,
    /// Held-out generated graphs (validation seed).
    pub val: Option<EvalReport>,
    /// `data.eval_files`, by path.
    pub files: BTreeMap<String, EvalReport>,
    pub checkpoint: String,
}

/// Checkpoint metadata: everything `evaluate` needs besides the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub meta: ModelMeta,
    pub config: TrainConfig,
}

/// The model configuration for a run: GPT-2-like (learned positions, pre-LN, GELU, tied),
/// with smeared keys when the config asks.
pub fn model_config(cfg: &TrainConfig, vocab: &Vocab) -> ModelConfig {
    let m = &cfg.model;
    let mut mc = ModelConfig::gpt2(ModelSize {
        vocab_size: vocab.size(),
        n_positions: m.n_positions,
        d_model: m.d_model,
        n_layer: m.n_layer,
        n_head: m.n_head,
    });
    if let Some(d_mlp) = m.d_mlp {
        mc.d_mlp = d_mlp;
    }
    mc.smear_keys = m.smear_keys;
    mc.thought_scale = m.thought_scale;
    mc
}

/// The meta a run's checkpoints carry.
pub fn run_meta(cfg: &TrainConfig) -> RunMeta {
    RunMeta {
        meta: ModelMeta {
            vocab: Vocab::new(cfg.data.node_tokens),
            mode: cfg.run.mode,
            thoughts: cfg.eval_thoughts(),
            readout_bottleneck: cfg.curriculum.readout_bottleneck,
            layout: cfg.curriculum.layout,
        },
        config: cfg.clone(),
    }
}

/// Training and validation examples of a config (generated from distinct seeds).
pub fn datasets(cfg: &TrainConfig) -> Result<(Vec<ReachExample>, Vec<ReachExample>), TrainError> {
    let d = &cfg.data;
    let spec = cfg.graph_spec();
    let train = generate_examples(&spec, d.train_graphs, d.train_seed)?;
    let val = if d.val_graphs > 0 {
        generate_examples(&spec, d.val_graphs, d.val_seed)?
    } else {
        Vec::new()
    };
    Ok((train, val))
}

/// Longest sequence an example can produce under `cfg` (prompt, thoughts, steps, answer).
fn max_len(ex: &ReachExample, cfg: &TrainConfig) -> usize {
    let thoughts = cfg.curriculum.max_stage * cfg.curriculum.thoughts_per_step;
    prompt_len(ex, cfg.curriculum.layout) + thoughts + 1 + ex.hops() + 3
}

fn check_fits(exs: &[ReachExample], cfg: &TrainConfig, what: &str) -> Result<(), TrainError> {
    for (i, ex) in exs.iter().enumerate() {
        if ex.n_nodes > cfg.data.node_tokens {
            return Err(TrainError::Invalid(format!(
                "{what} example {i} has {} nodes but data.node_tokens = {}",
                ex.n_nodes, cfg.data.node_tokens
            )));
        }
        let len = max_len(ex, cfg);
        if len > cfg.model.n_positions {
            return Err(TrainError::Invalid(format!(
                "{what} example {i} needs {len} positions but model.n_positions = {}",
                cfg.model.n_positions
            )));
        }
    }
    Ok(())
}

/// A freshly initialised model, deterministic in `seed` (the model crate draws its GPT-2
/// initialisation from a seeded ChaCha generator, independent of the backend).
pub fn seeded_model(cfg: &ModelConfig, seed: u64, device: &Device) -> Result<Model, String> {
    Model::try_new(cfg, seed, device).map_err(|e| e.to_string())
}

/// Are all parameters finite?
pub fn params_finite<M: Module>(model: &M) -> bool {
    struct V(bool);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0 {
                let s: f32 = param.val().inner().abs().sum().into_scalar();
                self.0 = s.is_finite();
            }
        }
    }
    let mut v = V(true);
    model.visit(&mut v);
    v.0
}

/// The training sequences of one epoch, in batch order (deterministic in seed and epoch).
fn epoch_sequences(
    cfg: &TrainConfig,
    vocab: &Vocab,
    train: &[ReachExample],
    epoch: usize,
) -> Vec<Encoded> {
    let seed = cfg
        .run
        .seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(epoch as u64 + 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut rng);
    let cur = &cfg.curriculum;
    let scheduled = cfg.stage(epoch);
    order
        .into_iter()
        .map(|i| {
            let stage = if cfg.run.mode.curriculum() {
                sample_stage(scheduled, cur.p_mix, &mut rng)
            } else {
                0
            };
            encode(
                &train[i],
                vocab,
                cfg.run.mode,
                stage,
                cur,
                cfg.curriculum.loss_span,
                &mut rng,
            )
        })
        .collect()
}

/// The device runs use: burn's default (the GPU in a `cuda`/`wgpu` build), with a bad
/// `BURN_DEVICE` reported as an error instead of burn's panic.
fn run_device() -> Result<Device, TrainError> {
    superpose_model::default_device().map_err(|e| TrainError::Invalid(e.to_string()))
}

/// Evaluate a checkpoint (or run directory) on `tasks` — the library entry point of
/// `superpose eval`.
pub fn evaluate(
    checkpoint: &Path,
    tasks: &[ReachExample],
    opts: &EvalOptions,
) -> Result<EvalReport, TrainError> {
    let device = run_device()?;
    let (model, mut meta) = load_for_eval(checkpoint, &device)?;
    meta.meta = meta.meta.with_thoughts(opts.thoughts);
    for (i, ex) in tasks.iter().enumerate() {
        if ex.n_nodes > meta.meta.vocab.n_nodes {
            return Err(TrainError::Invalid(format!(
                "task {i} has {} nodes; the model knows {} node tokens",
                ex.n_nodes, meta.meta.vocab.n_nodes
            )));
        }
        // <eos>, 3 tokens per edge, [Q] c1 c2 [R] root <bot>, the thoughts, <eot>, and room
        // for at least `[A]` to be fed back.
        let needed = meta.meta.eval_len(ex) + 1;
        let context = model.config().n_positions;
        if needed > context {
            return Err(TrainError::Invalid(format!(
                "task {i} ({} edges) needs {needed} positions with {} thoughts; the model's \
                 context is {context}",
                ex.edges.len(),
                meta.meta.thoughts
            )));
        }
    }
    Ok(evaluate_model(&model, &meta.meta, tasks, opts, &device))
}

struct MetricsLog {
    file: std::fs::File,
}

impl MetricsLog {
    fn open(out: &Path, keep_through_step: Option<usize>) -> Result<Self, TrainError> {
        let path = out.join("metrics.jsonl");
        // On resume, drop the lines written after the checkpoint (they will be redone).
        if let Some(step) = keep_through_step {
            if let Ok(text) = std::fs::read_to_string(&path) {
                let kept: String = text
                    .lines()
                    .filter(|l| {
                        serde_json::from_str::<serde_json::Value>(l)
                            .ok()
                            .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
                            .is_some_and(|s| s as usize <= step)
                    })
                    .map(|l| format!("{l}\n"))
                    .collect();
                write_atomic(&path, kept.as_bytes())?;
            }
        } else {
            write_atomic(&path, b"")?;
        }
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| TrainError::io(&path, e))?;
        Ok(MetricsLog { file })
    }
    fn log(&mut self, v: serde_json::Value) {
        let _ = writeln!(self.file, "{v}");
    }
}

/// The thought feed of a training step: the fed-back hidden state, with teacher-forced
/// superpositions in a random share `p_teacher` of the rows (scheduled sampling).
fn thought_feed(
    model: &Model,
    hb: &crate::batch::HostBatch,
    p_teacher: f64,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> ThoughtFeed {
    if p_teacher <= 0.0 {
        return ThoughtFeed::Hidden;
    }
    use rand::Rng;
    let rows = (0..hb.rows)
        .map(|_| rng.gen_bool(p_teacher.min(1.0)))
        .collect();
    ThoughtFeed::Teacher {
        thoughts: teacher_thoughts(model, hb, device),
        rows,
    }
}

/// Loss-spike guard: the divergence check starts this many steps into a stage ...
const DIVERGENCE_GRACE_STEPS: usize = 50;
/// ... and compares the loss with `divergence_factor × max(EMA, DIVERGENCE_FLOOR)`.
const DIVERGENCE_FLOOR: f64 = 0.5;
/// Decay of the loss's exponential moving average.
const LOSS_EMA_DECAY: f64 = 0.95;

/// The data of a run: generated training and validation graphs and the `data.eval_files`,
/// every example checked to fit the model.
struct RunData {
    train: Vec<ReachExample>,
    val: Vec<ReachExample>,
    files: Vec<(String, Vec<ReachExample>)>,
}

impl RunData {
    fn load(cfg: &TrainConfig) -> Result<Self, TrainError> {
        let (train, val) = datasets(cfg)?;
        check_fits(&train, cfg, "training")?;
        check_fits(&val, cfg, "validation")?;
        let mut files = Vec::new();
        for f in &cfg.data.eval_files {
            let exs = read_prosqa(f)?;
            check_fits(&exs, cfg, &f.display().to_string())?;
            files.push((f.display().to_string(), exs));
        }
        Ok(RunData { train, val, files })
    }
}

/// What a run carries from step to step (and saves in its checkpoints).
struct Run {
    model: Model,
    opt: AdamW,
    state: TrainState,
    /// The newest checkpoint written (or resumed from).
    last_ckpt: Option<PathBuf>,
}

impl Run {
    /// The error for a run that diverged at `step`, naming the last good checkpoint.
    fn diverged(&self, step: usize, loss: f64) -> TrainError {
        TrainError::Diverged {
            step,
            loss: loss as f32,
            checkpoint: self
                .last_ckpt
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none (no checkpoint was saved yet)".into()),
        }
    }
}

/// Resume the run in `opts.out` (with `--resume`) or start a fresh one; refuses to overwrite
/// a run, to resume nothing, and to resume with another config.
fn start(cfg: &TrainConfig, opts: &TrainOptions, device: &Device) -> Result<Run, TrainError> {
    let out = &opts.out;
    match (latest_checkpoint(out)?, opts.resume) {
        (Some(dir), true) => {
            let saved: RunMeta = read_json(&dir.join("meta.json"))?;
            let (mut a, mut b) = (saved.config.clone(), cfg.clone());
            for c in [&mut a, &mut b] {
                c.run.out = PathBuf::new();
                c.run.max_steps = 0;
            }
            if a != b {
                return Err(TrainError::Invalid(format!(
                    "{} was written with a different config; resume needs the same one",
                    dir.display()
                )));
            }
            let model = superpose_model::load_checkpoint(&dir.join("model"), device)
                .map_err(|e| TrainError::Checkpoint {
                    path: dir.display().to_string(),
                    msg: e.to_string(),
                })?;
            let opt = AdamW::load(&dir.join("optimizer.safetensors"), &run_device()?)?;
            let state: TrainState = read_json(&dir.join("state.json"))?;
            Ok(Run {
                model,
                opt,
                state,
                last_ckpt: Some(dir),
            })
        }
        (Some(dir), false) => Err(TrainError::Invalid(format!(
            "{} already holds a run (checkpoint {}); pass --resume to continue it or choose another --out",
            out.display(),
            dir.display()
        ))),
        (None, true) => Err(TrainError::Invalid(format!(
            "--resume: {} holds no checkpoint (no `latest`); run without --resume to start",
            out.display()
        ))),
        (None, false) => {
            let mc = model_config(cfg, &run_meta(cfg).meta.vocab);
            let model = seeded_model(&mc, cfg.run.seed, device)
                .map_err(|e| TrainError::Invalid(format!("model config: {e}")))?;
            let state = TrainState {
                epoch: 0,
                step_in_epoch: 0,
                global_step: 0,
                loss_ema: None,
                steps_in_stage: 0,
                last_stage: None,
                elapsed_s: 0.0,
                last_loss: None,
            };
            Ok(Run {
                model,
                opt: AdamW::new(),
                state,
                last_ckpt: None,
            })
        }
    }
}

/// One optimizer step's forward and backward passes, before the update.
struct Step {
    grads: GradientsParams,
    loss: f64,
    frontier_loss: f64,
    /// Mean frontier loss per thought slot (which hop fails first).
    frontier_by_thought: Vec<f64>,
    teacher_forcing: f64,
    /// Target tokens predicted correctly, and their number.
    hits: usize,
    targets: usize,
    /// Real (non-pad) tokens processed.
    tokens: usize,
}

/// Forward and backward over one batch (split into `micro`-row micro-batches): the LM loss
/// over the target tokens, plus λ times the frontier loss over the (row, thought) pairs.
fn forward_backward(
    cfg: &TrainConfig,
    model: &Model,
    batch: &[&Encoded],
    micro: usize,
    stage: usize,
    global_step: usize,
    device: &Device,
) -> Step {
    let vocab = Vocab::new(cfg.data.node_tokens);
    let targets: usize = batch
        .iter()
        .map(|s| s.targets.iter().flatten().count())
        .sum();
    let pairs: usize = batch
        .iter()
        .map(|s| s.thought_sets.iter().filter(|t| !t.is_empty()).count())
        .sum();
    let lambda = cfg.curriculum.frontier_weight_at(stage);
    let p_teacher = cfg.curriculum.teacher_forcing_at(global_step);
    let mut teacher_rng = ChaCha8Rng::seed_from_u64(
        cfg.run.seed ^ (global_step as u64).wrapping_mul(0xA24B_AED4_963E_E407),
    );
    let mut accum = GradientsAccumulator::<Model>::new();
    let (mut loss_val, mut frontier_val, mut hits, mut tokens) = (0.0, 0.0, 0, 0);
    let mut by_thought: Vec<(f64, usize)> = Vec::new();
    for mb in batch.chunks(micro) {
        let mut hb = collate(mb, vocab.eos());
        if cfg.curriculum.readout_bottleneck {
            hb = hb.with_readout_bottleneck(cfg.curriculum.layout);
        }
        tokens += hb.key_mask.iter().filter(|&&m| m).count();
        let feed = thought_feed(model, &hb, p_teacher, &mut teacher_rng, device);
        let mp = multipass(model, &hb, cfg.run.mode.continuous(), &feed, None, device);
        let aux = (lambda > 0.0).then(|| frontier_loss(&mp.logits, &hb, device));
        let (loss_sum, _, correct) = lm_loss(mp.logits, &hb, device);
        hits += correct;
        let mut loss = loss_sum.div_scalar(targets.max(1) as f64);
        if let Some(fl) = aux {
            if by_thought.len() < fl.per_thought.len() {
                by_thought.resize(fl.per_thought.len(), (0.0, 0));
            }
            for (acc, (l, n)) in by_thought.iter_mut().zip(&fl.per_thought) {
                acc.0 += l;
                acc.1 += n;
            }
            let f = fl.sum.div_scalar(pairs.max(1) as f64);
            let fv: f32 = f.clone().inner().into_scalar();
            frontier_val += fv as f64;
            loss = loss.add(f.mul_scalar(lambda));
        }
        let lv: f32 = loss.clone().inner().into_scalar();
        loss_val += lv as f64;
        accum.accumulate(model, GradientsParams::from_grads(loss.backward(), model));
    }
    Step {
        grads: accum.grads(),
        loss: loss_val,
        frontier_loss: frontier_val,
        frontier_by_thought: by_thought
            .iter()
            .map(|&(l, n)| l / n.max(1) as f64)
            .collect(),
        teacher_forcing: p_teacher,
        hits,
        targets,
        tokens,
    }
}

/// Batch geometry and optimizer settings of a run, derived once.
struct Schedule {
    batch: usize,
    micro: usize,
    steps_per_epoch: usize,
    total_steps: usize,
    adam: AdamWConfig,
}

impl Schedule {
    fn new(cfg: &TrainConfig, train_len: usize) -> Self {
        let o = &cfg.optim;
        let steps_per_epoch = train_len.div_ceil(o.batch_size);
        Schedule {
            batch: o.batch_size,
            micro: o.batch_size / o.grad_accum,
            steps_per_epoch,
            total_steps: steps_per_epoch * o.epochs,
            adam: AdamWConfig {
                beta1: o.beta1,
                beta2: o.beta2,
                eps: o.eps,
                weight_decay: o.weight_decay,
            },
        }
    }
}

/// Everything the epoch loop reads but does not change.
struct Ctx<'a> {
    cfg: &'a TrainConfig,
    opts: &'a TrainOptions,
    meta: &'a RunMeta,
    data: &'a RunData,
    sched: Schedule,
    device: Device,
    eval_device: Device,
}

/// Update the state after an optimizer step: counters, last loss and its moving average.
fn advance(state: &mut TrainState, loss: f64) {
    state.global_step += 1;
    state.step_in_epoch += 1;
    state.steps_in_stage += 1;
    state.last_loss = Some(loss);
    state.loss_ema = Some(match state.loss_ema {
        Some(m) if state.steps_in_stage > 1 => LOSS_EMA_DECAY * m + (1.0 - LOSS_EMA_DECAY) * loss,
        _ => loss,
    });
}

/// The epoch loop: steps, checkpoints, end-of-epoch evaluations. Returns true when
/// `run.max_steps` stopped it before the end.
fn run_epochs(
    cx: &Ctx,
    mut run: Run,
    metrics: &mut MetricsLog,
    bar: &indicatif::ProgressBar,
) -> Result<(Run, bool), TrainError> {
    let (cfg, s) = (cx.cfg, &cx.sched);
    let vocab = cx.meta.meta.vocab;
    let started = Instant::now();
    let elapsed_before = run.state.elapsed_s;
    let mut steps_this_process = 0usize;
    while run.state.epoch < cfg.optim.epochs {
        let (epoch, stage) = (run.state.epoch, cfg.stage(run.state.epoch));
        if run.state.step_in_epoch == 0 && run.state.last_stage.is_some_and(|st| st != stage) {
            run.state.steps_in_stage = 0;
            if cfg.curriculum.reset_optimizer {
                // Coconut resets the optimizer state at every stage switch (following iCoT).
                run.opt.reset();
            }
        }
        let seqs = epoch_sequences(cfg, &vocab, &cx.data.train, epoch);
        while run.state.step_in_epoch < s.steps_per_epoch {
            let t0 = Instant::now();
            let lo = run.state.step_in_epoch * s.batch;
            let batch: Vec<&Encoded> = seqs[lo..(lo + s.batch).min(seqs.len())].iter().collect();
            let gs = run.state.global_step;
            let mut step =
                forward_backward(cfg, &run.model, &batch, s.micro, stage, gs, &cx.device);
            let norm = global_grad_norm(&run.model, &step.grads);
            let spiked = run.state.steps_in_stage >= DIVERGENCE_GRACE_STEPS
                && run.state.loss_ema.is_some_and(|m| {
                    step.loss > cfg.run.divergence_factor as f64 * m.max(DIVERGENCE_FLOOR)
                });
            if !step.loss.is_finite() || !norm.is_finite() || spiked {
                bar.abandon();
                metrics.log(serde_json::json!({
                    "kind": "diverged", "step": gs + 1, "loss": step.loss, "grad_norm": norm,
                }));
                return Err(run.diverged(gs + 1, step.loss));
            }
            let lr = learning_rate(&cfg.optim, gs, s.total_steps);
            let scale = clip_scale(norm, cfg.optim.clip_norm);
            run.model = run.opt.step(&s.adam, lr, run.model, &mut step.grads, scale);
            advance(&mut run.state, step.loss);
            let (dt, acc) = (
                t0.elapsed().as_secs_f64(),
                step.hits as f64 / step.targets.max(1) as f64,
            );
            run.state.elapsed_s = elapsed_before + started.elapsed().as_secs_f64();
            let tok_s = step.tokens as f64 / dt.max(1e-9);
            metrics.log(serde_json::json!({
                "kind": "step", "step": run.state.global_step, "epoch": epoch, "stage": stage,
                "loss": step.loss, "frontier_loss": step.frontier_loss,
                "frontier_by_thought": step.frontier_by_thought,
                "teacher_forcing": step.teacher_forcing, "token_accuracy": acc, "lr": lr,
                "grad_norm": norm, "tokens_per_s": tok_s, "elapsed_s": run.state.elapsed_s,
            }));
            bar.set_position(run.state.global_step as u64);
            bar.set_message(format!(
                "ep {epoch} st {stage} loss {:.3} acc {acc:.3} {tok_s:.0} tok/s",
                step.loss
            ));
            steps_this_process += 1;
            let epoch_end = run.state.step_in_epoch == s.steps_per_epoch;
            if epoch_end {
                run.state.epoch += 1;
                run.state.step_in_epoch = 0;
                run.state.last_stage = Some(stage);
            }
            if epoch_end
                || run
                    .state
                    .global_step
                    .is_multiple_of(cfg.run.checkpoint_every)
            {
                if !params_finite(&run.model) {
                    bar.abandon();
                    return Err(run.diverged(run.state.global_step, step.loss));
                }
                let out = &cx.opts.out;
                run.last_ckpt = Some(save_checkpoint(
                    out, &run.model, &run.opt, &run.state, cx.meta,
                )?);
            }
            if epoch_end {
                epoch_eval(cx, &run, metrics, bar, stage);
            }
            if cfg.run.max_steps > 0 && steps_this_process >= cfg.run.max_steps {
                return Ok((run, true));
            }
            if epoch_end {
                break;
            }
        }
    }
    Ok((run, false))
}

/// The quick held-out evaluation every `run.eval_every_epochs` epochs (not after the last).
fn epoch_eval(
    cx: &Ctx,
    run: &Run,
    metrics: &mut MetricsLog,
    bar: &indicatif::ProgressBar,
    stage: usize,
) {
    let (cfg, st) = (cx.cfg, &run.state);
    let every = cfg.run.eval_every_epochs;
    if every == 0
        || !st.epoch.is_multiple_of(every)
        || st.epoch >= cfg.optim.epochs
        || cx.data.val.is_empty()
    {
        return;
    }
    let quick = EvalOptions {
        probes: false,
        ablations: false,
        ..cx.opts.eval.clone()
    };
    let r = evaluate_model(
        &run.model.valid(),
        &cx.meta.meta,
        &cx.data.val,
        &quick,
        &cx.eval_device,
    );
    metrics.log(serde_json::json!({
        "kind": "eval", "step": st.global_step, "epoch": st.epoch,
        "val_accuracy": r.accuracy, "by_hops": r.by_hops,
    }));
    bar.println(format!(
        "{}: epoch {} (stage {stage}) val accuracy {:.1}%",
        cfg.run.name,
        st.epoch,
        100.0 * r.accuracy
    ));
}

/// The final evaluation: held-out graphs and every `data.eval_files` entry.
fn final_eval(
    cx: &Ctx,
    run: &Run,
    metrics: &mut MetricsLog,
) -> (Option<EvalReport>, BTreeMap<String, EvalReport>) {
    let model = run.model.valid();
    let st = &run.state;
    let eval = |exs: &[ReachExample]| {
        evaluate_model(&model, &cx.meta.meta, exs, &cx.opts.eval, &cx.eval_device)
    };
    let val = (!cx.data.val.is_empty()).then(|| {
        let r = eval(&cx.data.val);
        metrics.log(serde_json::json!({
            "kind": "eval", "step": st.global_step, "epoch": st.epoch, "final": true,
            "val_accuracy": r.accuracy, "by_hops": r.by_hops,
        }));
        r
    });
    let mut files = BTreeMap::new();
    for (name, exs) in &cx.data.files {
        let r = eval(exs);
        metrics.log(serde_json::json!({
            "kind": "eval", "step": st.global_step, "file": name, "final": true,
            "accuracy": r.accuracy, "by_hops": r.by_hops,
        }));
        files.insert(name.clone(), r);
    }
    (val, files)
}

/// A progress bar over the run's steps (hidden without `progress`).
fn step_bar(
    cfg: &TrainConfig,
    opts: &TrainOptions,
    total: usize,
    at: usize,
) -> indicatif::ProgressBar {
    let bar = superpose_util::progress_bar(total as u64, &cfg.run.name, opts.progress);
    bar.set_position(at as u64);
    bar
}

/// Train according to `cfg` (see the module docs): resume or start, run the epochs with their
/// checkpoints, evaluate. Returns the summary also written to `final.json`.
pub fn train(cfg: &TrainConfig, opts: &TrainOptions) -> Result<TrainSummary, TrainError> {
    let eval_device = run_device()?;
    let device = eval_device.clone().autodiff();
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let meta = run_meta(cfg);
    let data = RunData::load(cfg)?;
    let run = start(cfg, opts, &device)?;
    let resumed = run.last_ckpt.is_some();
    let mut metrics = MetricsLog::open(out, resumed.then_some(run.state.global_step))?;
    let cx = Ctx {
        sched: Schedule::new(cfg, data.train.len()),
        cfg,
        opts,
        meta: &meta,
        data: &data,
        device,
        eval_device,
    };
    let bar = step_bar(cfg, opts, cx.sched.total_steps, run.state.global_step);
    let (mut run, stopped_early) = run_epochs(&cx, run, &mut metrics, &bar)?;
    bar.finish_and_clear();
    let (val, files) = if stopped_early {
        let last = run.last_ckpt.take();
        run.last_ckpt = Some(checkpoint_at_stop(
            out, &run.model, &run.opt, &run.state, &meta, last,
        )?);
        (None, BTreeMap::new())
    } else {
        final_eval(&cx, &run, &mut metrics)
    };
    let summary = TrainSummary {
        run: cfg.run.name.clone(),
        mode: cfg.run.mode.name().to_string(),
        steps: run.state.global_step,
        epochs: run.state.epoch,
        wall_s: run.state.elapsed_s,
        final_loss: run.state.last_loss,
        stopped_early,
        val,
        files,
        checkpoint: run
            .last_ckpt
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    };
    if !stopped_early {
        write_atomic(&out.join("final.json"), &json_bytes(&summary))?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
