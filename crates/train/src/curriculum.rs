//! Sequence construction and the Coconut curriculum (Hao et al. 2024 §3, `dataset.py`;
//! Zhu et al. 2025 §5.1).
//!
//! Layout: `<eos> s t | s t | … [Q] c1 c2 [R] root <bot> <latent>×k <eot> rest…`, where the
//! edges are reshuffled and the candidate order randomised every time an example is encoded.
//! At stage `i` the first `i` reasoning steps (path nodes after the root) are replaced by
//! `i·c` thoughts; the loss covers the tokens after `<eot>` (Coconut: labels −100 on the
//! question, the latents and both markers).

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::CurriculumConfig;
use crate::data::ReachExample;
use crate::tokenizer::Vocab;

/// Training method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Answer right after the question (`<bot> <eot> [A] answer`).
    Nocot,
    /// Discrete chain of thought: the gold path nodes as tokens, then `[A] answer`.
    Cot,
    /// Continuous thoughts with the Coconut curriculum.
    Coconut,
    /// Coconut with BFS targets: the stage-`i` target is uniform over the hop-`(i+1)`
    /// frontier (Zhu et al. §5.4).
    CoconutBfs,
    /// Pause as thought: the same curriculum, but each thought is a learned `<pause>` token.
    Pause,
}

impl Mode {
    /// Does the method feed hidden states back as input (multi-pass forward)?
    pub fn continuous(self) -> bool {
        matches!(self, Mode::Coconut | Mode::CoconutBfs)
    }
    /// Does the method use the latent curriculum?
    pub fn curriculum(self) -> bool {
        matches!(self, Mode::Coconut | Mode::CoconutBfs | Mode::Pause)
    }
    pub fn name(self) -> &'static str {
        match self {
            Mode::Nocot => "nocot",
            Mode::Cot => "cot",
            Mode::Coconut => "coconut",
            Mode::CoconutBfs => "coconut-bfs",
            Mode::Pause => "pause",
        }
    }
}

/// Where the thoughts start: the prompt's last token, whose last hidden state is the first
/// thought (the same in training and evaluation; carried in the run's meta).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromptLayout {
    /// `… [Q] c1 c2 [R] root <bot>` (Coconut, Hao et al. 2024): the first thought is the hidden
    /// state at `<bot>`, which must first fetch the root from the position before it.
    #[default]
    Bot,
    /// `… [Q] c1 c2 [R] root` (Zhu et al. 2025's code, `<|latent|>` right after the root):
    /// the first thought is the hidden state at the root itself, which can look up the root's
    /// edges by its own token — the same operation every later thought performs.
    Root,
}

impl PromptLayout {
    /// Tokens from `[Q]` up to, not including, the prompt's last column (the first thought's
    /// source): `[Q] c1 c2 [R] root` before `<bot>`, or `[Q] c1 c2 [R]` before the root.
    pub fn question_tokens(self) -> usize {
        match self {
            PromptLayout::Bot => QUESTION_TOKENS,
            PromptLayout::Root => QUESTION_TOKENS - 1,
        }
    }
}

/// Which tokens after `<eot>` carry the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossSpan {
    /// Every remaining step, `[A]`, the answer and `<eos>` (Coconut).
    Rest,
    /// Only the next gold node, or `[A] answer <eos>` past the path length.
    Next,
    /// Zhu et al. 2025 §5.1 (`reasoning-by-superposition`): at stage `k` below the path length
    /// the loss is on ONE node drawn uniformly from the nodes at exact distance `k + 1` on a
    /// shortest root→target path (`neighbor_k[k+1]`), with no `[A]` and no answer; from stage
    /// ≥ the path length, `[A] answer <eos>`.
    Zhu,
}

