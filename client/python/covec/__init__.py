"""covec: one shared-memory copy of a vector database for any number of processes.

``from covec import MilvusClient, DataType`` is a drop-in for pymilvus's client on a local path.
"""

from ._covec import sweep, verify
from ._schema import CollectionSchema, DataType, FieldSchema, IndexParams
from .client import MilvusClient
from .exceptions import MilvusException

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("covec")
except PackageNotFoundError:
    __version__ = "0.0.0+unknown"

__all__ = [
    "MilvusClient",
    "DataType",
    "MilvusException",
    "CollectionSchema",
    "FieldSchema",
    "IndexParams",
    "sweep",
    "verify",
    "__version__",
]
