"""Pieces shared by the harness (run.py) and its child processes (worker.py).

Every system is reached through one `open_searcher` so that each measurement below is written once and
applied to all systems alike: the numbers differ only by the system, never by the measuring code.
"""

from __future__ import annotations

import array
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

DIM = 384
K = 10
COLLECTION = "bench"
# Milvus Lite's HNSW defaults (M=16, efConstruction=200) used for every graph index in the run.
HNSW_M = 16
HNSW_EFC = 200
INSERT_BATCH = 2000
WARMUP_QUERIES = 5


def shared_data_dir() -> Path:
    """../shared/data beside the repository root; from a git worktree, beside the main checkout too."""
    root = Path(__file__).resolve().parent.parent
    here = root.parent / "shared" / "data"
    try:
        common_dir = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--path-format=absolute", "--git-common-dir"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return here
    main_checkout = Path(common_dir).parent.parent / "shared" / "data"
    return here if here.exists() or not main_checkout.exists() else main_checkout


# --- systems ----------------------------------------------------------------------------------------


def milvus_module(system: str):
    """pymilvus for Milvus Lite, covec for covec: the same MilvusClient-shaped API."""
    if system.startswith("covec"):
        import covec

        return covec
    import pymilvus

    return pymilvus


def build_milvus_shaped(system: str, path: str, vectors: np.ndarray, index_type: str) -> dict:
    """Creates `path` with one collection (id, vector) and the given index; returns the build phases in s."""
    mod = milvus_module(system)
    t0 = time.perf_counter()
    client = mod.MilvusClient(path)
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", mod.DataType.INT64, is_primary=True)
    schema.add_field("vector", mod.DataType.FLOAT_VECTOR, dim=vectors.shape[1])
    index = client.prepare_index_params()
    params = {"M": HNSW_M, "efConstruction": HNSW_EFC} if index_type == "HNSW" else {}
    index.add_index(field_name="vector", index_type=index_type, metric_type="IP", params=params)
    client.create_collection(COLLECTION, schema=schema, index_params=index)
    t1 = time.perf_counter()
    for start in range(0, len(vectors), INSERT_BATCH):
        rows = vectors[start : start + INSERT_BATCH]
        client.insert(COLLECTION, [{"id": start + i, "vector": v.tolist()} for i, v in enumerate(rows)])
    t2 = time.perf_counter()
    client.flush(COLLECTION)
    t3 = time.perf_counter()
    wait_for_index(client, len(vectors))
    t4 = time.perf_counter()
    client.close()
    return {"create_s": t1 - t0, "insert_s": t2 - t1, "flush_s": t3 - t2, "index_wait_s": t4 - t3}


def wait_for_index(client, rows: int, timeout_s: float = 7200.0) -> None:
    """Milvus Lite builds the index on a background thread after flush; a copy taken earlier has no index.

    covec's flush puts every pending row into the graph before it returns, so it waits for nothing.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        desc = client.describe_index(COLLECTION, "vector") or {}
        indexed = desc.get("indexed_rows")
        if indexed is None or int(indexed) >= rows:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"index still has {indexed}/{rows} rows after {timeout_s:.0f} s")
        time.sleep(0.5)


def dir_bytes(path: Path) -> int:
    """Allocated bytes of a file or directory tree (st_blocks, as tmpfs charges memory)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_blocks * 512
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass  # a file removed while walking (a segment being replaced) holds no memory
    return total


def shm_copy_path(src: str, pid: int) -> str:
    """The user's workaround names its private copy after the worker pid (seed/SUMMARY.md)."""
    return f"/dev/shm/pid-{pid}-{Path(src).name}"


class Searcher:
    """One open system: `search(q, ef)` returns the top-K ids of one query, best first."""

    def __init__(self, search, close, phases: dict):
        self.search = search
        self.close = close
        self.phases = phases


