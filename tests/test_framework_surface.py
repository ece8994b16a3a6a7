"""What LangChain, LlamaIndex and Haystack reach beyond pymilvus's documented API (docs/frameworks.md): the client's
`_using` and `_get_connection()`, and the schemas they build (create_schema's keywords, add_function, verify).
The arguments they pass to the documented methods follow the client's policy, tested in test_api.py."""

import pytest

import covec
from covec import DataType, MilvusException
from covec.exceptions import ParamError, PrimaryKeyException

DIM = 4


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


def test_verify_raises_what_create_collection_would(client):
    schema().verify()
    no_key = covec.MilvusClient.create_schema()
    no_key.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    two_keys = schema()
    two_keys.add_field("other", DataType.VARCHAR, is_primary=True, max_length=8)
    with_array = schema()
    with_array.add_field("labels", DataType.ARRAY, max_capacity=4)
    with_function = schema()
    with_function.add_function(object())
    for bad, error, message in [
        (no_key, PrimaryKeyException, "Schema must have a primary key field."),
        (two_keys, PrimaryKeyException, "Expected only one primary key field, got [id, other, ...]."),
        (with_array, MilvusException, "ARRAY field 'labels': element_type must be"),
        (with_function, ParamError, "schema function \"\" has no type; pass pymilvus's Function"),
        (schema(functions=[object()]), ParamError, "has no type"),
    ]:
        with pytest.raises(error) as verified:
            bad.verify()
        with pytest.raises(error) as created:
            client.create_collection("docs", schema=bad)
        assert message in verified.value.message and verified.value.message == created.value.message
    assert client.list_collections() == []


def test_schemas_as_the_frameworks_build_them_are_created(client):
    # Haystack: partition_key_field and functions=None; LangChain and LlamaIndex: BM25 input fields' analyzer
    # settings without a function (those only place rows or serve calls of their own).
    s = schema(auto_id=False, description="docs", partition_key_field="tag", enable_dynamic_field=False, functions=None)
    s.add_field("tag", DataType.VARCHAR, max_length=8, is_partition_key=True)
    s.add_field("text", DataType.VARCHAR, max_length=64, enable_analyzer=True, enable_match=True, analyzer_params={})
    s.verify()
    client.create_collection("docs", schema=s, consistency_level="Session", num_partitions=16)
    client.insert("docs", [{"id": 1, "vector": [1.0] * DIM, "tag": "a", "text": "hello"}])
    assert client.query("docs", filter='tag == "a"', output_fields=["text"]) == [{"id": 1, "text": "hello"}]


def test_create_schema_honours_primary_field_and_refuses_unknown_keywords(client):
    s = covec.MilvusClient.create_schema(primary_field="key")
    s.add_field("key", DataType.VARCHAR, max_length=8)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection("docs", schema=s)
    assert [f["name"] for f in client.describe_collection("docs")["fields"] if f.get("is_primary")] == ["key"]
    with pytest.raises(ParamError, match="create_schema\\(\\) got an unexpected keyword argument 'enable_namespace'"):
        covec.MilvusClient.create_schema(enable_namespace=True)


def test_a_function_output_field_is_refused_by_name(client):
    s = schema()
    s.add_field("sparse", DataType.FLOAT_VECTOR, dim=DIM, is_function_output=True)
    with pytest.raises(ParamError, match="field 'sparse': parameter 'is_function_output' is not supported"):
        client.create_collection("docs", schema=s)
