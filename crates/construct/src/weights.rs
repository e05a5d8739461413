//! The hand-built weights of the two-layer Theorem-1 transformer (Zhu et al. 2025, Theorem 1,
//! Lemmas 1–3 and Appendix B), written as named tensors in Hugging Face GPT-2 layout
//! (`wte.weight`, `wpe.weight`, `h.{i}.attn.c_attn.weight` [d, 3d] Conv1D, …), so that
//! `superpose_model::Model::from_named` loads them into the ordinary runtime.
//!
//! Conventions (match the runtime's config switches, see [`crate::engine::model_config`]):
//! * Post placement, L2 norm x/‖x‖, no MLP residual (Zhu et al. §4.1):
//!   layer 1: h¹ = N(x + Σ_heads Attn(x)) with its MLP switched off;
//!   layer 2: h^{1.5} = N(h¹ + Σ_heads Attn(h¹)), h² = N(W₂·1{W₁h^{1.5} ≥ ε}).
//! * Scores are q·k with no 1/√d_head factor (`attn_scale = Some(1)`): every temperature
//!   ξ is written into W_Q.
//! * Conv1D orientation: y = x·W + b, W[input][output]; head h uses columns
//!   h·d_head..(h+1)·d_head of q, k and v.
//!
//! Scales: every attention head is built so that the logit of the position it must pick
//! exceeds every other logit by at least `logit_gap` (G); with G = 40 the softmax leaks
//! e^{−40} ≈ 4e−18 (below f32 resolution), so the threshold MLP only has rounding noise to
//! filter. The capacity study lowers G (attention temperature) to bring leakage back.

use std::collections::BTreeMap;

use crate::layout::{
    omega, position_gap, sinusoid, Layout, NodeEmbedding, SPECIALS, S_ANSWER, S_BOS, S_EDGE, S_ROOT,
};
use crate::ConstructError;
use superpose_model::hf::{BlockNames, WPE, WTE};
use superpose_model::NamedTensor;

/// Setting one entry of a 2-D weight matrix (row `r`, column `c`) from the f64 constants.
trait Entries {
    fn set(&mut self, r: usize, c: usize, x: f64);
    fn add(&mut self, r: usize, c: usize, x: f64);
}

impl Entries for NamedTensor {
    fn set(&mut self, r: usize, c: usize, x: f64) {
        let cols = self.shape[1];
        self.data[r * cols + c] = x as f32;
    }
    fn add(&mut self, r: usize, c: usize, x: f64) {
        let cols = self.shape[1];
        self.data[r * cols + c] += x as f32;
    }
}

/// User-facing knobs of the construction.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConstructOptions {
    /// Largest number of edges in a prompt.
    pub m_max: usize,
    /// Largest number of continuous thoughts.
    pub max_thoughts: usize,
    /// Node embeddings: orthonormal (theorem) or random unit vectors (capacity study).
    pub embedding: NodeEmbedding,
    /// Width of the sinusoidal position block.
    pub d_pe: usize,
    /// Sinusoid base M (10⁴ in Zhu et al.).
    pub pe_base: f64,
    /// Minimum logit margin G of every attention head (sets every ξ).
    pub logit_gap: f64,
    /// Multiplies every attention scale ξ (temperature perturbation; 1 = nominal).
    pub temperature_scale: f64,
    /// Multiplies the MLP threshold ε = 1/(4n) (threshold perturbation; 1 = nominal).
    pub eps_scale: f64,
}

/// The longest context the construction is built for (prompt, thoughts and answer).
pub const MAX_POSITIONS: usize = 65_536;

/// The most memory the construction's weights may take (they are held twice: as built here and
/// in the runtime).
pub const MAX_WEIGHT_BYTES: f64 = 4.0 * (1u64 << 30) as f64;

/// The last position of a run (3 tokens per edge, 6 of question, the thoughts, the answer),
/// below [`MAX_POSITIONS`] with checked arithmetic.
fn last_position(opts: &ConstructOptions) -> Result<usize, ConstructError> {
    opts.m_max
        .checked_mul(3)
        .and_then(|t| t.checked_add(opts.max_thoughts))
        .and_then(|t| t.checked_add(7))
        .filter(|&t| t < MAX_POSITIONS)
        .ok_or_else(|| {
            ConstructError::TooLarge(format!(
                "{} edges and {} thoughts need more than {MAX_POSITIONS} positions",
                opts.m_max, opts.max_thoughts
            ))
        })
}

