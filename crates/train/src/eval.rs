//! Evaluation: answer accuracy (overall and by hop count), the per-thought probes of Zhu et al.
//! 2025 (Table 5: mean inner product of each continuous thought with the node embeddings, by
//! node group; Table 1: layer-2 attention mass on edges, by edge group), and ablations that
//! replace the thoughts by zeros or by another example's thoughts.
//!
//! Decoding: the prompt, `k` thoughts (the final curriculum stage; 0 for no-CoT / CoT) and
//! `<eot>` are fed, then tokens are decoded greedily with the KV cache until the model has
//! written `[A]` and one more token (its answer) or `<eos>`. The answer is correct iff it is
//! the reachable candidate (exact match, as in Coconut).
//!
//! Groups at thought step `i` (1-based; thought `i` is the state fed into the `i`-th slot,
//! ideally the superposition of the nodes reachable within `i` hops):
//! - nodes: *reachable* = BFS distance ≤ i from the root; *frontier* = distance exactly i;
//!   *optimal* = frontier nodes on a shortest root→target path; *not reachable* = the rest.
//! - edges (attention of the query that produces thought `i`, which reads thought `i−1`):
//!   *reachable* = source within `i−1` hops; *frontier* = source exactly `i−1` hops away;
//!   *optimal* = source and target consecutive on a shortest root→target path;
//!   *not reachable* = the rest. Mass = attention summed over heads and over the edge's three
//!   tokens (`s t |`).

use std::collections::BTreeMap;

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use superpose_model::{ForwardInput, Model};

use crate::batch::collate;
use crate::causal::{self, CausalTest};
use crate::curriculum::{encode_prompt, prompt_len, thought_sets, Encoded, Mode, PromptLayout};
use crate::data::ReachExample;
use crate::multipass::{bool2, int2, multipass, ThoughtFeed};
use crate::tokenizer::Vocab;

/// Accuracy on a set of tasks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    pub tasks: usize,
    pub correct: usize,
    pub accuracy: f64,
}

impl Accuracy {
    fn add(&mut self, ok: bool) {
        self.tasks += 1;
        self.correct += ok as usize;
        self.accuracy = self.correct as f64 / self.tasks as f64;
    }
}

/// Mean, standard deviation and count of a probe value over (example, node/edge) pairs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupStat {
    pub mean: f64,
    pub sd: f64,
    pub count: usize,
    #[serde(skip)]
    sum: f64,
    #[serde(skip)]
    sum_sq: f64,
}

impl GroupStat {
    fn push(&mut self, x: f64) {
        self.count += 1;
        self.sum += x;
        self.sum_sq += x * x;
        let n = self.count as f64;
        self.mean = self.sum / n;
        self.sd = (self.sum_sq / n - self.mean * self.mean).max(0.0).sqrt();
    }
}

/// One row of a probe table (one thought step).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeRow {
    /// Thought step (1-based).
    pub step: usize,
    pub not_reachable: GroupStat,
    pub reachable: GroupStat,
    pub frontier: GroupStat,
    pub optimal: GroupStat,
}

impl ProbeRow {
    /// frontier > reachable > not reachable (the ordering Zhu et al. report).
    pub fn ordered(&self) -> bool {
        self.frontier.mean > self.reachable.mean && self.reachable.mean > self.not_reachable.mean
    }
}

/// Everything `superpose eval` reports (JSON with `--json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub tasks: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Accuracy by hop count of the shortest root→target path (keys "3", "4", …).
    pub by_hops: BTreeMap<String, Accuracy>,
    /// Tasks where no `[A] answer` was produced.
    pub no_answer: usize,
    /// Two-way choice accuracy: at the answer position, the reachable candidate's logit is
    /// above the unreachable one's (chance = 50%; no `[A]` counts as wrong).
    pub choice_accuracy: f64,
    pub mode: String,
    /// Thoughts fed before `<eot>`.
    pub thoughts: usize,
    /// Accuracy with every thought replaced by a zero vector (continuous modes).
    pub zeroed_thoughts: Option<Accuracy>,
    /// Accuracy with each example's thoughts replaced by another example's (continuous modes).
    pub shuffled_thoughts: Option<Accuracy>,
    /// Causal tests of the thoughts (see [`crate::causal`]): zeroed, shuffled across examples,
    /// the mean thought, truncated to 0…T−1 thoughts, transplanted from the same graph with an
    /// edge of the answer path removed.
    #[serde(default)]
    pub causal: Vec<CausalTest>,
    /// Zhu et al. Table 5: mean ⟨thought_i, node embedding⟩ per node group.
    pub thought_node_inner: Vec<ProbeRow>,
    /// Zhu et al. Table 1: attention mass of layer `attention_layer` (1-based) per edge group.
    pub edge_attention: Vec<ProbeRow>,
    pub attention_layer: usize,
}

