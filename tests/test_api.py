"""covec.MilvusClient: every method, result shapes, errors with codes, numpy and list inputs.

The first half runs without the engine (validation, schema translation, result shaping over a fake
native Database); the second half runs the real engine end to end.
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
from covec import _schema
from covec.exceptions import DataNotMatchException, DataTypeNotMatchException, ParamError, PrimaryKeyException

DIM = 8
rng = np.random.default_rng(7)


def vec(n=None):
    return rng.random(DIM if n is None else (n, DIM), dtype=np.float32)


# ---------------------------------------------------------------------------------------------------
# Without the engine


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


def test_schema_translates_to_engine_json():
    schema = MilvusClient.create_schema(enable_dynamic_field=True, auto_id=True)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("name", DataType.VARCHAR, max_length=16, nullable=True, default_value="x")
    schema.add_field("j", DataType.JSON)
    native = _schema.schema_to_native(schema)
    assert native["enable_dynamic_field"] is True
    pk, v, name, j = native["fields"]
    assert (pk["dtype"], pk["is_primary"], pk["auto_id"]) == ("Int64", True, True)
    assert (v["dtype"], v["dim"], v["max_length"]) == ("FloatVector", 4, None)
    assert (name["max_length"], name["nullable"], name["default_value"]) == (16, True, {"Str": "x"})
    assert j["dtype"] == "Json"


def test_pymilvus_schema_objects_are_accepted():
    schema = pymilvus.MilvusClient.create_schema(enable_dynamic_field=False)
    schema.add_field("id", pymilvus.DataType.VARCHAR, is_primary=True, max_length=32)
    schema.add_field("v", pymilvus.DataType.FLOAT_VECTOR, dim=3)
    schema.add_field("n", pymilvus.DataType.INT32, default_value=5)
    native = _schema.schema_to_native(schema)
    assert [f["dtype"] for f in native["fields"]] == ["VarChar", "FloatVector", "Int32"]
    assert native["fields"][0]["max_length"] == 32
    assert native["fields"][2]["default_value"] == {"Int": 5}
    params = pymilvus.MilvusClient.prepare_index_params()
    params.add_index("v", index_type="HNSW", metric_type="L2", M=8)
    spec = _schema.index_to_native(params[0], native)
    assert spec["metric"] == "L2" and spec["index_type"] == "HNSW" and spec["index_name"] == "v"
    assert dict(spec["params"]) == {"M": "8"}


@pytest.mark.parametrize("dtype", [DataType.FLOAT16_VECTOR, DataType.SPARSE_FLOAT_VECTOR, DataType.ARRAY])
def test_unsupported_types_raise_code_6_naming_the_supported_ones(dtype):
    schema = CollectionSchema().add_field("id", DataType.INT64, is_primary=True).add_field("f", dtype, dim=4)
    with pytest.raises(MilvusException) as e:
        _schema.schema_to_native(schema)
    assert e.value.code == 6
    assert dtype.name in e.value.message and "FLOAT_VECTOR" in e.value.message


def test_primary_key_type_is_checked_client_side():
    schema = CollectionSchema().add_field("id", DataType.INT32, is_primary=True)
    with pytest.raises(PrimaryKeyException, match="Primary key type must be DataType.INT64 or DataType.VARCHAR"):
        _schema.schema_to_native(schema)


def test_index_params_validation():
    native = _schema.schema_to_native(
        CollectionSchema().add_field("id", DataType.INT64, is_primary=True).add_field("v", DataType.FLOAT_VECTOR, dim=2)
    )
    params = IndexParams()
    params.add_index("v", "HNSW")
    with pytest.raises(MilvusException) as e:
        _schema.index_to_native(params[0], native)
    assert (e.value.code, e.value.message) == (6, "create_index missing required 'metric_type' parameter")
    params = IndexParams()
    params.add_index("v", "FOO", metric_type="L2")
    with pytest.raises(MilvusException, match="unknown index_type"):
        _schema.index_to_native(params[0], native)
    params = IndexParams()
    params.add_index("v", metric_type="HAMMING")
    with pytest.raises(MilvusException, match="COSINE/L2/IP"):
        _schema.index_to_native(params[0], native)
    params = IndexParams()
    params.add_index("id", "INVERTED")
    assert _schema.index_to_native(params[0], native) is None
    params = IndexParams()
    params.add_index("nope", metric_type="L2")
    with pytest.raises(MilvusException, match="non-existent field 'nope'"):
        _schema.index_to_native(params[0], native)


def test_quick_setup_sends_pymilvus_default_schema_and_index(fake):
    c, db = fake
    c.create_collection("q", dimension=DIM)
    _, name, schema, indexes = db.calls[-1]
    assert [(f["name"], f["dtype"], f["is_primary"], f["auto_id"]) for f in schema["fields"]] == [
        ("id", "Int64", True, False),
        ("vector", "FloatVector", False, False),
    ]
    assert schema["enable_dynamic_field"] is True
    assert indexes == [
        {"field": "vector", "index_name": "vector", "index_type": "AUTOINDEX", "kind": "Flat", "metric": "Cosine", "params": []}
    ]
    c.create_collection("s", dimension=3, id_type="string", max_length=12, metric_type="L2", auto_id=False)
    schema = db.calls[-1][2]
    assert schema["fields"][0]["dtype"] == "VarChar" and schema["fields"][0]["max_length"] == 12
    with pytest.raises(ParamError, match=r"missing required argument: \[dimension\]"):
        c.create_collection("x")


def test_insert_validates_rows_like_pymilvus(fake):
    c, db = fake
    schema = c.create_schema(enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("opt", DataType.INT8, nullable=True)
    c.create_collection("t", schema=schema)
    with pytest.raises(DataNotMatchException, match="Insert missed an field `v`"):
        c.insert("t", [{"id": 1}])
    with pytest.raises(DataNotMatchException, match="unexpected field `zzz`"):
        c.insert("t", {"id": 1, "v": [0, 1], "zzz": 3})
    with pytest.raises(DataTypeNotMatchException):
        c.insert("t", "not rows")
    res = c.insert("t", {"id": 1, "v": [0.5, 1]})
    assert res == {"insert_count": 1, "ids": [1], "cost": 0}
    sent = db.calls[-1][2][0]["v"]
    assert isinstance(sent, np.ndarray) and sent.dtype == np.float32
    assert c.insert("t", []) == {"insert_count": 0, "ids": [], "cost": 0}
    with pytest.raises(covec.exceptions.DescribeCollectionException) as e:
        c.insert("nope", [{"id": 1}])
    assert e.value.code == 100


def test_upsert_partial_allows_missing_fields(fake):
    c, db = fake
    c.create_collection("t", dimension=2)
    with pytest.raises(DataNotMatchException):
        c.upsert("t", [{"id": 1}])
    assert c.upsert("t", [{"id": 1}], partial_update=True) == {"upsert_count": 1, "ids": [1], "cost": 0}
    assert db.calls[-1][3] is True


def test_delete_arguments(fake):
    c, db = fake
    c.create_collection("t", dimension=2)
    with pytest.raises(ParamError) as e:
        c.delete("t", ids=[1], filter="id > 0")
    assert e.value.message == "Ambiguous filter parameter, only one deletion condition can be specified."
    with pytest.raises(DataTypeNotMatchException, match="The type of expr must be string"):
        c.delete("t")
    with pytest.raises(ParamError):
        c.delete("t", filter="  ")
    assert c.delete("t", ids=5) == {"delete_count": 1}
    assert db.calls[-1] == ("delete_ids", "t", [5])
    assert c.delete("t", filter="id > 0") == {"delete_count": 0}


def test_search_asks_for_the_primary_key_only_when_named(fake):
    c, db = fake
    c.create_collection("t", dimension=DIM)
    res = c.search("t", [list(vec())], limit=2)
    assert res == [[]] and res.extra == {}
    assert db.calls[-1][7:] == ([], True, None, None, "id", False), "default fields: all, the pk not in the entity"
    c.search("t", vec(2), output_fields=["*"])
    assert db.calls[-1][-2:] == ("id", True)
    c.search("t", vec(), output_fields=["color"])
    assert db.calls[-1][7:9] == (["color"], False) and db.calls[-1][-1] is False


def test_search_arguments_reach_the_engine(fake):
    c, db = fake
    c.create_collection("t", dimension=DIM)
    c.search(
        "t",
        np.arange(2 * DIM, dtype=np.float64).reshape(2, DIM),
        filter="id > 1",
        limit=4,
        search_params={"metric_type": "COSINE", "params": {"ef": 32}, "offset": 2},
        anns_field="vector",
    )
    _, name, anns, vectors, limit, offset, flt, names, all_fields, metric, params, _, _ = db.calls[-1]
    assert vectors.dtype == np.float32 and vectors.flags["C_CONTIGUOUS"] and vectors.shape == (2, DIM)
    assert (anns, limit, offset, flt, metric, params) == ("vector", 4, 2, "id > 1", "COSINE", {"ef": 32})
    assert (names, all_fields) == ([], True)


def test_float_rows_converts_like_numpy_or_declines():
    rows = [[0.1, -2, True, 1e300, 3.4028235e38, float("nan")], [1, 2, 3, 4, 5, 6]]
    ours = covec._covec.float_rows(rows)
    with np.errstate(over="ignore"):  # 1e300 is inf in float32 either way
        theirs = np.ascontiguousarray(rows, dtype=np.float32)
    assert ours.dtype == np.float32 and ours.flags["C_CONTIGUOUS"] and ours.shape == (2, 6)
    assert np.array_equal(ours, theirs, equal_nan=True)
    assert np.array_equal(covec._covec.float_rows([[]]), np.zeros((1, 0), np.float32))
    # Anything but equal-length lists of numbers is numpy's to convert (or to explain).
    for declined in ([[1.0], [1.0, 2.0]], [["1.5"]], [(1.0,)], [[1.0], np.ones(1)], [[[1.0]]], [[2**1100]]):
        assert covec._covec.float_rows(declined) is None, declined


@pytest.mark.parametrize("data", [[], [[1.0, 2.0], [1.0]], [["a", "b"]], None])
def test_bad_search_data_raises_milvus_exception(fake, data):
    c, _ = fake
    c.create_collection("t", dimension=2)
    with pytest.raises(MilvusException):
        c.search("t", data)


def test_search_limit_must_be_positive(fake):
    c, _ = fake
    c.create_collection("t", dimension=2)
    with pytest.raises(ParamError):
        c.search("t", [[0.0, 1.0]], limit=0)


def test_query_arguments_and_count(fake):
    c, db = fake
    c.create_collection("t", dimension=2, id_type="string")
    assert c.query("t", output_fields=["count(*)"]) == [{"count(*)": 7}]
    c.query("t", filter="x > 1", ids=["a", 'b"'], output_fields=["x"], limit=5, offset=1)
    _, _, flt, names, all_fields, limit, offset = db.calls[-1]
    assert flt == '(x > 1) and id in ["a", "b\\""]'
    assert (names, all_fields, limit, offset) == (["id", "x"], False, 5, 1)
    res = c.get("t", "a")
    assert res == [{"id": "a"}] and res.extra == {}
    assert c.get("t", []) == []
    with pytest.raises(ParamError, match="filter_params"):
        c.query("t", filter="x > {a}", filter_params={"a": 1})


def test_release_blocks_reads_with_code_101(fake):
    c, _ = fake
    c.create_collection("t", dimension=2)
    assert c.get_load_state("t") == {"state": pymilvus.client.types.LoadState.Loaded}
    c.release_collection("t")
    assert c.get_load_state("t")["state"].name == "NotLoad"
    for call in (lambda: c.search("t", [[0.0, 1.0]]), lambda: c.query("t"), lambda: c.get("t", [1])):
        with pytest.raises(MilvusException) as e:
            call()
        assert e.value.code == 101
    c.load_collection("t")
    c.query("t")
    assert c.get_load_state("nope")["state"].name == "NotExist"


def test_closed_client_raises():
    c = MilvusClient.__new__(MilvusClient)
    c._db = None
    with pytest.raises(MilvusException, match="closed"):
        c.list_collections()


def test_uri_of_no_milvus_scheme_is_refused():
    # http://, https://, tcp:// and unix: reach a Milvus server through pymilvus (tests/test_remote.py).
    with pytest.raises(ParamError, match="local database files and Milvus servers"):
        MilvusClient("s3://bucket/milvus.db")


# ---------------------------------------------------------------------------------------------------
# With the engine


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
    with pytest.raises(SystemExit, match="not a Milvus Lite database directory"):
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


def test_cli_reads_lite_schema_and_indexes():
    from covec import cli

    desc = {
        "description": "",
        "enable_dynamic_field": True,
        "fields": [
            {"name": "pk", "type": DataType.VARCHAR, "params": {"max_length": 10}, "is_primary": True, "auto_id": False},
            {"name": "v", "type": DataType.FLOAT_VECTOR, "params": {"dim": 4}},
            {"name": "n", "type": DataType.INT16, "params": {}, "nullable": True, "default_value": 3},
        ],
    }
    native = _schema.schema_to_native(cli._schema_from_describe(desc))
    assert [(f["name"], f["dtype"]) for f in native["fields"]] == [("pk", "VarChar"), ("v", "FloatVector"), ("n", "Int16")]
    assert native["fields"][0]["max_length"] == 10 and native["fields"][2]["default_value"] == {"Int": 3}
    assert native["enable_dynamic_field"] is True


def test_type_stub_parses():
    import ast
    import pathlib

    ast.parse((pathlib.Path(covec.__file__).parent / "_covec.pyi").read_text())
