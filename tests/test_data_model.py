"""Databases, aliases, partitions, partition keys and collection administration through the client:
differential against Milvus Lite where both answer alike, covec's own answers where it follows the Milvus
server instead (docs/compatibility.md), and other processes seeing each change at their next call."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pymilvus
import pytest

import covec
from covec import DataType, MilvusClient, MilvusException

DIM = 4


def rows(ids, tag="t"):
    rng = np.random.default_rng(len(ids))
    return [{"id": i, "vector": rng.standard_normal(DIM).astype(np.float32).tolist(), "tag": f"{tag}{i % 3}"} for i in ids]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A covec client and a Milvus Lite client on fresh dbs."""
    d = tmp_path_factory.mktemp("data_model")
    (d / "shm").mkdir()
    ours = covec.MilvusClient(str(d / "covec.db"), shm_dir=str(d / "shm"))
    lite = pymilvus.MilvusClient(str(d / "lite.db"))
    yield ours, lite
    ours.close()
    lite.close()


def plain(x):
    """A result as plain lists, tuples and dicts (pymilvus's result classes are subclasses of them)."""
    if isinstance(x, (list, tuple)):
        return type(x)(plain(i) for i in x) if isinstance(x, tuple) else [plain(i) for i in x]
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    return x


def both(pair, call):
    """`call(client)` on each client; the two results (or exception codes)."""
    out = []
    for client in pair:
        try:
            out.append(plain(call(client)))
        except pymilvus.exceptions.MilvusException as e:
            out.append(("error", e.code))
    return out


def same(pair, call):
    ours, lite = both(pair, call)
    assert ours == lite, (ours, lite)
    return ours


def by_id(result):
    return sorted(result, key=lambda r: r["id"])


def pages(iterator):
    """Every row an iterator gives, page by page, in order."""
    out = []
    while page := iterator.next():
        out.extend(page)
    iterator.close()
    return out


def test_databases_agree_with_milvus_lite(pair):
    same(pair, lambda c: c.create_database("dm_db", properties={"k": "v", "n": 1}))
    same(pair, lambda c: sorted(c.list_databases()))
    same(pair, lambda c: c.describe_database("dm_db"))
    same(pair, lambda c: c.alter_database_properties("dm_db", {"k": "w", "x": "y"}))
    same(pair, lambda c: c.drop_database_properties("dm_db", ["x", "missing"]))
    same(pair, lambda c: c.describe_database("dm_db"))
    # The same collection name in two databases holds two collections.
    for client in pair:
        client.create_collection("dm_same", dimension=DIM)
        client.insert("dm_same", rows([1]))
        client.use_database("dm_db")
        client.create_collection("dm_same", dimension=DIM)
        client.insert("dm_same", rows([2, 3]))
    same(pair, lambda c: by_id(c.query("dm_same", "id >= 0", output_fields=["id"])))
    same(pair, lambda c: c.list_collections())
    same(pair, lambda c: c.get_collection_stats("dm_same"))
    # Errors carry Milvus Lite's codes: a database that is not empty, one that does not exist.
    same(pair, lambda c: c.drop_database("dm_db"))
    same(pair, lambda c: c.describe_database("dm_nodb"))
    same(pair, lambda c: c.use_database("dm_nodb"))
    for client in pair:
        client.drop_collection("dm_same")
        client.use_database("default")
    same(pair, lambda c: by_id(c.query("dm_same", "id >= 0", output_fields=["id"])))
    same(pair, lambda c: c.drop_database("dm_db"))
    same(pair, lambda c: sorted(c.list_databases()))
    for client in pair:
        client.drop_collection("dm_same")


def test_database_names_and_messages_follow_milvus(client):
    with pytest.raises(MilvusException) as e:
        client.drop_database("dm_nodb")
    assert (e.value.code, e.value.message) == (6, "database 'dm_nodb' does not exist")
    with pytest.raises(MilvusException) as e:
        client.create_database("1bad")  # Milvus Lite accepts it; the server does not
    assert e.value.code == 802 and "first character" in e.value.message
    with pytest.raises(MilvusException):
        client.drop_database("default")
    client.create_database("dm_a")
    other = MilvusClient(client._path, db_name="dm_a")
    other.create_collection("c", dimension=DIM)
    assert other.list_collections() == ["c"] and client.list_collections() == []
    # db_name= on a call works in that database without switching the client.
    assert client.list_collections(db_name="dm_a") == ["c"]
    client.insert("c", rows([7]), db_name="dm_a")
    assert other.query("c", "id == 7", output_fields=["id"]) == [{"id": 7}]
    with pytest.raises(MilvusException) as e:
        client.drop_database("dm_a")
    assert (e.value.code, e.value.message) == (6, "database 'dm_a' is not empty")