def open_searcher(spec: dict) -> Searcher:
    """Opens the system named by spec["system"] and reports how long each start-up phase took.

    spec: system (numpy | hnswlib | milvus | covec-flat | covec-hnsw), path (db or vectors .npy),
    copy_to_shm (the workaround: private copy of a Milvus Lite db in /dev/shm first), output ("ids", the
    default; "default": what a search returns by default; "default-read": that, with every vector read).
    """
    system = spec["system"]
    phases = {}
    if system == "numpy":
        t = time.perf_counter()
        base = np.load(spec["path"])
        phases["open_s"] = time.perf_counter() - t
        return Searcher(lambda q, ef: exact_top_k(base, q), lambda: None, phases)
    if system == "hnswlib":
        return _open_hnswlib(spec, phases)
    t = time.perf_counter()
    mod = milvus_module(system)
    phases["import_s"] = time.perf_counter() - t
    path = spec["path"]
    copy = None
    if spec.get("copy_to_shm"):
        t = time.perf_counter()
        copy = shm_copy_path(path, os.getpid())
        shutil.copytree(path, copy)
        phases["copy_s"] = time.perf_counter() - t
        path = copy
    t = time.perf_counter()
    client = mod.MilvusClient(path)
    phases["open_s"] = time.perf_counter() - t
    t = time.perf_counter()
    client.load_collection(COLLECTION)
    phases["load_s"] = time.perf_counter() - t

    # Ids and distances only, as hnswlib returns ("ids"); or the default output_fields, every field with each
    # hit's vector ("default": the hits' `ids` read, which leaves the vectors as pymilvus 3 and covec return
    # them, unconverted until read; "default-read": every hit's vector read too, which makes it Python floats).
    output = spec.get("output", "ids")
    output_fields = ["id"] if output == "ids" else None

    def search(q, ef):
        params = {"metric_type": "IP", "params": {"ef": int(ef)}} if ef else {"metric_type": "IP"}
        # The query as the numpy row an embedding model returns, as hnswlib gets it (both clients also
        # take lists).
        hits = client.search(COLLECTION, data=[q], limit=K, search_params=params, output_fields=output_fields)[0]
        if output == "default-read":
            for hit in hits:
                hit["entity"]["vector"]
        return list(hits.ids)

    def close():
        client.close()
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)

    return Searcher(search, close, phases)


def _open_hnswlib(spec: dict, phases: dict) -> Searcher:
    import hnswlib

    base = np.load(spec["path"], mmap_mode="r")
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    # The harness sweeps hnswlib in several processes: the first builds the graph and saves it, the rest load it.
    saved = spec.get("index_file")
    t = time.perf_counter()
    if saved and os.path.exists(saved):
        index.load_index(saved, max_elements=len(base))
        phases["load_s"] = time.perf_counter() - t
    else:
        index.init_index(max_elements=len(base), M=HNSW_M, ef_construction=HNSW_EFC, random_seed=100)
        index.add_items(base, np.arange(len(base)), num_threads=os.cpu_count() or 1)
        phases["build_s"] = time.perf_counter() - t
        if saved:
            index.save_index(saved)
    del base

    def search(q, ef):
        index.set_ef(max(int(ef), K))
        labels, _ = index.knn_query(q, k=K, num_threads=1)
        return labels[0].tolist()

    return Searcher(search, lambda: None, phases)


def exact_top_k(base: np.ndarray, q: np.ndarray, k: int = K) -> list:
    """numpy exact inner-product top-k: one matrix-vector product and a partial sort."""
    scores = base @ q
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])].tolist()


# --- measurements -----------------------------------------------------------------------------------


def recall_at_k(found: list, truth: np.ndarray, k: int = K) -> float:
    return len(set(found[:k]) & set(truth[:k].tolist())) / k


