"""llama-index-vector-stores-milvus's MilvusVectorStore on covec: every scenario runs on Milvus Lite (the oracle) and on
covec (pymilvus patched) with hash-seeded embeddings, and covec must answer as Lite does. Features covec does not have
yet must raise on covec (and work on Lite, so the scenario itself is sound)."""

import asyncio

import pytest
from differential import (
    DIM,
    QUERIES,
    assert_both_same,
    assert_made_by,
    backend,
    hash_vector,
    lite_answers_covec_raises,
    metadata,
    note,
    reopened_in_new_processes,
    run_both,
    run_docs_example,
    searched_from_a_second_process,
)
from llama_index.core import VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.vector_stores.milvus import MilvusVectorStore
from llama_index.vector_stores.milvus.utils import BM25BuiltInFunction
from pymilvus import DataType, MilvusException


class HashEmbedding(BaseEmbedding):
    """A deterministic embedding model: hash-seeded normal vectors (llama-index's MockEmbedding is constant)."""

    def _get_query_embedding(self, query):
        return hash_vector(query, DIM)

    def _get_text_embedding(self, text):
        return hash_vector(text, DIM)

    async def _aget_query_embedding(self, query):
        return hash_vector(query, DIM)


EMBED = HashEmbedding()


def nodes(count=30, start=0, text="note {i} on {topic}"):
    """Nodes of source documents doc-0, doc-1, ... (three nodes each), with metadata and embeddings."""
    made = []
    for i in range(start, start + count):
        body = note(i, text)
        node = TextNode(
            id_=f"node-{i}",
            text=body,
            metadata={**metadata(i), "labels": [f"l{i % 3}", "all"]},
            embedding=hash_vector(body, DIM),
        )
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"doc-{i // 3}")
        made.append(node)
    return made


def open_store(path, **kwargs):
    return MilvusVectorStore(uri=path, dim=DIM, collection_name="notes", **kwargs)


def filled_store(path, **kwargs):
    store = open_store(path, **kwargs)
    assert store.add(nodes()) == [f"node-{i}" for i in range(30)]
    return store


def answer(result):
    """A VectorStoreQueryResult: ids, similarities, texts and metadata of the nodes."""
    return {
        "ids": result.ids,
        "similarities": result.similarities,
        "nodes": [(n.get_content(), n.metadata) for n in result.nodes],
    }


def query(store, text, k=4, **kwargs):
    return answer(
        store.query(VectorStoreQuery(query_embedding=EMBED.get_query_embedding(text), similarity_top_k=k, **kwargs))
    )


def stored(found):
    """get_nodes' answer in node-id order."""
    return sorted((n.node_id, n.get_content(), n.metadata) for n in found)


def all_nodes(store):
    return stored(
        store.get_nodes(
            filters=MetadataFilters(filters=[MetadataFilter(key="n", value=-1, operator=FilterOperator.GT)])
        )
    )


# --- scenarios that work on covec -------------------------------------------------------------------------


def test_the_example_of_docs_frameworks_md_runs_on_covec(tmp_path):
    assert "NodeWithScore" in run_docs_example("llama_index.vector_stores.milvus", "milvus_llamaindex.db", tmp_path)


def test_add_nodes_with_metadata(tmp_path):
    def scenario(path):
        store = filled_store(path)
        return {"by_id": stored(store.get_nodes(node_ids=["node-3", "node-17"])), "all": all_nodes(store)}

    result = assert_both_same(run_both(scenario, tmp_path))
    assert [n[0] for n in result["by_id"]] == ["node-17", "node-3"] and len(result["all"]) == 30


def test_similarity_search_with_and_without_scores(tmp_path):
    def scenario(path):
        store = filled_store(path)
        index = VectorStoreIndex.from_vector_store(store, embed_model=EMBED)
        return {
            "scored": [query(store, q) for q in QUERIES],
            "texts": [[n.get_content() for n in index.as_retriever(similarity_top_k=4).retrieve(q)] for q in QUERIES],
        }

    result = assert_both_same(run_both(scenario, tmp_path))
    assert [r["nodes"][0][0] for r in result["scored"]] == [t[0] for t in result["texts"]]