/// One encoded training sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// Token ids; thought positions hold `<latent>` (Coconut) or `<pause>` (pause).
    pub tokens: Vec<u32>,
    /// `targets[p]` = the token position `p` must predict (= `tokens[p + 1]`), or None.
    pub targets: Vec<Option<u32>>,
    /// Index of `<bot>`.
    pub bot: usize,
    /// Number of thoughts (they sit at `bot + 1 ..= bot + thoughts`).
    pub thoughts: usize,
    /// Stage this sample was built for.
    pub stage: usize,
    /// Per thought `i` (0-based), the nodes within `i + 1` hops of the root: the set the
    /// thought should hold as a superposition (Zhu et al. 2025, Theorem 1); the target of the
    /// auxiliary frontier loss. Empty for methods without thoughts.
    pub thought_sets: Vec<Vec<u32>>,
}

/// Tokens between the edge list and `<bot>`: `[Q] c1 c2 [R] root` (see [`encode_prompt`]).
pub const QUESTION_TOKENS: usize = 5;

/// Nodes within `1..=k` hops of the root, one set per thought (the targets of the frontier
/// loss and of the probes).
pub fn thought_sets(ex: &ReachExample, k: usize) -> Vec<Vec<u32>> {
    (1..=k as u32)
        .map(|hops| {
            (0..ex.n_nodes)
                .filter(|&v| ex.dist_from_root[v as usize].is_some_and(|d| d <= hops))
                .collect()
        })
        .collect()
}

/// The question prefix `<eos> s t | … [Q] c1 c2 [R] root <bot>` with shuffled edges and
/// candidate order. Returns the tokens and, per edge of `ex.edges`, the position of its source
/// token (its target and separator follow).
pub fn encode_prompt<R: Rng>(
    ex: &ReachExample,
    vocab: &Vocab,
    layout: PromptLayout,
    rng: &mut R,
) -> (Vec<u32>, Vec<usize>) {
    let mut order: Vec<usize> = (0..ex.edges.len()).collect();
    order.shuffle(rng);
    let mut tokens = Vec::with_capacity(3 * ex.edges.len() + 8);
    tokens.push(vocab.eos());
    let mut edge_pos = vec![0; ex.edges.len()];
    for &e in &order {
        let (s, t) = ex.edges[e];
        edge_pos[e] = tokens.len();
        tokens.extend([s, t, vocab.sep()]);
    }
    let mut cands = [ex.target, ex.distractor];
    if rng.gen_bool(0.5) {
        cands.swap(0, 1);
    }
    tokens.extend([vocab.q(), cands[0], cands[1], vocab.r(), ex.root]);
    if layout == PromptLayout::Bot {
        tokens.push(vocab.bot());
    }
    (tokens, edge_pos)
}

/// Length of the prompt of [`encode_prompt`] (through its last column, `<bot>` or the root):
/// `<eos>`, three tokens per edge, the question and `<bot>` if any. Every fit check counts
/// with it.
pub fn prompt_len(ex: &ReachExample, layout: PromptLayout) -> usize {
    1 + 3 * ex.edges.len() + layout.question_tokens() + 1
}

