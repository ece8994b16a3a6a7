"""Full-text search through MilvusClient: text_match and phrase_match on match-enabled fields (answered from the
match index every part carries), against Milvus Lite where Lite defines the behaviour, and the errors a user
gets for what covec refuses."""

import json
import os
import subprocess
import sys

import pytest

import covec
from covec import DataType
from covec.exceptions import MilvusException, ParamError

DIM = 4

DOCS = [
    "python is a popular programming language",
    "java is another popular programming language",
    "machine learning uses python extensively",
    "deep learning and neural networks",
    "databases store and retrieve data efficiently",
    "sql is used for database queries",
    "python and java are both object oriented",
    "natural language processing with python",
    "",
    "Machine-Learning and MACHINE learning",
]


def schema(mod, analyzer=None, match=True):
    s = mod.MilvusClient.create_schema(enable_dynamic_field=False)
    s.add_field("id", mod.DataType.INT64, is_primary=True)
    kwargs = {"enable_analyzer": True, "enable_match": match}
    if analyzer is not None:
        kwargs["analyzer_params"] = analyzer
    s.add_field("text", mod.DataType.VARCHAR, max_length=1000, **kwargs)
    s.add_field("category", mod.DataType.VARCHAR, max_length=100, nullable=True)
    s.add_field("dense", mod.DataType.FLOAT_VECTOR, dim=DIM)
    return s


def rows(docs=DOCS, start=0):
    return [
        {
            "id": start + i,
            "text": t,
            "category": ["a", "b", None][i % 3],
            "dense": [float((start + i) % 5), 1.0, float(i % 2), 0.5],
        }
        for i, t in enumerate(docs)
    ]


def create(client, mod, name, analyzer=None, data=None):
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema(mod, analyzer), index_params=index)
    client.insert(name, data if data is not None else rows())


def ids(results):
    return sorted(r["id"] for r in results)


TEXT_FILTERS = [
    "text_match(text, 'python')",
    "text_match(text, 'python java')",
    "text_match(text, 'PYTHON, Learning!')",
    "text_match(text, 'nonexistent')",
    "text_match(text, '')",
    "text_match(text, 'python') and category == 'a'",
    "not text_match(text, 'language') and id < 8",
    "text_match(text, 'machine') or text_match(text, 'sql')",
    "TEXT_MATCH(text, \"programming\")",
]


def test_text_match_equals_milvus_lite(client, tmp_path):
    pymilvus = pytest.importorskip("pymilvus")
    lite = pymilvus.MilvusClient(str(tmp_path / "lite.db"))
    try:
        create(client, covec, "docs")
        create(lite, pymilvus, "docs")
        for expr in TEXT_FILTERS:
            ours = ids(client.query("docs", filter=expr, output_fields=["id"]))
            theirs = ids(lite.query("docs", filter=expr, output_fields=["id"]))
            assert ours == theirs, expr
            assert client.query("docs", filter=expr, output_fields=["count(*)"])[0]["count(*)"] == len(theirs)
        for expr in TEXT_FILTERS[:3]:
            ours = client.search("docs", data=[[0.0, 1.0, 0.0, 0.5]], anns_field="dense", filter=expr, limit=20)
            theirs = lite.search("docs", data=[[0.0, 1.0, 0.0, 0.5]], anns_field="dense", filter=expr, limit=20)
            assert [h["id"] for h in ours[0]] == [h["id"] for h in theirs[0]], expr
    finally:
        lite.close()


def test_text_match_follows_writes_across_parts(client):
    """Every commit's part carries its match index; deletes, upserts and merges keep answers exact."""
    create(client, covec, "docs")
    client.insert("docs", rows(["python rocks", "rust rocks"], start=100))
    assert ids(client.query("docs", filter="text_match(text, 'rocks')")) == [100, 101]
    client.upsert("docs", rows(["no longer about it"], start=100))
    client.delete("docs", ids=[2])
    assert ids(client.query("docs", filter="text_match(text, 'python')")) == [0, 6, 7]
    assert ids(client.query("docs", filter="text_match(text, 'rocks')")) == [101]
    for k in range(12):  # many small commits: parts merge, indexes are rebuilt over the merged rows
        client.insert("docs", rows([f"batch {k} python"], start=200 + k))
    assert ids(client.query("docs", filter="text_match(text, 'python')")) == [0, 6, 7] + list(range(200, 212))
    assert ids(client.query("docs", filter="text_match(text, 'batch') and id >= 210")) == [210, 211]


