//! superpose-model: a GPT-2-family transformer on burn whose context holds token vectors and
//! latent vectors alike (Coconut's continuous thoughts, Soft Thinking's mixtures, the
//! superposition construction of Zhu et al. 2025), with KV-cached batched decoding, probes that
//! read a latent as a superposition of token embeddings, and Hugging Face-compatible checkpoints.

pub use burn;
pub use burn::module::Module;
pub use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod fused;
pub mod generate;
pub mod hf;
pub mod lexicon;
pub mod model;
pub mod optim;
pub mod probe;
#[cfg(feature = "tokenizers")]
pub mod text;

pub use checkpoint::{load_checkpoint, save_checkpoint};
pub use config::{
    Activation, LayerSwitches, ModelConfig, ModelSize, NormKind, NormPlacement, PositionKind,
    ThoughtScale,
};
pub use model::{
    sinusoidal_table, thought_input, Batch, ForwardInput, ForwardOutput, KvCache, Model,
    NamedTensor, Slot,
};

/// The default CPU device (burn's pure-Rust `flex` backend, f32, multi-threaded via rayon).
pub fn cpu_device() -> Device {
    Device::flex()
}

/// The backends this build can run on, as `BURN_DEVICE` names them: always `flex` (CPU), plus
/// `wgpu` and `cuda` when built with those cargo features, `tch` (LibTorch on the CPU) with
/// `tch`, and `ndarray` (OpenBLAS gemm) with `blas`.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut names = vec!["flex"];
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    if cfg!(feature = "tch") {
        names.push("tch");
    }
    if cfg!(feature = "blas") {
        names.push("ndarray");
    }
    names
}

/// The device to run on: burn's default, i.e. the GPU when the build has the `cuda` or `wgpu`
/// feature and the CPU (`flex`) otherwise; the `BURN_DEVICE` environment variable picks one of
/// [`compiled_backends`]. An unknown or uncompiled `BURN_DEVICE` is an error here rather than
/// burn's panic.
pub fn default_device() -> Result<Device, ModelError> {
    if let Ok(name) = std::env::var("BURN_DEVICE") {
        let compiled = compiled_backends();
        if !compiled.contains(&name.to_lowercase().as_str()) {
            return Err(ModelError::Input(format!(
                "BURN_DEVICE={name}: this build has {}; build with `--features wgpu` or \
                 `--features cuda` for a GPU, `--features tch` or `--features blas` for the other \
                 CPU backends",
                compiled.join(", ")
            )));
        }
    }
    Ok(Device::default())
}

/// A short name of the backend behind `device`, for reports ("burn flex (CPU)", ...).
pub fn backend_name(device: &Device) -> String {
    let d = format!("{device:?}").to_lowercase();
    let name = if d.contains("libtorch") {
        "burn tch (LibTorch CPU)"
    } else if d.contains("ndarray") {
        "burn ndarray + OpenBLAS (CPU)"
    } else if d.contains("flex") {
        "burn flex (CPU)"
    } else if d.contains("cuda") {
        "burn cuda"
    } else if d.contains("wgpu") {
        "burn wgpu"
    } else {
        return format!("burn {d}");
    };
    name.to_string()
}

/// Keep freed memory in the process for reuse (glibc only; elsewhere a no-op).
///
/// A training step allocates and frees tensors of up to 16 MB hundreds of times. By default
/// glibc serves such blocks with `mmap` and returns them with `munmap`, so every op pays for
/// page faults and zeroing of fresh pages (a tenth of a CPU training step, measured with
/// `perf`). Raising the mmap threshold to its maximum (32 MB) and never trimming the heap lets
/// the allocator hand the same pages back.
///
/// One arena for all threads: glibc gives each thread that allocates its own arena, grown in
/// 64 MiB heaps that are unmapped whenever one empties, whatever the trim threshold. Which
/// worker runs an op (and so allocates or frees its buffers) depends on timing, so a run's page
/// faults varied from 38,000 to 210,000 for the same recipe benchmark (32,000–35,000 with one
/// arena; `docs/model-speed.md`). The binary calls this once at start-up.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Threads of the compute pool (rayon's; `RAYON_NUM_THREADS` sets it).
pub fn compute_threads() -> usize {
    rayon::current_num_threads()
}

