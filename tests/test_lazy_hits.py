"""Search results keep their vectors and JSON native until first read, as pymilvus 3's do
(docs/compatibility.md, "Search results"): every vector type comes back as before, with filters, several
queries, hybrid search and iterator pages, and a result holds its own copy after the db moved on.
tests/test_vs_milvus_lite.py holds the access paths to Milvus Lite's."""

import copy
import pickle

import numpy as np
import pytest

import covec
from covec import DataType

ml_dtypes = pytest.importorskip("ml_dtypes")

DIM = 8
N = 60
LAZY = ["f", "h", "bf", "i8", "bin", "sp", "j", "extra"]


def make_rows(seed=1, n=N):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rows.append(
            {
                "id": i,
                "f": rng.standard_normal(DIM).astype(np.float32),
                "h": rng.standard_normal(DIM).astype(np.float16),
                "bf": rng.standard_normal(DIM).astype(ml_dtypes.bfloat16),
                "i8": rng.integers(-100, 100, DIM).astype(np.int8),
                "bin": bytes(rng.integers(0, 256, DIM // 8 * 2).astype(np.uint8)),
                "sp": {int(k): float(np.float32(rng.random())) + 0.1 for k in rng.choice(50, 3, replace=False)},
                "j": None if i % 4 == 0 else {"k": i, "tags": ["a", str(i)]},
                "n": i % 7,
                "extra": f"x{i}",
            }
        )
    return rows


def expected(row):
    """A row's entity as covec's eager results gave it: floats as a list of the float32 values, the
    16-bit, int8 and binary vectors as their bytes, sparse as {index: value}."""
    return {
        "n": row["n"],
        "f": row["f"].tolist(),
        "h": row["h"].tobytes(),
        "bf": row["bf"].tobytes(),
        "i8": row["i8"].tobytes(),
        "bin": row["bin"],
        "sp": {k: float(np.float32(v)) for k, v in row["sp"].items()},
        "j": row["j"],
        "extra": row["extra"],
    }


@pytest.fixture
def every_type(client):
    schema = client.create_schema(enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("f", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("h", DataType.FLOAT16_VECTOR, dim=DIM)
    schema.add_field("bf", DataType.BFLOAT16_VECTOR, dim=DIM)
    schema.add_field("i8", DataType.INT8_VECTOR, dim=DIM)
    schema.add_field("bin", DataType.BINARY_VECTOR, dim=DIM * 2)
    schema.add_field("sp", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("j", DataType.JSON, nullable=True)
    schema.add_field("n", DataType.INT64)
    idx = client.prepare_index_params()
    idx.add_index("f", index_type="FLAT", metric_type="L2")
    idx.add_index("h", index_type="FLAT", metric_type="L2")
    idx.add_index("bf", index_type="FLAT", metric_type="IP")
    idx.add_index("i8", index_type="HNSW", metric_type="L2")
    idx.add_index("bin", index_type="BIN_FLAT", metric_type="HAMMING")
    idx.add_index("sp", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection("all", schema=schema, index_params=idx)
    rows = make_rows()
    client.insert("all", rows)
    return client, rows


def raw_entities(hits):
    """The hits' entities read at C level, which materializes nothing."""
    return [dict.__getitem__(h, "entity") for h in list.__iter__(hits)]


def assert_hits_as_rows(result, rows):
    """Every query's hits, once read, hold their rows' values with eager results' types, each field once
    (the primary key too when "*" asked for it)."""
    assert len(result) and all(len(hits) for hits in result)
    for hits in result:
        for hit in hits:
            entity = dict(hit["entity"])
            if "id" in entity:
                assert entity.pop("id") == hit["id"]
            want = expected(rows[hit["id"]])
            assert entity == want
            assert {k: type(v) for k, v in entity.items()} == {k: type(v) for k, v in want.items()}


def test_every_vector_type_waits_until_read_then_comes_back_as_before(every_type):
    client, rows = every_type
    q = [rows[3]["f"], rows[40]["f"], rows[17]["f"]]
    result = client.search("all", q, anns_field="f", limit=5, filter="n != 2", output_fields=["*"])
    assert len(result) == 3
    for hits in list.__iter__(result):
        assert not hits.has_materialized
        assert all(list(e) == ["id", "n"] for e in raw_entities(hits))
    first = result[0][0]
    assert first["id"] == 3 and first["entity"] == {"id": 3, **expected(rows[3])}
    assert [hits.has_materialized for hits in list.__iter__(result)] == [True, False, False]
    assert all(list(e) == ["id", "n"] for e in raw_entities(list.__getitem__(result, 1)))
    assert_hits_as_rows(result, rows)
    assert all(rows[h["id"]]["n"] != 2 for hits in result for h in hits)
    # Keys in pymilvus 3's order: the eager fields, then the lazy ones in schema order, dynamic keys last.
    assert list(first["entity"]) == ["id", "n", *LAZY]


@pytest.mark.parametrize("field", ["h", "bf", "i8", "bin", "sp"])
def test_searching_each_vector_type_returns_every_vector(every_type, field):
    client, rows = every_type
    result = client.search("all", [rows[5][field], rows[9][field]], anns_field=field, limit=4)
    assert [h["id"] for h in result[0]][:1] == [5] or field in ("bf", "sp")
    assert_hits_as_rows(result, rows)


def test_hybrid_search_hits_wait_and_come_back_as_before(every_type):
    client, rows = every_type
    reqs = [
        covec.AnnSearchRequest(data=[rows[7]["f"], rows[8]["f"]], anns_field="f", param={}, limit=6, expr="n > 0"),
        covec.AnnSearchRequest(data=[rows[7]["sp"], rows[8]["sp"]], anns_field="sp", param={}, limit=6),
    ]
    result = client.hybrid_search("all", reqs, covec.RRFRanker(), limit=5, output_fields=["*"])
    assert not any(hits.has_materialized for hits in list.__iter__(result))
    assert all("f" not in e for hits in list.__iter__(result) for e in raw_entities(hits))
    assert_hits_as_rows(result, rows)


@pytest.mark.parametrize("external", [None, lambda hits: [h for h in hits if h["id"] % 2]])
def test_search_iterator_pages_wait_and_come_back_as_before(every_type, external):
    client, rows = every_type
    it = client.search_iterator(
        "all", [rows[11]["f"]], batch_size=7, anns_field="f", output_fields=["*"], external_filter_func=external
    )
    seen = []
    for _ in range(20):
        page = it.next()
        if not len(page):
            break
        if external is None:
            # Unfiltered pages come straight from the native search: lazy until read.
            assert not page.has_materialized and "f" not in raw_entities(page)[0]
        assert_hits_as_rows([page], rows)
        seen += [h["id"] for h in page]
    it.close()
    want = [i for i in range(N) if external is None or i % 2]
    assert sorted(seen) == want


def test_a_result_keeps_its_own_values_after_the_db_moved_on(every_type, make_client, shm_dir):
    """Commits replace every row's vectors, delete some and compact the file (a new segment); the result
    read afterwards still holds the values of the generation it searched."""
    client, rows = every_type
    result = client.search("all", [rows[20]["f"], rows[30]["f"]], anns_field="f", limit=6, output_fields=["*"])
    assert not any(hits.has_materialized for hits in list.__iter__(result))
    searched = {p.name for p in shm_dir.iterdir() if ".seg." in p.name}
    assert searched
    writer = make_client()
    new_rows = make_rows(seed=99)
    writer.upsert("all", new_rows)
    writer.delete("all", filter="id < 30")
    writer.compact("all")
    # This process moves to the newest generation and lets the searched one go.
    fresh = client.search("all", [new_rows[40]["f"]], anns_field="f", limit=1, output_fields=["*"])
    assert fresh[0][0]["id"] == 40
    assert not searched & {p.name for p in shm_dir.iterdir()}, "the searched generation's segment is gone"
    assert_hits_as_rows(fresh, new_rows)
    assert_hits_as_rows(result, rows)


def test_hits_reordered_before_reading_keep_their_own_values(every_type):
    """A list method that bypasses materialization (sort, reverse, pop) moves hits, not their values: each
    value goes to its own hit's entity (pymilvus 3 fills by position, docs/compatibility.md)."""
    client, rows = every_type
    hits = client.search("all", [rows[33]["f"]], anns_field="f", limit=6)[0]
    list.sort(hits, key=lambda h: -dict.__getitem__(h, "id"))
    last = list.pop(hits)
    assert_hits_as_rows([hits], rows)
    assert last["entity"] == expected(rows[last["id"]])


def test_copies_and_pickles_carry_the_values(every_type):
    client, rows = every_type
    q = [rows[1]["f"], rows[2]["f"]]
    for clone in (pickle.loads(pickle.dumps(client.search("all", q, anns_field="f", limit=3))),
                  copy.deepcopy(client.search("all", q, anns_field="f", limit=3))):
        assert all(hits.has_materialized for hits in list.__iter__(clone))
        assert all("f" in e for hits in list.__iter__(clone) for e in raw_entities(hits))
        assert_hits_as_rows(clone, rows)
    result = client.search("all", q, anns_field="f", limit=3)
    assert str(result).count("'f': [") == 6 and all(hits.has_materialized for hits in list.__iter__(result))