/// Refuses a construction whose weights would exceed [`MAX_WEIGHT_BYTES`], before allocating.
fn check_memory(l: &Layout, n_positions: usize) -> Result<(), ConstructError> {
    let (d, vocab) = (l.d_model as f64, l.vocab_size() as f64);
    // wte, wpe, and two layers of attention (4·d²) and MLP (d_mlp = 2·vocab), f32, twice.
    let floats = (vocab + n_positions as f64) * d + 2.0 * (4.0 * d * d + 2.0 * d * 2.0 * vocab);
    let bytes = 2.0 * 4.0 * floats;
    if bytes > MAX_WEIGHT_BYTES {
        return Err(ConstructError::TooLarge(format!(
            "{} nodes need d_model = {} and about {:.1} GiB of weights, above the limit of {:.0} GiB",
            l.n_max,
            l.d_model,
            bytes / (1u64 << 30) as f64,
            MAX_WEIGHT_BYTES / (1u64 << 30) as f64
        )));
    }
    Ok(())
}

impl Default for ConstructOptions {
    fn default() -> Self {
        ConstructOptions {
            m_max: 64,
            max_thoughts: 32,
            embedding: NodeEmbedding::Orthonormal,
            d_pe: 16,
            pe_base: 1e4,
            logit_gap: 40.0,
            temperature_scale: 1.0,
            eps_scale: 1.0,
        }
    }
}

/// The scalar constants of the construction (all derived in [`Weights::build`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Constants {
    /// Longest prompt + thoughts + `<A>`: 3·m_max + 6 + max_thoughts + 1 (positions are 1-based).
    pub t_max: usize,
    /// min over 1 ≤ δ ≤ t_max of 1 − ⟨p̄_i, p̄_{i+δ}⟩.
    pub position_gap: f64,
    /// Layer-1 chooser scale ξ₁ = G / position_gap (Lemma 3).
    pub xi_chooser: f64,
    /// Sink gate λ = 2 + position_gap: a non-`<x>` token prefers `<s>` by ≥ G.
    pub sink_gate: f64,
    /// Layer-2 BFS head scale ξ₂ (Lemma 2).
    pub xi_bfs: f64,
    /// Smallest match strength α_q α_e / √n_max of a frontier edge.
    pub bfs_match_min: f64,
    /// Edge gate κ_e and sink level κ_s of the BFS key.
    pub kappa_edge: f64,
    pub kappa_sink: f64,
    /// Answer head scale ξ₃ and its sink level κ₃.
    pub xi_answer: f64,
    pub kappa_answer_sink: f64,
    /// Smallest coefficient ⟨u_v, h^{1.5}⟩ of a node that must survive the MLP.
    pub coef_min: f64,
    /// W₁ = γ·Uᵀ with γ = 1/(n_max·coef_min): surviving pre-activations are ≥ 1/n_max.
    pub gamma: f64,
    /// Threshold ε = eps_scale / (4·n_max) (Lemma 2); random embeddings: see `build`.
    pub eps: f64,
    /// Hidden width of the layer-2 MLP: one unit per token for the content block, one per
    /// token for buffer 1 (2·|Voc|).
    pub d_mlp: usize,
    /// Number of positions the runtime must support (ids 0..=t_max).
    pub n_positions: usize,
}

/// Weights plus what they were built from.
#[derive(Clone, Debug)]
pub struct Weights {
    pub layout: Layout,
    pub constants: Constants,
    pub tensors: BTreeMap<String, NamedTensor>,
}

// Residual-stream norms after layer 1 when every chooser picks exactly one position
// (all blocks are orthogonal and every embedding is a unit vector):
/// `<e>`: u_<e> + p̄ + ũ_s (buffer 1) + ũ_t (buffer 2) has norm 2.
const ALPHA_EDGE: f64 = 0.5;
/// `<R>`: u_<R> + p̄ + ũ_c1 + ũ_c2.
const ALPHA_ROOT_TOKEN: f64 = 0.5;
/// Node tokens, thoughts and `<s>`: u + p̄ (buffers empty).
const ALPHA_PLAIN: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// `<A>`: u_<A> + p̄ + ũ_{t_C} (buffer 1 holds the last thought, a unit vector).
const ALPHA_ANSWER: f64 = 0.577_350_269_189_625_8; // 1/√3

