//! superpose-util: the few helpers that several crates share, so that each has one owner —
//! the median of a sample, the progress bar on stderr, and the fuzz tests' harness. It depends
//! on nothing of ours.

pub mod fuzz;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The median of the values: the middle one, or the mean of the two middle ones for an even
/// count (None if empty). NaNs sort last.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let k = v.len();
    Some(if k % 2 == 1 {
        v[k / 2]
    } else {
        (v[k / 2 - 1] + v[k / 2]) / 2.0
    })
}

/// A progress bar of `len` steps on stderr, labelled `label`; hidden when `visible` is false
/// or stderr is not a terminal. Callers put what changes (the current item, a loss) in its
/// message.
pub fn progress_bar(len: u64, label: &str, visible: bool) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(len),
        if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>22} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_prefix(label.to_string());
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty_samples() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![7.5]), Some(7.5));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn a_hidden_bar_counts_without_drawing() {
        let pb = progress_bar(10, "work", false);
        pb.inc(3);
        assert!(pb.is_hidden());
        assert_eq!((pb.position(), pb.length()), (3, Some(10)));
    }
}
