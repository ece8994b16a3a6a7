"""DataType, schema and index-parameter builders, and their translation to the JSON the engine reads.

The JSON follows the serde shapes of client/src/schema.rs: enum variants by name (``"FloatVector"``,
``"Cosine"``), default values as ``{"Int": 5}``, index params as ``[[key, json_value], ...]``.
pymilvus's own CollectionSchema and IndexParams objects are accepted wherever ours are (duck-typed).
"""

import enum
import json

from .exceptions import MilvusException, ParamError, PrimaryKeyException

# covec's own enum with Milvus's numbers: pymilvus's DataType members compare equal to these (IntEnum),
# so either package's DataType works, and covec need not import pymilvus.


class DataType(enum.IntEnum):
    """Field types, numbered as Milvus numbers them."""

    NONE = 0
    BOOL = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    FLOAT = 10
    DOUBLE = 11
    STRING = 20
    VARCHAR = 21
    ARRAY = 22
    JSON = 23
    GEOMETRY = 24
    TEXT = 25
    TIMESTAMPTZ = 26
    BINARY_VECTOR = 100
    FLOAT_VECTOR = 101
    FLOAT16_VECTOR = 102
    BFLOAT16_VECTOR = 103
    SPARSE_FLOAT_VECTOR = 104
    INT8_VECTOR = 105
    STRUCT = 201
    UNKNOWN = 999


# Milvus type number -> the engine's DataType variant (schema.rs). Stored in db files through the engine.
_NATIVE_TYPES = {
    1: "Bool",
    2: "Int8",
    3: "Int16",
    4: "Int32",
    5: "Int64",
    10: "Float",
    11: "Double",
    21: "VarChar",
    23: "Json",
    101: "FloatVector",
}
_FROM_NATIVE = {v: k for k, v in _NATIVE_TYPES.items()}
SUPPORTED_TYPES = "BOOL, INT8, INT16, INT32, INT64, FLOAT, DOUBLE, VARCHAR, JSON, FLOAT_VECTOR"

_METRICS = {"L2": "L2", "IP": "Ip", "COSINE": "Cosine"}
_METRIC_NAMES = {v: k for k, v in _METRICS.items()}
# FLAT and BRUTE_FORCE are exact; every other name is served by an HNSW graph (docs/compatibility.md).
VECTOR_INDEX_TYPES = {
    "AUTOINDEX",
    "FLAT",
    "BRUTE_FORCE",
    "HNSW",
    "HNSW_SQ",
    "HNSW_PQ",
    "HNSW_PRQ",
    "IVF_FLAT",
    "IVF_SQ8",
    "IVF_PQ",
    "IVF_RABITQ",
    "DISKANN",
    "SCANN",
}
# Scalar indexes only speed up Milvus's filters; covec's filters scan, so these are accepted and not built.
SCALAR_INDEX_TYPES = {"INVERTED", "STL_SORT", "BITMAP", "TRIE", "NGRAM"}


def _dtype_number(dtype):
    try:
        return int(dtype)
    except (TypeError, ValueError):
        raise ParamError(message=f"data type {dtype!r} is not a DataType") from None


def _dtype_name(number):
    try:
        return DataType(number).name
    except ValueError:
        return str(number)


class FieldSchema:
    """One field, built like pymilvus's ``FieldSchema(name, dtype, description, **kwargs)``."""

    def __init__(self, name, dtype, description="", **kwargs):
        self.name = name
        number = _dtype_number(dtype)
        try:
            self.dtype = DataType(number)
        except ValueError:
            # Kept as given so create_collection can name the unsupported type in its error.
            self.dtype = number
        self.description = description
        self.is_primary = bool(kwargs.pop("is_primary", False))
        self.auto_id = bool(kwargs.pop("auto_id", False))
        self.nullable = bool(kwargs.pop("nullable", False))
        self.default_value = kwargs.pop("default_value", None)
        self.params = {}
        for key in ("dim", "max_length"):
            if kwargs.get(key) is not None:
                self.params[key] = int(kwargs.pop(key))
        # Anything else (is_partition_key, element_type, ...) is kept for describe-style round trips.
        self.params.update({k: v for k, v in kwargs.items() if v is not None})

    def to_dict(self):
        out = {"name": self.name, "description": self.description, "type": self.dtype}
        if self.params:
            out["params"] = dict(self.params)
        if self.is_primary:
            out["is_primary"] = True
            out["auto_id"] = self.auto_id
        if self.nullable:
            out["nullable"] = True
        if self.default_value is not None:
            out["default_value"] = self.default_value
        return out

    def __repr__(self):
        return repr(self.to_dict())