impl Weights {
    /// Builds every matrix of the construction for node vocabulary 0..n_max.
    pub fn build(n_max: usize, opts: &ConstructOptions) -> Result<Weights, ConstructError> {
        check_options(opts)?;
        let t_max = last_position(opts)?;
        let l = Layout::new(n_max, opts.d_pe, &opts.embedding)?;
        check_memory(&l, t_max + 1)?;
        let c = constants(&l, n_max, t_max, opts)?;
        let mut t = BTreeMap::new();
        embeddings(&l, opts, c.n_positions, &mut t);
        let (attn, attn_b, proj) = choosers(&l, opts, &c);
        insert_layer(
            &mut t,
            0,
            attn,
            attn_b,
            proj,
            NamedTensor::zeros(&[l.d_model, c.d_mlp]),
            NamedTensor::zeros(&[c.d_mlp, l.d_model]),
        );
        let (attn, attn_b, proj) = bfs_and_answer_heads(&l, &c);
        let (fc, fc_proj) = threshold_mlp(&l, n_max, &c);
        insert_layer(&mut t, 1, attn, attn_b, proj, fc, fc_proj);

        debug_assert_eq!(SPECIALS.len(), 5);
        Ok(Weights {
            layout: l,
            constants: c,
            tensors: t,
        })
    }
}

/// Refuses options no construction can be built from.
fn check_options(opts: &ConstructOptions) -> Result<(), ConstructError> {
    let positive = |x: f64| x > 0.0 && x.is_finite();
    if !positive(opts.logit_gap) || !positive(opts.temperature_scale) || !positive(opts.eps_scale) {
        return Err(ConstructError::Config(
            "logit_gap, temperature_scale and eps_scale must be finite positive numbers".into(),
        ));
    }
    if opts.m_max == 0 || opts.max_thoughts == 0 {
        return Err(ConstructError::Config(
            "m_max and max_thoughts must be at least 1".into(),
        ));
    }
    Ok(())
}

/// The scalar constants of the construction (attention scales already multiplied by the
/// temperature scale).
fn constants(
    l: &Layout,
    n_max: usize,
    t_max: usize,
    opts: &ConstructOptions,
) -> Result<Constants, ConstructError> {
    let g = opts.logit_gap;
    let temp = opts.temperature_scale;
    let gap = position_gap(opts.d_pe, opts.pe_base, t_max);
    if gap < 1e-6 {
        return Err(ConstructError::Config(format!(
            "sinusoidal positions of width {} cannot separate {} positions",
            opts.d_pe, t_max
        )));
    }
    // Lemma 3 (attention chooser): the wanted position scores ξ₁, every other one at
    // most ξ₁(1 − gap).
    let xi1 = g / gap;
    let lambda = 2.0 + gap;
    // Lemma 2 (BFS step): frontier edges score ξ₂(1 + match), the sink ξ₂(1 + μ/2),
    // other edges ξ₂; the match strength of an edge from V_c is
    // α_q α_e ⟨[t_c], u_s⟩ = α_q α_e / √|V_c| ≥ μ.
    let mu = ALPHA_PLAIN * ALPHA_EDGE / (n_max as f64).sqrt();
    let kappa_e = 1.0 / ALPHA_EDGE;
    let kappa_s = (1.0 + mu / 2.0) / ALPHA_PLAIN;
    let xi2 = g / (mu / 2.0);
    // Answer head: at `<A>`, `<R>` scores ξ₃ α_A α_R, `<s>` half of that.
    let r_score = ALPHA_ANSWER * ALPHA_ROOT_TOKEN;
    let kappa3 = (r_score / 2.0) / ALPHA_PLAIN;
    let xi3 = g / (r_score / 2.0);
    // Lemma 2 (MLP as a noise filter): the smallest coefficient that must pass.
    // Thought position: h¹ + BFS = α(u-sum/√|V_c| + p̄) + (1/k)Σ_j u_{t_j}, norm ≤ 2.
    let coef_thought = (ALPHA_PLAIN / (n_max as f64).sqrt()).min(1.0 / opts.m_max as f64) / 2.0;
    // `<A>`: α_A(u_<A> + p̄ + ũ_{V_C}/√|V_C|) + u_c1 + u_c2, norm ≤ 1 + √2.
    let coef_answer = ALPHA_ANSWER / (n_max as f64).sqrt() / (1.0 + std::f64::consts::SQRT_2);
    let coef_min = coef_thought.min(coef_answer);
    let gamma = 1.0 / (n_max as f64 * coef_min);
    // Orthonormal embeddings: ε = 1/(4n) (Lemma 2), a quarter of the smallest surviving
    // pre-activation γ·coef_min = 1/n. Random unit embeddings in d dimensions add
    // cross-talk of standard deviation ≈ 1/√d to every coefficient, so the threshold
    // moves to max(coef_min/2, min(2/√d, 1/4)) in coefficient units (half the smallest
    // signal, or two noise deviations when the noise is the larger, capped so that strong
    // coefficients, ≈ 1/2 and up, always pass), times γ.
    let eps = match opts.embedding {
        NodeEmbedding::Orthonormal => opts.eps_scale / (4.0 * n_max as f64),
        NodeEmbedding::RandomUnit { dim, .. } => {
            opts.eps_scale * gamma * (coef_min / 2.0).max((2.0 / (dim as f64).sqrt()).min(0.25))
        }
    };
    Ok(Constants {
        t_max,
        position_gap: gap,
        xi_chooser: xi1 * temp,
        sink_gate: lambda,
        xi_bfs: xi2 * temp,
        bfs_match_min: mu,
        kappa_edge: kappa_e,
        kappa_sink: kappa_s,
        xi_answer: xi3 * temp,
        kappa_answer_sink: kappa3,
        coef_min,
        gamma,
        eps,
        d_mlp: 2 * l.vocab_size(),
        n_positions: t_max + 1,
    })
}