/// Evaluation options.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalOptions {
    pub batch_size: usize,
    /// Seed of the edge order and candidate order of the prompts.
    pub seed: u64,
    /// Compute the probe tables.
    pub probes: bool,
    /// Run the zeroed / shuffled-thought ablations.
    pub ablations: bool,
    /// Layer whose attention is probed (0-based; Zhu et al. use the second layer).
    pub attention_layer: usize,
    /// Greedy decoding budget after `<eot>`.
    pub max_new_tokens: usize,
    /// Thought slots at inference (None = the checkpoint's: its final stage). More than the
    /// model was trained with tests whether the thought step generalises to longer paths.
    pub thoughts: Option<usize>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            batch_size: 64,
            seed: 12345,
            probes: true,
            ablations: true,
            attention_layer: 1,
            max_new_tokens: 12,
            thoughts: None,
        }
    }
}

/// What the evaluator needs to know about a trained model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub vocab: Vocab,
    pub mode: Mode,
    /// Thoughts at inference (final stage × thoughts per step; 0 for no-CoT and CoT).
    pub thoughts: usize,
    /// Trained with the readout bottleneck (the answer cannot attend to the edge list).
    #[serde(default)]
    pub readout_bottleneck: bool,
    /// Where the thoughts start (checkpoints from before the switch: `bot`).
    #[serde(default)]
    pub layout: PromptLayout,
}

impl ModelMeta {
    /// Positions an evaluation prompt of `ex` takes: the prompt through `<bot>`, the thoughts
    /// and `<eot>` (decoding needs room after it).
    pub fn eval_len(&self, ex: &ReachExample) -> usize {
        prompt_len(ex, self.layout) + self.thoughts + 1
    }

    /// This meta with `thoughts` slots at inference when given (methods with thoughts only).
    pub fn with_thoughts(&self, thoughts: Option<usize>) -> ModelMeta {
        let mut m = self.clone();
        if let Some(t) = thoughts.filter(|_| self.mode.curriculum()) {
            m.thoughts = t;
        }
        m
    }
}

pub(crate) struct BatchResult {
    pub(crate) answers: Vec<Option<u32>>,
    /// At the answer position, is the target's logit above the distractor's?
    pub(crate) choices: Vec<Option<bool>>,
    /// The vectors fed into the thought slots (continuous modes), `[rows, d]` each.
    pub(crate) thoughts: Vec<Tensor<2>>,
}

/// How one evaluation batch is run: the thoughts fed and how many slots there are.
pub(crate) struct RunSpec<'a> {
    pub(crate) feed: &'a ThoughtFeed,
    pub(crate) thoughts: usize,
}

/// Encode eval prompts: question, `<bot>`, `k` thought slots, `<eot>` (no targets).
fn eval_rows(
    exs: &[&ReachExample],
    meta: &ModelMeta,
    thoughts: usize,
    rng: &mut ChaCha8Rng,
) -> (Vec<Encoded>, Vec<Vec<usize>>) {
    let v = &meta.vocab;
    let slot = if meta.mode == Mode::Pause {
        v.pause()
    } else {
        v.latent()
    };
    let mut rows = Vec::with_capacity(exs.len());
    let mut edge_pos = Vec::with_capacity(exs.len());
    for ex in exs {
        let (mut tokens, pos) = encode_prompt(ex, v, meta.layout, rng);
        let bot = tokens.len() - 1;
        tokens.extend(std::iter::repeat_n(slot, thoughts));
        tokens.push(v.eot());
        let n = tokens.len();
        rows.push(Encoded {
            tokens,
            targets: vec![None; n],
            bot,
            thoughts,
            stage: 0,
            thought_sets: thought_sets(ex, thoughts),
        });
        edge_pos.push(pos);
    }
    (rows, edge_pos)
}