def test_phrase_match_with_slop(client):
    create(client, covec, "docs")
    q = lambda expr: ids(client.query("docs", filter=expr))  # noqa: E731
    assert q("phrase_match(text, 'programming language')") == [0, 1]
    assert q("phrase_match(text, 'popular language')") == []
    assert q("phrase_match(text, 'popular language', 1)") == [0, 1]  # one word between
    assert q("phrase_match(text, 'another language', 2)") == [1]
    assert q("phrase_match(text, 'language programming', 5)") == []  # order is kept at any slop
    assert q("phrase_match(text, 'machine learning')") == [2, 9]
    assert q("phrase_match(text, 'python')") == [0, 2, 6, 7]
    for bad in ("phrase_match(text, 'a b', 'x')", "phrase_match(text, 'a b', -1)"):
        with pytest.raises(MilvusException) as e:
            q(bad)
        assert "slop" in e.value.message


def test_analyzers_apply_to_rows_and_queries(client):
    create(client, covec, "english", analyzer={"type": "english"})
    assert ids(client.query("english", filter="text_match(text, 'networking')")) == [3]  # network stem
    assert ids(client.query("english", filter="text_match(text, 'the and is')")) == []  # stop words
    create(client, covec, "chinese", analyzer={"type": "chinese"},
           data=rows(["用户订单表记录每个订单的金额", "商品库存表", "用户登录日志"]))
    assert ids(client.query("chinese", filter="text_match(text, '订单')")) == [0]
    assert ids(client.query("chinese", filter="text_match(text, '用户')")) == [0, 2]
    assert ids(client.query("chinese", filter="phrase_match(text, '用户订单')")) == [0]


def test_match_index_is_read_by_another_process(tmp_path, shm_dir):
    """A collection written by one process is text-matched by another, from the segment it maps."""
    path = str(tmp_path / "shared.db")
    writer = covec.MilvusClient(path, shm_dir=str(shm_dir))
    create(writer, covec, "docs")
    code = (
        "import json, sys, covec\n"
        "c = covec.MilvusClient(sys.argv[1], shm_dir=sys.argv[2])\n"
        "r = c.query('docs', filter=\"text_match(text, 'python') and phrase_match(text, 'java are', 0)\")\n"
        "print(json.dumps(sorted(x['id'] for x in r)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, path, str(shm_dir)], capture_output=True, text=True, check=True, env=os.environ
    )
    assert json.loads(out.stdout) == [6]
    writer.close()


def test_text_match_needs_a_match_enabled_field(client):
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT", metric_type="L2")
    client.create_collection("plain", schema=schema(covec, match=False), index_params=index)
    client.insert("plain", rows())
    with pytest.raises(MilvusException) as e:
        client.query("plain", filter="text_match(text, 'python')")
    assert e.value.code == 1100 and "enable_match=True" in e.value.message
    with pytest.raises(MilvusException) as e:
        client.query("plain", filter="text_match(id, 'python')")
    assert "VARCHAR field" in e.value.message


def test_bad_analyzer_settings_are_refused_at_create(client):
    def refused(**field_kwargs):
        s = client.create_schema()
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("text", DataType.VARCHAR, max_length=100, **field_kwargs)
        s.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
        with pytest.raises(MilvusException) as e:
            client.create_collection("bad", schema=s)
        assert not client.has_collection("bad")
        return e.value

    e = refused(enable_analyzer=True, analyzer_params={"type": "klingon"})
    assert "unknown analyzer type" in e.message
    e = refused(enable_match=True)
    assert e.code == 1100 and "not enable analyzer" in e.message
    e = refused(enable_analyzer=True, analyzer_params={"tokenizer": "standard", "filter": ["nope"]})
    assert "nope" in e.message
    with pytest.raises(ParamError):
        s = client.create_schema()
        s.add_field("id", DataType.INT64, is_primary=True, enable_analyzer=True)
        s.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
        client.create_collection("bad", schema=s)


