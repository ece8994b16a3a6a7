"""MilvusClient: pymilvus's client API over a local covec database (change one import).

Everything here is argument handling as pymilvus does it on the client; schemas, index requests, rows,
query vectors, search parameters, their checks and the results' shapes are the native
``covec._covec.Database``'s. Load state is process-wide per (db file, collection), as a Milvus server keeps
it per collection: releasing in one client makes search/query/get raise code 101 in every client of this
process until ``load_collection``.

No argument is dropped: each is honoured, accepted because it only tunes how a Milvus server reaches the
same answer, or refused with a ParamError that names it (docs/compatibility.md, "Parameters").
"""

import enum
import json
import os
import threading
import weakref

import numpy as np

from . import _remote, _schema
from ._results import ExtraList, HybridHits, OmitZeroDict, SearchResult
from .exceptions import DataTypeNotMatchException, MilvusException, ParamError, PrimaryKeyException

# Keyword arguments that tune how a Milvus server reaches its answer (consistency, time travel, shards,
# replicas): covec's answer is the same without them.
_SERVER_TUNING = frozenset(
    {
        "consistency_level",
        "guarantee_timestamp",
        "graceful_time",
        "num_shards",
        "shards_num",
        "num_partitions",
        "replica_number",
    }
)
# search() and hybrid_search() keyword arguments they honour (the engine reads them: search_params.rs).
_SEARCH_KWARGS = ("offset", "round_decimal", "group_by_field", "group_size", "strict_group_size")
# pymilvus's bound on an iterator's batch_size.
_MAX_BATCH_SIZE = 16384
# load_collection() and load_partitions() keyword arguments that tune how a server loads; covec maps the db on
# first use.
_LOAD_TUNING = frozenset({"refresh", "resource_groups", "load_fields"})
# insert() keyword arguments that repeat the rows: LangChain's add_embeddings, having just made the collection
# from its embeddings and metadatas, passes them on with the rows built from them (pymilvus drops them).
_REPEATING_ROWS = frozenset({"embeddings", "metadatas"})
# MilvusClient(...) arguments that configure a connection to a server; covec opens a local file.
_CONNECTION = frozenset(
    {
        "secure",
        "client_key_path",
        "client_pem_path",
        "ca_pem_path",
        "server_pem_path",
        "server_name",
        "grpc_options",
        "keep_alive",
        "alias",
        "dedicated",
        "cluster_id",
    }
)
# Arguments pymilvus takes that covec has not implemented, with the feature each waits for. A value that
# asks for what covec does anyway is honoured (`_MEANS_DEFAULT`); any other raises ParamError, except a
# partition other than "_default" (`_check`).
_NOT_YET = {
    "partition_names": "partitions",
    "partition_name": "partitions",
    # LlamaIndex's delete_nodes passes its own keyword on to delete(), beside the partition_name it makes of it.
    "milvus_partition_name": "partitions",
    "db_name": "databases",
    "target_db": "databases",
    "group_by_fields": "grouping by several fields",
    "json_path": "grouping by JSON paths",
    "json_type": "grouping by JSON paths",
    "strict_cast": "grouping by JSON paths",
    "rank_group_scorer": "group scorers",
    "highlighter": "highlighting",
    "search_aggregation": "search aggregation",
    "order_by_fields": "ordering by fields",
    "ids": "search by primary keys",
    "namespace": "namespaces",
    "timezone": "TIMESTAMPTZ fields",
    "time_fields": "TIMESTAMPTZ fields",
    "ignore_growing": "searching indexed rows only",
    "properties": "collection properties",
}


def _partition_list(names):
    """A partition_name(s) argument as a list; a value of another type is one item, which names no partition."""
    return list(names) if isinstance(names, (list, tuple)) else [names]


def _default_partitions(names):
    # Every row lives in the default partition, so naming only it selects every row.
    return names is None or all(n == "_default" for n in _partition_list(names))


def _default_partition(name):
    return name in (None, "", "_default")


# Values of `_NOT_YET` arguments that mean what covec does anyway (the error shows the value); for the
# others only None does.
_MEANS_DEFAULT = {
    "partition_names": _default_partitions,
    "partition_name": _default_partition,
    "milvus_partition_name": _default_partition,
    "db_name": lambda v: v in (None, "", "default"),
    "target_db": lambda v: v in (None, "", "default"),
    "properties": lambda v: not v,
    "ignore_growing": lambda v: v in (None, False),
}


