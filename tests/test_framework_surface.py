"""What LangChain, LlamaIndex and Haystack reach beyond pymilvus's documented API (docs/frameworks.md), and what covec
refuses until it has it: partitions, collection properties, partition keys, analyzers, functions, hybrid search."""

import pytest

import covec
from covec import DataType, MilvusException
from covec.exceptions import PrimaryKeyException

DIM = 4


@pytest.fixture
def docs(client):
    client.create_collection("docs", dimension=DIM)
    client.insert("docs", [{"id": i, "vector": [float(i)] * DIM, "tag": f"t{i % 2}"} for i in range(6)])
    return client


def schema(**kwargs):
    s = covec.MilvusClient.create_schema(**kwargs)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    return s


def test_using_and_connection_are_shared_by_clients_of_one_file(make_client):
    first, second, other = make_client(), make_client(), make_client("other.db")
    assert first._using == second._using != other._using
    assert first._get_connection() is second._get_connection() is first._db
    first.close()
    with pytest.raises(MilvusException, match="closed"):
        first._get_connection()


def test_delete_takes_pks_as_pymilvus_did(docs):
    assert docs.delete("docs", pks=[1, 2]) == {"delete_count": 2}
    assert docs.delete(collection_name="docs", pks=3, partition_name=None) == {"delete_count": 1}
    assert sorted(r["id"] for r in docs.query("docs", filter="id >= 0", output_fields=["id"])) == [0, 4, 5]
    with pytest.raises(covec.exceptions.ParamError, match="Ambiguous"):
        docs.delete("docs", pks=[4], filter="id > 0")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.insert("docs", [{"id": 9, "vector": [0.0] * DIM}], partition_name="p1"),
        lambda c: c.upsert("docs", [{"id": 9, "vector": [0.0] * DIM}], partition_name="p1"),
        lambda c: c.delete("docs", ids=[1], partition_name="p1"),
        lambda c: c.get("docs", ids=[1], partition_names=["p1"]),
        lambda c: c.query("docs", filter="id > 0", partition_names=["_default", "p1"]),
        lambda c: c.search("docs", data=[[0.0] * DIM], partition_names=["p1"]),
        lambda c: c.load_partitions("docs", ["p1"]),
        lambda c: c.get_load_state("docs", partition_name="p1"),
    ],
)
def test_a_partition_other_than_default_is_not_found_and_nothing_changes(docs, call):
    with pytest.raises(MilvusException) as e:
        call(docs)
    assert e.value.code == 200 and "partition not found[partition=p1]" in e.value.message
    assert docs.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"] == 6


def test_the_default_partition_is_the_collection(docs):
    docs.release_collection("docs")
    docs.load_partitions("docs", ["_default"], timeout=3)
    assert docs.get_load_state("docs", partition_name="_default")["state"] == 3
    docs.insert("docs", [{"id": 9, "vector": [0.0] * DIM}], partition_name="_default")
    hits = docs.search("docs", data=[[0.0] * DIM], limit=1, partition_names=["_default"])
    assert hits[0][0]["id"] in (0, 9)


def test_collection_properties_and_hybrid_search_raise_until_covec_has_them(docs):
    with pytest.raises(MilvusException, match="does not store collection properties yet"):
        docs.alter_collection_properties("docs", properties={"collection.ttl.seconds": 60})
    with pytest.raises(MilvusException, match="does not support hybrid_search yet"):
        docs.hybrid_search("docs", reqs=[], ranker=None)


def test_verify_checks_the_primary_key_and_what_create_collection_would_refuse():
    schema().verify()
    no_key = covec.MilvusClient.create_schema()
    no_key.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    with pytest.raises(PrimaryKeyException, match="must have a primary key"):
        no_key.verify()
    two_keys = schema()
    two_keys.add_field("other", DataType.VARCHAR, is_primary=True, max_length=8)
    with pytest.raises(PrimaryKeyException, match="only one primary key"):
        two_keys.verify()
    with_array = schema()
    with_array.add_field("labels", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4)
    with pytest.raises(MilvusException, match="ARRAY"):
        with_array.verify()


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"is_partition_key": True}, "partition keys"),
        ({"is_clustering_key": True}, "clustering keys"),
        ({"enable_analyzer": True}, "analyzers"),
        ({"analyzer_params": {"type": "english"}}, "analyzers"),
        ({"multi_analyzer_params": {"by_field": "lang"}}, "analyzers"),
        ({"enable_match": True}, "text match"),
        ({"is_function_output": True}, "function output"),
    ],
)
def test_field_settings_covec_cannot_honour_are_refused(client, setting, message):
    s = schema()
    s.add_field("text", DataType.VARCHAR, max_length=64, **setting)
    with pytest.raises(MilvusException, match=message) as e:
        client.create_collection("docs", schema=s)
    assert e.value.code == 6 and not client.has_collection("docs")


def test_schema_functions_and_partition_key_fields_are_refused(client):
    with_function = schema()
    with_function.add_function(object())
    with pytest.raises(MilvusException, match="schema functions"):
        client.create_collection("docs", schema=with_function)
    with pytest.raises(MilvusException, match="schema functions"):
        client.create_collection("docs", schema=schema(functions=[object()]))
    keyed = schema(partition_key_field="tag")
    keyed.add_field("tag", DataType.VARCHAR, max_length=8)
    with pytest.raises(MilvusException, match="partition key field 'tag'"):
        client.create_collection("docs", schema=keyed)
    assert client.list_collections() == []


def test_pymilvus_schemas_with_partition_keys_and_functions_are_refused(client):
    pymilvus = pytest.importorskip("pymilvus")
    s = pymilvus.MilvusClient.create_schema()
    s.add_field("id", pymilvus.DataType.INT64, is_primary=True)
    s.add_field("vector", pymilvus.DataType.FLOAT_VECTOR, dim=DIM)
    s.add_field("tag", pymilvus.DataType.VARCHAR, max_length=8, is_partition_key=True)
    with pytest.raises(MilvusException, match="partition key"):
        client.create_collection("docs", schema=s)
    s = pymilvus.MilvusClient.create_schema()
    s.add_field("id", pymilvus.DataType.INT64, is_primary=True)
    s.add_field("text", pymilvus.DataType.VARCHAR, max_length=64, enable_analyzer=True)
    s.add_field("sparse", pymilvus.DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(pymilvus.Function("bm25", pymilvus.FunctionType.BM25, ["text"], ["sparse"]))
    with pytest.raises(MilvusException, match="schema functions"):
        client.create_collection("docs", schema=s)
