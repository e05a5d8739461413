//! Tests of the training loop: resume, divergence, gradients through the thoughts, the
//! thought feeds, the frontier loss and the readout bottleneck.

use super::*;
use crate::curriculum::PromptLayout;
use crate::testing::TinyRun;
use burn::tensor::TensorData;

/// A run small enough for a unit test (seconds on one core).
pub(crate) fn tiny_config(mode: &str) -> TrainConfig {
    TinyRun {
        mode: mode.into(),
        ..TinyRun::default()
    }
    .config()
    .unwrap()
}

fn opts(out: &Path) -> TrainOptions {
    TrainOptions {
        out: out.to_path_buf(),
        resume: false,
        progress: false,
        eval: EvalOptions {
            batch_size: 4,
            ..EvalOptions::default()
        },
    }
}

#[test]
fn resume_reaches_the_same_final_metrics() {
    let cfg = tiny_config("coconut");
    let dir = tempfile::tempdir().unwrap();
    let full = train(&cfg, &opts(&dir.path().join("full"))).unwrap();
    assert_eq!(full.steps, 9);
    assert!(!full.stopped_early);

    // Stop after 5 steps: the run saves a checkpoint where it stops (step 5, between the
    // regular ones at steps 4 and 6).
    let out = dir.path().join("killed");
    let mut stop = cfg.clone();
    stop.run.max_steps = 5;
    let part = train(&stop, &opts(&out)).unwrap();
    assert!(part.stopped_early);
    assert_eq!(part.steps, 5);
    // Without --resume an existing run is refused.
    let err = train(&cfg, &opts(&out)).unwrap_err().to_string();
    assert!(err.contains("--resume"), "{err}");
    let resumed = train(
        &cfg,
        &TrainOptions {
            resume: true,
            ..opts(&out)
        },
    )
    .unwrap();
    assert_eq!(resumed.steps, full.steps);
    assert_eq!(resumed.final_loss, full.final_loss);
    assert_eq!(resumed.val, full.val);
    let v = full.val.unwrap();
    assert_eq!(v.tasks, 6);
    assert_eq!(v.thought_node_inner.len(), 2);
    // metrics.jsonl holds each step once
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "step")
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, (1..=9).collect::<Vec<_>>());
    // and the checkpoint evaluates through the public entry point
    let exs = datasets(&cfg).unwrap().1;
    let r = evaluate(&out, &exs, &opts(&out).eval).unwrap();
    assert_eq!(r.tasks, 6);
}

#[test]
fn evaluate_refuses_a_task_longer_than_the_context() {
    let cfg = tiny_config("coconut");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    train(&cfg, &opts(&out)).unwrap();
    // A chain over the 12 node tokens, each edge repeated: 40 edges = 120+ positions > 96.
    let mut edges = Vec::new();
    for k in 0..40u32 {
        edges.push((k % 10, k % 10 + 1));
    }
    let long = ReachExample::new(12, edges, 0, 3, 11, None).unwrap();
    let err = evaluate(&out, &[long], &EvalOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("task 0") && msg.contains("context is 96"),
        "{msg}"
    );
    // Single-row batches answer exactly as the same tasks do inside larger batches.
    let (_, val) = datasets(&cfg).unwrap();
    let one = EvalOptions {
        batch_size: 1,
        ablations: false,
        probes: false,
        ..EvalOptions::default()
    };
    let four = EvalOptions {
        batch_size: 4,
        ..one.clone()
    };
    let a = evaluate(&out, &val, &one).unwrap();
    let b = evaluate(&out, &val, &four).unwrap();
    assert_eq!(a.tasks, val.len());
    assert_eq!((a.correct, a.no_answer), (b.correct, b.no_answer));
}

#[test]
fn divergence_stops_and_keeps_the_last_good_checkpoint() {
    let mut cfg = tiny_config("cot");
    cfg.optim.lr = 1e35;
    cfg.optim.warmup_steps = 0;
    cfg.optim.clip_norm = 0.0;
    cfg.run.checkpoint_every = 1;
    let dir = tempfile::tempdir().unwrap();
    let err = train(&cfg, &opts(dir.path())).unwrap_err();
    let TrainError::Diverged {
        step, checkpoint, ..
    } = &err
    else {
        panic!("expected divergence, got {err}");
    };
    assert!(*step >= 2, "{err}");
    let ckpt = resolve_checkpoint(dir.path()).unwrap();
    assert!(
        checkpoint.contains(ckpt.file_name().unwrap().to_str().unwrap()),
        "{err}"
    );
    let (model, _) = load_for_eval(dir.path(), &Device::default()).unwrap();
    assert!(params_finite(&model));
    let state: TrainState = read_json(&ckpt.join("state.json")).unwrap();
    assert!(state.last_loss.unwrap().is_finite());
}

