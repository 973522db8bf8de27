#!/usr/bin/env python3
"""Prints criterion's latest results under a target directory as Markdown tables.

usage: python3 scripts/bench-table.py [TARGET_DIR]   (default: target)

One table per benchmark group: a row per input, a column per function, each
cell the median time and the throughput in G elements/s, or in elements/s
below 0.1 G (for the loss
benchmarks an element is one flop of the covariance accumulation counted as a
dense product; see host-tests/benches/loss.rs).
"""
import json
import pathlib
import sys


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target") / "criterion"
    groups = {}
    for bench in sorted(root.glob("**/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        median = json.loads((bench.parent / "estimates.json").read_text())["median"]["point_estimate"]
        elements = (meta.get("throughput") or {}).get("Elements")
        cell = fmt_time(median)
        if elements:
            rate = elements / median  # per ns: G per second
            cell += f" ({rate:.1f})" if rate >= 0.1 else f" ({rate * 1e9:,.0f}/s)"
        # A benchmark without an input (value_str null) is its own row.
        row, column = meta["value_str"] or meta["function_id"], meta["function_id"] if meta["value_str"] else "time"
        groups.setdefault(meta["group_id"], {}).setdefault(row, {})[column] = cell
    for group, rows in groups.items():
        functions = sorted({f for r in rows.values() for f in r})
        print(f"\n### {group}\n")
        print("| input | " + " | ".join(functions) + " |")
        print("|---|" + "---|" * len(functions))
        order = sorted(rows, key=lambda v: [int(x[1:]) for x in v.split("_") if x[1:].isdigit()])
        for value in order:
            print(f"| {value} | " + " | ".join(rows[value].get(f, "") for f in functions) + " |")


if __name__ == "__main__":
    main()
