"""ARRAY, TIMESTAMPTZ and GEOMETRY fields where covec follows the Milvus server rather than Milvus Lite, and the
errors bad values get (the differential tests in test_vs_milvus_lite.py cover what both do alike)."""

import pytest

import covec
from covec import DataType, MilvusClient
from covec.exceptions import MilvusException


@pytest.fixture
def client(tmp_path):
    (tmp_path / "shm").mkdir()
    c = MilvusClient(str(tmp_path / "t.db"), shm_dir=str(tmp_path / "shm"))
    yield c
    c.close()


def make(client, **extra):
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=3, max_length=4)
    schema.add_field("nums", DataType.ARRAY, element_type=DataType.INT8, max_capacity=4, nullable=True)
    schema.add_field("ts", DataType.TIMESTAMPTZ, nullable=True)
    schema.add_field("geo", DataType.GEOMETRY, nullable=True)
    client.create_collection("c", schema=schema, **extra)


def row(i, **values):
    return {"id": i, "v": [float(i), 1.0], "tags": ["a"], **values}


def test_values_come_back_as_milvus_shows_them(client):
    make(client)
    client.insert(
        "c",
        [
            row(1, nums=[-128, 127], ts="2025-01-01T08:00:00.25+08:00", geo="point (1.5   -2)"),
            row(2, tags=[], ts=None, geo="MULTIPOINT (10 40, 40 30)"),
        ],
    )
    got = {r["id"]: r for r in client.query("c", "id > 0", output_fields=["tags", "nums", "ts", "geo"])}
    assert got[1] == {"id": 1, "tags": ["a"], "nums": [-128, 127], "ts": "2025-01-01T00:00:00.250000Z", "geo": "POINT(1.5 -2)"}
    assert got[2] == {"id": 2, "tags": [], "nums": None, "ts": None, "geo": "MULTIPOINT((10 40), (40 30))"}


def test_describe_collection_shows_array_parameters(client):
    make(client)
    fields = {f["name"]: f for f in client.describe_collection("c")["fields"]}
    assert fields["tags"]["params"] == {"max_length": 4, "max_capacity": 3}
    assert fields["tags"]["element_type"] == DataType.VARCHAR
    assert fields["nums"]["element_type"] == DataType.INT8
    assert fields["ts"]["type"] == DataType.TIMESTAMPTZ and fields["geo"]["type"] == DataType.GEOMETRY


@pytest.mark.parametrize(
    "values, words",
    [
        ({"tags": ["a", "b", "c", "d"]}, ["ARRAY field 'tags' has 4 elements, exceeds max_capacity=3"]),
        ({"tags": ["toolong"]}, ["ARRAY field 'tags' element 0", "max_length=4"]),
        ({"nums": [1, 300]}, ["ARRAY field 'nums' element 1", "300"]),
        ({"nums": [1, "x"]}, ["ARRAY field 'nums' element 1", "str"]),
        ({"nums": [1, None]}, ["ARRAY field 'nums' element 1 is None"]),
        ({"tags": "abc"}, ["tags", "str"]),
        ({"ts": "2025-02-30T00:00:00Z"}, ["TIMESTAMPTZ field 'ts'", "2025-02-30T00:00:00Z"]),
        ({"ts": "0000-01-01T00:00:00Z"}, ["TIMESTAMPTZ field 'ts'"]),
        ({"geo": "POLYGON((0 0, 1 1"}, ["GEOMETRY field 'geo'", "POLYGON((0 0, 1 1"]),
        ({"geo": "POINT Z (1 2 3)"}, ["GEOMETRY field 'geo'", "two-dimensional"]),
    ],
)
def test_bad_values_name_field_and_value_and_store_nothing(client, values, words):
    make(client)
    with pytest.raises(MilvusException) as e:
        client.insert("c", [row(1), row(2, **values)])
    for w in words:
        assert w in e.value.message, e.value.message
    assert client.query("c", "id > 0") == []


def test_array_needs_max_capacity_and_a_scalar_element_type(client):
    for kwargs, words in [
        ({"element_type": DataType.INT64}, "max_capacity"),
        ({"element_type": DataType.JSON, "max_capacity": 2}, "element_type"),
        ({"element_type": DataType.INT64, "max_capacity": 5000}, "max_capacity"),
    ]:
        schema = MilvusClient.create_schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
        schema.add_field("a", DataType.ARRAY, **kwargs)
        with pytest.raises(MilvusException, match=words):
            client.create_collection("bad", schema=schema)
        assert not client.has_collection("bad")


