//! Development aid: one line per problem of the full planning suite with the time each part
//! takes (`cargo run -p superpose-lab --example plan_trace -- [TIME_LIMIT]`).

use std::time::Instant;

use superpose_lab::experiments::planning::{measure, suite_problems, MeasureSettings};

fn main() {
    let limit: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let time_limit = superpose_plan::Limits::parse_time("TIME_LIMIT", limit).expect("TIME_LIMIT");
    let opts = superpose_lab::RunOptions {
        quick: false,
        time_limit,
        ..Default::default()
    };
    let settings = MeasureSettings::for_run(&opts);
    for p in suite_problems(&opts).expect("suite") {
        let name = p.name.clone();
        let t = Instant::now();
        match measure(p, &settings) {
            Ok(m) => println!(
                "{name} {} gp={:.3}s total={:.3}s facts={} exact={}",
                m.gp.outcome.status(),
                m.gp.time_s,
                t.elapsed().as_secs_f64(),
                m.task.num_facts(),
                m.exact.as_ref().map_or("-".to_string(), |e| format!(
                    "{}{}",
                    e.levels.last().map_or(0, |l| l.states),
                    if e.truncated { "+" } else { "" }
                ))
            ),
            Err(e) => println!("{name} error {e}"),
        }
    }
}