/// Greedy next tokens and the last-column logits `[rows × vocab]` (host).
fn argmax_last(logits: &Tensor<3>) -> (Vec<u32>, Vec<f32>, usize) {
    let [b, t, v] = logits.dims();
    let last = logits.clone().slice([0..b, t - 1..t, 0..v]).reshape([b, v]);
    let (vals, _) = to_f32(last);
    let idx = (0..b)
        .map(|r| {
            let row = &vals[r * v..(r + 1) * v];
            let mut best = 0;
            for (i, &x) in row.iter().enumerate() {
                if x > row[best] {
                    best = i;
                }
            }
            best as u32
        })
        .collect();
    (idx, vals, v)
}

fn to_f32(t: Tensor<2>) -> (Vec<f32>, usize) {
    let [_, c] = t.dims();
    let v = t
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    (v, c)
}

/// Decode answers for one batch; optionally fill the probe tables.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_batch(
    model: &Model,
    exs: &[&ReachExample],
    meta: &ModelMeta,
    spec: RunSpec,
    opts: &EvalOptions,
    rng: &mut ChaCha8Rng,
    probes: Option<(&mut Vec<ProbeRow>, &mut Vec<ProbeRow>)>,
    device: &Device,
) -> BatchResult {
    let v = &meta.vocab;
    let (rows, edge_pos) = eval_rows(exs, meta, spec.thoughts, rng);
    let refs: Vec<&Encoded> = rows.iter().collect();
    let mut b = collate(&refs, v.eos());
    if meta.readout_bottleneck {
        b = b.with_readout_bottleneck(meta.layout);
    }
    let continuous = meta.mode.continuous();
    let attn_layer = (probes.is_some() && continuous).then_some(opts.attention_layer);
    let mp = multipass(model, &b, continuous, spec.feed, attn_layer, device);

    if let Some((node_rows, edge_rows)) = probes {
        if continuous {
            probe_thoughts(model, exs, &mp.thoughts, node_rows);
            probe_attention(exs, &edge_pos, &b.left_pad, &mp.thought_attn, edge_rows);
        }
    }

    // Greedy decoding with the KV cache.
    let n = exs.len();
    let mut cache = mp.cache;
    let (mut next, mut last_logits, vocab) = argmax_last(&mp.logits);
    let mut choices: Vec<Option<bool>> = vec![None; n];
    let mut generated: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut done = vec![false; n];
    // Decoded columns see what the answer saw (no edge list under the readout bottleneck).
    let mut mask = b.readout_mask.clone().unwrap_or_else(|| b.key_mask.clone());
    let mut cols = b.cols;
    let mut pos: Vec<i64> = (0..n)
        .map(|r| b.positions[r * b.cols + b.cols - 1])
        .collect();
    for step in 0..opts.max_new_tokens {
        for r in 0..n {
            if done[r] {
                continue;
            }
            if generated[r].last() == Some(&v.a()) && choices[r].is_none() {
                // Two-way choice at the answer position (chance = 50%).
                let row = &last_logits[r * vocab..(r + 1) * vocab];
                choices[r] = Some(row[exs[r].target as usize] > row[exs[r].distractor as usize]);
            }
            generated[r].push(next[r]);
            let g = &generated[r];
            let after_a = g.len() >= 2 && g[g.len() - 2] == v.a();
            if after_a || next[r] == v.eos() {
                done[r] = true;
            }
        }
        if done.iter().all(|&d| d) || step + 1 == opts.max_new_tokens {
            break;
        }
        // The context is full: stop decoding (rows without an answer count as no answer).
        if pos
            .iter()
            .any(|&p| p as usize + 1 >= model.config().n_positions)
        {
            break;
        }
        // Append one column.
        let mut new_mask = Vec::with_capacity(n * (cols + 1));
        for r in 0..n {
            new_mask.extend_from_slice(&mask[r * cols..(r + 1) * cols]);
            new_mask.push(true);
        }
        mask = new_mask;
        cols += 1;
        for p in pos.iter_mut() {
            *p += 1;
        }
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new(next.iter().map(|&t| t as i64).collect::<Vec<_>>(), [n, 1]),
            device,
        );
        let out = model.forward(
            ForwardInput {
                embeds: model.embed_tokens(ids),
                positions: int2(pos.clone(), n, 1, device),
                key_mask: Some(bool2(mask.clone(), n, cols, device)),
                output_attentions: false,
            },
            Some(&mut cache),
        );
        (next, last_logits, _) = argmax_last(&out.logits);
    }
    let answers = generated
        .iter()
        .map(|g| {
            g.iter()
                .position(|&t| t == v.a())
                .and_then(|i| g.get(i + 1).copied())
        })
        .collect();
    BatchResult {
        answers,
        choices,
        thoughts: mp.thoughts,
    }
}

