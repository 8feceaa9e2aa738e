#!/usr/bin/env python3
"""Side by side, in one run: dispel4py's pipeline_test (TestProducer -> 5 x TestOneInOneOut,
Python PEs) under dispel4py (stream-d4py) simple, multi and mpi, and under dispel4rs with
the same Python PEs; then where dispel4rs's time goes, and the GIL measured on a CPU-bound
graph. Run by scripts/python_bench.sh (outside the test suite); writes target/python_bench.json.

Every figure is a whole process, start to exit (interpreter start-up and imports included),
median of --reps runs, the configurations alternating so that machine noise spreads evenly.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAPHS = os.path.join(ROOT, "python", "tests", "graphs")
BENCH = os.path.join(ROOT, "benches", "python")

FLOOR = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from testing_pes import TestProducer, TestOneInOneOut
n = int(sys.argv[1])
prod, stages = TestProducer(), [TestOneInOneOut() for _ in range(5)]
start = time.perf_counter()
for _ in range(n):
    out = prod.process({})
    for pe in stages:
        out = pe.process({"input": out["output"]})
print(time.perf_counter() - start)
"""


def run(cmd, env):
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-3000:]}")
    return elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dispel4rs", required=True)
    p.add_argument("--venv", required=True)
    p.add_argument("-n", type=int, default=100_000, help="pipeline_test iterations")
    p.add_argument("--cpu-n", type=int, default=6_000, help="cpu_pipeline iterations")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default=os.path.join(ROOT, "target", "python_bench.json"))
    a = p.parse_args()

    env = dict(os.environ, PYTHONPATH=GRAPHS, VIRTUAL_ENV=a.venv,
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    d4py = os.path.join(a.venv, "bin", "dispel4py")
    python = os.path.join(a.venv, "bin", "python")
    mpirun = ["mpirun", "--oversubscribe", "-n", "6"]
    pipe = os.path.join(GRAPHS, "pipeline_test.py")
    rust = os.path.join(BENCH, "pipeline_rust.py")
    cpu = os.path.join(BENCH, "cpu_pipeline.py")
    n, n3, cn = str(a.n), str(3 * a.n), str(a.cpu_n)
    ours = [a.dispel4rs]

    pipeline = {
        "dispel4py simple": [d4py, "simple", pipe, "-i", n],
        "dispel4py multi -n 6": [d4py, "multi", pipe, "-n", "6", "-i", n],
        "dispel4py mpi -n 6": mpirun + [d4py, "mpi", pipe, "-n", "6", "-i", n],
        "dispel4rs simple": ours + ["simple", pipe, "-i", n, "-q"],
        "dispel4rs multi -n 6": ours + ["multi", "-n", "6", pipe, "-i", n, "-q"],
        "dispel4rs zmq_multi -n 6": ours + ["zmq_multi", "-n", "6", pipe, "-i", n, "-q"],
        "dispel4rs mpi -n 6": mpirun + ours + ["mpi", pipe, "-i", n, "-q"],
        "dispel4rs dyn_multi -n 2": ours + ["dyn_multi", "-n", "2", pipe, "-i", n, "-q"],
        "dispel4rs simple, Rust PEs": ours + ["simple", rust, "-i", n, "-q"],
        # For the breakdown: the same at three times the size (the slope is the per-unit
        # cost, the intercept the start-up).
        "dispel4rs simple, -i 3N": ours + ["simple", pipe, "-i", n3, "-q"],
        "dispel4rs simple, Rust PEs, -i 3N": ours + ["simple", rust, "-i", n3, "-q"],
    }
    gil = {
        "dispel4py simple": [d4py, "simple", cpu, "-i", cn],
        "dispel4py multi -n 6": [d4py, "multi", cpu, "-n", "6", "-i", cn],
        "dispel4rs simple": ours + ["simple", cpu, "-i", cn, "-q"],
        "dispel4rs multi -n 6": ours + ["multi", "-n", "6", cpu, "-i", cn, "-q"],
        "dispel4rs zmq_multi -n 6": ours + ["zmq_multi", "-n", "6", cpu, "-i", cn, "-q"],
        "dispel4rs mpi -n 6": mpirun + ours + ["mpi", cpu, "-i", cn, "-q"],
    }

    times = {("pipeline", k): [] for k in pipeline} | {("gil", k): [] for k in gil}
    floors, floors3 = [], []
    for rep in range(a.reps):
        for table, cases in (("pipeline", pipeline), ("gil", gil)):
            keys = list(cases)
            if rep % 2:
                keys.reverse()
            for k in keys:
                times[(table, k)].append(run(cases[k], env))
                print(f"  rep {rep + 1}: {table}: {k}: {times[(table, k)][-1]:.2f} s", file=sys.stderr)
        for size, into in ((n, floors), (n3, floors3)):
            out = subprocess.run([python, "-c", FLOOR, size, GRAPHS], env=env, capture_output=True, text=True, check=True)
            into.append(float(out.stdout))

    med = {k: statistics.median(v) for k, v in times.items()}
    units = {"pipeline": a.n, "gil": a.cpu_n}
    result = {"n": a.n, "cpu_n": a.cpu_n, "reps": a.reps, "median_s": {f"{t}: {k}": s for (t, k), s in med.items()},
              "python_floor_s": statistics.median(floors), "python_floor_3n_s": statistics.median(floors3)}

    def rate(t, k):
        return units[t] / med[(t, k)]

    print(f"\n## pipeline_test, -i {a.n} ({a.n} units through 6 Python PEs), medians of {a.reps}\n")
    print("| configuration | time (s) | units/s |")
    print("|---|---|---|")
    for k in pipeline:
        print(f"| {k} | {med[('pipeline', k)]:.2f} | {rate('pipeline', k):,.0f} |")
    pairs = [("simple", "dispel4rs simple", "dispel4py simple"),
             ("multi", "dispel4rs multi -n 6", "dispel4py multi -n 6"),
             ("processes", "dispel4rs zmq_multi -n 6", "dispel4py multi -n 6"),
             ("mpi", "dispel4rs mpi -n 6", "dispel4py mpi -n 6")]
    print("\n| ratio | dispel4rs / dispel4py (units/s) |\n|---|---|")
    result["ratios"] = {}
    for label, ours_k, theirs_k in pairs:
        r = rate("pipeline", ours_k) / rate("pipeline", theirs_k)
        result["ratios"][label] = r
        print(f"| {label}: {ours_k} vs {theirs_k} | {r:.2f}x |")
    # Per-unit costs from two sizes (N and 3N): the slope is what one unit costs, the
    # intercept the start-up; a unit goes through 6 PEs.
    def slope(small, large):
        return (large - small) / (2 * a.n)

    ours_unit = slope(med[("pipeline", "dispel4rs simple")], med[("pipeline", "dispel4rs simple, -i 3N")])
    rust_unit = slope(med[("pipeline", "dispel4rs simple, Rust PEs")], med[("pipeline", "dispel4rs simple, Rust PEs, -i 3N")])
    floor_unit = slope(statistics.median(floors), statistics.median(floors3))
    boundary_unit = ours_unit - floor_unit - rust_unit
    total = med[("pipeline", "dispel4rs simple")]
    startup = total - a.n * ours_unit
    print(f"\n### Where dispel4rs simple's {total:.2f} s go (per-unit costs from -i {a.n} and -i {3 * a.n})\n")
    print("| part | per unit (6 PE calls) | at -i N (s) | share |\n|---|---|---|---|")
    parts = [("start-up: interpreter, shim, graph module, plan, exit", None, startup),
             ("the PEs' own Python code (the same calls in a bare Python loop)", floor_unit, a.n * floor_unit),
             ("the Rust runtime (the same graph with Rust PEs)", rust_unit, a.n * rust_unit),
             ("the boundary: GIL, inputs dicts, converting units, calls into Python", boundary_unit, a.n * boundary_unit)]
    for label, unit, s_ in parts:
        per = "" if unit is None else f"{unit * 1e6:.2f} µs"
        print(f"| {label} | {per} | {s_:.2f} | {100 * s_ / total:.0f} % |")
    result["breakdown_per_unit_us"] = {"python": floor_unit * 1e6, "runtime": rust_unit * 1e6,
                                       "boundary": boundary_unit * 1e6, "dispel4rs_simple": ours_unit * 1e6}
    result["startup_s"] = startup

    print(f"\n## The GIL: cpu_pipeline, -i {a.cpu_n} (a CPU-bound Python PE, 4 instances), medians of {a.reps}\n")
    print("| configuration | time (s) | units/s | vs dispel4rs simple |")
    print("|---|---|---|---|")
    for k in gil:
        print(f"| {k} | {med[('gil', k)]:.2f} | {rate('gil', k):,.0f} | {rate('gil', k) / rate('gil', 'dispel4rs simple'):.2f}x |")

    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\n(wrote {a.out})")


if __name__ == "__main__":
    main()
