"""covec: one shared-memory copy of a vector database for any number of processes.

``from covec import MilvusClient, DataType`` is a drop-in for pymilvus's client on a local path;
``covec.patch_pymilvus()`` makes pymilvus's own clients covec's, for frameworks that build them.
"""

# The extension's own (Cargo) version: importlib.metadata would add ~20 ms and ~2 MiB to every import.
from ._covec import __version__, sweep, verify
from ._patch import patch_pymilvus, unpatch_pymilvus
from ._rankers import AnnSearchRequest, FunctionScore, RRFRanker, WeightedRanker
from ._schema import CollectionSchema, DataType, FieldSchema, IndexParams
from .client import MilvusClient
from .exceptions import MilvusException

__all__ = [
    "MilvusClient",
    "AsyncMilvusClient",
    "DataType",
    "MilvusException",
    "CollectionSchema",
    "FieldSchema",
    "IndexParams",
    "AnnSearchRequest",
    "RRFRanker",
    "WeightedRanker",
    "FunctionScore",
    "patch_pymilvus",
    "unpatch_pymilvus",
    "sweep",
    "verify",
    "__version__",
]


def __getattr__(name):
    # AsyncMilvusClient loads asyncio (~30 ms, ~6 MiB): only processes that use it pay for it.
    if name == "AsyncMilvusClient":
        from ._async import AsyncMilvusClient

        return AsyncMilvusClient
    raise AttributeError(f"module 'covec' has no attribute {name!r}")