fn ensure_rows(rows: &mut Vec<ProbeRow>, k: usize) {
    while rows.len() < k {
        let step = rows.len() + 1;
        rows.push(ProbeRow {
            step,
            ..Default::default()
        });
    }
}

/// Zhu et al. Table 5: ⟨thought_i, u_v⟩ for every node v of each graph, by group.
fn probe_thoughts(
    model: &Model,
    exs: &[&ReachExample],
    thoughts: &[Tensor<2>],
    rows: &mut Vec<ProbeRow>,
) {
    ensure_rows(rows, thoughts.len());
    let emb = model.token_embedding(); // [vocab, d]
    for (i, th) in thoughts.iter().enumerate() {
        let step = (i + 1) as u32;
        let scores = th.clone().matmul(emb.clone().transpose()); // [rows, vocab]
        let (vals, vocab) = to_f32(scores);
        let row = &mut rows[i];
        for (r, ex) in exs.iter().enumerate() {
            for node in 0..ex.n_nodes {
                let x = vals[r * vocab + node as usize] as f64;
                if !x.is_finite() {
                    continue; // a non-finite thought is reported by the accuracy, not averaged
                }
                match ex.dist_from_root[node as usize] {
                    Some(d) if d <= step => {
                        row.reachable.push(x);
                        if d == step {
                            row.frontier.push(x);
                            if ex.optimal_at(node, step) {
                                row.optimal.push(x);
                            }
                        }
                    }
                    _ => row.not_reachable.push(x),
                }
            }
        }
    }
}

/// Zhu et al. Table 1: attention mass on each edge from the query producing thought i.
fn probe_attention(
    exs: &[&ReachExample],
    edge_pos: &[Vec<usize>],
    left_pad: &[usize],
    attn: &[Tensor<3>],
    rows: &mut Vec<ProbeRow>,
) {
    ensure_rows(rows, attn.len());
    for (i, a) in attn.iter().enumerate() {
        let [b, h, k] = a.dims();
        let summed = a.clone().sum_dim(1).reshape([b, k]); // sum over heads
        let _ = h;
        let (vals, keys) = to_f32(summed);
        let prev = i as u32; // thought i+1 reads thought i: sources within i hops
        let row = &mut rows[i];
        for (r, ex) in exs.iter().enumerate() {
            for (e, &(s, t)) in ex.edges.iter().enumerate() {
                let p = left_pad[r] + edge_pos[r][e];
                if p + 2 >= keys {
                    continue;
                }
                let x: f64 = (0..3).map(|j| vals[r * keys + p + j] as f64).sum();
                if !x.is_finite() {
                    continue;
                }
                match ex.dist_from_root[s as usize] {
                    Some(d) if d <= prev => {
                        row.reachable.push(x);
                        if d == prev {
                            row.frontier.push(x);
                        }
                        if ex.optimal_at(s, prev) && ex.optimal_at(t, prev + 1) {
                            row.optimal.push(x);
                        }
                    }
                    _ => row.not_reachable.push(x),
                }
            }
        }
    }
}

