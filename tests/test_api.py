"""covec.MilvusClient: every method, result shapes, errors with codes, numpy and list inputs.

Every test runs the real engine: argument handling, the native conversions of schemas, index requests,
rows, query vectors and search parameters, and the refusal of every parameter covec cannot honour.
"""

import importlib.metadata
import json
import subprocess
import sys

import numpy as np
import pymilvus
import pymilvus.exceptions as pme
import pytest

import covec
from covec import CollectionSchema, DataType, IndexParams, MilvusClient, MilvusException
from covec.exceptions import DataNotMatchException, DataTypeNotMatchException, ParamError, PrimaryKeyException

DIM = 8
rng = np.random.default_rng(7)


def vec(n=None):
    return rng.random(DIM if n is None else (n, DIM), dtype=np.float32)


def test_import_covec_loads_no_pymilvus_and_adopts_its_exceptions_later():
    code = (
        "import sys, covec\n"
        "assert 'pymilvus' not in sys.modules, 'import covec pulled in pymilvus'\n"
        "import pymilvus.exceptions as pme\n"
        "from covec.exceptions import ParamError\n"
        "try:\n"
        "    raise ParamError(code=1, message='late')\n"
        "except pme.ParamError as e:\n"
        "    print(e.code, e.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1 late"


def test_exported_names_match_pymilvus_classes():
    assert DataType.FLOAT_VECTOR == pymilvus.DataType.FLOAT_VECTOR
    assert issubclass(MilvusException, pme.MilvusException)
    for ours, theirs in [
        (ParamError, pme.ParamError),
        (DataNotMatchException, pme.DataNotMatchException),
        (PrimaryKeyException, pme.PrimaryKeyException),
        (covec.exceptions.DescribeCollectionException, pme.DescribeCollectionException),
    ]:
        assert issubclass(ours, theirs) and issubclass(ours, MilvusException)
    e = MilvusException(code=100, message="gone")
    assert (e.code, e.message) == (100, "gone")
    assert str(e) == "<MilvusException: (code=100, message=gone)>"
    assert covec.__version__ == importlib.metadata.version("covec")


def _schema_with_every_option(mod):
    schema = mod.MilvusClient.create_schema(enable_dynamic_field=True, auto_id=True, description="d")
    schema.add_field("pk", mod.DataType.INT64, is_primary=True)
    schema.add_field("v", mod.DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("name", mod.DataType.VARCHAR, max_length=16, nullable=True, default_value="x")
    schema.add_field("n", mod.DataType.INT32, default_value=5)
    schema.add_field("j", mod.DataType.JSON, nullable=True)
    return schema


@pytest.mark.parametrize("mod", [covec, pymilvus], ids=["covec", "pymilvus"])
def test_schema_objects_convert_natively(client, mod):
    client.create_collection("t", schema=_schema_with_every_option(mod))
    desc = client.describe_collection("t")
    assert (desc["auto_id"], desc["enable_dynamic_field"], desc["description"]) == (True, True, "d")
    assert [(f["name"], f["type"], f["params"]) for f in desc["fields"]] == [
        ("pk", DataType.INT64, {}),
        ("v", DataType.FLOAT_VECTOR, {"dim": 4}),
        ("name", DataType.VARCHAR, {"max_length": 16}),
        ("n", DataType.INT32, {}),
        ("j", DataType.JSON, {}),
    ]
    assert desc["fields"][0]["is_primary"] and desc["fields"][0]["auto_id"]
    assert desc["fields"][2]["nullable"] and desc["fields"][2]["default_value"] == "x"
    assert desc["fields"][3]["default_value"] == 5 and "nullable" not in desc["fields"][3]
    client.insert("t", [{"v": [0.0, 1.0, 0.0, 0.0]}])
    assert client.query("t", output_fields=["name", "n", "j"]) == [{"pk": 1, "name": "x", "n": 5, "j": None}]


@pytest.mark.parametrize("mod", [covec, pymilvus], ids=["covec", "pymilvus"])
def test_index_params_objects_convert_natively(client, mod):
    schema = mod.MilvusClient.create_schema()
    schema.add_field("id", mod.DataType.VARCHAR, is_primary=True, max_length=32)
    schema.add_field("v", mod.DataType.FLOAT_VECTOR, dim=3)
    schema.add_field("tag", mod.DataType.VARCHAR, max_length=8)
    params = mod.MilvusClient.prepare_index_params()
    params.add_index("v", index_type="hnsw", index_name="hv", metric_type="l2", M=8, params={"efConstruction": 64})
    params.add_index("tag", index_type="INVERTED")
    client.create_collection("t", schema=schema, index_params=params)
    assert client.list_indexes("t") == ["hv", "tag"], "scalar indexes are kept"
    idx = client.describe_index("t", "hv")
    assert {k: idx[k] for k in ("index_type", "metric_type", "field_name", "index_name", "M", "efConstruction")} == {
        "index_type": "HNSW",
        "metric_type": "L2",
        "field_name": "v",
        "index_name": "hv",
        "M": 8,
        "efConstruction": 64,
    }
    assert client.describe_index("t", "nope") is None, "pymilvus's answer to the server's index-not-found"


def test_index_requests_as_dicts(client):
    schema = CollectionSchema(auto_id=False).add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    client.create_collection(
        "t", schema=schema, index_params=[{"field_name": "v", "index_type": "IVF_FLAT", "metric_type": "IP", "params": {"nlist": 8}}]
    )
    idx = client.describe_index("t", "v")
    assert (idx["index_type"], idx["metric_type"], idx["nlist"]) == ("IVF_FLAT", "IP", 8)
    with pytest.raises(ParamError, match="index params must be IndexParam objects or dicts, got int"):
        client.create_index("t", [3])


def test_describe_of_a_collection_without_index_is_none_and_missing_collection_raises(client):
    schema = CollectionSchema().add_field("id", DataType.INT64, is_primary=True).add_field("v", DataType.FLOAT_VECTOR, dim=2)
    client.create_collection("t", schema=schema)
    assert client.describe_index("t", "v") is None and client.list_indexes("t") == []
    with pytest.raises(covec.exceptions.DescribeCollectionException) as e:
        client.describe_collection("nope")
    assert e.value.code == 100
    for call in (lambda: client.get_collection_stats("nope"), lambda: client.load_collection("nope")):
        with pytest.raises(MilvusException) as e:
            call()
        assert e.value.code == 100 and type(e.value) is MilvusException


@pytest.mark.parametrize("dtype", [DataType.STRING, DataType.TEXT])
def test_unsupported_types_raise_code_6_naming_the_field_and_type(client, dtype):
    schema = CollectionSchema().add_field("id", DataType.INT64, is_primary=True).add_field("f", dtype, dim=4)
    for call in (schema.verify, lambda: client.create_collection("t", schema=schema)):
        with pytest.raises(MilvusException) as e:
            call()
        assert e.value.code == 6
        assert e.value.message == f"field 'f': data type {dtype.name} is not supported by covec"
    assert client.list_collections() == []


def test_primary_key_type_is_pymilvus_primary_key_exception(client):
    schema = CollectionSchema().add_field("id", DataType.INT32, is_primary=True).add_field("v", DataType.FLOAT_VECTOR, dim=2)
    with pytest.raises(PrimaryKeyException) as e:
        client.create_collection("t", schema=schema)
    assert (e.value.code, e.value.message) == (1, "Primary key type must be DataType.INT64 or DataType.VARCHAR.")


def test_schema_parts_covec_lacks_are_refused_by_name(client):
    ours = CollectionSchema().add_field("id", DataType.INT64, is_primary=True, colour="red")
    with pytest.raises(ParamError, match="field 'id': parameter 'colour' is not supported by covec"):
        client.create_collection("t", schema=ours)
    with pytest.raises(ParamError, match="schema must be a CollectionSchema, got dict"):
        client.create_collection("t", schema={"fields": []})
    with pytest.raises(MilvusException, match="dim must be a non-negative integer"):
        client.create_collection(
            "t", schema=CollectionSchema().add_field("id", DataType.INT64, is_primary=True).add_field("v", DataType.FLOAT_VECTOR, dim="x")
        )
    # Keys and server tuning are kept and shown back as a server shows them.
    keys = CollectionSchema().add_field("id", DataType.INT64, is_primary=True)
    keys.add_field("v", DataType.FLOAT_VECTOR, dim="2", mmap_enabled=True)
    keys.add_field("k", DataType.INT64, is_partition_key=True, is_clustering_key=False)
    client.create_collection("keys", schema=keys)
    fields = client.describe_collection("keys")["fields"]
    assert fields[1]["params"] == {"dim": 2, "mmap_enabled": True}
    assert fields[2]["is_partition_key"] is True and "is_clustering_key" not in fields[2]


def test_bad_schema_values_raise_and_name_the_field(client):
    def create(**field):
        schema = CollectionSchema().add_field("id", DataType.INT64, is_primary=True).add_field("v", DataType.FLOAT_VECTOR, dim=2)
        schema.add_field("f", **field)
        client.create_collection("t", schema=schema)

    with pytest.raises(ParamError, match="default_value of field 'f' has unsupported type list"):
        create(datatype=DataType.INT64, default_value=[1])
    with pytest.raises(MilvusException, match="field 'f': max_length must be a non-negative integer"):
        create(datatype=DataType.VARCHAR, max_length=-1)
    with pytest.raises(ParamError, match="data type 'x' is not a DataType"):
        create(datatype="x")
    struct = pymilvus.MilvusClient.create_struct_field_schema()
    struct.add_field("x", pymilvus.DataType.INT64)
    schema = pymilvus.MilvusClient.create_schema()
    schema.add_field("id", pymilvus.DataType.INT64, is_primary=True)
    schema.add_field("v", pymilvus.DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("items", pymilvus.DataType.ARRAY, element_type=pymilvus.DataType.STRUCT, struct_schema=struct, max_capacity=4)
    with pytest.raises(ParamError, match=r"schema struct_fields \(struct fields\) are not supported by covec yet"):
        client.create_collection("t", schema=schema)
    assert client.list_collections() == []


def test_index_params_validation(client):
    schema = CollectionSchema().add_field("id", DataType.INT64, is_primary=True).add_field("v", DataType.FLOAT_VECTOR, dim=2)
    client.create_collection("t", schema=schema)

    def create(field, index_type="", **kwargs):
        params = IndexParams()
        params.add_index(field, index_type, **kwargs)
        client.create_index("t", params)

    with pytest.raises(MilvusException) as e:
        create("v", "HNSW")
    assert (e.value.code, e.value.message) == (6, "create_index missing required 'metric_type' parameter")
    with pytest.raises(MilvusException, match="unknown index_type: 'FOO'") as e:
        create("v", "FOO", metric_type="L2")
    assert e.value.code == 1 and type(e.value) is MilvusException
    with pytest.raises(MilvusException, match="HAMMING is not valid for FLOAT_VECTOR field 'v'; use one of L2, IP, COSINE"):
        create("v", metric_type="HAMMING")
    with pytest.raises(MilvusException, match="COSINE/L2/IP"):
        create("v", metric_type="EUCLIDEAN")
    with pytest.raises(MilvusException, match="non-existent field 'nope'"):
        create("nope", metric_type="L2")
    with pytest.raises(MilvusException, match="cannot index scalar field 'id'"):
        create("id", "HNSW", metric_type="L2")
    # A misspelt build parameter is refused, not built around with the default.
    with pytest.raises(MilvusException, match="unknown index parameter 'efconstruction'") as e:
        create("v", "HNSW", metric_type="L2", params={"efconstruction": 64})
    assert e.value.code == 6
    assert client.list_indexes("t") == []
    create("id", "INVERTED")
    params = IndexParams()
    params.add_index("v", metric_type="IP")
    client.create_index("t", params, sync=False)
    assert client.list_indexes("t") == ["v", "id"] and client.describe_index("t", "v")["index_type"] == "AUTOINDEX"


def test_quick_setup_makes_pymilvus_default_schema_and_index(client):
    client.create_collection("q", dimension=DIM)
    desc = client.describe_collection("q")
    assert [(f["name"], f["type"], f.get("is_primary", False), f.get("auto_id", False)) for f in desc["fields"]] == [
        ("id", DataType.INT64, True, False),
        ("vector", DataType.FLOAT_VECTOR, False, False),
    ]
    assert desc["enable_dynamic_field"] is True
    idx = client.describe_index("q", "vector")
    assert (idx["index_type"], idx["metric_type"], idx["field_name"]) == ("AUTOINDEX", "COSINE", "vector")
    client.create_collection("s", dimension=3, id_type="string", max_length=12, metric_type="L2", enable_dynamic_field=False)
    desc = client.describe_collection("s")
    assert desc["fields"][0]["type"] == DataType.VARCHAR and desc["fields"][0]["params"] == {"max_length": 12}
    assert desc["enable_dynamic_field"] is False
    with pytest.raises(ParamError, match=r"missing required argument: \[dimension\]"):
        client.create_collection("x")


def test_insert_validates_rows_like_pymilvus(client):
    schema = client.create_schema(enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("opt", DataType.INT8, nullable=True)
    client.create_collection("t", schema=schema)
    with pytest.raises(DataNotMatchException, match="Insert missed an field `v`"):
        client.insert("t", [{"id": 1}])
    with pytest.raises(DataNotMatchException, match="unexpected field `zzz`"):
        client.insert("t", {"id": 1, "v": [0, 1], "zzz": 3})
    with pytest.raises(DataNotMatchException, match="v field should be a float vector"):
        client.insert("t", {"id": 1, "v": "not a vector"})
    with pytest.raises(DataTypeNotMatchException, match="expected 'Dict' or list of 'Dict', got 'str'"):
        client.insert("t", "not rows")
    with pytest.raises(DataTypeNotMatchException, match="got 'int'"):
        client.insert("t", [{"id": 1, "v": [0, 1]}, 7])
    assert client.insert("t", {"id": 1, "v": [0.5, 1]}) == {"insert_count": 1, "ids": [1], "cost": 0}
    assert client.insert("t", [{"id": 2, "v": np.array([2, 3], dtype=np.float64)}, {"id": 3, "v": (4, 5)}])["ids"] == [2, 3]
    assert client.get("t", [1, 2, 3], output_fields=["v"]) == [
        {"id": 1, "v": [0.5, 1.0]},
        {"id": 2, "v": [2.0, 3.0]},
        {"id": 3, "v": [4.0, 5.0]},
    ]
    assert client.insert("t", []) == {"insert_count": 0, "ids": [], "cost": 0}
    with pytest.raises(MilvusException, match="field names must be str, got int") as e:
        client.insert("t", [{"id": 4, "v": [0, 1], 5: 1}])
    assert e.value.code == 6
    for write in (client.insert, client.upsert):
        with pytest.raises(covec.exceptions.DescribeCollectionException) as e:
            write("nope", [{"id": 1}])
        assert e.value.code == 100


def test_upsert_partial_allows_missing_fields(client):
    client.create_collection("t", dimension=2)
    client.insert("t", [{"id": 1, "vector": [0.0, 1.0], "n": 1}])
    with pytest.raises(DataNotMatchException):
        client.upsert("t", [{"id": 1}])
    assert client.upsert("t", [{"id": 1, "n": 2}], partial_update=True) == {"upsert_count": 1, "ids": [1], "cost": 0}
    assert client.get("t", 1) == [{"id": 1, "vector": [0.0, 1.0], "n": 2}]


def test_delete_arguments(client):
    client.create_collection("t", dimension=2)
    client.insert("t", [{"id": i, "vector": [float(i), 1.0]} for i in range(6)])
    with pytest.raises(ParamError) as e:
        client.delete("t", ids=[1], filter="id > 0")
    assert e.value.message == "Ambiguous filter parameter, only one deletion condition can be specified."
    with pytest.raises(DataTypeNotMatchException, match="The type of expr must be string"):
        client.delete("t")
    with pytest.raises(ParamError):
        client.delete("t", filter="  ")
    assert client.delete("t", ids=5) == {"delete_count": 1}
    assert client.delete("t", pks=[4]) == {"delete_count": 1}, "pymilvus's older name for ids"
    with pytest.raises(ParamError, match="Ambiguous"):
        client.delete("t", pks=[3], filter="id > 0")
    assert client.delete("t", filter="id > 2") == {"delete_count": 1}
    assert client.delete("t", filter="id > 0", filter_params={}) == {"delete_count": 2}


def test_search_inputs_convert_like_numpy(client):
    client.create_collection("t", dimension=3, metric_type="L2")
    client.insert("t", [{"id": i, "vector": [float(i), 0.0, 1.0]} for i in range(5)])
    q = [[1.2, 0.0, 1.0], [3.4, 0.0, 1.0]]
    expected = [[h["id"] for h in hits] for hits in client.search("t", np.array(q, np.float32), limit=2)]
    assert expected == [[1, 2], [3, 4]]
    same = [
        q,
        [np.array(v) for v in q],
        np.array(q, np.float64),
        np.array(q, np.float32)[:, [0, 1, 2]],  # not C-contiguous
        tuple(tuple(v) for v in q),
        [[np.float32(x) for x in v] for v in q],
        [[str(x) for x in v] for v in q],  # numpy parses numeric strings; it is the reference
    ]
    for data in same:
        assert [[h["id"] for h in hits] for hits in client.search("t", data, limit=2)] == expected, data
    assert [h["id"] for h in client.search("t", q[0], limit=1)[0]] == [1], "one flat vector is one query"
    assert [h["id"] for h in client.search("t", [[1, 0, 1]], limit=1)[0]] == [1]


@pytest.mark.parametrize(
    "data, error",
    [
        ([], ParamError),
        ([[]], ParamError),
        ([[[1.0, 2.0, 3.0]]], ParamError),
        ([[1.0, 2.0, 3.0], [1.0]], MilvusException),
        ([["a", "b", "c"]], MilvusException),
        (None, ParamError),
        ([[1.0, 2.0]], MilvusException),  # the engine: wrong dimension
    ],
)
def test_bad_search_data_raises_milvus_exception(client, data, error):
    client.create_collection("t", dimension=3)
    with pytest.raises(error):
        client.search("t", data)


def test_search_limit_must_be_positive(client):
    client.create_collection("t", dimension=2)
    for limit in (0, -1, True, 1.5):
        with pytest.raises(ParamError, match="is illegal"):
            client.search("t", [[0.0, 1.0]], limit=limit)


def test_search_params_reach_the_engine(client):
    client.create_collection("t", dimension=2, metric_type="L2")
    client.insert("t", [{"id": i, "vector": [float(i), 0.0]} for i in range(8)])

    def ids(**kwargs):
        return [h["id"] for h in client.search("t", [[0.0, 0.0]], limit=3, **kwargs)[0]]

    assert ids() == [0, 1, 2]
    assert ids(search_params={"offset": 2}) == ids(offset=2) == ids(search_params={"params": {"offset": 2}}) == [2, 3, 4]
    assert ids(search_params={"metric_type": "L2", "params": {"ef": 16}}) == [0, 1, 2]
    assert ids(search_params={"ef": 16}, filter="id > 4") == [5, 6, 7]
    with pytest.raises(MilvusException, match="metric"):
        ids(search_params={"metric_type": "IP"})
    with pytest.raises(ParamError, match="offset both in kwargs and param"):
        ids(search_params={"offset": 1}, offset=1)
    with pytest.raises(ParamError, match="ambiguous parameter: ef"):
        ids(search_params={"ef": 16, "params": {"ef": 32}})
    with pytest.raises(ParamError, match="must be a dict"):
        ids(search_params={"params": [1]})
    with pytest.raises(MilvusException, match="ef must be an integer"):
        ids(search_params={"params": {"ef": 0}})


def test_round_decimal_rounds_distances_as_milvus_and_pymilvus_do(client):
    client.create_collection("t", dimension=2, metric_type="L2")
    client.insert("t", [{"id": i, "vector": [i / 7, 1 / 3]} for i in range(4)])
    exact = [h["distance"] for h in client.search("t", [[0.01, 0.02]], limit=4)[0]]
    assert any(d != round(d, 3) for d in exact)
    for n in (0, 3, 6):
        rounded = [h["distance"] for h in client.search("t", [[0.01, 0.02]], limit=4, round_decimal=n)[0]]
        assert rounded == [round(d, n) for d in exact]
    assert [h["distance"] for h in client.search("t", [[0.01, 0.02]], limit=4, round_decimal=-1)[0]] == exact
    for bad in (7, -2, 1.5):
        with pytest.raises(ParamError, match="round_decimal"):
            client.search("t", [[0.01, 0.02]], round_decimal=bad)


# Each argument that would change the answer is refused by name until covec implements it; the call and the
# message's words.
REFUSED = [
    ("search", dict(group_size=2), "group_size and strict_group_size need group_by_field"),
    ("search", dict(strict_group_size=True), "group_size and strict_group_size need group_by_field"),
    ("search", dict(group_by_fields=["tag"]), "(grouping by several fields)"),
    ("search", dict(radius=0.5), "search() got an unexpected keyword argument 'radius'"),
    ("search", dict(ranker=object()), "The search ranker must be a Function or FunctionScore."),
    ("search", dict(function_chains=[object()]), "function_chains takes pymilvus FunctionChain objects"),
    ("search", dict(highlighter=object()), "(highlighting)"),
    ("search", dict(ids=[1]), "ids (search by primary keys)"),
    ("search", dict(search_aggregation=object()), "(search aggregation)"),
    ("search", dict(order_by_fields=[{"field": "id"}]), "(ordering by fields)"),
    ("search", dict(search_params={"radius": "near"}), "radius must be a number"),
    ("search", dict(search_params={"ignore_growing": True}), "search parameter 'ignore_growing'"),
    ("search", dict(search_params={"params": {"eff": 64}}), "unknown search parameter 'eff'"),
    ("search", dict(metric_type="L2"), "search() got an unexpected keyword argument 'metric_type'"),
    ("query", dict(timezone=8), "query(): timezone must be a string, got int: 8"),
    ("query", dict(group_by_fields=["tag"]), "(grouping by several fields)"),
    ("query", dict(expr="id > 0"), "query() got an unexpected keyword argument 'expr'"),
    ("delete", dict(ids=[1], filter_params={"a": 1}), "delete by ids has no filter"),
    ("create_collection", dict(dimension=2, index_params=IndexParams()), "index_params needs schema="),
    ("create_collection", dict(schema=CollectionSchema(), dimension=2), "dimension is for quick setup"),
    ("create_collection", dict(schema=CollectionSchema(), metric_type="L2"), "metric_type is for quick setup"),
    ("create_collection", dict(dimension=2, colour="red"), "unexpected keyword argument 'colour'"),
    ("describe_collection", dict(extra=1), "describe_collection() got an unexpected keyword argument 'extra'"),
    ("hybrid_search", dict(reqs=[], ranker=None, rank_group_scorer="sum"), "(group scorers)"),
    ("load_partitions", dict(partition_names=["_default"], colour="red"), "load_partitions() got an unexpected keyword"),
]
ARGS = {
    "search": ("t", [[0.0, 1.0]]),
    "query": ("t",),
    "get": ("t", [1]),
    "insert": ("t", [{"id": 9, "vector": [0.0, 1.0]}]),
    "upsert": ("t", [{"id": 9, "vector": [0.0, 1.0]}]),
    "delete": ("t",),
    "create_collection": ("new",),
    "describe_collection": ("t",),
    "hybrid_search": ("t",),
    "load_partitions": ("t",),
}


@pytest.mark.parametrize("method, kwargs, words", REFUSED, ids=[f"{m}-{'-'.join(k)}" for m, k, _ in REFUSED])
def test_parameters_covec_cannot_honour_are_refused_by_name(client, method, kwargs, words):
    client.create_collection("t", dimension=2)
    client.insert("t", [{"id": 1, "vector": [0.0, 1.0], "tag": "a"}])
    if method == "delete" and "filter" not in kwargs:
        kwargs = dict(kwargs, ids=[1])
    with pytest.raises(ParamError) as e:
        getattr(client, method)(*ARGS[method], **kwargs)
    assert words in e.value.message and e.value.code == 1
    assert client.query("t", output_fields=["count(*)"]) == [{"count(*)": 1}], "nothing was written"
    assert client.list_collections() == ["t"]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.insert("t", [{"id": 9, "vector": [0.0, 1.0]}], partition_name="p1"),
        lambda c: c.upsert("t", [{"id": 9, "vector": [0.0, 1.0]}], partition_name="p1"),
        lambda c: c.delete("t", ids=[1], partition_name="p1"),
        lambda c: c.delete("t", ids=[1], milvus_partition_name="p1"),
        lambda c: c.get("t", ids=[1], partition_names="p1"),
        lambda c: c.query("t", filter="id > 0", partition_names=["_default", "p1"]),
        lambda c: c.search("t", data=[[0.0, 1.0]], partition_names=["p1"]),
        lambda c: c.hybrid_search(
            "t", [covec.AnnSearchRequest([[0.0, 1.0]], "vector", {}, 3)], covec.RRFRanker(), partition_names=["p1"]
        ),
        lambda c: c.search_iterator("t", [0.0, 1.0], partition_names=["p1"]),
        lambda c: c.query_iterator("t", partition_names=["p1"]),
        lambda c: c.load_partitions("t", ["p1"]),
        lambda c: c.get_load_state("t", partition_name="p1"),
    ],
)
def test_a_partition_never_created_is_not_found_and_nothing_changes(client, call):
    client.create_collection("t", dimension=2)
    client.insert("t", [{"id": 1, "vector": [0.0, 1.0]}])
    with pytest.raises(MilvusException) as e:
        call(client)
    assert (e.value.code, e.value.message) == (200, "partition not found[partition=p1]")
    assert client.query("t", output_fields=["count(*)"]) == [{"count(*)": 1}]


def test_client_refuses_missing_databases_and_unknown_options(tmp_path, shm_dir):
    with pytest.raises(MilvusException, match="database 'other' does not exist") as e:
        MilvusClient(str(tmp_path / "x.db"), db_name="other")
    assert e.value.code == 6
    with pytest.raises(ParamError, match="unexpected keyword argument 'colour'"):
        MilvusClient(str(tmp_path / "x.db"), colour="red")
    for ok in (dict(db_name="default"), dict(db_name=""), dict(user="u", password="p", token="t", secure=False, timeout=3)):
        MilvusClient(str(tmp_path / "x.db"), **ok).close()


def test_values_that_mean_what_covec_does_are_honoured(client):
    client.create_collection("t", dimension=2)
    client.insert("t", [{"id": i, "vector": [1.0, float(i)]} for i in range(3)])
    q = [[1.0, 0.5]]
    expected = client.search("t", q, limit=3)
    for kwargs in (
        dict(partition_names=None),
        dict(partition_names=[]),
        dict(partition_names=["_default"]),
        dict(partition_names="_default"),
        dict(consistency_level="Strong", timeout=5, guarantee_timestamp=0),
        dict(search_params={"params": {"nprobe": 8, "search_list": 30, "level": 2}, "hints": "iterative_filter"}),
        dict(search_params={"ignore_growing": False, "page_retain_order": True}),
        dict(filter_params={}),
    ):
        assert client.search("t", q, limit=3, **kwargs) == expected, kwargs
    rows = client.query("t", filter="id >= 0")
    assert client.query("t", filter="id >= 0", partition_names=["_default"], consistency_level="Bounded") == rows
    assert client.get("t", [0, 1], partition_names=["_default"]) == client.get("t", [0, 1])
    assert client.insert("t", [{"id": 7, "vector": [0.0, 1.0]}], partition_name="_default")["ids"] == [7]
    # What LangChain passes on to insert() after making a collection: the data the rows hold, and its replicas.
    repeated = dict(embeddings=[[[0.0, 1.0]]], metadatas=[{}], replica_number=1)
    assert client.insert("t", [{"id": 8, "vector": [0.0, 1.0]}], **repeated)["ids"] == [8]
    client.delete("t", ids=[8])
    assert client.upsert("t", [{"id": 7, "vector": [0.0, 1.0]}], partition_name="")["ids"] == [7]
    assert client.delete("t", ids=[7], partition_name="_default", milvus_partition_name="_default") == {"delete_count": 1}
    client.rename_collection("t", "u", target_db="default")
    client.release_collection("u")
    client.load_partitions("u", ["_default"], replica_number=1, timeout=3)
    assert client.get_load_state("u", partition_name="_default")["state"].name == "Loaded"
    client.alter_collection_properties("u", properties={})


def test_query_arguments_and_count(client):
    client.create_collection("t", dimension=2, id_type="string", max_length=8)
    client.insert("t", [{"id": k, "vector": [1.0, 0.0], "x": i} for i, k in enumerate(["a", 'b"', "c"])])
    assert client.query("t", output_fields=["count(*)"]) == [{"count(*)": 3}]
    assert client.query("t", filter="x >= 0", ids=["a", 'b"'], output_fields=["x"], limit=5, offset=1) == [{"id": 'b"', "x": 1}]
    res = client.get("t", "a")
    assert res == [{"id": "a", "vector": [1.0, 0.0], "x": 0}] and res.extra == {}
    assert client.get("t", []) == []


def test_release_blocks_reads_with_code_101(client):
    client.create_collection("t", dimension=2)
    assert client.get_load_state("t") == {"state": pymilvus.client.types.LoadState.Loaded}
    assert str(client.get_load_state("t")["state"]) == str(pymilvus.client.types.LoadState.Loaded) == "Loaded"
    client.release_collection("t")
    assert client.get_load_state("t")["state"].name == "NotLoad"
    for call in (lambda: client.search("t", [[0.0, 1.0]]), lambda: client.query("t"), lambda: client.get("t", [1])):
        with pytest.raises(MilvusException) as e:
            call()
        assert e.value.code == 101
    client.load_collection("t")
    client.query("t")
    assert client.get_load_state("nope")["state"].name == "NotExist"


def test_closed_client_raises():
    c = MilvusClient.__new__(MilvusClient)
    c._db = None
    with pytest.raises(MilvusException, match="closed"):
        c.list_collections()


def test_uri_of_no_milvus_scheme_is_refused():
    # http://, https://, tcp:// and unix: reach a Milvus server through pymilvus (tests/test_remote.py).
    with pytest.raises(ParamError, match="local database files and Milvus servers"):
        MilvusClient("s3://bucket/milvus.db")


def test_quick_setup_round_trip(client):
    client.create_collection("docs", dimension=DIM)
    assert client.list_collections() == ["docs"]
    assert client.has_collection("docs") and not client.has_collection("other")
    desc = client.describe_collection("docs")
    assert desc["collection_name"] == "docs" and desc["enable_dynamic_field"] is True
    assert [(f["name"], f["type"]) for f in desc["fields"]] == [("id", DataType.INT64), ("vector", DataType.FLOAT_VECTOR)]
    assert desc["fields"][1]["params"] == {"dim": DIM}
    assert client.list_indexes("docs") == ["vector"]
    idx = client.describe_index("docs", "vector")
    assert (idx["metric_type"], idx["field_name"], idx["index_name"]) == ("COSINE", "vector", "vector")


def test_search_shapes_hits_like_pymilvus(client):
    client.create_collection("t", dimension=DIM, metric_type="IP")
    axis = np.eye(DIM, dtype=np.float32)
    client.insert("t", [{"id": 3, "vector": axis[0], "color": "red"}, {"id": 1, "vector": axis[1]}])
    query = axis[0] + np.float32(0.5) * axis[1]
    res = client.search("t", [query], limit=2)
    assert len(res) == 1 and len(res[0]) == 2 and res.extra == {} and res.recalls is None
    hit = res[0][0]
    assert dict(hit) == {"id": 3, "distance": 1.0, "entity": {"vector": axis[0].tolist(), "color": "red"}}
    assert hit.id == 3 and hit.distance == 1.0 and (res[0][1].id, res[0][1].distance) == (1, 0.5)
    assert hit.entity.get("color") == "red" and hit.get("color") == "red" and hit["color"] == "red"
    assert hit.get("missing", "d") == "d"
    star = client.search("t", np.stack([query, query]), output_fields=["*"])
    assert len(star) == 2 and list(star[1][0]["entity"])[0] == "id" and star[1][0]["entity"]["id"] == 3
    assert "id" not in client.search("t", [query], output_fields=["color"])[0][0]["entity"]
    assert client.search("t", [query], output_fields=["id"])[0][0]["entity"] == {"id": 3}


def test_hits_answer_to_a_primary_key_of_another_name(client):
    client.create_collection("p", dimension=DIM, primary_field_name="doc", id_type="string", max_length=8)
    client.insert("p", [{"doc": "a", "vector": np.ones(DIM, np.float32)}])
    hit = client.search("p", [np.ones(DIM, np.float32)], limit=1, output_fields=["doc"])[0][0]
    assert (hit.id, hit.pk, hit["doc"], hit.entity["doc"]) == ("a", "a", "a", "a")
    assert set(hit) == {"doc", "distance", "entity"}


def test_insert_search_query_get_with_lists_and_numpy(client):
    client.create_collection("c", dimension=DIM, metric_type="L2")
    vectors = vec(20)
    rows = [{"id": i, "vector": vectors[i] if i % 2 else vectors[i].tolist(), "tag": f"t{i % 3}"} for i in range(20)]
    res = client.insert("c", rows)
    assert res["insert_count"] == 20 and res["ids"] == list(range(20))
    assert client.get_collection_stats("c") == {"row_count": 20}

    hits = client.search("c", [vectors[4].tolist()], limit=3)
    assert hits[0][0]["id"] == 4 and hits[0][0]["distance"] == pytest.approx(0.0, abs=1e-5)
    assert set(hits[0][0]["entity"]) == {"vector", "tag"}
    assert hits[0][0]["entity"]["vector"] == pytest.approx(vectors[4].tolist())
    np_hits = client.search("c", vectors[[4, 5]], limit=2, output_fields=["tag"], filter='tag == "t2"')
    assert [h["id"] for h in np_hits[1]][0] == 5
    assert all(h["entity"]["tag"] == "t2" for hs in np_hits for h in hs)

    assert client.query("c", filter="id < 3", output_fields=["tag"]) == [
        {"id": 0, "tag": "t0"},
        {"id": 1, "tag": "t1"},
        {"id": 2, "tag": "t2"},
    ]
    assert client.query("c", filter='tag == "t0"', output_fields=["count(*)"]) == [{"count(*)": 7}]
    got = client.get("c", [5, 999, 2], output_fields=["tag"])
    assert got == [{"id": 5, "tag": "t2"}, {"id": 2, "tag": "t2"}]


def test_json_and_dynamic_floats_read_back_bit_exact(client):
    # Found by test_hypothesis: without serde_json's float_roundtrip parser this value came back one ulp off.
    values = [1.1579208923731604e77, 0.1, 2.2250738585072014e-308, 5e-324, 1.7976931348623157e308]
    client.create_collection("c", dimension=DIM)
    client.insert("c", [{"id": i, "vector": vec(), "meta": {"x": x}, "x": x} for i, x in enumerate(values)])
    got = client.get("c", list(range(len(values))), output_fields=["meta", "x"])
    assert [(r["meta"]["x"], r["x"]) for r in got] == [(x, x) for x in values]


def test_upsert_and_delete(client):
    client.create_collection("c", dimension=DIM)
    client.insert("c", [{"id": i, "vector": vec(), "n": i} for i in range(5)])
    assert client.upsert("c", [{"id": 1, "vector": vec(), "n": 100}])["upsert_count"] == 1
    assert client.get("c", [1], output_fields=["n"]) == [{"id": 1, "n": 100}]
    assert client.delete("c", ids=[0, 42]) == {"delete_count": 1}
    assert client.delete("c", filter="n >= 100") == {"delete_count": 1}
    assert client.query("c", output_fields=["count(*)"]) == [{"count(*)": 3}]


def test_errors_carry_milvus_codes(client):
    with pytest.raises(MilvusException) as e:
        client.query("nope", filter="id > 0")
    assert e.value.code == 100
    client.create_collection("c", dimension=DIM)
    with pytest.raises(MilvusException) as e:
        client.create_collection("c", dimension=DIM)
    assert e.value.code == 1
    with pytest.raises(MilvusException) as e:
        client.query("c", filter="id = 1")
    assert e.value.code == 6
    with pytest.raises(MilvusException) as e:
        client.insert("c", [{"id": 1, "vector": [1.0, 2.0]}])
    assert e.value.code == 6
    with pytest.raises(MilvusException) as e:
        client.drop_index("c", "no_such_index")
    assert e.value.code == 700


def test_rename_drop_and_indexes(client):
    client.create_collection("a", dimension=DIM)
    client.rename_collection("a", "b")
    assert client.list_collections() == ["b"]
    client.drop_index("b", "vector")
    assert client.list_indexes("b") == []
    params = client.prepare_index_params()
    params.add_index("vector", index_type="HNSW", index_name="hv", metric_type="IP", M=8)
    client.create_index("b", params)
    assert client.describe_index("b", "hv")["metric_type"] == "IP"
    client.drop_collection("b")
    client.drop_collection("b")  # dropping a missing collection is not an error
    assert client.list_collections() == []


@pytest.mark.parametrize(
    "row",
    [
        {"id": 2**70, "vector": [0.0] * DIM},
        {"id": 1, "vector": object()},
        {"id": 1, "vector": [0.0] * DIM, "j": {1: 2}},
        {"id": 1, "vector": [0.0] * DIM, "j": {"x": float("nan")}},
        {"id": "x", "vector": [0.0] * DIM},
    ],
)
def test_bad_rows_raise_and_never_crash(client, row):
    client.create_collection("c", dimension=DIM)
    with pytest.raises(MilvusException):
        client.insert("c", [row])
    assert client.query("c", output_fields=["count(*)"]) == [{"count(*)": 0}]


def test_clients_in_one_process_share_the_database(make_client):
    a = make_client()
    b = make_client()
    assert a._db is b._db
    a.create_collection("c", dimension=DIM)
    assert b.has_collection("c")


def test_a_rust_panic_is_a_milvus_exception_not_an_abort():
    code = (
        "import covec, covec._covec as n\n"
        "try:\n"
        "    n._panic_inside_guard()\n"
        "except covec.MilvusException as e:\n"
        "    print(e.code, 'internal error' in e.message)\n"
        "print('still running')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["1 True", "still running"]


def test_cli_refuses_missing_inputs(tmp_path):
    from covec import cli

    with pytest.raises(SystemExit, match="no such covec db"):
        cli.main(["status", str(tmp_path / "missing.db")])
    with pytest.raises(SystemExit, match="no such Milvus Lite db"):
        cli.main(["import", str(tmp_path / "missing.db"), str(tmp_path / "out.db")])
    assert cli.main(["verify", str(tmp_path / "missing.db")]) == 1


def test_cli_verify_accepts_a_sound_db_and_names_a_damaged_one(tmp_path, shm_dir, capsys):
    from covec import cli

    path = tmp_path / "v.db"
    c = covec.MilvusClient(str(path))
    c.create_collection("c", dimension=DIM)
    c.insert("c", [{"id": i, "vector": [float(i)] * DIM} for i in range(50)])
    c.close()
    assert cli.main(["verify", str(path)]) == 0
    assert "every checksum verified" in capsys.readouterr().out
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # inside the last catalog or section
    path.write_bytes(bytes(data))
    assert cli.main(["verify", str(path)]) == 1
    assert "damaged" in capsys.readouterr().err


def test_type_stub_describes_the_native_surface():
    import ast
    import inspect
    import pathlib

    tree = ast.parse((pathlib.Path(covec.__file__).parent / "_covec.pyi").read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    (stub_class,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Database"]
    stub_methods = {n.name for n in stub_class.body if isinstance(n, ast.FunctionDef)}
    native = covec._covec
    assert functions == {n for n, v in vars(native).items() if callable(v) and not inspect.isclass(v)}
    assert stub_methods - {"__init__"} == {n for n in vars(native.Database) if not n.startswith("__")}


def test_filter_templates_fill_placeholders_in_every_read_and_delete(client):
    client.create_collection("t", dimension=2, metric_type="L2")
    client.insert("t", [{"id": i, "vector": [float(i), 0.0], "city": ["a", "b", "c"][i % 3]} for i in range(9)])
    params = {"low": 2, "cities": ["a", "c"]}
    template = "id > {low} and city in {cities}"
    literal = 'id > 2 and city in ["a", "c"]'
    assert client.query("t", filter=template, filter_params=params) == client.query("t", filter=literal)
    assert client.query("t", filter=template, filter_params=params, output_fields=["count(*)"]) == [{"count(*)": 4}]
    q = [[4.2, 0.0]]
    assert client.search("t", q, filter=template, filter_params=params, limit=3) == client.search("t", q, filter=literal, limit=3)
    it = client.query_iterator("t", batch_size=2, filter=template, filter_params=params)
    pages = [it.next(), it.next(), it.next()]
    assert [r["id"] for page in pages for r in page] == [3, 5, 6, 8]
    it = client.search_iterator("t", q, batch_size=10, filter=template, filter_params=params)
    assert [h["id"] for h in it.next()] == [h["id"] for h in client.search("t", q, filter=literal, limit=10)[0]]
    assert client.delete("t", filter="id == {x}", filter_params={"x": 8}) == {"delete_count": 1}
    with pytest.raises(MilvusException, match=r"placeholder \{cities\} has no value") as e:
        client.query("t", filter=template, filter_params={"low": 1})
    assert e.value.code == 6
    with pytest.raises(MilvusException, match="must be a number, a string, a bool or a list"):
        client.search("t", q, filter="id in {a}", filter_params={"a": {"b": 1}})
    with pytest.raises(ParamError, match="filter_params must be a dict"):
        client.query("t", filter=template, filter_params=[1])