def test_aliases_agree_with_milvus_lite(pair):
    for client in pair:
        for name in ("dm_al_a", "dm_al_b"):
            client.create_collection(name, dimension=DIM)
        client.insert("dm_al_a", rows([1]))
        client.insert("dm_al_b", rows([2]))
    same(pair, lambda c: c.create_alias("dm_al_a", "dm_cur"))
    same(pair, lambda c: c.describe_alias("dm_cur")["collection_name"])
    same(pair, lambda c: c.list_aliases("dm_al_a")["aliases"])
    same(pair, lambda c: c.query("dm_cur", "id >= 0", output_fields=["id"]))
    same(pair, lambda c: c.insert("dm_cur", rows([3]))["ids"])
    same(pair, lambda c: c.describe_collection("dm_cur")["collection_name"])
    same(pair, lambda c: c.alter_collection_properties("dm_cur", {"custom.route": "alias"}))
    same(pair, lambda c: c.describe_collection("dm_al_a")["properties"])
    same(pair, lambda c: c.alter_alias("dm_al_b", "dm_cur"))
    same(pair, lambda c: c.search("dm_cur", [rows([2])[0]["vector"]], limit=1)[0][0]["id"])
    same(pair, lambda c: (c.list_aliases("dm_al_a")["aliases"], c.list_aliases("dm_al_b")["aliases"]))
    same(pair, lambda c: c.create_alias("dm_nope", "dm_x"))
    same(pair, lambda c: c.describe_alias("dm_x"))
    same(pair, lambda c: c.drop_alias("dm_cur"))
    same(pair, lambda c: c.list_aliases()["aliases"])
    for client in pair:
        client.drop_collection("dm_al_a")
        client.drop_collection("dm_al_b")


def test_aliases_follow_the_server_where_milvus_lite_does_not(client):
    client.create_collection("a", dimension=DIM)
    client.create_alias("a", "al")
    described = client.describe_collection("al")
    assert described["aliases"] == ["al"] and described["collection_id"] > 0
    # The server refuses dropping through an alias, and a collection that still has aliases.
    with pytest.raises(MilvusException, match="has associated aliases"):
        client.drop_collection("a")
    with pytest.raises(MilvusException, match="via alias"):
        client.drop_collection("al")
    client.drop_alias("al")
    with pytest.raises(MilvusException, match="alias 'al' does not exist"):
        client.drop_alias("al")  # the server's documentation: the alias must exist
    client.drop_collection("a")
    assert client.list_collections() == []


def partitioned(client, name):
    client.create_collection(name, dimension=DIM)
    client.create_partition(name, "p1")
    client.create_partition(name, "p2")
    client.insert(name, rows(range(0, 6), "d"))
    client.insert(name, rows(range(6, 12), "a"), partition_name="p1")
    client.insert(name, rows(range(12, 20), "b"), partition_name="p2")