/// Encode `ex` for training `mode` at `stage` (ignored by no-CoT and CoT).
pub fn encode<R: Rng>(
    ex: &ReachExample,
    vocab: &Vocab,
    mode: Mode,
    stage: usize,
    curriculum: &CurriculumConfig,
    span: LossSpan,
    rng: &mut R,
) -> Encoded {
    let (mut tokens, _) = encode_prompt(ex, vocab, curriculum.layout, rng);
    let bot = tokens.len() - 1;
    let steps = &ex.path[1..]; // n1 .. nL (the last is the answer)
    let (thoughts, mut rest, stage) = match mode {
        Mode::Nocot => (0, Vec::new(), 0),
        Mode::Cot => (0, steps.to_vec(), 0),
        Mode::Coconut | Mode::Pause => {
            let k = stage.min(steps.len());
            let rest = match span {
                LossSpan::Rest => steps[k..].to_vec(),
                LossSpan::Next => steps.get(k).map(|&v| vec![v]).unwrap_or_default(),
                LossSpan::Zhu => zhu_target(ex, k, rng).into_iter().collect(),
            };
            (stage * curriculum.thoughts_per_step, rest, stage)
        }
        Mode::CoconutBfs => {
            // Zhu et al. §5.4: the stage-i target is uniform over the true hop-(i+1) frontier.
            let rest = if stage < steps.len() {
                let f = ex.frontier(stage as u32 + 1);
                vec![*f
                    .choose(rng)
                    .expect("frontier before the target is non-empty")]
            } else {
                Vec::new()
            };
            (stage * curriculum.thoughts_per_step, rest, stage)
        }
    };
    let thought_tok = if mode == Mode::Pause {
        vocab.pause()
    } else {
        vocab.latent()
    };
    tokens.extend(std::iter::repeat_n(thought_tok, thoughts));
    tokens.push(vocab.eot());
    let eot = tokens.len() - 1;
    // Past the remaining steps (or when they are not all supervised): `[A] answer <eos>`.
    // Zhu et al.'s stage loss has no answer before the final stage.
    let zhu_stage = mode.curriculum() && span == LossSpan::Zhu && stage < steps.len();
    let reaches_answer = !zhu_stage && (rest.last() == Some(&ex.target) || rest.is_empty());
    if reaches_answer {
        rest.extend([vocab.a(), ex.target, vocab.eos()]);
    }
    tokens.extend(&rest);
    let mut targets = vec![None; tokens.len()];
    for p in eot..tokens.len() - 1 {
        targets[p] = Some(tokens[p + 1]);
    }
    Encoded {
        tokens,
        targets,
        bot,
        thoughts,
        stage,
        thought_sets: thought_sets(ex, thoughts),
    }
}

/// Zhu et al.'s stage-`k` target: a node drawn uniformly from those at exact distance `k + 1`
/// on a shortest root→target path (None past the path length).
fn zhu_target<R: Rng>(ex: &ReachExample, k: usize, rng: &mut R) -> Option<u32> {
    if k >= ex.hops() {
        return None;
    }
    let depth = k as u32 + 1;
    let optimal: Vec<u32> = (0..ex.n_nodes)
        .filter(|&v| ex.optimal_at(v, depth))
        .collect();
    optimal.choose(rng).copied()
}

