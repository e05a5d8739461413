//! Criterion benchmarks: ProsQA generation and the three exact solvers on ProsQA-size tasks.
//! `cargo bench -p superpose-graph` (the end-to-end 100k-task number is `superpose bench graph`).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use superpose_graph::generate::{generate, Family, ProsqaParams};
use superpose_graph::solve::{solve_task, solve_task_with, Solver};

fn benches(c: &mut Criterion) {
    let family = Family::Prosqa(ProsqaParams::default());
    c.bench_function("generate 1000 prosqa tasks", |b| {
        b.iter(|| generate(black_box(&family), 1000, 1, None).unwrap())
    });
    let tasks = generate(&family, 1000, 2, None).unwrap();
    c.bench_function("solve 1000 prosqa tasks (bfs)", |b| {
        b.iter(|| tasks.iter().filter(|t| solve_task(t).correct).count())
    });
    for (name, s) in [
        ("reach-sets", Solver::ReachSets),
        ("matrix-power", Solver::MatrixPower),
    ] {
        c.bench_function(&format!("solve 1000 prosqa tasks ({name})"), |b| {
            b.iter(|| {
                tasks
                    .iter()
                    .filter(|t| solve_task_with(t, s).correct)
                    .count()
            })
        });
    }
}

criterion_group!(graph, benches);
criterion_main!(graph);
