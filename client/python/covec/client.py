"""MilvusClient: pymilvus's client API over a local covec database (change one import).

Everything here is argument handling and result shaping; storage, filters and search are the native
``covec._covec.Database``. Load state is process-wide per (db file, collection), as a Milvus server keeps
it per collection: releasing in one client makes search/query/get raise code 101 in every client of this
process until ``load_collection``.
"""

import enum
import json
import os
import threading
import weakref

import numpy as np

from . import _remote, _schema
from ._covec import float_rows
from ._results import ExtraList, OmitZeroDict, SearchResult
from .exceptions import (
    DataNotMatchException,
    DataTypeNotMatchException,
    DescribeCollectionException,
    MilvusException,
    ParamError,
    PrimaryKeyException,
)


class LoadState(enum.IntEnum):
    """pymilvus's LoadState numbers, so comparisons with pymilvus.client.types.LoadState hold."""

    NotExist = 0
    NotLoad = 1
    Loading = 2
    Loaded = 3

    def __repr__(self):
        return f"<LoadState: {self.name}>"


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


def _only_default_partition(names):
    """A covec collection has one partition, Milvus's "_default": naming another is "partition not found", as on a
    server where it was never created, rather than reading or writing the whole collection."""
    for name in _as_list(names):
        if name and name != "_default":
            raise MilvusException(code=200, message=f"partition not found[partition={name}]")


def _filter_literal(pk):
    # Filter strings are JSON-compatible double-quoted literals; non-ASCII stays literal (no \\u escapes).
    return json.dumps(pk, ensure_ascii=False) if isinstance(pk, str) else str(int(pk))