FILTERS = {
    "eq": MetadataFilters(filters=[MetadataFilter(key="tag", value="even")]),
    "range": MetadataFilters(
        filters=[
            MetadataFilter(key="n", value=10, operator=FilterOperator.GT),
            MetadataFilter(key="n", value=20, operator=FilterOperator.LTE),
        ]
    ),
    "or": MetadataFilters(
        filters=[
            MetadataFilter(key="n", value=3, operator=FilterOperator.LT),
            MetadataFilter(key="weight", value=7.0, operator=FilterOperator.GTE),
        ],
        condition=FilterCondition.OR,
    ),
    "in": MetadataFilters(filters=[MetadataFilter(key="n", value=[1, 5, 9, 28], operator=FilterOperator.IN)]),
    "not-in": MetadataFilters(filters=[MetadataFilter(key="tag", value=["odd"], operator=FilterOperator.NIN)]),
    "ne": MetadataFilters(filters=[MetadataFilter(key="tag", value="odd", operator=FilterOperator.NE)]),
    "prefix": MetadataFilters(filters=[MetadataFilter(key="tag", value="ev", operator=FilterOperator.TEXT_MATCH)]),
    "contains": MetadataFilters(filters=[MetadataFilter(key="labels", value="l2", operator=FilterOperator.CONTAINS)]),
    "nested": MetadataFilters(
        filters=[
            MetadataFilter(key="tag", value="odd"),
            MetadataFilters(
                filters=[
                    MetadataFilter(key="n", value=5, operator=FilterOperator.LT),
                    MetadataFilter(key="n", value=25, operator=FilterOperator.GT),
                ],
                condition=FilterCondition.OR,
            ),
        ]
    ),
}


def test_metadata_filters(tmp_path):
    def scenario(path):
        store = filled_store(path)
        return {name: query(store, QUERIES[0], k=5, filters=f) for name, f in FILTERS.items()} | {
            "doc_ids": query(store, QUERIES[1], doc_ids=["doc-2", "doc-5"]),
            "node_ids": query(store, QUERIES[1], node_ids=["node-1", "node-2", "node-3"]),
            "string_expr": answer(
                store.query(
                    VectorStoreQuery(query_embedding=hash_vector("x", DIM), similarity_top_k=3), string_expr="n >= 27"
                )
            ),
            "get_nodes": stored(store.get_nodes(filters=FILTERS["range"])),
        }

    result = assert_both_same(run_both(scenario, tmp_path))
    assert all(result[name]["ids"] for name in FILTERS) and len(result["get_nodes"]) == 10


def test_search_by_vector_and_output_fields(tmp_path):
    def scenario(path):
        store = filled_store(path, output_fields=["n"])
        vector = hash_vector("a query vector", DIM)
        return {
            "vector": answer(store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=5))),
            "fields": answer(
                store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=2, output_fields=["tag"]))
            ),
        }

    assert len(assert_both_same(run_both(scenario, tmp_path))["vector"]["ids"]) == 5


def test_max_marginal_relevance(tmp_path):
    def scenario(path):
        store = filled_store(path)
        mmr = VectorStoreQueryMode.MMR
        return {
            "default": query(store, QUERIES[1], k=4, mode=mmr),
            "threshold": answer(
                store.query(
                    VectorStoreQuery(
                        query_embedding=EMBED.get_query_embedding(QUERIES[2]), similarity_top_k=3, mode=mmr
                    ),
                    mmr_threshold=0.3,
                    mmr_prefetch_k=12,
                )
            ),
            "filtered": query(store, QUERIES[0], k=3, mode=mmr, filters=FILTERS["eq"]),
        }

    assert len(assert_both_same(run_both(scenario, tmp_path))["default"]["ids"]) == 4


def test_upsert(tmp_path):
    def scenario(path):
        filled_store(path)
        store = open_store(path, upsert_mode=True)
        store.add(nodes(count=3, start=28, text="replaced note {i}") + nodes(count=2, start=30))
        return {"all": all_nodes(store), "hits": query(store, "replaced note 29", k=3)}

    result = assert_both_same(run_both(scenario, tmp_path))
    assert len(result["all"]) == 32 and result["hits"]["nodes"][0][0] == "replaced note 29"


def test_delete_by_id_by_document_and_by_filter(tmp_path):
    def scenario(path):
        store = filled_store(path)
        # llama-index passes milvus_partition_name on to delete() beside the partition_name it makes of it.
        store.delete_nodes(node_ids=["node-0", "node-7"], milvus_partition_name="_default")
        store.delete("doc-5")  # node-15, 16, 17: llama-index queries their ids, then delete(pks=...)
        store.delete_nodes(
            filters=MetadataFilters(filters=[MetadataFilter(key="n", value=26, operator=FilterOperator.GTE)])
        )
        store.delete_nodes(node_ids=["node-1", "node-2", "node-3"], filters=FILTERS["eq"])  # only node-2
        return {"all": all_nodes(store), "hits": query(store, QUERIES[2])}

    left = [n[0] for n in assert_both_same(run_both(scenario, tmp_path))["all"]]
    assert len(left) == 20 and not {"node-0", "node-2", "node-7", "node-15", "node-27"} & set(left) and "node-1" in left


def test_retriever(tmp_path):
    def scenario(path):
        index = VectorStoreIndex.from_vector_store(filled_store(path), embed_model=EMBED)
        retrieved = {}
        for name, retriever in {
            "top3": index.as_retriever(similarity_top_k=3),
            "filtered": index.as_retriever(similarity_top_k=3, filters=FILTERS["range"]),
            "mmr": index.as_retriever(similarity_top_k=3, vector_store_query_mode="mmr"),
        }.items():
            retrieved[name] = [(n.node.get_content(), n.score) for n in retriever.retrieve(QUERIES[2])]
        return retrieved

    assert len(assert_both_same(run_both(scenario, tmp_path))["top3"]) == 3


