"""langchain-milvus's Milvus vector store on covec: every scenario runs on Milvus Lite (the oracle) and on covec
(pymilvus patched) with LangChain's own deterministic embeddings, and covec must answer as Lite does. Features covec
does not have yet must raise on covec (and work on Lite, so the scenario itself is sound)."""

import asyncio

import pytest
from differential import (
    DIM,
    QUERIES,
    assert_both_same,
    lite_answers_covec_raises,
    metadata,
    note,
    reopened_in_new_processes,
    run_both,
    run_docs_example,
    searched_from_a_second_process,
)
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_milvus import BM25BuiltInFunction, Milvus
from pymilvus import DataType

EMBEDDING = DeterministicFakeEmbedding(size=DIM)
TEXTS = [note(i) for i in range(30)]
METADATAS = [metadata(i) for i in range(30)]
IDS = [f"doc-{i}" for i in range(30)]


def open_store(path, **kwargs):
    kwargs.setdefault("embedding_function", EMBEDDING)
    return Milvus(connection_args={"uri": path}, collection_name="notes", **kwargs)


def filled_store(path, **kwargs):
    store = open_store(path, **kwargs)
    assert store.add_texts(TEXTS, METADATAS, ids=IDS) == IDS
    return store


def docs(documents):
    return [(d.page_content, d.metadata) for d in documents]


def scored(pairs):
    return [(d.page_content, d.metadata, score) for d, score in pairs]


def stored_rows(store):
    """Every stored document, in primary-key order (query order is not part of either API)."""
    return sorted(docs(store.search_by_metadata("n >= 0", limit=100)), key=lambda d: d[1]["pk"])


# --- scenarios that work on covec -------------------------------------------------------------------------


def test_the_example_of_docs_frameworks_md_runs_on_covec(tmp_path):
    assert "covec shares one copy" in run_docs_example("langchain_milvus", "milvus_langchain.db", tmp_path)


def test_add_texts_with_metadata(tmp_path):
    def scenario(path):
        store = filled_store(path)
        return {"pks": sorted(store.get_pks("n >= 0")), "rows": stored_rows(store)}

    result = assert_both_same(run_both(scenario, tmp_path))
    assert result["pks"] == sorted(IDS) and len(result["rows"]) == 30


def test_two_embeddings_search_through_hybrid_search(tmp_path):
    """Two dense embeddings make langchain-milvus search by hybrid_search: its default WeightedRanker(1, 1), and RRF."""

    def scenario(path):
        store = filled_store(
            path, embedding_function=[EMBEDDING, DeterministicFakeEmbedding(size=8)], vector_field=["dense", "small"]
        )
        return {
            "weighted": scored(store.similarity_search_with_score(QUERIES[0], k=3)),
            "rrf": scored(store.similarity_search_with_score(QUERIES[1], k=4, fetch_k=6, ranker_type="rrf")),
            "filtered": docs(store.similarity_search(QUERIES[2], k=3, expr="n >= 10")),
        }

    result = assert_both_same(run_both(scenario, tmp_path))
    assert [len(result[k]) for k in ("weighted", "rrf", "filtered")] == [3, 4, 3]
    assert all(meta["n"] >= 10 for _, meta in result["filtered"])


def test_from_documents_and_drop_old(tmp_path):
    def scenario(path):
        documents = [Document(t, metadata=m) for t, m in zip(TEXTS[:10], METADATAS[:10])]
        store = Milvus.from_documents(
            documents, EMBEDDING, connection_args={"uri": path}, collection_name="notes", ids=IDS[:10]
        )
        before = docs(store.similarity_search(QUERIES[0], k=2))
        # drop_old drops the collection (and pymilvus's schema cache, which langchain-milvus reaches through
        # client._get_connection()); the first add makes it again.
        reopened = open_store(path, drop_old=True)
        emptied = reopened.similarity_search(QUERIES[0], k=2)
        reopened.add_texts(TEXTS[10:12], METADATAS[10:12], ids=IDS[10:12])
        return {"before": before, "emptied": docs(emptied), "after": stored_rows(reopened)}

    result = assert_both_same(run_both(scenario, tmp_path))
    assert result["emptied"] == [] and len(result["before"]) == 2 and len(result["after"]) == 2