/// Stage for one sample in an epoch whose scheduled stage is `scheduled`: with probability
/// `p_mix` a uniformly drawn earlier stage (Zhu et al. §5.1, "data from the previous stage is
/// mixed in").
pub fn sample_stage<R: Rng>(scheduled: usize, p_mix: f64, rng: &mut R) -> usize {
    if scheduled > 0 && p_mix > 0.0 && rng.gen_bool(p_mix.min(1.0)) {
        rng.gen_range(0..scheduled)
    } else {
        scheduled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ex() -> ReachExample {
        let edges = vec![(0, 1), (1, 3), (3, 4), (0, 2), (2, 3), (5, 6), (2, 7)];
        ReachExample::new(8, edges, 0, 4, 6, None).unwrap()
    }
    fn cur() -> CurriculumConfig {
        CurriculumConfig {
            max_stage: 4,
            thoughts_per_step: 1,
            epochs_per_stage: 2,
            ..CurriculumConfig::default()
        }
    }

    #[test]
    fn prompt_layout_and_shuffling() {
        let v = Vocab::new(8);
        let e = ex();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (toks, pos) = encode_prompt(&e, &v, PromptLayout::Bot, &mut rng);
        assert_eq!(toks[0], v.eos());
        assert_eq!(toks.len(), 1 + 3 * 7 + 6);
        // every edge appears as `s t |` at its recorded position
        for (i, &(s, t)) in e.edges.iter().enumerate() {
            assert_eq!(&toks[pos[i]..pos[i] + 3], &[s, t, v.sep()]);
        }
        let tail = &toks[toks.len() - 6..];
        assert_eq!(tail[0], v.q());
        let mut cands = [tail[1], tail[2]];
        cands.sort();
        assert_eq!(cands, [4, 6]);
        assert_eq!(&tail[3..], &[v.r(), 0, v.bot()]);
        // different draws give different edge orders and both candidate orders
        let mut orders = std::collections::HashSet::new();
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..20 {
            let (t, p) = encode_prompt(&e, &v, PromptLayout::Bot, &mut rng);
            orders.insert(p);
            firsts.insert(t[t.len() - 5]);
        }
        assert!(orders.len() > 10);
        assert_eq!(firsts.len(), 2);
    }

    #[test]
    fn root_layout_ends_at_the_root_and_thoughts_follow_it() {
        let v = Vocab::new(8);
        let e = ex();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (toks, _) = encode_prompt(&e, &v, PromptLayout::Root, &mut rng);
        assert_eq!(toks.len(), prompt_len(&e, PromptLayout::Root));
        assert_eq!(toks.len() + 1, prompt_len(&e, PromptLayout::Bot));
        assert_eq!(&toks[toks.len() - 2..], &[v.r(), e.root]);
        // Training rows: the first thought's source column is the root; no `<bot>` anywhere.
        let c = CurriculumConfig {
            layout: PromptLayout::Root,
            ..cur()
        };
        let enc = encode(&e, &v, Mode::Coconut, 2, &c, LossSpan::Rest, &mut rng);
        assert_eq!(enc.tokens[enc.bot], e.root);
        assert_eq!(enc.tokens[enc.bot - 1], v.r());
        assert_eq!(
            &enc.tokens[enc.bot + 1..enc.bot + 4],
            &[v.latent(), v.latent(), v.eot()]
        );
        assert!(!enc.tokens.contains(&v.bot()));
    }

    #[test]
    fn stages_replace_steps_by_thoughts() {
        let v = Vocab::new(8);
        let e = ex(); // path 0 1 3 4
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let c = cur();
        let tail = |enc: &Encoded| v.render(&enc.tokens[enc.bot..]);
        let cot = encode(&e, &v, Mode::Cot, 3, &c, LossSpan::Rest, &mut rng);
        assert_eq!(tail(&cot), "<bot> <eot> 1 3 4 [A] 4 <eos>");
        let s1 = encode(&e, &v, Mode::Coconut, 1, &c, LossSpan::Rest, &mut rng);
        assert_eq!(tail(&s1), "<bot> <latent> <eot> 3 4 [A] 4 <eos>");
        assert_eq!(s1.thoughts, 1);
        let s4 = encode(&e, &v, Mode::Coconut, 4, &c, LossSpan::Rest, &mut rng);
        assert_eq!(
            tail(&s4),
            "<bot> <latent> <latent> <latent> <latent> <eot> [A] 4 <eos>"
        );
        let n1 = encode(&e, &v, Mode::Coconut, 1, &c, LossSpan::Next, &mut rng);
        assert_eq!(tail(&n1), "<bot> <latent> <eot> 3");
        let p2 = encode(&e, &v, Mode::Pause, 2, &c, LossSpan::Rest, &mut rng);
        assert_eq!(tail(&p2), "<bot> <pause> <pause> <eot> 4 [A] 4 <eos>");
        let no = encode(&e, &v, Mode::Nocot, 2, &c, LossSpan::Rest, &mut rng);
        assert_eq!(tail(&no), "<bot> <eot> [A] 4 <eos>");
        let c2 = CurriculumConfig {
            thoughts_per_step: 2,
            ..c.clone()
        };
        let s2 = encode(&e, &v, Mode::Coconut, 2, &c2, LossSpan::Rest, &mut rng);
        assert_eq!(s2.thoughts, 4);
        // targets: only from <eot> on, each the next token
        let eot = s1.bot + 2;
        for (p, t) in s1.targets.iter().enumerate() {
            if p >= eot && p + 1 < s1.tokens.len() {
                assert_eq!(*t, Some(s1.tokens[p + 1]));
            } else {
                assert_eq!(*t, None);
            }
        }
    }

    #[test]
    fn bfs_targets_cover_the_frontier() {
        let v = Vocab::new(8);
        let e = ex();
        let c = cur();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let enc = encode(&e, &v, Mode::CoconutBfs, 1, &c, LossSpan::Rest, &mut rng);
            assert_eq!(enc.tokens.len(), enc.bot + 4);
            seen.insert(*enc.tokens.last().unwrap());
        }
        // hop-2 frontier of the diamond is {3, 7}
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![3, 7]);
    }

    #[test]
    fn zhu_stage_loss_has_one_optimal_node_and_no_answer_before_the_final_stage() {
        let v = Vocab::new(8);
        let e = ex(); // 0 -> {1, 2} -> 3 -> 4: both 1 and 2 are on a shortest path
        let c = cur();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut firsts = std::collections::BTreeSet::new();
        for _ in 0..40 {
            let s0 = encode(&e, &v, Mode::Coconut, 0, &c, LossSpan::Zhu, &mut rng);
            let tail = &s0.tokens[s0.bot..];
            assert_eq!(tail.len(), 3, "<bot> <eot> node");
            firsts.insert(tail[2]);
            assert_eq!(s0.targets.iter().flatten().count(), 1);
        }
        assert_eq!(firsts.into_iter().collect::<Vec<_>>(), vec![1, 2]);
        let s2 = encode(&e, &v, Mode::Coconut, 2, &c, LossSpan::Zhu, &mut rng);
        assert_eq!(
            v.render(&s2.tokens[s2.bot..]),
            "<bot> <latent> <latent> <eot> 4"
        );
        let s3 = encode(&e, &v, Mode::Coconut, 3, &c, LossSpan::Zhu, &mut rng);
        assert_eq!(
            v.render(&s3.tokens[s3.bot..]),
            "<bot> <latent> <latent> <latent> <eot> [A] 4 <eos>"
        );
    }

    #[test]
    fn thought_count_ignores_the_hop_count_and_sets_grow_by_hop() {
        let v = Vocab::new(8);
        let c = CurriculumConfig {
            first_stage: 4,
            ..cur()
        };
        let long = ex(); // 3 hops
        let short = ReachExample::new(8, vec![(0, 1), (1, 2), (5, 6)], 0, 2, 6, None).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(c.stage(0), 4);
        for e in [&long, &short] {
            let enc = encode(
                e,
                &v,
                Mode::Coconut,
                c.stage(0),
                &c,
                LossSpan::Rest,
                &mut rng,
            );
            assert_eq!(enc.thoughts, 4);
            assert_eq!(enc.thought_sets.len(), 4);
        }
        let enc = encode(&long, &v, Mode::Coconut, 4, &c, LossSpan::Rest, &mut rng);
        assert_eq!(enc.thought_sets[0], vec![0, 1, 2]);
        assert_eq!(enc.thought_sets[1], vec![0, 1, 2, 3, 7]);
        assert_eq!(enc.thought_sets[3], vec![0, 1, 2, 3, 4, 7]);
        assert_eq!(
            prompt_len(&long, PromptLayout::Bot),
            encode_prompt(&long, &v, PromptLayout::Bot, &mut rng)
                .0
                .len()
        );
    }

    #[test]
    fn schedule_and_mixing() {
        let c = cur();
        let stages: Vec<usize> = (0..12).map(|e| c.stage(e)).collect();
        assert_eq!(stages, vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4]);
        assert_eq!(c.eval_thoughts(), 4);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let draws: Vec<usize> = (0..2000).map(|_| sample_stage(3, 0.1, &mut rng)).collect();
        let mixed = draws.iter().filter(|&&s| s != 3).count();
        assert!((120..=280).contains(&mixed), "{mixed}");
        assert!(draws.iter().all(|&s| s <= 3));
        assert_eq!(sample_stage(0, 1.0, &mut rng), 0);
    }
}
