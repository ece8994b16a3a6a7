"""Where a single-query search's time goes, from Python: `python bench/search_parts.py [--set A] [--ef 32]`.

Times, in one process and interleaved round by round (each figure the fastest round, in CPU time, so that
other tenants of a shared machine disturb it less): hnswlib's `knn_query`; covec's `MilvusClient.search`
ids only, with the default output (every field; the vectors stay native until read, as pymilvus 3 leaves
them), and with the default output and every returned vector read (made Python floats); the first two
through the native method alone (no Python front). The differences are the parts: front = search - native,
the default output's call = default - ids, materializing the vectors = default read - default. The set's first 200 queries (A, or a synthetic set as run.py makes
it); the covec db and hnswlib graph are built under bench/out/parts/<set> on the first run. Prints
microseconds per call; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common
import run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default="A", choices=["A", *run.SYNTH])
    ap.add_argument("--ef", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    import covec
    import hnswlib

    files = run.prepare_set(args.set, run.Mode(quick=True), common.shared_data_dir())
    base = np.load(files["base"])
    queries = np.load(files["queries"])[:200]
    work = HERE / "out" / "parts" / args.set
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "covec_hnsw.db"
    if not db_path.exists():
        common.build_milvus_shaped("covec-hnsw", str(db_path), base, "HNSW")
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    graph = work / "hnswlib.bin"
    if graph.exists():
        index.load_index(str(graph), max_elements=len(base))
    else:
        index.init_index(max_elements=len(base), M=common.HNSW_M, ef_construction=common.HNSW_EFC, random_seed=100)
        index.add_items(base, np.arange(len(base)))
        index.save_index(str(graph))
    index.set_ef(max(args.ef, common.K))

    client = covec.MilvusClient(str(db_path))
    native, name, k = client._database, common.COLLECTION, common.K
    params = {"metric_type": "IP", "params": {"ef": args.ef}}
    parts = {
        "hnswlib": lambda q: index.knn_query(q, k=k, num_threads=1)[0][0].tolist(),
        "covec ids": lambda q: client.search(name, data=[q], limit=k, search_params=params, output_fields=["id"]),
        "covec default": lambda q: client.search(name, data=[q], limit=k, search_params=params),
        "default read": lambda q: [
            h["entity"]["vector"] for h in client.search(name, data=[q], limit=k, search_params=params)[0]
        ],
        # As the front calls it (the pk's name, asked for by ids only, keeps it in the entity).
        "native ids": lambda q: native.search("default", name, [q], k, "", ["id"], False, params),
        "native default": lambda q: native.search("default", name, [q], k, "", [], True, params),
    }
    best = dict.fromkeys(parts, float("inf"))
    for _ in range(args.rounds):
        for part, call in parts.items():
            t = time.process_time()
            for q in queries:
                call(q)
            best[part] = min(best[part], (time.process_time() - t) / len(queries) * 1e6)
    print(f"set {args.set}, ef={args.ef}, top-{k}, µs per call (fastest of {args.rounds} rounds, CPU time):")
    for part, us in best.items():
        print(f"  {part:15} {us:8.1f}")
    print(f"  front (search - native, ids)       {best['covec ids'] - best['native ids']:8.1f}")
    print(f"  default output (default - ids)     {best['covec default'] - best['covec ids']:8.1f}")
    print(f"  reading its vectors (read - default) {best['default read'] - best['covec default']:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
