"""covec.patch_pymilvus(): pymilvus's clients on a local path are covec's, wherever the class was referenced from."""

import asyncio
import subprocess
import sys
import textwrap

import pytest

pymilvus = pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

# A framework's reference, taken at its import, before any patch (as `from pymilvus import MilvusClient` does).
from pymilvus import AsyncMilvusClient as HeldAsyncClient  # noqa: E402
from pymilvus import MilvusClient as HeldClient  # noqa: E402

import covec  # noqa: E402

DIM = 4


@pytest.fixture
def patched():
    covec.patch_pymilvus()
    yield
    covec.unpatch_pymilvus()


def test_references_taken_before_the_patch_build_covec_clients(patched, tmp_path, shm_dir):
    path = str(tmp_path / "app.db")
    client = HeldClient(uri=path, token="", timeout=3)
    assert type(client) is covec.MilvusClient
    client.create_collection("docs", dimension=DIM)
    client.insert("docs", [{"id": 1, "vector": [0.1] * DIM}])
    # It is covec's client of that file: a covec client opened directly sees the row.
    assert covec.MilvusClient(path).get("docs", ids=[1], output_fields=["id"]) == [{"id": 1}]
    assert type(HeldClient(path)) is covec.MilvusClient

    async def search():
        aclient = HeldAsyncClient(uri=path)
        assert type(aclient) is covec.AsyncMilvusClient
        return await aclient.search("docs", data=[[0.1] * DIM], limit=1)

    assert asyncio.run(search())[0][0]["id"] == 1


def test_code_importing_pymilvus_after_the_patch_builds_covec_clients(tmp_path, shm_dir):
    program = textwrap.dedent(f"""
        import covec
        covec.patch_pymilvus()
        from pymilvus import MilvusClient, AsyncMilvusClient
        path = {str(tmp_path / "a.db")!r}
        print(type(MilvusClient(path)).__module__, type(AsyncMilvusClient(path)).__module__)
        """)
    out = subprocess.run([sys.executable, "-c", program], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["covec.client", "covec._async"]


def test_patch_is_idempotent_and_unpatch_restores_pymilvus_classes(tmp_path, shm_dir):
    before = {cls: cls.__dict__["__init__"] for cls in (pymilvus.MilvusClient, pymilvus.AsyncMilvusClient)}
    covec.patch_pymilvus()
    patched_init = pymilvus.MilvusClient.__dict__["__init__"]
    covec.patch_pymilvus()
    assert pymilvus.MilvusClient.__dict__["__init__"] is patched_init is not before[pymilvus.MilvusClient]
    covec.unpatch_pymilvus()
    assert {cls: cls.__dict__["__init__"] for cls in before} == before
    covec.unpatch_pymilvus()
    assert {cls: cls.__dict__["__init__"] for cls in before} == before
    # pymilvus's own client again: Milvus Lite opens the path.
    lite = HeldClient(str(tmp_path / "lite.db"))
    assert type(lite) is pymilvus.MilvusClient
    lite.create_collection("docs", dimension=DIM)
    assert lite.list_collections() == ["docs"]
    lite.close()


def test_subclasses_of_pymilvus_clients_stay_pymilvus(patched, tmp_path):
    class Mine(pymilvus.MilvusClient):
        pass

    mine = Mine(str(tmp_path / "lite.db"))
    assert type(mine) is Mine
    assert mine.list_collections() == []
    mine.close()


def test_errors_of_patched_clients_are_caught_as_pymilvus_errors(patched, tmp_path, shm_dir):
    client = pymilvus.MilvusClient(str(tmp_path / "app.db"))
    with pytest.raises(pymilvus.MilvusException) as e:
        client.describe_collection("missing")
    assert e.value.code == 100