/// Evaluate `model` on `examples` (see the module docs).
pub fn evaluate_model(
    model: &Model,
    meta: &ModelMeta,
    examples: &[ReachExample],
    opts: &EvalOptions,
    device: &Device,
) -> EvalReport {
    let meta = &meta.with_thoughts(opts.thoughts);
    let mut report = EvalReport {
        mode: meta.mode.name().to_string(),
        thoughts: meta.thoughts,
        attention_layer: opts.attention_layer + 1,
        ..Default::default()
    };
    let mut node_rows = Vec::new();
    let mut edge_rows = Vec::new();
    let bs = opts.batch_size.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut choice_ok = 0usize;
    let mut tests = causal::Tests::new(meta, opts.ablations);
    for lo in (0..examples.len()).step_by(bs) {
        let exs: Vec<&ReachExample> = examples[lo..(lo + bs).min(examples.len())].iter().collect();
        // The same prompts (edge order, candidate order) for the plain run and the tests.
        let rng_state = rng.clone();
        let probes = opts.probes.then_some((&mut node_rows, &mut edge_rows));
        let spec = RunSpec {
            feed: &ThoughtFeed::Hidden,
            thoughts: meta.thoughts,
        };
        let res = run_batch(model, &exs, meta, spec, opts, &mut rng, probes, device);
        for ((ex, ans), choice) in exs.iter().zip(&res.answers).zip(&res.choices) {
            let ok = *ans == Some(ex.target);
            choice_ok += (*choice == Some(true)) as usize;
            report.tasks += 1;
            report.correct += ok as usize;
            report.no_answer += ans.is_none() as usize;
            report
                .by_hops
                .entry(ex.hops().to_string())
                .or_default()
                .add(ok);
        }
        tests.run_batch(model, &exs, meta, opts, &rng_state, device);
    }
    if report.tasks > 0 {
        report.accuracy = report.correct as f64 / report.tasks as f64;
        report.choice_accuracy = choice_ok as f64 / report.tasks as f64;
    }
    report.causal = tests.finish();
    report.zeroed_thoughts = causal::find(&report.causal, "zeroed");
    report.shuffled_thoughts = causal::find(&report.causal, "shuffled");
    report.thought_node_inner = node_rows;
    report.edge_attention = edge_rows;
    report
}

/// Plain-text rendering of a report (the CLI's default output).
pub fn render_report(r: &EvalReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} tasks, {} correct, accuracy {:.1}%, two-way choice {:.1}% (mode {}, {} thoughts; {} without an answer)",
        r.tasks,
        r.correct,
        100.0 * r.accuracy,
        100.0 * r.choice_accuracy,
        r.mode,
        r.thoughts,
        r.no_answer
    );
    for (h, a) in &r.by_hops {
        let _ = writeln!(
            s,
            "  {h} hops: {}/{} = {:.1}%",
            a.correct,
            a.tasks,
            100.0 * a.accuracy
        );
    }
    if !r.causal.is_empty() {
        let _ = writeln!(s, "causal tests of the thoughts (exact / two-way):");
        for t in &r.causal {
            let _ = writeln!(
                s,
                "  {:<24} {:>5.1}% / {:>5.1}%  ({} thoughts; {})",
                t.test,
                100.0 * t.accuracy,
                100.0 * t.choice_accuracy,
                t.thoughts,
                t.description
            );
        }
    }
    let table = |s: &mut String, title: &str, rows: &[ProbeRow]| {
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(s, "{title}");
        let _ = writeln!(
            s,
            "  step  not-reachable   reachable    frontier     optimal   ordered"
        );
        for row in rows {
            let _ = writeln!(
                s,
                "  {:>4}  {:>13.3} {:>11.3} {:>11.3} {:>11.3}   {}",
                row.step,
                row.not_reachable.mean,
                row.reachable.mean,
                row.frontier.mean,
                row.optimal.mean,
                if row.ordered() { "yes" } else { "no" }
            );
        }
    };
    table(
        &mut s,
        "thought · node embedding (Zhu et al. Table 5), mean by node group:",
        &r.thought_node_inner,
    );
    table(
        &mut s,
        &format!(
            "layer-{} attention mass per edge (Zhu et al. Table 1), mean by edge group:",
            r.attention_layer
        ),
        &r.edge_attention,
    );
    s
}
