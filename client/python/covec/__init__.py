"""covec: one shared-memory copy of a vector database for any number of processes.

``from covec import MilvusClient, DataType`` is a drop-in for pymilvus's client on a local path.
"""

# The extension's own (Cargo) version: importlib.metadata would add ~20 ms and ~2 MiB to every import.
from ._covec import __version__, sweep, verify
from ._rankers import AnnSearchRequest, FunctionScore, RRFRanker, WeightedRanker
from ._schema import CollectionSchema, DataType, FieldSchema, IndexParams
from .client import MilvusClient
from .exceptions import MilvusException

__all__ = [
    "MilvusClient",
    "DataType",
    "MilvusException",
    "CollectionSchema",
    "FieldSchema",
    "IndexParams",
    "AnnSearchRequest",
    "RRFRanker",
    "WeightedRanker",
    "FunctionScore",
    "sweep",
    "verify",
    "__version__",
]