/// The token and position embeddings.
fn embeddings(
    l: &Layout,
    opts: &ConstructOptions,
    n_positions: usize,
    t: &mut BTreeMap<String, NamedTensor>,
) {
    let (d, vocab) = (l.d_model, l.vocab_size());
    // wte: u_tok in the content block (Zhu et al. §4.1: orthonormal token embeddings,
    // Uᵀ U = I); tied, so the readout is W_O = Uᵀ (Theorem 1's measurement).
    let mut wte = NamedTensor::zeros(&[vocab, d]);
    for id in 0..vocab {
        let e = l.token_embedding(id as u32);
        wte.data[id * d..(id + 1) * d].copy_from_slice(&e);
    }
    t.insert(WTE.to_string(), wte);
    // wpe: unit sinusoid p̄_i in the position block only (§4.1, M = pe_base); row i is
    // the paper's 1-based position i (row 0 unused by prompts).
    let mut wpe = NamedTensor::zeros(&[n_positions, d]);
    for i in 0..n_positions {
        let p = sinusoid(i, opts.d_pe, opts.pe_base);
        for (k, x) in p.iter().enumerate() {
            wpe.set(i, l.pos() + k, *x);
        }
    }
    t.insert(WPE.to_string(), wpe);
}

/// Layer 1's attention: five attention choosers (Lemma 3; Zhu et al. Appendix B), as
/// (c_attn weight, c_attn bias, c_proj weight).
fn choosers(
    l: &Layout,
    opts: &ConstructOptions,
    c: &Constants,
) -> (NamedTensor, NamedTensor, NamedTensor) {
    let (d, dh, no, dn) = (l.d_model, l.d_head, l.node_off(), l.d_node);
    let (xi1, lambda) = (c.xi_chooser, c.sink_gate);
    // (token, lag ℓ, buffer): at `<x>` attend to position i − ℓ and copy its node
    // content into the buffer; elsewhere attend to `<s>` (position 1), whose value is 0.
    let choosers = [
        (S_EDGE, 2usize, l.buf1()), // (<e>,2): source s_i → buffer 1
        (S_EDGE, 1, l.buf2()),      // (<e>,1): target t_i → buffer 2
        (S_ROOT, 2, l.buf1()),      // (<R>,2): candidate c1 → buffer 1
        (S_ROOT, 1, l.buf2()),      // (<R>,1): candidate c2 → buffer 2
        (S_ANSWER, 1, l.buf1()),    // (<A>,1): last thought [t_C] → buffer 1
    ];
    let mut attn = NamedTensor::zeros(&[d, 3 * d]);
    let mut attn_b = NamedTensor::zeros(&[1, 3 * d]);
    let mut proj = NamedTensor::zeros(&[d, d]);
    for (h, &(x, lag, buf)) in choosers.iter().enumerate() {
        let q0 = h * dh;
        let k0 = d + h * dh;
        let v0 = 2 * d + h * dh;
        // W_Q, position part: ξ₁ R^{(−ℓ)} p̄_i = ξ₁ p̄_{i−ℓ} (rotation of every sinusoid
        // pair by −ω_k ℓ; the sinusoidal relative-position identity of Lemma 3).
        for k in 0..opts.d_pe / 2 {
            let th = omega(k, opts.d_pe, opts.pe_base) * lag as f64;
            let (s, c) = th.sin_cos();
            let (ps, pc) = (l.pos() + 2 * k, l.pos() + 2 * k + 1);
            // sin(ω(i−ℓ)) = sin ωi cos ωℓ − cos ωi sin ωℓ
            attn.set(ps, q0 + 2 * k, xi1 * c);
            attn.set(pc, q0 + 2 * k, -xi1 * s);
            // cos(ω(i−ℓ)) = cos ωi cos ωℓ + sin ωi sin ωℓ
            attn.set(ps, q0 + 2 * k + 1, xi1 * s);
            attn.set(pc, q0 + 2 * k + 1, xi1 * c);
            // W_K, position part: identity on p̄_j.
            attn.set(ps, k0 + 2 * k, 1.0);
            attn.set(pc, k0 + 2 * k + 1, 1.0);
        }
        // Sink gate (Lemma 3's gate on "token ≠ <x>"): query coordinate d_pe is
        // ξ₁λ(1 − ⟨u_<x>, h_i⟩) (bias minus the <x> indicator), key coordinate d_pe is
        // ⟨u_<s>, h_j⟩, so a token other than <x> scores ≥ ξ₁(λ − 1) on `<s>`.
        attn_b.set(0, q0 + opts.d_pe, xi1 * lambda);
        attn.set(l.content() + x, q0 + opts.d_pe, -xi1 * lambda);
        attn.set(l.content() + S_BOS, k0 + opts.d_pe, 1.0);
        // W_V: copy the node subspace of the content block (ũ_v ← u_v); `<s>` and the
        // other specials have no node content, so the sink contributes 0.
        for a in 0..dn {
            attn.set(l.content() + no + a, v0 + a, 1.0);
            // W_O of the head: write into the chosen buffer's node subspace.
            proj.set(h * dh + a, buf + no + a, 1.0);
        }
    }
    (attn, attn_b, proj)
}