def test_run_analyzer_shapes_hashes_and_field_analyzers(client):
    import zlib

    one = client.run_analyzer("Hello, World hello")
    assert one.tokens == ["hello", "world", "hello"]
    many = client.run_analyzer(["Running dogs", "数据库"], analyzer_params={"type": "english"})
    assert [r.tokens for r in many] == [["run", "dog"], ["数据库"]]
    detail = client.run_analyzer("héllo world", with_detail=True, with_hash=True)
    first, second = detail.tokens
    assert first["token"] == "héllo" and (first.start_offset, first.end_offset) == (0, 6)  # bytes, as the server
    assert (second.position, second.position_length) == (1, 1)
    # The BM25 term id the server stores: CRC-32 of the token's first 100 bytes, modulo 2^32 - 1.
    assert [t["hash"] for t in detail.tokens] == [zlib.crc32(t.encode()) % 0xFFFFFFFF for t in ("héllo", "world")]
    hashes_only = client.run_analyzer("a b", with_hash=True).tokens
    assert set(hashes_only[0].dict) == {"token", "hash"}

    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("lang", DataType.VARCHAR, max_length=8)
    multi = {"analyzers": {"default": {"type": "standard"}, "en": {"type": "english"}, "zh": {"type": "chinese"}},
             "by_field": "lang", "alias": {"cn": "zh"}}
    s.add_field("body", DataType.VARCHAR, max_length=100, enable_analyzer=True, multi_analyzer_params=multi)
    s.add_field("title", DataType.VARCHAR, max_length=100, enable_analyzer=True, analyzer_params={"type": "english"})
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection("m", schema=s)
    by_field = lambda texts, field, names=None: [  # noqa: E731
        r.tokens for r in client.run_analyzer(texts, collection_name="m", field_name=field, analyzer_names=names)
    ]
    assert by_field(["Running dogs"], "title") == [["run", "dog"]]
    assert by_field(["Running dogs", "Running dogs"], "body", ["en", "nope"]) == [["run", "dog"], ["running", "dogs"]]
    assert by_field(["用户订单"], "body", "cn") != by_field(["用户订单"], "body")
    with pytest.raises(MilvusException) as e:
        by_field(["x"], "lang")
    assert e.value.code == 1100 and "enable_analyzer=True" in e.value.message
    with pytest.raises(MilvusException) as e:
        by_field(["x", "y", "z"], "body", ["en", "zh"])
    assert "one per text" in e.value.message
    with pytest.raises(MilvusException) as e:
        by_field(["x"], "title", "en")
    assert "multi_analyzer_params" in e.value.message
    with pytest.raises(MilvusException):
        client.run_analyzer("x", analyzer_params={"tokenizer": "icu"})
    with pytest.raises(ParamError):
        client.run_analyzer("x", collection_name="m")
    with pytest.raises(MilvusException) as e:
        client.run_analyzer("x", collection_name="nope", field_name="body")
    assert e.value.code == 100


# --- BM25 -----------------------------------------------------------------------------------------------


def bm25_schema(mod, analyzer=None, nullable_text=False):
    from pymilvus import Function, FunctionType

    s = mod.MilvusClient.create_schema(enable_dynamic_field=False)
    s.add_field("id", mod.DataType.INT64, is_primary=True)
    kwargs = {"enable_analyzer": True, "enable_match": True}
    if analyzer is not None:
        kwargs["analyzer_params"] = analyzer
    s.add_field("text", mod.DataType.VARCHAR, max_length=1000, nullable=nullable_text, **kwargs)
    s.add_field("category", mod.DataType.VARCHAR, max_length=100, nullable=True)
    s.add_field("dense", mod.DataType.FLOAT_VECTOR, dim=DIM)
    s.add_field("sparse", mod.DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                            output_field_names=["sparse"]))
    return s


def create_bm25(client, mod, name, index=True, k1=None, data=None, **schema_kwargs):
    params = client.prepare_index_params()
    params.add_index("dense", index_type="FLAT", metric_type="L2")
    if index:
        extra = {} if k1 is None else {"bm25_k1": k1, "bm25_b": 0.75}
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=extra)
    client.create_collection(name, schema=bm25_schema(mod, **schema_kwargs), index_params=params)
    client.insert(name, rows() if data is None else data)


QUERIES = ["python", "python language", "learning python python", "java sql unknownword", "and", "machine"]


