//! Probes that read a latent vector as a superposition of token embeddings: top-k by inner
//! product and by cosine, non-negative least squares (Lawson & Hanson 1974) with the residual
//! norm, the logit lens at every layer (nostalgebraist 2020), and thought norms.

use serde::{Deserialize, Serialize};

use crate::model::{ForwardInput, Model};

/// One token's weight in a decomposition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Component {
    pub token: u32,
    pub score: f32,
}

/// A host copy of the token embedding matrix with its row norms.
#[derive(Clone, Debug)]
pub struct EmbeddingTable {
    pub vocab: usize,
    pub d: usize,
    pub data: Vec<f32>,
    pub norms: Vec<f32>,
}

impl EmbeddingTable {
    pub fn new(vocab: usize, d: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), vocab * d, "embedding table size");
        let norms = data
            .chunks(d)
            .map(|r| r.iter().map(|x| x * x).sum::<f32>().sqrt())
            .collect();
        Self {
            vocab,
            d,
            data,
            norms,
        }
    }
    pub fn from_model(model: &Model) -> Self {
        let c = model.config();
        let data = model
            .token_embedding()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 tensor");
        Self::new(c.vocab_size, c.d_model, data)
    }
    pub fn row(&self, t: usize) -> &[f32] {
        &self.data[t * self.d..(t + 1) * self.d]
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Euclidean norm of a thought vector.
pub fn norm(v: &[f32]) -> f32 {
    dot(v, v).sqrt()
}

fn top_by(scores: Vec<f32>, k: usize) -> Vec<Component> {
    let mut c: Vec<Component> = scores
        .into_iter()
        .enumerate()
        .map(|(i, s)| Component {
            token: i as u32,
            score: s,
        })
        .collect();
    c.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.token.cmp(&b.token)));
    c.truncate(k);
    c
}

/// The `k` tokens whose embeddings have the largest inner product `⟨v, e_t⟩`.
pub fn top_k_inner(table: &EmbeddingTable, v: &[f32], k: usize) -> Vec<Component> {
    top_by((0..table.vocab).map(|t| dot(v, table.row(t))).collect(), k)
}

/// The `k` tokens with the largest cosine similarity `⟨v, e_t⟩ / (‖v‖ ‖e_t‖)`.
pub fn top_k_cosine(table: &EmbeddingTable, v: &[f32], k: usize) -> Vec<Component> {
    let nv = norm(v).max(1e-12);
    top_by(
        (0..table.vocab)
            .map(|t| dot(v, table.row(t)) / (nv * table.norms[t].max(1e-12)))
            .collect(),
        k,
    )
}

/// Non-negative least squares `min_{x ≥ 0} ‖Σ_t x_t e_t − v‖`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NnlsResult {
    /// Tokens with positive coefficient, largest first.
    pub components: Vec<Component>,
    /// `‖Σ x_t e_t − v‖`.
    pub residual_norm: f32,
    /// `residual_norm / ‖v‖`.
    pub relative_residual: f32,
}

/// Solves `G z = c` (small dense SPD system) by Gaussian elimination with partial pivoting.
fn solve(mut g: Vec<f64>, mut c: Vec<f64>, n: usize) -> Vec<f64> {
    for i in 0..n {
        g[i * n + i] += 1e-12; // tiny ridge against exactly collinear embeddings
    }
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&a, &b| g[a * n + col].abs().total_cmp(&g[b * n + col].abs()))
            .unwrap();
        if piv != col {
            for j in 0..n {
                g.swap(col * n + j, piv * n + j);
            }
            c.swap(col, piv);
        }
        let p = g[col * n + col];
        if p.abs() < 1e-300 {
            continue;
        }
        for r in col + 1..n {
            let f = g[r * n + col] / p;
            if f != 0.0 {
                for j in col..n {
                    g[r * n + j] -= f * g[col * n + j];
                }
                c[r] -= f * c[col];
            }
        }
    }
    let mut z = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|j| g[i * n + j] * z[j]).sum();
        let p = g[i * n + i];
        z[i] = if p.abs() < 1e-300 {
            0.0
        } else {
            (c[i] - s) / p
        };
    }
    z
}