/// Run `f` on one of rayon's worker threads, and return its result, with the pool's other
/// threads kept awake meanwhile.
///
/// The fused kernels and gemm fork work onto rayon's pool. From a thread outside the pool
/// (the program's main thread) every fork is a cold injection: the job is queued, a worker
/// woken, and the caller blocks on a lock until the workers are done, two thread hand-offs
/// per op. A training or decoding loop runs thousands of such ops per step, most of them small
/// (a Coconut pass is 8–512 rows). On a worker the fork is a push onto its own deque: if no
/// other worker takes the second half in time, the forking thread runs it itself. The binary
/// runs every command through this. The pool's threads get the main thread's 8 MiB
/// stack; with a global pool already built, that one is used.
///
/// Between two ops the other workers find nothing to do, and rayon puts an idle worker to
/// sleep after a few dozen rounds of looking (tens of microseconds); the next fork then pays
/// a futex wake-up and the sleeper's scheduling delay, and the forking thread often runs both
/// halves itself before the sleeper arrives (10% of a batch-32 decoding profile was the
/// wake-ups alone). So while `f` runs, each other worker runs [`keep_warm`]: it takes work as
/// soon as it is pushed and waits spinning in between, as OpenMP's workers do, dozing only
/// after a millisecond without work, until the next fork wakes it.
pub fn on_compute_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(8 << 20)
        .build_global();
    if rayon::current_thread_index().is_some() {
        return f();
    }
    /// Sets the flag when dropped: the keepers stop also when `f` panics.
    struct Finish<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for Finish<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Release);
        }
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let done = &done;
    rayon::scope(|scope| {
        let home = rayon::current_thread_index();
        for _ in 1..rayon::current_num_threads() {
            scope.spawn(move |_| keep_warm(done, home));
        }
        let _finish = Finish(done);
        f()
    })
}

/// Keepers dozing right now, and the threads running [`keep_warm`] (to unpark them).
static DOZING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static KEEPERS: std::sync::Mutex<Vec<std::thread::Thread>> = std::sync::Mutex::new(Vec::new());

/// Wake the keepers that doze ([`keep_warm`]): the kernels call this just before they fork,
/// so the first op after a quiet spell (a step after logging, or after the PyTorch partner's
/// step in `bench model --vs-pytorch`) has both threads. One atomic load when none dozes.
pub(crate) fn wake_keepers() {
    use std::sync::atomic::Ordering;
    if DOZING.load(Ordering::Acquire) > 0 {
        let keepers = KEEPERS.lock().unwrap_or_else(|e| e.into_inner());
        keepers.iter().for_each(std::thread::Thread::unpark);
    }
}

/// Take the pool's work as it comes until `done`: spin while work was found in the last
/// millisecond (yielding the core now and then, so that other processes on a busy machine
/// still run), then doze, parked for 0.1 ms doubling up to 5 ms while nothing comes, so that a
/// command with no model work (planning) costs next to no CPU time here; a fork wakes a
/// dozing keeper ([`wake_keepers`]). Returns at once on `home`, the thread running the caller's
/// job (should it pick this job up itself while waiting, it must not stay here).
fn keep_warm(done: &std::sync::atomic::AtomicBool, home: Option<usize>) {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    if rayon::current_thread_index() == home {
        return;
    }
    let me = std::thread::current();
    KEEPERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(me.clone());
    let mut last_work = Instant::now();
    let mut idle_rounds = 0u32;
    let mut doze = Duration::from_micros(100);
    while !done.load(Ordering::Acquire) {
        if let Some(rayon::Yield::Executed) = rayon::yield_now() {
            last_work = Instant::now();
            idle_rounds = 0;
            doze = Duration::from_micros(100);
            continue;
        }
        idle_rounds += 1;
        // Checking the clock every 64 rounds keeps the spin tight.
        if !idle_rounds.is_multiple_of(64) {
            std::hint::spin_loop();
        } else if last_work.elapsed() > Duration::from_millis(1) {
            DOZING.fetch_add(1, Ordering::AcqRel);
            std::thread::park_timeout(doze);
            DOZING.fetch_sub(1, Ordering::AcqRel);
            doze = (doze * 2).min(Duration::from_millis(5));
        } else {
            std::thread::yield_now();
        }
    }
    KEEPERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|t| t.id() != me.id());
}

/// The CPU device with autodiff enabled, for training and gradient checks.
pub fn cpu_autodiff_device() -> Device {
    Device::flex().autodiff()
}

/// Errors of the model crate. Every message names what was wrong (file, tensor, field).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid model config: {0}")]
    Config(String),
    #[error("checkpoint mismatch: {0}")]
    Mismatch(String),
    #[error("invalid input: {0}")]
    Input(String),
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    /// A prompt word or token that the checkpoint's vocabulary does not have.
    #[error("{0}")]
    Vocabulary(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_pool_returns_results_and_panics_without_hanging() {
        // Work forked inside reaches the kept-warm workers and the result comes back.
        let sum: u64 = on_compute_pool(|| {
            use rayon::prelude::*;
            (0..10_000u64).into_par_iter().map(|x| x * x).sum()
        });
        assert_eq!(sum, (0..10_000u64).map(|x| x * x).sum::<u64>());
        // A panic inside stops the keepers too (no hang) and reaches the caller.
        let caught =
            std::panic::catch_unwind(|| on_compute_pool(|| -> u8 { panic!("inside the pool") }));
        assert!(caught.is_err());
        // The pool still works afterwards.
        assert_eq!(on_compute_pool(|| 7), 7);
    }

    #[test]
    fn backend_names_see_through_autodiff() {
        assert_eq!(backend_name(&cpu_device()), "burn flex (CPU)");
        assert_eq!(backend_name(&cpu_autodiff_device()), "burn flex (CPU)");
        assert!(compiled_backends().contains(&"flex"));
    }
}
