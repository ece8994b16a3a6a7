"""Shared fixtures: covec clients on tmp paths, each test with its own segment directory."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import covec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@pytest.fixture
def shm_dir(tmp_path, monkeypatch):
    # Each test gets its own segment directory so leftovers cannot leak between tests; child processes
    # and clients opened without shm_dir find it through the environment.
    d = tmp_path / "shm"
    d.mkdir()
    monkeypatch.setenv("COVEC_SHM_DIR", str(d))
    return d


@pytest.fixture
def readme_example():
    """The README's first Python example, taken from README.md so the tests run what users read."""
    return re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)


@pytest.fixture
def make_client(tmp_path, shm_dir):
    """Factory for covec clients on a tmp db; every client made is closed at teardown."""
    made = []

    def make(name="covec.db", **kwargs):
        kwargs.setdefault("shm_dir", str(shm_dir))
        c = covec.MilvusClient(str(tmp_path / name), **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    """A Milvus-protocol server on 127.0.0.1 for a test module: Milvus Lite's gRPC servicer in a child process
    (tests/milvus_server.py), stopped when the module's tests end. {"tcp": uri, "unix": uri, "tls": uri, "cert": path}.
    """
    d = tmp_path_factory.mktemp("server")
    cert, key = d / "cert.pem", d / "key.pem"
    certificate = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
    certificate += " -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
    subprocess.run(
        ["openssl", *certificate.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    sock = d / "milvus.sock"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "milvus_server.py"), str(d / "lite.db"), str(sock), str(cert), str(key)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ports = json.loads(proc.stdout.readline())
        yield {
            "tcp": f"http://127.0.0.1:{ports['tcp']}",
            "unix": f"unix:{sock}",
            "tls": f"https://127.0.0.1:{ports['tls']}",
            "cert": str(cert),
        }
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
