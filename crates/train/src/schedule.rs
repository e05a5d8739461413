//! Learning-rate schedules: constant (Zhu et al. §5.1: constant 1e-4) or cosine decay, both
//! with linear warm-up.

use crate::config::{LrSchedule, OptimConfig};

/// Learning rate at optimizer step `step` (0-based) of `total` steps.
pub fn learning_rate(o: &OptimConfig, step: usize, total: usize) -> f64 {
    if o.warmup_steps > 0 && step < o.warmup_steps {
        return o.lr * (step + 1) as f64 / o.warmup_steps as f64;
    }
    match o.schedule {
        LrSchedule::Constant => o.lr,
        LrSchedule::Cosine => {
            let span = total.saturating_sub(o.warmup_steps).max(1) as f64;
            let t = ((step - o.warmup_steps.min(step)) as f64 / span).min(1.0);
            let floor = o.lr * o.min_lr_ratio;
            floor + (o.lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn optim(schedule: LrSchedule) -> OptimConfig {
        OptimConfig {
            epochs: 1,
            batch_size: 1,
            grad_accum: 1,
            lr: 1.0,
            schedule,
            warmup_steps: 10,
            min_lr_ratio: 0.1,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.01,
            clip_norm: 1.0,
        }
    }

    #[test]
    fn warmup_then_constant() {
        let o = optim(LrSchedule::Constant);
        assert!((learning_rate(&o, 0, 100) - 0.1).abs() < 1e-12);
        assert!((learning_rate(&o, 9, 100) - 1.0).abs() < 1e-12);
        assert_eq!(learning_rate(&o, 50, 100), 1.0);
    }

    #[test]
    fn cosine_decays_to_floor() {
        let o = optim(LrSchedule::Cosine);
        assert!((learning_rate(&o, 10, 110) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&o, 60, 110) - 0.55).abs() < 1e-9);
        assert!((learning_rate(&o, 110, 110) - 0.1).abs() < 1e-9);
        let mut prev = f64::INFINITY;
        for s in 10..110 {
            let lr = learning_rate(&o, s, 110);
            assert!(lr <= prev);
            prev = lr;
        }
    }
}
