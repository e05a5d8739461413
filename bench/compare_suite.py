#!/usr/bin/env python3
"""Compare suite runs (CSV files of `superpose plan bench` or bench/pyperplan_suite.py, columns
domain, problem, algo, status, plan_length, time_s): problems solved per domain and algorithm,
and the median time and the per-problem time ratio on the problems every algorithm solved.

    python3 bench/compare_suite.py graphplan.csv pyperplan-bfs.csv [--markdown]

Several files may hold the same algorithm (a suite split in parts); rows are keyed by
(algo, domain, problem), and a later row replaces an earlier one.
"""
import argparse, csv, statistics, sys
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csvs", nargs="+")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    a = ap.parse_args()
    runs = defaultdict(dict)  # algo -> (domain, problem) -> row
    for path in a.csvs:
        with open(path, newline="") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                try:
                    key = (row["domain"], row["problem"])
                    runs[row["algo"]][key] = (row["status"], float(row["time_s"]))
                except (KeyError, ValueError) as e:
                    sys.exit(f"{path}:{line}: bad row ({e})")
    algos = sorted(runs)
    problems = sorted(set().union(*(r.keys() for r in runs.values())))
    domains = sorted({d for d, _ in problems})
    # Only problems every algorithm ran are compared.
    common = [p for p in problems if all(p in runs[al] for al in algos)]
    missing = len(problems) - len(common)
    head = ["domain", "problems"] + [f"{al} solved" for al in algos] + ["all solve"] + [
        f"{al} median s (all solve)" for al in algos
    ]
    rows = []
    tot = defaultdict(int)
    both_times = defaultdict(list)
    for d in domains + ["total"]:
        ps = [p for p in common if d == "total" or p[0] == d]
        if not ps:
            continue
        solved = {al: [p for p in ps if runs[al][p][0] == "solved"] for al in algos}
        allsolve = [p for p in ps if all(runs[al][p][0] == "solved" for al in algos)]
        med = {
            al: (statistics.median(runs[al][p][1] for p in allsolve) if allsolve else None)
            for al in algos
        }
        if d == "total":
            for al in algos:
                both_times[al] = [runs[al][p][1] for p in allsolve]
        rows.append(
            [d, len(ps)]
            + [len(solved[al]) for al in algos]
            + [len(allsolve)]
            + ["" if med[al] is None else f"{med[al]:.3f}" for al in algos]
        )
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(str(x) for x in r) + " |")
    else:
        w = csv.writer(sys.stdout)
        w.writerow(head)
        w.writerows(rows)
    if len(algos) == 2:
        x, y = algos
        faster = sum(1 for s, t in zip(both_times[x], both_times[y]) if s < t)
        n = len(both_times[x])
        if n:
            ratios = sorted(t / max(s, 1e-6) for s, t in zip(both_times[x], both_times[y]))
            print(
                f"\non the {n} problems both solve: {x} faster on {faster}, "
                f"median time ratio {y}/{x} = {statistics.median(ratios):.1f}",
            )
    if missing:
        print(f"({missing} problems not run by every algorithm are left out)")


if __name__ == "__main__":
    main()