/// NNLS over the `candidates` tokens of highest cosine with `v` (all tokens when
/// `candidates >= vocab`), by the Lawson–Hanson active-set algorithm on the Gram matrix.
/// Restricting candidates keeps the problem small and, with `candidates <= d`, well posed.
pub fn nnls(table: &EmbeddingTable, v: &[f32], candidates: usize) -> NnlsResult {
    let cand: Vec<usize> = if candidates >= table.vocab {
        (0..table.vocab).collect()
    } else {
        top_k_cosine(table, v, candidates)
            .iter()
            .map(|c| c.token as usize)
            .collect()
    };
    let n = cand.len();
    let mut g = vec![0f64; n * n];
    let mut c = vec![0f64; n];
    for i in 0..n {
        let ei = table.row(cand[i]);
        c[i] = dot(ei, v) as f64;
        for j in i..n {
            let x = dot(ei, table.row(cand[j])) as f64;
            g[i * n + j] = x;
            g[j * n + i] = x;
        }
    }
    let tol = 1e-10 * (1.0 + c.iter().map(|x| x.abs()).fold(0.0, f64::max));
    let mut x = vec![0f64; n];
    let mut passive = vec![false; n];
    for _outer in 0..3 * n + 10 {
        // w = c − G x: the negative gradient.
        let w: Vec<f64> = (0..n)
            .map(|i| c[i] - (0..n).map(|j| g[i * n + j] * x[j]).sum::<f64>())
            .collect();
        let Some(j) = (0..n)
            .filter(|&i| !passive[i] && w[i] > tol)
            .max_by(|&a, &b| w[a].total_cmp(&w[b]))
        else {
            break;
        };
        passive[j] = true;
        for _inner in 0..3 * n + 10 {
            let p: Vec<usize> = (0..n).filter(|&i| passive[i]).collect();
            let m = p.len();
            let gp: Vec<f64> = p
                .iter()
                .flat_map(|&a| p.iter().map(move |&b| (a, b)))
                .map(|(a, b)| g[a * n + b])
                .collect();
            let cp: Vec<f64> = p.iter().map(|&a| c[a]).collect();
            let zp = solve(gp, cp, m);
            if zp.iter().all(|&z| z > 0.0) {
                for (k, &a) in p.iter().enumerate() {
                    x[a] = zp[k];
                }
                break;
            }
            // Step from x towards z until the first passive coefficient hits zero.
            let mut alpha = 1.0f64;
            for (k, &a) in p.iter().enumerate() {
                if zp[k] <= 0.0 {
                    alpha = alpha.min(x[a] / (x[a] - zp[k]));
                }
            }
            for (k, &a) in p.iter().enumerate() {
                x[a] += alpha * (zp[k] - x[a]);
                if x[a] <= 1e-12 {
                    x[a] = 0.0;
                    passive[a] = false;
                }
            }
        }
    }
    let mut recon = vec![0f32; table.d];
    for (i, &t) in cand.iter().enumerate() {
        if x[i] > 0.0 {
            for (r, e) in recon.iter_mut().zip(table.row(t)) {
                *r += x[i] as f32 * e;
            }
        }
    }
    let residual: f32 = recon
        .iter()
        .zip(v)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f32>()
        .sqrt();
    let mut components: Vec<Component> = cand
        .iter()
        .zip(&x)
        .filter(|(_, &xi)| xi > 0.0)
        .map(|(&t, &xi)| Component {
            token: t as u32,
            score: xi as f32,
        })
        .collect();
    components.sort_by(|a, b| b.score.total_cmp(&a.score));
    NnlsResult {
        components,
        residual_norm: residual,
        relative_residual: residual / norm(v).max(1e-12),
    }
}

/// Everything the CLI prints about one thought.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThoughtProbe {
    pub step: usize,
    pub norm: f32,
    pub top_inner: Vec<Component>,
    pub top_cosine: Vec<Component>,
    pub nnls: NnlsResult,
}

/// Probes one thought vector: `k` components each way, NNLS over `2k` cosine candidates.
pub fn probe_thought(table: &EmbeddingTable, step: usize, v: &[f32], k: usize) -> ThoughtProbe {
    ThoughtProbe {
        step,
        norm: norm(v),
        top_inner: top_k_inner(table, v, k),
        top_cosine: top_k_cosine(table, v, k),
        nnls: nnls(table, v, (2 * k).min(table.d)),
    }
}

/// Norms of a sequence of thoughts.
pub fn thought_norms(thoughts: &[Vec<f32>]) -> Vec<f32> {
    thoughts.iter().map(|t| norm(t)).collect()
}

/// The logit lens at one layer: the most likely next tokens read off the residual stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LensLayer {
    /// 0-based block index (the stream after that block).
    pub layer: usize,
    /// (token, probability) after the final norm and the LM head.
    pub top: Vec<Component>,
}

/// Logit lens (nostalgebraist 2020): applies the final norm and LM head to the residual stream
/// after every block, at `row`/`position` of `input`, and returns the top `k` tokens per layer.
pub fn logit_lens(
    model: &Model,
    input: ForwardInput,
    row: usize,
    position: usize,
    k: usize,
) -> Vec<LensLayer> {
    let out = model.forward(input, None);
    out.layer_hidden
        .into_iter()
        .enumerate()
        .map(|(layer, h)| {
            let h = h.narrow(0, row, 1).narrow(1, position, 1);
            let logits = model.lm_head(model.final_norm(h));
            let l = logits
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32");
            let m = l.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = l.iter().map(|x| (x - m).exp()).collect();
            let s: f32 = e.iter().sum();
            LensLayer {
                layer,
                top: top_by(e.into_iter().map(|x| x / s).collect(), k),
            }
        })
        .collect()
}
