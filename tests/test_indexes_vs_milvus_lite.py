"""Index metadata against Milvus Lite: the same create_index, list_indexes, describe_index and drop_index calls on
covec and Milvus Lite 3.2.2 must answer alike (names, scalar indexes, several indexes per collection, errors' codes).

Where the two differ on purpose (a name Lite ignores, an unknown name, drop_index of a name that is not an index's)
docs/compatibility.md says so; those are asserted for covec alone at the end.
"""

import pymilvus
import pytest
from pymilvus import MilvusException

import covec

# What describe_index reports that both keep the same way (Lite nests build parameters under "params", covec
# flattens them as a server does: compared apart).
DESCRIBED = ("index_type", "metric_type", "field_name", "index_name", "state", "total_rows")


def schema(mod):
    s = mod.MilvusClient.create_schema(auto_id=False)
    s.add_field("id", mod.DataType.INT64, is_primary=True)
    s.add_field("v", mod.DataType.FLOAT_VECTOR, dim=4)
    s.add_field("age", mod.DataType.INT64, nullable=True)
    s.add_field("category", mod.DataType.VARCHAR, max_length=32, nullable=True)
    s.add_field("meta", mod.DataType.JSON, nullable=True)
    return s


ROWS = [
    {
        "id": i,
        "v": [float(i == j) for j in range(4)],
        "age": None if i == 4 else 18 + i,
        "category": ["tech", "news", "blog", "tech", None, "news"][i],
        "meta": {"k": i},
    }
    for i in range(6)
]


@pytest.fixture
def pair(tmp_path, shm_dir):
    """A covec client and a Milvus Lite client, each with collection "c" of ROWS and no index."""
    ours = covec.MilvusClient(str(tmp_path / "covec.db"), shm_dir=str(shm_dir))
    lite = pymilvus.MilvusClient(str(tmp_path / "lite.db"))
    for client, mod in ((ours, covec), (lite, pymilvus)):
        client.create_collection("c", schema=schema(mod))
        client.insert("c", ROWS)
        client.flush("c")
    yield ours, lite
    ours.close()
    lite.close()


def both(pair, call):
    """`call(client)` on each client: (covec's answer, Lite's)."""
    return tuple(call(c) for c in pair)


def create_three(client):
    idx = client.prepare_index_params()
    idx.add_index(field_name="v", index_type="FLAT", metric_type="L2")
    idx.add_index(field_name="age", index_type="INVERTED")
    idx.add_index(field_name="category", index_type="INVERTED")
    client.create_index("c", idx)


def described(client, name):
    d = client.describe_index("c", name)
    return None if d is None else {k: d[k] for k in DESCRIBED}


def error_of(call):
    with pytest.raises(MilvusException) as e:
        call()
    return e.value.code, e.value.message


def test_vector_and_scalar_indexes_are_listed_and_described_alike(pair):
    both(pair, create_three)
    ours, lite = both(pair, lambda c: c.list_indexes("c"))
    assert ours == lite == ["v", "age", "category"]
    for field in ("age", "v"):
        ours, lite = both(pair, lambda c: c.list_indexes("c", field_name=field))
        assert ours == lite == [field]
    for name in ("v", "age", "category", "age_idx", "v_idx"):
        ours, lite = both(pair, lambda c: described(c, name))
        assert ours == lite, name
    assert described(pair[0], "age")["metric_type"] == "NONE"
    # The indexes change no answer: filters on the indexed fields, a search of the indexed vector.
    for client in pair:
        client.load_collection("c")
    ours, lite = both(pair, lambda c: sorted(r["id"] for r in c.query("c", filter="age >= 20 or category == 'news'")))
    assert ours == lite == [1, 2, 3, 5]
    ours, lite = both(
        pair,
        lambda c: [h["id"] for h in c.search("c", data=[[1.0, 0.0, 0.0, 0.0]], limit=3, filter="category == 'tech'")[0]],
    )
    assert ours == lite == [0, 3]


def test_one_index_is_dropped_by_its_field_idx_name_and_the_others_stay(pair):
    both(pair, create_three)
    for client in pair:
        client.release_collection("c")  # Lite drops indexes of released collections only
        client.drop_index("c", index_name="age_idx")
    ours, lite = both(pair, lambda c: c.list_indexes("c"))
    assert ours == lite == ["v", "category"]
    ours, lite = both(pair, lambda c: described(c, "category")["index_type"])
    assert ours == lite == "INVERTED"
    # Lite describes every index for a name it does not resolve (pymilvus then raises AmbiguousIndexName).
    assert pair[0].describe_index("c", "age") is None
    for client in pair:
        client.drop_index("c", index_name="v_idx")
    ours, lite = both(pair, lambda c: c.list_indexes("c"))
    assert ours == lite == ["category"]


