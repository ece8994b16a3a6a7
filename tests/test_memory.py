"""N attached processes hold one copy of the data (summed PSS), where the per-process /dev/shm copy of
the user's workaround holds N. Measured on a real tmpfs, since PSS splits only shared-memory pages."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

import covec
from covec import MilvusClient
from test_multiprocess import Child

PROCESSES = 4
ROWS, DIM = 16_000, 384  # 24.6 MB of vectors


def smaps(pid: int) -> dict[str, int]:
    fields = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            fields[parts[0][:-1]] = int(parts[1]) * 1024
    return fields


def shared_and_private(pids) -> tuple[int, int]:
    """(sum of Pss_Shmem, sum of Pss minus Pss_Shmem) over the processes."""
    rollups = [smaps(pid) for pid in pids]
    shmem = sum(r["Pss_Shmem"] for r in rollups)
    return shmem, sum(r["Pss"] for r in rollups) - shmem


@pytest.fixture
def tmpfs_dir(monkeypatch):
    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm on this machine")
    d = Path("/dev/shm") / f"covec-test-{uuid.uuid4().hex[:12]}"
    d.mkdir(mode=0o700)
    monkeypatch.setenv("COVEC_SHM_DIR", str(d))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_n_readers_share_one_copy_where_per_process_copies_hold_n(tmp_path, tmpfs_dir):
    db = tmp_path / "big.db"
    client = MilvusClient(str(db))
    client.create_collection("docs", dimension=DIM)
    data = np.random.default_rng(1).random((ROWS, DIM), dtype=np.float32)
    for start in range(0, ROWS, 4000):
        client.insert("docs", [{"id": i, "vector": data[i]} for i in range(start, start + 4000)])
    client.close()
    db_bytes = db.stat().st_size

    readers = [Child("hold", str(db)) for _ in range(PROCESSES)]
    try:
        [r.read(timeout=120) for r in readers]
        covec_shm = sum(p.stat().st_size for p in tmpfs_dir.iterdir())
        covec_shared, covec_private = shared_and_private(r.proc.pid for r in readers)
    finally:
        for r in readers:
            r.kill()
    covec.sweep()
    assert list(tmpfs_dir.iterdir()) == [], "killed readers' segment outlived the sweep"

    # The workaround: every worker copies the db into its own /dev/shm file and reads that copy.
    copies = []
    for k in range(PROCESSES):
        copy = tmpfs_dir / f"pid-{k}-big.db"
        shutil.copyfile(db, copy)
        copies.append(Child("hold", str(copy), "0"))
    try:
        [c.read(timeout=120) for c in copies]
        copies_shm = sum(p.stat().st_size for p in tmpfs_dir.iterdir())
        copies_shared, copies_private = shared_and_private(c.proc.pid for c in copies)
    finally:
        for c in copies:
            c.kill()

    print(
        f"\n{PROCESSES} processes, db {db_bytes / 2**20:.1f} MiB: covec /dev/shm {covec_shm / 2**20:.1f} MiB, "
        f"sum Pss_Shmem {covec_shared / 2**20:.1f} MiB; per-process copies /dev/shm "
        f"{copies_shm / 2**20:.1f} MiB, sum Pss_Shmem {copies_shared / 2**20:.1f} MiB"
    )
    # One segment for everyone: the shared pages sum to about one copy of the data.
    assert covec_shm <= 1.1 * db_bytes
    assert 0.9 * ROWS * DIM * 4 <= covec_shared <= 1.1 * db_bytes
    # The workaround holds one copy per process.
    assert copies_shm >= PROCESSES * db_bytes
    assert copies_shared >= 0.9 * PROCESSES * ROWS * DIM * 4
    assert covec_private < 2 * copies_private  # attaching adds no private copy of the data
