"""Shared fixtures: covec clients on tmp paths, and a fake native Database for the shaping unit tests."""

import json
import types

import pytest

import covec
import covec.client


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


class FakeDatabase:
    """Stands in for covec._covec.Database in tests of argument handling and result shaping only.

    It stores schemas, answers every search with no hits, and records the arguments of every call, so a
    test can check what the client sent. It does not filter or rank; the hits' shape is built natively and
    tested against the real engine.
    """

    def __init__(self, path, shm_dir=None, use_segment=True, group=None):
        self.path = path
        self.collections = {}
        self.rows = {}
        self.calls = []

    def _require(self, name):
        if name not in self.collections:
            raise covec.MilvusException(code=100, message=f"collection '{name}' does not exist")

    def create_collection(self, name, schema_json, indexes_json):
        self.calls.append(("create_collection", name, json.loads(schema_json), json.loads(indexes_json)))
        self.collections[name] = {"schema": json.loads(schema_json), "indexes": json.loads(indexes_json)}
        self.rows[name] = []

    def has_collection(self, name):
        return name in self.collections

    def list_collections(self):
        return list(self.collections)

    def drop_collection(self, name):
        self.collections.pop(name, None)

    def describe_collection(self, name):
        self._require(name)
        c = self.collections[name]
        return json.dumps({"name": name, "schema": c["schema"], "indexes": c["indexes"], "row_count": len(self.rows[name]), "pending_index_rows": 0})

    def flush(self, name):
        self._require(name)

    def create_index(self, name, spec_json):
        self._require(name)
        self.collections[name]["indexes"].append(json.loads(spec_json))

    def insert(self, name, rows):
        self._require(name)
        self.calls.append(("insert", name, rows))
        self.rows[name].extend(rows)
        return [r.get("id", i) for i, r in enumerate(rows)]

    def upsert(self, name, rows, partial=False):
        self.calls.append(("upsert", name, rows, partial))
        return [r["id"] for r in rows]

    def delete_ids(self, name, ids):
        self.calls.append(("delete_ids", name, ids))
        return len(ids)

    def delete_filter(self, name, filter):
        self.calls.append(("delete_filter", name, filter))
        return 0

    def get(self, name, ids, names=None, all=False):
        self.calls.append(("get", name, ids, names, all))
        return [{"id": i} for i in ids]

    def query(self, name, filter="", names=None, all=False, limit=None, offset=0):
        self.calls.append(("query", name, filter, names, all, limit, offset))
        return [{"id": 1}]

    def count(self, name, filter=""):
        self.calls.append(("count", name, filter))
        return 7

    def search(
        self, name, anns_field, vectors, limit, offset=0, filter="", names=None, all=False, metric=None, params=None,
        pk="id", keep_pk=True,
    ):
        self.calls.append(
            ("search", name, anns_field, vectors, limit, offset, filter, names, all, metric, params, pk, keep_pk)
        )
        return [[] for _ in range(vectors.shape[0])]


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A MilvusClient whose native Database is a FakeDatabase; returns (client, fake database)."""
    module = types.SimpleNamespace(Database=FakeDatabase)
    monkeypatch.setattr(covec.client, "_native", lambda: module)
    c = covec.MilvusClient(str(tmp_path / "fake.db"))
    yield c, c._db
    c.close()
