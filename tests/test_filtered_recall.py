"""Filtered search on real data: recall@10 of an HNSW collection against the exact filtered answer, at
selectivities from 0.1 % to 100 %, through MilvusClient.

The data is set A of ../shared/data (40,000 all-MiniLM-L6-v2 embeddings of Debian package descriptions, with
each package's section, priority and length bucket). A section follows what a description says, so these
filters are correlated with the vectors: `section == "libs"` asked with a query about a game makes the walk cross
the graph to reach the matches. client/tests/ann_filtered.rs covers filters uncorrelated with the vectors.
Skipped where ../shared is absent (a user's clone); CI has it."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import covec
from covec import DataType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import common  # noqa: E402  (bench/common.py: where ../shared/data is, from a clone or a worktree)

DATA = common.shared_data_dir()
K = 10
QUERIES = 200

pytestmark = pytest.mark.skipif(
    not (DATA / "A_base.f32.npy").exists(), reason=f"data set A is not at {DATA} (../shared/data beside the repo)"
)

def section_in(*names):
    return lambda m: np.isin(m["section"], names)


# (filter, the same test in numpy over the metadata columns); the comment is the share of rows it matches.
FILTERS = [
    ('section == "zope"', lambda m: m["section"] == "zope"),  # 0.03 %
    ('section == "gnustep"', lambda m: m["section"] == "gnustep"),  # 0.11 %
    ('priority != "optional"', lambda m: m["priority"] != "optional"),  # 1.4 %
    (
        'section in ["games", "x11", "sound"] and len_bucket >= 2',
        lambda m: section_in("games", "x11", "sound")(m) & (m["len_bucket"] >= 2),
    ),  # 3.3 %
    ('section == "libs"', lambda m: m["section"] == "libs"),  # 10.4 %: the smallest share the graph walks here
    (
        'section in ["python", "perl"] and len_bucket >= 1',
        lambda m: section_in("python", "perl")(m) & (m["len_bucket"] >= 1),
    ),  # 14 %
    ('section in ["libs", "libdevel", "doc"]', section_in("libs", "libdevel", "doc")),  # 25.5 %
    ("len_bucket >= 2", lambda m: m["len_bucket"] >= 2),  # 65 %
    ('section != "libs"', lambda m: m["section"] != "libs"),  # 89.6 %
    ('priority == "optional"', lambda m: m["priority"] == "optional"),  # 98.6 %
    ("", lambda m: np.ones(len(m["section"]), dtype=bool)),  # 100 %
]


@pytest.fixture(scope="module")
def set_a(tmp_path_factory):
    base = np.load(DATA / "A_base.f32.npy")
    queries = np.load(DATA / "A_query.f32.npy")[:QUERIES]
    with open(DATA / "A_base.jsonl") as f:
        meta = [json.loads(line) for line in f]
    columns = {key: np.array([m[key] for m in meta]) for key in ("section", "priority", "len_bucket")}
    tmp = tmp_path_factory.mktemp("filtered")
    (tmp / "shm").mkdir()
    client = covec.MilvusClient(str(tmp / "a.db"), shm_dir=str(tmp / "shm"))
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=base.shape[1])
    schema.add_field("section", DataType.VARCHAR, max_length=64)
    schema.add_field("priority", DataType.VARCHAR, max_length=64)
    schema.add_field("len_bucket", DataType.INT64)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200})
    client.create_collection("a", schema=schema, index_params=index)
    for start in range(0, len(base), 5000):
        client.insert(
            "a",
            [
                {"id": i, "vector": base[i], **{key: meta[i][key] for key in columns}}
                for i in range(start, min(start + 5000, len(base)))
            ],
        )
    client.flush("a")
    assert client.describe_index("a", "vector")["pending_index_rows"] == 0
    yield client, base, queries, columns
    client.close()


@pytest.mark.parametrize("expr, mask_of", FILTERS, ids=[f or "no filter" for f, _ in FILTERS])
def test_filtered_recall_on_real_data_is_at_least_095(set_a, expr, mask_of):
    client, base, queries, columns = set_a
    mask = mask_of(columns)
    matching = np.flatnonzero(mask)
    assert len(matching) >= K
    # Exact filtered top-K: the best K inner products among the matching rows.
    scores = queries @ base[matching].T
    exact = matching[np.argsort(-scores, axis=1, kind="stable")[:, :K]]
    found = client.search("a", data=queries, filter=expr, limit=K)
    recall = np.mean([len({h["id"] for h in hits} & set(e.tolist())) / K for hits, e in zip(found, exact)])
    print(f"{expr or '(none)'}: {len(matching) / len(base):.2%} of rows match, recall@10 {recall:.4f}")
    assert all(len(hits) == K for hits in found)
    assert all(mask[h["id"]] for hits in found for h in hits)
    assert recall >= 0.95, f"{expr!r}: recall@10 {recall:.4f} at {len(matching) / len(base):.2%} selectivity"
