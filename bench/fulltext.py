"""Full-text (BM25) benchmark: `python bench/fulltext.py` (needs the venv's covec, pymilvus, milvus-lite, and the
full-text peers: `pip install tantivy==0.27.0 bm25s`).

Measures, in one run on the same documents and queries: BM25 queries per second (one query per call, after a
short warm-up) and recall@10 against an exact BM25 scorer written here, for covec, Milvus Lite, tantivy and bm25s;
and dense + BM25 hybrid search latency for covec and Milvus Lite (a client whose hybrid_search raises is recorded
so). Documents (`load_texts`): every distinct sentence of set A's 41,000 real package descriptions in
../shared/data, and set C's 632 table schemas and 53 table descriptions: 134,486 real texts; a sentence carries its
description's embedding. Queries: the synopsis (the text before the first ". ") of set A's held-out descriptions,
and set C's table descriptions. Prints a Markdown table and writes bench/out/fulltext.json.

Analysis: covec and Milvus Lite run their standard analyzer; bm25s indexes covec's standard-analyzer tokens (the
same terms); tantivy runs its default tokenizer on the raw text (lowercased words split at non-alphanumerics) and
is queried with covec's tokens, each a SHOULD term. The exact scorer uses covec's tokens with each system's k1 and b
(Milvus Lite always scores with k1 1.5, b 0.75; the rest with 1.2, 0.75). Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402

K = 10
WARMUP = 5
QUERIES = 1000
LITE_QUERIES = 100  # Milvus Lite scores in pure Python
BATCH = 2000
MAX_LENGTH = 65535


SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def load_texts(data: Path):
    """Documents with the embedding of the text each comes from, and queries with theirs.

    Documents: every distinct sentence of set A's 41,000 package descriptions (base and held-out; a sentence
    ends at ".", "!" or "?" followed by white space; a sentence many packages share is one document), then set
    C's 632 table schemas and 53 table descriptions whole. A sentence's vector is its description's (the dense
    half of the hybrid search); C's texts have their own."""
    vectors = {name: np.load(data / f"{name}.f32.npy") for name in ("A_base", "A_query", "C_base", "C_query")}
    docs, doc_vectors, seen = [], [], set()
    for name in ("A_base", "A_query"):
        for row, line in enumerate((data / f"{name}.jsonl").read_text().splitlines()):
            for sentence in SENTENCE_END.split(json.loads(line)["text"]):
                sentence = sentence.strip()
                if sentence and sentence not in seen:
                    seen.add(sentence)
                    # A VARCHAR holds at most 65,535 characters in Milvus; every system gets the same cut text.
                    docs.append(sentence[:MAX_LENGTH])
                    doc_vectors.append(vectors[name][row])
    for name in ("C_base", "C_query"):
        for row, line in enumerate((data / f"{name}.jsonl").read_text().splitlines()):
            docs.append(json.loads(line)["text"][:MAX_LENGTH])
            doc_vectors.append(vectors[name][row])
    queries = [json.loads(line)["text"].split(". ", 1)[0] for line in (data / "A_query.jsonl").read_text().splitlines()]
    queries += [json.loads(line)["text"] for line in (data / "C_query.jsonl").read_text().splitlines()]
    query_vectors = np.concatenate([vectors["A_query"], vectors["C_query"]])
    return docs, np.array(doc_vectors), queries, query_vectors


_ANALYZER_CLIENT = None


def run_standard(texts):
    global _ANALYZER_CLIENT
    import covec

    if _ANALYZER_CLIENT is None:
        _ANALYZER_CLIENT = covec.MilvusClient(os.path.join(tempfile.mkdtemp(), "analyzer.db"))
    out = _ANALYZER_CLIENT.run_analyzer(texts, analyzer_params={"type": "standard"})
    return [list(r.tokens) if hasattr(r, "tokens") else list(r) for r in out]