def _missing_partition(names):
    """The first partition named in `names` other than "_default", or None."""
    return next((n for n in _partition_list(names) if isinstance(n, str) and n not in ("", "_default")), None)


def _check(method, name, value):
    """Raises unless `value` of the not-yet-implemented argument `name` asks for what covec does: ParamError,
    or for a partition other than "_default" code 200, which is what a server answers for a partition never
    created (covec cannot create one)."""
    means_default = _MEANS_DEFAULT.get(name)
    if means_default is None:
        if value is not None:
            raise ParamError(message=f"{method}(): {name} ({_NOT_YET[name]}) is not supported by covec yet")
    elif not means_default(value):
        missing = _missing_partition(value) if _NOT_YET[name] == "partitions" else None
        if missing is not None:
            raise MilvusException(code=200, message=f"partition not found[partition={missing}]")
        raise ParamError(message=f"{method}(): {name}={value!r} ({_NOT_YET[name]}) is not supported by covec yet")


def _check_kwargs(method, kwargs, honoured=frozenset()):
    """Every keyword argument is honoured by the caller, tunes a server, or is checked by `_check`."""
    for name, value in kwargs.items():
        if name in honoured or name in _SERVER_TUNING:
            continue
        if name not in _NOT_YET:
            raise ParamError(message=f"{method}() got an unexpected keyword argument '{name}'")
        _check(method, name, value)


class LoadState(enum.IntEnum):
    """pymilvus's LoadState numbers, so comparisons with pymilvus.client.types.LoadState hold; printed by name, as
    pymilvus prints them."""

    NotExist = 0
    NotLoad = 1
    Loading = 2
    Loaded = 3

    def __repr__(self):
        return f"<LoadState: {self.name}>"

    def __str__(self):
        return self.name


_REGISTRY_LOCK = threading.Lock()
# One native Database per (pid, db path, options): clients of one process share the mapping; a forked
# child opens its own. Weak values: the Database closes when its last client goes away.
_DATABASES = weakref.WeakValueDictionary()
# (db path, collection) -> False once released. Missing means loaded (covec has nothing to load).
_RELEASED = set()


def _native():
    from . import _covec

    return _covec


def _open_database(path, shm_dir, use_segment, group):
    key = (os.getpid(), path, shm_dir, use_segment, group)
    with _REGISTRY_LOCK:
        db = _DATABASES.get(key)
        if db is None:
            db = _native().Database(path, shm_dir=shm_dir, use_segment=use_segment, group=group)
            _DATABASES[key] = db
        return db


def _local_path(uri):
    if not isinstance(uri, (str, os.PathLike)):
        raise ParamError(message=f"uri must be a local path, got {type(uri).__name__}")
    uri = os.fspath(uri)
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    if "://" in uri:
        raise ParamError(
            message="covec opens local database files and Milvus servers (http://, https://, tcp://, unix:), "
            f"got uri '{uri}'"
        )
    return os.path.realpath(uri)


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (str, int)) or np.isscalar(value):
        return [value]
    return list(value)


def _function_spec(function):
    """A RERANK Function (ours or pymilvus's) as the engine reads it (search_params/rerank.rs)."""
    kind = getattr(function, "type", getattr(function, "function_type", None))
    return {
        "name": getattr(function, "name", ""),
        "type": int(kind) if kind is not None else None,
        "input_field_names": list(getattr(function, "input_field_names", None) or []),
        "params": dict(getattr(function, "params", None) or {}),
    }


def _ranker_spec(ranker, hybrid):
    """`ranker=` as the engine reads it: a FunctionScore, a lone Function (a FunctionScore of one) or,
    for hybrid_search, a RRFRanker/WeightedRanker (their ``dict()``). pymilvus's own checks first."""
    is_score = hasattr(ranker, "functions")
    is_function = hasattr(ranker, "input_field_names")
    if hybrid and is_score:
        raise ParamError(message="The hybrid search rerank must be a Function or a Ranker.")
    if is_score:
        return {"functions": [_function_spec(f) for f in ranker.functions], "params": dict(ranker.params or {})}
    if is_function:
        return {"functions": [_function_spec(ranker)], "params": {}}
    if hybrid and callable(getattr(ranker, "dict", None)):
        described = ranker.dict()
        return {"strategy": described.get("strategy"), "params": described.get("params") or {}}
    if hybrid:
        raise ParamError(message="The hybrid search rerank must be a Function or a Ranker.")
    raise ParamError(message="The search ranker must be a Function or FunctionScore.")


