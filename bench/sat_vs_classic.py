#!/usr/bin/env python3
"""Summarise a `cpu_suite.py --algo graphplan-sat --then graphplan` CSV: per domain, problems
covered, solved by SAT, classic run on them, both solved, equal parallel steps, classic > 0.1 s
and SAT faster there; plus non-solved statuses (invalid plans show up as `invalid`/`error`).

    python3 bench/sat_vs_classic.py bench/results/graphplan-sat-cpu30-full.csv
"""
import csv, sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1])))
sat = {(r["domain"], r["problem"]): r for r in rows if r["algo"] == "graphplan-sat"}
cls = {(r["domain"], r["problem"]): r for r in rows if r["algo"] == "graphplan"}
per = defaultdict(lambda: defaultdict(int))
statuses = defaultdict(int)
slow, diff, sat_only_slowest = [], [], []
for k, r in sat.items():
    d = per[k[0]]
    d["covered"] += 1
    statuses[r["status"]] += 1
    if r["status"] != "solved":
        continue
    d["sat"] += 1
    c = cls.get(k)
    if not c:
        continue
    d["classic_run"] += 1
    if c["status"] != "solved":
        d["sat_only"] += 1
        continue
    d["both"] += 1
    if c["plan_steps"] == r["plan_steps"]:
        d["same_steps"] += 1
    else:
        diff.append((k, r["plan_steps"], c["plan_steps"]))
    tc, ts = float(c["time_s"]), float(r["time_s"])
    if tc > 0.1:
        d["slow"] += 1
        d["faster"] += ts < tc
        slow.append((k, ts, tc))
cols = ["covered", "sat", "classic_run", "both", "same_steps", "sat_only", "slow", "faster"]
print("| domain | covered | graphplan-sat solved | classic run on them | both solve | same steps | SAT only | classic > 0.1 s | SAT faster there |")
print("|---|" + "---|" * len(cols))
tot = defaultdict(int)
for dom in sorted(per):
    print(f"| {dom} | " + " | ".join(str(per[dom][c]) for c in cols) + " |")
    for c in cols:
        tot[c] += per[dom][c]
print("| **total** | " + " | ".join(f"**{tot[c]}**" for c in cols) + " |")
print("\nSAT statuses:", dict(statuses))
print("step differences:", diff or "none")
pending = sum(1 for k, r in sat.items() if r["status"] == "solved" and k not in cls)
print("SAT-solved problems whose classic run had not happened yet:", pending)
if slow:
    print(f"classic > 0.1 s and both solve: SAT faster on {tot['faster']} of {tot['slow']} "
          f"({100 * tot['faster'] / tot['slow']:.0f}%)")
    print("slower ones (sat s, classic s):")
    for k, ts, tc in sorted(slow):
        if ts >= tc:
            print(f"  {k[0]} {k[1]}: {ts:.3f} vs {tc:.3f}")
