"""milvus-haystack's MilvusDocumentStore on covec: every scenario runs on Milvus Lite (the oracle) and on covec
(pymilvus patched) with hash-seeded embeddings, and covec must answer as Lite does. Features covec does not have yet
must raise on covec (and work on Lite, so the scenario itself is sound).

milvus-haystack 0.1.0 has no max-marginal-relevance search, no delete by filter and no async methods of its own;
Haystack's Pipeline.run_async running the retriever stands for the async path."""

import asyncio

from differential import (
    DIM,
    QUERIES,
    assert_both_same,
    hash_vector,
    lite_answers_covec_raises,
    metadata,
    note,
    reopened_in_new_processes,
    run_both,
    run_docs_example,
    searched_from_a_second_process,
)
from haystack import Document, Pipeline
from haystack.document_stores.types import DuplicatePolicy
from milvus_haystack import MilvusDocumentStore, MilvusEmbeddingRetriever, MilvusHybridRetriever
from milvus_haystack.function import BM25BuiltInFunction


def documents(count=30, start=0, text="note {i} on {topic}", labels=True):
    made = []
    for i in range(start, start + count):
        content, meta = note(i, text), metadata(i)
        if labels:
            meta["labels"] = [f"l{i % 3}", "all"]
        made.append(Document(id=f"doc-{i}", content=content, meta=meta, embedding=hash_vector(content, DIM)))
    return made


def open_store(path, **kwargs):
    return MilvusDocumentStore(connection_args={"uri": path}, collection_name="notes", **kwargs)


def filled_store(path, **kwargs):
    store = open_store(path, **kwargs)
    assert store.write_documents(documents()) == 30
    return store


def shown(docs):
    """Documents as (id, content, meta, score, embedding)."""
    return [(d.id, d.content, d.meta, d.score, d.embedding) for d in docs]


def everything(store, filters=None):
    return sorted(shown(store.filter_documents(filters)))


def retrieve(store, text, **kwargs):
    return shown(
        MilvusEmbeddingRetriever(document_store=store, top_k=4).run(query_embedding=hash_vector(text, DIM), **kwargs)[
            "documents"
        ]
    )


# --- scenarios that work on covec -------------------------------------------------------------------------


def test_the_example_of_docs_frameworks_md_runs_on_covec(tmp_path):
    assert "covec shares one copy" in run_docs_example("milvus_haystack", "milvus_haystack.db", tmp_path)


def test_write_documents_with_metadata(tmp_path):
    def scenario(path):
        store = filled_store(path)
        return {"count": store.count_documents(), "all": everything(store)}

    result = assert_both_same(run_both(scenario, tmp_path))
    assert result["count"] == 30 and result["all"][0][0] == "doc-0" and result["all"][0][4] is not None


def test_similarity_search_with_and_without_scores(tmp_path):
    def scenario(path):
        store = filled_store(path)
        return [retrieve(store, q) for q in QUERIES] + [retrieve(store, QUERIES[0], top_k=7)]

    results = assert_both_same(run_both(scenario, tmp_path))
    assert all(len(r) == 4 for r in results[:3]) and len(results[3]) == 7 and results[0][0][3] is not None


FILTERS = {
    "eq": {"field": "meta.tag", "operator": "==", "value": "even"},
    "range": {
        "operator": "AND",
        "conditions": [
            {"field": "meta.n", "operator": ">", "value": 10},
            {"field": "meta.n", "operator": "<=", "value": 20},
        ],
    },
    "or": {
        "operator": "OR",
        "conditions": [
            {"field": "meta.n", "operator": "<", "value": 3},
            {"field": "meta.weight", "operator": ">=", "value": 7.0},
        ],
    },
    "in": {"field": "meta.n", "operator": "in", "value": [1, 5, 9, 28]},
    "not-in": {"field": "meta.tag", "operator": "not in", "value": ["odd"]},
    "not": {"operator": "NOT", "conditions": [{"field": "meta.n", "operator": "<", "value": 25}]},
    "ne": {"field": "meta.tag", "operator": "!=", "value": "odd"},
}


def test_metadata_filters(tmp_path):
    def scenario(path):
        store = filled_store(path)
        return {
            name: {"retrieved": retrieve(store, QUERIES[0], filters=f), "filtered": everything(store, f)}
            for name, f in FILTERS.items()
        }

    result = assert_both_same(run_both(scenario, tmp_path))
    assert all(r["retrieved"] for r in result.values()) and len(result["range"]["filtered"]) == 10


def test_upsert(tmp_path):
    def scenario(path):
        store = filled_store(path)
        replaced = documents(count=3, start=28, text="replaced note {i}") + documents(count=2, start=30)
        written = store.write_documents(replaced, policy=DuplicatePolicy.OVERWRITE)
        return {"written": written, "all": everything(store), "hits": retrieve(store, "replaced note 29")}

    result = assert_both_same(run_both(scenario, tmp_path))
    assert result["written"] == 5 and len(result["all"]) == 32 and result["hits"][0][1] == "replaced note 29"


