"""covec.AsyncMilvusClient: pymilvus's async API, the native work on covec's thread pool, one mapping per path."""

import asyncio
import inspect
import multiprocessing
import threading

import numpy as np
import pytest

import covec

DIM = 16


def vectors(n, seed):
    return np.random.default_rng(seed).random((n, DIM), dtype=np.float32)


def rows(start, n, seed):
    return [
        {"id": start + i, "vector": v, "group": (start + i) % 5, "text": f"row {start + i}"}
        for i, v in enumerate(vectors(n, seed))
    ]


def plain(result):
    """A search or query result as plain lists and dicts, vectors as lists (for equality across clients)."""
    if isinstance(result, list):
        return [plain(x) for x in result]
    if isinstance(result, dict):
        return {k: plain(v) for k, v in result.items()}
    return result


@pytest.fixture
def path(tmp_path, shm_dir):
    return str(tmp_path / "async.db")


@pytest.mark.parametrize("client_class", ["MilvusClient", "AsyncMilvusClient"])
def test_methods_and_signatures_are_pymilvus_clients(client_class):
    pymilvus = pytest.importorskip("pymilvus")
    theirs, ours = getattr(pymilvus, client_class), getattr(covec, client_class)
    shared = [n for n in vars(covec.MilvusClient) if not n.startswith("_") and hasattr(theirs, n)]
    assert len(shared) > 20
    for name in shared:
        their_method, our_method = getattr(theirs, name), getattr(ours, name)
        assert inspect.iscoroutinefunction(their_method) == inspect.iscoroutinefunction(our_method), name
        theirs_named, ours_named = (named_parameters(m) for m in (their_method, our_method))
        # The same parameters in the same order with the same defaults, as far as both name them; what only
        # pymilvus names, ours take through **kwargs.
        common = min(len(theirs_named), len(ours_named))
        assert ours_named[:common] == theirs_named[:common], name
        if len(ours_named) < len(theirs_named):
            assert takes_kwargs(our_method), name


def named_parameters(method):
    return [
        (p.name, p.default) for p in inspect.signature(method).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD
    ]


def takes_kwargs(method):
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(method).parameters.values())


def test_concurrent_reads_while_writes_equal_the_sync_client(path):
    sync = covec.MilvusClient(path)
    sync.create_collection("fixed", dimension=DIM, metric_type="L2")
    sync.insert("fixed", rows(0, 2000, seed=1))
    sync.create_collection("growing", dimension=DIM, metric_type="L2")
    queries = vectors(64, seed=2)
    expected_search = [plain(sync.search("fixed", data=[q], limit=5, output_fields=["group"])) for q in queries]
    expected_query = [plain(sync.query("fixed", filter=f"group == {g}", output_fields=["text"])) for g in range(5)]
    batch, writers = 25, 12

    async def main():
        client = covec.AsyncMilvusClient(path)
        searches = [client.search("fixed", data=[q], limit=5, output_fields=["group"]) for q in queries]
        filtered = [client.query("fixed", filter=f"group == {g}", output_fields=["text"]) for g in range(5)]
        inserts = [client.insert("growing", rows(w * batch, batch, seed=10 + w)) for w in range(writers)]
        counts = [client.query("growing", filter="", output_fields=["count(*)"]) for _ in range(24)]
        results = await asyncio.gather(*searches, *filtered, *inserts, *counts)
        await client.close()
        return results

    results = asyncio.run(main())
    found_search = [plain(r) for r in results[:64]]
    found_query = [plain(r) for r in results[64:69]]
    inserted = results[69 : 69 + writers]
    counts = [r[0]["count(*)"] for r in results[69 + writers :]]
    assert found_search == expected_search
    assert found_query == expected_query
    assert sorted(i for r in inserted for i in r["ids"]) == list(range(writers * batch))
    # Every read saw whole commits: a count between two inserts is a multiple of the batch.
    assert all(c % batch == 0 and 0 <= c <= writers * batch for c in counts)
    everything = sync.query("growing", filter="", output_fields=["group", "text"])
    assert sorted(r["id"] for r in everything) == list(range(writers * batch))
    assert all(r["group"] == r["id"] % 5 and r["text"] == f"row {r['id']}" for r in everything)


class _Recorder:
    """Wraps the native database to see where its calls run; search calls wait at a barrier of `parties`, which
    only calls running at the same time can pass."""

    def __init__(self, db, parties):
        self._db = db
        self.barrier = threading.Barrier(parties, timeout=30)
        self.threads = set()

    def __getattr__(self, name):
        method = getattr(self._db, name)

        def call(*args, **kwargs):
            self.threads.add(threading.current_thread())
            if name == "search":
                self.barrier.wait()
            return method(*args, **kwargs)

        return call


def test_native_calls_run_off_the_event_loop_at_the_same_time(path):
    covec.MilvusClient(path).create_collection("docs", dimension=DIM)
    client = covec.AsyncMilvusClient(path)
    client.prepare_index_params()  # the schema helpers are plain functions, as in pymilvus
    recorder = client._client._db = _Recorder(client._client._db, parties=4)

    async def main():
        await client.insert("docs", rows(0, 50, seed=3))
        loop_thread = threading.current_thread()
        hits = await asyncio.gather(*(client.search("docs", data=[q], limit=3) for q in vectors(4, seed=4)))
        return loop_thread, hits

    loop_thread, hits = asyncio.run(main())
    assert [len(h[0]) for h in hits] == [3, 3, 3, 3]
    assert loop_thread not in recorder.threads
    assert all(t.name.startswith("covec") for t in recorder.threads)


def test_clients_of_one_path_share_one_native_database(path):
    sync = covec.MilvusClient(path)
    first, second = covec.AsyncMilvusClient(path), covec.AsyncMilvusClient(uri=path)
    assert first._client._db is second._client._db is sync._db
    assert first._using == sync._using


def test_context_manager_closes_and_errors_keep_pymilvus_codes(path):
    async def main():
        async with covec.AsyncMilvusClient(path) as client:
            with pytest.raises(covec.MilvusException) as missing:
                await client.search("nope", data=[[0.0] * DIM], limit=1)
            state = await client.get_load_state("nope")
        with pytest.raises(covec.MilvusException, match="closed"):
            await client.list_collections()
        return missing.value.code, state

    code, state = asyncio.run(main())
    assert code == 100 and state["state"] == 0


def _search_in_forked_child(path, queue):
    async def main():
        return await covec.AsyncMilvusClient(path).search("docs", data=[[0.5] * DIM], limit=2)

    queue.put([h["id"] for h in asyncio.run(main())[0]])


def test_forked_child_runs_its_own_pool(path):
    client = covec.AsyncMilvusClient(path)

    async def parent():
        await client.create_collection("docs", dimension=DIM)
        await client.insert("docs", rows(0, 20, seed=5))
        return [h["id"] for h in (await client.search("docs", data=[[0.5] * DIM], limit=2))[0]]

    expected = asyncio.run(parent())
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_search_in_forked_child, args=(path, queue))
    child.start()
    found = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0 and found == expected