class ExactBm25:
    """BM25 as Milvus defines it (idf ln(1 + (N - df + 0.5)/(df + 0.5)), tf(k1+1)/(tf + k1(1 - b + b dl/avgdl)),
    query weight = query tf * idf), in float64 over covec's tokens."""

    def __init__(self, doc_tokens):
        self.n = len(doc_tokens)
        self.dl = np.array([len(t) for t in doc_tokens], dtype=np.float64)
        self.avgdl = float(self.dl.mean()) if self.dl.sum() > 0 else 1.0
        postings = defaultdict(lambda: ([], []))
        for d, toks in enumerate(doc_tokens):
            for term, tf in Counter(toks).items():
                postings[term][0].append(d)
                postings[term][1].append(tf)
        self.postings = {t: (np.array(d, dtype=np.int64), np.array(f, dtype=np.float64)) for t, (d, f) in postings.items()}

    def scores(self, query_tokens, k1, b):
        score = np.zeros(self.n)
        for term, qtf in Counter(query_tokens).items():
            if term not in self.postings:
                continue
            docs, tf = self.postings[term]
            idf = math.log(1 + (self.n - len(docs) + 0.5) / (len(docs) + 0.5))
            score[docs] += qtf * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * self.dl[docs] / self.avgdl))
        return score

    def recall(self, query_tokens, hits, k1, b):
        """Hits (doc ids, best first) that reach the exact k-th score, over min(k, documents that match): a tie at
        the k-th place counts whichever of the tied documents a system returns."""
        score = self.scores(query_tokens, k1, b)
        matching = int((score > 0).sum())
        if matching == 0:
            return None
        kth = np.sort(score)[::-1][min(K, matching) - 1]
        good = sum(1 for h in hits[:K] if score[h] >= kth * (1 - 1e-6) and score[h] > 0)
        return good / min(K, matching)


def timed(search, queries):
    for q in queries[:WARMUP]:
        search(q)
    out, t0 = [], time.perf_counter()
    for q in queries:
        out.append(search(q))
    return out, time.perf_counter() - t0


# --- systems: each returns (build seconds, search function: query index -> doc ids) ---------------------------