def test_partitions_agree_with_milvus_lite(pair):
    for client in pair:
        partitioned(client, "dm_parts")
    same(pair, lambda c: c.list_partitions("dm_parts"))
    same(pair, lambda c: [c.has_partition("dm_parts", p) for p in ("p1", "p9")])
    same(pair, lambda c: [c.get_partition_stats("dm_parts", p)["row_count"] for p in ("_default", "p1", "p2")])
    for names in (["p1"], ["p2", "_default"]):
        same(pair, lambda c: by_id(c.query("dm_parts", "id in [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]", output_fields=["id", "tag"], partition_names=names)))
        same(pair, lambda c: by_id(c.get("dm_parts", list(range(20)), output_fields=["id"], partition_names=names)))
        q = rows([13])[0]["vector"]
        same(pair, lambda c: [h["id"] for h in c.search("dm_parts", [q], limit=4, partition_names=names)[0]])
        # Hybrid search and the iterators take the same partitions.
        route = pymilvus.AnnSearchRequest([q], "vector", {}, 4)
        ranker = pymilvus.RRFRanker()
        same(pair, lambda c: [h["id"] for h in c.hybrid_search("dm_parts", [route], ranker, limit=4, partition_names=names)[0]])
        same(pair, lambda c: by_id(pages(c.query_iterator("dm_parts", batch_size=3, filter="id >= 0",
                                                          output_fields=["id"], partition_names=names))))
        ours = pair[0]
        searched = [h["id"] for h in ours.search("dm_parts", [q], limit=20, partition_names=names)[0]]
        paged = pages(ours.search_iterator("dm_parts", q, batch_size=3, partition_names=names))
        assert [h["id"] for h in paged] == searched
    # One live row per key across partitions: an upsert into another partition moves the row.
    same(pair, lambda c: c.upsert("dm_parts", rows([7], "moved"), partition_name="p2")["upsert_count"])
    same(pair, lambda c: [c.get_partition_stats("dm_parts", p)["row_count"] for p in ("_default", "p1", "p2")])
    same(pair, lambda c: c.query("dm_parts", "id == 7", output_fields=["tag"], partition_names=["p2"]))
    # A delete confined to a partition deletes there only, as on the Milvus server (Milvus Lite deletes
    # the keys wherever they are, so it is given only the ones in the partition).
    ours, lite = pair
    assert ours.delete("dm_parts", ids=[6, 8, 13], partition_name="p1") == {"delete_count": 2}
    lite.delete("dm_parts", ids=[6, 8], partition_name="p1")
    same(pair, lambda c: by_id(c.query("dm_parts", "id >= 0", output_fields=["id"])))
    same(pair, lambda c: c.drop_partition("dm_parts", "p2"))
    same(pair, lambda c: (c.list_partitions("dm_parts"), c.get_collection_stats("dm_parts")))
    same(pair, lambda c: by_id(c.query("dm_parts", "id >= 0", output_fields=["id"])))
    # Errors: a missing partition, the default partition.
    same(pair, lambda c: c.drop_partition("dm_parts", "_default"))
    for client in pair:
        client.drop_collection("dm_parts")


def test_partition_errors_and_counts_follow_the_server(client):
    partitioned(client, "c")
    with pytest.raises(MilvusException) as e:
        client.insert("c", rows([99]), partition_name="p9")
    assert (e.value.code, e.value.message) == (200, "partition not found[partition=p9]")
    with pytest.raises(MilvusException) as e:
        client.create_partition("c", "9p")
    assert e.value.code == 1100
    # Reading a partition that does not exist is an error (Milvus Lite answers with no rows).
    with pytest.raises(MilvusException) as e:
        client.query("c", "id >= 0", partition_names=["p9"])
    assert e.value.code == 200
    # count(*) honours partition_names (Milvus Lite counts the whole collection when the filter is empty).
    assert client.query("c", "", output_fields=["count(*)"], partition_names=["p1"]) == [{"count(*)": 6}]


def keyed(client, name, num_partitions=None):
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", DataType.VARCHAR, max_length=16, is_partition_key=True)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    extra = {} if num_partitions is None else {"num_partitions": num_partitions}
    client.create_collection(name, schema=schema, index_params=index, **extra)
    client.insert(name, rows(range(30)))


def test_partition_keys_agree_with_milvus_lite_on_answers(pair):
    ours, lite = pair
    keyed(ours, "dm_key")
    keyed(lite, "dm_key")
    for flt in ('tag == "t1"', 'tag in ["t0", "t2"] and id > 10', "id < 5", 'tag == "t1" or id == 3'):
        same(pair, lambda c: by_id(c.query("dm_key", flt, output_fields=["id", "tag"])))
        q = rows([4])[0]["vector"]
        same(pair, lambda c: [h["id"] for h in c.search("dm_key", [q], limit=5, filter=flt)[0]])
    same(pair, lambda c: [f.get("is_partition_key", False) for f in c.describe_collection("dm_key")["fields"]])
    assert ours.delete("dm_key", filter='tag == "t2"') == {"delete_count": 10}
    lite.delete("dm_key", filter='tag == "t2"')
    same(pair, lambda c: c.get_collection_stats("dm_key"))
    same(pair, lambda c: by_id(c.query("dm_key", "id >= 0", output_fields=["id"])))
    for client in pair:
        client.drop_collection("dm_key")


