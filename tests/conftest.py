"""Shared fixtures: covec clients on tmp paths, each test with its own segment directory."""

import pytest

import covec


@pytest.fixture
def shm_dir(tmp_path, monkeypatch):
    # Each test gets its own segment directory so leftovers cannot leak between tests; child processes
    # and clients opened without shm_dir find it through the environment.
    d = tmp_path / "shm"
    d.mkdir()
    monkeypatch.setenv("COVEC_SHM_DIR", str(d))
    return d


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