def test_similarity_search_with_and_without_scores(tmp_path):
    def scenario(path):
        store = filled_store(path)
        return [
            (docs(store.similarity_search(q, k=4)), scored(store.similarity_search_with_score(q, k=4))) for q in QUERIES
        ]

    for plain, with_scores in assert_both_same(run_both(scenario, tmp_path)):
        assert len(plain) == 4 and plain == [s[:2] for s in with_scores]


@pytest.mark.parametrize("dynamic", [False, True], ids=["typed-fields", "dynamic-field"])
def test_metadata_filters(tmp_path, dynamic):
    filters = [
        'tag == "even"',
        "n > 10 and n <= 20",
        "n in [1, 5, 9, 28]",
        'tag like "od%"',
        "weight >= 5.5",
        "not (n < 25)",
    ]

    def scenario(path):
        store = filled_store(path, enable_dynamic_field=dynamic)
        return [scored(store.similarity_search_with_score(QUERIES[0], k=5, expr=f)) for f in filters]

    results = assert_both_same(run_both(scenario, tmp_path))
    assert all(results) and all(d[1]["tag"] == "even" for d in results[0])


def test_search_by_vector(tmp_path):
    def scenario(path):
        store = filled_store(path)
        vector = EMBEDDING.embed_query("a query vector")
        return {
            "docs": docs(store.similarity_search_by_vector(vector, k=5)),
            "scored": scored(store.similarity_search_with_score_by_vector(vector, k=5, expr="n < 15")),
        }

    assert len(assert_both_same(run_both(scenario, tmp_path))["docs"]) == 5


def test_max_marginal_relevance(tmp_path):
    def scenario(path):
        store = filled_store(path)
        return {
            "text": docs(store.max_marginal_relevance_search(QUERIES[1], k=4, fetch_k=12, lambda_mult=0.3)),
            "filtered": docs(store.max_marginal_relevance_search(QUERIES[1], k=3, fetch_k=10, expr='tag == "odd"')),
            "vector": docs(store.max_marginal_relevance_search_by_vector(EMBEDDING.embed_query("mmr"), k=4, fetch_k=8)),
        }

    assert len(assert_both_same(run_both(scenario, tmp_path))["text"]) == 4


def test_upsert(tmp_path):
    replacement = [
        Document("replaced note one", metadata={"n": 101, "tag": "new", "weight": 0.5}),
        Document("replaced note two", metadata={"n": 102, "tag": "new", "weight": 1.5}),
    ]

    def scenario(path):
        store = filled_store(path)
        store.upsert(ids=["doc-1", "doc-2"], documents=replacement)
        return {"rows": stored_rows(store), "hits": scored(store.similarity_search_with_score("replaced note", k=3))}

    result = assert_both_same(run_both(scenario, tmp_path))
    assert len(result["rows"]) == 30 and {r[0] for r in result["rows"]} >= {"replaced note one", "replaced note two"}


def test_delete_by_id_and_by_expression(tmp_path):
    def scenario(path):
        store = filled_store(path)
        # langchain-milvus returns False (and logs) when Milvus refuses a delete; both must succeed.
        assert store.delete(ids=["doc-0", "doc-7"]) is True
        assert store.delete(expr='n > 25 or tag == "odd" and n < 6') is True
        return {"pks": sorted(store.get_pks("n >= 0")), "hits": docs(store.similarity_search(QUERIES[0], k=4))}

    pks = assert_both_same(run_both(scenario, tmp_path))["pks"]
    assert "doc-0" not in pks and "doc-7" not in pks and "doc-26" not in pks and "doc-3" not in pks and "doc-9" in pks


def test_retriever(tmp_path):
    def scenario(path):
        store = filled_store(path)
        return {
            "similarity": docs(store.as_retriever(search_kwargs={"k": 3}).invoke(QUERIES[2])),
            "mmr": docs(store.as_retriever(search_type="mmr", search_kwargs={"k": 3, "fetch_k": 9}).invoke(QUERIES[2])),
            "filtered": docs(store.as_retriever(search_kwargs={"k": 3, "expr": "n >= 20"}).invoke(QUERIES[2])),
        }

    assert len(assert_both_same(run_both(scenario, tmp_path))["similarity"]) == 3


