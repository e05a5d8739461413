//! Batched, KV-cached decoding: greedy and sampled tokens, continuous thought (Coconut, Hao et
//! al. 2024: the last hidden state fed back as the next input) and soft thinking (Zhang et al.
//! 2025: the probability-weighted mixture of token embeddings, with a cold stop on low entropy).
//!
//! Every row of a batch runs its own little state machine (thinking → `<eot>` → answer), so
//! rows that stop thinking early (cold stop) or finish their answer early don't hold the batch
//! back: each step feeds one slot per row through a single cached forward pass.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::model::{ForwardInput, KvCache, Model, Slot};
use crate::{Bool, Int, ModelError, Tensor, TensorData};

/// How the next answer token is chosen from the logits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sampling {
    Greedy,
    /// Temperature, then top-k, then top-p (nucleus) truncation; seeded ChaCha8.
    Sample {
        temperature: f32,
        top_k: Option<usize>,
        top_p: Option<f32>,
        seed: u64,
    },
}

/// Answer decoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecodeConfig {
    pub max_new_tokens: usize,
    /// Stop a row when it emits this token (the token is kept in the answer).
    pub eos: Option<u32>,
    pub sampling: Sampling,
}

impl DecodeConfig {
    pub fn greedy(max_new_tokens: usize, eos: Option<u32>) -> Self {
        Self {
            max_new_tokens,
            eos,
            sampling: Sampling::Greedy,
        }
    }
}

/// Soft thinking's cold stop: stop thinking once the next-token entropy (nats) stays below
/// `entropy` for `patience` consecutive thoughts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColdStop {
    pub entropy: f32,
    pub patience: usize,
}

/// What happens between `<bot>` and `<eot>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ThinkMode {
    /// No thoughts: plain token decoding.
    None,
    /// Coconut: `thoughts` latent slots, each the last hidden state (after the final norm).
    Continuous { thoughts: usize },
    /// Soft Thinking: up to `max_thoughts` mixtures `Σ p_i e_i` over the top-k / top-p tokens
    /// of `softmax(logits / temperature)` (renormalised), with an optional cold stop.
    Soft {
        max_thoughts: usize,
        top_k: Option<usize>,
        top_p: Option<f32>,
        temperature: f32,
        cold_stop: Option<ColdStop>,
    },
}

/// Full thinking + decoding configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThinkConfig {
    /// Appended to every prompt before the first thought (unless the prompt already ends with it).
    pub bot: Option<u32>,
    /// Fed after the last thought, before the answer.
    pub eot: Option<u32>,
    pub mode: ThinkMode,
    pub decode: DecodeConfig,
}

/// What one row produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowOutput {
    /// Each thought vector fed back as a latent slot, in order.
    pub thoughts: Vec<Vec<f32>>,
    /// Entropy (nats) of the next-token distribution at each thought step.
    pub thought_entropies: Vec<f32>,
    /// Soft thinking stopped on low entropy before `max_thoughts`.
    pub cold_stopped: bool,
    /// Answer tokens (after `<eot>`).
    pub tokens: Vec<u32>,
    /// Stopped because the context (n_positions) was full.
    pub truncated: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Thinking,
    Answer,
    Done,
}

/// Entropy in nats of `softmax(logits)`.
pub fn entropy(logits: &[f32]) -> f32 {
    let p = softmax(logits, 1.0);
    -p.iter()
        .filter(|&&x| x > 0.0)
        .map(|&x| x * x.ln())
        .sum::<f32>()
}

fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let t = temperature.max(1e-6);
    let m = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let mut p: Vec<f32> = logits.iter().map(|&l| ((l - m) / t).exp()).collect();
    let s: f32 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= s);
    p
}

/// The top-k / top-p truncated, renormalised distribution as (token, prob), most likely first.
pub fn truncated_distribution(
    logits: &[f32],
    temperature: f32,
    top_k: Option<usize>,
    top_p: Option<f32>,
) -> Vec<(u32, f32)> {
    let p = softmax(logits, temperature);
    let mut idx: Vec<(u32, f32)> = p.iter().enumerate().map(|(i, &x)| (i as u32, x)).collect();
    idx.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(k) = top_k {
        idx.truncate(k.max(1));
    }
    if let Some(tp) = top_p {
        let mut acc = 0.0;
        let mut keep = 0;
        for (_, x) in &idx {
            keep += 1;
            acc += x;
            if acc >= tp {
                break;
            }
        }
        idx.truncate(keep.max(1));
    }
    let s: f32 = idx.iter().map(|x| x.1).sum();
    idx.iter_mut().for_each(|x| x.1 /= s);
    idx
}

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