def test_index_errors_carry_lites_codes(pair):
    # No index at all: describe answers None, drop fails with code 700.
    ours, lite = both(pair, lambda c: c.describe_index("c", "v"))
    assert ours is None and lite is None
    ours, lite = both(pair, lambda c: error_of(lambda: c.drop_index("c", "v")))
    assert ours[0] == lite[0] == 700
    both(pair, create_three)

    # A second index on an indexed field: code 35, the same message.
    def again(c):
        idx = c.prepare_index_params()
        idx.add_index(field_name="age", index_type="INVERTED")
        return error_of(lambda: c.create_index("c", idx))

    ours, lite = both(pair, again)
    assert ours == lite and ours[0] == 35

    # A scalar index on a JSON field, an unknown index type, a vector type on a scalar field: code 6.
    for field, index_type, says in (
        ("meta", "INVERTED", "field type JSON does not support scalar index"),
        ("id", "NO_SUCH_INDEX", "scalar index_type"),
        ("id", "HNSW", ""),
    ):

        def refused(c):
            idx = c.prepare_index_params()
            idx.add_index(field_name=field, index_type=index_type)
            return error_of(lambda: c.create_index("c", idx))

        ours, lite = both(pair, refused)
        assert ours[0] == lite[0] == 6, (field, index_type, ours, lite)
        assert says in ours[1] and says in lite[1], (ours, lite)


def test_covec_keeps_given_names_and_answers_unknown_names_with_none(pair):
    """Where covec follows the Milvus server rather than Lite (docs/compatibility.md, intended differences)."""
    ours = pair[0]
    idx = ours.prepare_index_params()
    idx.add_index(field_name="v", index_type="HNSW", metric_type="COSINE", index_name="dense", M=8)
    idx.add_index(field_name="category", index_type="BITMAP", index_name="cat")
    ours.create_index("c", idx)
    assert ours.list_indexes("c") == ["dense", "cat"]
    assert ours.list_indexes("c", field_name="category") == ["cat"]
    assert described(ours, "cat") == {
        "index_type": "BITMAP",
        "metric_type": "NONE",
        "field_name": "category",
        "index_name": "cat",
        "state": "Finished",
        "total_rows": len(ROWS),
    }
    assert described(ours, "category_idx")["index_name"] == "cat"
    assert ours.describe_index("c", "nope") is None
    taken = ours.prepare_index_params()
    taken.add_index(field_name="age", index_type="STL_SORT", index_name="cat")
    code, message = error_of(lambda: ours.create_index("c", taken))
    assert (code, message) == (35, "index name 'cat' is taken by the index on field 'category'")
    # A metric on a scalar index, a type the field's type does not take: refused, never ignored.
    for field, index_type, metric in (("age", "INVERTED", "L2"), ("age", "TRIE", None)):
        bad = ours.prepare_index_params()
        bad.add_index(field_name=field, index_type=index_type, **({"metric_type": metric} if metric else {}))
        assert error_of(lambda: ours.create_index("c", bad))[0] == 6
    # An unknown name is not dropped as "every index" (Lite drops them all): code 700, nothing changes.
    assert error_of(lambda: ours.drop_index("c", "nope"))[0] == 700
    assert ours.list_indexes("c") == ["dense", "cat"]
    ours.drop_index("c", "cat")
    assert ours.list_indexes("c") == ["dense"]


def test_scalar_indexes_are_kept_by_the_db_file(tmp_path, shm_dir):
    path = str(tmp_path / "kept.db")
    first = covec.MilvusClient(path, shm_dir=str(shm_dir))
    first.create_collection("c", schema=schema(covec))
    idx = first.prepare_index_params()
    idx.add_index(field_name="age", index_type="STL_SORT", index_name="by_age", params={"note": "x"})
    first.create_index("c", idx)
    first.close()
    second = covec.MilvusClient(path, shm_dir=str(shm_dir))
    try:
        assert second.list_indexes("c") == ["by_age"]
        d = second.describe_index("c", "by_age")
        assert (d["index_type"], d["field_name"], d["note"]) == ("STL_SORT", "age", "x")
    finally:
        second.close()


def test_a_milvus_lite_db_brings_its_scalar_indexes_into_covec(pair):
    """`covec import` (covec._transfer) reads Lite's indexes through describe_index, scalar ones ("NONE" metric)
    included, and covec keeps them."""
    from covec import _transfer

    ours, lite = pair
    both(pair, create_three)
    ours.drop_collection("c")
    _transfer.copy(lite, ours, ["c"], quiet=True)
    assert ours.list_indexes("c") == lite.list_indexes("c") == ["v", "age", "category"]
    for name in ("v", "age", "category"):
        assert described(ours, name) == described(lite, name), name


def test_dropping_a_bm25_outputs_index_keeps_its_search(client):
    """A BM25 function's output carries its BM25 sections in every part whether indexed or not; dropping the
    user's index on it must leave them (a search after the drop once reported the db damaged)."""
    from pymilvus import Function, FunctionType

    s = client.create_schema(auto_id=False)
    s.add_field("id", covec.DataType.INT64, is_primary=True)
    s.add_field("text", covec.DataType.VARCHAR, max_length=1000, enable_analyzer=True)
    s.add_field("sparse", covec.DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"]))
    client.create_collection("m", schema=s)
    texts = ["python programming", "java programming", "machine learning", "python python snakes"]
    client.insert("m", [{"id": i, "text": t} for i, t in enumerate(texts)])
    idx = client.prepare_index_params()
    idx.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_index("m", idx)

    def ranked():
        return [(h["id"], round(h["distance"], 5)) for h in client.search("m", data=["python"], anns_field="sparse", limit=3)[0]]

    before = ranked()
    assert [i for i, _ in before] == [3, 0]
    client.drop_index("m", "sparse_idx")
    assert client.list_indexes("m") == []
    assert ranked() == before
    client.insert("m", [{"id": 9, "text": "python"}])
    assert [i for i, _ in ranked()][:1] == [9]