/// Layer 2's attention: the BFS head and the answer head, as (c_attn weight, c_attn bias,
/// c_proj weight).
fn bfs_and_answer_heads(l: &Layout, c: &Constants) -> (NamedTensor, NamedTensor, NamedTensor) {
    let (d, dh, no, dn) = (l.d_model, l.d_head, l.node_off(), l.d_node);
    let (xi2, xi3) = (c.xi_bfs, c.xi_answer);
    let mut attn = NamedTensor::zeros(&[d, 3 * d]);
    let mut attn_b = NamedTensor::zeros(&[1, 3 * d]);
    let mut proj = NamedTensor::zeros(&[d, d]);
    // Head 0, the BFS step (Lemma 2; Zhu et al. §4.2): query = the thought's content
    // [t_c], key = the source stored in buffer 1 of each `<e>`, value = the target in
    // buffer 2, written back into content. Scores:
    //   frontier edge ξ₂(κ_e α_e + α_q α_e/√|V_c|) > `<s>` ξ₂ κ_s α_s > other edge ξ₂ κ_e α_e.
    let (q0, k0, v0) = (0, d, 2 * d);
    for a in 0..dn {
        attn.set(l.content() + no + a, q0 + a, xi2);
        attn.set(l.buf1() + no + a, k0 + a, 1.0);
        attn.set(l.buf2() + no + a, v0 + a, 1.0 / ALPHA_EDGE);
        proj.set(a, l.content() + no + a, 1.0);
    }
    // Edge gate: only `<e>` positions (not `<R>`, whose buffer 1 holds c1) are edges;
    // `<s>` is the sink when no edge leaves V_c.
    attn_b.set(0, q0 + dn, xi2);
    attn.set(l.content() + S_EDGE, k0 + dn, c.kappa_edge);
    attn.set(l.content() + S_BOS, k0 + dn, c.kappa_sink);
    // Head 1, the answer head: at `<A>` read the candidates c1, c2 that layer 1 stored
    // in `<R>`'s buffers, write u_c1 + u_c2 into content (§4.3: the reachable candidate
    // then appears twice at `<A>`); everywhere else attend to `<s>` (value 0).
    let (q0, k0, v0) = (dh, d + dh, 2 * d + dh);
    attn.set(l.content() + S_ANSWER, q0, xi3);
    attn_b.set(0, q0 + 1, xi3);
    attn.set(l.content() + S_ROOT, k0, 1.0);
    attn.set(l.content() + S_BOS, k0 + 1, c.kappa_answer_sink);
    for a in 0..dn {
        attn.set(l.buf1() + no + a, v0 + a, 1.0 / ALPHA_ROOT_TOKEN);
        attn.set(l.buf2() + no + a, v0 + a, 1.0 / ALPHA_ROOT_TOKEN);
        proj.set(dh + a, l.content() + no + a, 1.0);
    }
    // Heads 2–4 of layer 2 are unused (zero q, k, v: uniform attention over zeros).
    (attn, attn_b, proj)
}

