"""covec benchmark harness: `make bench` (full) or `python bench/run.py --quick`.

Measures, in one run and on the same data, covec against the user's per-process /dev/shm copy of a Milvus
Lite db, and against single-process peers (Milvus Lite, hnswlib, numpy). Every system runs in fresh child
processes (worker.py). Results go to bench/out/results-<mode>.json; docs/benchmarks.md and docs/img/*.png
are generated from that file by report.py. Seeds are fixed; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common
import report

ROOT = HERE.parent
OUT = HERE / "out"
SEED = 20261124
SYNTH = {"synth100k": 100_000, "synth1m": 1_000_000}
SYNTH_CENTRES = 256
# Noise per dimension such that a point's cosine to its centre is about 0.78 (noise norm 0.8).
SYNTH_NOISE = 0.8 / np.sqrt(common.DIM)
EFS = [16, 32, 64, 128, 256]
SERVE_EF = 64  # Milvus Lite's default ef; covec's graph is searched with the same value
# Milvus Lite answers ~2 queries a second at 1M: its sweeps use the first 200 queries (5 efs, ~8 minutes there).
MILVUS_SWEEP_QUERIES = 200
CHILD_TIMEOUT_S = 4 * 3600
# How a serve child can fail: an error it reported, no answer in time, a closed pipe, a hung exit.
WORKER_FAILURES = (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError)


class Mode:
    def __init__(self, quick: bool):
        self.name = "quick" if quick else "full"
        # Queries per set, synthetic ones included: recall@10 on 200 queries counts 2,000 neighbours, and near
        # recall 0.998 an equal-recall ratio then turns on a handful of them.
        self.sweep_queries = 200 if quick else 1000
        self.duration_s = 10.0 if quick else 20.0
        self.attach_repeats = 3


# --- data -------------------------------------------------------------------------------------------


def prepare_set(name: str, mode: Mode, data_dir: Path) -> dict:
    """Writes base/queries/truth .npy files for one set under bench/out/data; returns their paths."""
    d = OUT / "data" / name
    d.mkdir(parents=True, exist_ok=True)
    if name == "A":
        base = data_dir / "A_base.f32.npy"
        missing = [p for p in (base, data_dir / "A_query.f32.npy", data_dir / "A_gt_top100.i32.npy") if not p.exists()]
        if missing:
            raise FileNotFoundError(
                f"data set A is absent: {', '.join(map(str, missing))} not found "
                f"(give --data-dir, default ../shared/data beside the repository root); or run --sets synth100k,synth1m"
            )
        queries = np.load(data_dir / "A_query.f32.npy")[: mode.sweep_queries]
        truth = np.load(data_dir / "A_gt_top100.i32.npy")[: mode.sweep_queries, : common.K]
        np.save(d / "queries.npy", queries)
        np.save(d / "truth.npy", truth)
        n = int(np.load(base, mmap_mode="r").shape[0])
        return {
            "base": str(base),
            "queries": str(d / "queries.npy"),
            "truth": str(d / "truth.npy"),
            "n": n,
            "source": "real all-MiniLM-L6-v2 embeddings of Debian package descriptions (../shared/data)",
        }
    n = SYNTH[name]
    # The cache name carries every generation parameter, so a changed recipe never reuses stale vectors.
    base = d / f"base-seed{SEED}-c{SYNTH_CENTRES}-noise{SYNTH_NOISE:.4f}.npy"
    if not base.exists():
        np.save(base, synth_vectors(n, seed=SEED))
    queries = synth_vectors(mode.sweep_queries, seed=SEED + 1)
    truth = exact_truth(np.load(base, mmap_mode="r"), queries)
    np.save(d / "queries.npy", queries)
    np.save(d / "truth.npy", truth)
    return {
        "base": str(base),
        "queries": str(d / "queries.npy"),
        "truth": str(d / "truth.npy"),
        "n": n,
        "source": f"synthetic: {SYNTH_CENTRES} Gaussian centres, seed {SEED}, L2-normalised",
    }


def synth_vectors(n: int, seed: int) -> np.ndarray:
    """Clustered unit vectors; centres come from SEED alone so that queries share the base's clusters."""
    centres = np.random.default_rng(SEED).standard_normal((SYNTH_CENTRES, common.DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, common.DIM), dtype=np.float32)
    rng = np.random.default_rng([seed, 1])
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        chunk = centres[rng.integers(0, SYNTH_CENTRES, m)]
        chunk += rng.standard_normal((m, common.DIM), dtype=np.float32) * SYNTH_NOISE
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        out[start : start + m] = chunk
    return out


