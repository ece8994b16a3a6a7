"""HNSW build time, covec against hnswlib on the same rows and the same threads: `python bench/build.py`.

Both build a graph over the set's base rows (inner product, M 16, efConstruction 200; bench/common.py's
parameters) with every core this process may run on (covec one thread per core, hnswlib `num_threads` the
same), each in its own child process, one after the other; then each searches the same queries at each ef and recall@10
is counted against the set's exact top 10, so the two graphs are compared at equal ef as well as in time.
covec's build is timed inside bench/src/hnsw_build.rs (the Rust call, no Python), hnswlib's around
`add_items`. One run, no repeats: this 2-core machine is shared, so figures move between runs. Each side also
reports the CPU seconds (user + system, all its threads) its build took: when other work takes cores from one
build more than from the other, wall times move far more than CPU seconds do.

Results: bench/out/build-<set>.json and a line per system on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
import run  # noqa: E402

EFS = run.EFS


def hnswlib_build(base_path: str, queries_path: str) -> dict:
    """hnswlib's side, run in a child process (`python bench/build.py hnswlib BASE QUERIES`)."""
    import resource

    import hnswlib

    base = np.load(base_path)
    queries = np.load(queries_path)
    threads = len(os.sched_getaffinity(0))
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    index.init_index(max_elements=len(base), M=common.HNSW_M, ef_construction=common.HNSW_EFC, random_seed=100)
    start, start_cpu = time.perf_counter(), cpu_seconds(resource.getrusage(resource.RUSAGE_SELF))
    index.add_items(base, np.arange(len(base)), num_threads=threads)
    build_s = time.perf_counter() - start
    build_cpu_s = cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)) - start_cpu
    ids = {}
    for ef in EFS:
        index.set_ef(max(ef, common.K))
        labels, _ = index.knn_query(queries, k=common.K, num_threads=1)
        ids[str(ef)] = labels.tolist()
    return {"ok": True, "build_s": build_s, "build_cpu_s": build_cpu_s, "threads": threads, "ids": ids}


def cpu_seconds(usage) -> float:
    """User and system CPU seconds of every thread of this process, from `resource.getrusage`."""
    return usage.ru_utime + usage.ru_stime


def recall(ids: list, truth: np.ndarray) -> float:
    return float(np.mean([len(set(found) & set(t.tolist())) / len(t) for found, t in zip(ids, truth)]))


def child(argv: list[str]) -> dict:
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{argv[0]} failed ({out.returncode}): {(out.stderr or out.stdout).strip()[-500:]}")
    return json.loads(lines[-1])


def measure(base: str, queries: str, truth: np.ndarray) -> dict:
    """Both builds over the rows in `base`, one child process each, and their recall@10 at each ef."""
    problem = run.build_rust_bench()
    if problem:
        raise RuntimeError(problem)
    efs = ",".join(map(str, EFS))
    results = {
        "covec": child([str(run.RUST_BENCH / "covec-bench-build"), base, queries, efs]),
        "hnswlib": child([sys.executable, __file__, "hnswlib", base, queries]),
    }
    for r in results.values():
        ids = r.pop("ids")
        r["recall"] = {ef: recall(ids[str(ef)], truth) for ef in EFS}
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="synth100k", help="A, synth100k or synth1m (default synth100k)")
    ap.add_argument("--queries", type=int, default=200, help="queries searched at each ef (default 200)")
    ap.add_argument("--data-dir", type=Path, default=None, help="where A_*.npy are (default ../shared/data)")
    args = ap.parse_args()
    mode = run.Mode(quick=True)
    mode.sweep_queries = args.queries
    data = run.prepare_set(args.set, mode, args.data_dir or common.shared_data_dir())
    truth = np.load(data["truth"])
    results = {"set": args.set, "n": data["n"], "queries": len(truth)}
    results |= measure(data["base"], data["queries"], truth)
    for system in ("covec", "hnswlib"):
        r = results[system]
        print(
            f"{system}: {data['n']} rows built in {r['build_s']:.1f} s on {r['threads']} threads "
            f"({r['build_cpu_s']:.1f} CPU s); recall@10 "
            + ", ".join(f"ef {ef} {x:.4f}" for ef, x in r["recall"].items())
        )
    ratio = results["covec"]["build_s"] / results["hnswlib"]["build_s"]
    cpu_ratio = results["covec"]["build_cpu_s"] / results["hnswlib"]["build_cpu_s"]
    print(f"covec / hnswlib build time: {ratio:.2f}x (CPU seconds: {cpu_ratio:.2f}x)")
    out = run.OUT / f"build-{args.set}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["hnswlib"]:
        print(json.dumps(hnswlib_build(*sys.argv[2:4])))
    else:
        main()
