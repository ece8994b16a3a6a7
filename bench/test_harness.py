"""Checks of the harness's own arithmetic and clean-up: python -m pytest bench/test_harness.py -q

Small and fast; they do not measure anything, they check that what the harness reports means what the doc says.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import report
import run


def test_exact_truth_merges_blocks_like_a_full_sort():
    rng = np.random.default_rng(7)
    base = rng.standard_normal((1_000, 16)).astype(np.float32)
    queries = rng.standard_normal((5, 16)).astype(np.float32)
    full = np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, : common.K]
    assert np.array_equal(run.exact_truth(base, queries, block=37), full)


def test_synthetic_sets_are_seeded_unit_vectors():
    a = run.synth_vectors(500, seed=run.SEED)
    assert np.array_equal(a, run.synth_vectors(500, seed=run.SEED))
    assert not np.array_equal(a, run.synth_vectors(500, seed=run.SEED + 1))
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_a_sweep_keeps_each_ef_s_fastest_process():
    # Process 2 was disturbed at ef=64, process 1 at ef=16: each ef keeps its own best process, in ef order.
    runs = [
        {"ok": True, "phases": {"build_s": 9.0}, "round_s": 1.0, "results": [{"ef": e, "qps": q} for e, q in p]}
        for p in ([(16, 500.0), (64, 300.0)], [(16, 900.0), (64, 100.0)], [(16, 800.0), (64, 250.0)])
    ]
    runs[1]["phases"] = {"load_s": 0.1}
    best = run.best_of_processes("hnswlib", runs)
    assert [(r["ef"], r["qps"]) for r in best["results"]] == [(16, 900.0), (64, 300.0)]
    assert (best["processes"], best["phases"]) == (3, {"build_s": 9.0}), "the first process's start-up is the build"
    failed = {"ok": False, "error": "RuntimeError: gone"}
    assert run.best_of_processes("hnswlib", [*runs, failed]) == dict(failed, system="hnswlib", processes=4)


def test_a_system_is_swept_again_only_after_a_good_round_within_the_budget():
    within = {"ok": True, "round_s": run.SWEEP_REPEAT_BUDGET_S - 1}
    assert run.sweep_again([]) and run.sweep_again([within])
    assert not run.sweep_again([within, {"ok": True, "round_s": run.SWEEP_REPEAT_BUDGET_S + 1}])
    assert not run.sweep_again([{"ok": False, "error": "x"}])


def test_sweeps_take_turns_in_fresh_processes(tmp_path, monkeypatch):
    base = np.random.default_rng(5).standard_normal((300, common.DIM)).astype(np.float32)
    np.save(tmp_path / "base.npy", base)
    np.save(tmp_path / "q.npy", base[:4])
    np.save(tmp_path / "truth.npy", np.argsort(-(base[:4] @ base.T), axis=1)[:, : common.K].astype(np.int32))
    data = {"base": str(tmp_path / "base.npy"), "queries": str(tmp_path / "q.npy"), "truth": str(tmp_path / "truth.npy")}
    no_db = {"ok": False, "error": "not built here"}
    monkeypatch.setattr(run, "SWEEP_PROCESSES", 3)
    monkeypatch.setattr(run, "EFS", [16, 64])
    children = run.Children(tmp_path, tmp_path)
    out = run.sweeps(children, data, dict.fromkeys(("milvus", "covec-hnsw", "covec-flat"), no_db), "t", tmp_path)
    assert [(s["system"], s["ok"], s["processes"]) for s in out] == [("numpy", True, 3), ("hnswlib", True, 3)]
    assert [r["ef"] for r in out[1]["results"]] == [16, 64]
    assert "build_s" in out[1]["phases"]
    assert not (tmp_path / "hnswlib.bin").exists(), "the saved graph is this run's, removed after its sweeps"
    logs = sorted(p.name for p in tmp_path.glob("sweep-t-*"))
    assert len(logs) == 6, logs


def test_default_output_searchers_find_the_same_ids_as_an_ids_only_one(tmp_path):
    vectors = np.random.default_rng(8).standard_normal((200, common.DIM)).astype(np.float32)
    db = tmp_path / "covec.db"
    common.build_milvus_shaped("covec-hnsw", str(db), vectors, "HNSW")
    spec = {"system": "covec-hnsw", "path": str(db)}
    searchers = [common.open_searcher(dict(spec, output=o)) for o in ("ids", "default", "default-read")]
    try:
        for q in vectors[:10]:
            ids = searchers[0].search(q, 32)
            assert len(ids) == 10
            assert all(s.search(q, 32) == ids for s in searchers[1:])
    finally:
        for s in searchers:
            s.close()


def test_hnswlib_loads_the_graph_its_first_process_saved(tmp_path):
    base = np.random.default_rng(6).standard_normal((300, common.DIM)).astype(np.float32)
    np.save(tmp_path / "base.npy", base)
    spec = {"system": "hnswlib", "path": str(tmp_path / "base.npy"), "index_file": str(tmp_path / "g.bin")}
    built = common.open_searcher(spec)
    loaded = common.open_searcher(spec)
    assert "build_s" in built.phases and "load_s" in loaded.phases
    for q in base[:20]:
        assert built.search(q, 32) == loaded.search(q, 32)


def test_a_sweep_with_max_queries_measures_only_the_first_ones(tmp_path):
    base = np.random.default_rng(3).standard_normal((50, common.DIM)).astype(np.float32)
    np.save(tmp_path / "base.npy", base)
    np.save(tmp_path / "q.npy", base[:6])
    np.save(tmp_path / "truth.npy", np.argsort(-(base[:6] @ base.T), axis=1)[:, : common.K].astype(np.int32))
    spec = {"system": "numpy", "path": str(tmp_path / "base.npy"), "efs": [None]}
    spec |= {"queries": str(tmp_path / "q.npy"), "truth": str(tmp_path / "truth.npy")}
    children = run.Children(tmp_path, tmp_path)
    every = children.run("sweep", spec, "every")
    first = children.run("sweep", dict(spec, max_queries=2), "first")
    assert [r["queries"] for r in every["results"]] == [6]
    assert [r["queries"] for r in first["results"]] == [2]
    assert first["results"][0]["recall"] == 1.0


def test_recall_counts_only_the_top_k():
    truth = np.arange(20)
    assert common.recall_at_k(list(range(10)), truth) == 1.0
    assert common.recall_at_k([0, 1, 2, 3, 4, 10, 11, 12, 13, 14], truth) == 0.5


def test_equal_recall_reads_the_frontier_not_a_saturated_ef():
    # ef=256 reaches no more recall than ef=128 and is slower: the curve at recall 1.0 is ef=128's QPS.
    sweep = [{"recall": r, "qps": q} for r, q in [(0.9, 8000), (0.99, 5000), (1.0, 4000), (1.0, 2500)]]
    assert report._frontier(sweep) == [(0.9, 8000), (0.99, 5000), (1.0, 4000)]
    assert report._qps_at_recall(sweep, 1.0) == pytest.approx(4000)
    assert report._qps_at_recall(sweep, 0.945) == pytest.approx((8000 * 5000) ** 0.5)
    assert report._qps_at_recall(sweep, 0.5) == 8000
    assert report._qps_at_recall(sweep[:2], 0.999) is None


@contextlib.contextmanager
def child_touching_shm(tmp_path, before: str = ""):
    """A Python child that runs `before`, then maps and touches 64 MiB of /dev/shm and waits for a line;
    yields (the child, the shm file), and removes the file afterwards."""
    shm = Path("/dev/shm") / f"covec-bench-test-{tmp_path.name}"
    code = (
        "import json, mmap, os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import common\n"
        f"{before}"
        f"fd = os.open({str(shm)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        "os.ftruncate(fd, 64 << 20)\n"
        "shared = mmap.mmap(fd, 64 << 20)\n"
        "shared[:] = b'x' * (64 << 20)\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield child, shm
    finally:
        child.kill()
        child.wait()
        shm.unlink(missing_ok=True)


def test_private_bytes_leaves_out_touched_shm_pages(tmp_path):
    # A child maps and touches 64 MiB of /dev/shm: Pss grows by it, Pss - Pss_Shmem must not.
    with child_touching_shm(tmp_path) as (child, shm):
        assert child.stdout.readline().strip() == "ready"
        rollup = common.smaps_rollup(child.pid)
        assert rollup["Pss_Shmem"] >= 60 << 20
        assert common.private_bytes(child.pid) < rollup["Pss"] - (60 << 20)
        assert common.dir_bytes(shm) == 64 << 20


def test_memory_since_counts_what_a_process_added_and_not_shm(tmp_path):
    # After its mark a child allocates 32 MiB, maps and reads a new 16 MiB file and touches 64 MiB of /dev/shm:
    # memory_since counts the first two (the file at its Pss) and leaves the shared memory to the caller.
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(16 << 20))
    before = (
        "print(json.dumps(common.memory_mark(os.getpid())), flush=True)\n"
        "held = bytearray(32 << 20)\n"
        "held[::4096] = b'x' * len(held[::4096])\n"
        f"f = open({str(data)!r}, 'rb')\n"
        "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n"
        "total = sum(m[i] for i in range(0, len(m), 4096))\n"
    )
    with child_touching_shm(tmp_path, before) as (child, _):
        mark = json.loads(child.stdout.readline())
        assert child.stdout.readline().strip() == "ready"
        grown = common.memory_since(child.pid, mark)
        assert (48 << 20) <= grown < (52 << 20), grown / 2**20


def test_a_python_worker_s_growth_is_what_covec_added(tmp_path, monkeypatch):
    # A serve worker marks its memory after loading its queries (30 MiB here, far more than covec adds) and
    # must still hold them when the harness reads it: growth is covec's library, state and page tables, more
    # than nothing and far less than the queries.
    vectors = np.random.default_rng(5).standard_normal((300, common.DIM)).astype(np.float32)
    db = tmp_path / "covec.db"
    common.build_milvus_shaped("covec-hnsw", str(db), vectors, "FLAT")
    np.save(tmp_path / "q.npy", np.resize(vectors, (20_000, common.DIM)))
    monkeypatch.setattr(run, "OUT", tmp_path)  # where the worker's latencies go
    children = run.Children(tmp_path, tmp_path)
    spec = {"system": "covec-hnsw", "path": str(db), "queries": str(tmp_path / "q.npy"), "ef": 64}
    try:
        row = run.concurrent(
            children, dict(spec, mark_memory=True), 1, 0.3, lambda pids: [], "grown"
        )
    finally:
        children.stop_all()
    assert row["queries"] > 0
    assert 0 < row["grown_bytes"] < (16 << 20), row["grown_bytes"] / 2**20


@pytest.fixture(scope="module")
def rust_worker():
    """The harness builds its Rust programs itself (cargo, already a build dependency of covec)."""
    unavailable = run.build_rust_bench()
    assert unavailable is None, unavailable


def test_rust_worker_searches_the_shared_segment_and_reports_its_latencies(tmp_path, rust_worker):
    vectors = np.random.default_rng(7).standard_normal((500, common.DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    db = tmp_path / "covec.db"
    common.build_milvus_shaped("covec-hnsw", str(db), vectors, "HNSW")
    np.save(tmp_path / "q.npy", vectors[:20])
    shm = Path("/dev/shm") / f"covec-bench-test-{os.getpid()}"
    shm.mkdir()
    children = run.Children(shm, tmp_path)
    spec = {"system": "covec-rust", "path": str(db), "queries": str(tmp_path / "q.npy"), "ef": 64}
    try:
        child = children.start(dict(spec, first_query=3, latencies=str(tmp_path / "lat.npy")), "rust")
        ready = child.answer(60)
        assert ready["stage"] == "ready" and ready["pid"] == child.p.pid
        assert set(ready["phases"]) == {"open_s", "first_search_s"}
        child.send(f"go {time.time() + 0.3}")
        done = child.answer(60)
        assert done["stage"] == "done" and done["queries"] > 0
        lat = np.load(done["latencies"])
        assert lat.shape == (done["queries"],) and (lat > 0).all() and lat.sum() < 1.0
        assert common.smaps_rollup(child.p.pid)["Pss_Shmem"] > 0, "searching maps the segment"
        assert len(list(shm.glob("covec.*"))) >= 1
        child.send("exit")
        assert child.p.wait(timeout=30) == 0
    finally:
        children.stop_all()
        shutil.rmtree(shm, ignore_errors=True)


def test_rust_worker_reports_a_bad_queries_file(tmp_path, rust_worker):
    (tmp_path / "q.npy").write_bytes(b"not numpy")
    children = run.Children(tmp_path, tmp_path)
    spec = {"system": "covec-rust", "path": str(tmp_path / "x.db"), "queries": str(tmp_path / "q.npy"), "ef": 64}
    try:
        child = children.start(dict(spec, first_query=0, latencies=str(tmp_path / "lat.npy")), "bad")
        with pytest.raises(RuntimeError, match="not a float32 matrix"):
            child.answer(30)
        assert child.p.wait(timeout=30) == 1
    finally:
        children.stop_all()


def test_build_compares_covec_and_hnswlib_on_the_same_rows_and_threads(tmp_path, rust_worker):
    import build

    vectors = run.synth_vectors(3000, seed=11)
    queries = run.synth_vectors(50, seed=12)
    np.save(tmp_path / "base.npy", vectors)
    np.save(tmp_path / "q.npy", queries)
    results = build.measure(str(tmp_path / "base.npy"), str(tmp_path / "q.npy"), run.exact_truth(vectors, queries))
    assert results["covec"]["threads"] == results["hnswlib"]["threads"] == len(os.sched_getaffinity(0))
    for system, r in results.items():
        assert r["build_s"] > 0 and r["build_cpu_s"] > 0, system
        assert sorted(r["recall"]) == build.EFS, system
        assert r["recall"][256] >= 0.95, (system, r["recall"])


def test_failed_worker_is_reported_and_leaves_no_shm_copy(tmp_path):
    children = run.Children(tmp_path, tmp_path)
    np.save(tmp_path / "q.npy", np.zeros((1, common.DIM), dtype=np.float32))
    # The copy into /dev/shm fails (no such db): the worker must report it, not hang or leave a copy.
    spec = {"system": "milvus", "copy_to_shm": True, "path": str(tmp_path / "absent.db"), "ef": 64}
    spec["queries"] = str(tmp_path / "q.npy")
    child = children.start(spec, "fails")
    try:
        with pytest.raises(RuntimeError, match="worker"):
            child.answer(120)
    finally:
        pid = child.p.pid
        children.stop_all()
    assert not list(Path("/dev/shm").glob(f"pid-{pid}-*"))


def test_answer_gives_up_at_its_deadline(tmp_path):
    children = run.Children(tmp_path, tmp_path)
    # A child that never answers: the harness gives up instead of hanging.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], stdout=subprocess.PIPE)
    children.live.append(sleeper)
    t = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            run.Child(sleeper).answer(0.5)
    finally:
        children.stop_all()
    assert time.monotonic() - t < 10


def test_shm_dir_of_a_killed_run_is_removed_and_a_live_one_kept():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = Path("/dev/shm") / f"covec-bench-{gone.pid}"
    live = Path("/dev/shm") / f"covec-bench-{os.getpid()}"
    dead.mkdir()
    live.mkdir()
    try:
        run.sweep_dead_runs()
        assert not dead.exists()
        assert live.exists()
    finally:
        for d in (dead, live):
            if d.exists():
                d.rmdir()


def test_locality_replays_walks_on_hnswlib_s_saved_graph(tmp_path):
    import hnswlib

    import locality

    n = 2_000
    base = run.synth_vectors(n, seed=run.SEED)
    queries = run.synth_vectors(20, seed=run.SEED + 1)
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    index.init_index(max_elements=n, M=8, ef_construction=64, random_seed=1)
    index.add_items(base, np.arange(n))
    index.save_index(str(tmp_path / "g.bin"))
    entry, counts, links, labels = locality.load_layer0(tmp_path / "g.bin")
    assert sorted(labels.tolist()) == list(range(n))
    assert (counts > 0).all() and (counts <= links.shape[1]).all()
    vectors = base[labels]
    node_of_label = locality.position_by_key(labels)
    # Node ids read from the file must be the rows hnswlib itself returns for each query.
    best = np.argmax(queries @ vectors.T, axis=1)
    found = 0
    for q, b, (label,) in zip(queries, best, index.knn_query(queries, k=1)[0]):
        scored, expanded = locality.walk(vectors, counts, links, q, int(node_of_label[label]))
        assert len(set(scored)) == len(scored) and set(expanded) <= set(scored)
        found += int(b) in scored
    assert found >= 18, f"the walk reached the exact nearest row for {found} of 20 queries"
    for name, pos in locality.orders(vectors, entry, counts, links, labels).items():
        assert sorted(pos.tolist()) == list(range(n)), name


def test_rendering_the_page_carries_over_sections_written_by_others(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        "# old page\nstale table\n<!-- seams: begin -->\n## Before and after\nkept\n<!-- seams: end -->\n"
        "more stale text\n<!-- commits.py: begin -->\n## Commits\n<!-- commits.py: end -->\n"
        "<!-- broken: begin -->\nno end marker\n"
    )
    kept = report.kept_sections(doc)
    assert "## Before and after\nkept" in kept and "## Commits" in kept
    assert "stale" not in kept and "no end marker" not in kept
    assert report.kept_sections(tmp_path / "missing.md") == ""
