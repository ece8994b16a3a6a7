"""A child process of the harness: python worker.py MODE SPEC_JSON; answers with JSON lines on stdout.

Every system runs in its own fresh process, so that no run inherits another's server threads, page-cache
mappings or shared-memory attachments from the harness itself.

Modes:
  build  create a Milvus-shaped db (Milvus Lite or covec) from a vectors file; prints the build phases.
  sweep  single-process peer: open, then sequential single-query searches for each ef, once; prints results
         and how long that round of searches took.
  serve  one of P concurrent workers: open and answer one query ("ready"), wait for "go UNTIL" on stdin,
         search until wall time UNTIL, save latencies ("done"), then wait for "exit" so the harness can
         read this process's memory while everything is still mapped.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


def mode_build(spec: dict) -> None:
    vectors = np.load(spec["vectors"], mmap_mode="r")
    phases = common.build_milvus_shaped(spec["system"], spec["path"], vectors, spec["index_type"])
    say(ok=True, phases=phases)


def mode_sweep(spec: dict) -> None:
    queries = np.load(spec["queries"])[: spec.get("max_queries")]
    truth = np.load(spec["truth"])[: len(queries)]
    searcher = common.open_searcher(spec)
    try:
        t = time.perf_counter()
        results = [common.sequential_search(searcher, queries, truth, ef) for ef in spec["efs"]]
        round_s = time.perf_counter() - t
    finally:
        searcher.close()
    say(ok=True, phases=searcher.phases, results=results, round_s=round_s)


def mode_serve(spec: dict) -> None:
    queries = np.load(spec["queries"])
    # With mark_memory, what the worker holds before the system is imported, so that the harness can tell what
    # the system added to it from what Python, numpy and the queries cost.
    mark = {"memory_mark": common.memory_mark(os.getpid())} if spec.get("mark_memory") else {}
    searcher = common.open_searcher(spec)
    try:
        t = time.perf_counter()
        searcher.search(queries[0], spec["ef"])
        searcher.phases["first_search_s"] = time.perf_counter() - t
        say(ok=True, stage="ready", pid=os.getpid(), t_ready=time.time(), phases=searcher.phases, **mark)
        command = sys.stdin.readline().split()
        if command and command[0] == "go":
            lat = common.timed_loop(searcher, queries, spec["ef"], float(command[1]), spec["first_query"])
            out = Path(spec["latencies"])
            np.save(out, lat)
            answered = len(lat)
            # The harness reads memory after "done": the latencies are its bookkeeping, not the system's. The
            # queries stay held: they were counted before the mark, and freeing them would hide as much of
            # what the system added.
            del lat
            say(ok=True, stage="done", queries=answered, latencies=str(out))
            sys.stdin.readline()  # "exit" (or EOF when the harness is gone)
    finally:
        searcher.close()


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("build", "sweep", "serve"):
        print(__doc__, file=sys.stderr)
        return 2
    spec = json.loads(sys.argv[2])
    try:
        {"build": mode_build, "sweep": mode_sweep, "serve": mode_serve}[sys.argv[1]](spec)
    except Exception as e:  # noqa: BLE001 -- reported to the harness, which records the failure beside the system's name
        say(ok=False, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc(limit=4))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