/// The first three training examples encoded at stage 2 (two thoughts), as one batch.
fn stage2_batch(cfg: &TrainConfig, vocab: &Vocab, seed: u64) -> crate::batch::HostBatch {
    let (train_set, _) = datasets(cfg).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cur = &cfg.curriculum;
    let seqs: Vec<Encoded> = train_set[..3]
        .iter()
        .map(|ex| {
            let span = cfg.curriculum.loss_span;
            encode(ex, vocab, cfg.run.mode, 2, cur, span, &mut rng)
        })
        .collect();
    let refs: Vec<&Encoded> = seqs.iter().collect();
    collate(&refs, vocab.eos())
}

#[test]
fn gradient_flows_through_fed_back_thoughts() {
    let cfg = tiny_config("coconut");
    let vocab = Vocab::new(cfg.data.node_tokens);
    let device = Device::default().autodiff();
    let model = seeded_model(&model_config(&cfg, &vocab), 3, &device).unwrap();
    let hb = stage2_batch(&cfg, &vocab, 0);
    let grads_for = |feed: ThoughtFeed| {
        let mp = multipass(&model, &hb, true, &feed, None, &device);
        let (loss, _, _) = lm_loss(mp.logits, &hb, &device);
        let lv: f32 = loss.clone().inner().into_scalar();
        (lv, GradientsParams::from_grads(loss.backward(), &model))
    };
    let (l_bptt, g_bptt) = grads_for(ThoughtFeed::Hidden);
    let (l_cut, g_cut) = grads_for(ThoughtFeed::Detached);
    // Same forward pass ...
    assert!((l_bptt - l_cut).abs() < 1e-4 * l_bptt.abs().max(1.0));
    // ... but different gradients: the part that flows back through the fed-back states
    // into the positions before them.
    struct Diff<'a>(&'a GradientsParams, &'a GradientsParams, f64, f64);
    impl ModuleVisitor for Diff<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if let (Some(a), Some(b)) = (self.0.get::<D>(p.id), self.1.get::<D>(p.id)) {
                let d: f32 = (a.clone() - b).powi_scalar(2).sum().into_scalar();
                let n: f32 = a.powi_scalar(2).sum().into_scalar();
                self.2 += d as f64;
                self.3 += n as f64;
            }
        }
    }
    let mut diff = Diff(&g_bptt, &g_cut, 0.0, 0.0);
    model.visit(&mut diff);
    let (d, n) = (diff.2.sqrt(), diff.3.sqrt());
    assert!(
        d > 1e-3 * n,
        "|g_bptt - g_cut| = {d}, |g| = {n}: no gradient through the thoughts"
    );
}

#[test]
fn zeroed_and_shuffled_thoughts_change_the_output() {
    let cfg = tiny_config("coconut");
    let vocab = Vocab::new(cfg.data.node_tokens);
    let device = Device::default();
    let model = seeded_model(&model_config(&cfg, &vocab), 5, &device).unwrap();
    let hb = stage2_batch(&cfg, &vocab, 1);
    let run = |feed: ThoughtFeed| multipass(&model, &hb, true, &feed, None, &device);
    let base = run(ThoughtFeed::Hidden);
    let max_diff = |a: &Tensor<3>, b: &Tensor<3>| -> f32 {
        a.clone().sub(b.clone()).abs().max().into_scalar()
    };
    let zeroed = run(ThoughtFeed::Zero);
    let shuffled = run(ThoughtFeed::Shuffle(vec![1, 2, 0]));
    assert!(
        max_diff(&base.logits, &zeroed.logits) > 1e-4,
        "zeroing the thoughts changed nothing"
    );
    assert!(
        max_diff(&base.logits, &shuffled.logits) > 1e-4,
        "shuffling the thoughts changed nothing"
    );
    // The first recorded thought is computed before any ablation, so it is the same.
    let t0: f32 = base.thoughts[0]
        .clone()
        .sub(shuffled.thoughts[0].clone())
        .abs()
        .max()
        .into_scalar();
    assert!(t0 < 1e-6);
}

/// `thought_scale = "embedding"` on the training path: every fed vector is rescaled to the
/// mean token-embedding norm before it enters its slot, so a scaled model fed vectors `v`
/// equals the same weights unscaled fed `v` rescaled by hand.
#[test]
fn multipass_rescales_fed_thoughts_to_the_embedding_norm() {
    let cfg = tiny_config("coconut");
    let vocab = Vocab::new(cfg.data.node_tokens);
    let device = Device::default();
    let plain = seeded_model(&model_config(&cfg, &vocab), 5, &device).unwrap();
    let mut scaled_cfg = plain.config().clone();
    scaled_cfg.thought_scale = superpose_model::ThoughtScale::Embedding;
    let scaled = Model::from_named(&scaled_cfg, &plain.to_named(), &device).unwrap();
    let norm = scaled.thought_norm().unwrap();
    let hb = stage2_batch(&cfg, &vocab, 1);
    let base = multipass(&plain, &hb, true, &ThoughtFeed::Hidden, None, &device);
    let by_hand: Vec<Tensor<2>> = base
        .thoughts
        .iter()
        .map(|t| {
            let len = t.clone().powi_scalar(2).sum_dim(1).sqrt();
            t.clone().div(len).mul_scalar(norm)
        })
        .collect();
    let run = |m: &Model, v: Vec<Tensor<2>>| {
        multipass(m, &hb, true, &ThoughtFeed::Given(v), None, &device).logits
    };
    let max_diff = |a: Tensor<3>, b: Tensor<3>| -> f32 { a.sub(b).abs().max().into_scalar() };
    let got = run(&scaled, base.thoughts.clone());
    assert!(max_diff(got.clone(), run(&plain, by_hand)) < 1e-4);
    // The scale is live: unscaled vectors give another output.
    assert!(max_diff(got, run(&plain, base.thoughts.clone())) > 1e-4);
}

