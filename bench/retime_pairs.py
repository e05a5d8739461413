#!/usr/bin/env python3
"""Re-time the problems two planners both solve, in pairs, for a fair speed comparison.

A suite CSV from `cpu_suite.py --algo A --then B` times A and B at different moments (and with
`--reuse`, in different runs), so machine load can favour either side. This script takes the
problems both solved where either took more than --min-time CPU seconds, and runs A and B on
each one after the other, --reps times, alternating which goes first; it reports the median CPU
seconds of each and which is faster, one CSV row per problem, and counts the problems where A is
faster among those where B's median is over --min-time (`bench_one` under RLIMIT_CPU, one
process at a time: run it on an otherwise idle machine).

    python3 bench/retime_pairs.py bench/results/graphplan-sat-cpu30-full.csv \
        --pddl ../shared/data/pddl --reps 3 --csv bench/results/graphplan-sat-vs-classic-retimed.csv

--c ALGO times a third planner in the same rotation (an ablation, e.g. `graphplan-sat-direct`,
graphplan-sat with a variable per ground action: `bench_one` accepts that name); its median and
runs are extra columns, and the summary also counts where A is faster than C. With --c-bin, C
is run from another build of `bench_one` (C may then be A's own algo: the same planner before a
change, timed in the same rotation).
"""
import argparse, csv, statistics, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_suite import run_one, suite_files  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite_csv", type=Path)
    ap.add_argument("--pddl", type=Path, required=True, help="folder of the suite's domain folders")
    ap.add_argument("--a", default="graphplan-sat")
    ap.add_argument("--b", default="graphplan")
    ap.add_argument("--min-time", type=float, default=0.1,
                    help="keep problems where either planner took more CPU seconds than this")
    ap.add_argument("--c", help="a third planner timed in the same rotation (extra columns)")
    ap.add_argument("--c-bin", help="the bench_one binary for --c (default: --bin)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cpu-time", type=int, default=30)
    ap.add_argument("--bin", default="target/release/examples/bench_one")
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--skip", type=Path, nargs="*", default=[],
                    help="earlier outputs of this script: their problems are not run again")
    a = ap.parse_args()
    done = {(r["domain"], r["problem"]) for f in a.skip for r in csv.DictReader(open(f))}
    c_name = f"{a.c}-c-bin" if a.c and a.c_bin else a.c
    rows = list(csv.DictReader(open(a.suite_csv)))
    by = {(r["domain"], r["problem"], r["algo"]): r for r in rows}
    pairs = []
    for (dom, prob, algo), r in by.items():
        other = by.get((dom, prob, a.b))
        if algo != a.a or r["status"] != "solved" or not other or other["status"] != "solved":
            continue
        if max(float(r["time_s"]), float(other["time_s"])) > a.min_time and (dom, prob) not in done:
            pairs.append((dom, prob))
    pairs.sort()
    domains = {}
    with open(a.csv, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["domain", "problem", f"{a.a}_median_s", f"{a.b}_median_s", "faster",
                    f"{a.a}_runs", f"{a.b}_runs"]
                   + ([f"{c_name}_median_s", f"{c_name}_runs"] if a.c else []))
        faster = counted = faster_c = 0
        # Roles, not algo names: C may be A's algo from another binary.
        roles = {"a": (a.a, a.bin), "b": (a.b, a.bin)}
        if a.c:
            roles["c"] = (a.c, a.c_bin or a.bin)
        algos = list(roles)
        for i, (dom, prob) in enumerate(pairs):
            if dom not in domains:
                domains[dom] = suite_files(a.pddl / dom)
            dfile, problems = domains[dom]
            pfile = next(p for p in problems if p.stem == prob)
            times = {x: [] for x in algos}
            for rep in range(a.reps):
                # Rotate which planner goes first.
                order = algos[rep % len(algos):] + algos[:rep % len(algos)]
                for role in order:
                    algo, binary = roles[role]
                    row = run_one(binary, dfile, pfile, algo, a.cpu_time, 6144)
                    t = float(row[8]) if row[3] == "solved" else float("inf")
                    times[role].append(t)
            ma, mb = statistics.median(times["a"]), statistics.median(times["b"])
            win = a.a if ma < mb else a.b
            if mb > a.min_time:  # the headline counts problems where B takes over --min-time
                counted += 1
                faster += win == a.a
            extra = []
            if a.c:
                mc = statistics.median(times["c"])
                faster_c += ma < mc
                extra = [f"{mc:.3f}", " ".join(f"{t:.3f}" for t in times["c"])]
            w.writerow([dom, prob, f"{ma:.3f}", f"{mb:.3f}", win,
                        " ".join(f"{t:.3f}" for t in times["a"]),
                        " ".join(f"{t:.3f}" for t in times["b"])] + extra)
            out.flush()
            print(f"[{i + 1}/{len(pairs)}] {dom} {prob}: {a.a} {ma:.3f} s, {a.b} {mb:.3f} s",
                  flush=True)
    print(f"{a.a} faster on {faster} of {counted} "
          f"({100 * faster / max(1, counted):.0f}%) problems both solve where {a.b}'s median "
          f"is over {a.min_time} s ({len(pairs)} re-timed)")
    if a.c:
        print(f"{a.a} faster than {c_name} on {faster_c} of {len(pairs)} re-timed problems")


if __name__ == "__main__":
    main()