def test_partition_keys_make_the_servers_buckets(client):
    keyed(client, "k", num_partitions=4)
    parts = client.list_partitions("k")
    assert parts == ["_default_0", "_default_1", "_default_2", "_default_3"]
    assert client.describe_collection("k")["num_partitions"] == 4
    counts = [client.get_partition_stats("k", p)["row_count"] for p in parts]
    assert sum(counts) == 30 and all(c % 10 == 0 for c in counts), counts
    for call in (
        lambda: client.create_partition("k", "p"),
        lambda: client.drop_partition("k", parts[0]),
        lambda: client.load_partitions("k", [parts[0]]),
        lambda: client.insert("k", rows([99]), partition_name=parts[0]),
        lambda: client.query("k", "id >= 0", partition_names=[parts[0]]),
    ):
        with pytest.raises(MilvusException, match="partition key"):
            call()
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("f", DataType.FLOAT, is_partition_key=True)
    with pytest.raises(MilvusException, match="Int64 or VarChar") as e:
        client.create_collection("bad", schema=schema)
    assert e.value.code == 1100
    with pytest.raises(MilvusException, match="num_partitions should only be specified"):
        client.create_collection("bad", dimension=DIM, num_partitions=4)


def test_partition_load_state_follows_the_server(client):
    partitioned(client, "c")
    client.release_partitions("c", ["p2"])
    assert str(client.get_load_state("c")["state"]) == "Loaded"
    assert client.get_load_state("c", partition_name="p2")["state"] == covec.client.LoadState.NotLoad
    # Reads see the loaded partitions only; naming a released one is code 201.
    assert {r["id"] for r in client.query("c", "id >= 0", output_fields=["id"])} == set(range(12))
    with pytest.raises(MilvusException) as e:
        client.query("c", "id >= 0", partition_names=["p2"])
    assert e.value.code == 201
    client.load_partitions("c", ["p2"])
    assert len(client.query("c", "id >= 0", output_fields=["id"])) == 20
    client.release_collection("c")
    with pytest.raises(MilvusException) as e:
        client.search("c", [[0.0] * DIM], limit=1)
    assert e.value.code == 101
    client.load_partitions("c", ["p1"])
    assert {r["id"] for r in client.query("c", "id >= 0", output_fields=["id"])} == set(range(6, 12))
    client.load_collection("c")
    assert repr(client.get_load_state("c")["state"]) == "<LoadState: Loaded>"


def test_collection_admin(client):
    client.create_collection("c", dimension=DIM, properties={"mmap.enabled": True})
    client.insert("c", rows(range(10)))
    client.alter_collection_properties("c", {"custom.keep": "yes"})
    client.drop_collection_properties("c", ["mmap.enabled"])
    assert client.describe_collection("c")["properties"] == {"custom.keep": "yes"}
    with pytest.raises(MilvusException, match="collection.ttl.seconds"):
        client.alter_collection_properties("c", {"collection.ttl.seconds": 60})
    # Schema evolution: rows written before read the added field as its default, else null.
    client.add_collection_field("c", "level", DataType.INT64, nullable=True, default_value=2)
    client.add_collection_field("c", "note", DataType.VARCHAR, max_length=8, nullable=True)
    client.insert("c", [dict(rows([10])[0], level=5, note="new")])
    got = client.query("c", "id in [0, 10]", output_fields=["level", "note"])
    assert by_id(got) == [{"id": 0, "level": 2, "note": None}, {"id": 10, "level": 5, "note": "new"}]
    fields = client.describe_collection("c")["fields"]
    assert [f["field_id"] for f in fields] == [100, 101, 102, 103]
    with pytest.raises(MilvusException, match="must be nullable"):
        client.add_collection_field("c", "x", DataType.INT64)
    client.alter_collection_field("c", "note", {"max_length": 32, "mmap_enabled": True})
    note = client.describe_collection("c")["fields"][3]
    assert note["params"] == {"max_length": 32, "mmap_enabled": True}
    with pytest.raises(MilvusException, match="does not allow update"):
        client.alter_collection_field("c", "note", {"nullable": False})
    client.delete("c", filter="id < 5")
    job = client.compact("c")
    assert client.get_compaction_state(job) == "Completed"
    assert client.get_compaction_state(job + 1000) == "UndefiedState"
    assert sorted(r["id"] for r in client.query("c", "", output_fields=["id"])) == list(range(5, 11))
    client.truncate_collection("c")
    assert client.get_collection_stats("c") == {"row_count": 0}
    assert client.describe_collection("c")["properties"] == {"custom.keep": "yes"}
    assert client.get_server_type() == "milvus"
    assert client.get_server_version(detail=True)["version"] == client.get_server_version()


