//! Summed next-token cross-entropy: log-sum-exp per row forward, `softmax − onehot` backward.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use burn_flex::FlexTensor;

use super::vecmath::{logsumexp_row, softmax_scaled_row};
use super::{
    contiguous, f32s, finish, flex, input, inputs, rows_of, run_tasks, shape_of, FusedGrad,
    TaskOut, ROWS_PER_TASK,
};

/// Per row of `logits [n, v]`: log-sum-exp, and the summed −log p(target) over rows whose
/// target is ≥ 0.
fn cross_entropy_fwd(logits: &[f32], v: usize, targets: &[i64]) -> (f64, Vec<f32>) {
    let n = targets.len();
    let lse = TaskOut::new(n);
    let lo = lse.shared();
    let sums = run_tasks(n.div_ceil(ROWS_PER_TASK), logits.len(), |t| {
        let (r0, r1) = rows_of(t, n);
        // SAFETY: task t owns rows r0..r1.
        let lse = unsafe { lo.take(r0, r1 - r0) };
        let mut sum = 0f64;
        for (r, row) in logits[r0 * v..r1 * v].chunks(v).enumerate() {
            lse[r] = logsumexp_row(row);
            let tg = targets[r0 + r];
            if tg >= 0 {
                sum += (lse[r] - row[tg as usize]) as f64;
            }
        }
        sum
    });
    // SAFETY: the tasks took every element.
    (sums.iter().sum(), unsafe { lse.into_vec() })
}

/// d(Σ −log p(target))/d logits = g · (softmax − onehot(target)) on rows with a target, 0 elsewhere.
fn cross_entropy_bwd(logits: &[f32], v: usize, targets: &[i64], lse: &[f32], g: f32) -> Vec<f32> {
    let n = targets.len();
    let dl = TaskOut::new(logits.len());
    let dlo = dl.shared();
    run_tasks(n.div_ceil(ROWS_PER_TASK), logits.len(), |t| {
        let (r0, r1) = rows_of(t, n);
        // SAFETY: task t owns rows r0..r1.
        let dl = unsafe { dlo.take(r0 * v, (r1 - r0) * v) };
        for (r, (row, drow)) in logits[r0 * v..r1 * v]
            .chunks(v)
            .zip(dl.chunks_mut(v))
            .enumerate()
        {
            let tg = targets[r0 + r];
            if tg < 0 {
                continue;
            }
            softmax_scaled_row(drow, row, lse[r0 + r], g);
            drow[tg as usize] -= g;
        }
    });
    // SAFETY: the tasks took every element (rows without a target stay zero).
    unsafe { dl.into_vec() }
}

#[derive(Clone, Debug)]
struct CrossEntropyState {
    logits: FlexTensor,
    targets: Vec<i64>,
    lse: Vec<f32>,
}

impl FusedGrad<1> for CrossEntropyState {
    fn grads(self, dy: FlexTensor, _: [bool; 1]) -> [Option<FlexTensor>; 1] {
        let shape = shape_of(&self.logits);
        let g = f32s(&dy)[0];
        let dl = cross_entropy_bwd(f32s(&self.logits), shape[1], &self.targets, &self.lse, g);
        [Some(flex(dl, shape))]
    }
}

/// Summed next-token cross-entropy `Σ −log softmax(logits_i)[t_i]` over the rows `i` of
/// `logits [n, vocab]` whose target `t_i` is ≥ 0 (a negative target means "no loss here"), as a
/// one-element tensor.
///
/// # Panics
/// If `targets.len() != n` or a target is ≥ vocab.
pub fn cross_entropy_sum(logits: Tensor<2>, targets: &[i64]) -> Tensor<1> {
    let [n, v] = logits.dims();
    assert_eq!(targets.len(), n, "one target per logits row");
    assert!(
        targets.iter().all(|&t| t < v as i64),
        "cross_entropy_sum: a target is outside the vocabulary ({v})"
    );
    if let Some(([lp], ad)) = inputs([input(&logits)]) {
        let lp = contiguous(lp);
        let (loss, lse) = cross_entropy_fwd(f32s(&lp), v, targets);
        let out = flex(vec![loss as f32], vec![1]);
        return finish(ad, out, || CrossEntropyState {
            logits: lp,
            targets: targets.to_vec(),
            lse,
        });
    }
    // Composite: gather the rows that have a target.
    let device = logits.device();
    let rows: Vec<i64> = (0..n as i64)
        .filter(|&i| targets[i as usize] >= 0)
        .collect();
    if rows.is_empty() {
        return logits.sum().mul_scalar(0.0);
    }
    let tg: Vec<i64> = rows.iter().map(|&i| targets[i as usize]).collect();
    let m = rows.len();
    let sel = logits.select(
        0,
        Tensor::<1, Int>::from_data(TensorData::new(rows, [m]), &device),
    );
    let lp = log_softmax(sel, 1);
    let tg = Tensor::<2, Int>::from_data(TensorData::new(tg, [m, 1]), &device);
    lp.gather(1, tg).sum().neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu_device;
    use crate::fused::testing::{check, randn, vals};

    #[test]
    fn cross_entropy_matches_burn_values_and_gradients() {
        let targets: Vec<i64> = (0..150)
            .map(|i| if i % 7 == 3 { -1 } else { (i * 13) % 37 })
            .collect();
        check(
            |d| vec![randn([150, 37], 4, d).mul_scalar(4.0)],
            |x| cross_entropy_sum(x[0].clone(), &targets),
            1e-4,
        );
        // Known answer: uniform logits give log(vocab) per counted row.
        let l = Tensor::<2>::zeros([3, 8], &cpu_device());
        let loss = vals(cross_entropy_sum(l, &[1, -1, 7]))[0];
        assert!((loss - 2.0 * 8f32.ln()).abs() < 1e-5);
    }
}
