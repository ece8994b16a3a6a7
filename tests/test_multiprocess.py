"""Real processes sharing one db: one load for many simultaneous starters, fresh generations for running
readers, and SIGKILL at random moments never leaking a segment, unlinking one in use, or losing a commit."""

from __future__ import annotations

import fcntl
import json
import os
import queue
import struct
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import covec
from covec import MilvusClient
from covec._covec import segment_status

PROCS = str(Path(__file__).with_name("procs.py"))
DIM = 16


class Child:
    """A child process from procs.py speaking JSON lines."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(
            [sys.executable, PROCS, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, **(env or {})),
        )
        # A thread drains stdout into a queue: select() on a buffered pipe misses lines already read.
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read(self, timeout: float = 60) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"child {self.proc.args} said nothing in {timeout}s") from None
        assert line, f"child exited: {self.proc.wait()} {self.proc.stderr.read()}"
        return json.loads(line)

    def reported(self) -> list[dict]:
        """Every line the child printed, once it has exited."""
        self.proc.wait(timeout=30)
        out = []
        while (line := self.lines.get(timeout=30)) is not None:
            out.append(json.loads(line))
        return out

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self, timeout: float = 60) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        code = self.proc.wait(timeout=timeout)
        return code

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def covec_files(shm: Path) -> list[str]:
    return sorted(p.name for p in shm.iterdir() if p.name.startswith("covec."))


def make_db(path: Path, rows: int) -> None:
    client = MilvusClient(str(path))
    client.create_collection("docs", dimension=DIM, metric_type="L2")
    data = np.random.default_rng(7).random((rows, DIM), dtype=np.float32)
    for start in range(0, rows, 5000):
        client.insert(
            "docs",
            [{"id": i, "vector": data[i]} for i in range(start, min(rows, start + 5000))],
        )
    # The graph is built now, so no background build publishes a generation during a test.
    client.flush("docs")
    client.close()


@pytest.fixture
def db(tmp_path, shm_dir):
    path = tmp_path / "shared.db"
    make_db(path, 2000)
    return path


def test_sixteen_processes_starting_at_once_make_one_load_and_one_segment(db, shm_dir):
    deadline = time.time() + 6
    children = [Child("attach", str(db), str(deadline)) for _ in range(16)]
    reports = [c.read(timeout=120) for c in children]
    segments = {r["status"]["segment"] for r in reports}
    loaders = {r["status"]["loaded_by"] for r in reports}
    assert len(segments) == 1, segments
    assert len(loaders) == 1, f"more than one process loaded the segment: {loaders}"
    assert [f for f in covec_files(shm_dir) if not f.endswith(".refs")] == sorted(segments)
    assert len({tuple(r["ids"]) for r in reports}) == 1
    assert all(c.close() == 0 for c in children)
    assert covec_files(shm_dir) == []


def test_running_reader_sees_each_commit_on_its_next_call(db, shm_dir):
    reader = Child("serve", str(db))
    reader.send("count")
    first = reader.read()
    assert first["count"] == 2000
    client = MilvusClient(str(db))
    for k in range(3):
        rows = np.random.default_rng(k).random((10, DIM), dtype=np.float32)
        client.insert("docs", [{"id": 10_000 + 10 * k + i, "vector": v} for i, v in enumerate(rows)])
        reader.send("count")
        seen = reader.read()
        assert seen["count"] == 2000 + 10 * (k + 1)
        assert seen["generation"] > first["generation"]
    client.close()
    reader.send("quit")
    assert reader.close() == 0
    assert covec_files(shm_dir) == []


def test_readers_search_while_a_writer_commits(db, shm_dir):
    readers = [Child("reader", str(db)) for _ in range(3)]
    for r in readers:
        assert r.read()["count"] == 2000
    writer = Child("writer", str(db), "8", "50", "100000")
    committed = [writer.read() for _ in range(8)]
    assert writer.close() == 0
    final = 2000 + 8 * 50
    for r in readers:
        seen = r.read()
        while seen.get("count") != final:
            seen = r.read()
        assert seen["generation"] >= committed[-1]["generation"]
        r.send("quit")
        # A background index build may publish one more generation with the same rows before the quit is read.
        while "done" not in (seen := r.read()):
            assert seen["count"] == final, seen
        assert r.close() == 0
    assert covec_files(shm_dir) == []


def test_killed_reader_neither_leaks_nor_unlinks_a_segment_in_use(db, shm_dir):
    a, b = Child("hold", str(db)), Child("hold", str(db))
    segment = a.read()["status"]["segment"]
    assert b.read()["status"]["segment"] == segment
    a.kill()
    covec.sweep()
    assert segment in covec_files(shm_dir), "segment unlinked while b still maps it"
    client = MilvusClient(str(db))
    assert len(client.search("docs", data=np.zeros((1, DIM), np.float32), limit=3)[0]) == 3
    client.close()
    b.kill()
    covec.sweep()
    assert covec_files(shm_dir) == []


def test_sigkill_at_random_moments_keeps_every_returned_commit_and_leaks_nothing(
    tmp_path, shm_dir
):
    path = tmp_path / "crash.db"
    make_db(path, 20_000)
    rng = random.Random(1234)
    durable = 20_000
    next_id = 1_000_000
    kills = 0
    for round_ in range(8):
        writer = Child("writer", str(path), "1000", "20", str(next_id))
        readers = [Child("reader", str(path)) for _ in range(2)]
        loader = Child("attach", str(path), "0")
        time.sleep(rng.uniform(0.05, 0.8))
        victims = [writer, readers[rng.randrange(2)], loader]
        rng.shuffle(victims)
        for victim in victims:
            victim.kill()
            kills += 1
            time.sleep(rng.uniform(0, 0.05))
        # Every batch the writer reported is durable; the one in flight may or may not be.
        reported = writer.reported()
        if reported:
            durable += reported[-1]["committed"] - next_id
        next_id += 1000 * 20
        for r in readers:
            if r.proc.poll() is None:
                r.kill()
                kills += 1
        client = MilvusClient(str(path))
        count = client.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"]
        assert durable <= count <= durable + 20, (round_, durable, count)
        durable = count
        client.close()
    covec.sweep()
    assert covec_files(shm_dir) == []
    assert kills >= 20


def held_generations(shm_dir, child):
    """The generations `child` holds, and those the db's segments keep, from the shared-memory status."""
    [status] = segment_status(str(shm_dir))
    held = {s["generation"] for s in status["slots"] if s["pid"] == child.proc.pid}
    return held, sorted(g for segment in status["segments"] for g in segment["generations"])


