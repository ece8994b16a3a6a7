"""MilvusClient: pymilvus's client API over a local covec database (change one import).

Everything here is argument handling as pymilvus does it on the client; schemas, index requests, rows,
query vectors, search parameters, their checks and the results' shapes are the native
``covec._covec.Database``'s. Each client has a current database (``db_name``, ``use_database``); every
call that takes ``db_name=`` may name another. Load state is process-wide per (db file, collection) and
partition, as a Milvus server keeps it: releasing in one client makes search/query/get raise code 101 in
every client of this process until ``load_collection``, and reads of a partly loaded collection see its
loaded partitions only.

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
from ._results import AnalyzeResult, ExtraList, HybridHits, OmitZeroDict, SearchResult
from .exceptions import DataTypeNotMatchException, MilvusException, ParamError, PrimaryKeyException

# Keyword arguments that tune how a Milvus server reaches its answer (consistency, time travel, shards,
# replicas): covec's answer is the same without them.
_SERVER_TUNING = frozenset(
    {"consistency_level", "guarantee_timestamp", "graceful_time", "num_shards", "shards_num", "replica_number"}
)
# search() and hybrid_search() keyword arguments they honour (the engine reads them: search_params.rs).
_SEARCH_KWARGS = ("offset", "round_decimal", "group_by_field", "group_size", "strict_group_size")
# The reads' TIMESTAMPTZ arguments: the zone naive ISO text in the filter is read in and `time_fields` are
# taken in (before the collection's and the database's `timezone`), and the calendar fields TIMESTAMPTZ
# values are returned as instead of text.
_TIME_KWARGS = frozenset({"timezone", "time_fields"})
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
# asks for what covec does anyway is honoured (`_MEANS_DEFAULT`); any other raises ParamError.
_NOT_YET = {
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
    "ignore_growing": "searching indexed rows only",
}

# Values of `_NOT_YET` arguments that mean what covec does anyway (the error shows the value); for the
# others only None does.
_MEANS_DEFAULT = {

    "ignore_growing": lambda v: v in (None, False),
}


def _check(method, name, value):
    """Raises ParamError unless `value` of the not-yet-implemented argument `name` asks for what covec does."""
    means_default = _MEANS_DEFAULT.get(name)
    if means_default is None:
        if value is not None:
            raise ParamError(message=f"{method}(): {name} ({_NOT_YET[name]}) is not supported by covec yet")
    elif not means_default(value):
        raise ParamError(message=f"{method}(): {name}={value!r} ({_NOT_YET[name]}) is not supported by covec yet")


def _time_args(method, kwargs):
    """The `_TIME_KWARGS` of a read as the native call takes them: each a string or None ("" is not given,
    as Milvus reads it); the native call refuses a zone or time field that does not exist."""
    args = {}
    for name in _TIME_KWARGS:
        value = kwargs.get(name)
        if value is not None and not isinstance(value, str):
            raise ParamError(message=f"{method}(): {name} must be a string, got {type(value).__name__}: {value!r}")
        args[name] = value
    return args


def _check_kwargs(method, kwargs, honoured=frozenset()):
    """Every keyword argument is honoured by the caller, tunes a server, or is checked by `_check`.
    ``db_name`` is honoured everywhere (`MilvusClient._db_of`)."""
    for name, value in kwargs.items():
        if name in honoured or name in _SERVER_TUNING or name == "db_name":
            continue
        if name not in _NOT_YET:
            raise ParamError(message=f"{method}() got an unexpected keyword argument '{name}'")
        _check(method, name, value)


class LoadState(enum.IntEnum):
    """pymilvus's LoadState numbers, so comparisons with pymilvus.client.types.LoadState hold; printed by
    name, as pymilvus prints its own."""

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
# (db path, collection id) -> the names of its loaded partitions, for a collection released or partly
# loaded; a collection not here is loaded whole (covec has nothing to load).
_PARTLY_LOADED = {}
# What get_server_version reports: covec serves the Milvus API of this server version.
_SERVER_VERSION = "2.5.0"


def _properties(method, properties):
    """A properties dict as the (key, value) strings Milvus keeps (pymilvus sends str(value))."""
    if properties is None:
        return []
    if not isinstance(properties, dict):
        raise ParamError(message=f"{method}(): properties must be a dict, got {type(properties).__name__}")
    return [(str(k), str(v)) for k, v in properties.items()]


def _names(method, argument, value):
    """A partition name or list of names as a list of str (None: none)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ParamError(message=f"{method}(): {argument} must be a str or a list of str, got {value!r}")


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


