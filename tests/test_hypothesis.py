"""Random schemas and values through MilvusClient: every call either succeeds or raises MilvusException
(never another exception, never a crash), and what was inserted reads back equal."""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from covec import DataType, MilvusClient, MilvusException

LONG = os.environ.get("COVEC_LONG") == "1"
EXAMPLES = 300 if LONG else 25
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

INTS = {
    DataType.INT8: st.integers(-(2**7), 2**7 - 1),
    DataType.INT16: st.integers(-(2**15), 2**15 - 1),
    DataType.INT32: st.integers(-(2**31), 2**31 - 1),
    DataType.INT64: st.integers(-(2**63), 2**63 - 1),
}
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40) | st.text(max_size=3000).map(lambda s: s * 2)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
SCALARS = [DataType.BOOL, *INTS, DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR, DataType.JSON]
# Any of these may be offered for any field: the wrong ones must be refused with MilvusException.
WRONG = st.none() | st.booleans() | st.integers() | st.floats() | TEXT | st.lists(st.integers(), max_size=3) | st.binary(max_size=5)

counter = itertools.count()


def value_of(dtype, dim):
    if dtype == DataType.BOOL:
        return st.booleans()
    if dtype in INTS:
        return INTS[dtype]
    if dtype == DataType.FLOAT:
        return st.floats(width=32, allow_nan=False)
    if dtype == DataType.DOUBLE:
        return st.floats(allow_nan=False)
    if dtype == DataType.VARCHAR:
        return TEXT
    if dtype == DataType.JSON:
        return JSON
    # Vectors: NaN and infinities included, Milvus Lite stores them.
    return st.lists(st.floats(width=32), min_size=dim, max_size=dim)


@st.composite
def schemas(draw):
    pk_type = draw(st.sampled_from([DataType.INT64, DataType.VARCHAR]))
    dim = draw(st.integers(1, 64))
    fields = draw(st.lists(st.sampled_from(SCALARS), max_size=5))
    return pk_type, dim, fields


@st.composite
def cases(draw):
    pk_type, dim, fields = draw(schemas())
    pks = INTS[DataType.INT64] if pk_type == DataType.INT64 else st.text(min_size=1, max_size=30)
    n = draw(st.sampled_from([0, 1, 3, 20]))
    rows = []
    for _ in range(n):
        row = {"pk": draw(pks), "vec": draw(value_of(None, dim))}
        for k, dtype in enumerate(fields):
            row[f"f{k}"] = draw(WRONG if draw(st.integers(0, 15)) == 0 else value_of(dtype, dim))
        rows.append(row)
    if rows and draw(st.booleans()):
        rows.append(dict(rows[0], pk=rows[-1]["pk"]))  # a duplicate primary key: the last write wins
    return pk_type, dim, fields, rows


def make(client, pk_type, dim, fields):
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    if pk_type == DataType.VARCHAR:
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=65535)
    else:
        schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    for k, dtype in enumerate(fields):
        kwargs = {"max_length": 65535} if dtype == DataType.VARCHAR else {}
        schema.add_field(f"f{k}", dtype, **kwargs)
    index = client.prepare_index_params()
    index.add_index("vec", metric_type="L2", index_type="FLAT")
    name = f"c{next(counter)}"
    client.create_collection(name, schema=schema, index_params=index)
    return name


def same(dtype, want, got) -> bool:
    if dtype == DataType.FLOAT:
        return np.float32(want) == np.float32(got) or (math.isinf(want) and want == got)
    if isinstance(want, float) and isinstance(got, float):
        return want == got or (math.isnan(want) and math.isnan(got))
    return want == got


@given(case=cases())
@SETTINGS
def test_random_schemas_and_values_round_trip_or_raise_milvus_exception(case, make_client):
    pk_type, dim, fields, rows = case
    client = make_client("hyp.db")
    name = make(client, pk_type, dim, fields)
    try:
        client.insert(name, rows)
    except MilvusException as e:
        event(f"refused: {e.message[:40]}")
        assert client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"] == 0, "a refused insert wrote"
        return
    event(f"inserted {min(len(rows), 3)}+ rows")
    latest = {r["pk"]: r for r in rows}
    assert client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"] == len(latest)
    got = {r["pk"]: r for r in client.get(name, ids=list(latest), output_fields=["*"])}
    assert set(got) == set(latest)
    for pk, want in latest.items():
        back = got[pk]
        assert np.array_equal(np.array(back["vec"], np.float32), np.array(want["vec"], np.float32), equal_nan=True)
        for k, dtype in enumerate(fields):
            assert same(dtype, want[f"f{k}"], back[f"f{k}"]), (dtype, want[f"f{k}"], back[f"f{k}"])
    if latest:
        try:
            hits = client.search(name, data=[rows[0]["vec"]], limit=3)
            assert len(hits[0]) == min(3, len(latest))
        except MilvusException:
            pass


@given(
    batch=st.sampled_from([0, 1, 5000]),
    dim=st.integers(1, 8),
    junk=st.sampled_from(["none", "short vector", "string vector", "nested", "huge pk", "no pk"]),
)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_empty_huge_and_malformed_batches(batch, dim, junk, make_client):
    client = make_client("batch.db")
    name = f"b{next(counter)}"
    client.create_collection(name, dimension=dim)
    rows = [{"id": i, "vector": [0.5] * dim} for i in range(batch)]
    bad = {
        "none": None,
        "short vector": {"id": -1, "vector": [1.0] * (dim + 1)},
        "string vector": {"id": -1, "vector": "abc"},
        "nested": {"id": -1, "vector": [[1.0] * dim]},
        "huge pk": {"id": 2**64, "vector": [1.0] * dim},
        "no pk": {"vector": [1.0] * dim},
    }[junk]
    if bad is not None:
        rows.append(bad)
    try:
        client.insert(name, rows)
    except MilvusException:
        assert bad is not None, "a valid batch was refused"
        assert client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"] == 0
        return
    assert client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"] == len(rows)