def test_async_methods(tmp_path):
    async def run(store):
        out = {"added": await store.async_add(nodes())}
        embedding = EMBED.get_query_embedding(QUERIES[0])
        out["query"] = answer(await store.aquery(VectorStoreQuery(query_embedding=embedding, similarity_top_k=4)))
        out["filtered"] = answer(
            await store.aquery(
                VectorStoreQuery(query_embedding=embedding, similarity_top_k=4, filters=FILTERS["range"])
            )
        )
        out["mmr"] = answer(
            await store.aquery(
                VectorStoreQuery(query_embedding=embedding, similarity_top_k=3, mode=VectorStoreQueryMode.MMR)
            )
        )
        await store.adelete("doc-1")
        await store.adelete_nodes(node_ids=["node-9"])
        await store.adelete_nodes(filters=FILTERS["in"])
        out["by_id"] = stored(await store.aget_nodes(node_ids=["node-2", "node-3", "node-10"]))
        out["by_filter"] = stored(await store.aget_nodes(filters=FILTERS["eq"]))
        index = VectorStoreIndex.from_vector_store(store, embed_model=EMBED)
        out["retriever"] = [
            (n.node.get_content(), n.score) for n in await index.as_retriever(similarity_top_k=2).aretrieve(QUERIES[1])
        ]
        await store.aclear()
        out["cleared"] = store.client.has_collection("notes")
        return out

    def scenario(path):
        # The collection is made by the constructor (synchronously); everything after it awaits the async client.
        return asyncio.run(run(open_store(path)))

    result = assert_both_same(run_both(scenario, tmp_path))
    assert [n[0] for n in result["by_id"]] == ["node-10", "node-2"] and result["cleared"] is False


# Child-process steps of the two scenarios below (run through differential.in_child).


def build(path):
    filled_store(path)


def reopened(path):
    store = open_store(path)
    # Milvus Lite opens an indexed collection released and llama-index does not load an existing one; covec's
    # collections are always loaded, so this call only matters to Lite.
    store.client.load_collection("notes")
    return store


def search_reopened(path):
    store = reopened(path)
    return [query(store, q, k=3) for q in QUERIES]


def search_later(path):
    return query(reopened(path), "a later note 40", k=1)


def test_reopening_in_a_new_process(tmp_path):
    assert len(reopened_in_new_processes(__file__, tmp_path)[0]["ids"]) == 3


def test_a_second_process_searches_while_the_first_has_the_store_open(tmp_path):
    def write_later(store):
        store.add(nodes(count=1, start=40, text="a later note {i}"))

    later = searched_from_a_second_process(__file__, tmp_path, filled_store, write_later, search_reopened, search_later)
    assert later["ids"] == ["node-40"]


# --- what covec refuses, or answers as Lite does since issues 17 and 18 ------------------------------------


def test_a_ttl_property_is_refused(tmp_path):
    # covec keeps collection properties but stores no per-row insert time: it refuses the TTL rather than keep
    # rows a server would drop.
    def scenario(path):
        return query(filled_store(path, collection_properties={"collection.ttl.seconds": 86400}), QUERIES[0])["ids"]

    lite_answers_covec_raises(tmp_path, scenario, "collection.ttl.seconds")


def test_array_scalar_field_without_an_element_type_is_refused_by_both(tmp_path):
    def scenario(path):
        store = filled_store(path, scalar_field_names=["labels"], scalar_field_types=[DataType.ARRAY])
        return query(store, QUERIES[0], filters=FILTERS["contains"])["ids"]

    # pymilvus asks an ARRAY field for its element type; Milvus Lite and covec both refuse the field without one.
    with backend("lite"), pytest.raises(MilvusException):
        scenario(str(tmp_path / "lite.db"))
    with backend("covec"), pytest.raises(MilvusException, match="ARRAY"):
        scenario(str(tmp_path / "covec.db"))
    assert_made_by(str(tmp_path / "covec.db"), "covec")


def test_bm25_sparse_and_hybrid_search(tmp_path):
    def scenario(path):
        store = filled_store(
            path, enable_sparse=True, sparse_embedding_function=BM25BuiltInFunction(), hybrid_ranker="RRFRanker"
        )
        # (SPARSE and TEXT_SEARCH modes fail on Milvus Lite too: llama-index asks for drop_ratio_search 0.2, Lite
        # takes only 0.)
        hybrid = answer(
            store.query(
                VectorStoreQuery(
                    query_str="shared memory",
                    similarity_top_k=3,
                    query_embedding=EMBED.get_query_embedding("shared memory"),
                    mode=VectorStoreQueryMode.HYBRID,
                )
            )
        )
        return hybrid["ids"]

    # BM25 output and the hybrid retrieval around it: covec's answers are Lite's.
    assert_both_same(run_both(scenario, tmp_path))