fn choose(logits: &[f32], sampling: &Sampling, rng: &mut ChaCha8Rng) -> u32 {
    match sampling {
        Sampling::Greedy => argmax(logits),
        Sampling::Sample {
            temperature,
            top_k,
            top_p,
            ..
        } => {
            if *temperature <= 0.0 {
                return argmax(logits);
            }
            let dist = truncated_distribution(logits, *temperature, *top_k, *top_p);
            let u: f32 = rng.gen();
            let mut acc = 0.0;
            for (t, p) in &dist {
                acc += p;
                if u < acc {
                    return *t;
                }
            }
            dist.last().map_or(0, |x| x.0)
        }
    }
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor")
}

/// The general entry point: think (per `config.mode`) then decode, for a batch of prompts.
pub fn think(
    model: &Model,
    prompts: &[Vec<Slot>],
    config: &ThinkConfig,
) -> Result<Vec<RowOutput>, ModelError> {
    let c = model.config();
    let (v, d) = (c.vocab_size, c.d_model);
    let device = model.device();
    let b = prompts.len();
    let thinking = !matches!(config.mode, ThinkMode::None);
    check_specials(config, v)?;
    let rows = with_bot(prompts, config, thinking);
    let batch = model.embed_slots(&rows, &device)?;
    let mut next_pos: Vec<usize> = rows.iter().map(Vec::len).collect();
    let mut cache = KvCache::new(c.n_layer);
    let out = model.forward_last(batch.into_input(false), Some(&mut cache));
    let mut logits = to_vec(out.logits); // [b, v]
    let s = out.hidden.dims()[1];
    let mut hidden = to_vec(out.hidden.narrow(1, s - 1, 1)); // [b, d]

    let mut rng = ChaCha8Rng::seed_from_u64(match config.decode.sampling {
        Sampling::Sample { seed, .. } => seed,
        Sampling::Greedy => 0,
    });
    let mut res: Vec<RowOutput> = (0..b)
        .map(|_| RowOutput {
            thoughts: vec![],
            thought_entropies: vec![],
            cold_stopped: false,
            tokens: vec![],
            truncated: false,
        })
        .collect();
    let first = if thinking {
        Phase::Thinking
    } else {
        Phase::Answer
    };
    let mut phase = vec![first; b];
    let mut low_streak = vec![0usize; b];
    let thought_norm = model.thought_norm();
    if config.decode.max_new_tokens == 0 && !thinking {
        return Ok(res);
    }
    loop {
        // Decide each row's next slot.
        let mut next = StepInput {
            ids: vec![0i64; b],
            latent: vec![None; b],
            soft: vec![None; b],
        };
        for r in 0..b {
            let lg = &logits[r * v..(r + 1) * v];
            if phase[r] == Phase::Thinking {
                let h = &hidden[r * d..(r + 1) * d];
                match thought_step(&config.mode, lg, h, &mut low_streak[r], &mut res[r]) {
                    ThoughtStep::Latent(x) => {
                        next.latent[r] = Some(scale_thought(x, thought_norm));
                        continue;
                    }
                    ThoughtStep::Soft(p) => {
                        next.soft[r] = Some(p);
                        continue;
                    }
                    ThoughtStep::Stop => phase[r] = Phase::Answer,
                }
                if let Some(eot) = config.eot {
                    next.ids[r] = eot as i64;
                    continue;
                }
            }
            if phase[r] == Phase::Answer {
                if let Some(t) =
                    answer_step(lg, &config.decode, &mut rng, &mut phase[r], &mut res[r])
                {
                    next.ids[r] = t as i64;
                }
            }
        }
        // Rows that just emitted their last token need no further pass; stop when none is left
        // thinking or answering.
        if phase.iter().all(|p| *p == Phase::Done) {
            break;
        }
        // Context full: stop the rows that cannot take another position.
        if !stop_full_rows(
            &next_pos,
            c.position_offset,
            c.n_positions,
            &mut phase,
            &mut res,
        ) {
            break;
        }
        let embeds = next.embeds(model, &phase, &mut res);
        let pos: Vec<i64> = next_pos.iter().map(|&p| p as i64).collect();
        next_pos.iter_mut().for_each(|p| *p += 1);
        let input = ForwardInput {
            embeds,
            positions: Tensor::from_data(TensorData::new(pos, [b, 1]), &device),
            key_mask: None,
            output_attentions: false,
        };
        let out = model.forward_last(input, Some(&mut cache));
        logits = to_vec(out.logits);
        hidden = to_vec(out.hidden);
    }
    Ok(res)
}

/// Every special token (`bot`, `eot`, `eos`) must be inside the vocabulary.
fn check_specials(config: &ThinkConfig, v: usize) -> Result<(), ModelError> {
    for t in [config.bot, config.eot, config.decode.eos]
        .into_iter()
        .flatten()
    {
        if t as usize >= v {
            return Err(ModelError::Input(format!(
                "special token {t} >= vocab_size {v}"
            )));
        }
    }
    Ok(())
}

