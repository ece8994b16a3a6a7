"""Soak (COVEC_LONG=1 only): 8 readers, 1 writer and covecd (restarted now and then, by SIGTERM or SIGKILL)
for COVEC_SOAK_SECONDS (default 600). No reader error, no leak (segments in the dir stay bounded, reader
RSS does not grow, nothing is left after the sweep), exact counts at the end, and reader search latency
p50/p99 while the writer commits vs while it is idle (printed; docs/reliability.md has a run).

This file is also the child program: `python test_soak.py MODE DB ...`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

COLLECTION = "docs"
DIM = 64
BASE = 20_000
BATCH = 50
PHASE = 20.0  # seconds of commits, then as long idle
ROOT = Path(__file__).resolve().parent.parent
DAEMON = os.environ.get("COVEC_DAEMON", str(ROOT / "target" / "release" / "covecd"))
SECONDS = float(os.environ.get("COVEC_SOAK_SECONDS", "600"))


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def mode_reader(db: str, out: str, until: str) -> None:
    """Searches until `until` (unix time); saves (time, latency) samples; then reports its final count."""
    from covec import MilvusClient

    client = MilvusClient(db)
    rng = np.random.default_rng(os.getpid())
    queries = rng.random((64, DIM), dtype=np.float32)
    samples = []
    rss_start = None
    end = float(until)
    k = 0
    while time.time() < end:
        t0 = time.perf_counter()
        hits = client.search(COLLECTION, data=queries[k % 64 : k % 64 + 1], limit=10)
        samples.append((time.time(), time.perf_counter() - t0))
        assert len(hits[0]) == 10
        k += 1
        if k == 200:
            rss_start = rss_kib()
        time.sleep(0.002)
    np.save(out, np.array(samples))
    # Stdin closes once the writer is done: then every reader must see the exact final count.
    sys.stdin.read()
    count = client.query(COLLECTION, filter="", output_fields=["count(*)"])[0]["count(*)"]
    print(json.dumps({"count": count, "searches": k, "rss_start": rss_start, "rss_end": rss_kib()}), flush=True)


def mode_writer(db: str, until: str) -> None:
    """Alternates PHASE seconds of commits (a batch every ~50 ms) with PHASE idle; prints the phases."""
    from covec import MilvusClient

    client = MilvusClient(db)
    rng = np.random.default_rng(1)
    next_id, end = 10_000_000, float(until)
    while time.time() < end:
        start = time.time()
        while time.time() < min(start + PHASE, end):
            vectors = rng.random((BATCH, DIM), dtype=np.float32)
            client.insert(COLLECTION, [{"id": next_id + i, "vector": vectors[i]} for i in range(BATCH)])
            next_id += BATCH
            time.sleep(0.05)
        print(json.dumps({"busy": [start, time.time()]}), flush=True)
        time.sleep(min(PHASE, max(0.0, end - time.time())))
    print(json.dumps({"committed": next_id - 10_000_000}), flush=True)


@pytest.mark.skipif(os.environ.get("COVEC_LONG") != "1", reason="soak runs with COVEC_LONG=1")
def test_soak(tmp_path, shm_dir):
    import covec
    from covec import MilvusClient

    db = tmp_path / "soak.db"
    client = MilvusClient(str(db))
    client.create_collection(COLLECTION, dimension=DIM, metric_type="L2")
    data = np.random.default_rng(0).random((BASE, DIM), dtype=np.float32)
    for s in range(0, BASE, 5000):
        client.insert(COLLECTION, [{"id": i, "vector": data[i]} for i in range(s, s + 5000)])
    client.close()
    env = dict(os.environ, COVEC_SHM_DIR=str(shm_dir))
    until = time.time() + SECONDS
    daemon_cmd = [DAEMON, "--db", str(db), "--shm-dir", str(shm_dir), "--socket", str(tmp_path / "d.sock")]
    py = [sys.executable, __file__]
    readers = [
        subprocess.Popen(py + ["reader", str(db), str(tmp_path / f"r{i}.npy"), str(until)], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(8)
    ]
    writer = subprocess.Popen(py + ["writer", str(db), str(until)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        run(writer, readers, daemon_cmd, env, shm_dir, tmp_path)
    finally:
        for p in [writer, *readers]:
            if p.poll() is None:
                p.kill()


def run(writer, readers, daemon_cmd, env, shm_dir, tmp_path):
    import covec
    from covec import MilvusClient

    restarts, most_segments = 0, 0
    daemon = subprocess.Popen(daemon_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        next_restart = time.time() + 45
        while writer.poll() is None:
            time.sleep(1)
            segments = [p for p in shm_dir.iterdir() if p.name.startswith("covec.") and ".seg." in p.name]
            most_segments = max(most_segments, len(segments))
            if time.time() >= next_restart:
                next_restart += 45
                daemon.send_signal(signal.SIGKILL if restarts % 2 else signal.SIGTERM)
                daemon.wait(30)
                daemon = subprocess.Popen(daemon_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                restarts += 1
        out, err = writer.communicate()
        assert writer.returncode == 0, err
        lines = [json.loads(line) for line in out.splitlines()]
        busy = [line["busy"] for line in lines if "busy" in line]
        committed = lines[-1]["committed"]
        reports = []
        for r in readers:
            rout, rerr = r.communicate(timeout=120)
            assert r.returncode == 0, rerr[-3000:]
            reports.append(json.loads(rout))
        # Only the daemon holds the db now, at its newest generation: the segment holds that generation's live
        # bytes, not what released generations or killed loaders (the daemon's, mid-load) wrote.
        time.sleep(1)
        probe = MilvusClient(str(tmp_path / "soak.db"), shm_dir=str(shm_dir))
        live = probe._db.status()["live_bytes"]
        allocated = sum(p.stat().st_blocks * 512 for p in shm_dir.iterdir() if ".seg." in p.name)
        probe.close()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
    assert {r["count"] for r in reports} == {BASE + committed}
    samples = np.concatenate([np.load(tmp_path / f"r{i}.npy") for i in range(8)])
    during = np.zeros(len(samples), bool)
    for a, b in busy:
        during |= (samples[:, 0] >= a) & (samples[:, 0] <= b)
    ms = samples[:, 1] * 1000

    def pct(x):
        return f"p50 {np.percentile(x, 50):.2f} ms, p99 {np.percentile(x, 99):.2f} ms, n={len(x)}"

    growth = max(r["rss_end"] - r["rss_start"] for r in reports)
    print(f"\nsoak {SECONDS:.0f}s: {committed} rows committed in {len(busy)} busy phases, daemon restarts "
          f"{restarts}, most segments at once {most_segments}, max reader RSS growth {growth} KiB, "
          f"segments at the end {allocated} bytes for {live} live\n"
          f"  searches during commits: {pct(ms[during])}\n  searches while idle:     {pct(ms[~during])}")
    assert most_segments <= 12, "segments pile up"
    assert allocated <= live * 1.05 + (1 << 20), "a segment keeps pages no generation uses"
    assert growth < 64 * 1024, "a reader's RSS grew by more than 64 MiB"
    covec.sweep(str(shm_dir))
    assert not [p for p in shm_dir.iterdir() if p.name.startswith("covec.")]


if __name__ == "__main__":
    globals()["mode_" + sys.argv[1]](*sys.argv[2:])
