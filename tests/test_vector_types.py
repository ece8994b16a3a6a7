"""FLOAT16, BFLOAT16, INT8, BINARY and SPARSE_FLOAT_VECTOR fields: stored, searched exactly (numpy is
the reference, over the values each type stores) and through their indexes, several vector fields in
one collection, pymilvus's input and output shapes, and bad input refused with nothing kept. Milvus
Lite (which has SPARSE_FLOAT_VECTOR) is the oracle for sparse inner-product search."""

import numpy as np
import pytest

from covec import DataType
from covec.exceptions import DataNotMatchException, MilvusException

ml_dtypes = pytest.importorskip("ml_dtypes")

DIM = 16
N = 400
K = 10


def dense_rows(dtype, n=N, seed=5):
    """Rows of the numpy dtype the field stores, and the float64 values they hold."""
    rng = np.random.default_rng(seed)
    if dtype == "int8":
        stored = rng.integers(-100, 100, (n, DIM)).astype(np.int8)
    else:
        stored = rng.standard_normal((n, DIM)).astype(np.float32).astype(dtype)
    return stored, stored.astype(np.float64)


def reference(values, q, metric, k=K):
    """Exact top-k ids and distances as Milvus reports them."""
    if metric == "L2":
        d = ((values - q) ** 2).sum(axis=1)
        order = np.argsort(d, kind="stable")
    else:
        d = values @ q
        if metric == "COSINE":
            d = d / (np.linalg.norm(values, axis=1) * np.linalg.norm(q))
        order = np.argsort(-d, kind="stable")
    return order[:k], d[order[:k]]


def dense_schema(client, field_type, **kw):
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", field_type, **kw)
    return schema


DENSE = [
    (DataType.FLOAT16_VECTOR, "float16"),
    (DataType.BFLOAT16_VECTOR, ml_dtypes.bfloat16),
    (DataType.INT8_VECTOR, "int8"),
]


@pytest.mark.parametrize("field_type,dtype", DENSE, ids=["float16", "bfloat16", "int8"])
@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_dense_types_search_exactly_like_numpy(client, field_type, dtype, metric):
    stored, values = dense_rows(dtype)
    schema = dense_schema(client, field_type, dim=DIM)
    idx = client.prepare_index_params()
    idx.add_index("v", index_type="FLAT", metric_type=metric)
    client.create_collection("c", schema=schema, index_params=idx)
    client.insert("c", [{"id": i, "v": stored[i]} for i in range(N)])
    queries, qvalues = dense_rows(dtype, n=3, seed=9)
    res = client.search("c", data=list(queries), limit=K, output_fields=["v"])
    for hits, q in zip(res, qvalues):
        want_ids, want_d = reference(values, q, metric)
        got_ids = [h["id"] for h in hits]
        assert got_ids == want_ids.tolist()
        np.testing.assert_allclose([h["distance"] for h in hits], want_d, rtol=1e-3, atol=1e-3)
    # Search hits carry the stored bytes; query rows wrap them in a list, as pymilvus returns them.
    assert res[0][0]["entity"]["v"] == stored[res[0][0]["id"]].tobytes()
    row = client.get("c", ids=[7], output_fields=["v"])[0]
    assert row["v"] == [stored[7].tobytes()]
    back = np.frombuffer(row["v"][0], dtype=dtype)
    np.testing.assert_array_equal(back.astype(np.float64), values[7])


@pytest.mark.parametrize("field_type,dtype", DENSE, ids=["float16", "bfloat16", "int8"])
def test_graph_over_typed_rows_finds_the_exact_neighbours(client, field_type, dtype):
    n = 1500  # past the 1024 rows from which a collection gets a graph
    stored, values = dense_rows(dtype, n=n, seed=2)
    schema = dense_schema(client, field_type, dim=DIM)
    idx = client.prepare_index_params()
    idx.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 16, "efConstruction": 200})
    client.create_collection("g", schema=schema, index_params=idx)
    client.insert("g", [{"id": i, "v": stored[i]} for i in range(n)])
    client.flush("g")  # waits for the background build the insert started
    assert client.describe_index("g", "v")["pending_index_rows"] == 0
    queries, qvalues = dense_rows(dtype, n=20, seed=4)
    found = 0
    for q, qv in zip(queries, qvalues):
        hits = client.search("g", data=[q], limit=K, search_params={"params": {"ef": 128}})[0]
        want, _ = reference(values, qv, "L2")
        found += len(set(h["id"] for h in hits) & set(want.tolist()))
    assert found / (20 * K) >= 0.95