/// Layer 2's threshold MLP (Lemma 2, "MLP as a noise filter"): W₁ = γUᵀ, σ = 1{· ≥ ε},
/// W₂ = U, no residual. Units 0..|Voc| read the content block; units |Voc|+v read
/// buffer 1 (non-zero only at `<A>`, where it holds the last thought), so at `<A>`
/// the output is u_<A> + u_c1 + u_c2 + Σ_{v∈V_C} u_v (§4.3). Returns (c_fc, c_proj).
fn threshold_mlp(l: &Layout, n_max: usize, c: &Constants) -> (NamedTensor, NamedTensor) {
    let (d, vocab, no, gamma) = (l.d_model, l.vocab_size(), l.node_off(), c.gamma);
    let mut fc = NamedTensor::zeros(&[d, c.d_mlp]);
    let mut fc_proj = NamedTensor::zeros(&[c.d_mlp, d]);
    for id in 0..vocab {
        let e = l.token_embedding(id as u32);
        for (k, x) in e.iter().enumerate().take(l.d_te) {
            if *x != 0.0 {
                fc.set(l.content() + k, id, gamma * *x as f64);
                fc_proj.set(id, l.content() + k, *x as f64);
            }
        }
    }
    for v in 0..n_max {
        for (a, x) in l.node_emb[v].iter().enumerate() {
            fc.set(l.buf1() + no + a, vocab + v, gamma * *x as f64);
            fc_proj.add(vocab + v, l.content() + no + a, *x as f64);
        }
    }
    (fc, fc_proj)
}

fn insert_layer(
    t: &mut BTreeMap<String, NamedTensor>,
    i: usize,
    attn: NamedTensor,
    attn_b: NamedTensor,
    proj: NamedTensor,
    fc: NamedTensor,
    fc_proj: NamedTensor,
) {
    let d = proj.shape[0];
    let d_mlp = fc.shape[1];
    let vec1 = |n: NamedTensor| NamedTensor {
        shape: vec![n.data.len()],
        data: n.data,
    };
    let n = BlockNames::new(i);
    t.insert(n.c_attn_weight, attn);
    t.insert(n.c_attn_bias, vec1(attn_b));
    t.insert(n.attn_proj_weight, proj);
    t.insert(n.attn_proj_bias, NamedTensor::zeros(&[d]));
    t.insert(n.c_fc_weight, fc);
    t.insert(n.c_fc_bias, NamedTensor::zeros(&[d_mlp]));
    t.insert(n.mlp_proj_weight, fc_proj);
    t.insert(n.mlp_proj_bias, NamedTensor::zeros(&[d]));
}