def test_async_methods(tmp_path):
    async def run(store):
        out = {"added": await store.aadd_texts(TEXTS, METADATAS, ids=IDS)}
        out["search"] = docs(await store.asimilarity_search(QUERIES[0], k=4))
        out["scored"] = scored(await store.asimilarity_search_with_score(QUERIES[1], k=4, expr="n > 4"))
        out["vector"] = docs(await store.asimilarity_search_by_vector(EMBEDDING.embed_query("v"), k=3))
        out["mmr"] = docs(await store.amax_marginal_relevance_search(QUERIES[2], k=3, fetch_k=9))
        await store.aupsert(ids=["doc-3"], documents=[Document("async replacement", metadata=METADATAS[3])])
        assert await store.adelete(ids=["doc-4"]) is True
        assert await store.adelete(expr="n >= 28") is True
        out["pks"] = sorted(await store.aget_pks("n >= 0"))
        out["retriever"] = docs(await store.as_retriever(search_kwargs={"k": 2}).ainvoke("async replacement"))
        return out

    def scenario(path):
        return asyncio.run(run(open_store(path)))

    result = assert_both_same(run_both(scenario, tmp_path))
    assert result["retriever"][0][0] == "async replacement" and len(result["pks"]) == 27


# Child-process steps of the two scenarios below (run through differential.in_child).


def build(path):
    filled_store(path)


def search_reopened(path):
    store = open_store(path)
    return [scored(store.similarity_search_with_score(q, k=3)) for q in QUERIES]


def search_later(path):
    return scored(open_store(path).similarity_search_with_score("a later note", k=1))


def test_reopening_in_a_new_process(tmp_path):
    assert len(reopened_in_new_processes(__file__, tmp_path)[0]) == 3


def test_a_second_process_searches_while_the_first_has_the_store_open(tmp_path):
    def write_later(store):
        store.add_texts(["a later note"], [{"n": 99, "tag": "late", "weight": 0.0}], ids=["doc-99"])

    later = searched_from_a_second_process(__file__, tmp_path, filled_store, write_later, search_reopened, search_later)
    assert later[0][0] == "a later note"


def test_partition_key(tmp_path):
    # A partition key only places rows on a server; the answers are the collection's.
    def scenario(path):
        store = filled_store(path, enable_dynamic_field=True, partition_key_field="tag", num_partitions=4)
        return [docs(store.similarity_search(QUERIES[0], k=3, expr=f'tag == "{tag}"')) for tag in ("odd", "even")]

    odd, even = assert_both_same(run_both(scenario, tmp_path))
    assert [d[1]["tag"] for d in odd + even] == ["odd"] * 3 + ["even"] * 3


def test_array_metadata(tmp_path):
    schema = {
        "labels": {
            "dtype": DataType.ARRAY,
            "kwargs": {"element_type": DataType.VARCHAR, "max_capacity": 4, "max_length": 16},
        }
    }

    def scenario(path):
        store = open_store(path, metadata_schema=schema)
        store.add_texts(TEXTS[:6], [{"labels": ["a", f"l{i}"]} for i in range(6)], ids=IDS[:6])
        return docs(store.similarity_search(QUERIES[0], k=3, expr='array_contains(labels, "l2")'))

    (found,) = assert_both_same(run_both(scenario, tmp_path))
    assert found[1]["labels"] == ["a", "l2"]


# --- what covec refuses, or answers as Lite does since issues 17 and 18 ------------------------------------


def test_a_ttl_property_is_refused(tmp_path):
    # covec keeps collection properties, but stores no per-row insert time to expire rows by: it refuses the TTL
    # rather than keep rows a server would drop.
    def scenario(path):
        store = filled_store(path, collection_properties={"collection.ttl.seconds": 86400})
        return docs(store.similarity_search(QUERIES[0], k=3))

    lite_answers_covec_raises(tmp_path, scenario, "collection.ttl.seconds")


def test_bm25_full_text_search(tmp_path):
    def scenario(path):
        # Milvus Lite takes BM25 output only with SPARSE_INVERTED_INDEX and no drop ratio (langchain-milvus's defaults
        # are AUTOINDEX and drop_ratio_build 0.2).
        index_params = [
            {"index_type": "AUTOINDEX", "metric_type": "L2"},
            {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25"},
        ]
        search_params = [{"metric_type": "L2", "params": {}}, {"metric_type": "BM25", "params": {}}]
        store = filled_store(
            path,
            builtin_function=BM25BuiltInFunction(output_field_names="sparse"),
            vector_field=["dense", "sparse"],
            index_params=index_params,
            search_params=search_params,
        )
        return docs(store.similarity_search("shared memory", k=3))

    # A store over a dense and a BM25 field searches both with hybrid_search: covec's answers are Lite's.
    assert_both_same(run_both(scenario, tmp_path))