def test_float32_values_are_rounded_into_16_bit_fields(client):
    client.create_collection("h", schema=dense_schema(client, DataType.FLOAT16_VECTOR, dim=4))
    client.insert("h", [{"id": 1, "v": [0.1, 0.2, 0.3, 6e4]}, {"id": 2, "v": np.ones(4, np.float32)}])
    got = np.frombuffer(client.get("h", ids=[1])[0]["v"][0], dtype=np.float16)
    np.testing.assert_array_equal(got, np.array([0.1, 0.2, 0.3, 6e4], dtype=np.float16))
    # Beyond float16's range a value would be infinite: refused, naming the field.
    with pytest.raises(MilvusException, match="FLOAT16_VECTOR field 'v' holds inf at dimension 3"):
        client.insert("h", [{"id": 3, "v": [0.1, 0.2, 0.3, 1e5]}])
    # A float32 query is rounded to float16 too: the stored row is at distance 0.
    hits = client.search("h", data=[[0.1, 0.2, 0.3, 6e4]], limit=1, search_params={"metric_type": "L2"})
    assert hits[0][0]["id"] == 1 and hits[0][0]["distance"] == 0.0


BITS = 64


@pytest.mark.parametrize("metric", ["HAMMING", "JACCARD"])
def test_binary_vectors_search_like_numpy(client, metric):
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, (N, BITS)).astype(bool)
    packed = np.packbits(bits, axis=1, bitorder="little")
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("b", DataType.BINARY_VECTOR, dim=BITS)
    idx = client.prepare_index_params()
    idx.add_index("b", index_type="BIN_IVF_FLAT", metric_type=metric, params={"nlist": 16})
    client.create_collection("b", schema=schema, index_params=idx)
    client.insert("b", [{"id": i, "b": packed[i].tobytes() if i % 2 else packed[i]} for i in range(N)])
    q = rng.integers(0, 2, BITS).astype(bool)
    hits = client.search("b", data=[np.packbits(q, bitorder="little").tobytes()], limit=K, output_fields=["b"])[0]
    both = (bits & q).sum(axis=1)
    either = (bits | q).sum(axis=1)
    d = (bits != q).sum(axis=1) if metric == "HAMMING" else (either - both) / np.maximum(either, 1)
    for h in hits:
        assert h["distance"] == pytest.approx(d[h["id"]], rel=1e-6)
    assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)
    assert hits[0]["distance"] == pytest.approx(d.min())
    assert hits[0]["entity"]["b"] == packed[hits[0]["id"]].tobytes()
    assert client.get("b", ids=[3])[0]["b"] == [packed[3].tobytes()]


def sparse_rows(n=N, seed=8):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        dims = rng.choice(1000, size=rng.integers(1, 20), replace=False)
        rows.append({int(d): float(np.float32(rng.random())) for d in dims})
    return rows


def sparse_schema(client):
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("s", DataType.SPARSE_FLOAT_VECTOR)
    return schema


def sparse_ip(row, q):
    return sum(np.float32(v) * np.float32(q[i]) for i, v in row.items() if i in q)


