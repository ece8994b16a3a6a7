"""HNSW through MilvusClient: recall against an exact collection of the same rows, rows written after the
graph (found at once, deleted ones never returned, in this process and another), describe_index."""

import json
import subprocess
import sys

import numpy as np
import pytest

import covec
from covec import DataType

DIM = 32
N = 5000
K = 10


def clustered(n, seed, centres=50):
    rng = np.random.default_rng(seed)
    c = np.random.default_rng(1).normal(size=(centres, DIM)).astype(np.float32)
    return (c[rng.integers(0, centres, n)] + 0.35 * rng.normal(size=(n, DIM))).astype(np.float32)


def make_collection(client, name, index_type, **params):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("bucket", DataType.INT64)
    index = client.prepare_index_params()
    index.add_index("v", index_type=index_type, metric_type="L2", params=params)
    client.create_collection(name, schema=schema, index_params=index)


def rows(vectors, start):
    return [{"id": start + i, "v": v.tolist(), "bucket": (start + i) % 100} for i, v in enumerate(vectors)]


def ids(results):
    return [[h["id"] for h in hits] for hits in results]


def recall(approx, exact):
    return np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)])


CHILD = """
import json, sys
import numpy as np
from covec import MilvusClient
db, new, gone = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
client = MilvusClient(db)
q = np.array(new["vectors"], dtype=np.float32)
found = [[h["id"] for h in hits] for hits in client.search("ann", data=q, limit=1)]
deleted = [[h["id"] for h in hits] for hits in client.search("ann", data=np.array(gone["vectors"], dtype=np.float32), limit=K)]
print(json.dumps({"found": found, "deleted": deleted}))
client.close()
""".replace("K)", f"{K})")


def test_hnsw_recall_tail_deletes_and_describe(make_client, tmp_path):
    client = make_client()
    data = clustered(N + 700, seed=3)
    base, extra, queries = data[:N], data[N : N + 500], data[N + 500 :]
    make_collection(client, "ann", "HNSW", M=8, efConstruction=64)
    make_collection(client, "exact", "FLAT")
    for start in range(0, N, 2500):
        client.insert("ann", rows(base[start : start + 2500], start))
    # The inserts started a background build; flush waits for it, so the graph holds all N rows.
    client.flush("ann")
    client.insert("exact", rows(base, 0))

    exact = ids(client.search("exact", data=queries, limit=K))
    approx = ids(client.search("ann", data=queries, limit=K))
    assert recall(approx, exact) >= 0.95
    # Half the rows match (2500: few enough that recommended_strategy scans the matches exactly).
    flt = "bucket < 50"
    exact_f = ids(client.search("exact", data=queries, limit=K, filter=flt))
    approx_f = ids(client.search("ann", data=queries, limit=K, filter=flt, search_params={"params": {"ef": 128}}))
    assert recall(approx_f, exact_f) >= 0.95

    # 500 rows after the graph (a 10 % tail: no rebuild) and 100 deletions.
    client.insert("ann", rows(extra, N))
    gone = list(range(0, 1000, 10))
    assert client.delete("ann", ids=gone)["delete_count"] == 100
    probe = [N, N + 123, N + 499]
    found = ids(client.search("ann", data=data[probe], limit=1))
    assert found == [[i] for i in probe]
    hits = ids(client.search("ann", data=data[gone], limit=K, search_params={"ef": 32}))
    assert not set(gone) & {i for h in hits for i in h}
    assert all(len(h) == K for h in hits)

    # Another process reads the same generation from the shared segment.
    db = str(tmp_path / "covec.db")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            db,
            json.dumps({"vectors": data[probe].tolist()}),
            json.dumps({"vectors": data[gone].tolist()}),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    child = json.loads(out.stdout)
    assert child["found"] == [[i] for i in probe]
    assert not set(gone) & {i for h in child["deleted"] for i in h}

    desc = client.describe_index("ann", "v")
    assert desc["index_type"] == "HNSW"
    assert desc["M"] == 8 and desc["efConstruction"] == 64
    assert desc["metric_type"] == "L2"
    # The 500-row tail minus nothing deleted in it waits outside the graph; flush indexes it, as
    # Milvus builds the index of the segments flush seals.
    assert (desc["total_rows"], desc["indexed_rows"], desc["pending_index_rows"]) == (N + 400, N - 100, 500)
    client.flush("ann")
    desc = client.describe_index("ann", "v")
    assert (desc["total_rows"], desc["indexed_rows"], desc["pending_index_rows"]) == (N + 400, N + 400, 0)
    assert ids(client.search("ann", data=data[probe], limit=1)) == [[i] for i in probe]
    live = np.setdiff1d(np.arange(N + 500), gone)
    dist = ((queries[:, None, :] - data[live][None, :, :]) ** 2).sum(axis=2)
    exact_live = live[np.argsort(dist, axis=1)[:, :K]].tolist()
    assert recall(ids(client.search("ann", data=queries, limit=K)), exact_live) >= 0.95
    assert client.describe_index("exact", "v")["index_type"] == "FLAT"
    assert client.describe_index("exact", "v")["pending_index_rows"] == 0


def test_bad_ef_is_a_milvus_error(make_client):
    client = make_client()
    make_collection(client, "ann", "HNSW")
    client.insert("ann", rows(clustered(10, seed=4), 0))
    with pytest.raises(covec.MilvusException, match="ef must be"):
        client.search("ann", data=clustered(1, seed=5), limit=3, search_params={"params": {"ef": "many"}})


EXIT_MID_BUILD = """
import sys
import numpy as np
from covec import DataType, MilvusClient
db, n, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = MilvusClient(db)
data = np.random.default_rng(5).standard_normal((n, dim), dtype=np.float32)
client.insert("ann", [{"id": i, "v": data[i].tolist(), "bucket": i % 100} for i in range(n)])
client.close()
print("closed", flush=True)
"""


def test_close_and_exit_do_not_wait_for_a_background_build(make_client, tmp_path):
    # The insert (within MAX_TAIL_ROWS, 16,384, so it does not wait) starts a background build of its
    # graph; close returns and the process exits without waiting for it (a build cut short is lost, as
    # in a crash). No row is lost: the next flush indexes them all.
    client = make_client()
    make_collection(client, "ann", "HNSW", M=8, efConstruction=64)
    n = 16000
    db = str(tmp_path / "covec.db")
    out = subprocess.run(
        [sys.executable, "-c", EXIT_MID_BUILD, db, str(n), str(DIM)],
        capture_output=True, text=True, timeout=600, check=True,
    )
    assert out.stdout.split() == ["closed"]
    assert client.query("ann", filter="", output_fields=["count(*)"])[0]["count(*)"] == n
    assert client.describe_index("ann", "v")["pending_index_rows"] in (0, n)
    client.flush("ann")
    assert client.describe_index("ann", "v")["pending_index_rows"] == 0
    hits = client.search("ann", data=[[0.0] * DIM], limit=3)
    assert len(hits[0]) == 3
