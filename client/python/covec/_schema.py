"""DataType and the schema and index-parameter builders of pymilvus's API.

They only hold what the caller gave; the native module reads them (and pymilvus's own CollectionSchema and
IndexParams, wherever ours are taken) and checks them: client/src/python/convert/schema.rs.
"""

import enum

from .exceptions import ParamError

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


def _dtype_number(dtype):
    try:
        return int(dtype)
    except (TypeError, ValueError):
        raise ParamError(message=f"data type {dtype!r} is not a DataType") from None


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
        # dim, max_length and the rest (is_partition_key, ...) as given: the native side reads and checks them.
        self.params = {k: v for k, v in kwargs.items() if v is not None}

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

    def __init__(self, fields=None, description="", **kwargs):
        self.fields = list(fields or [])
        self.description = description
        self.auto_id = bool(kwargs.get("auto_id", False))
        self.enable_dynamic_field = bool(kwargs.get("enable_dynamic_field", False))
        # pymilvus's other way to name the keys: the field of that name becomes the key.
        self._keys = {
            flag: kwargs[arg]
            for flag, arg in (("is_partition_key", "partition_key_field"), ("is_clustering_key", "clustering_key_field"))
            if kwargs.get(arg)
        }
        for field in self.fields:
            self._mark_keys(field)

    def _mark_keys(self, field):
        for flag, name in self._keys.items():
            if getattr(field, "name", None) == name and isinstance(field, FieldSchema):
                field.params[flag] = True

    def add_field(self, field_name, datatype, is_primary=False, **kwargs):
        field = FieldSchema(field_name, datatype, is_primary=is_primary, **kwargs)
        self._mark_keys(field)
        self.fields.append(field)
        return self

    @property
    def primary_field(self):
        return next((f for f in self.fields if getattr(f, "is_primary", False)), None)

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
