"""Child processes for the multi-process tests: each mode is a small real program using covec.

Usage: python procs.py MODE DB [ARGS...]; prints JSON lines on stdout. The shm dir comes from COVEC_SHM_DIR.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

COLLECTION = "docs"
DIM = 16


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


def vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, DIM), dtype=np.float32)


def status_of(client) -> dict:
    status = client._db.status()
    status["path"] = str(status["path"])
    return status


def start_at(deadline: float) -> None:
    """Waits until a shared wall-clock instant so that many processes start together."""
    delay = deadline - time.time()
    if delay > 0:
        time.sleep(delay)


def mode_attach(db: str, deadline: str) -> None:
    """Opens the db at the given instant, searches once, reports the segment, waits for stdin to close."""
    from covec import MilvusClient

    start_at(float(deadline))
    client = MilvusClient(db)
    hits = client.search(COLLECTION, data=vectors(1, 0), limit=3)
    say(pid=os.getpid(), status=status_of(client), ids=[h["id"] for h in hits[0]])
    sys.stdin.read()
    client.close()


def mode_reader(db: str) -> None:
    """Searches in a loop; reports every change of the (generation, row count) it sees.

    Stops when stdin says 'quit'. Any error is reported and ends the process with status 1.
    """
    import select

    from covec import MilvusClient

    client = MilvusClient(db)
    last = None
    searches = 0
    while True:
        client.search(COLLECTION, data=vectors(1, searches), limit=5)
        searches += 1
        generation = status_of(client)["generation"]
        count = client.query(COLLECTION, filter="", output_fields=["count(*)"])[0]["count(*)"]
        # A commit between the two calls would pair the old generation with the new count.
        consistent = status_of(client)["generation"] == generation
        if consistent and (generation, count) != last:
            say(generation=generation, count=count, searches=searches)
            last = (generation, count)
        ready, _, _ = select.select([sys.stdin], [], [], 0.002)
        if ready and sys.stdin.readline().strip() == "quit":
            break
    say(done=True, searches=searches)
    client.close()


def mode_writer(db: str, batches: str, batch_size: str, first_id: str) -> None:
    """Inserts batches; reports each committed batch (the ids are durable once reported)."""
    from covec import MilvusClient

    client = MilvusClient(db)
    n, size, start = int(batches), int(batch_size), int(first_id)
    for b in range(n):
        ids = list(range(start + b * size, start + (b + 1) * size))
        data = vectors(size, ids[0])
        client.insert(COLLECTION, [{"id": i, "vector": data[k]} for k, i in enumerate(ids)])
        say(committed=ids[-1] + 1, generation=status_of(client)["generation"])
    client.close()


def mode_serve(db: str) -> None:
    """Answers one line per command on stdin: the row count, generation and where it reads them from
    (status's segment, segment_pending, loaded_by) on that call; 'index' adds describe_index's counts."""
    from covec import MilvusClient

    client = MilvusClient(db)
    for command in sys.stdin:
        if command.strip() == "quit":
            break
        count = client.query(COLLECTION, filter="", output_fields=["count(*)"])[0]["count(*)"]
        status = status_of(client)
        index = {}
        if command.strip() == "index":
            desc = client.describe_index(COLLECTION, client.list_indexes(COLLECTION)[0])
            index = {"indexed_rows": desc["indexed_rows"], "pending_index_rows": desc["pending_index_rows"]}
        say(count=count, **{k: status[k] for k in ("generation", "segment", "segment_pending", "loaded_by")},
            **index)
    client.close()


def mode_insert_and_wait(db: str, rows: str, first_id: str) -> None:
    """Inserts rows in one commit, reports its pid, then does nothing (its background builder may run)
    until stdin closes."""
    from covec import MilvusClient

    client = MilvusClient(db)
    n, start = int(rows), int(first_id)
    data = vectors(n, start)
    client.insert(COLLECTION, [{"id": start + k, "vector": data[k]} for k in range(n)])
    say(pid=os.getpid())
    sys.stdin.read()
    client.close()


def mode_hold(db: str, use_segment: str = "1") -> None:
    """Attaches, searches once (touching every vector), reports, and waits until killed."""
    from covec import MilvusClient

    client = MilvusClient(db, use_segment=use_segment == "1")
    dim = next(
        f["params"]["dim"]
        for f in client.describe_collection(COLLECTION)["fields"]
        if "dim" in f.get("params", {})
    )
    client.search(COLLECTION, data=np.ones((1, dim), np.float32), limit=1)
    say(pid=os.getpid(), status=status_of(client))
    while True:
        time.sleep(1)


def mode_iterate(db: str, batch: str) -> None:
    """Opens a search iterator and a query iterator, reports their first pages and generation, then on
    'go' reads every remaining page and reports them all; on 'close' closes the iterators, searches once
    (moving to the newest generation) and reports it."""
    from covec import MilvusClient

    client = MilvusClient(db)
    n = int(batch)
    search = client.search_iterator(COLLECTION, vectors(1, 0), batch_size=n, output_fields=["id"])
    query = client.query_iterator(COLLECTION, batch_size=n)
    search_ids = [h["id"] for h in search.next()]
    query_ids = [r["id"] for r in query.next()]
    say(generation=status_of(client)["generation"], search=search_ids, query=query_ids)
    assert sys.stdin.readline().strip() == "go"
    while page := search.next():
        search_ids += [h["id"] for h in page]
    while page := query.next():
        query_ids += [r["id"] for r in page]
    say(search=search_ids, query=query_ids)
    assert sys.stdin.readline().strip() == "close"
    search.close()
    query.close()
    del search, query
    client.search(COLLECTION, vectors(1, 0), limit=1)
    say(generation=status_of(client)["generation"])
    sys.stdin.read()
    client.close()


if __name__ == "__main__":
    mode = sys.argv[1]
    globals()["mode_" + mode](*sys.argv[2:])