#[test]
fn given_thoughts_reproduce_the_run_and_the_mean_is_shared() {
    let cfg = tiny_config("coconut");
    let vocab = Vocab::new(cfg.data.node_tokens);
    let device = Device::default();
    let model = seeded_model(&model_config(&cfg, &vocab), 5, &device).unwrap();
    let hb = stage2_batch(&cfg, &vocab, 1);
    let run = |feed: ThoughtFeed| multipass(&model, &hb, true, &feed, None, &device);
    let max_diff = |a: Tensor<3>, b: Tensor<3>| -> f32 { a.sub(b).abs().max().into_scalar() };
    let base = run(ThoughtFeed::Hidden);
    // Feeding the run's own thoughts back as given vectors is the same run.
    let given = run(ThoughtFeed::Given(base.thoughts.clone()));
    assert!(max_diff(base.logits.clone(), given.logits) < 1e-5);
    // The mean feed gives every row the same vector in the first thought slot: row
    // outputs there differ only through the rows' own prompts, and the result differs
    // from the plain run.
    let mean = run(ThoughtFeed::Mean);
    assert!(max_diff(base.logits, mean.logits) > 1e-4);
}

#[test]
fn frontier_loss_of_uniform_logits_is_log_vocab_per_thought() {
    let cfg = tiny_config("coconut");
    let vocab = Vocab::new(cfg.data.node_tokens);
    let device = Device::default();
    let hb = stage2_batch(&cfg, &vocab, 2);
    let v = vocab.size();
    let logits = Tensor::<3>::zeros([hb.rows, hb.cols, v], &device);
    let fl = frontier_loss(&logits, &hb, &device);
    let pairs = fl.pairs;
    // Three rows at stage 2: two thoughts each, every set non-empty.
    assert_eq!(pairs, 6);
    // Per thought slot: three pairs each, ln(vocab) apiece.
    assert_eq!(fl.per_thought.len(), 2);
    for &(sum, n) in &fl.per_thought {
        assert_eq!(n, 3);
        assert!((sum - 3.0 * (v as f64).ln()).abs() < 1e-3 * sum);
    }
    let got: f32 = fl.sum.into_scalar();
    let want = pairs as f32 * (v as f32).ln();
    assert!((got - want).abs() < 1e-3 * want, "{got} vs {want}");
    // Logits that put all mass on one node of the set: the loss is ln|set| there.
    let r0 = &hb.thought_sets[0][0];
    let mut data = vec![0f32; hb.rows * hb.cols * v];
    for c in 0..hb.cols {
        for &node in r0 {
            data[c * v + node as usize] = 30.0;
        }
    }
    let logits = Tensor::<3>::from_data(TensorData::new(data, [hb.rows, hb.cols, v]), &device);
    let got: f32 = frontier_loss(&logits, &hb, &device).sum.into_scalar();
    // Row 0, thought 0 contributes ln|set| (uniform over exactly its set); the rest stay
    // near ln(vocab) or above, so the sum is at least that term.
    assert!(got >= (r0.len() as f32).ln() - 1e-3);
}

#[test]
fn readout_bottleneck_hides_the_edge_list_from_the_answer_pass() {
    let cfg = tiny_config("coconut");
    let vocab = Vocab::new(cfg.data.node_tokens);
    let device = Device::default();
    let model = seeded_model(&model_config(&cfg, &vocab), 5, &device).unwrap();
    let hb = stage2_batch(&cfg, &vocab, 1);
    let run = |b: &crate::batch::HostBatch| {
        multipass(&model, b, true, &ThoughtFeed::Zero, None, &device).logits
    };
    let open = run(&hb);
    let closed = run(&hb.clone().with_readout_bottleneck(PromptLayout::Bot));
    let [rows, cols, v] = open.dims();
    let first_answer_col = hb.bot_col + 1 + hb.max_thoughts();
    let slice = |t: Tensor<3>, lo: usize, hi: usize| t.slice([0..rows, lo..hi, 0..v]);
    let d_before: f32 = slice(open.clone(), 0, first_answer_col)
        .sub(slice(closed.clone(), 0, first_answer_col))
        .abs()
        .max()
        .into_scalar();
    let d_after: f32 = slice(open, first_answer_col, cols)
        .sub(slice(closed, first_answer_col, cols))
        .abs()
        .max()
        .into_scalar();
    assert!(
        d_before < 1e-6,
        "the prompt and thought passes are unchanged"
    );
    assert!(d_after > 1e-4, "the answer pass no longer sees the edges");
}