class CollectionSchema:
    """A collection's fields, built like pymilvus's (``create_schema()`` then ``add_field``)."""

    def __init__(self, fields=None, description="", functions=None, **kwargs):
        self.fields = list(fields or [])
        self.description = description
        self.functions = list(functions or [])
        self.auto_id = bool(kwargs.get("auto_id", False))
        self.enable_dynamic_field = bool(kwargs.get("enable_dynamic_field", False))
        # Kept so create_collection can refuse it (covec has no partitions yet) rather than ignore it.
        self.partition_key_field = kwargs.get("partition_key_field")

    def add_field(self, field_name, datatype, is_primary=False, **kwargs):
        self.fields.append(FieldSchema(field_name, datatype, is_primary=is_primary, **kwargs))
        return self

    @property
    def primary_field(self):
        return next((f for f in self.fields if getattr(f, "is_primary", False)), None)

    def add_function(self, function):
        """A BM25 or text-embedding function, as pymilvus takes it; create_collection refuses schemas with one."""
        self.functions.append(function)
        return self

    def verify(self):
        """pymilvus's final client-side check, plus everything create_collection would refuse in this schema."""
        primaries = [f.name for f in self.fields if getattr(f, "is_primary", False)]
        if not primaries:
            raise PrimaryKeyException(message="Schema must have a primary key field.")
        if len(primaries) > 1:
            raise PrimaryKeyException(
                message=f"Expected only one primary key field, got [{primaries[0]}, {primaries[1]}, ...]."
            )
        schema_to_native(self)

    def to_dict(self):
        return {
            "auto_id": self.auto_id,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
            "enable_dynamic_field": self.enable_dynamic_field,
        }

    def __repr__(self):
        return repr(self.to_dict())


class IndexParam:
    """One index request: field, type, name and build parameters (metric_type among them)."""

    def __init__(self, field_name, index_type="", index_name="", **kwargs):
        self.field_name = field_name
        self.index_type = index_type
        self.index_name = index_name
        params = kwargs.pop("params", None) or {}
        if not isinstance(params, dict):
            raise ParamError(message=f"params must be a dict or None, got {type(params).__name__}: {params!r}")
        self.params = {**params, **kwargs}

    def to_dict(self):
        return {
            "field_name": self.field_name,
            "index_type": self.index_type,
            "index_name": self.index_name,
            **self.params,
        }

    def __repr__(self):
        return repr(self.to_dict())


class IndexParams(list):
    """The list ``prepare_index_params()`` returns; ``add_index`` appends one IndexParam."""

    def __init__(self, field_name="", **kwargs):
        super().__init__()
        if field_name:
            self.add_index(field_name, **kwargs)

    def add_index(self, field_name, index_type="", index_name="", **kwargs):
        self.append(IndexParam(field_name, index_type, index_name, **kwargs))


# --- translation to the engine's JSON -----------------------------------------------------------------


def _default_value(field, dtype_number):
    """The field's default as the engine's DefaultValue, or None. Reads pymilvus's protobuf defaults too."""
    value = getattr(field, "default_value", None)
    if value is not None and hasattr(value, "WhichOneof"):
        which = value.WhichOneof("data")
        value = getattr(value, which) if which else None
    if value is None:
        return None
    if dtype_number == 23:
        return {"JsonText": value if isinstance(value, str) else json.dumps(value)}
    if isinstance(value, bool):
        return {"Bool": value}
    if isinstance(value, int):
        return {"Int": value}
    if isinstance(value, float):
        return {"Float": value}
    if isinstance(value, str):
        return {"Str": value}
    raise ParamError(message=f"default_value of field '{field.name}' has unsupported type {type(value).__name__}")


# Field settings that need what covec does not have yet (partitions; analyzers, BM25 and functions): a schema
# with one is refused at create_collection rather than created without it.
_UNSUPPORTED_FIELD_SETTINGS = {
    "is_partition_key": "partition keys",
    "is_clustering_key": "clustering keys",
    "is_function_output": "function output fields",
    "enable_analyzer": "analyzers",
    "analyzer_params": "analyzers",
    "multi_analyzer_params": "analyzers",
    "enable_match": "text match",
}


def _refuse_unsupported_settings(field):
    params = getattr(field, "params", None) or {}
    for key, what in _UNSUPPORTED_FIELD_SETTINGS.items():
        if getattr(field, key, None) or params.get(key):
            raise MilvusException(code=6, message=f"field '{field.name}' sets {key}: covec does not support {what} yet")


