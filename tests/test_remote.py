"""Past one machine, the same code: a Milvus server's URI gives pymilvus's client for that server.

The server is Milvus Lite's gRPC servicer in a child process (tests/milvus_server.py) on 127.0.0.1, a unix socket and
a TLS port with a certificate made here; the same calls against it and against a local covec path give the same
answers.
"""

import asyncio
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pymilvus = pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

import covec  # noqa: E402

DIM = 8


@pytest.fixture(scope="module")
def server(milvus_server):
    return milvus_server


def connect(cls, server, form, **kwargs):
    if form == "tls":
        kwargs.update(server_pem_path=server["cert"], server_name="localhost")
    return cls(server[form], **kwargs)


def rows(n, seed):
    vectors = np.random.default_rng(seed).random((n, DIM), dtype=np.float32)
    return [{"id": i, "vector": v.tolist(), "tag": "even" if i % 2 == 0 else "odd"} for i, v in enumerate(vectors)]


def workload(client, name):
    """One application's calls; returns what it saw, in a comparable form."""
    if client.has_collection(name):
        client.drop_collection(name)
    client.create_collection(name, dimension=DIM, metric_type="L2")
    client.insert(name, rows(40, seed=1))
    client.delete(name, ids=[3, 4])
    client.upsert(name, [{"id": 5, "vector": [0.5] * DIM, "tag": "upserted"}])
    queries = np.random.default_rng(2).random((3, DIM), dtype=np.float32).tolist()
    hits = client.search(name, data=queries, limit=5, filter='tag != "odd"', output_fields=["tag"])
    return {
        "search": [[(h["id"], h["entity"]["tag"]) for h in q] for q in hits],
        "distances": [h["distance"] for q in hits for h in q],
        "get": [dict(row) for row in client.get(name, ids=[5, 6], output_fields=["tag"])],
        "count": client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"],
    }


@pytest.mark.parametrize("form", ["tcp", "unix", "tls"])
def test_server_uri_gives_pymilvus_client_answering_as_covec_does(server, form, tmp_path, shm_dir):
    remote = connect(covec.MilvusClient, server, form, token="root:Milvus")
    assert type(remote) is pymilvus.MilvusClient
    local = covec.MilvusClient(str(tmp_path / "local.db"))
    seen, expected = workload(remote, f"docs_{form}"), workload(local, f"docs_{form}")
    assert seen.pop("distances") == pytest.approx(expected.pop("distances"), rel=1e-5)
    assert seen == expected
    remote.close()


@pytest.mark.parametrize("form", ["tcp", "tls"])
def test_async_client_on_server_uri_is_pymilvus_async_client(server, form, tmp_path, shm_dir):
    async def run(client, name):
        # Milvus Lite's server lacks the AllocTimestamp call pymilvus's async create_collection makes, so the
        # collection is made with the synchronous client of the same URI.
        sync_client = connect(covec.MilvusClient, server, form) if client is remote else covec.MilvusClient(local_path)
        sync_client.create_collection(name, dimension=DIM, metric_type="L2")
        await client.insert(name, rows(10, seed=3))
        hits = await client.search(name, data=[[0.1] * DIM], limit=3)
        await client.drop_collection(name)
        await client.close()
        return [h["id"] for h in hits[0]], [h["distance"] for h in hits[0]]

    remote = connect(covec.AsyncMilvusClient, server, form)
    assert type(remote) is pymilvus.AsyncMilvusClient
    local_path = str(tmp_path / "local.db")
    local = covec.AsyncMilvusClient(local_path)
    (ids, distances), (local_ids, local_distances) = (asyncio.run(run(c, f"async_{form}")) for c in (remote, local))
    assert ids == local_ids and distances == pytest.approx(local_distances, rel=1e-5)


def test_patched_pymilvus_keeps_its_own_client_for_servers(server, tmp_path, shm_dir):
    covec.patch_pymilvus()
    try:
        assert type(pymilvus.MilvusClient(server["tcp"])) is pymilvus.MilvusClient
        assert type(pymilvus.MilvusClient(uri=str(tmp_path / "local.db"))) is covec.MilvusClient
    finally:
        covec.unpatch_pymilvus()


def test_pymilvus_is_imported_only_for_a_server_uri(server, tmp_path, shm_dir):
    program = textwrap.dedent(f"""
        import sys, covec
        covec.MilvusClient({str(tmp_path / "local.db")!r}).list_collections()
        print("pymilvus" in sys.modules)
        covec.MilvusClient({server["tcp"]!r}).list_collections()
        print("pymilvus" in sys.modules)
        """)
    out = subprocess.run([sys.executable, "-c", program], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["False", "True"]


def test_a_server_uri_without_pymilvus_says_what_to_install(tmp_path):
    program = textwrap.dedent(
        """
        import sys
        sys.modules["pymilvus"] = None  # as if it were not installed
        import covec
        try:
            covec.MilvusClient("http://127.0.0.1:19530")
        except covec.exceptions.ParamError as e:
            print(e.message)
        """
    )
    out = subprocess.run([sys.executable, "-c", program], check=True, capture_output=True, text=True).stdout
    assert "names a Milvus server; its client is pymilvus's: pip install pymilvus" in out