def test_iterators_keep_their_generation_while_another_process_commits(db, shm_dir):
    """A reader process pages through a search and a query while this process deletes rows it has not
    reached and inserts rows nearer than any: its pages stay those of the generation it started on, that
    generation stays held (its slot) and kept in the segment for it, and is released when it closes the
    iterators."""
    writer = MilvusClient(str(db))
    q = np.random.default_rng(0).random((1, DIM), dtype=np.float32)
    # The pages of the same iterator over this generation, read here before any commit. Each page is a graph
    # walk past the last page's cursor, so the pages are approximate (not a slice of one limit=2000 search),
    # but a generation's walks are deterministic: a reader pinned to it must page exactly these ids.
    before = writer.search_iterator("docs", q, batch_size=64, output_fields=["id"])
    expected_search = []
    while page := before.next():
        expected_search += [h["id"] for h in page]
    before.close()
    assert len(set(expected_search)) == len(expected_search) > 1900
    expected_query = sorted(range(2000))
    reader = Child("iterate", str(db), "64")
    first = reader.read(timeout=120)
    assert first["search"] == expected_search[:64] and first["query"] == expected_query[:64]
    # Rows the reader has not paged yet: the last ones of both orders.
    gone = expected_search[-10:] + expected_query[-10:]
    writer.delete("docs", ids=gone)
    writer.insert("docs", [{"id": 10_000 + i, "vector": q[0]} for i in range(5)])
    newest = writer._db.status()["generation"]
    assert newest > first["generation"]
    assert held_generations(shm_dir, reader) == ({first["generation"]}, [first["generation"], newest]), (
        "the reader's generation and the newest are both kept"
    )
    reader.send("go")
    pages = reader.read(timeout=120)
    assert pages["search"] == expected_search
    assert pages["query"] == expected_query
    reader.send("close")
    assert reader.read(timeout=120)["generation"] == newest
    assert held_generations(shm_dir, reader) == ({newest}, [newest])
    assert reader.close() == 0
    writer.close()


