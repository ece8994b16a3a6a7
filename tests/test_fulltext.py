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