/// The prompts, each ending with `bot` when thinking (unless it already does).
fn with_bot(prompts: &[Vec<Slot>], config: &ThinkConfig, thinking: bool) -> Vec<Vec<Slot>> {
    prompts
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if let (true, Some(bot)) = (thinking, config.bot) {
                if p.last() != Some(&Slot::Token(bot)) {
                    p.push(Slot::Token(bot));
                }
            }
            p
        })
        .collect()
}

/// What a thinking row feeds next.
enum ThoughtStep {
    /// Coconut: the last hidden state becomes the next input embedding.
    Latent(Vec<f32>),
    /// Soft Thinking: the truncated next-token distribution, mixed into `Σ_i p_i · E[i]`.
    Soft(Vec<(u32, f32)>),
    /// The row is done thinking (thought limit or cold stop).
    Stop,
}

/// A fed-back hidden state scaled as [`crate::thought_input`] scales it (host side).
fn scale_thought(mut x: Vec<f32>, norm: Option<f32>) -> Vec<f32> {
    if let Some(n) = norm {
        let len = x.iter().map(|v| v * v).sum::<f32>().sqrt() + 1e-6;
        x.iter_mut().for_each(|v| *v *= n / len);
    }
    x
}

/// One thinking row's decision from its logits `lg` and last hidden state `hidden`; records
/// the step's entropy (and a cold stop) in `out`.
fn thought_step(
    mode: &ThinkMode,
    lg: &[f32],
    hidden: &[f32],
    low_streak: &mut usize,
    out: &mut RowOutput,
) -> ThoughtStep {
    let done = out.thoughts.len();
    let (limit, soft) = match mode {
        ThinkMode::Continuous { thoughts } => (*thoughts, None),
        ThinkMode::Soft {
            max_thoughts,
            top_k,
            top_p,
            temperature,
            cold_stop,
        } => (*max_thoughts, Some((top_k, top_p, temperature, cold_stop))),
        ThinkMode::None => (0, None),
    };
    let ent = entropy(lg);
    let mut stop = done >= limit;
    if let Some((_, _, _, Some(cs))) = soft {
        if !stop {
            *low_streak = if ent < cs.entropy { *low_streak + 1 } else { 0 };
            if *low_streak >= cs.patience.max(1) {
                stop = true;
                out.cold_stopped = true;
            }
        }
    }
    if stop {
        return ThoughtStep::Stop;
    }
    out.thought_entropies.push(ent);
    match soft {
        None => ThoughtStep::Latent(hidden.to_vec()),
        Some((top_k, top_p, temperature, _)) => {
            ThoughtStep::Soft(truncated_distribution(lg, *temperature, *top_k, *top_p))
        }
    }
}

/// One answering row: the next answer token (None when the row had no room left), moving the
/// row to `Done` after `eos` or its last token.
fn answer_step(
    lg: &[f32],
    decode: &DecodeConfig,
    rng: &mut ChaCha8Rng,
    phase: &mut Phase,
    out: &mut RowOutput,
) -> Option<u32> {
    if out.tokens.len() >= decode.max_new_tokens {
        *phase = Phase::Done;
        return None;
    }
    let t = choose(lg, &decode.sampling, rng);
    out.tokens.push(t);
    if Some(t) == decode.eos || out.tokens.len() >= decode.max_new_tokens {
        *phase = Phase::Done;
    }
    Some(t)
}

/// Marks the rows whose next position would not fit the context as done (and truncated);
/// whether any row is left running.
fn stop_full_rows(
    next_pos: &[usize],
    position_offset: usize,
    max_pos: usize,
    phase: &mut [Phase],
    res: &mut [RowOutput],
) -> bool {
    let mut any_room = false;
    for r in 0..phase.len() {
        if next_pos[r] + position_offset >= max_pos && phase[r] != Phase::Done {
            phase[r] = Phase::Done;
            res[r].truncated = true;
        }
        any_room |= phase[r] != Phase::Done;
    }
    any_room
}

/// One decoding step's input per row: a token id, or a latent (Coconut), or a distribution
/// over tokens (Soft Thinking) that becomes a latent.
struct StepInput {
    ids: Vec<i64>,
    latent: Vec<Option<Vec<f32>>>,
    soft: Vec<Option<Vec<(u32, f32)>>>,
}