# --- nobody waits for another process's load (docs/protocol.md, "Waiting for nobody") --------------------

SLOW_LOAD_MS = 6000  # the loader's pause halfway through its copy (COVEC_TEST_SLOW_LOAD_MS)


def ref_file(shm: Path) -> Path:
    [refs] = [p for p in shm.iterdir() if p.name.endswith(".refs")]
    return refs


def ref_lock_held(shm: Path) -> bool:
    """Whether a process holds the db's reference-file lock exclusively (a loader, here), asked without
    waiting: a shared lock taken and dropped at once."""
    with open(ref_file(shm), "rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def records(shm: Path, magic: bytes) -> list[tuple[int, int]]:
    """(pid, generation) of every record of one kind in the reference file, read without the lock
    (docs/protocol.md, "Files": a slot b"CVSL", pid u32, start u64, generation u64, ...; a publication
    b"CVGN", loader pid u32, generation u64, ...). Each record is written by one 64-byte pwrite."""
    data = ref_file(shm).read_bytes()
    out = []
    for at in range(0, len(data) - 63, 64):
        if data[at:at + 4] == magic:
            pid = struct.unpack_from("<I", data, at + 4)[0]
            generation = struct.unpack_from("<Q", data, at + (8 if magic == b"CVGN" else 16))[0]
            out.append((pid, generation))
    return out


def publications(shm: Path) -> dict[int, int]:
    """generation -> loader pid of every publication."""
    return {generation: pid for pid, generation in records(shm, b"CVGN")}


def slots_of(shm: Path, child: Child) -> set[int]:
    """The generations `child` holds a slot on."""
    return {generation for pid, generation in records(shm, b"CVSL") if pid == child.proc.pid}


def wait_until(what: str, done, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not done():
        assert time.time() < deadline, what
        time.sleep(0.01)


def ask(child: Child, command: str = "count") -> dict:
    child.send(command)
    return child.read(timeout=120)


def start_slow_load(db: Path, shm: Path) -> tuple[list[Child], Child, int]:
    """Two readers holding the db's generation, then a writer whose commit of 10 rows publishes its
    generation (other processes hold the db) through a load that pauses SLOW_LOAD_MS halfway: returns
    (readers, writer, the readers' generation) once that load holds the reference file's lock."""
    readers = [Child("serve", str(db)) for _ in range(2)]
    for r in readers:
        assert ask(r)["count"] == 2000
    first = ask(readers[0])["generation"]
    loader = Child("writer", str(db), "1", "10", "100000", env={"COVEC_TEST_SLOW_LOAD_MS": str(SLOW_LOAD_MS)})
    wait_until("the writer's load never took the lock", lambda: ref_lock_held(shm))
    assert all(slots_of(shm, r) == {first} for r in readers)
    return readers, loader, first


def test_nobody_waits_for_a_slow_load_and_everyone_moves_onto_the_segment_after(db, shm_dir):
    # This process writes too; it attaches now, before the load (a first attach may wait).
    writer = MilvusClient(str(db))
    readers, loader, first = start_slow_load(db, shm_dir)
    # A reader meeting the loader's generation serves it from the db file, with its rows, at once.
    seen = ask(readers[0])
    assert seen["count"] == 2010 and seen["segment"] is None and seen["segment_pending"], seen
    # Another writer's commit returns without waiting for the lock (it leaves the publication to others).
    writer.insert("docs", [{"id": 200_000 + i, "vector": np.ones(DIM, np.float32)} for i in range(5)])
    # Both readers move on to that generation (and off theirs: a detach waits for nobody either, so
    # the slot on their old generation stays until their next lock of the db).
    for r in readers:
        seen = ask(r)
        assert seen["count"] == 2015 and seen["segment_pending"], seen
    assert all(slots_of(shm_dir, r) == {first} for r in readers), "a reader released without its lock"
    # Each answer came while the loader still held the lock: nobody waited for its load.
    assert ref_lock_held(shm_dir), "the load ended before the others were done: they may have waited for it"
    assert loader.read(timeout=120)["committed"] == 100_010
    wait_until("the load never ended", lambda: not ref_lock_held(shm_dir))
    # Afterwards every process reads the newest generation from one segment again.
    answers = [ask(r) for r in readers]
    assert all(a["count"] == 2015 and not a["segment_pending"] and a["segment"] for a in answers), answers
    newest = answers[0]["generation"]
    assert all(slots_of(shm_dir, r) == {newest} for r in readers), "the deferred releases were made"
    assert writer._db.status()["segment"] == answers[0]["segment"] == answers[1]["segment"]
    assert loader.close() == 0
    for r in readers:
        r.send("quit")
        assert r.close() == 0
    writer.close()
    assert covec_files(shm_dir) == []


def test_a_loader_killed_mid_load_is_cleaned_up_and_the_file_readers_move_onto_a_segment(db, shm_dir):
    readers, loader, _ = start_slow_load(db, shm_dir)
    for r in readers:
        seen = ask(r)
        assert seen["count"] == 2010 and seen["segment_pending"], seen
    loader.kill()
    # The next lock holder (a reader's next call) frees the dead loader's slot and bytes, then loads.
    wait_until("a reader never got a segment", lambda: all(not ask(r)["segment_pending"] for r in readers))
    answers = [ask(r) for r in readers]
    assert all(a["count"] == 2010 and a["segment"] == answers[0]["segment"] for a in answers), answers
    assert loader.proc.pid not in publications(shm_dir).values()
    segments = [f for f in covec_files(shm_dir) if ".seg." in f]
    assert segments == [answers[0]["segment"]], segments
    for r in readers:
        r.send("quit")
        assert r.close() == 0
    assert covec_files(shm_dir) == []


def test_the_builder_publishes_its_generation_before_anyone_asks(db, shm_dir):
    reader = Child("serve", str(db))
    assert ask(reader)["count"] == 2000
    # 1000 rows past a 2000-row graph start a background build (docs/ann.md, "The builder"); the writer
    # then makes no call, so only its builder thread can load the build's generation.
    writer = Child("insert_and_wait", str(db), "1000", "50000")
    writer_pid = writer.read(timeout=120)["pid"]

    def built() -> int | None:
        newest = covec.verify(str(db))
        return newest if publications(shm_dir).get(newest) == writer_pid else None

    def indexed() -> bool:
        generation = built()
        if generation is None:
            return False
        seen = ask(reader, "index")
        return seen["generation"] == generation and seen["pending_index_rows"] == 0

    # The newest generation is published by the writer's process before the reader asks for it; once it
    # is the build's (every row indexed), the reader finds it published and loads nothing.
    wait_until("the build's generation was never published by its builder", indexed, timeout=300)
    seen = ask(reader, "index")
    assert seen["count"] == 3000 and seen["indexed_rows"] == 3000, seen
    assert seen["loaded_by"] == writer_pid and not seen["segment_pending"], seen
    assert writer.close() == 0
    reader.send("quit")
    assert reader.close() == 0
    assert covec_files(shm_dir) == []