def test_writing_an_existing_id_again_without_overwrite(tmp_path):
    # DuplicatePolicy.NONE inserts; Milvus Lite and covec both leave one row of the key, the newer.
    def scenario(path):
        store = filled_store(path)
        store.write_documents(documents(count=1, start=3, text="second copy {i}"))
        return {"count": store.count_documents(), "doc-3": [d[1] for d in everything(store) if d[0] == "doc-3"]}

    assert assert_both_same(run_both(scenario, tmp_path)) == {"count": 30, "doc-3": ["second copy 3"]}


def test_delete_by_id(tmp_path):
    def scenario(path):
        store = filled_store(path)
        store.delete_documents(["doc-0", "doc-7", "doc-29", "no-such-doc"])
        return {"count": store.count_documents(), "all": everything(store), "hits": retrieve(store, QUERIES[2])}

    result = assert_both_same(run_both(scenario, tmp_path))
    assert result["count"] == 27 and not {"doc-0", "doc-7", "doc-29"} & {d[0] for d in result["all"]}


def test_retriever_in_a_pipeline_run_and_run_async(tmp_path):
    def scenario(path):
        store = filled_store(path)
        pipeline = Pipeline()
        pipeline.add_component(
            "retriever", MilvusEmbeddingRetriever(document_store=store, top_k=3, filters=FILTERS["range"])
        )
        inputs = {"retriever": {"query_embedding": hash_vector(QUERIES[1], DIM)}}
        sync = pipeline.run(inputs)["retriever"]["documents"]

        async def run_async():
            return (await pipeline.run_async(inputs))["retriever"]["documents"]

        return {"sync": shown(sync), "async": shown(asyncio.run(run_async()))}

    result = assert_both_same(run_both(scenario, tmp_path))
    assert len(result["sync"]) == 3 and result["sync"] == result["async"]


# Child-process steps of the two scenarios below (run through differential.in_child).


def build(path):
    filled_store(path)


def search_reopened(path):
    store = open_store(path)
    return [retrieve(store, q) for q in QUERIES] + [store.count_documents()]


def search_later(path):
    return retrieve(open_store(path), "a later note 40")


def test_reopening_in_a_new_process(tmp_path):
    assert reopened_in_new_processes(__file__, tmp_path)[-1] == 30


def test_a_second_process_searches_while_the_first_has_the_store_open(tmp_path):
    def write_later(store):
        store.write_documents(documents(count=1, start=40, text="a later note {i}"))

    later = searched_from_a_second_process(__file__, tmp_path, filled_store, write_later, search_reopened, search_later)
    assert later[0][0] == "doc-40"


def test_partition_key(tmp_path):
    # A partition key only places rows on a server; the answers are the collection's. Its field is typed, so
    # without dynamic fields, and without list metadata (an ARRAY field, below).
    def scenario(path):
        store = open_store(path, enable_dynamic_field=False, partition_key_field="tag")
        assert store.write_documents(documents(labels=False)) == 30
        return retrieve(store, QUERIES[0], filters=FILTERS["eq"])

    found = assert_both_same(run_both(scenario, tmp_path))
    assert len(found) == 4 and all(meta["tag"] == "even" for _, _, meta, _, _ in found)


def test_array_metadata(tmp_path):
    def scenario(path):
        # Without dynamic fields, milvus-haystack makes a field per metadata key; a list becomes an ARRAY field.
        store = filled_store(path, enable_dynamic_field=False)
        return everything(store, {"field": "meta.n", "operator": "<", "value": 3})

    found = assert_both_same(run_both(scenario, tmp_path))
    assert [doc[2]["labels"] for doc in found] == [["l0", "all"], ["l1", "all"], ["l2", "all"]]


# --- what covec refuses, or answers as Lite does since issues 17 and 18 ------------------------------------


def test_a_ttl_property_is_refused(tmp_path):
    # covec keeps collection properties but stores no per-row insert time: it refuses the TTL rather than keep
    # rows a server would drop.
    def scenario(path):
        filled_store(path)
        # On an existing collection the constructor sets them; on a new one, the first write does.
        return retrieve(open_store(path, collection_properties={"collection.ttl.seconds": 86400}), QUERIES[0])

    lite_answers_covec_raises(tmp_path, scenario, "collection.ttl.seconds")


def test_bm25_and_hybrid_retrieval(tmp_path):
    def scenario(path):
        store = filled_store(
            path,
            builtin_function=BM25BuiltInFunction(),
            sparse_vector_field="sparse",
            sparse_index_params={"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25"},
        )
        retriever = MilvusHybridRetriever(document_store=store, top_k=3)
        return shown(
            retriever.run(query_embedding=hash_vector("shared memory", DIM), query_text="shared memory")["documents"]
        )

    # BM25 output and the hybrid retrieval around it: covec's answers are Lite's.
    assert_both_same(run_both(scenario, tmp_path))
