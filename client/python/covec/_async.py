"""AsyncMilvusClient: pymilvus's asyncio client API over a local covec database.

Each coroutine runs the synchronous client's method on covec's own thread pool, so the native work (which releases
the GIL) happens off the event loop and many awaits proceed at once, on every core. All clients of one path in a
process share one native database (one mapping), the synchronous ones included.
"""

import asyncio
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from . import _remote
from .client import MilvusClient

_POOL_LOCK = threading.Lock()
_POOL = None


def _pool():
    """The threads every AsyncMilvusClient of this process runs its calls on. Their own pool, not the loop's
    default executor, so blocking work an application hands that executor never queues covec's reads."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="covec")
        return _POOL


def _forget_pool_in_child():
    # A forked child has none of the parent's threads: it starts its own pool on first use.
    global _POOL, _POOL_LOCK
    _POOL_LOCK = threading.Lock()
    _POOL = None


os.register_at_fork(after_in_child=_forget_pool_in_child)


def _on_pool(method):
    """``await client.<method>(...)``: the synchronous client's method with the same arguments, run on the pool."""
    name = method.__name__

    @functools.wraps(method)
    async def run(self, *args, **kwargs):
        return await self._run(getattr(self._client, name), *args, **kwargs)

    return run


class AsyncMilvusClient:
    """A drop-in for ``pymilvus.AsyncMilvusClient`` on a local path: ``await AsyncMilvusClient("data.db").search(...)``.

    Takes the same arguments as covec's MilvusClient; a Milvus server's URI gives pymilvus's AsyncMilvusClient.
    """

    def __new__(cls, *args, **kwargs):
        if cls is AsyncMilvusClient and _remote.is_remote(_remote.uri_argument(args, kwargs, None)):
            return _remote.pymilvus_client("AsyncMilvusClient", args, kwargs)
        return super().__new__(cls)

    def __init__(self, uri="milvus.db", user="", password="", db_name="", token="", timeout=None, **kwargs):
        self._client = MilvusClient(uri, user, password, db_name, token, timeout, **kwargs)

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.close()

    @staticmethod
    async def _run(method, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(_pool(), functools.partial(method, *args, **kwargs))

    @property
    def _using(self):
        return self._client._using

    async def _get_connection(self):
        return self._client._get_connection()

    create_schema = staticmethod(MilvusClient.create_schema)
    create_field_schema = staticmethod(MilvusClient.create_field_schema)
    prepare_index_params = staticmethod(MilvusClient.prepare_index_params)

    close = _on_pool(MilvusClient.close)
    create_collection = _on_pool(MilvusClient.create_collection)
    drop_collection = _on_pool(MilvusClient.drop_collection)
    rename_collection = _on_pool(MilvusClient.rename_collection)
    list_collections = _on_pool(MilvusClient.list_collections)
    has_collection = _on_pool(MilvusClient.has_collection)
    describe_collection = _on_pool(MilvusClient.describe_collection)
    get_collection_stats = _on_pool(MilvusClient.get_collection_stats)
    truncate_collection = _on_pool(MilvusClient.truncate_collection)
    alter_collection_properties = _on_pool(MilvusClient.alter_collection_properties)
    drop_collection_properties = _on_pool(MilvusClient.drop_collection_properties)
    add_collection_field = _on_pool(MilvusClient.add_collection_field)
    alter_collection_field = _on_pool(MilvusClient.alter_collection_field)
    compact = _on_pool(MilvusClient.compact)
    get_compaction_state = _on_pool(MilvusClient.get_compaction_state)
    flush = _on_pool(MilvusClient.flush)
    load_collection = _on_pool(MilvusClient.load_collection)
    load_partitions = _on_pool(MilvusClient.load_partitions)
    release_collection = _on_pool(MilvusClient.release_collection)
    release_partitions = _on_pool(MilvusClient.release_partitions)

    async def get_load_state(self, collection_name, partition_names=None, timeout=None, **kwargs):
        # pymilvus's async client names partitions where its synchronous one takes one partition_name.
        return await self._run(self._client._load_state, "get_load_state", collection_name, partition_names, kwargs)

    create_database = _on_pool(MilvusClient.create_database)
    drop_database = _on_pool(MilvusClient.drop_database)
    list_databases = _on_pool(MilvusClient.list_databases)
    describe_database = _on_pool(MilvusClient.describe_database)
    alter_database_properties = _on_pool(MilvusClient.alter_database_properties)
    drop_database_properties = _on_pool(MilvusClient.drop_database_properties)
    use_database = _on_pool(MilvusClient.use_database)
    using_database = _on_pool(MilvusClient.using_database)
    create_alias = _on_pool(MilvusClient.create_alias)
    alter_alias = _on_pool(MilvusClient.alter_alias)
    drop_alias = _on_pool(MilvusClient.drop_alias)
    describe_alias = _on_pool(MilvusClient.describe_alias)
    list_aliases = _on_pool(MilvusClient.list_aliases)
    create_partition = _on_pool(MilvusClient.create_partition)
    drop_partition = _on_pool(MilvusClient.drop_partition)
    has_partition = _on_pool(MilvusClient.has_partition)
    list_partitions = _on_pool(MilvusClient.list_partitions)
    get_partition_stats = _on_pool(MilvusClient.get_partition_stats)
    get_server_version = _on_pool(MilvusClient.get_server_version)

    def get_server_type(self):
        # A plain method in pymilvus's async client too: it reads what the connection already knows.
        return self._client.get_server_type()

    create_index = _on_pool(MilvusClient.create_index)
    drop_index = _on_pool(MilvusClient.drop_index)
    list_indexes = _on_pool(MilvusClient.list_indexes)
    describe_index = _on_pool(MilvusClient.describe_index)
    insert = _on_pool(MilvusClient.insert)
    upsert = _on_pool(MilvusClient.upsert)
    delete = _on_pool(MilvusClient.delete)
    get = _on_pool(MilvusClient.get)
    query = _on_pool(MilvusClient.query)

    async def search(
        self,
        collection_name,
        data=None,
        filter="",
        limit=10,
        output_fields=None,
        search_params=None,
        timeout=None,
        partition_names=None,
        anns_field=None,
        ranker=None,
        function_chains=None,
        ids=None,
        search_aggregation=None,
        **kwargs,
    ):
        # pymilvus's async search names no highlighter, so its parameters after function_chains sit elsewhere than
        # the synchronous one's: they are passed on by name.
        return await self._run(
            self._client.search,
            collection_name,
            data,
            filter,
            limit,
            output_fields,
            search_params,
            timeout,
            partition_names,
            anns_field,
            ranker=ranker,
            function_chains=function_chains,
            ids=ids,
            search_aggregation=search_aggregation,
            **kwargs,
        )

    hybrid_search = _on_pool(MilvusClient.hybrid_search)
