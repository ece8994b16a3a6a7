"""Type stubs for the native module covec._covec (client/src/python/).

Every method raises pymilvus's exception classes from covec.exceptions: ParamError, DataNotMatchException,
DataTypeNotMatchException, PrimaryKeyException, DescribeCollectionException or MilvusException, each with
Milvus's code.
"""

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy.typing as npt

from ._results import HybridHits

Pk = Union[int, str]
Row = Dict[str, Any]
# Our CollectionSchema or pymilvus's (anything with `fields`, `auto_id`, `description`,
# `enable_dynamic_field`; `functions` and `struct_fields` must be empty).
Schema = Any
# Our IndexParams or pymilvus's, or dicts: field_name, index_type, index_name, metric_type, build params.
IndexRequests = Iterable[Any]
# A list of float lists, a list of 1-D numpy arrays, a 2-D numpy array, one flat vector, or anything
# numpy converts to float32.
QueryVectors = Union[Sequence[Sequence[float]], Sequence[npt.NDArray[Any]], npt.NDArray[Any]]

# A ranker as the front describes it: {"strategy", "params"} (RRFRanker, WeightedRanker) or
# {"functions": [{"name", "type", "input_field_names", "params"}], "params"} (FunctionScore, Function).
Ranker = Dict[str, Any]

__version__: str

class SearchIterator:
    """Pages of one search's hits from the generation it was created on."""

    generation: int
    def next(self, count: int) -> HybridHits: ...

class QueryIterator:
    """Pages of one query's rows, in primary-key order, from the generation it was created on."""

    generation: int
    def next(self, count: int) -> List[Row]: ...

class Database:
    """One open covec database."""

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        shm_dir: Optional[Union[str, os.PathLike[str]]] = None,
        use_segment: bool = True,
        group: Optional[Union[int, str]] = None,
    ) -> None: ...
    @property
    def path(self) -> str: ...
    def create_collection(self, name: str, schema: Schema, index_params: Optional[IndexRequests] = None) -> None:
        """Scalar index requests are accepted and not built."""
    def drop_collection(self, name: str) -> None: ...
    def rename_collection(self, old: str, new: str) -> None: ...
    def list_collections(self) -> List[str]: ...
    def has_collection(self, name: str) -> bool: ...
    def describe_collection(self, name: str) -> Dict[str, Any]:
        """pymilvus's describe_collection dict; DescribeCollectionException when missing."""
    def row_count(self, name: str) -> int: ...
    def create_index(self, name: str, index_params: IndexRequests) -> None: ...
    def list_indexes(self, name: str, field_name: str = "") -> List[str]: ...
    def describe_index(self, name: str, index_name: str) -> Optional[Dict[str, Any]]:
        """pymilvus's describe_index dict; None when the collection has no index."""
    def flush(self, name: str) -> None: ...
    def drop_index(self, name: str, index_name: str) -> None: ...
    def insert(self, name: str, rows: Sequence[Mapping[str, Any]]) -> List[Pk]:
        """Vectors as lists or numpy arrays; rows that do not fit raise DataNotMatchException."""
    def upsert(self, name: str, rows: Sequence[Mapping[str, Any]], partial: bool = False) -> List[Pk]: ...
    def delete_ids(self, name: str, ids: Sequence[Pk]) -> int: ...
    def delete_filter(self, name: str, filter: str, filter_params: Optional[Dict[str, Any]] = None) -> int: ...
    def get(
        self, name: str, ids: Sequence[Pk], names: Optional[List[str]] = None, all: bool = False
    ) -> List[Row]: ...
    def query(
        self,
        name: str,
        filter: str = "",
        names: Optional[List[str]] = None,
        all: bool = False,
        limit: Optional[int] = None,
        offset: int = 0,
        filter_params: Optional[Dict[str, Any]] = None,
    ) -> List[Row]:
        """`filter_params`: the values of the filter's {name} placeholders (as in search, count, the
        iterators and delete_filter)."""
    def count(self, name: str, filter: str = "", filter_params: Optional[Dict[str, Any]] = None) -> int: ...
    def search(
        self,
        name: str,
        data: QueryVectors,
        limit: int,
        filter: str = "",
        names: Optional[List[str]] = None,
        all: bool = False,
        search_params: Optional[Dict[str, Any]] = None,
        anns_field: Optional[str] = None,
        arguments: Optional[Dict[str, Any]] = None,
        ranker: Optional[Ranker] = None,
        pk: str = "id",
        keep_pk: bool = True,
        filter_params: Optional[Dict[str, Any]] = None,
    ) -> List[HybridHits]:
        """search_params and `arguments` (offset, round_decimal, group_by_field, group_size,
        strict_group_size) as pymilvus takes them; an unknown search parameter, or one covec has not
        implemented, raises ParamError naming it."""
    def hybrid_search(
        self,
        name: str,
        reqs: List[Dict[str, Any]],
        ranker: Ranker,
        limit: int,
        names: Optional[List[str]] = None,
        all: bool = False,
        arguments: Optional[Dict[str, Any]] = None,
        pk: str = "id",
        keep_pk: bool = True,
    ) -> List[HybridHits]:
        """`reqs`: {"data", "anns_field", "param", "limit", "expr", "expr_params"} per AnnSearchRequest,
        all searched on one generation and merged by `ranker`."""
    def search_iterator(
        self,
        name: str,
        data: QueryVectors,
        filter: str = "",
        names: Optional[List[str]] = None,
        all: bool = False,
        search_params: Optional[Dict[str, Any]] = None,
        anns_field: Optional[str] = None,
        arguments: Optional[Dict[str, Any]] = None,
        pk: str = "id",
        keep_pk: bool = True,
        filter_params: Optional[Dict[str, Any]] = None,
    ) -> SearchIterator:
        """Pages of one query vector's hits, best first, from the current generation (kept)."""
    def query_iterator(
        self,
        name: str,
        filter: str = "",
        names: Optional[List[str]] = None,
        all: bool = False,
        offset: int = 0,
        filter_params: Optional[Dict[str, Any]] = None,
    ) -> QueryIterator:
        """Pages of the matching rows in primary-key order, from the current generation (kept)."""
    def status(self) -> Dict[str, Any]:
        """{"path", "generation", "segment", "loaded_by", "mapped_bytes"}."""

def sweep(shm_dir: Optional[str] = None) -> Dict[str, int]:
    """Frees dead processes' slots and unlinks segments nobody holds."""

def segment_status(shm_dir: Optional[str] = None) -> List[Dict[str, Any]]:
    """[{db_id, segments: [{generation, bytes}], slots: [{pid, generation, count}]}]."""

def verify(path: str) -> int:
    """Checks every checksum of a db file; returns the generation checked."""

def check_schema(schema: Schema) -> None:
    """Raises what create_collection would raise for this schema (CollectionSchema.verify())."""

def _panic_inside_guard() -> None:
    """Test hook: panics inside the guard every call runs in; raises MilvusException(code=1)."""
