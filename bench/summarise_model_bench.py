#!/usr/bin/env python3
"""Summarise a round of issue 18's protocol: the median of three `superpose bench model
--vs-pytorch --json` invocations per shape, one line per shape and thread setting.

A round is a folder holding `reference-1.json` … `reference-3.json` and `recipe-1.json` …
`recipe-3.json` (see docs/model-speed.md). Each line prints, per figure, the median ratio
(> 1 = superpose faster) and the three ratios in the order the invocations ran.

    python3 bench/summarise_model_bench.py bench/results/bench-model-2026-12-02k
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

FIGURES = [
    ("training", "train_ratio"),
    ("Coconut step", "coconut_ratio"),
    ("generation b1", "latent_gen_b1_ratio"),
    ("generation b32", "latent_gen_b32_ratio"),
]


def load(folder: Path, shape: str) -> list:
    runs = []
    for i in (1, 2, 3):
        path = folder / f"{shape}-{i}.json"
        try:
            runs.append(json.loads(path.read_text())["runs"])
        except (OSError, ValueError, KeyError) as e:
            sys.exit(f"{path}: not a `bench model --json` report ({e})")
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="a round's folder of JSON reports")
    a = ap.parse_args()
    for shape in ("reference", "recipe"):
        runs = load(a.folder, shape)
        for setting in range(len(runs[0])):
            threads = runs[0][setting]["threads"]
            cells = []
            for label, key in FIGURES:
                try:
                    ratios = [r[setting][key] for r in runs]
                except KeyError:
                    sys.exit(f"{a.folder}: {shape} has no `{key}` (run with --vs-pytorch)")
                spread = "/".join(f"{x:.2f}" for x in ratios)
                cells.append(f"{label} {statistics.median(ratios):.2f}x ({spread})")
            print(f"{shape}, {threads} thread(s): " + " | ".join(cells))


if __name__ == "__main__":
    main()
