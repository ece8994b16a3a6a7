"""covecd with real processes. Under a supervisor: the unit in docs/systemd is started the way systemd
starts a Type=notify service (NOTIFY_SOCKET, RUNTIME_DIRECTORY), answers status, republishes on commits,
and stops cleanly on SIGTERM. There is no systemd here (no PID 1 service manager in the sandbox), so that
test plays its part: it reads ExecStart from the unit, provides the notify socket and the runtime
directory, and sends the signal systemd sends. As a builder (docs/ann.md, "The builder"): covecd indexes
the tail a writer left when it exited mid-build, and a covecd killed mid-build loses no row."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import covec
from covec import DataType, MilvusClient

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "docs" / "systemd" / "covecd.service"
DAEMON = os.environ.get("COVEC_DAEMON", str(ROOT / "target" / "release" / "covecd"))


def unit_exec_start(db: Path, runtime: Path) -> list[str]:
    for line in UNIT.read_text().splitlines():
        if line.startswith("ExecStart="):
            words = shlex.split(line[len("ExecStart="):])
            break
    else:
        raise AssertionError("the unit has no ExecStart")
    words[0] = DAEMON
    words = [w.replace("${RUNTIME_DIRECTORY}", str(runtime)) for w in words]
    return [str(db) if w == "/var/lib/app/schemas.db" else w for w in words]


def status(sock: Path) -> dict:
    out = subprocess.run([DAEMON, "status", "--socket", str(sock)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


needs_daemon = pytest.mark.skipif(not Path(DAEMON).exists(), reason="covecd is built by `make test`")


@needs_daemon
def test_unit_starts_notifies_republishes_and_stops_cleanly(tmp_path, shm_dir):
    db = tmp_path / "schemas.db"
    client = MilvusClient(str(db))
    client.create_collection("docs", dimension=8)
    client.insert("docs", [{"id": i, "vector": np.full(8, i, np.float32)} for i in range(100)])
    runtime = tmp_path / "run"
    runtime.mkdir()
    notify_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(60)
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_path), RUNTIME_DIRECTORY=str(runtime))
    daemon = subprocess.Popen(unit_exec_start(db, runtime), env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert notify.recv(256) == b"READY=1"
        sock = runtime / "covecd.sock"
        first = status(sock)
        assert first["dbs"][0]["generation"] is not None
        assert first["dbs"][0]["error"] is None
        segment = first["dbs"][0]["segment"]
        assert (shm_dir / segment).exists(), "the daemon keeps the segment loaded with no reader"

        client.insert("docs", [{"id": 1000, "vector": np.zeros(8, np.float32)}])
        deadline = time.time() + 30
        while status(sock)["dbs"][0]["generation"] == first["dbs"][0]["generation"]:
            assert time.time() < deadline, "the daemon did not move to the new generation"
            time.sleep(0.05)
        report = status(sock)
        now = report["dbs"][0]
        assert now["segment"] == segment, "the commit was appended to the segment the daemon holds"
        published = [s["generations"] for db in report["shm"] for s in db["segments"]]
        assert published == [[now["generation"]]], f"the old generation outlived its last holder: {published}"
        client.close()

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        assert notify.recv(256) == b"STOPPING=1"
    finally:
        if daemon.poll() is None:
            daemon.kill()
        notify.close()
    assert not (runtime / "covecd.sock").exists()
    assert sorted(p.name for p in shm_dir.iterdir()) == []


# --- covecd as a builder ---------------------------------------------------------------------------------

DIM = 48
ROWS = 6000  # past MIN_GRAPH_ROWS with no graph yet: the insert asks for a build, within MAX_TAIL_ROWS
DEADLINE_S = 300  # for a build on a loaded 2-core machine; nothing here asserts on time


def vectors(n: int) -> np.ndarray:
    return np.random.default_rng(7).random((n, DIM), dtype=np.float32)


# A writer that inserts ROWS rows, which starts its builder, and exits at once: `close` returns while the
# builder runs, and process exit ends it mid-build, so its build is lost (its rows are committed).
WRITER = f"""
import sys
import numpy as np
from covec import MilvusClient
client = MilvusClient(sys.argv[1])
v = np.random.default_rng(7).random(({ROWS}, {DIM}), dtype=np.float32)
client.insert("docs", [{{"id": i, "v": v[i].tolist()}} for i in range({ROWS})])
client.close()
"""


def hnsw_db(path: Path) -> None:
    client = MilvusClient(str(path))
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 16, "efConstruction": 100})
    client.create_collection("docs", schema=schema, index_params=index)
    client.close()


def write_and_exit(db: Path) -> None:
    subprocess.run([sys.executable, "-c", WRITER, str(db)], check=True, timeout=DEADLINE_S)


@contextlib.contextmanager
def serving(db: Path, sock: Path, **env: str):
    """covecd serving `db`, ready; killed on the way out if still running."""
    daemon = subprocess.Popen(
        [DAEMON, "--db", str(db), "--socket", str(sock), "--poll-ms", "50"],
        env=dict(os.environ, **env), stdout=subprocess.PIPE, text=True,
    )
    try:
        assert next_line(daemon).startswith("ready:")
        yield daemon
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def next_line(daemon: subprocess.Popen) -> str:
    ready, _, _ = select.select([daemon.stdout], [], [], DEADLINE_S)
    assert ready, "covecd said nothing"
    return daemon.stdout.readline()


def stop(daemon: subprocess.Popen) -> None:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0


def pending(client: MilvusClient) -> int:
    return client.describe_index("docs", "v")["pending_index_rows"]


def assert_whole(client: MilvusClient, v: np.ndarray) -> int:
    """What a reader sees of one generation: every row, each indexed or pending; rows read back whole;
    a search fills its limit. Returns the pending rows."""
    desc = client.describe_index("docs", "v")
    assert desc["total_rows"] == ROWS
    assert desc["indexed_rows"] + desc["pending_index_rows"] == ROWS, desc
    assert client.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"] == ROWS
    sample = list(range(0, ROWS, 997)) + [ROWS - 1]
    got = client.get("docs", ids=sample, output_fields=["v"])
    assert sorted(r["id"] for r in got) == sample
    for r in got:
        assert np.array_equal(np.asarray(r["v"], np.float32), v[r["id"]])
    hits = client.search("docs", data=[v[0]], limit=10, search_params={"params": {"ef": 64}})
    assert len(hits[0]) == 10
    return desc["pending_index_rows"]


def read_until_indexed(client: MilvusClient, v: np.ndarray) -> None:
    """Reads as the build runs until its generation arrives; every generation read must be whole."""
    deadline = time.time() + DEADLINE_S
    while assert_whole(client, v) > 0:
        assert time.time() < deadline, "nothing built the tail"
        time.sleep(0.05)


@needs_daemon
def test_covecd_builds_the_tail_a_writer_left_when_it_exited(tmp_path, shm_dir):
    db, sock = tmp_path / "schemas.db", tmp_path / "covecd.sock"
    hnsw_db(db)
    with serving(db, sock) as daemon:
        write_and_exit(db)
        reader = MilvusClient(str(db))
        read_until_indexed(reader, vectors(ROWS))
        # covecd moves to the generation its build published, and its builder ends.
        built = reader._db.status()["generation"]
        deadline = time.time() + DEADLINE_S
        while (served := status(sock)["dbs"][0])["building"] or served["generation"] < built:
            assert time.time() < deadline, f"covecd's builder did not end: {served}"
            time.sleep(0.05)
        assert served["builds"] >= 1, f"the writer's build was not lost, or covecd built nothing: {served}"
        assert served["build_error"] is None
        reader.close()
        stop(daemon)
    assert covec.verify(str(db)) > 0


@needs_daemon
def test_covecd_killed_mid_build_loses_no_row_and_a_restarted_covecd_finishes_it(tmp_path, shm_dir):
    db, sock = tmp_path / "schemas.db", tmp_path / "covecd.sock"
    v = vectors(ROWS)
    hnsw_db(db)
    with serving(db, sock, COVECD_TEST_PARK_MID_BUILD="1") as daemon:
        write_and_exit(db)
        # The writer's build ended with it; covecd's stops mid-build (prepared, before the writer lock).
        assert next_line(daemon).strip() == "mid-build"
        assert status(sock)["dbs"][0]["building"] is True
        daemon.kill()
        daemon.wait(timeout=60)
    assert covec.verify(str(db)) > 0
    reader = MilvusClient(str(db))
    assert assert_whole(reader, v) == ROWS, "the build was lost, no row was"

    with serving(db, sock) as daemon:
        read_until_indexed(reader, v)
        # covecd counts a build when its builder thread ends, after it has published the generation the
        # reader may already have found.
        deadline = time.time() + DEADLINE_S
        while (served := status(sock)["dbs"][0])["builds"] < 1:
            assert time.time() < deadline, f"covecd counted no build: {served}"
            time.sleep(0.05)
        reader.close()
        stop(daemon)
    assert covec.verify(str(db)) > 0
