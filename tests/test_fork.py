"""A client made before fork keeps working in the children (os.fork, multiprocessing 'fork' and 'spawn'),
each child holds its own reference-count slot, and the parent's detach never unlinks a segment a child
still uses."""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pytest

import covec
from covec import MilvusClient
from covec._covec import segment_status

DIM = 8


def covec_files(shm: Path) -> list[str]:
    return sorted(p.name for p in shm.iterdir() if p.name.startswith("covec."))


def slots(shm: Path) -> dict[int, list]:
    """pid -> [(generation, count)] of the live slots in the dir."""
    out: dict[int, list] = {}
    for db in segment_status(str(shm)):
        for s in db["slots"]:
            out.setdefault(s["pid"], []).append((s["generation"], s["count"]))
    return out


@pytest.fixture
def db(tmp_path, shm_dir):
    path = tmp_path / "fork.db"
    c = MilvusClient(str(path))
    c.create_collection("docs", dimension=DIM, metric_type="L2")
    c.insert("docs", [{"id": i, "vector": np.full(DIM, i, np.float32)} for i in range(100)])
    c.close()
    gc.collect()
    return path


def work(client, started, release, out) -> None:
    """In a child: search with the inherited (or unpickled) client, report, wait, search again."""
    hits = client.search("docs", data=np.full((1, DIM), 42, np.float32), limit=1)
    out.put((os.getpid(), hits[0][0]["id"], client._db.status()["generation"], client._db.status()["segment"]))
    started.set()
    release.wait(60)
    hits = client.search("docs", data=np.full((1, DIM), 7, np.float32), limit=1)
    out.put((os.getpid(), hits[0][0]["id"]))


def test_os_fork_child_keeps_working_with_its_own_slot(db, shm_dir):
    client = MilvusClient(str(db))
    assert client.search("docs", data=np.full((1, DIM), 3, np.float32), limit=1)[0][0]["id"] == 3
    parent = client._db.status()
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: any failure is reported through the pipe, then _exit
        try:
            hits = client.search("docs", data=np.full((1, DIM), 42, np.float32), limit=1)
            status = client._db.status()
            os.write(w, (json.dumps([hits[0][0]["id"], status["generation"], status["segment"]]) + "\n").encode())
            os.read(go_r, 1)  # the parent detaches meanwhile
            hits = client.search("docs", data=np.full((1, DIM), 9, np.float32), limit=1)
            os.write(w, (json.dumps([hits[0][0]["id"]]) + "\n").encode())
        except BaseException as e:  # noqa: BLE001
            os.write(w, (json.dumps(["error", repr(e)]) + "\n").encode())
        os._exit(0)
    reader = os.fdopen(r)
    first = json.loads(reader.readline())
    assert first == [42, parent["generation"], parent["segment"]], first
    held = slots(shm_dir)
    assert held.get(os.getpid()) == [(parent["generation"], 1)], held
    assert held.get(pid) == [(parent["generation"], 1)], "the child holds its own slot"
    # The parent detaches: the segment stays, since the child still holds it.
    client.close()
    gc.collect()
    assert os.getpid() not in slots(shm_dir)
    assert parent["segment"] in covec_files(shm_dir)
    os.write(go_w, b"x")
    assert json.loads(reader.readline()) == [9]
    assert os.waitpid(pid, 0)[1] == 0
    # The child left with os._exit (no destructors): its slot is dead, and one sweep clears it.
    covec.sweep(str(shm_dir))
    assert covec_files(shm_dir) == []


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_children_share_the_parents_segment(db, shm_dir, method):
    ctx = mp.get_context(method)
    client = MilvusClient(str(db))
    parent = client._db.status()
    started = [ctx.Event() for _ in range(3)]
    release = ctx.Event()
    out = ctx.Queue()
    # 'spawn' pickles the client: the child reopens the db from its path and options.
    children = [ctx.Process(target=work, args=(client, s, release, out)) for s in started]
    for p in children:
        p.start()
    for s in started:
        assert s.wait(120), "a child did not start"
    reports = [out.get(timeout=60) for _ in children]
    assert sorted(r[0] for r in reports) == sorted(p.pid for p in children)
    for _, hit, generation, segment in reports:
        assert (hit, generation, segment) == (42, parent["generation"], parent["segment"])
    held = slots(shm_dir)
    for p in children:
        assert held.get(p.pid) == [(parent["generation"], 1)], (p.pid, held)
    assert held.get(os.getpid()) == [(parent["generation"], 1)]
    client.close()
    gc.collect()
    assert parent["segment"] in covec_files(shm_dir), "the parent's detach unlinked a segment in use"
    release.set()
    assert sorted(out.get(timeout=60) for _ in children) == sorted((p.pid, 7) for p in children)
    for p in children:
        p.join(60)
        assert p.exitcode == 0
    covec.sweep(str(shm_dir))
    assert covec_files(shm_dir) == []


def test_fork_child_sees_commits_made_after_the_fork(db, shm_dir):
    client = MilvusClient(str(db))
    client.search("docs", data=np.zeros((1, DIM), np.float32), limit=1)
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    go = ctx.Event()

    def child():
        go.wait(60)
        out.put(client.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"])

    p = ctx.Process(target=child)
    p.start()
    client.insert("docs", [{"id": 1000, "vector": np.zeros(DIM, np.float32)}])
    go.set()
    assert out.get(timeout=60) == 101
    p.join(60)
    assert p.exitcode == 0
    client.close()
    gc.collect()
    covec.sweep(str(shm_dir))
    assert covec_files(shm_dir) == []
