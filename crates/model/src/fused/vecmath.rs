//! Vector math for the kernels: e^x and erf as branch-free polynomials, reductions split
//! into lanes, and the row operations of the softmax, compiled for AVX-512, AVX2 + FMA and the
//! baseline and picked at run time ([`multiversion`]).

/// Compile `body` three times: for AVX-512, for AVX2 + FMA, and for the baseline, and pick at
/// run time (no `target-cpu` flag needed). The body is plain loops that the compiler
/// vectorises for each target.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn v4($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features.
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features.
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(super) use multiversion;

/// e^x in f32, branch-free so that loops over it vectorise (Cephes `expf`: e^x = 2^n · e^r
/// with n = round(x·log₂e), |r| ≤ ln2/2, and a degree-5 polynomial for e^r; about 1 ulp).
/// n is rounded by adding 1.5·2²³, which leaves it in the low mantissa bits, so 2^n is built
/// with integer adds and a shift (no float-to-int conversion, which would not vectorise).
#[inline(always)]
pub(super) fn exp_f32(x_in: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
    let x = x_in.clamp(-87.3, 88.3);
    let m = x * std::f32::consts::LOG2_E + MAGIC;
    let n = m - MAGIC;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let two_n = m.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127) << 23;
    let y = e * f32::from_bits(two_n);
    // Below the clamp (including −∞, a masked score) the true value underflows anyway: 0.
    if x_in < -87.3 {
        0.0
    } else {
        y
    }
}

/// erf(x) and e^(−x²) (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7), branch-free.
#[inline(always)]
pub(super) fn erf_f32(x: f32) -> (f32, f32) {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
    let g = exp_f32(-a * a);
    ((1.0 - poly * g).copysign(x), g)
}

/// Lanes for the hand-split reductions below: a float sum is not reassociated by the
/// compiler, so sums and maxima run in 16 independent accumulators that it can vectorise.
const LANES: usize = 16;

/// max(x), −∞ for an empty slice.
#[inline(always)]
fn max_lanes(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] = acc[i].max(c[i]);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |a, &v| a.max(v));
    acc.iter().fold(tail, |a, &v| a.max(v))
}

/// x ← e^(x − c) in place; returns Σ x.
#[inline(always)]
fn exp_shift_sum(x: &mut [f32], c: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = x.chunks_exact_mut(LANES);
    for ch in &mut chunks {
        for i in 0..LANES {
            ch[i] = exp_f32(ch[i] - c);
            acc[i] += ch[i];
        }
    }
    let mut tail = 0f32;
    for v in chunks.into_remainder() {
        *v = exp_f32(*v - c);
        tail += *v;
    }
    acc.iter().sum::<f32>() + tail
}

/// Σ e^(x − c) without storing.
#[inline(always)]
fn exp_shift_total(x: &[f32], c: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for ch in &mut chunks {
        for i in 0..LANES {
            acc[i] += exp_f32(ch[i] - c);
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&v| exp_f32(v - c)).sum();
    acc.iter().sum::<f32>() + tail
}

multiversion! {
    /// Softmax of `row[..lim]` in place (the keys after `lim` are causally masked: 0);
    /// returns the log-sum-exp.
    pub(super) fn softmax_row(row: &mut [f32], lim: usize) -> f32 {
        let (live, masked) = row.split_at_mut(lim);
        masked.iter_mut().for_each(|x| *x = 0.0);
        let mx = max_lanes(live);
        let sum = exp_shift_sum(live, mx);
        let inv = 1.0 / sum;
        live.iter_mut().for_each(|x| *x *= inv);
        mx + sum.ln()
    }
}

multiversion! {
    /// `row[..lim] ← e^(row − lse)`, the rest 0: the probabilities again from the scores.
    pub(super) fn probs_row(row: &mut [f32], lim: usize, lse: f32) {
        let (live, masked) = row.split_at_mut(lim);
        masked.iter_mut().for_each(|x| *x = 0.0);
        live.iter_mut().for_each(|x| *x = exp_f32(*x - lse));
    }
}

multiversion! {
    /// `row[..lim] ·= scale` (the rest is overwritten by the softmax).
    pub(super) fn scale_row(row: &mut [f32], lim: usize, scale: f32) {
        row[..lim].iter_mut().for_each(|x| *x *= scale);
    }
}

multiversion! {
    /// dS = P ∘ (dP − D) · scale, in place over dP.
    pub(super) fn dscores_row(dp: &mut [f32], p: &[f32], delta: f32, scale: f32) {
        for (x, &pv) in dp.iter_mut().zip(p) {
            *x = pv * (*x - delta) * scale;
        }
    }
}

multiversion! {
    /// log Σ e^x of a row.
    pub(super) fn logsumexp_row(row: &[f32]) -> f32 {
        let mx = max_lanes(row);
        mx + exp_shift_total(row, mx).ln()
    }
}

multiversion! {
    /// d ← g · e^(x − lse) (the softmax, scaled).
    pub(super) fn softmax_scaled_row(d: &mut [f32], x: &[f32], lse: f32, g: f32) {
        for (o, &v) in d.iter_mut().zip(x) {
            *o = g * exp_f32(v - lse);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_match_known_values() {
        // exp and erf against the standard library at known points.
        for x in [-20.0f32, -3.3, -1.0, -0.1, 0.0, 0.37, 1.0, 2.5, 9.0, 40.0] {
            let e = exp_f32(x);
            assert!((e - x.exp()).abs() <= 2e-7 * x.exp(), "exp({x}) = {e}");
        }
        // erf(1) = 0.8427007929497149, erf(−0.5) = −0.5204998778130465.
        assert!((erf_f32(1.0).0 - 0.842_700_8).abs() < 3e-7);
        assert!((erf_f32(-0.5).0 + 0.520_499_9).abs() < 3e-7);
    }
}
