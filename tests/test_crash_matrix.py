"""SIGKILL at random moments: a loader mid-copy (appending to the segment others read, or filling a new one),
readers mid-search, the writer mid-commit and covecd.

Afterwards: no reader ever saw a row whose vector differs from the one written (an incomplete generation or a
dead loader's bytes would show zeros or garbage), every commit that returned is there, a live holder's segment
file still exists and its search works, and once everyone is gone and one sweep ran, the shm dir holds nothing
of covec.

The copy window is made real with COVEC_TEST_SLOW_LOAD_MS (segment/load.rs: a sleep halfway through copying a
generation's bytes, the segment open for writing). >= 20 kills by default; COVEC_LONG=1 runs >= 200.

This file is also the child program: `python test_crash_matrix.py MODE DB ...` (JSON lines on stdout).
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COLLECTION = "docs"
DIM = 16
BASE = 3000
BATCH = 25
ROOT = Path(__file__).resolve().parent.parent
DAEMON = os.environ.get("COVEC_DAEMON", str(ROOT / "target" / "release" / "covecd"))
LONG = os.environ.get("COVEC_LONG") == "1"


def expected(ids) -> np.ndarray:
    """The vector of row `id`: a pure function of the id, exact in float32, so any reader can check any row."""
    ids = np.asarray(ids, dtype=np.int64)[:, None]
    return (((ids * 7 + np.arange(DIM) * 13) % 101) / 101).astype(np.float32)


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


# --- child modes -------------------------------------------------------------------------------------


def check_rows(client, rng) -> int:
    """Reads a random window of rows with their vectors and compares each with `expected`; returns the count."""
    count = client.query(COLLECTION, filter="", output_fields=["count(*)"])[0]["count(*)"]
    base = client.query(COLLECTION, filter=f"id < {BASE}", output_fields=["count(*)"])[0]["count(*)"]
    if base != BASE:
        raise AssertionError(f"{base} base rows, expected {BASE}")
    start = int(rng.integers(0, 2_000_000))
    rows = client.query(COLLECTION, filter=f"id >= {start}", output_fields=["vector"], limit=40)
    rows += client.get(COLLECTION, ids=[int(i) for i in rng.integers(0, BASE, 20)], output_fields=["vector"])
    if rows:
        got = np.array([r["vector"] for r in rows], dtype=np.float32)
        want = expected([r["id"] for r in rows])
        if not np.array_equal(got, want):
            raise AssertionError("a row's vector differs from the one written")
    hits = client.search(COLLECTION, data=expected([int(rng.integers(0, BASE))]), limit=3)
    if len(hits[0]) != 3 or hits[0][0]["distance"] > 1e-4:
        raise AssertionError(f"search did not find a stored vector: {hits}")
    return count


def mode_reader(db: str) -> None:
    """Checks rows in a loop until stdin closes; any failure is reported and ends the process with 2."""
    from covec import MilvusClient

    client = MilvusClient(db)
    rng = np.random.default_rng(os.getpid())
    checks, last = 0, None
    try:
        while not select.select([sys.stdin], [], [], 0)[0]:
            count = check_rows(client, rng)
            checks += 1
            generation = client._db.status()["generation"]
            if last is not None and (generation, count) < last:
                raise AssertionError(f"went back from {last} to {(generation, count)}")
            if (generation, count) != last:
                say(generation=generation, count=count, checks=checks)
                last = (generation, count)
    except Exception as e:  # noqa: BLE001 - every failure is the finding
        say(error=f"{type(e).__name__}: {e}")
        sys.exit(2)
    say(done=checks)


def mode_holder(db: str) -> None:
    """Answers each stdin line with its segment and a row check; stays alive across the rounds."""
    from covec import MilvusClient

    client = MilvusClient(db)
    rng = np.random.default_rng(1)
    for _ in sys.stdin:
        try:
            count = check_rows(client, rng)
            say(count=count, segment=client._db.status()["segment"])
        except Exception as e:  # noqa: BLE001
            say(error=f"{type(e).__name__}: {e}")


def mode_writer(db: str, first: str) -> None:
    """Inserts batches of BATCH rows from id `first` until killed; reports each batch once insert returned."""
    from covec import MilvusClient

    client = MilvusClient(db)
    say(ready=True)
    next_id = int(first)
    while True:
        ids = list(range(next_id, next_id + BATCH))
        vectors = expected(ids)
        client.insert(COLLECTION, [{"id": i, "vector": vectors[k]} for k, i in enumerate(ids)])
        say(committed=ids)
        next_id += BATCH


def mode_loader(db: str) -> None:
    """Opens the db (loading the newest generation if nobody has), checks rows once, exits."""
    from covec import MilvusClient

    client = MilvusClient(db)
    check_rows(client, np.random.default_rng(0))
    say(loaded=client._db.status()["segment"])


# --- the test ----------------------------------------------------------------------------------------


def spawn(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILLs a running process; False if it had already exited."""
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return True


def writing_a_segment(pid: int, shm: Path) -> bool:
    """Whether process `pid` has a segment in `shm` open for writing: a loader mid-copy (or, for a moment, a
    process giving a released generation's pages back)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if not target.startswith(str(shm)) or ".seg." not in target:
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                flags = next(int(line.split()[1], 8) for line in info if line.startswith("flags:"))
            if flags & (os.O_WRONLY | os.O_RDWR):
                return True
        except (OSError, StopIteration, ValueError):
            continue
    return False


def kill_a_loader(shm: Path, children: dict, wait: float = 3.0) -> str | None:
    """SIGKILLs the first child seen writing a segment, so mid-copy; returns its role."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for pid, (name, proc) in children.items():
            if writing_a_segment(pid, shm) and kill(proc):
                return name
        time.sleep(0.002)
    return None