def sequential_search(searcher: Searcher, queries: np.ndarray, truth: np.ndarray, ef) -> dict:
    """Single-query calls one after another: QPS, latency percentiles and recall@K on `queries`."""
    for q in queries[:WARMUP_QUERIES]:
        searcher.search(q, ef)
    lat = np.empty(len(queries))
    found = []
    t0 = time.perf_counter()
    for i, q in enumerate(queries):
        t = time.perf_counter()
        found.append(searcher.search(q, ef))
        lat[i] = time.perf_counter() - t
    wall = time.perf_counter() - t0
    # Scored after the clock stops: recall is the harness's arithmetic, not either system's time.
    recall = np.array([recall_at_k(f, t) for f, t in zip(found, truth)])
    return {
        "ef": ef,
        "queries": len(queries),
        "qps": len(queries) / wall,
        "p50_ms": float(np.percentile(lat, 50) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
        "recall": float(recall.mean()),
    }


def timed_loop(searcher: Searcher, queries: np.ndarray, ef, until: float, first: int) -> np.ndarray:
    """Searches queries round-robin (starting at `first`) until wall time `until`; returns latencies in s.

    Kept as raw doubles, not a list of float objects (32 bytes each, whose pymalloc arenas outlive the list):
    the harness reads the worker's memory afterwards and counts what is left as the system's."""
    lat = array.array("d")
    i = first
    while time.time() < until:
        t = time.perf_counter()
        searcher.search(queries[i % len(queries)], ef)
        lat.append(time.perf_counter() - t)
        i += 1
    return np.frombuffer(lat)


def smaps_rollup(pid: int) -> dict:
    """Pss and its parts (kB -> bytes) of one process, from /proc/<pid>/smaps_rollup, and the page tables it
    has built (VmPTE, kernel memory that no Pss counts: mapping a 1.5 GiB segment costs each process ~3 MiB)."""
    out = {"Pss": 0, "Pss_Shmem": 0, "Pss_Anon": 0, "Rss": 0}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in out:
                out[key] = int(rest.split()[0]) * 1024
    with open(f"/proc/{pid}/status") as f:
        out["VmPTE"] = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmPTE:"))
    return out


def private_bytes(pid: int) -> int:
    """Pss - Pss_Shmem + page tables, summed over a process and its descendants: memory that is its own share
    of anonymous and file-backed pages, with tmpfs (/dev/shm) pages left out because they are counted once,
    as files, by the caller."""
    import psutil

    pids = [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
    total = 0
    for p in pids:
        try:
            r = smaps_rollup(p)
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += r["Pss"] - r["Pss_Shmem"] + r["VmPTE"]
    return total


def _file_mappings(pid: int) -> dict:
    """{path: file-backed Pss bytes} of the regular files a process maps (not /dev/shm): each mapping's Pss less
    its anonymous (copy-on-write) pages, which Pss_Anon already counts."""
    out = {}
    path, pss = None, 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split(maxsplit=5)
            if "-" in head[0] and ":" not in head[0]:  # a mapping's header: range perms offset dev inode [path]
                path = head[5].strip() if len(head) == 6 and head[5].startswith("/") else None
                if path and path.startswith("/dev/shm/"):
                    path = None
            elif path and head[0] == "Pss:":
                pss = int(head[1]) * 1024
            elif path and head[0] == "Anonymous:":
                out[path] = out.get(path, 0) + pss - int(head[1]) * 1024
    return out


def memory_mark(pid: int) -> dict:
    """What a process holds before it opens a system, for memory_since."""
    r = smaps_rollup(pid)
    return {"anon_and_tables": r["Pss_Anon"] + r["VmPTE"], "files": sorted(_file_mappings(pid))}


def memory_since(pid: int, mark: dict) -> int:
    """What a process has added since memory_mark: anonymous memory and page tables it has grown by, plus its
    share of every file it has mapped since (a library, a db file). Unlike a difference of whole Pss, this
    does not move with how many other processes map the interpreter's own libraries at either moment."""
    r = smaps_rollup(pid)
    before = set(mark["files"])
    new_files = sum(pss for path, pss in _file_mappings(pid).items() if path not in before)
    return r["Pss_Anon"] + r["VmPTE"] - mark["anon_and_tables"] + new_files