def test_bm25_hits_and_scores_equal_milvus_lite(client, tmp_path):
    """With Lite's parameters (k1 1.5, b 0.75) covec's BM25 equals Lite's; Lite negates the score."""
    pymilvus = pytest.importorskip("pymilvus")
    lite = pymilvus.MilvusClient(str(tmp_path / "lite.db"))
    try:
        create_bm25(client, covec, "docs", k1=1.5)
        create_bm25(lite, pymilvus, "docs")
        ours = client.search("docs", data=QUERIES, anns_field="sparse", limit=10, output_fields=["text"])
        theirs = lite.search("docs", data=QUERIES, anns_field="sparse", limit=10, output_fields=["text"],
                             search_params={"metric_type": "BM25"})
        assert len(ours) == len(QUERIES)
        for q, a, b in zip(QUERIES, ours, theirs):
            assert [h["id"] for h in a] == [h["id"] for h in b], q
            assert [h["distance"] for h in a] == pytest.approx([-h["distance"] for h in b], rel=1e-6), q
            assert [h["entity"]["text"] for h in a] == [h["entity"]["text"] for h in b], q
        for expr in ("category == 'a'", "text_match(text, 'java')"):
            a = client.search("docs", data=["python java"], anns_field="sparse", filter=expr, limit=10)
            b = lite.search("docs", data=["python java"], anns_field="sparse", filter=expr, limit=10,
                            search_params={"metric_type": "BM25"})
            assert [h["id"] for h in a[0]] == [h["id"] for h in b[0]], expr
    finally:
        lite.close()


def test_bm25_follows_the_servers_defaults_without_an_index(client):
    """No index on the output field: metric BM25, k1 1.2, b 0.75 (the server's defaults); scores positive,
    best first; the output field is computed, never given."""
    create_bm25(client, covec, "docs", index=False)
    hits = client.search("docs", data=["python"], anns_field="sparse", limit=10)[0]
    assert sorted(h["id"] for h in hits) == [0, 2, 6, 7]
    assert all(h["distance"] > 0 for h in hits)
    assert [h["distance"] for h in hits] == sorted((h["distance"] for h in hits), reverse=True)
    assert client.search("docs", data=["zzz unknown"], anns_field="sparse", limit=10) == [[]]
    assert client.search("docs", data=[""], anns_field="sparse", limit=10) == [[]]
    stored = client.get("docs", ids=[7], output_fields=["sparse"])[0]["sparse"]
    assert sorted(stored.values()) == [1.0] * 5  # natural language processing with python
    with pytest.raises(covec.exceptions.DataNotMatchException, match="unexpected function output field `sparse`"):
        client.insert("docs", [{"id": 50, "text": "x", "dense": [0, 0, 0, 0], "sparse": {1: 1.0}}])


def test_bm25_statistics_follow_inserts_upserts_deletes_and_merges(client):
    """Scores of a collection grown by many commits (upserts, deletes, merges) equal those of one holding just its
    live rows, written once: the corpus statistics are exact."""
    create_bm25(client, covec, "grown", data=rows()[:3])
    for k in range(3, len(DOCS)):
        client.insert("grown", rows()[k:k + 1])
    client.upsert("grown", rows(["python python rust"], start=0))  # replaces row 0's text
    client.upsert("grown", [{"id": 1, "category": "z"}], partial_update=True)  # keeps row 1's text and vector
    client.delete("grown", ids=[4])
    client.delete("grown", filter="text_match(text, 'sql')")
    live = client.query("grown", filter="id >= 0", output_fields=["text", "category", "dense"])
    create_bm25(client, covec, "fresh", data=[{k: r[k] for k in ("id", "text", "category", "dense")} for r in live])
    assert client.get_collection_stats("grown")["row_count"] == len(live) == len(DOCS) - 2
    for q in QUERIES + ["rust python"]:
        a = client.search("grown", data=[q], anns_field="sparse", limit=20)[0]
        b = client.search("fresh", data=[q], anns_field="sparse", limit=20)[0]
        assert [(h["id"], h["distance"]) for h in a] == [(h["id"], h["distance"]) for h in b], q


def test_bm25_routes_hybrid_search_and_search_iterators(client):
    """A BM25 output field is searched with query text wherever a vector field is: as a route of hybrid_search
    (its rank is its search's rank) and by search_iterator (the pages are its search, cut in pages)."""
    create_bm25(client, covec, "docs", index=False)
    text = client.search("docs", data=["python language"], anns_field="sparse", limit=10)[0]
    dense = client.search("docs", data=[[0.0, 1.0, 0.0, 0.5]], anns_field="dense", limit=10)[0]
    routes = [covec.AnnSearchRequest(["python language"], "sparse", {}, 10),
              covec.AnnSearchRequest([[0.0, 1.0, 0.0, 0.5]], "dense", {}, 10)]
    merged = client.hybrid_search("docs", routes, covec.RRFRanker(60), limit=20)[0]
    expected = {}
    for hits in (text, dense):
        for rank, h in enumerate(hits, 1):
            expected[h["id"]] = expected.get(h["id"], 0.0) + 1 / (60 + rank)
    assert {h["id"]: h["distance"] for h in merged} == pytest.approx(expected, rel=1e-6)
    it = client.search_iterator("docs", ["python language"], batch_size=3, anns_field="sparse")
    paged = []
    while page := it.next():
        paged.extend(page)
    it.close()
    assert [(h["id"], h["distance"]) for h in paged] == [(h["id"], h["distance"]) for h in text]