CHILD = """
import sys, covec
c = covec.MilvusClient(sys.argv[1])
step = sys.argv[2]
if step == "make":
    c.create_database("shared")
    c.use_database("shared")
    c.create_collection("c", dimension=4)
    c.create_partition("c", "p")
    c.insert("c", [{"id": 1, "vector": [1, 0, 0, 0]}], partition_name="p")
    c.create_alias("c", "al")
elif step == "undo":
    c.use_database("shared")
    c.drop_alias("al")
    c.drop_partition("c", "p")
print("done")
"""


def test_other_processes_see_each_change_at_their_next_call(client, shm_dir):
    run = lambda step: subprocess.run(  # noqa: E731
        [sys.executable, "-c", CHILD, client._path, step], capture_output=True, text=True, timeout=120, check=True
    )
    assert client.list_databases() == ["default"]
    run("make")
    assert client.list_databases() == ["default", "shared"]
    assert client.list_partitions("c", db_name="shared") == ["_default", "p"]
    assert client.describe_alias("al", db_name="shared")["collection_name"] == "c"
    assert client.query("al", "id >= 0", output_fields=["id"], partition_names=["p"], db_name="shared") == [{"id": 1}]
    run("undo")
    assert client.list_partitions("c", db_name="shared") == ["_default"]
    assert client.list_aliases(db_name="shared")["aliases"] == []
    assert client.get_collection_stats("c", db_name="shared") == {"row_count": 0}


def tagged_schema(mod, **extra):
    """id, vector, tag and, with `extra`, one more nullable field `f` (its type and parameters)."""
    schema = mod.MilvusClient.create_schema()
    schema.add_field("id", mod.DataType.INT64, is_primary=True)
    schema.add_field("vector", mod.DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", mod.DataType.VARCHAR, max_length=16)
    if extra:
        dtype = extra.pop("datatype")
        schema.add_field("f", getattr(mod.DataType, dtype), nullable=True, **extra)
    return schema


def create_tagged(client, mod, name, **extra):
    params = client.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=tagged_schema(mod, **extra), index_params=params, properties={"timezone": "Asia/Shanghai"})


@pytest.mark.parametrize(
    "dtype, default, literal",
    [
        ("TIMESTAMPTZ", "2025-01-01T00:00:00", "ISO '2025-01-01T00:00:00'"),
        ("TIMESTAMPTZ", "2025-06-30T23:59:59.5-07:00", "ISO '2025-07-01T06:59:59.5Z'"),
        ("TIMESTAMPTZ", 1_700_000_000_000_000, "ISO '2023-11-14T22:13:20Z'"),
    ],
    ids=["naive-in-the-collections-zone", "with-offset", "microseconds"],
)
def test_an_added_fields_default_reads_as_milvus_lites_created_one(pair, dtype, default, literal):
    # Lite has no add_collection_field: the rows covec held before the field was added, and rows written after
    # without it, must read what Lite's rows without the field read when the field had that default from the
    # start. The default's instant is fixed when it is set: a later change of the collection's zone keeps it.
    ours, lite = pair
    create_tagged(ours, covec, "added")
    ours.insert("added", rows(range(4)))
    ours.add_collection_field("added", "f", getattr(DataType, dtype), nullable=True, default_value=default)
    ours.insert("added", rows(range(4, 6)))
    create_tagged(lite, pymilvus, "added", datatype=dtype, default_value=default)
    lite.insert("added", rows(range(6)))
    try:
        for client in pair:
            client.alter_collection_properties("added", {"timezone": "America/New_York"})
            client.insert("added", rows([6]))
        for read in (
            lambda c: by_id(c.query("added", "id >= 0", output_fields=["f", "tag"])),
            lambda c: by_id(c.query("added", f"f == {literal}", output_fields=["f"], timezone="Asia/Shanghai")),
            lambda c: by_id(c.query("added", "id < 3", output_fields=["f"], time_fields="year, month, day, hour")),
            lambda c: by_id(c.get("added", [0, 5, 6], output_fields=["f"])),
        ):
            assert len(same(pair, read)) > 0
        assert len(ours.query("added", f"f == {literal}", output_fields=["f"], timezone="Asia/Shanghai")) == 7
    finally:
        for client in pair:
            client.drop_collection("added")