impl StepInput {
    /// The step's input embeddings `[b, 1, d]`; every latent fed to a running row is recorded
    /// as one of its thoughts.
    fn embeds(mut self, model: &Model, phase: &[Phase], res: &mut [RowOutput]) -> Tensor<3> {
        let device = model.device();
        let (b, v, d) = (
            self.ids.len(),
            model.config().vocab_size,
            model.config().d_model,
        );
        let ids_t = Tensor::<2, Int>::from_data(TensorData::new(self.ids, [b, 1]), &device);
        let mut embeds = model.embed_tokens(ids_t);
        if self.soft.iter().any(Option::is_some) {
            let mut w = vec![0f32; b * v];
            for (r, dist) in self.soft.iter().enumerate() {
                for (t, p) in dist.iter().flatten() {
                    w[r * v + *t as usize] = *p;
                }
            }
            let w = Tensor::<2>::from_data(TensorData::new(w, [b, v]), &device);
            let mix = w.matmul(model.token_embedding());
            let mix_host = to_vec(mix.clone());
            for (r, dist) in self.soft.iter().enumerate() {
                if dist.is_some() {
                    self.latent[r] = Some(mix_host[r * d..(r + 1) * d].to_vec());
                }
            }
        }
        if self.latent.iter().any(Option::is_some) {
            let mut lat = vec![0f32; b * d];
            let mut m = vec![false; b];
            for (r, l) in self.latent.iter().enumerate() {
                if let (Some(l), false) = (l, phase[r] == Phase::Done) {
                    lat[r * d..(r + 1) * d].copy_from_slice(l);
                    m[r] = true;
                    res[r].thoughts.push(l.clone());
                }
            }
            let lat = Tensor::<3>::from_data(TensorData::new(lat, [b, 1, d]), &device);
            let m = Tensor::<3, Bool>::from_data(TensorData::new(m, [b, 1, 1]), &device)
                .expand([b, 1, d]);
            embeds = embeds.mask_where(m, lat);
        }
        embeds
    }
}

/// Greedy decoding of `max_new_tokens` tokens per prompt (batched, KV-cached).
pub fn greedy(
    model: &Model,
    prompts: &[Vec<Slot>],
    max_new_tokens: usize,
    eos: Option<u32>,
) -> Result<Vec<Vec<u32>>, ModelError> {
    let cfg = ThinkConfig {
        bot: None,
        eot: None,
        mode: ThinkMode::None,
        decode: DecodeConfig::greedy(max_new_tokens, eos),
    };
    Ok(think(model, prompts, &cfg)?
        .into_iter()
        .map(|r| r.tokens)
        .collect())
}

/// Sampled decoding (temperature, top-k, top-p; deterministic given `seed`).
#[allow(clippy::too_many_arguments)]
pub fn sample(
    model: &Model,
    prompts: &[Vec<Slot>],
    max_new_tokens: usize,
    eos: Option<u32>,
    temperature: f32,
    top_k: Option<usize>,
    top_p: Option<f32>,
    seed: u64,
) -> Result<Vec<Vec<u32>>, ModelError> {
    let cfg = ThinkConfig {
        bot: None,
        eot: None,
        mode: ThinkMode::None,
        decode: DecodeConfig {
            max_new_tokens,
            eos,
            sampling: Sampling::Sample {
                temperature,
                top_k,
                top_p,
                seed,
            },
        },
    };
    Ok(think(model, prompts, &cfg)?
        .into_iter()
        .map(|r| r.tokens)
        .collect())
}

/// Coconut continuous thought: `<bot>`, `thoughts` latent slots (last hidden state fed back),
/// `<eot>`, then answer decoding.
pub fn continuous_thoughts(
    model: &Model,
    prompts: &[Vec<Slot>],
    thoughts: usize,
    bot: Option<u32>,
    eot: Option<u32>,
    decode: DecodeConfig,
) -> Result<Vec<RowOutput>, ModelError> {
    think(
        model,
        prompts,
        &ThinkConfig {
            bot,
            eot,
            mode: ThinkMode::Continuous { thoughts },
            decode,
        },
    )
}

/// Soft thinking: up to `max_thoughts` probability-weighted embedding mixtures with cold stop.
#[allow(clippy::too_many_arguments)]
pub fn soft_thinking(
    model: &Model,
    prompts: &[Vec<Slot>],
    max_thoughts: usize,
    top_k: Option<usize>,
    top_p: Option<f32>,
    cold_stop: Option<ColdStop>,
    bot: Option<u32>,
    eot: Option<u32>,
    decode: DecodeConfig,
) -> Result<Vec<RowOutput>, ModelError> {
    let mode = ThinkMode::Soft {
        max_thoughts,
        top_k,
        top_p,
        temperature: 1.0,
        cold_stop,
    };
    think(
        model,
        prompts,
        &ThinkConfig {
            bot,
            eot,
            mode,
            decode,
        },
    )
}
