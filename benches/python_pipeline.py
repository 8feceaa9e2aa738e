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
    p.add_argument("--cpu-n", type=int, default=2_000, help="cpu_pipeline iterations")
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
    n, cn = str(a.n), str(a.cpu_n)
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
        "dispel4rs start-up (-i 1)": ours + ["simple", pipe, "-i", "1", "-q"],
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
    floors = []
    for rep in range(a.reps):
        for table, cases in (("pipeline", pipeline), ("gil", gil)):
            keys = list(cases)
            if rep % 2:
                keys.reverse()
            for k in keys:
                times[(table, k)].append(run(cases[k], env))
                print(f"  rep {rep + 1}: {table}: {k}: {times[(table, k)][-1]:.2f} s", file=sys.stderr)
        out = subprocess.run([python, "-c", FLOOR, n, GRAPHS], env=env, capture_output=True, text=True, check=True)
        floors.append(float(out.stdout))

    med = {k: statistics.median(v) for k, v in times.items()}
    units = {"pipeline": a.n, "gil": a.cpu_n}
    result = {"n": a.n, "cpu_n": a.cpu_n, "reps": a.reps, "median_s": {f"{t}: {k}": s for (t, k), s in med.items()},
              "python_floor_s": statistics.median(floors)}

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
    startup = med[("pipeline", "dispel4rs start-up (-i 1)")]
    total = med[("pipeline", "dispel4rs simple")]
    floor = result["python_floor_s"]
    rust_only = med[("pipeline", "dispel4rs simple, Rust PEs")]
    boundary = total - startup - floor - max(0.0, rust_only - startup)
    print(f"\n### Where dispel4rs simple's {total:.2f} s go\n")
    print("| part | s | share |\n|---|---|---|")
    for label, s in [("start-up: interpreter, shim, graph module, plan", startup),
                     ("the PEs' own Python code (the same calls in a bare loop)", floor),
                     ("the Rust runtime (the same graph with Rust PEs, start-up removed)", max(0.0, rust_only - startup)),
                     ("the boundary: GIL, building inputs dicts, converting units, calls", boundary)]:
        print(f"| {label} | {s:.2f} | {100 * s / total:.0f} % |")
    result["breakdown_s"] = {"startup": startup, "python_floor": floor, "runtime": max(0.0, rust_only - startup),
                             "boundary": boundary}

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