def field_to_native(field, schema_auto_id=False):
    name = field.name
    _refuse_unsupported_settings(field)
    number = _dtype_number(field.dtype)
    native = _NATIVE_TYPES.get(number)
    if native is None:
        raise MilvusException(
            code=6,
            message=f"field '{name}' uses Milvus type {_dtype_name(number)} which covec does not support; supported: {SUPPORTED_TYPES}",
        )
    is_primary = bool(getattr(field, "is_primary", False))
    if is_primary and number not in (5, 21):
        raise PrimaryKeyException(message="Primary key type must be DataType.INT64 or DataType.VARCHAR.")
    params = getattr(field, "params", None) or {}
    dim = params.get("dim")
    max_length = params.get("max_length")
    return {
        "name": name,
        "dtype": native,
        "description": getattr(field, "description", "") or "",
        "is_primary": is_primary,
        "auto_id": bool(getattr(field, "auto_id", False) or (is_primary and schema_auto_id)),
        "max_length": int(max_length) if max_length is not None and number == 21 else None,
        "dim": int(dim) if dim is not None and number == 101 else None,
        "nullable": bool(getattr(field, "nullable", False)),
        "default_value": _default_value(field, number),
    }


def schema_to_native(schema):
    """Our CollectionSchema or pymilvus's -> the engine's CollectionSchema as a dict."""
    fields = getattr(schema, "fields", None)
    if fields is None:
        raise ParamError(message=f"schema must be a CollectionSchema, got {type(schema).__name__}")
    if getattr(schema, "functions", None):
        raise MilvusException(code=6, message="covec does not support schema functions (BM25, text embedding) yet")
    partition_key = getattr(schema, "partition_key_field", None)
    if partition_key is not None and not isinstance(partition_key, str):
        partition_key = getattr(partition_key, "name", partition_key)  # pymilvus's property is the field itself
    if partition_key:
        raise MilvusException(
            code=6, message=f"partition key field '{partition_key}': covec does not support partition keys yet"
        )
    auto_id = bool(getattr(schema, "auto_id", False))
    return {
        "fields": [field_to_native(f, auto_id) for f in fields],
        "description": getattr(schema, "description", "") or "",
        "enable_dynamic_field": bool(getattr(schema, "enable_dynamic_field", False)),
    }


def _index_params_of(param):
    """(field, index_type, index_name, params dict) of our IndexParam, pymilvus's, or a plain dict."""
    if isinstance(param, dict):
        d = dict(param)
        return d.pop("field_name", ""), d.pop("index_type", ""), d.pop("index_name", ""), d
    field = getattr(param, "field_name", "")
    index_type = getattr(param, "index_type", "") or ""
    index_name = getattr(param, "index_name", "") or ""
    if hasattr(param, "get_index_configs"):
        params = dict(param.get_index_configs())
        params.pop("index_type", None)
    else:
        params = dict(getattr(param, "params", {}) or {})
    return field, index_type, index_name, params


def index_to_native(param, schema):
    """One index request -> the engine's IndexSpec dict, or None for a scalar index (not built)."""
    field_name, index_type, index_name, params = _index_params_of(param)
    field = next((f for f in schema["fields"] if f["name"] == field_name), None)
    if field is None:
        raise MilvusException(code=6, message=f"cannot create index on non-existent field '{field_name}'")
    index_type = (index_type or "AUTOINDEX").upper()
    if field["dtype"] != "FloatVector":
        if index_type in SCALAR_INDEX_TYPES or index_type == "AUTOINDEX":
            return None
        raise MilvusException(code=6, message=f"index_type '{index_type}' cannot index scalar field '{field_name}'")
    if index_type not in VECTOR_INDEX_TYPES:
        raise MilvusException(
            code=1,
            message=f"unknown index_type: '{index_type}'; supported: {', '.join(sorted(VECTOR_INDEX_TYPES))}",
        )
    metric = params.pop("metric_type", None)
    if metric is None:
        raise MilvusException(code=6, message="create_index missing required 'metric_type' parameter")
    native_metric = _METRICS.get(str(metric).upper())
    if native_metric is None:
        raise MilvusException(code=1, message=f"metric_type must be one of COSINE/L2/IP, got '{metric}'")
    return {
        "field": field_name,
        "index_name": index_name or field_name,
        "index_type": index_type,
        "kind": "Flat",
        "metric": native_metric,
        "params": [[k, json.dumps(v)] for k, v in params.items()],
    }


def metric_name(native_metric):
    return _METRIC_NAMES.get(native_metric, native_metric)


def native_dtype_number(native):
    return _FROM_NATIVE[native]


def default_to_python(default):
    """The engine's DefaultValue ({"Int": 5}) -> the plain value."""
    if not default:
        return None
    ((kind, value),) = default.items()
    return json.loads(value) if kind == "JsonText" else value
