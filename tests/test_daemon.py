"""covecd under a supervisor: the unit in docs/systemd is started the way systemd starts a Type=notify
service (NOTIFY_SOCKET, RUNTIME_DIRECTORY), answers status, republishes on commits, and stops cleanly on
SIGTERM. There is no systemd here (no PID 1 service manager in the sandbox), so this test plays its part:
it reads ExecStart from the unit, provides the notify socket and the runtime directory, and sends the
signal systemd sends."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from covec import MilvusClient

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


@pytest.mark.skipif(not Path(DAEMON).exists(), reason="covecd is built by `make test`")
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