def exact_truth(base: np.ndarray, queries: np.ndarray, block: int = 100_000) -> np.ndarray:
    """Top-K inner-product ids by numpy brute force: the K best of each block of the base, then of those."""
    ids, scores = [], []
    for start in range(0, len(base), block):
        s = queries @ np.asarray(base[start : start + block]).T
        # argpartition needs more than K columns; a short last block is simply kept whole.
        top = np.argpartition(-s, common.K, axis=1)[:, : common.K] if s.shape[1] > common.K else np.argsort(-s, axis=1)
        ids.append(top + start)
        scores.append(np.take_along_axis(s, top, axis=1))
    ids, scores = np.concatenate(ids, axis=1), np.concatenate(scores, axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")[:, : common.K]
    return np.take_along_axis(ids, order, axis=1).astype(np.int32)


# --- child processes --------------------------------------------------------------------------------


class Children:
    """Starts worker.py children with the run's environment; kills and cleans what it started."""

    def __init__(self, shm_dir: Path, logs: Path):
        self.shm_dir = shm_dir
        self.logs = logs
        self.env = dict(os.environ, COVEC_SHM_DIR=str(shm_dir), PYTHONUNBUFFERED="1")
        self.live: list[subprocess.Popen] = []

    def run(self, mode: str, spec: dict, label: str) -> dict:
        """Runs one child to completion; returns its last JSON line (ok=False with the error on failure)."""
        with open(self.logs / f"{label}.log", "w") as log:
            try:
                cp = subprocess.run(
                    [sys.executable, str(HERE / "worker.py"), mode, json.dumps(spec)],
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                    env=self.env,
                    timeout=CHILD_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return {"ok": False, "error": f"timed out after {CHILD_TIMEOUT_S} s"}
        lines = [json.loads(x) for x in cp.stdout.splitlines() if x.startswith("{")]
        if not lines:
            return {"ok": False, "error": f"exit status {cp.returncode}, no answer (see bench/out/logs/{label}.log)"}
        return lines[-1]

    def start(self, spec: dict, label: str, mode: str = "serve") -> Child:
        if spec.get("system") == "covec-rust":
            keys = ("path", "queries", "ef", "first_query", "latencies")
            argv = [str(RUST_BENCH / "covec-bench-serve"), *(str(spec[k]) for k in keys)]
        else:
            argv = [sys.executable, str(HERE / "worker.py"), mode, json.dumps(spec)]
        with open(self.logs / f"{label}.log", "w") as log:
            p = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=self.env,
            )
        self.live.append(p)
        return Child(p)

    def stop_all(self) -> None:
        """Ends every serve child still running and removes the /dev/shm copies named after their pids."""
        for p in self.live:
            if p.poll() is None:
                p.kill()
            p.wait()
            for copy in Path("/dev/shm").glob(f"pid-{p.pid}-*"):
                shutil.rmtree(copy, ignore_errors=True)
        self.live.clear()


class Child:
    """A serve child: JSON lines in, commands out, with a deadline on every answer."""

    def __init__(self, p: subprocess.Popen):
        self.p = p
        self.buf = b""

    def send(self, line: str) -> None:
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def answer(self, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        fd = self.p.stdout.fileno()
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if line.startswith(b"{"):
                    msg = json.loads(line)
                    if not msg.get("ok"):
                        raise RuntimeError(f"worker {self.p.pid}: {msg.get('error')}")
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"worker {self.p.pid} gave no answer within {timeout_s:.0f} s")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError(f"worker {self.p.pid} exited with status {self.p.wait()} before answering")
                self.buf += chunk


# --- measurements -----------------------------------------------------------------------------------


def build_dbs(children: Children, data: dict, dbs: Path) -> dict:
    """Milvus Lite (HNSW) and covec (HNSW and FLAT) dbs of the same vectors, each built by its own child."""
    out = {}
    for system, file, index_type in (
        ("milvus", "milvus.db", "HNSW"),
        ("covec-hnsw", "covec_hnsw.db", "HNSW"),
        ("covec-flat", "covec_flat.db", "FLAT"),
    ):
        path = dbs / file
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        log(f"  build {system} ({index_type}) -> {path}")
        t = time.perf_counter()
        res = children.run(
            "build",
            {"system": system, "path": str(path), "vectors": data["base"], "index_type": index_type},
            f"build-{dbs.name}-{system}",
        )
        res.update(path=str(path), wall_s=time.perf_counter() - t, index_type=index_type)
        # Sized after the child exits: Milvus Lite may still write its index file while closing.
        if res["ok"]:
            res["bytes"] = common.dir_bytes(path)
        if not res["ok"]:
            log(f"    failed: {res['error']}")
        out[system] = res
    return out


SWEEP_PROCESSES = 5
# A system whose round of searches takes longer than this is swept in one process only: Milvus Lite at 1M answers
# ~2 queries a second, so one round is minutes, and its ratio to covec is hundreds, not 0.8; numpy at 1M likewise.
SWEEP_REPEAT_BUDGET_S = 60.0


def sweeps(children: Children, data: dict, builds: dict, set_name: str, work: Path) -> list:
    """Single-process QPS / latency / recall for each system and each ef it accepts.

    Each system is swept in up to SWEEP_PROCESSES fresh processes, the systems taking turns (in the reverse order
    on every other turn), and each ef keeps its fastest process, as ann-benchmarks keeps the best of its runs: a
    minute of load from another tenant of this shared machine then spoils one process of one system, not a ratio.
    The systems compared by a target sit next to each other in the plan. Milvus Lite and covec's graph are swept
    three times: ids only (`output_fields=["id"]`, what hnswlib returns), with the default output (every field;
    the hits' ids read, the vectors left unconverted as both return them), named `<system>-default`, and with
    the default output and every vector read (made Python floats), named `<system>-default-read`."""
    plan = [("numpy", "numpy", data["base"], [None], "ids")]
    if builds["covec-flat"]["ok"]:
        plan.append(("covec-flat", "covec-flat", builds["covec-flat"]["path"], [None], "ids"))
    plan.append(("hnswlib", "hnswlib", data["base"], EFS, "ids"))
    for system in ("covec-hnsw", "milvus"):
        if builds[system]["ok"]:
            plan.append((system, system, builds[system]["path"], EFS, "ids"))
            plan.append((f"{system}-default", system, builds[system]["path"], EFS, "default"))
            plan.append((f"{system}-default-read", system, builds[system]["path"], EFS, "default-read"))
    index_file = work / "hnswlib.bin"
    index_file.unlink(missing_ok=True)  # built by this run's first hnswlib process, loaded by the others
    runs = {name: [] for name, *_ in plan}
    for turn in range(SWEEP_PROCESSES):
        for name, system, path, efs, output in plan if turn % 2 == 0 else plan[::-1]:
            if not sweep_again(runs[name]):
                continue
            log(f"  sweep {name} ef={efs} (process {turn + 1})")
            spec = {
                "system": system,
                "path": path,
                "queries": data["queries"],
                "truth": data["truth"],
                "efs": efs,
                "output": output,
            }
            if system == "milvus":
                spec["max_queries"] = MILVUS_SWEEP_QUERIES
            if system == "hnswlib":
                spec["index_file"] = str(index_file)
            res = children.run("sweep", spec, f"sweep-{set_name}-{name}-{turn + 1}")
            if not res["ok"]:
                log(f"    failed: {res['error']}")
            runs[name].append(res)
    index_file.unlink(missing_ok=True)
    return [best_of_processes(name, runs[name]) for name, *_ in plan]


def sweep_again(runs: list) -> bool:
    """Whether a system gets another sweep process: not after a failure, nor after a round over the budget."""
    return not runs or (runs[-1]["ok"] and runs[-1]["round_s"] <= SWEEP_REPEAT_BUDGET_S)


def best_of_processes(system: str, runs: list) -> dict:
    """One system's sweep: each ef's fastest process (recall does not change between them), the first process's
    start-up phases (the one that built hnswlib's graph), and how many processes ran. A failed process is the
    system's result: its error is reported, not hidden behind the others' figures."""
    failed = next((r for r in runs if not r["ok"]), None)
    if failed:
        return dict(failed, system=system, processes=len(runs))
    best = {}
    for r in runs:
        for point in r["results"]:
            if point["ef"] not in best or point["qps"] > best[point["ef"]]["qps"]:
                best[point["ef"]] = point
    return {
        "ok": True,
        "system": system,
        "phases": runs[0]["phases"],
        "results": [best[point["ef"]] for point in runs[0]["results"]],
        "processes": len(runs),
    }


def concurrent(children: Children, spec: dict, procs: int, duration_s: float, shm_files, label: str) -> dict:
    """P workers of one system start together, each answers one query, then all search for duration_s.

    Memory is read while every worker is alive and done searching: sum of (Pss - Pss_Shmem + page tables) over
    the workers plus the run's files in /dev/shm (shm_files(pids) lists them); with spec["mark_memory"], also
    what the system added to each worker since before it was imported (grown_bytes).
    """
    lat_dir = OUT / "tmp"
    lat_dir.mkdir(parents=True, exist_ok=True)
    try:
        workers, spawned = [], []
        for i in range(procs):
            spawned.append(time.time())
            workers.append(
                children.start(
                    dict(spec, first_query=i * 37, latencies=str(lat_dir / f"{label}-{i}.npy")), f"{label}-{i}"
                )
            )
        ready = [w.answer(600) for w in workers]
        until = time.time() + duration_s
        for w in workers:
            w.send(f"go {until}")
        done = [w.answer(duration_s + 600) for w in workers]
        private = sum(common.private_bytes(w.p.pid) for w in workers)
        grown = [common.memory_since(w.p.pid, r["memory_mark"]) for w, r in zip(workers, ready) if "memory_mark" in r]
        shm = sum(common.dir_bytes(f) for f in shm_files([w.p.pid for w in workers]))
        for w in workers:
            w.send("exit")
            w.p.wait(timeout=120)
    finally:
        children.stop_all()
    lat = np.concatenate([np.load(d["latencies"]) for d in done])
    return {
        "procs": procs,
        "startup_s": [r["t_ready"] - t for r, t in zip(ready, spawned)],
        "phases": [r["phases"] for r in ready],
        "private_bytes": private,
        "shm_bytes": shm,
        "total_bytes": private + shm,
        **({"grown_bytes": sum(grown)} if grown else {}),
        "queries": len(lat),
        "qps": len(lat) / duration_s,
        "p50_ms": float(np.percentile(lat, 50) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
    }


def scaling(
    children: Children, data: dict, builds: dict, mode: Mode, procs: list, set_name: str, rust_unavailable
) -> dict:
    """The user's workaround against covec for each process count, skipping counts that cannot fit in RAM.
    covec runs twice: Python workers (as the user's), and Rust programs on the client crate, which show what
    covec costs a process without an interpreter."""
    shm_dir = children.shm_dir

    def covec_segments(pids):
        return list(shm_dir.glob("covec.*"))  # one segment for every pid

    systems = {
        "workaround": (
            {"system": "milvus", "copy_to_shm": True, "path": builds["milvus"]["path"]},
            lambda pids: [c for pid in pids for c in Path("/dev/shm").glob(f"pid-{pid}-*")],
            False,
        ),
        "covec": (
            {"system": "covec-hnsw", "path": builds["covec-hnsw"]["path"], "mark_memory": True},
            covec_segments,
            True,
        ),
        "covec-rust": ({"system": "covec-rust", "path": builds["covec-hnsw"]["path"]}, covec_segments, True),
    }
    out = {}
    for name, (spec, shm_files, shared) in systems.items():
        source = "milvus" if name == "workaround" else "covec-hnsw"
        if not builds[source]["ok"]:
            out[name] = {"skipped": f"no {source} db: {builds[source]['error']}"}
            continue
        if name == "covec-rust" and rust_unavailable:
            out[name] = {"skipped": rust_unavailable}
            continue
        rows = []
        for p in procs:
            need = _estimate(rows, p, shared)
            avail = _mem_available()
            if need and need > 0.85 * avail:
                rows.append(
                    {"procs": p, "skipped": f"needs ~{need / 2**30:.1f} GiB, {avail / 2**30:.1f} GiB available"}
                )
                log(f"  {name} P={p}: skipped ({rows[-1]['skipped']})")
                continue
            log(f"  {name} P={p}: {mode.duration_s:.0f} s of single-query searches, ef={SERVE_EF}")
            try:
                row = concurrent(
                    children,
                    dict(spec, queries=data["queries"], ef=SERVE_EF),
                    p,
                    mode.duration_s,
                    shm_files,
                    f"serve-{set_name}-{name}-{p}",
                )
                rows.append(row)
            except WORKER_FAILURES as e:
                rows.append({"procs": p, "skipped": f"failed: {e}"})
                log(f"    failed: {e}")
        out[name] = {"rows": rows}
    return out


def _estimate(rows: list, procs: int, shared: bool):
    """Memory for `procs` workers from the measured one-process row: private parts add up, shm is shared
    only by covec."""
    first = next((r for r in rows if "total_bytes" in r and r["procs"] == 1), None)
    if first is None:
        return None
    return procs * first["private_bytes"] + (1 if shared else procs) * first["shm_bytes"]


def _mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def load_figures(children: Children, builds: dict, mode: Mode, set_name: str) -> dict:
    """covec's first attach (copies the image into /dev/shm) against `cp` of the db file, and attach plus
    first query in a fresh process while another process holds the segment."""
    if not builds["covec-hnsw"]["ok"]:
        return {"skipped": f"no covec db: {builds['covec-hnsw']['error']}"}
    db = Path(builds["covec-hnsw"]["path"])
    shm_dir = children.shm_dir
    cp_s = []
    for _ in range(mode.attach_repeats):
        target = shm_dir / "cp-probe"
        t = time.perf_counter()
        subprocess.run(["cp", str(db), str(target)], check=True)
        cp_s.append(time.perf_counter() - t)
        target.unlink()
    runs = []
    spec = {
        "system": "covec-hnsw",
        "path": str(db),
        "ef": SERVE_EF,
        "first_query": 0,
        "queries": str(OUT / "data" / set_name / "queries.npy"),
        "latencies": "",
    }
    for i in range(mode.attach_repeats):
        leftover = list(shm_dir.glob("covec.*"))
        if leftover:
            return {"skipped": f"segment files left in {shm_dir} before a cold start: {leftover}"}
        try:
            runs.append(_attach_pair(children, spec, f"attach-{set_name}-{i}"))
        except WORKER_FAILURES as e:
            return {"skipped": f"failed: {e}"}
    return {"db_bytes": db.stat().st_size, "cp_s": cp_s, "runs": runs}


def _attach_pair(children: Children, spec: dict, label: str) -> dict:
    """A cold start (no segment yet), then a warm one while the first still holds the segment."""
    try:
        cold_t = time.time()
        cold = children.start(spec, f"{label}-cold")
        cold_ready = cold.answer(600)
        warm_t = time.time()
        warm = children.start(spec, f"{label}-warm")
        warm_ready = warm.answer(600)
        segment_bytes = sum(common.dir_bytes(f) for f in children.shm_dir.glob("covec.*"))
        for w in (cold, warm):
            w.send("exit")
            w.p.wait(timeout=120)
    finally:
        children.stop_all()
    return {
        "cold": cold_ready["phases"] | {"startup_s": cold_ready["t_ready"] - cold_t},
        "warm": warm_ready["phases"] | {"startup_s": warm_ready["t_ready"] - warm_t},
        "segment_bytes": segment_bytes,
    }


RUST_BENCH = ROOT / "target" / "release"


def build_rust_bench():
    """Builds bench/'s Rust programs (the kernel bench and the Rust serve worker) from this checkout;
    returns why they cannot be had, or None."""
    if shutil.which("cargo") is None:
        return "cargo not found: the Rust programs of the bench need a Rust toolchain"
    build = subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "covec-bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if build.returncode != 0:
        return f"cargo build -p covec-bench failed: {build.stderr.strip()[-500:]}"
    return None


def kernel_throughput() -> dict:
    """covec's SIMD kernels against their scalar twins, from the Rust bench (bench/src/main.rs)."""
    out = OUT / "kernels.json"
    run = subprocess.run(
        [str(RUST_BENCH / "covec-bench"), "--json", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        return {"skipped": f"covec-bench failed: {run.stderr.strip()[-500:]}"}
    return json.loads(out.read_text()) | {"commit": sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])}


# --- the run ----------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, flush=True)


def sh(cmd: list) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict:
    import importlib.util
    from importlib import metadata

    # The covec measured is the one installed in this Python (maybe another checkout's build): name it.
    spec = importlib.util.find_spec("covec")
    covec_dir = str(Path(spec.origin).parent) if spec and spec.origin else ""
    lscpu = sh(["lscpu"])
    model = next((x.split(":", 1)[1].strip() for x in lscpu.splitlines() if x.startswith("Model name")), "unknown")
    versions = {"python": platform.python_version()}
    for pkg in ("numpy", "pymilvus", "milvus-lite", "faiss-cpu", "hnswlib", "psutil", "matplotlib", "covec"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "loadavg_start": os.getloadavg(),
        "versions": versions,
        "covec_location": covec_dir,
        "covec_commit": sh(["git", "-C", covec_dir, "rev-parse", "--short", "HEAD"]) if covec_dir else "unknown",
    }


def sweep_dead_runs() -> None:
    """Removes shm dirs of harness runs that were SIGKILLed (their workers remove their own copies)."""
    for d in Path("/dev/shm").glob("covec-bench-*"):
        pid = d.name.removeprefix("covec-bench-")
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            log(f"removing {d}, left by a harness run that no longer exists")
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass  # a live process of another user


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="set A only, 200 queries, 1/2/4 processes, 10 s runs")
    ap.add_argument("--sets", help="comma-separated: A, synth100k, synth1m (default: A quick, all full)")
    ap.add_argument("--procs", help="comma-separated process counts (default 1,2,4 quick, 1,2,4,8 full)")
    ap.add_argument("--data-dir", type=Path, default=None, help="where A_*.npy are (default ../shared/data)")
    ap.add_argument("--no-kernels", action="store_true", help="skip the Rust kernel bench (needs cargo)")
    ap.add_argument("--no-doc", action="store_true", help="write the JSON only, leave docs/ untouched")
    args = ap.parse_args(argv)
    mode = Mode(args.quick)
    sets = args.sets.split(",") if args.sets else (["A"] if args.quick else ["A", *SYNTH])
    try:
        procs = [int(p) for p in args.procs.split(",")] if args.procs else ([1, 2, 4] if args.quick else [1, 2, 4, 8])
    except ValueError:
        ap.error(f"--procs takes comma-separated whole numbers, got {args.procs!r}")
    if any(p < 1 for p in procs):
        ap.error(f"--procs counts must be at least 1, got {args.procs!r}")
    unknown = [s for s in sets if s != "A" and s not in SYNTH]
    if unknown:
        ap.error(f"unknown set(s) {unknown}; choose from A, {', '.join(SYNTH)}")

    # SIGTERM unwinds like Ctrl-C, so the finally below still removes workers' /dev/shm copies.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for d in ("data", "dbs", "logs", "tmp"):
        (OUT / d).mkdir(parents=True, exist_ok=True)
    sweep_dead_runs()
    shm_dir = Path("/dev/shm") / f"covec-bench-{os.getpid()}"
    shm_dir.mkdir(mode=0o700)
    children = Children(shm_dir, OUT / "logs")
    results = {
        "mode": mode.name,
        "command": " ".join(["python bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "duration_s": mode.duration_s,
        "serve_ef": SERVE_EF,
        "efs": EFS,
        "sweep_processes": SWEEP_PROCESSES,
        "sweep_repeat_budget_s": SWEEP_REPEAT_BUDGET_S,
        "milvus_sweep_queries": MILVUS_SWEEP_QUERIES,
        "procs": procs,
        "machine": machine(),
        "sets": {},
    }
    try:
        log("== cargo build --release -p covec-bench")
        rust_unavailable = build_rust_bench()
        if rust_unavailable:
            log(f"  {rust_unavailable}")
        if not args.no_kernels:
            log("== kernels")
            results["kernels"] = {"skipped": rust_unavailable} if rust_unavailable else kernel_throughput()
        for name in sets:
            log(f"== set {name}")
            try:
                data = prepare_set(name, mode, args.data_dir or common.shared_data_dir())
            except FileNotFoundError as e:
                log(f"  SKIPPED: {e}")
                results["sets"][name] = {"skipped": str(e)}
                continue
            dbs = OUT / "dbs" / name
            dbs.mkdir(exist_ok=True)
            builds = build_dbs(children, data, dbs)
            r = {
                "n": data["n"],
                "source": data["source"],
                "queries": int(np.load(data["queries"]).shape[0]),
                "builds": builds,
            }
            r["sweeps"] = sweeps(children, data, builds, name, dbs)
            r["load"] = load_figures(children, builds, mode, name)
            r["scaling"] = scaling(children, data, builds, mode, procs, name, rust_unavailable)
            results["sets"][name] = r
    finally:
        children.stop_all()
        shutil.rmtree(shm_dir, ignore_errors=True)
        shutil.rmtree(OUT / "tmp", ignore_errors=True)
    results["machine"]["loadavg_end"] = os.getloadavg()
    out = OUT / f"results-{mode.name}.json"
    out.write_text(json.dumps(results, indent=1))
    log(f"results: {out}")
    print(report.tables(results))
    if "kernels" in results:
        print(report.kernel_table(results["kernels"]))
    if not args.no_doc:
        report.write_doc(results, ROOT / "docs" / "benchmarks.md", ROOT / "docs" / "img")
        log(f"wrote {ROOT / 'docs' / 'benchmarks.md'}")
    return 0 if any("skipped" not in s for s in results["sets"].values()) else 2


if __name__ == "__main__":
    sys.exit(main())