def total(kills: dict) -> int:
    return sum(n for role, n in kills.items() if role != "of which mid-copy")


def lines(proc: subprocess.Popen) -> list[dict]:
    if proc.stdin is not None and proc.stdin.closed:
        proc.stdin = None  # communicate() would flush it
    out, err = proc.communicate(timeout=60)
    found = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    errors = [f for f in found if "error" in f]
    assert not errors, (proc.args, errors, err[-2000:])
    assert proc.returncode in (0, -signal.SIGKILL), (proc.args, proc.returncode, err[-2000:])
    return found


def covec_files(shm: Path) -> list[str]:
    return sorted(p.name for p in shm.iterdir() if p.name.startswith("covec."))


def make_db(path: Path) -> None:
    from covec import MilvusClient

    client = MilvusClient(str(path))
    client.create_collection(COLLECTION, dimension=DIM, metric_type="L2")
    vectors = expected(range(BASE))
    client.insert(COLLECTION, [{"id": i, "vector": vectors[i]} for i in range(BASE)])
    client.close()


def ask(holder: subprocess.Popen) -> dict:
    holder.stdin.write("check\n")
    holder.stdin.flush()
    ready, _, _ = select.select([holder.stdout], [], [], 60)
    assert ready, "holder did not answer in 60 s"
    answer = json.loads(holder.stdout.readline())
    assert "error" not in answer, answer
    return answer


def test_sigkill_matrix_loses_no_commit_maps_nothing_incomplete_and_leaks_nothing(tmp_path, shm_dir):
    import covec
    from covec import MilvusClient

    db = tmp_path / "crash.db"
    make_db(db)
    rng = random.Random(20261124)
    env = dict(os.environ, COVEC_SHM_DIR=str(shm_dir))
    daemon_cmd = [DAEMON, "--db", str(db), "--shm-dir", str(shm_dir), "--socket", str(tmp_path / "d.sock"),
                  "--poll-ms", "20", "--sweep-secs", "1"]
    use_daemon = Path(DAEMON).exists()
    holder = spawn(env, "holder", str(db))
    ask(holder)
    readers = [spawn(env, "reader", str(db)) for _ in range(2)]
    finished: list[subprocess.Popen] = []
    returned: list[int] = []
    kills = {"of which mid-copy": 0, "writer": 0, "reader": 0, "loader": 0, "daemon": 0}
    target = 200 if LONG else 20
    next_id = 1_000_000
    round_ = 0
    while total(kills) < target:
        round_ += 1
        # A fresh copy delay per round moves the kill across every point of the load.
        slow = dict(env, COVEC_TEST_SLOW_LOAD_MS=str(rng.choice([0, 20, 60, 150])))
        daemon = subprocess.Popen(daemon_cmd, env=slow, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) \
            if use_daemon else None
        writer = spawn(slow, "writer", str(db), str(next_id))
        next_id += 1_000_000
        assert json.loads(writer.stdout.readline()) == {"ready": True}, writer.stderr.read()
        if round_ == 1:
            # One commit returns before the first kills, so the end always has committed rows to check (a
            # run whose writers all died before reporting a commit would check none).
            first = json.loads(writer.stdout.readline())
            assert "committed" in first, first
            returned += first["committed"]
        loader = spawn(slow, "loader", str(db))
        victims = [("writer", writer), ("loader", loader), ("reader", readers[round_ % 2])]
        if daemon is not None:
            victims.append(("daemon", daemon))
        # First kill whoever is copying a generation right now (it has a segment open for writing): the
        # writer publishing, a reader or the loader following a commit, or the daemon.
        loading = kill_a_loader(shm_dir, {p.pid: (name, p) for name, p in victims})
        if loading:
            kills[loading] += 1
            kills["of which mid-copy"] += 1
        rng.shuffle(victims)
        time.sleep(rng.uniform(0.0, 0.3))
        for name, proc in victims:
            kills[name] += kill(proc)
            time.sleep(rng.uniform(0, 0.08))
        returned += [i for line in lines(writer) if "committed" in line for i in line["committed"]]
        lines(loader)
        finished.append(readers[round_ % 2])
        readers[round_ % 2] = spawn(env, "reader", str(db))
        # The live holder's segment is still there and its search still finds what was written.
        answer = ask(holder)
        assert answer["segment"] in covec_files(shm_dir), (round_, answer, covec_files(shm_dir))
        assert answer["count"] >= BASE + len(returned)

    for proc in readers:
        proc.stdin.close()
    for proc in readers + finished:
        lines(proc)
    assert [proc.returncode for proc in readers] == [0, 0]
    client = MilvusClient(str(db))
    got = client.get(COLLECTION, ids=returned, output_fields=["vector"])
    assert sorted(r["id"] for r in got) == sorted(returned), "a commit that returned is lost"
    assert np.array_equal(np.array([r["vector"] for r in got], np.float32), expected([r["id"] for r in got]))
    count = client.query(COLLECTION, filter="", output_fields=["count(*)"])[0]["count(*)"]
    # Each killed writer may have landed its batch in flight without reporting it.
    assert BASE + len(returned) <= count <= BASE + len(returned) + BATCH * round_
    client.close()
    holder.stdin.close()
    holder.wait(timeout=60)
    covec.sweep(str(shm_dir))
    assert covec_files(shm_dir) == []
    assert total(kills) >= target, kills
    assert kills["writer"] and kills["reader"] and kills["of which mid-copy"] >= round_ // 2, kills
    print(f"\ncrash matrix: {round_} rounds, kills {kills}, {len(returned)} rows committed")


if __name__ == "__main__":
    globals()["mode_" + sys.argv[1]](*sys.argv[2:])