def test_filter_type_errors_name_the_mismatch(client):
    make(client)
    for flt, words in [
        ('array_contains(nums, "x")', "string value cannot be an element of field 'nums'"),
        ("tags[0] == 1", "comparison"),
        ('tags["k"] == 1', "indexed by position"),
        ("ts > '2025-01-01'", "comparison"),
        ("ts + 1 > ISO '2025-01-01T00:00:00Z'", r"only timestamptz \+ interval"),
        ("ts > ISO '2025-13-01T00:00:00Z'", "ISO literal"),
        ("ts > ISO '2025-01-01T00:00:00Z' + INTERVAL 'P1M'", "years and months"),
        ("ST_CONTAINS(tags, 'POINT(1 1)')", "needs a GEOMETRY field"),
        ("ST_CONTAINS(geo, 'POINT(1')", "invalid WKT"),
        ("ST_DWITHIN(geo, 'POLYGON((0 0, 1 0, 1 1, 0 0))', 5)", "POINT"),
        ("ST_DWITHIN(geo, 'POINT(0 0)', -1)", "meters"),
    ]:
        with pytest.raises(MilvusException, match=words) as e:
            client.query("c", flt)
        assert e.value.code == 6


def test_dwithin_measures_meters_on_longitude_latitude(client):
    make(client)
    # Paris and London are about 344 km apart; two points 1e-4 degrees apart about 11 m.
    client.insert("c", [row(1, geo="POINT(2.3522 48.8566)"), row(2, geo="POINT(-0.1276 51.5072)"), row(3, geo="POINT(2.3523 48.8566)")])
    near = lambda m: sorted(r["id"] for r in client.query("c", f"ST_DWITHIN(geo, 'POINT(2.3522 48.8566)', {m})"))
    assert near(5) == [1]
    assert near(20) == [1, 3]
    assert near(340_000) == [1, 3]
    assert near(350_000) == [1, 2, 3]


def test_spatial_relations_server_has_and_lite_lacks(client):
    make(client)
    client.insert(
        "c",
        [
            row(1, geo="LINESTRING(-1 5, 11 5)"),
            row(2, geo="POLYGON((5 5, 15 5, 15 15, 5 15, 5 5))"),
            row(3, geo="POLYGON((10 0, 20 0, 20 10, 10 10, 10 0))"),
            row(4, geo="POINT(0 5)"),
        ],
    )
    square = "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))"
    ids = lambda f: sorted(r["id"] for r in client.query("c", f))
    assert ids(f"ST_CROSSES(geo, '{square}')") == [1]
    assert ids(f"ST_OVERLAPS(geo, '{square}')") == [2]
    assert ids(f"ST_TOUCHES(geo, '{square}')") == [3, 4]
    assert ids(f"ST_EQUALS(geo, 'POINT(0 5)')") == [4]
    # A point on the boundary intersects but is not within (DE-9IM, as the server).
    assert ids(f"ST_INTERSECTS(geo, '{square}')") == [1, 2, 3, 4]
    assert ids(f"ST_WITHIN(geo, '{square}')") == []


def test_timestamptz_accepts_datetimes_and_microseconds(client):
    import datetime

    make(client)
    aware = datetime.datetime(2025, 1, 1, 8, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    client.insert("c", [row(1, ts=aware), row(2, ts=1_735_689_600_000_000), row(3, ts="2025-01-01 00:00:00")])
    got = sorted((r["id"], r["ts"]) for r in client.query("c", "ts == ISO '2025-01-01T00:00:00Z'", output_fields=["ts"]))
    assert got == [(1, "2025-01-01T00:00:00Z"), (2, "2025-01-01T00:00:00Z"), (3, "2025-01-01T00:00:00Z")]


def test_timezone_property_reads_naive_text_and_filter_literals(client):
    # The collection's `timezone`, else its database's, else UTC, for values written and ISO literals of filters
    # alike; altering it changes how later text reads, never the instants stored (the server's behaviour).
    make(client, properties={"timezone": "Asia/Shanghai"})
    client.insert("c", [row(1, ts="2025-01-01T08:00:00"), row(2, ts="2025-01-01T08:00:00Z")])

    def matching(literal):
        return sorted(r["id"] for r in client.query("c", f"ts == ISO '{literal}'", output_fields=["id"]))

    assert matching("2025-01-01T08:00:00") == [1]
    assert client.query("c", "id == 1", output_fields=["ts"])[0]["ts"] == "2025-01-01T00:00:00Z"
    client.delete("c", filter="ts == ISO '2025-01-01T16:00:00'")
    assert matching("2025-01-01T08:00:00Z") == []
    client.alter_collection_properties("c", properties={"timezone": "UTC"})
    assert matching("2025-01-01T08:00:00") == []
    assert matching("2025-01-01T00:00:00") == [1]
    client.drop_collection_properties("c", ["timezone"])
    client.alter_database_properties("default", properties={"timezone": "America/New_York"})
    assert matching("2024-12-31T19:00:00") == [1]
    with pytest.raises(MilvusException, match="Nowhere/Else"):
        client.alter_collection_properties("c", properties={"timezone": "Nowhere/Else"})
