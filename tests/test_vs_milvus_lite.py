"""The same calls against covec and Milvus Lite, on the same seeded rows; results must agree.

Lite's FLAT index is exact, so ids and distances are comparable. Intended differences are listed in
docs/compatibility.md and are not asserted here (delete's return shape, for one).
"""

import math

import numpy as np
import pymilvus
import pytest

import covec

DIM = 16
N = 300
METRICS = ["L2", "IP", "COSINE"]


def make_rows(seed=3, n=N, start=0):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    rows = []
    for j in range(n):
        i = start + j
        row = {
            "id": i,
            "v": vectors[j].tolist(),
            "age": int(rng.integers(18, 61)),
            "score": float(np.round(rng.random() * 2, 3)),
            "fl": float(np.float32(rng.random())),
            "name": f"n{i}",
            "flag": bool(i % 3 == 0),
            "meta": None
            if i % 5 == 0
            else {"k": i % 3, "s": ("x" if i % 2 else "y") + str(i), "arr": [i % 4, (i + 1) % 4], **({"sub": {"z": i % 7}} if i % 2 == 0 else {})},
        }
        if i % 3:
            row["color"] = "red" if i % 2 else "blue"
        rows.append(row)
    return rows


def build_schema(mod):
    schema = mod.MilvusClient.create_schema(enable_dynamic_field=True)
    schema.add_field("id", mod.DataType.INT64, is_primary=True)
    schema.add_field("v", mod.DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("age", mod.DataType.INT32)
    schema.add_field("score", mod.DataType.DOUBLE)
    schema.add_field("fl", mod.DataType.FLOAT)
    schema.add_field("name", mod.DataType.VARCHAR, max_length=64)
    schema.add_field("flag", mod.DataType.BOOL)
    schema.add_field("meta", mod.DataType.JSON, nullable=True)
    return schema


def create(client, mod, name, metric, rows):
    params = client.prepare_index_params()
    params.add_index("v", index_type="FLAT", metric_type=metric)
    client.create_collection(name, schema=build_schema(mod), index_params=params)
    client.insert(name, rows)
    client.load_collection(name)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("vs_lite")
    (d / "shm").mkdir()
    return d


@pytest.fixture(scope="module")
def pair(workdir):
    """(covec client, Milvus Lite client) holding collections c_l2, c_ip, c_cosine with the same rows."""
    ours = covec.MilvusClient(str(workdir / "covec.db"), shm_dir=str(workdir / "shm"))
    lite_path = str(workdir / "lite.db")
    lite = pymilvus.MilvusClient(lite_path)
    rows = make_rows()
    for metric in METRICS:
        for client, mod in ((ours, covec), (lite, pymilvus)):
            create(client, mod, f"c_{metric.lower()}", metric, rows)
    lite.flush("c_l2")
    yield ours, lite
    ours.close()
    lite.close()
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(lite_path)


@pytest.fixture
def fresh(pair, request):
    """A per-test collection in both dbs for tests that write; dropped afterwards."""
    ours, lite = pair
    name = "w_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:40]
    for client, mod in ((ours, covec), (lite, pymilvus)):
        create(client, mod, name, "L2", make_rows(seed=11, n=60))
    yield ours, lite, name
    ours.drop_collection(name)
    lite.drop_collection(name)


def normalise(value):
    """Rows compared across engines: floats to 6 significant digits (FLOAT is float32 in both)."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else value
    return value


def assert_same_rows(a, b):
    assert [normalise(dict(r)) for r in a] == [normalise(dict(r)) for r in b]


def by_id(rows):
    return sorted(rows, key=lambda r: r["id"])


FILTERS = [
    "id == 1",
    "id != 1",
    "age >= 30 and age <= 40",
    "age < 30 or age > 45",
    "not (age > 25)",
    "!(age > 25)",
    "age > 25 && flag == true",
    "id in [1, 3, 250]",
    "id not in [1, 3]",
    'name in ["n1", "n2", "zz"]',
    'name like "n1%"',
    'name like "%7"',
    'name like "n_5"',
    "flag",
    "score > 0.5",
    "fl < 0.25",
    "age + 5 > 40",
    "age * 2 == 80",
    "age / 2 == 10",
    "age - 1 == 19",
    "-age < -30",
    "age > score",
    'meta["k"] == 1',
    'meta["k"] > 0',
    'meta["sub"]["z"] == 5',
    'meta["arr"][0] == 1',
    'meta["k"] is null',
    "meta is null",
    "meta is not null",
    'exists meta["sub"]',
    'meta["s"] like "x%"',
    'meta["k"] == "1"',
    'json_contains(meta["arr"], 3)',
    'json_contains_all(meta["arr"], [1, 2])',
    'json_contains_any(meta["arr"], [2, 3])',
    'color == "red"',
    '$meta["color"] == "red"',
    "exists color",
    "color is null",
    "unknown_field == 1",
    "id in []",
    "NOT id == 1",
    'name != "n1" and not flag',
    "id == 1.0",
    "",
]


@pytest.mark.parametrize("flt", FILTERS)
def test_query_filters_agree(pair, flt):
    ours, lite = pair
    fields = ["age", "score", "fl", "name", "flag", "meta", "color"]
    a = ours.query("c_l2", filter=flt, output_fields=fields)
    b = lite.query("c_l2", filter=flt, output_fields=fields)
    assert_same_rows(by_id(a), by_id(b))


@pytest.mark.parametrize("flt", ["", "age > 30", 'color == "red"', "meta is null"])
def test_count_agrees(pair, flt):
    ours, lite = pair
    assert ours.query("c_ip", filter=flt, output_fields=["count(*)"]) == lite.query(
        "c_ip", filter=flt, output_fields=["count(*)"]
    )


def test_query_limit_offset_and_default_fields_agree(pair):
    ours, lite = pair
    a = ours.query("c_l2", filter="age > 30", limit=7, offset=3)
    b = lite.query("c_l2", filter="age > 30", limit=7, offset=3)
    assert_same_rows(a, b)
    assert set(a[0]) == {"id", "v", "age", "score", "fl", "name", "flag", "meta"} | ({"color"} & set(b[0]))


def test_get_agrees(pair):
    ours, lite = pair
    ids = [5, 999, 0, 17]
    assert_same_rows(ours.get("c_cosine", ids), lite.get("c_cosine", ids))
    assert_same_rows(
        ours.get("c_cosine", ids, output_fields=["name", "color"]),
        lite.get("c_cosine", ids, output_fields=["name", "color"]),
    )


def compare_search(a, b, metric):
    assert len(a) == len(b)
    for ha, hb in zip(a, b):
        assert [h["id"] for h in ha] == [h["id"] for h in hb]
        np.testing.assert_allclose([h["distance"] for h in ha], [h["distance"] for h in hb], rtol=1e-4, atol=1e-5)
        for x, y in zip(ha, hb):
            assert normalise(x["entity"]) == normalise(y["entity"])


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("flt", ["", "age > 30", 'color == "red" and meta["k"] != 2'])
def test_search_agrees(pair, metric, flt):
    ours, lite = pair
    queries = np.random.default_rng(99).standard_normal((4, DIM)).astype(np.float32)
    name = f"c_{metric.lower()}"
    kwargs = dict(filter=flt, limit=10, output_fields=["age", "name", "color"])
    compare_search(ours.search(name, queries, **kwargs), lite.search(name, queries.tolist(), **kwargs), metric)


def test_search_offset_star_and_default_fields_agree(pair):
    ours, lite = pair
    q = np.random.default_rng(5).standard_normal((2, DIM)).astype(np.float32).tolist()
    compare_search(
        ours.search("c_l2", q, limit=5, search_params={"offset": 3}),
        lite.search("c_l2", q, limit=5, search_params={"offset": 3}),
        "L2",
    )
    compare_search(
        ours.search("c_ip", q, limit=3, output_fields=["*"]),
        lite.search("c_ip", q, limit=3, output_fields=["*"]),
        "IP",
    )


def test_upsert_agrees(fresh):
    ours, lite, name = fresh
    changed = make_rows(seed=12, n=10, start=55)  # 5 existing ids, 5 new
    assert ours.upsert(name, changed)["upsert_count"] == lite.upsert(name, changed)["upsert_count"] == 10
    assert_same_rows(by_id(ours.query(name)), by_id(lite.query(name)))


def test_delete_agrees(fresh):
    ours, lite, name = fresh
    ours.delete(name, ids=[1, 2, 1000])
    lite.delete(name, ids=[1, 2, 1000])
    ours.delete(name, filter="age > 50")
    lite.delete(name, filter="age > 50")
    assert_same_rows(by_id(ours.query(name)), by_id(lite.query(name)))
    assert ours.query(name, output_fields=["count(*)"]) == lite.query(name, output_fields=["count(*)"])


def test_cli_import_copies_every_collection(pair, workdir, capsys):
    from covec import cli

    ours, lite = pair
    target = str(workdir / "imported.db")
    assert cli.main(["import", str(workdir / "lite.db"), target]) == 0
    assert "c_l2: 300 rows" in capsys.readouterr().out
    imported = covec.MilvusClient(target, shm_dir=str(workdir / "shm"))
    try:
        assert sorted(imported.list_collections()) == sorted(lite.list_collections())
        assert imported.describe_index("c_ip", "v")["metric_type"] == "IP"
        assert_same_rows(by_id(imported.query("c_cosine")), by_id(lite.query("c_cosine")))
    finally:
        imported.close()


def test_describe_collection_agrees(pair):
    ours, lite = pair
    a, b = ours.describe_collection("c_l2"), lite.describe_collection("c_l2")
    # field_id and default_value's form are intended differences (docs/compatibility.md).
    keys = ("name", "type", "params", "is_primary", "auto_id", "nullable")
    assert [{k: f.get(k) for k in keys} for f in a["fields"]] == [{k: f.get(k) for k in keys} for f in b["fields"]]
    for key in ("collection_name", "auto_id", "enable_dynamic_field", "num_shards", "functions", "aliases"):
        assert a[key] == b[key], key


def test_pymilvus_schema_and_index_objects_build_the_same_collection(pair):
    ours, lite = pair
    params = pymilvus.MilvusClient.prepare_index_params()
    params.add_index("v", index_type="FLAT", metric_type="IP")
    ours.create_collection("pm", schema=build_schema(pymilvus), index_params=params)
    try:
        ours.insert("pm", make_rows())
        q = np.random.default_rng(8).standard_normal((3, DIM)).astype(np.float32).tolist()
        kwargs = dict(limit=5, output_fields=["age", "meta"])
        compare_search(ours.search("pm", q, **kwargs), lite.search("c_ip", q, **kwargs), "IP")
    finally:
        ours.drop_collection("pm")


@pytest.mark.parametrize("decimals", [0, 2, 4])
def test_round_decimal_agrees(pair, decimals):
    ours, lite = pair
    q = np.random.default_rng(6).standard_normal((3, DIM)).astype(np.float32).tolist()
    a = ours.search("c_l2", q, limit=8, round_decimal=decimals)
    b = lite.search("c_l2", q, limit=8, round_decimal=decimals)
    assert [[h["id"] for h in hits] for hits in a] == [[h["id"] for h in hits] for hits in b]
    assert [[h["distance"] for h in hits] for hits in a] == [[h["distance"] for h in hits] for hits in b]


def test_arguments_that_mean_the_default_agree(pair):
    ours, lite = pair
    q = np.random.default_rng(7).standard_normal((2, DIM)).astype(np.float32).tolist()
    kwargs = dict(
        limit=5,
        output_fields=["name"],
        partition_names=["_default"],
        consistency_level="Strong",
        search_params={"metric_type": "COSINE", "params": {"nprobe": 10}},
    )
    compare_search(ours.search("c_cosine", q, **kwargs), lite.search("c_cosine", q, **kwargs), "COSINE")
    rows = dict(filter="age > 50", output_fields=["name"], partition_names=["_default"])
    assert_same_rows(by_id(ours.query("c_cosine", **rows)), by_id(lite.query("c_cosine", **rows)))