def _chain_spec(function_chains):
    """`function_chains=` (pymilvus FunctionChain objects) as the engine reads them
    (search_params/chain.rs): a search runs exactly one."""
    chains = list(function_chains) if isinstance(function_chains, (list, tuple)) else [function_chains]
    if len(chains) != 1:
        raise ParamError(message=f"ordinary search supports exactly one function chain, got {len(chains)}")
    chain = chains[0]
    if not hasattr(chain, "ops") or not hasattr(chain, "stage"):
        raise ParamError(message="function_chains takes pymilvus FunctionChain objects")

    def arg(value):
        if type(value).__name__ == "ColumnRef" and hasattr(value, "name"):
            return {"column": value.name}
        return {"literal": value}

    def op_spec(op):
        expr = op.expr
        return {
            "op": op.op,
            "expr": None
            if expr is None
            else {"name": expr.name, "args": [arg(a) for a in expr.args], "params": dict(expr.params)},
            "inputs": list(op.inputs),
            "outputs": list(op.outputs),
            "params": dict(op.params),
        }

    stage = getattr(chain.stage, "name", str(chain.stage))
    return {"name": getattr(chain, "name", ""), "stage": stage, "ops": [op_spec(op) for op in chain.ops]}


def _ann_request(req):
    """An AnnSearchRequest (ours or pymilvus's) as the native hybrid_search reads it."""
    return {
        "data": req.data,
        "anns_field": req.anns_field,
        "param": req.param,
        "limit": req.limit,
        "expr": req.expr,
        "expr_params": getattr(req, "expr_params", None),
    }


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise ParamError(message=f"batch size must be an int, got {type(batch_size).__name__}")
    if batch_size < 0:
        raise ParamError(message="batch size cannot be less than zero")
    if batch_size > _MAX_BATCH_SIZE:
        raise ParamError(message=f"batch size cannot be larger than {_MAX_BATCH_SIZE}")


def _check_limit(limit):
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ParamError(message=f"`limit` value {limit} is illegal")


def _iterator_limit(limit):
    """An iterator's total limit: None for pymilvus's UNLIMITED (-1)."""
    if limit is None or limit == -1:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ParamError(message=f"`limit` value {limit} is illegal")
    return limit


class SearchIterator:
    """Pages of one search's hits, best first, all from the generation current when it was created
    (a commit meanwhile does not change them): ``next()`` returns the next page (empty at the end),
    ``close()`` lets the generation go. ``external_filter_func`` filters each page, as pymilvus's."""

    def __init__(self, native, batch_size, limit, external_filter_func):
        self._native = native
        self._batch_size = batch_size
        self._left = limit
        self._filter = external_filter_func
        self._cache = []

    def next(self):
        if self._native is None:
            raise MilvusException(code=1, message="this search iterator is closed")
        want = self._batch_size if self._left is None else min(self._batch_size, self._left)
        if want == 0:
            return HybridHits()
        if self._filter is None:
            page = self._native.next(want)
        else:
            while len(self._cache) < want:
                fetched = self._native.next(self._batch_size)
                if not fetched:
                    break
                self._cache.extend(self._filter(fetched))
            page = HybridHits(self._cache[:want])
            del self._cache[:want]
        if self._left is not None:
            self._left -= len(page)
        return page

    def close(self):
        self._native = None
        self._cache = []


class QueryIterator:
    """Pages of the rows a filter matches, in primary-key order, all from the generation current when
    it was created: ``next()`` returns the next page (empty at the end), ``close()`` lets it go."""

    def __init__(self, native, batch_size, limit):
        self._native = native
        self._batch_size = batch_size
        self._left = limit

    def next(self):
        if self._native is None:
            raise MilvusException(code=1, message="this query iterator is closed")
        want = self._batch_size if self._left is None else min(self._batch_size, self._left)
        rows = self._native.next(want) if want else []
        if self._left is not None:
            self._left -= len(rows)
        return ExtraList(rows)

    def close(self):
        self._native = None


def _filter_literal(pk):
    # Filter strings are JSON-compatible double-quoted literals; non-ASCII stays literal (no \\u escapes).
    return json.dumps(pk, ensure_ascii=False) if isinstance(pk, str) else str(int(pk))