@pytest.mark.parametrize("indexed", [True, False], ids=["inverted-index", "no-index"])
def test_sparse_ip_search_is_exact(client, indexed):
    rows = sparse_rows()
    idx = client.prepare_index_params()
    if indexed:
        idx.add_index("s", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection("s", schema=sparse_schema(client), index_params=idx if indexed else None)
    # Every input shape pymilvus takes: dicts, (index, value) pairs, a scipy sparse row.
    scipy = pytest.importorskip("scipy.sparse")
    data = []
    for i, r in enumerate(rows):
        if i % 3 == 1:
            r = list(r.items())
        elif i % 3 == 2:
            keys = sorted(r)
            r = scipy.csr_matrix(([r[k] for k in keys], ([0] * len(keys), keys)), shape=(1, 1000))
        data.append({"id": i, "s": r})
    client.insert("s", data)
    q = sparse_rows(1, seed=99)[0]
    hits = client.search("s", data=[q], limit=K, output_fields=["s"], search_params={"metric_type": "IP"})[0]
    scores = np.array([sparse_ip(r, q) for r in rows], dtype=np.float64)
    want = [i for i in np.argsort(-scores, kind="stable") if scores[i] > 0][:K]
    assert [h["id"] for h in hits] == want
    np.testing.assert_allclose([h["distance"] for h in hits], scores[want], rtol=1e-5)
    assert hits[0]["entity"]["s"] == pytest.approx(rows[hits[0]["id"]])
    assert client.get("s", ids=[5])[0]["s"] == pytest.approx(rows[5])
    # drop_ratio_search drops the query's smallest terms (knowhere's rule).
    half = client.search("s", data=[q], limit=K, search_params={"params": {"drop_ratio_search": 0.5}})[0]
    kept = sorted(q.values())[int(0.5 * len(q)) :]
    small = {i: v for i, v in q.items() if v >= kept[0]}
    want_half = sorted(range(N), key=lambda i: (-sparse_ip(rows[i], small), i))[: len(half)]
    assert [h["id"] for h in half] == want_half


def test_sparse_ip_search_equals_milvus_lite(tmp_path, client):
    pymilvus = pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    rows = sparse_rows(n=200, seed=21)
    queries = sparse_rows(n=4, seed=22)
    lite = pymilvus.MilvusClient(str(tmp_path / "lite.db"))
    try:
        results = []
        for c in (client, lite):
            idx = c.prepare_index_params()
            idx.add_index("s", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
            c.create_collection("s", schema=sparse_schema(c), index_params=idx)
            c.insert("s", [{"id": i, "s": r} for i, r in enumerate(rows)])
            results.append(c.search("s", data=queries, limit=K, anns_field="s", search_params={"metric_type": "IP"}))
        ours, theirs = results
        for a, b in zip(ours, theirs):
            assert [h["id"] for h in a] == [h["id"] for h in b]
            np.testing.assert_allclose([h["distance"] for h in a], [h["distance"] for h in b], rtol=1e-5)
    finally:
        lite.close()


def test_several_vector_fields_each_with_its_index(client):
    stored, values = dense_rows("float16", n=50)
    rows = sparse_rows(n=50)
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("half", DataType.FLOAT16_VECTOR, dim=DIM)
    schema.add_field("s", DataType.SPARSE_FLOAT_VECTOR)
    idx = client.prepare_index_params()
    idx.add_index("dense", index_type="HNSW", metric_type="IP", index_name="dense_idx")
    idx.add_index("half", index_type="FLAT", metric_type="L2", index_name="half_idx")
    idx.add_index("s", index_type="SPARSE_WAND", metric_type="IP", index_name="s_idx")
    client.create_collection("m", schema=schema, index_params=idx)
    client.insert("m", [{"id": i, "dense": values[i].astype(np.float32), "half": stored[i], "s": rows[i]} for i in range(50)])
    assert client.describe_index("m", "half_idx")["metric_type"] == "L2"
    assert client.describe_index("m", "s_idx")["index_type"] == "SPARSE_WAND"
    assert client.describe_index("m", "dense_idx")["metric_type"] == "IP"
    half = client.search("m", data=[stored[3]], anns_field="half", limit=1)[0][0]
    assert (half["id"], half["distance"]) == (3, 0.0)
    dense = client.search("m", data=[values[3].astype(np.float32)], anns_field="dense", limit=1)[0][0]
    ips = values @ values[3]
    assert dense["id"] == int(np.argmax(ips))
    assert dense["distance"] == pytest.approx(ips.max(), rel=1e-3)
    sparse = client.search("m", data=[rows[4]], anns_field="s", limit=1)[0][0]
    best = max(range(50), key=lambda i: (sparse_ip(rows[i], rows[4]), -i))
    assert sparse["id"] == best
    with pytest.raises(MilvusException, match="multiple anns_fields"):
        client.search("m", data=[values[0].astype(np.float32)], limit=1)


def test_bad_input_is_refused_and_nothing_is_kept(client):
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("h", DataType.FLOAT16_VECTOR, dim=4)
    schema.add_field("b", DataType.BINARY_VECTOR, dim=16)
    schema.add_field("s", DataType.SPARSE_FLOAT_VECTOR)
    client.create_collection("x", schema=schema)
    good = {"id": 1, "h": np.ones(4, np.float16), "b": b"\x01\x02", "s": {1: 0.5}}
    client.insert("x", [good])
    bad = [
        ({"h": np.ones(3, np.float16)}, "expected dim 4"),
        ({"h": np.ones(4, np.int8)}, "should be a FLOAT16_VECTOR"),
        ({"b": b"\x01"}, "16 bits, so each vector is 2 bytes"),
        ({"s": {-1: 0.5}}, "invalid index in sparse float vector"),
        ({"s": {3: float("nan")}}, "must not be NaN"),
        ({"s": {3: float("inf")}}, "not a finite float32"),
        ({"s": {2**32: 1.0}}, r"less than 2\^32-1"),
    ]
    for change, message in bad:
        with pytest.raises(MilvusException, match=message):
            client.insert("x", [{**good, "id": 2}, {**good, "id": 3, **change}])
    assert client.query("x", output_fields=["count(*)"])[0]["count(*)"] == 1
    with pytest.raises(MilvusException, match="does not fit a BINARY_VECTOR field"):
        client.create_index("x", _index(client, "b", "HNSW", "HAMMING"))
    with pytest.raises(MilvusException, match="L2 is not valid for SPARSE_FLOAT_VECTOR field 's'"):
        client.create_index("x", _index(client, "s", "SPARSE_INVERTED_INDEX", "L2"))
    with pytest.raises(MilvusException, match="multiple of 8"):
        s2 = client.create_schema()
        s2.add_field("id", DataType.INT64, is_primary=True)
        s2.add_field("b", DataType.BINARY_VECTOR, dim=12)
        client.create_collection("y", schema=s2)
    with pytest.raises(MilvusException, match="search it with binary"):
        client.search("x", data=[[1.0] * 16], anns_field="b", limit=1)
    with pytest.raises(MilvusException, match="INT8_VECTOR|binary|dense"):
        client.search("x", data=[b"\x01\x02"], anns_field="h", limit=1)
    assert issubclass(DataNotMatchException, MilvusException)


def _index(client, field, index_type, metric):
    idx = client.prepare_index_params()
    idx.add_index(field, index_type=index_type, metric_type=metric)
    return idx
