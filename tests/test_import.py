"""`covec import` brings a Milvus Lite database along: the same collections, schemas, rows and answers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pymilvus = pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from covec import MilvusClient  # noqa: E402


def test_import_copies_collections_rows_and_search_results(tmp_path, shm_dir):
    lite_path = str(tmp_path / "milvus_demo.db")
    lite = pymilvus.MilvusClient(lite_path)
    rng = np.random.default_rng(3)
    vectors = rng.random((120, 8), dtype=np.float32)
    lite.create_collection("schemas", dimension=8, metric_type="COSINE")
    lite.insert(
        "schemas",
        [
            {"id": i, "vector": vectors[i].tolist(), "table": f"t{i}", "n": i * 3}
            for i in range(120)
        ],
    )
    schema = pymilvus.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("pk", pymilvus.DataType.VARCHAR, is_primary=True, max_length=16)
    schema.add_field("emb", pymilvus.DataType.FLOAT_VECTOR, dim=8)
    schema.add_field("score", pymilvus.DataType.DOUBLE)
    index = pymilvus.MilvusClient.prepare_index_params()
    index.add_index("emb", index_type="FLAT", metric_type="L2")
    lite.create_collection("other", schema=schema, index_params=index)
    lite.insert(
        "other",
        [{"pk": f"k{i}", "emb": vectors[i].tolist(), "score": i / 2} for i in range(30)],
    )
    lite.flush("schemas")
    lite.flush("other")
    query = vectors[5:6].tolist()
    expected = lite.search("schemas", data=query, limit=5, output_fields=["table", "n"])
    expected_other = lite.query("other", filter="score > 10", output_fields=["score"])
    lite.close()
    # Milvus Lite keeps its directory locked until its server is released at exit.
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(lite_path)

    covec_path = str(tmp_path / "imported.covec")
    out = subprocess.run(
        [sys.executable, "-m", "covec.cli", "import", lite_path, covec_path],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr

    client = MilvusClient(covec_path)
    assert sorted(client.list_collections()) == ["other", "schemas"]
    assert client.get_collection_stats("schemas")["row_count"] == 120
    got = client.search("schemas", data=query, limit=5, output_fields=["table", "n"])
    assert [h["id"] for h in got[0]] == [h["id"] for h in expected[0]]
    np.testing.assert_allclose(
        [h["distance"] for h in got[0]], [h["distance"] for h in expected[0]], rtol=1e-5
    )
    assert [h["entity"] for h in got[0]] == [h["entity"] for h in expected[0]]
    other = client.describe_collection("other")
    assert [f["name"] for f in other["fields"]] == ["pk", "emb", "score"]
    got_other = client.query("other", filter="score > 10", output_fields=["score"])
    assert sorted(got_other, key=lambda r: r["pk"]) == sorted(expected_other, key=lambda r: r["pk"])
    client.close()


def test_import_brings_databases_partitions_aliases_and_keys(tmp_path, shm_dir):
    lite_path = str(tmp_path / "model_demo.db")
    lite = pymilvus.MilvusClient(lite_path)
    rng = np.random.default_rng(4)
    vectors = rng.random((60, 4), dtype=np.float32)
    lite.create_database("tenant", properties={"owner": "me"})
    lite.use_database("tenant")
    lite.create_collection("docs", dimension=4, properties={"custom.keep": "yes"})
    lite.create_partition("docs", "archive")
    lite.insert("docs", [{"id": i, "vector": vectors[i].tolist()} for i in range(20)])
    lite.insert("docs", [{"id": i, "vector": vectors[i].tolist()} for i in range(20, 30)], partition_name="archive")
    lite.create_alias("docs", "current")
    schema = pymilvus.MilvusClient.create_schema()
    schema.add_field("id", pymilvus.DataType.INT64, is_primary=True)
    schema.add_field("vector", pymilvus.DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("tenant", pymilvus.DataType.VARCHAR, max_length=8, is_partition_key=True)
    index = pymilvus.MilvusClient.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    lite.create_collection("keyed", schema=schema, index_params=index)
    lite.insert("keyed", [{"id": i, "vector": vectors[i].tolist(), "tenant": f"t{i % 3}"} for i in range(30, 60)])
    lite.close()
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(lite_path)

    covec_path = str(tmp_path / "model.covec")
    out = subprocess.run(
        [sys.executable, "-m", "covec.cli", "import", lite_path, covec_path], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "tenant.docs: 30 rows" in out.stdout and "tenant.keyed: 30 rows" in out.stdout, out.stdout

    client = MilvusClient(covec_path, db_name="tenant")
    assert client.describe_database("tenant") == {"name": "tenant", "owner": "me"}
    assert client.list_collections() == ["docs", "keyed"]
    assert client.describe_collection("current")["properties"] == {"custom.keep": "yes"}
    assert client.list_partitions("docs") == ["_default", "archive"]
    assert client.get_partition_stats("docs", "archive") == {"row_count": 10}
    archived = client.query("docs", "id >= 0", output_fields=["id"], partition_names=["archive"])
    assert sorted(r["id"] for r in archived) == list(range(20, 30))
    keyed = client.describe_collection("keyed")
    assert keyed["num_partitions"] == 16 and keyed["fields"][2]["is_partition_key"] is True
    assert sorted(r["id"] for r in client.query("keyed", 'tenant == "t1"', output_fields=["id"])) == [
        i for i in range(30, 60) if i % 3 == 1
    ]
    client.close()