def _star(output_fields):
    """Whether `output_fields` holds "*": a search's hits then carry the primary key in their entity too."""
    return output_fields is not None and "*" in _as_list(output_fields)


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
        _check_kwargs("MilvusClient", kwargs, _CONNECTION | {"shm_dir", "use_segment", "group"})
        self._path = _local_path(uri)
        self._db = _open_database(
            self._path,
            kwargs.get("shm_dir"),
            bool(kwargs.get("use_segment", True)),
            kwargs.get("group"),
        )
        self._db_name = "default"
        if db_name:
            self.use_database(db_name)

    # --- plumbing -----------------------------------------------------------------------------------

    @property
    def _database(self):
        if self._db is None:
            raise MilvusException(code=1, message="this MilvusClient is closed; create a new one")
        return self._db

    def close(self):
        self._db = None

    def _db_of(self, kwargs):
        """The database a call works in: its ``db_name=`` when given, else the client's current one."""
        db_name = kwargs.get("db_name")
        if db_name is None or db_name == "":
            return self._db_name
        if not isinstance(db_name, str):
            raise ParamError(message=f"db_name must be a str, got {type(db_name).__name__}")
        return db_name

    def _pk(self, db, name):
        """The primary key's name: every search, get and query needs it."""
        return self._database.primary_field(db, name)

    def _read_partitions(self, db, name, partitions):
        """The partitions a read looks at: the ones named, each loaded (code 101 when the collection is
        released, 201 when a named partition is), or the loaded ones of a partly loaded collection."""
        if not _PARTLY_LOADED:
            return partitions
        cid, existing, _ = self._database.load_key(db, name)
        loaded = _PARTLY_LOADED.get((self._path, cid))
        if loaded is None:
            return partitions
        if not loaded & set(existing):
            raise MilvusException(
                code=101,
                message=f"Collection '{name}' is in state 'released'; call load() before search/get/query",
            )
        for p in partitions:
            if p in existing and p not in loaded:
                raise MilvusException(code=201, message=f"partition not loaded[partition={p}]")
        return partitions or [p for p in existing if p in loaded]

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

    # --- server --------------------------------------------------------------------------------------

    def get_server_version(self, timeout=None, detail=False, **kwargs):
        """The Milvus API version covec serves; with ``detail``, pymilvus's dict with covec's own version."""
        _check_kwargs("get_server_version", kwargs)
        if not detail:
            return _SERVER_VERSION
        return {
            "version": _SERVER_VERSION,
            "build_time": "",
            "git_commit": "",
            "go_version": "",
            "deploy_mode": f"covec {_native().__version__}",
        }

    def get_server_type(self):
        """"milvus": covec answers as a Milvus server does (pymilvus says "zilliz" only for Zilliz Cloud)."""
        return "milvus"

    # --- databases -----------------------------------------------------------------------------------

    @staticmethod
    def _db_name_arg(db_name):
        if not isinstance(db_name, str):
            raise ParamError(message=f"db_name must be a str, got {type(db_name).__name__}")
        return db_name

    def create_database(self, db_name, properties=None, timeout=None, **kwargs):
        _check_kwargs("create_database", kwargs)
        self._database.create_database(self._db_name_arg(db_name), _properties("create_database", properties))

    def drop_database(self, db_name, timeout=None, **kwargs):
        _check_kwargs("drop_database", kwargs)
        self._database.drop_database(self._db_name_arg(db_name))

    def list_databases(self, timeout=None, **kwargs):
        _check_kwargs("list_databases", kwargs)
        return list(self._database.list_databases())

    def describe_database(self, db_name, timeout=None, **kwargs):
        _check_kwargs("describe_database", kwargs)
        return self._database.describe_database(self._db_name_arg(db_name))

    def alter_database_properties(self, db_name, properties, timeout=None, **kwargs):
        _check_kwargs("alter_database_properties", kwargs)
        props = _properties("alter_database_properties", properties)
        self._database.alter_database_properties(self._db_name_arg(db_name), props, [])

    def drop_database_properties(self, db_name, property_keys, timeout=None, **kwargs):
        _check_kwargs("drop_database_properties", kwargs)
        keys = _names("drop_database_properties", "property_keys", property_keys)
        self._database.alter_database_properties(self._db_name_arg(db_name), [], keys)

    def use_database(self, db_name, timeout=None, **kwargs):
        """Later calls of this client work in database `db_name` (code 6 when there is none)."""
        _check_kwargs("use_database", kwargs)
        self._database.describe_database(self._db_name_arg(db_name))
        self._db_name = db_name

    def using_database(self, db_name, timeout=None, **kwargs):
        """pymilvus's older name for use_database."""
        self.use_database(db_name, timeout=timeout, **kwargs)

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
        db = self._db_of(kwargs)
        properties = _properties("create_collection", kwargs.pop("properties", None))
        num_partitions = kwargs.pop("num_partitions", None)
        if num_partitions is not None and (isinstance(num_partitions, bool) or not isinstance(num_partitions, int)):
            raise ParamError(message=f"num_partitions must be an int, got {num_partitions!r}")
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
        self._database.create_collection(db, collection_name, schema, index_params, properties, num_partitions)

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
        self._database.drop_collection(self._db_of(kwargs), collection_name)

    def rename_collection(self, old_name, new_name, target_db="", timeout=None, **kwargs):
        _check_kwargs("rename_collection", kwargs)
        db = self._db_of(kwargs)
        self._database.rename_collection(db, old_name, target_db or db, new_name)

    def list_collections(self, **kwargs):
        _check_kwargs("list_collections", kwargs, {"timeout"})
        return list(self._database.list_collections(self._db_of(kwargs)))

    def has_collection(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("has_collection", kwargs)
        return bool(self._database.has_collection(self._db_of(kwargs), collection_name))

    def describe_collection(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("describe_collection", kwargs)
        return self._database.describe_collection(self._db_of(kwargs), collection_name)

    def get_collection_stats(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("get_collection_stats", kwargs)
        return {"row_count": self._database.row_count(self._db_of(kwargs), collection_name)}

    def truncate_collection(self, collection_name, timeout=None, **kwargs):
        """Removes every row; the schema, indexes, partitions, aliases and properties stay."""
        _check_kwargs("truncate_collection", kwargs)
        self._database.truncate_collection(self._db_of(kwargs), collection_name)

    def alter_collection_properties(self, collection_name, properties, timeout=None, **kwargs):
        _check_kwargs("alter_collection_properties", kwargs)
        props = _properties("alter_collection_properties", properties)
        self._database.alter_collection_properties(self._db_of(kwargs), collection_name, props, [])

    def drop_collection_properties(self, collection_name, property_keys, timeout=None, **kwargs):
        _check_kwargs("drop_collection_properties", kwargs)
        keys = _names("drop_collection_properties", "property_keys", property_keys)
        self._database.alter_collection_properties(self._db_of(kwargs), collection_name, [], keys)

    def add_collection_field(self, collection_name, field_name, data_type, desc="", timeout=None, **kwargs):
        """Adds a nullable field; rows written before read as its default value, else null."""
        db = self._db_of(kwargs)
        kwargs.pop("db_name", None)
        field = _schema.FieldSchema(field_name, data_type, desc, **kwargs)
        self._database.add_collection_field(db, collection_name, field)

    def alter_collection_field(self, collection_name, field_name, field_params, timeout=None, **kwargs):
        """Changes max_length, max_capacity or mmap.enabled (mmap_enabled); other parameters are refused."""
        _check_kwargs("alter_collection_field", kwargs)
        if not isinstance(field_params, dict):
            raise ParamError(message=f"field_params must be a dict, got {type(field_params).__name__}")
        params = {("mmap.enabled" if k == "mmap_enabled" else k): v for k, v in field_params.items()}
        self._database.alter_collection_field(self._db_of(kwargs), collection_name, field_name, params)

    def flush(self, collection_name, timeout=None, **kwargs):
        """Every covec write is durable when it returns; flush puts the rows written since the graph last
        grew into it (describe_index's pending_index_rows), as Milvus indexes the segments it seals."""
        _check_kwargs("flush", kwargs)
        self._database.flush(self._db_of(kwargs), collection_name)

    def compact(
        self,
        collection_name,
        is_clustering=False,
        is_l0=False,
        target_size=None,
        target_size_unit="mb",
        timeout=None,
        **kwargs,
    ):
        """Rewrites the collection without the rows deletes, upserts and dropped partitions left, then the
        db file without the bytes nothing references; done when it returns (the job id's state is
        "Completed"). `is_l0` (deletions only) is part of it; `target_size` tunes a server's segments."""
        _check_kwargs("compact", kwargs)
        if is_clustering:
            raise ParamError(message="compact(): is_clustering (clustering compaction) is not supported by covec")
        return int(self._database.compact(self._db_of(kwargs), collection_name))

    def get_compaction_state(self, job_id, timeout=None, **kwargs):
        _check_kwargs("get_compaction_state", kwargs)
        if isinstance(job_id, bool) or not isinstance(job_id, int):
            raise ParamError(message=f"job_id must be an int, got {job_id!r}")
        return "Completed" if job_id >= 0 and self._database.compaction_done(job_id) else "UndefiedState"

    # --- aliases -------------------------------------------------------------------------------------

    def create_alias(self, collection_name, alias, timeout=None, **kwargs):
        _check_kwargs("create_alias", kwargs)
        self._database.create_alias(self._db_of(kwargs), collection_name, alias)

    def alter_alias(self, collection_name, alias, timeout=None, **kwargs):
        _check_kwargs("alter_alias", kwargs)
        self._database.alter_alias(self._db_of(kwargs), collection_name, alias)

    def drop_alias(self, alias, timeout=None, **kwargs):
        _check_kwargs("drop_alias", kwargs)
        self._database.drop_alias(self._db_of(kwargs), alias)

    def describe_alias(self, alias, timeout=None, **kwargs):
        _check_kwargs("describe_alias", kwargs)
        db = self._db_of(kwargs)
        return {"alias": alias, "collection_name": self._database.describe_alias(db, alias), "db_name": db}

    def list_aliases(self, collection_name="", timeout=None, **kwargs):
        _check_kwargs("list_aliases", kwargs)
        db = self._db_of(kwargs)
        out = {"aliases": list(self._database.list_aliases(db, collection_name or None)), "db_name": db}
        if collection_name:
            out["collection_name"] = collection_name
        return out

    # --- partitions ----------------------------------------------------------------------------------

    def create_partition(self, collection_name, partition_name, timeout=None, **kwargs):
        _check_kwargs("create_partition", kwargs)
        self._database.create_partition(self._db_of(kwargs), collection_name, partition_name)

    def drop_partition(self, collection_name, partition_name, timeout=None, **kwargs):
        """Drops the partition and its rows (loaded or not, as Milvus Lite does)."""
        _check_kwargs("drop_partition", kwargs)
        self._database.drop_partition(self._db_of(kwargs), collection_name, partition_name)

    def has_partition(self, collection_name, partition_name, timeout=None, **kwargs):
        _check_kwargs("has_partition", kwargs)
        return partition_name in self._database.list_partitions(self._db_of(kwargs), collection_name)

    def list_partitions(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("list_partitions", kwargs)
        return list(self._database.list_partitions(self._db_of(kwargs), collection_name))

    def get_partition_stats(self, collection_name, partition_name, timeout=None, **kwargs):
        _check_kwargs("get_partition_stats", kwargs)
        if not isinstance(partition_name, str):
            raise TypeError(
                f"wrong type of argument 'partition_name', str expected, got '{type(partition_name).__name__}'"
            )
        return {"row_count": self._database.partition_row_count(self._db_of(kwargs), collection_name, partition_name)}

    # --- load state ----------------------------------------------------------------------------------

    def _load_key(self, db, name):
        cid, partitions, has_key = self._database.load_key(db, name)  # code 100 when missing
        return (self._path, cid), partitions, has_key

    def _partition_load_call(self, method, db, name, partition_names):
        """The load-state key and the partitions named, after Milvus's checks (each exists, the
        collection has no partition key)."""
        key, existing, has_key = self._load_key(db, name)
        names = _names(method, "partition_names", partition_names)
        if has_key:
            verb = "load" if method == "load_partitions" else "release"
            raise MilvusException(code=1, message=f"disable {verb} partitions if partition key mode is used")
        for p in names:
            if p not in existing:
                raise MilvusException(code=200, message=f"partition not found[partition={p}]")
        return key, existing, names

    def load_collection(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("load_collection", kwargs, _LOAD_TUNING)
        key, _, _ = self._load_key(self._db_of(kwargs), collection_name)
        _PARTLY_LOADED.pop(key, None)

    def release_collection(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("release_collection", kwargs)
        key, _, _ = self._load_key(self._db_of(kwargs), collection_name)
        _PARTLY_LOADED[key] = frozenset()

    def load_partitions(self, collection_name, partition_names, timeout=None, **kwargs):
        """Loads these partitions too (as a Milvus server does; Milvus Lite refuses partition-level load)."""
        _check_kwargs("load_partitions", kwargs, _LOAD_TUNING)
        db = self._db_of(kwargs)
        key, _, names = self._partition_load_call("load_partitions", db, collection_name, partition_names)
        if key in _PARTLY_LOADED:
            _PARTLY_LOADED[key] = _PARTLY_LOADED[key] | frozenset(names)

    def release_partitions(self, collection_name, partition_names, timeout=None, **kwargs):
        """Releases these partitions: reads then see the others only, and naming one of these is code 201."""
        _check_kwargs("release_partitions", kwargs)
        db = self._db_of(kwargs)
        key, existing, names = self._partition_load_call("release_partitions", db, collection_name, partition_names)
        loaded = _PARTLY_LOADED.get(key, frozenset(existing))
        _PARTLY_LOADED[key] = loaded - frozenset(names)

    def get_load_state(self, collection_name, partition_name="", timeout=None, **kwargs):
        return self._load_state("get_load_state", collection_name, partition_name, kwargs)

    def _load_state(self, method, collection_name, partition_names, kwargs):
        """get_load_state of the collection, or of the partitions named (Loaded when each of them is)."""
        _check_kwargs(method, kwargs)
        db = self._db_of(kwargs)
        if not self._database.has_collection(db, collection_name):
            return {"state": LoadState.NotExist}
        key, existing, _ = self._load_key(db, collection_name)
        loaded = _PARTLY_LOADED.get(key, frozenset(existing))
        names = _names(method, "partition_names", partition_names)
        for p in names:
            if p not in existing:
                raise MilvusException(code=200, message=f"partition not found[partition={p}]")
        if names:
            return {"state": LoadState.Loaded if all(p in loaded for p in names) else LoadState.NotLoad}
        return {"state": LoadState.Loaded if loaded & set(existing) else LoadState.NotLoad}

    def run_analyzer(
        self,
        texts,
        analyzer_params=None,
        with_hash=False,
        with_detail=False,
        collection_name=None,
        field_name=None,
        analyzer_names=None,
        timeout=None,
        **kwargs,
    ):
        """Each text's tokens, by ``analyzer_params`` (a dict or JSON text; None: the standard analyzer) or by
        the analyzer of ``collection_name``'s field ``field_name``. One ``AnalyzeResult`` for a str, a list of
        them for a list, as pymilvus returns; ``hash`` is the BM25 term id the Milvus server stores."""
        _check_kwargs("run_analyzer", kwargs)
        if (collection_name is None) != (field_name is None):
            raise ParamError(message="run_analyzer(): give collection_name and field_name together, or neither")
        if collection_name is not None and analyzer_params is not None:
            raise ParamError(message="run_analyzer(): give analyzer_params or a collection field, not both")
        if isinstance(analyzer_params, dict):
            analyzer_params = json.dumps(analyzer_params)
        elif analyzer_params is not None and not isinstance(analyzer_params, str):
            raise ParamError(message="run_analyzer(): analyzer_params must be a dict or JSON text")
        single = isinstance(texts, str)
        names = [analyzer_names] if isinstance(analyzer_names, str) else list(analyzer_names or [])
        tokens = self._database.run_analyzer(
            [texts] if single else list(texts),
            analyzer_params,
            self._db_of(kwargs),
            collection_name,
            field_name,
            names,
        )
        results = [AnalyzeResult(t, bool(with_hash), bool(with_detail)) for t in tokens]
        return results[0] if single else results

    # --- indexes -------------------------------------------------------------------------------------

    def create_index(self, collection_name, index_params, timeout=None, **kwargs):
        _check_kwargs("create_index", kwargs, {"sync"})  # covec builds an index inside its commit: always in sync
        self._database.create_index(self._db_of(kwargs), collection_name, index_params)

    def drop_index(self, collection_name, index_name, timeout=None, **kwargs):
        _check_kwargs("drop_index", kwargs)
        self._database.drop_index(self._db_of(kwargs), collection_name, index_name)

    def list_indexes(self, collection_name, field_name="", timeout=None, **kwargs):
        _check_kwargs("list_indexes", kwargs)
        return self._database.list_indexes(self._db_of(kwargs), collection_name, field_name or "")

    def describe_index(self, collection_name, index_name, timeout=None, **kwargs):
        _check_kwargs("describe_index", kwargs)
        return self._database.describe_index(self._db_of(kwargs), collection_name, index_name)

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
        _check_kwargs("insert", kwargs, _REPEATING_ROWS)
        partitions = _names("insert", "partition_name", partition_name)
        rows = self._rows(data)
        db = self._db_of(kwargs)
        if not rows:
            return OmitZeroDict({"insert_count": 0, "ids": [], "cost": 0})
        ids = self._database.insert(db, collection_name, rows, partitions)
        return OmitZeroDict({"insert_count": len(ids), "ids": ids, "cost": 0})

    def upsert(self, collection_name, data, timeout=None, partition_name="", **kwargs):
        _check_kwargs("upsert", kwargs, {"partial_update"})
        partitions = _names("upsert", "partition_name", partition_name)
        rows = self._rows(data)
        db = self._db_of(kwargs)
        if not rows:
            return OmitZeroDict({"upsert_count": 0, "ids": [], "cost": 0})
        partial = bool(kwargs.get("partial_update", False))
        ids = self._database.upsert(db, collection_name, rows, partial, partitions)
        return OmitZeroDict({"upsert_count": len(ids), "ids": ids, "cost": 0})

    def delete(self, collection_name, ids=None, timeout=None, filter=None, partition_name=None, **kwargs):
        # LlamaIndex's delete_nodes passes its own keyword on beside the partition_name it makes of it.
        repeated = kwargs.pop("milvus_partition_name", None)
        if repeated not in (None, "") and partition_name not in (None, "", repeated):
            raise ParamError(
                message=f"delete(): milvus_partition_name={repeated!r} differs from partition_name={partition_name!r}"
            )
        _check_kwargs("delete", kwargs, {"pks", "filter_params"})
        partitions = _names("delete", "partition_name", partition_name or repeated)
        db = self._db_of(kwargs)
        if kwargs.get("pks") is not None:  # pymilvus's older name for ids, still read
            ids = _as_list(kwargs["pks"]) + _as_list(ids)
        if ids is not None and filter:
            raise ParamError(message="Ambiguous filter parameter, only one deletion condition can be specified.")
        if ids is not None and kwargs.get("filter_params"):
            raise ParamError(message="filter_params are the values of a filter's placeholders; delete by ids has no filter")
        if ids is not None:
            count = self._database.delete_ids(db, collection_name, _as_list(ids), partitions)
        elif isinstance(filter, str) and filter.strip():
            count = self._database.delete_filter(
                db, collection_name, filter, partitions, filter_params=kwargs.get("filter_params")
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
        _check_kwargs("get", kwargs, _TIME_KWARGS)
        time = _time_args("get", kwargs)
        db = self._db_of(kwargs)
        partitions = self._read_partitions(db, collection_name, _names("get", "partition_names", partition_names))
        ids = _as_list(ids)
        if not ids:
            return ExtraList([])
        names, all_fields = self._output(output_fields)
        if not all_fields:
            pk = self._pk(db, collection_name)
            names = [pk] + [n for n in names if n != pk]
        return ExtraList(self._database.get(db, collection_name, ids, names, all_fields, partitions, **time))

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
        _check_kwargs("query", kwargs, {"limit", "offset", "filter_params"} | _TIME_KWARGS)
        time = _time_args("query", kwargs)
        db = self._db_of(kwargs)
        partitions = self._read_partitions(db, collection_name, _names("query", "partition_names", partition_names))
        if filter is None:
            filter = ""
        if not isinstance(filter, str):
            raise DataTypeNotMatchException(message=f"The type of expr must be string ,but {type(filter)!r} is given.")
        pk = self._pk(db, collection_name)
        if ids is not None:
            id_filter = f"{pk} in [{', '.join(_filter_literal(i) for i in _as_list(ids))}]"
            filter = f"({filter}) and {id_filter}" if filter.strip() else id_filter
        names = _as_list(output_fields)
        if "count(*)" in names:
            if len(names) > 1:
                raise MilvusException(code=6, message="count(*) cannot be combined with other output fields")
            count = self._database.count(
                db,
                collection_name,
                filter,
                partitions,
                filter_params=kwargs.get("filter_params"),
                timezone=time["timezone"],
            )
            return ExtraList([{"count(*)": int(count)}])
        limit = kwargs.get("limit")
        offset = int(kwargs.get("offset") or 0)
        if limit is not None and limit < 0:
            limit = None
        names, all_fields = self._output(output_fields)
        if not all_fields:
            names = [pk] + [n for n in names if n != pk]
        rows = self._database.query(
            db,
            collection_name,
            filter,
            names,
            all_fields,
            limit,
            offset,
            partitions,
            filter_params=kwargs.get("filter_params"),
            **time,
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
            _check_kwargs("search", kwargs, frozenset(_SEARCH_KWARGS) | {"filter_params"} | _TIME_KWARGS)
        time = _time_args("search", kwargs)
        db = self._db_of(kwargs)
        partitions = self._read_partitions(db, collection_name, _names("search", "partition_names", partition_names))
        if data is None:
            raise ParamError(message="missing required argument: [data]")
        _check_limit(limit)
        spec = None if ranker is None else _ranker_spec(ranker, hybrid=False)
        chain = None if function_chains is None else _chain_spec(function_chains)
        names, all_fields = self._output(output_fields)
        hits = self._database.search(
            db,
            collection_name,
            data,
            limit,
            filter or "",
            names,
            all_fields,
            search_params,
            anns_field,
            {k: kwargs.get(k) for k in _SEARCH_KWARGS} if kwargs else None,
            spec,
            _star(output_fields),
            partitions,
            filter_params=kwargs.get("filter_params"),
            function_chain=chain,
            **time,
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
        if kwargs:
            _check_kwargs("hybrid_search", kwargs, frozenset(_SEARCH_KWARGS) | _TIME_KWARGS)
        time = _time_args("hybrid_search", kwargs)
        db = self._db_of(kwargs)
        partitions = self._read_partitions(
            db, collection_name, _names("hybrid_search", "partition_names", partition_names)
        )
        if not isinstance(reqs, (list, tuple)) or not reqs:
            raise ParamError(message="hybrid_search needs a non-empty list of AnnSearchRequest in reqs")
        _check_limit(limit)
        if ranker is None:
            raise ParamError(message="The hybrid search rerank must be a Function or a Ranker.")
        spec = _ranker_spec(ranker, hybrid=True)
        names, all_fields = self._output(output_fields)
        hits = self._database.hybrid_search(
            db,
            collection_name,
            [_ann_request(r) for r in reqs],
            spec,
            limit,
            names,
            all_fields,
            {k: kwargs.get(k) for k in _SEARCH_KWARGS},
            _star(output_fields),
            partitions,
            **time,
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
        if kwargs.get("offset") or (isinstance(search_params, dict) and search_params.get("offset")):
            raise ParamError(message="Offset is not supported for search_iterator_v2")
        kwargs.pop("offset", None)
        if kwargs:
            _check_kwargs("search_iterator", kwargs, {"filter_params"} | _TIME_KWARGS)
        time = _time_args("search_iterator", kwargs)
        _check_batch_size(batch_size)
        left = _iterator_limit(limit)
        if filter is not None and not isinstance(filter, str):
            raise DataTypeNotMatchException(message=f"The type of expr must be string ,but {type(filter)!r} is given.")
        if data is None or (hasattr(data, "__len__") and len(data) == 0):
            raise ParamError(message="The vector data for search cannot be empty")
        if isinstance(data, (list, tuple)) and len(data) > 1 and not np.isscalar(data[0]):
            raise ParamError(message="search_iterator_v2 does not support processing multiple vectors simultaneously")
        db = self._db_of(kwargs)
        partitions = self._read_partitions(
            db, collection_name, _names("search_iterator", "partition_names", partition_names)
        )
        names, all_fields = self._output(output_fields)
        native = self._database.search_iterator(
            db,
            collection_name,
            data,
            filter or "",
            names,
            all_fields,
            search_params,
            anns_field,
            {"round_decimal": round_decimal},
            _star(output_fields),
            partitions,
            filter_params=kwargs.get("filter_params"),
            **time,
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
        _check_kwargs("query_iterator", kwargs, {"offset", "filter_params"} | _TIME_KWARGS)
        time = _time_args("query_iterator", kwargs)
        if filter is not None and not isinstance(filter, str):
            raise DataTypeNotMatchException(message=f"The type of expr must be string ,but {type(filter)!r} is given.")
        _check_batch_size(batch_size)
        left = _iterator_limit(limit)
        offset = kwargs.get("offset") or 0
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ParamError(message=f"offset must be a non-negative int, got {offset!r}")
        db = self._db_of(kwargs)
        partitions = self._read_partitions(
            db, collection_name, _names("query_iterator", "partition_names", partition_names)
        )
        names, all_fields = self._output(output_fields)
        if not all_fields:
            pk = self._pk(db, collection_name)
            names = [pk] + [n for n in names if n != pk]
        native = self._database.query_iterator(
            db,
            collection_name,
            filter or "",
            names,
            all_fields,
            offset,
            partitions,
            filter_params=kwargs.get("filter_params"),
            **time,
        )
        return QueryIterator(native, batch_size, left)

    # --- what frameworks reach beyond the documented API (docs/frameworks.md) --------------------------

    @property
    def _using(self):
        """pymilvus's connection alias; frameworks key caches on it. Clients of one db file share it, as pymilvus
        clients of one server share a connection."""
        return f"covec:{self._path}"

    def _get_connection(self):
        """What this client talks through: pymilvus returns its gRPC handler, covec the native database."""
        return self._database