class MilvusClient:
    """A drop-in for ``pymilvus.MilvusClient`` on a local path: ``MilvusClient("data.db")``.

    Extra keyword arguments: ``shm_dir`` (default ``$COVEC_SHM_DIR`` or /dev/shm), ``use_segment``
    (False maps the db file instead of a shared-memory segment), ``group`` (gid or name that may read
    the segments). ``user``, ``password``, ``token`` and connection settings are accepted: a local file
    has no server to authenticate to.

    A Milvus server's URI (``http://``, ``https://``, ``tcp://``, ``unix:``) gives pymilvus's own client for that
    server instead, with the same arguments.
    """

    def __new__(cls, *args, **kwargs):
        if cls is MilvusClient and _remote.is_remote(_remote.uri_argument(args, kwargs, None)):
            return _remote.pymilvus_client("MilvusClient", args, kwargs)
        return super().__new__(cls)

    def __init__(self, uri="milvus.db", user="", password="", db_name="", token="", timeout=None, **kwargs):
        _check("MilvusClient", "db_name", db_name)
        _check_kwargs("MilvusClient", kwargs, _CONNECTION | {"shm_dir", "use_segment", "group"})
        self._path = _local_path(uri)
        self._db = _open_database(
            self._path,
            kwargs.get("shm_dir"),
            bool(kwargs.get("use_segment", True)),
            kwargs.get("group"),
        )
        # Primary key name by collection name; dropped on our own DDL and on "collection not found" errors.
        self._pks = {}

    # --- plumbing -----------------------------------------------------------------------------------

    @property
    def _database(self):
        if self._db is None:
            raise MilvusException(code=1, message="this MilvusClient is closed; create a new one")
        return self._db

    def close(self):
        self._db = None
        self._pks.clear()

    def _pk(self, name):
        """The primary key's name, cached: every search, get and query needs it."""
        pk = self._pks.get(name)
        if pk is None:
            fields = self._call(name, self._database.describe_collection, name)["fields"]
            pk = self._pks[name] = next(f["name"] for f in fields if f.get("is_primary"))
        return pk

    def _call(self, name, fn, *args, **kwargs):
        """Calls the native database; a stale cached primary key is forgotten when the collection is gone."""
        try:
            return fn(*args, **kwargs)
        except MilvusException as e:
            if e.code == 100:
                self._pks.pop(name, None)
            raise

    def _check_loaded(self, name):
        if (self._path, name) in _RELEASED:
            raise MilvusException(
                code=101,
                message=f"Collection '{name}' is in state 'released'; call load() before search/get/query",
            )

    # --- schema helpers ------------------------------------------------------------------------------

    @staticmethod
    def create_schema(**kwargs):
        return _schema.CollectionSchema([], **kwargs)

    @staticmethod
    def create_field_schema(name, data_type, desc="", **kwargs):
        return _schema.FieldSchema(name, data_type, desc, **kwargs)

    @staticmethod
    def prepare_index_params(field_name="", **kwargs):
        return _schema.IndexParams(field_name, **kwargs)

    # --- collections ---------------------------------------------------------------------------------

    def create_collection(
        self,
        collection_name,
        dimension=None,
        primary_field_name="id",
        id_type="int",
        vector_field_name="vector",
        metric_type="COSINE",
        auto_id=False,
        timeout=None,
        schema=None,
        index_params=None,
        **kwargs,
    ):
        if schema is None:
            if index_params is not None:
                raise ParamError(
                    message="create_collection(): index_params needs schema=; quick setup (dimension=) builds "
                    "its own AUTOINDEX with metric_type"
                )
            quick = {k: kwargs.pop(k) for k in ("enable_dynamic_field", "max_length", "description") if k in kwargs}
            _check_kwargs("create_collection", kwargs)
            schema, index_params = self._quick_schema(
                dimension, primary_field_name, id_type, vector_field_name, metric_type, auto_id, **quick
            )
        else:
            # pymilvus drops the quick-setup arguments when a schema is given; a caller who set one meant it.
            for name, value, default in (
                ("dimension", dimension, None),
                ("primary_field_name", primary_field_name, "id"),
                ("id_type", id_type, "int"),
                ("vector_field_name", vector_field_name, "vector"),
                ("metric_type", metric_type, "COSINE"),
                ("auto_id", auto_id, False),
            ):
                if value != default:
                    raise ParamError(
                        message=f"create_collection(): {name} is for quick setup (dimension=); with schema= the "
                        "schema and index_params say it"
                    )
            _check_kwargs("create_collection", kwargs)
        self._database.create_collection(collection_name, schema, index_params)
        self._pks.pop(collection_name, None)
        _RELEASED.discard((self._path, collection_name))

    @staticmethod
    def _quick_schema(dimension, primary_field_name, id_type, vector_field_name, metric_type, auto_id, **kwargs):
        if dimension is None:
            raise ParamError(message="missing required argument: [dimension]")
        if isinstance(dimension, bool) or not isinstance(dimension, int):
            raise ParamError(
                message=f"wrong type of argument [dimension], expected type: [int], got type: [{type(dimension).__name__}]"
            )
        schema = _schema.CollectionSchema(
            [],
            description=kwargs.get("description", ""),
            auto_id=auto_id,
            enable_dynamic_field=kwargs.get("enable_dynamic_field", True),
        )
        if id_type in ("int", _schema.DataType.INT64):
            schema.add_field(primary_field_name, _schema.DataType.INT64, is_primary=True, auto_id=auto_id)
        elif id_type in ("string", "str", _schema.DataType.VARCHAR):
            schema.add_field(
                primary_field_name,
                _schema.DataType.VARCHAR,
                is_primary=True,
                auto_id=auto_id,
                max_length=kwargs.get("max_length"),
            )
        else:
            raise PrimaryKeyException(message="Primary key type must be DataType.INT64 or DataType.VARCHAR.")
        schema.add_field(vector_field_name, _schema.DataType.FLOAT_VECTOR, dim=dimension)
        index_params = _schema.IndexParams()
        index_params.add_index(vector_field_name, "AUTOINDEX", vector_field_name, metric_type=metric_type)
        return schema, index_params

    def drop_collection(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("drop_collection", kwargs)
        self._database.drop_collection(collection_name)
        self._pks.pop(collection_name, None)
        _RELEASED.discard((self._path, collection_name))

    def rename_collection(self, old_name, new_name, target_db="", timeout=None, **kwargs):
        _check("rename_collection", "target_db", target_db)
        _check_kwargs("rename_collection", kwargs)
        self._call(old_name, self._database.rename_collection, old_name, new_name)
        self._pks.pop(old_name, None)
        self._pks.pop(new_name, None)
        if (self._path, old_name) in _RELEASED:
            _RELEASED.discard((self._path, old_name))
            _RELEASED.add((self._path, new_name))

    def list_collections(self, **kwargs):
        _check_kwargs("list_collections", kwargs)
        return list(self._database.list_collections())

    def has_collection(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("has_collection", kwargs)
        return bool(self._database.has_collection(collection_name))

    def describe_collection(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("describe_collection", kwargs)
        return self._call(collection_name, self._database.describe_collection, collection_name)

    def alter_collection_properties(self, collection_name, properties, timeout=None, **kwargs):
        """Only an empty `properties` (nothing to alter) is honoured; covec stores no collection properties yet."""
        _check("alter_collection_properties", "properties", properties)
        _check_kwargs("alter_collection_properties", kwargs)
        self._call(collection_name, self._database.row_count, collection_name)  # code 100 when missing

    def get_collection_stats(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("get_collection_stats", kwargs)
        return {"row_count": self._call(collection_name, self._database.row_count, collection_name)}

    def flush(self, collection_name, timeout=None, **kwargs):
        """Every covec write is durable when it returns; flush puts the rows written since the graph last
        grew into it (describe_index's pending_index_rows), as Milvus indexes the segments it seals."""
        _check_kwargs("flush", kwargs)
        self._call(collection_name, self._database.flush, collection_name)

    # --- load state ----------------------------------------------------------------------------------

    def load_collection(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("load_collection", kwargs, _LOAD_TUNING)
        self._call(collection_name, self._database.row_count, collection_name)  # code 100 when missing
        _RELEASED.discard((self._path, collection_name))

    def load_partitions(self, collection_name, partition_names, timeout=None, **kwargs):
        """Loads the collection, whose one partition is "_default"."""
        _check("load_partitions", "partition_names", partition_names)
        _check_kwargs("load_partitions", kwargs, _LOAD_TUNING)
        self.load_collection(collection_name)

    def release_collection(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("release_collection", kwargs)
        self._call(collection_name, self._database.row_count, collection_name)  # code 100 when missing
        _RELEASED.add((self._path, collection_name))

    def get_load_state(self, collection_name, partition_name="", timeout=None, **kwargs):
        _check("get_load_state", "partition_name", partition_name)
        _check_kwargs("get_load_state", kwargs)
        if not self._database.has_collection(collection_name):
            return {"state": LoadState.NotExist}
        released = (self._path, collection_name) in _RELEASED
        return {"state": LoadState.NotLoad if released else LoadState.Loaded}

    # --- indexes -------------------------------------------------------------------------------------

    def create_index(self, collection_name, index_params, timeout=None, **kwargs):
        _check_kwargs("create_index", kwargs, {"sync"})  # covec builds an index inside its commit: always in sync
        self._call(collection_name, self._database.create_index, collection_name, index_params)

    def drop_index(self, collection_name, index_name, timeout=None, **kwargs):
        _check_kwargs("drop_index", kwargs)
        self._call(collection_name, self._database.drop_index, collection_name, index_name)

    def list_indexes(self, collection_name, field_name="", timeout=None, **kwargs):
        _check_kwargs("list_indexes", kwargs)
        return self._call(collection_name, self._database.list_indexes, collection_name, field_name or "")

    def describe_index(self, collection_name, index_name, timeout=None, **kwargs):
        _check_kwargs("describe_index", kwargs)
        return self._call(collection_name, self._database.describe_index, collection_name, index_name)

    # --- writes --------------------------------------------------------------------------------------

    @staticmethod
    def _rows(data):
        """pymilvus's own check of `data`; the rows themselves are checked natively."""
        if isinstance(data, dict):
            return [data]
        if not isinstance(data, (list, tuple)):
            raise DataTypeNotMatchException(
                message=f"wrong type of argument 'data', expected 'Dict' or list of 'Dict', got '{type(data).__name__}'"
            )
        return data

    def insert(self, collection_name, data, timeout=None, partition_name="", **kwargs):
        _check("insert", "partition_name", partition_name)
        _check_kwargs("insert", kwargs, _REPEATING_ROWS)
        rows = self._rows(data)
        if not rows:
            return OmitZeroDict({"insert_count": 0, "ids": [], "cost": 0})
        ids = self._call(collection_name, self._database.insert, collection_name, rows)
        return OmitZeroDict({"insert_count": len(ids), "ids": ids, "cost": 0})

    def upsert(self, collection_name, data, timeout=None, partition_name="", **kwargs):
        _check("upsert", "partition_name", partition_name)
        _check_kwargs("upsert", kwargs, {"partial_update"})
        rows = self._rows(data)
        if not rows:
            return OmitZeroDict({"upsert_count": 0, "ids": [], "cost": 0})
        partial = bool(kwargs.get("partial_update", False))
        ids = self._call(collection_name, self._database.upsert, collection_name, rows, partial)
        return OmitZeroDict({"upsert_count": len(ids), "ids": ids, "cost": 0})

    def delete(self, collection_name, ids=None, timeout=None, filter=None, partition_name=None, **kwargs):
        _check("delete", "partition_name", partition_name)
        _check_kwargs("delete", kwargs, {"pks", "filter_params"})
        if kwargs.get("pks") is not None:  # pymilvus's older name for ids, still read
            ids = _as_list(kwargs["pks"]) + _as_list(ids)
        if ids is not None and filter:
            raise ParamError(message="Ambiguous filter parameter, only one deletion condition can be specified.")
        if ids is not None and kwargs.get("filter_params"):
            raise ParamError(message="filter_params are the values of a filter's placeholders; delete by ids has no filter")
        if ids is not None:
            count = self._call(collection_name, self._database.delete_ids, collection_name, _as_list(ids))
        elif isinstance(filter, str) and filter.strip():
            count = self._call(
                collection_name, self._database.delete_filter, collection_name, filter, kwargs.get("filter_params")
            )
        elif filter is None:
            raise DataTypeNotMatchException(message=f"The type of expr must be string ,but {type(filter)!r} is given.")
        else:
            raise ParamError(message="delete needs ids or a non-empty filter; to remove every row use drop_collection")
        return {"delete_count": int(count)}

    # --- reads ---------------------------------------------------------------------------------------

    @staticmethod
    def _output(output_fields):
        """(names, all) for the engine: None/[] and '*' select every field, vectors included."""
        names = _as_list(output_fields)
        if not names or "*" in names:
            return [n for n in names if n != "*"], True
        return names, False

    def get(self, collection_name, ids, output_fields=None, timeout=None, partition_names=None, **kwargs):
        _check("get", "partition_names", partition_names)
        _check_kwargs("get", kwargs)
        self._check_loaded(collection_name)
        ids = _as_list(ids)
        if not ids:
            return ExtraList([])
        names, all_fields = self._output(output_fields)
        if not all_fields:
            pk = self._pk(collection_name)
            names = [pk] + [n for n in names if n != pk]
        rows = self._call(collection_name, self._database.get, collection_name, ids, names, all_fields)
        return ExtraList(rows)

    def query(
        self,
        collection_name,
        filter="",
        output_fields=None,
        timeout=None,
        ids=None,
        partition_names=None,
        **kwargs,
    ):
        _check("query", "partition_names", partition_names)
        _check_kwargs("query", kwargs, {"limit", "offset", "filter_params"})
        self._check_loaded(collection_name)
        if filter is None:
            filter = ""
        if not isinstance(filter, str):
            raise DataTypeNotMatchException(message=f"The type of expr must be string ,but {type(filter)!r} is given.")
        pk = self._pk(collection_name)
        if ids is not None:
            id_filter = f"{pk} in [{', '.join(_filter_literal(i) for i in _as_list(ids))}]"
            filter = f"({filter}) and {id_filter}" if filter.strip() else id_filter
        names = _as_list(output_fields)
        if "count(*)" in names:
            if len(names) > 1:
                raise MilvusException(code=6, message="count(*) cannot be combined with other output fields")
            count = self._call(collection_name, self._database.count, collection_name, filter, kwargs.get("filter_params"))
            return ExtraList([{"count(*)": int(count)}])
        limit = kwargs.get("limit")
        offset = int(kwargs.get("offset") or 0)
        if limit is not None and limit < 0:
            limit = None
        names, all_fields = self._output(output_fields)
        if not all_fields:
            names = [pk] + [n for n in names if n != pk]
        rows = self._call(
            collection_name,
            self._database.query,
            collection_name,
            filter,
            names,
            all_fields,
            limit,
            offset,
            kwargs.get("filter_params"),
        )
        return ExtraList(rows)

    def search(
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
        highlighter=None,
        ids=None,
        search_aggregation=None,
        **kwargs,
    ):
        if partition_names is not None:
            _check("search", "partition_names", partition_names)
        if function_chains is not None and ranker is not None:
            raise ParamError(message="function_chains and ranker cannot be used together")
        if function_chains is not None and kwargs.get("order_by_fields"):
            raise ParamError(message="order_by and function rerank cannot be used together")
        if highlighter is not None:
            _check("search", "highlighter", highlighter)
        if ids is not None or search_aggregation is not None:
            _check("search", "ids", ids)
            _check("search", "search_aggregation", search_aggregation)
        if kwargs:
            _check_kwargs("search", kwargs, frozenset(_SEARCH_KWARGS) | {"filter_params"})
        self._check_loaded(collection_name)
        if data is None:
            raise ParamError(message="missing required argument: [data]")
        _check_limit(limit)
        spec = None if ranker is None else _ranker_spec(ranker, hybrid=False)
        chain = None if function_chains is None else _chain_spec(function_chains)
        pk = self._pk(collection_name)
        names, all_fields = self._output(output_fields)
        hits = self._call(
            collection_name,
            self._database.search,
            collection_name,
            data,
            limit,
            filter or "",
            names,
            all_fields,
            search_params,
            anns_field,
            {k: kwargs.get(k) for k in _SEARCH_KWARGS},
            spec,
            pk,
            self._keeps_pk(pk, output_fields),
            kwargs.get("filter_params"),
            chain,
        )
        return SearchResult(hits)

    def hybrid_search(
        self,
        collection_name,
        reqs,
        ranker,
        limit=10,
        output_fields=None,
        timeout=None,
        partition_names=None,
        **kwargs,
    ):
        """Each AnnSearchRequest searched on one generation, their hits merged by `ranker`
        (RRFRanker, WeightedRanker, or a RERANK Function: rrf, weighted, decay, boost)."""
        if partition_names is not None:
            _check("hybrid_search", "partition_names", partition_names)
        if kwargs:
            _check_kwargs("hybrid_search", kwargs, frozenset(_SEARCH_KWARGS))
        self._check_loaded(collection_name)
        if not isinstance(reqs, (list, tuple)) or not reqs:
            raise ParamError(message="hybrid_search needs a non-empty list of AnnSearchRequest in reqs")
        _check_limit(limit)
        if ranker is None:
            raise ParamError(message="The hybrid search rerank must be a Function or a Ranker.")
        spec = _ranker_spec(ranker, hybrid=True)
        pk = self._pk(collection_name)
        names, all_fields = self._output(output_fields)
        hits = self._call(
            collection_name,
            self._database.hybrid_search,
            collection_name,
            [_ann_request(r) for r in reqs],
            spec,
            limit,
            names,
            all_fields,
            {k: kwargs.get(k) for k in _SEARCH_KWARGS},
            pk,
            self._keeps_pk(pk, output_fields),
        )
        return SearchResult(hits)

    def search_iterator(
        self,
        collection_name,
        data,
        batch_size=1000,
        filter=None,
        limit=-1,
        output_fields=None,
        search_params=None,
        timeout=None,
        partition_names=None,
        anns_field=None,
        round_decimal=-1,
        *,
        external_filter_func=None,
        **kwargs,
    ):
        """Pages of `batch_size` hits for one query vector, best first, from one generation."""
        if partition_names is not None:
            _check("search_iterator", "partition_names", partition_names)
        if kwargs.get("offset") or (isinstance(search_params, dict) and search_params.get("offset")):
            raise ParamError(message="Offset is not supported for search_iterator_v2")
        kwargs.pop("offset", None)
        if kwargs:
            _check_kwargs("search_iterator", kwargs, {"filter_params"})
        _check_batch_size(batch_size)
        left = _iterator_limit(limit)
        if filter is not None and not isinstance(filter, str):
            raise DataTypeNotMatchException(message=f"The type of expr must be string ,but {type(filter)!r} is given.")
        if data is None or (hasattr(data, "__len__") and len(data) == 0):
            raise ParamError(message="The vector data for search cannot be empty")
        if isinstance(data, (list, tuple)) and len(data) > 1 and not np.isscalar(data[0]):
            raise ParamError(message="search_iterator_v2 does not support processing multiple vectors simultaneously")
        self._check_loaded(collection_name)
        pk = self._pk(collection_name)
        names, all_fields = self._output(output_fields)
        native = self._call(
            collection_name,
            self._database.search_iterator,
            collection_name,
            data,
            filter or "",
            names,
            all_fields,
            search_params,
            anns_field,
            {"round_decimal": round_decimal},
            pk,
            self._keeps_pk(pk, output_fields),
            kwargs.get("filter_params"),
        )
        return SearchIterator(native, batch_size, left, external_filter_func)

    def query_iterator(
        self,
        collection_name,
        batch_size=1000,
        limit=-1,
        filter="",
        output_fields=None,
        partition_names=None,
        timeout=None,
        **kwargs,
    ):
        """Pages of `batch_size` rows matching `filter`, in primary-key order, from one generation."""
        if partition_names is not None:
            _check("query_iterator", "partition_names", partition_names)
        _check_kwargs("query_iterator", kwargs, {"offset", "filter_params"})
        if filter is not None and not isinstance(filter, str):
            raise DataTypeNotMatchException(message=f"The type of expr must be string ,but {type(filter)!r} is given.")
        _check_batch_size(batch_size)
        left = _iterator_limit(limit)
        offset = kwargs.get("offset") or 0
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ParamError(message=f"offset must be a non-negative int, got {offset!r}")
        self._check_loaded(collection_name)
        names, all_fields = self._output(output_fields)
        if not all_fields:
            pk = self._pk(collection_name)
            names = [pk] + [n for n in names if n != pk]
        native = self._call(
            collection_name,
            self._database.query_iterator,
            collection_name,
            filter or "",
            names,
            all_fields,
            offset,
            kwargs.get("filter_params"),
        )
        return QueryIterator(native, batch_size, left)

    @staticmethod
    def _keeps_pk(pk, output_fields):
        """A hit's entity carries the pk only when asked for by name or by "*", as in Milvus."""
        asked = _as_list(output_fields)
        return pk in asked or (output_fields is not None and "*" in asked)

    # --- what frameworks reach beyond the documented API (docs/frameworks.md) --------------------------

    @property
    def _using(self):
        """pymilvus's connection alias; frameworks key caches on it. Clients of one db file share it, as pymilvus
        clients of one server share a connection."""
        return f"covec:{self._path}"

    def _get_connection(self):
        """What this client talks through: pymilvus returns its gRPC handler, covec the native database."""
        return self._database