def milvus_like(module, path):
    """A BM25 collection at each system's defaults: covec's k1 1.2 (the server's), Milvus Lite's 1.5."""
    from pymilvus import Function, FunctionType

    client = module.MilvusClient(path)
    s = client.create_schema()
    s.add_field("id", module.DataType.INT64, is_primary=True)
    s.add_field("text", module.DataType.VARCHAR, max_length=MAX_LENGTH, enable_analyzer=True,
                analyzer_params={"type": "standard"})
    s.add_field("sparse", module.DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("dense", module.DataType.FLOAT_VECTOR, dim=common.DIM)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                            output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    index.add_index("dense", index_type="FLAT", metric_type="IP")
    client.create_collection("fts", schema=s, index_params=index)
    return client


def insert_all(client, docs, vectors):
    t0 = time.perf_counter()
    for i in range(0, len(docs), BATCH):
        client.insert("fts", [{"id": j, "text": docs[j], "dense": vectors[j].tolist()}
                              for j in range(i, min(i + BATCH, len(docs)))])
    if hasattr(client, "flush"):
        client.flush("fts")
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="2,000 documents and 50 queries: checks the harness only")
    smoke = ap.parse_args().smoke
    data = common.shared_data_dir()
    docs, vectors, queries, query_vectors = load_texts(data)
    global QUERIES, LITE_QUERIES
    if smoke:
        docs, vectors, QUERIES, LITE_QUERIES = docs[:2000], vectors[:2000], 50, 20
    queries, query_vectors = queries[:QUERIES], query_vectors[:QUERIES]
    assert len(vectors) == len(docs)
    print(f"{len(docs)} documents, {len(queries)} queries", flush=True)
    doc_tokens = run_standard_all(docs)
    query_tokens = run_standard_all(queries)
    exact = ExactBm25(doc_tokens)
    rows, work = [], tempfile.mkdtemp(prefix="covec-fulltext-bench-")
    os.environ.setdefault("COVEC_SHM_DIR", tempfile.mkdtemp(prefix="covec-fulltext-shm-"))

    def record(system, build_s, hits, seconds, n, k1, note=""):
        recalls = [r for r in (exact.recall(query_tokens[i], h, k1, 0.75) for i, h in enumerate(hits)) if r is not None]
        rows.append({"system": system, "build_s": round(build_s, 1), "queries": n, "qps": n / seconds,
                     "recall@10": float(np.mean(recalls)), "k1": k1, "note": note})
        print(json.dumps(rows[-1]), flush=True)

    import covec
    import pymilvus

    hybrid = {}
    for system, module, n, k1 in (("covec", covec, len(queries), 1.2), ("Milvus Lite", pymilvus, LITE_QUERIES, 1.5)):
        client = milvus_like(module, os.path.join(work, f"{system.split()[0].lower()}.db"))
        build_s = insert_all(client, docs, vectors)

        def search(i, client=client):
            return [h["id"] for h in client.search("fts", data=[queries[i]], anns_field="sparse", limit=K)[0]]

        hits, seconds = timed(search, list(range(n)))
        record(system, build_s, hits, seconds, n, k1)
        try:
            hybrid[system] = hybrid_latency(client, queries, query_vectors, n)
        except Exception as e:  # a client without hybrid search says so; the run goes on
            hybrid[system] = {"error": str(e)}
        client.close()

    import tantivy

    t0 = time.perf_counter()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", stored=False)
    builder.add_integer_field("id", stored=True, fast=True)
    schema = builder.build()
    index = tantivy.Index(schema, path=None)
    writer = index.writer(heap_size=256_000_000, num_threads=1)
    for i, d in enumerate(docs):
        writer.add_document(tantivy.Document(id=i, text=d))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    build_s = time.perf_counter() - t0

    def t_search(i):
        terms = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", t)) for t in query_tokens[i]]
        result = searcher.search(tantivy.Query.boolean_query(terms), K)
        return [searcher.doc(addr)["id"][0] for _, addr in result.hits]

    hits, seconds = timed(t_search, list(range(len(queries))))
    record(f"tantivy {version('tantivy')}", build_s, hits, seconds, len(queries), 1.2,
           "its default tokenizer on the raw text; fieldnorms quantized to one byte")

    import bm25s

    t0 = time.perf_counter()
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(doc_tokens, show_progress=False)
    build_s = time.perf_counter() - t0

    def b_search(i):
        ids, _ = retriever.retrieve([query_tokens[i]], k=min(K, len(docs)), show_progress=False, n_threads=1)
        return [int(x) for x in ids[0]]

    hits, seconds = timed(b_search, list(range(len(queries))))
    record(f"bm25s {version('bm25s')}", build_s, hits, seconds, len(queries), 1.2, "covec's tokens")

    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / ("fulltext-smoke.json" if smoke else "fulltext.json")).write_text(json.dumps({"documents": len(docs), "queries": len(queries), "rows": rows,
                                                  "hybrid": hybrid}, indent=1))
    print("\n| system | build s | queries | BM25 QPS | recall@10 | note |\n|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['system']} | {r['build_s']} | {r['queries']} | {r['qps']:.0f} | {r['recall@10']:.3f} | {r['note']} |")
    for system, h in hybrid.items():
        if "error" in h:
            print(f"hybrid (dense + BM25, RRF, limit 10) {system}: {h['error']}")
        else:
            print(f"hybrid (dense + BM25, RRF, limit 10) {system}: median {h['median_ms']:.2f} ms, p95 {h['p95_ms']:.2f} ms")


def run_standard_all(texts):
    tokens = []
    for i in range(0, len(texts), BATCH):
        tokens.extend(run_standard(texts[i : i + BATCH]))
    return tokens


def hybrid_latency(client, queries, query_vectors, n):
    from pymilvus import AnnSearchRequest, RRFRanker

    times = []
    for i in list(range(min(WARMUP, n))) + list(range(n)):
        reqs = [AnnSearchRequest(data=[query_vectors[i].tolist()], anns_field="dense", param={"metric_type": "IP"}, limit=K),
                AnnSearchRequest(data=[queries[i]], anns_field="sparse", param={"metric_type": "BM25"}, limit=K)]
        t0 = time.perf_counter()
        client.hybrid_search("fts", reqs, RRFRanker(), limit=K)
        times.append(time.perf_counter() - t0)
    times = np.array(times[min(WARMUP, n):]) * 1000
    return {"median_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95)), "queries": n}


if __name__ == "__main__":
    main()
