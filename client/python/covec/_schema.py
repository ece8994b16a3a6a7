"""DataType and the schema and index-parameter builders of pymilvus's API.

They only hold what the caller gave; the native module reads them (and pymilvus's own CollectionSchema and
IndexParams, wherever ours are taken) and checks them: client/src/python/convert/schema.rs.
"""

import enum

from ._covec import check_schema
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
        # Set by CollectionSchema.add_function: a function fills this field (never given on insert).
        self.is_function_output = False
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


# create_schema() keyword arguments besides auto_id, enable_dynamic_field and the key fields (`_mark`):
# check_fields only says when pymilvus checks, and covec checks at create_collection.
_ACCEPTED_SCHEMA_KWARGS = frozenset({"check_fields"})


class CollectionSchema:
    """A collection's fields, built like pymilvus's (``create_schema()`` then ``add_field``)."""

    def __init__(self, fields=None, description="", functions=None, **kwargs):
        self.fields = list(fields or [])
        self.description = description
        self.functions = []
        self.auto_id = bool(kwargs.pop("auto_id", False))
        self.enable_dynamic_field = bool(kwargs.pop("enable_dynamic_field", False))
        # pymilvus marks the fields of these names as the primary, partition and clustering keys, among the
        # fields given or when they are added.
        marks = (
            ("is_primary", "primary_field"),
            ("is_partition_key", "partition_key_field"),
            ("is_clustering_key", "clustering_key_field"),
        )
        self._marks = {flag: name for flag, name in ((f, kwargs.pop(a, None)) for f, a in marks) if name}
        for name in kwargs:
            if name not in _ACCEPTED_SCHEMA_KWARGS:
                raise ParamError(message=f"create_schema() got an unexpected keyword argument '{name}'")
        for field in self.fields:
            self._mark(field)
        for function in functions or []:
            self.add_function(function)

    def _mark(self, field):
        for flag, name in self._marks.items():
            if getattr(field, "name", None) == name:
                if flag == "is_primary":
                    field.is_primary = True
                elif isinstance(field, FieldSchema):
                    field.params[flag] = True
                else:
                    setattr(field, flag, True)

    def add_field(self, field_name, datatype, is_primary=False, **kwargs):
        field = FieldSchema(field_name, datatype, is_primary=is_primary, **kwargs)
        self._mark(field)
        self.fields.append(field)
        return self

    def add_function(self, function):
        """Adds a schema function (pymilvus's ``Function``, e.g. ``FunctionType.BM25``); its output fields are
        marked as function outputs, as pymilvus marks them."""
        self.functions.append(function)
        for field in self.fields:
            if field.name in getattr(function, "output_field_names", ()):
                field.is_function_output = True
        return self

    @property
    def primary_field(self):
        return next((f for f in self.fields if getattr(f, "is_primary", False)), None)

    def verify(self):
        """pymilvus's final check before create_collection: raises what create_collection would for this schema."""
        check_schema(self)

    def to_dict(self):
        return {
            "auto_id": self.auto_id,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
            "enable_dynamic_field": self.enable_dynamic_field,
            **({"functions": [f.to_dict() if hasattr(f, "to_dict") else f for f in self.functions]} if self.functions else {}),
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