class MilvusClient:
    """A drop-in for ``pymilvus.MilvusClient`` on a local path: ``MilvusClient("data.db")``.

    Extra keyword arguments: ``shm_dir`` (default ``$COVEC_SHM_DIR`` or /dev/shm), ``use_segment``
    (False maps the db file instead of a shared-memory segment), ``group`` (gid or name that may read
    the segments).

    A Milvus server's URI (``http://``, ``https://``, ``tcp://``, ``unix:``) gives pymilvus's own client for that
    server instead, with the same arguments.
    """

    def __new__(cls, *args, **kwargs):
        if cls is MilvusClient and _remote.is_remote(_remote.uri_argument(args, kwargs, None)):
            return _remote.pymilvus_client("MilvusClient", args, kwargs)
        return super().__new__(cls)

    def __init__(self, uri="milvus.db", user="", password="", db_name="", token="", timeout=None, **kwargs):
        self._path = _local_path(uri)
        self._db = _open_database(
            self._path,
            kwargs.get("shm_dir"),
            bool(kwargs.get("use_segment", True)),
            kwargs.get("group"),
        )
        # (schema, primary key name) by collection name; dropped on our own DDL and on "collection not found" errors.
        self._schemas = {}

    # --- plumbing -----------------------------------------------------------------------------------

    @property
    def _database(self):
        if self._db is None:
            raise MilvusException(code=1, message="this MilvusClient is closed; create a new one")
        return self._db

    def close(self):
        self._db = None
        self._schemas.clear()

    def _describe_native(self, name):
        try:
            return json.loads(self._database.describe_collection(name))
        except MilvusException as e:
            if e.code == 100:
                self._schemas.pop(name, None)
            raise

    def _schema(self, name):
        return self._described(name)[0]

    def _pk(self, name):
        return self._described(name)[1]

    def _described(self, name):
        """(schema, primary key name), cached: every search and query needs the key's name."""
        entry = self._schemas.get(name)
        if entry is None:
            schema = self._describe_native(name)["schema"]
            pk = next(f["name"] for f in schema["fields"] if f["is_primary"])
            entry = self._schemas[name] = (schema, pk)
        return entry

    def _call(self, name, fn, *args, **kwargs):
        """Calls the native database; a stale cached schema is forgotten when the collection is gone."""
        try:
            return fn(*args, **kwargs)
        except MilvusException as e:
            if e.code == 100:
                self._schemas.pop(name, None)
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
            schema, index_params = self._quick_schema(
                dimension, primary_field_name, id_type, vector_field_name, metric_type, auto_id, **kwargs
            )
        native = _schema.schema_to_native(schema)
        indexes = [s for s in (_schema.index_to_native(p, native) for p in (index_params or [])) if s is not None]
        self._database.create_collection(collection_name, json.dumps(native), json.dumps(indexes))
        self._schemas.pop(collection_name, None)
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
            [], auto_id=auto_id, enable_dynamic_field=kwargs.get("enable_dynamic_field", True)
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
        self._database.drop_collection(collection_name)
        self._schemas.pop(collection_name, None)
        _RELEASED.discard((self._path, collection_name))

    def rename_collection(self, old_name, new_name, target_db="", timeout=None, **kwargs):
        self._call(old_name, self._database.rename_collection, old_name, new_name)
        self._schemas.pop(old_name, None)
        self._schemas.pop(new_name, None)
        if (self._path, old_name) in _RELEASED:
            _RELEASED.discard((self._path, old_name))
            _RELEASED.add((self._path, new_name))

    def list_collections(self, **kwargs):
        return list(self._database.list_collections())

    def has_collection(self, collection_name, timeout=None, **kwargs):
        return bool(self._database.has_collection(collection_name))

    def describe_collection(self, collection_name, timeout=None, **kwargs):
        try:
            info = self._describe_native(collection_name)
        except MilvusException as e:
            if e.code == 100:
                raise DescribeCollectionException(code=100, message=e.message) from None
            raise
        schema = info["schema"]
        fields = []
        for i, f in enumerate(schema["fields"]):
            out = {
                "field_id": 100 + i,
                "name": f["name"],
                "description": f["description"],
                "type": _schema.DataType(_schema.native_dtype_number(f["dtype"])),
                "params": {},
            }
            if f["dim"] is not None:
                out["params"]["dim"] = f["dim"]
            if f["max_length"] is not None:
                out["params"]["max_length"] = f["max_length"]
            if f["is_primary"]:
                out["is_primary"] = True
                out["auto_id"] = f["auto_id"]
            if f["nullable"]:
                out["nullable"] = True
            if f["default_value"] is not None:
                out["default_value"] = _schema.default_to_python(f["default_value"])
            fields.append(out)
        pk = next(f for f in schema["fields"] if f["is_primary"])
        return {
            "collection_name": info["name"],
            "auto_id": pk["auto_id"],
            "num_shards": 1,
            "description": schema["description"],
            "fields": fields,
            "functions": [],
            "aliases": [],
            "collection_id": 0,
            "consistency_level": 0,
            "consistency_level_name": "Strong",
            "properties": {},
            "num_partitions": 1,
            "enable_dynamic_field": schema["enable_dynamic_field"],
            "enable_namespace": False,
            "schema_version": 0,
        }

    def get_collection_stats(self, collection_name, timeout=None, **kwargs):
        return {"row_count": int(self._describe_native(collection_name)["row_count"])}

    def flush(self, collection_name, timeout=None, **kwargs):
        """Every covec write is durable when it returns; flush puts the rows written since the graph last
        grew into it (describe_index's pending_index_rows), as Milvus indexes the segments it seals."""
        self._call(collection_name, self._database.flush, collection_name)

    # --- load state ----------------------------------------------------------------------------------

    def load_collection(self, collection_name, timeout=None, **kwargs):
        self._describe_native(collection_name)
        _RELEASED.discard((self._path, collection_name))

    def release_collection(self, collection_name, timeout=None, **kwargs):
        self._describe_native(collection_name)
        _RELEASED.add((self._path, collection_name))

    def get_load_state(self, collection_name, partition_name="", timeout=None, **kwargs):
        _only_default_partition(partition_name or kwargs.get("partition_names"))
        if not self._database.has_collection(collection_name):
            return {"state": LoadState.NotExist}
        released = (self._path, collection_name) in _RELEASED
        return {"state": LoadState.NotLoad if released else LoadState.Loaded}

    # --- indexes -------------------------------------------------------------------------------------

    def create_index(self, collection_name, index_params, timeout=None, **kwargs):
        schema = self._schema(collection_name)
        for param in index_params:
            spec = _schema.index_to_native(param, schema)
            if spec is not None:
                self._call(collection_name, self._database.create_index, collection_name, json.dumps(spec))

    def drop_index(self, collection_name, index_name, timeout=None, **kwargs):
        self._call(collection_name, self._database.drop_index, collection_name, index_name)

    def list_indexes(self, collection_name, field_name="", timeout=None, **kwargs):
        indexes = self._describe_native(collection_name)["indexes"]
        return [i["index_name"] for i in indexes if not field_name or i["field"] == field_name]

    def describe_index(self, collection_name, index_name, timeout=None, **kwargs):
        info = self._describe_native(collection_name)
        if not info["indexes"]:
            return None
        spec = next((i for i in info["indexes"] if i["index_name"] == index_name), None)
        if spec is None:
            raise MilvusException(code=700, message=f"index '{index_name}' does not exist")
        rows, pending = int(info["row_count"]), int(info["pending_index_rows"])
        out = {k: json.loads(v) for k, v in spec["params"]}
        out.update(
            {
                "index_type": spec["index_type"],
                "metric_type": _schema.metric_name(spec["metric"]),
                "field_name": spec["field"],
                "index_name": spec["index_name"],
                "total_rows": rows,
                "indexed_rows": rows - pending,
                "pending_index_rows": pending,
                "state": "Finished",
            }
        )
        return out

    # --- writes --------------------------------------------------------------------------------------

    def _prepare_rows(self, collection_name, data, require_all):
        """Validates rows against the schema as pymilvus does client-side; vectors become float32 arrays."""
        if isinstance(data, dict):
            data = [data]
        elif not isinstance(data, (list, tuple)):
            raise DataTypeNotMatchException(
                message=f"wrong type of argument 'data', expected 'Dict' or list of 'Dict', got '{type(data).__name__}'"
            )
        try:
            schema = self._schema(collection_name)
        except MilvusException as e:
            if e.code == 100:
                raise DescribeCollectionException(code=100, message=e.message) from None
            raise
        fields = {f["name"]: f for f in schema["fields"]}
        vector_fields = [n for n, f in fields.items() if f["dtype"] == "FloatVector"]
        rows = []
        for row in data:
            if not isinstance(row, dict):
                raise DataTypeNotMatchException(
                    message=f"wrong type of argument 'data', expected 'Dict' or list of 'Dict', got '{type(row).__name__}'"
                )
            if not schema["enable_dynamic_field"]:
                for key in row:
                    if key not in fields:
                        raise DataNotMatchException(
                            message=f"Attempt to insert an unexpected field `{key}` to collection without enabling dynamic field"
                        )
            if require_all:
                for name, f in fields.items():
                    optional = f["nullable"] or f["default_value"] is not None or (f["is_primary"] and f["auto_id"])
                    if name not in row and not optional:
                        raise DataNotMatchException(
                            message=f"Insert missed an field `{name}` to collection without set nullable==true or set default_value"
                        )
            row = dict(row)
            for name in vector_fields:
                value = row.get(name)
                if value is not None and not isinstance(value, np.ndarray):
                    # A list of floats converts natively (numpy's list conversion costs ~4x more per row);
                    # numpy converts anything else, or says why it cannot.
                    native = float_rows([value]) if type(value) is list and value else None
                    try:
                        row[name] = native[0] if native is not None else np.asarray(value, dtype=np.float32)
                    except (TypeError, ValueError) as e:
                        raise DataNotMatchException(
                            message=f"The Input data type is inconsistent with defined schema, {name} field should be a float_vector. Detail: {e}"
                        ) from None
            rows.append(row)
        return rows

    def insert(self, collection_name, data, timeout=None, partition_name="", **kwargs):
        _only_default_partition(partition_name)
        rows = self._prepare_rows(collection_name, data, require_all=True)
        if not rows:
            return OmitZeroDict({"insert_count": 0, "ids": [], "cost": 0})
        ids = self._call(collection_name, self._database.insert, collection_name, rows)
        return OmitZeroDict({"insert_count": len(ids), "ids": list(ids), "cost": 0})

    def upsert(self, collection_name, data, timeout=None, partition_name="", **kwargs):
        _only_default_partition(partition_name)
        partial = bool(kwargs.get("partial_update", False))
        rows = self._prepare_rows(collection_name, data, require_all=not partial)
        if not rows:
            return OmitZeroDict({"upsert_count": 0, "ids": [], "cost": 0})
        ids = self._call(collection_name, self._database.upsert, collection_name, rows, partial)
        return OmitZeroDict({"upsert_count": len(ids), "ids": list(ids), "cost": 0})

    def delete(self, collection_name, ids=None, timeout=None, filter=None, partition_name=None, **kwargs):
        _only_default_partition(partition_name)
        # pymilvus's older spelling: pks=... adds to ids.
        pks = _as_list(kwargs.pop("pks", None))
        if pks:
            ids = pks + _as_list(ids)
        if ids is not None and filter:
            raise ParamError(message="Ambiguous filter parameter, only one deletion condition can be specified.")
        if ids is not None:
            count = self._call(collection_name, self._database.delete_ids, collection_name, _as_list(ids))
        elif isinstance(filter, str) and filter.strip():
            self._reject_filter_params(kwargs)
            count = self._call(collection_name, self._database.delete_filter, collection_name, filter)
        elif filter is None:
            raise DataTypeNotMatchException(message=f"The type of expr must be string ,but {type(filter)!r} is given.")
        else:
            raise ParamError(message="delete needs ids or a non-empty filter; to remove every row use drop_collection")
        return {"delete_count": int(count)}

    # --- reads ---------------------------------------------------------------------------------------

    @staticmethod
    def _reject_filter_params(kwargs):
        if kwargs.get("filter_params"):
            raise ParamError(message="filter_params templates are not supported by covec; put the values in the filter")

    @staticmethod
    def _output(output_fields):
        """(names, all) for the engine: None/[] and '*' select every field, vectors included."""
        names = _as_list(output_fields)
        if not names or "*" in names:
            return [n for n in names if n != "*"], True
        return names, False

    def get(self, collection_name, ids, output_fields=None, timeout=None, partition_names=None, **kwargs):
        _only_default_partition(partition_names)
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
        _only_default_partition(partition_names)
        self._check_loaded(collection_name)
        self._reject_filter_params(kwargs)
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
            count = self._call(collection_name, self._database.count, collection_name, filter)
            return ExtraList([{"count(*)": int(count)}])
        limit = kwargs.get("limit")
        offset = int(kwargs.get("offset") or 0)
        if limit is not None and limit < 0:
            limit = None
        names, all_fields = self._output(output_fields)
        if not all_fields:
            names = [pk] + [n for n in names if n != pk]
        rows = self._call(
            collection_name, self._database.query, collection_name, filter, names, all_fields, limit, offset
        )
        return ExtraList(rows)

    @staticmethod
    def _query_vectors(data):
        if data is None:
            raise ParamError(message="missing required argument: [data]")
        # Lists of float lists (the common shape) convert natively; numpy converts the rest or says why not.
        vectors = float_rows(data) if type(data) is list and data else None
        try:
            if vectors is None:
                vectors = np.ascontiguousarray(data, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise MilvusException(code=1, message=f"search data must be a list of equal-length numeric vectors: {e}") from None
        if vectors.ndim == 1 and vectors.size:
            vectors = vectors.reshape(1, -1)
        if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
            raise ParamError(message=f"search data must be a non-empty 2-D list of vectors, got shape {vectors.shape}")
        return vectors

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
        **kwargs,
    ):
        _only_default_partition(partition_names)
        self._check_loaded(collection_name)
        self._reject_filter_params(kwargs)
        vectors = self._query_vectors(data)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ParamError(message=f"`limit` value {limit} is illegal")
        search_params = dict(search_params or {})
        metric = search_params.pop("metric_type", None) or kwargs.get("metric_type")
        params = dict(search_params.pop("params", None) or {})
        offset = search_params.pop("offset", None)
        if offset is None:
            offset = params.pop("offset", None)
        if offset is None:
            offset = kwargs.get("offset") or 0
        params.update(search_params)
        pk = self._pk(collection_name)
        names, all_fields = self._output(output_fields)
        # A hit's entity carries the pk only when asked for by name or by "*", as in Milvus.
        keep_pk = pk in names or (output_fields is not None and "*" in _as_list(output_fields))
        hits = self._call(
            collection_name,
            self._database.search,
            collection_name,
            anns_field,
            vectors,
            limit,
            int(offset),
            filter or "",
            names,
            all_fields,
            metric,
            params or None,
            pk,
            keep_pk,
        )
        return SearchResult(hits)

    # --- what frameworks reach beyond the documented API (docs/frameworks.md) --------------------------

    @property
    def _using(self):
        """pymilvus's connection alias; frameworks key caches on it. Clients of one db file share it, as pymilvus
        clients of one server share a connection."""
        return f"covec:{self._path}"

    def _get_connection(self):
        """What this client talks through: pymilvus returns its gRPC handler, covec the native database."""
        return self._database

    def load_partitions(self, collection_name, partition_names, timeout=None, **kwargs):
        _only_default_partition(partition_names)
        self.load_collection(collection_name)

    def alter_collection_properties(self, collection_name, properties, timeout=None, **kwargs):
        raise MilvusException(
            code=1,
            message="covec does not store collection properties yet: alter_collection_properties is not supported",
        )

    def hybrid_search(self, collection_name, reqs, ranker, limit=10, output_fields=None, timeout=None, **kwargs):
        raise MilvusException(code=1, message="covec does not support hybrid_search yet")