def test_geometry_defaults_agree_created_or_added(pair):
    # Lite's field has its default from the start; covec's is added after rows 0-2 were written.
    ours, lite = pair
    create_tagged(lite, pymilvus, "geo_default", datatype="GEOMETRY", default_value="POINT(1 2)")
    lite.insert("geo_default", rows(range(5)))
    create_tagged(ours, covec, "geo_default")
    ours.insert("geo_default", rows(range(3)))
    ours.add_collection_field("geo_default", "f", DataType.GEOMETRY, nullable=True, default_value="POINT(1 2)")
    ours.insert("geo_default", rows(range(3, 5)))
    try:
        got = same(pair, lambda c: by_id(c.query("geo_default", "id >= 0", output_fields=["f"])))
        assert [r["f"] for r in got] == ["POINT(1 2)"] * 5
        inside = "ST_INTERSECTS(f, 'POLYGON((0 0, 3 0, 3 3, 0 3, 0 0))')"
        assert len(same(pair, lambda c: c.query("geo_default", inside, output_fields=["f"]))) == 5
        assert same(pair, lambda c: c.query("geo_default", "ST_WITHIN(f, 'POLYGON((5 5, 6 5, 6 6, 5 5))')")) == []
    finally:
        for client in pair:
            client.drop_collection("geo_default")


def test_array_defaults_are_refused_as_pymilvus_refuses_them(pair):
    ours, lite = pair
    array = dict(datatype="ARRAY", element_type=None, max_capacity=4, default_value=[1, 2])
    for client, mod in ((ours, covec), (lite, pymilvus)):
        spec = dict(array, element_type=mod.DataType.INT64)
        with pytest.raises(pymilvus.exceptions.ParamError, match=r"Default value unsupported data type: 999"):
            create_tagged(client, mod, "arr_default", **spec)
        assert not client.has_collection("arr_default")
    create_tagged(ours, covec, "arr_added")
    with pytest.raises(pymilvus.exceptions.ParamError, match=r"Default value unsupported data type: 999 \(field 'f'"):
        ours.add_collection_field("arr_added", "f", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4, nullable=True, default_value=[1])
    assert [f["name"] for f in ours.describe_collection("arr_added")["fields"]] == ["id", "vector", "tag"]
    ours.drop_collection("arr_added")


@pytest.mark.parametrize(
    "dtype, default, named",
    [("TIMESTAMPTZ", "2025-02-30T00:00:00Z", "2025-02-30"), ("GEOMETRY", "POINT(1", "f")],
    ids=["no-such-day", "bad-wkt"],
)
def test_a_bad_default_is_refused_when_set(pair, dtype, default, named):
    # Refused by create_collection (code 6, in both), not by every later insert.
    ours, lite = pair
    for client, mod in ((ours, covec), (lite, pymilvus)):
        with pytest.raises(pymilvus.exceptions.MilvusException, match=named) as err:
            create_tagged(client, mod, "bad_default", datatype=dtype, default_value=default)
        assert err.value.code == 6
        assert not client.has_collection("bad_default")
    create_tagged(ours, covec, "bad_added")
    with pytest.raises(MilvusException, match=named):
        ours.add_collection_field("bad_added", "f", getattr(DataType, dtype), nullable=True, default_value=default)
    ours.drop_collection("bad_added")


def test_a_json_default_fills_rows_as_milvus_lite_fills_them(pair):
    # The Milvus server refuses JSON defaults (milvus.io/docs/nullable-and-default.md); Milvus Lite keeps and applies
    # one given as JSON text, and code written for Lite runs unchanged on covec (docs/compatibility.md).
    ours, lite = pair
    try:
        for client, mod in ((ours, covec), (lite, pymilvus)):
            create_tagged(client, mod, "json_default", datatype="JSON", default_value='{"a": 1}')
            client.insert("json_default", rows(range(2)))
            client.insert("json_default", [dict(rows([2])[0], f={"b": 2}), dict(rows([3])[0], f=None)])
        got = same(pair, lambda c: by_id(c.query("json_default", "id >= 0", output_fields=["f"])))
        assert [r["f"] for r in got] == [{"a": 1}, {"a": 1}, {"b": 2}, {"a": 1}]
        assert len(same(pair, lambda c: c.query("json_default", 'f["a"] == 1', output_fields=["f"]))) == 3
    finally:
        for client in pair:
            client.drop_collection("json_default")