def test_bm25_parameters_and_their_errors(client):
    create_bm25(client, covec, "docs", index=False)
    base = client.search("docs", data=["python language"], anns_field="sparse", limit=10)[0]
    k1 = client.search("docs", data=["python language"], anns_field="sparse", limit=10,
                       search_params={"params": {"bm25_k1": 2.0, "bm25_b": 0.3}})[0]
    assert [h["distance"] for h in k1] != [h["distance"] for h in base]
    dropped = client.search("docs", data=["python language"], anns_field="sparse", limit=10,
                            search_params={"params": {"drop_ratio_search": 0.5}})[0]
    # "language" is the rarer (weightier) term: dropping half the terms keeps it, not "python".
    assert {h["id"] for h in dropped} == {0, 1, 7}
    for params, words in (({"bm25_k1": 5}, "k1"), ({"bm25_b": 1.5}, "b"), ({"drop_ratio_search": 1.0}, "drop_ratio")):
        with pytest.raises(MilvusException, match=words):
            client.search("docs", data=["python"], anns_field="sparse", search_params={"params": params})
    with pytest.raises(MilvusException) as e:
        client.search("docs", data=[{1: 0.5}], anns_field="sparse")
    assert e.value.code == 1100 and "query text" in e.value.message
    with pytest.raises(MilvusException) as e:
        client.search("docs", data=["python"], anns_field="dense")
    assert "BM25 function" in e.value.message
    with pytest.raises(MilvusException) as e:
        client.search("docs", data=["python"], anns_field="sparse", search_params={"metric_type": "IP"})
    assert "metric BM25" in e.value.message
    bad = client.prepare_index_params()
    bad.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    with pytest.raises(MilvusException, match="BM25"):
        client.create_index("docs", bad)
    bad = client.prepare_index_params()
    bad.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_b": 2})
    with pytest.raises(MilvusException, match="b"):
        client.create_index("docs", bad)


def test_bad_bm25_functions_are_refused_at_create(client):
    from pymilvus import Function, FunctionType

    def refused(text_kwargs, output_type=DataType.SPARSE_FLOAT_VECTOR, input_name="text", exc=MilvusException):
        s = client.create_schema()
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("text", DataType.VARCHAR, max_length=100, **text_kwargs)
        s.add_field("out", output_type, **({"dim": 4} if output_type == DataType.FLOAT_VECTOR else {}))
        s.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
        s.add_function(Function(name="f", function_type=FunctionType.BM25, input_field_names=[input_name],
                                output_field_names=["out"]))
        with pytest.raises(exc) as e:
            client.create_collection("bad", schema=s)
        assert not client.has_collection("bad")
        return e.value

    assert "enable_analyzer to true" in refused({}).message
    assert refused({"enable_analyzer": True}, DataType.FLOAT_VECTOR, exc=ParamError).message == (
        "BM25 function output field must be SPARSE_FLOAT_VECTOR.")
    assert refused({"enable_analyzer": True}, input_name="id", exc=ParamError).message == (
        "BM25 function input field must be VARCHAR.")
    assert "unknown analyzer type" in refused({"enable_analyzer": True, "analyzer_params": {"type": "x"}}).message


def test_bm25_collection_is_searched_by_another_process(tmp_path, shm_dir):
    path = str(tmp_path / "shared.db")
    writer = covec.MilvusClient(path, shm_dir=str(shm_dir))
    create_bm25(writer, covec, "docs")
    expected = [(h["id"], h["distance"]) for h in writer.search("docs", data=["python java"], anns_field="sparse")[0]]
    code = (
        "import json, sys, covec\n"
        "c = covec.MilvusClient(sys.argv[1], shm_dir=sys.argv[2])\n"
        "r = c.search('docs', data=['python java'], anns_field='sparse')[0]\n"
        "print(json.dumps([[h['id'], h['distance']] for h in r]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, path, str(shm_dir)], capture_output=True, text=True, check=True, env=os.environ
    )
    assert [tuple(x) for x in json.loads(out.stdout)] == expected
    writer.close()
