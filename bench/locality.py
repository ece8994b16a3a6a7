"""How many 64 KiB chunks of a mapped segment a first query touches, under different row orders.

A fresh process's first search faults in every chunk its walk touches (docs/ann.md, "Row order"): the kernel
maps up to 16 pages per fault, so distinct 64 KiB chunks count the faults. This replays an HNSW layer-0 beam
walk (ef 64, from the node the upper layers reach) over an hnswlib graph of the bench's synthetic set and
counts the chunks its scored rows (1,536 bytes each) and expanded adjacency lists (covec's 132-byte rows)
fall on, with rows stored in insertion order (covec before 6497837) or in three locality orders, one of them
covec's (`locality_order` in client/src/engine/ann.rs, which samples rows at even positions, not at random). A
simulation: it counts chunks and times nothing.

    python bench/locality.py 1000000     # builds the graph once into bench/out/locality-<n>.bin
"""

from __future__ import annotations

import heapq
import struct
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run

EF = 64
CHUNK = 65536
M = 16
QUERIES = 50


def load_layer0(path: Path) -> tuple:
    """hnswlib's saved index: (entry node, neighbour counts, neighbour ids, label of each internal id)."""
    raw = path.read_bytes()
    _, _, count, per_element, label_at, _ = struct.unpack_from("<6Q", raw, 0)
    _, entry = struct.unpack_from("<iI", raw, 48)
    max_m0 = struct.unpack_from("<Q", raw, 64)[0]
    header = 96  # the 6 sizes above, maxlevel, entry, maxM, maxM0, M, mult, efConstruction
    level0 = np.frombuffer(raw, np.uint8, count * per_element, header).reshape(count, per_element)
    counts = level0[:, :4].copy().view(np.uint32)[:, 0] & 0xFFFF
    links = level0[:, 4 : 4 + 4 * max_m0].copy().view(np.uint32)
    labels = level0[:, label_at : label_at + 8].copy().view(np.uint64)[:, 0].astype(np.int64)
    return entry, counts, links, labels


def walk(vectors: np.ndarray, counts, links, query: np.ndarray, start: int, ef: int = EF) -> tuple:
    """Layer-0 beam search on inner product: (every node scored, every node expanded), in walk order."""
    scored, expanded, seen = [start], [], {start}
    first = -float(vectors[start] @ query)
    candidates, best = [(first, start)], [(-first, start)]
    while candidates:
        d, node = heapq.heappop(candidates)
        if len(best) >= ef and d > -best[0][0]:
            break
        expanded.append(node)
        for nb in links[node, : counts[node]].tolist():
            if nb in seen:
                continue
            seen.add(nb)
            scored.append(nb)
            dn = -float(vectors[nb] @ query)
            if len(best) < ef or dn < -best[0][0]:
                heapq.heappush(candidates, (dn, nb))
                heapq.heappush(best, (-dn, nb))
                if len(best) > ef:
                    heapq.heappop(best)
    return scored, expanded


def position_by_key(keys: np.ndarray) -> np.ndarray:
    """Storage position of each node when nodes are sorted by `keys` (ties keep node order)."""
    pos = np.empty(len(keys), np.int64)
    pos[np.argsort(keys, kind="stable")] = np.arange(len(keys))
    return pos


def bfs_positions(entry: int, counts, links) -> np.ndarray:
    """Storage positions in breadth-first order of layer 0 from the entry node; unreached nodes last."""
    n = len(counts)
    pos = np.full(n, -1, np.int64)
    pos[entry], order = 0, [entry]
    for node in order:  # grows while iterated: a queue
        for nb in links[node, : counts[node]].tolist():
            if pos[nb] < 0:
                pos[nb] = len(order)
                order.append(nb)
    unreached = np.flatnonzero(pos < 0)
    pos[unreached] = np.arange(len(order), n)
    return pos


def nearest(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.concatenate([np.argmax(vectors[i : i + 100_000] @ centres.T, axis=1) for i in range(0, len(vectors), 100_000)])


def orders(vectors: np.ndarray, entry: int, counts, links, labels) -> dict:
    """Node -> storage position for each order compared."""
    centres = np.random.default_rng(run.SEED).standard_normal((run.SYNTH_CENTRES, vectors.shape[1])).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    sampled = vectors[np.random.default_rng(0).choice(len(vectors), int(len(vectors) ** 0.5), replace=False)]
    return {
        "insertion (covec before 6497837)": labels,
        "breadth-first over layer 0": bfs_positions(entry, counts, links),
        "by nearest of sqrt(n) sampled rows (covec)": position_by_key(nearest(vectors, sampled)),
        "by generating cluster (oracle)": position_by_key(nearest(vectors, centres)),
    }


def chunks_touched(pos: np.ndarray, scored: list, expanded: list, dim: int, max_m0: int) -> int:
    vector_chunks = {p * dim * 4 // CHUNK for p in pos[scored].tolist()}
    link_chunks = {p * 4 * (max_m0 + 1) // CHUNK for p in pos[expanded].tolist()}
    return len(vector_chunks) + len(link_chunks)


def main(n: int) -> None:
    import hnswlib

    base = run.synth_vectors(n, seed=run.SEED)
    queries = run.synth_vectors(QUERIES, seed=run.SEED + 1)
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    path = run.OUT / f"locality-{n}.bin"
    if path.exists():
        index.load_index(str(path), max_elements=n)
    else:
        index.init_index(max_elements=n, M=M, ef_construction=200, random_seed=1)
        index.add_items(base, np.arange(n))
        path.parent.mkdir(parents=True, exist_ok=True)
        index.save_index(str(path))
    entry, counts, links, labels = load_layer0(path)
    vectors = base[labels]  # by internal id: hnswlib's threads number rows out of label order
    node_of_label = position_by_key(labels)
    starts = node_of_label[index.knn_query(queries, k=1)[0][:, 0].astype(np.int64)]
    walks = [walk(vectors, counts, links, q, int(s)) for q, s in zip(queries, starts)]
    print(f"{n:,} rows, {QUERIES} queries, ef {EF}: rows scored per query {np.mean([len(w[0]) for w in walks]):.0f}")
    for name, pos in orders(vectors, entry, counts, links, labels).items():
        touched = [chunks_touched(pos, s, e, base.shape[1], links.shape[1]) for s, e in walks]
        print(f"  {name:36s} 64 KiB chunks touched per query: {np.mean(touched):.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
