"""Type stubs for the native module covec._covec (client/src/python/).

Every method raises pymilvus's exception classes from covec.exceptions: ParamError, DataNotMatchException,
DataTypeNotMatchException, PrimaryKeyException, DescribeCollectionException or MilvusException, each with
Milvus's code.
"""

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

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
    # Databases.
    def create_database(self, name: str, properties: Sequence[Tuple[str, str]] = ()) -> None: ...
    def drop_database(self, name: str) -> None:
        """Refuses "default" and a database that still has collections."""
    def list_databases(self) -> List[str]: ...
    def describe_database(self, name: str) -> Dict[str, str]:
        """{"name": name, **properties}, as pymilvus shows it."""
    def alter_database_properties(
        self, name: str, properties: Sequence[Tuple[str, str]], delete_keys: Sequence[str]
    ) -> None: ...
    # Collections: `db` is the database; a collection name may be an alias.
    def create_collection(
        self,
        db: str,
        name: str,
        schema: Schema,
        index_params: Optional[IndexRequests] = None,
        properties: Sequence[Tuple[str, str]] = (),
        num_partitions: Optional[int] = None,
    ) -> None:
        """Scalar index requests are kept (described, listed, dropped); nothing is built for them."""
    def drop_collection(self, db: str, name: str) -> None: ...
    def rename_collection(self, db: str, old: str, new_db: str, new: str) -> None: ...
    def list_collections(self, db: str) -> List[str]:
        """Sorted by name."""
    def has_collection(self, db: str, name: str) -> bool: ...
    def describe_collection(self, db: str, name: str) -> Dict[str, Any]:
        """pymilvus's describe_collection dict; DescribeCollectionException when missing."""
    def primary_field(self, db: str, name: str) -> str: ...
    def load_key(self, db: str, name: str) -> Tuple[int, List[str], bool]:
        """(collection id, partition names, has a partition key): what load state is kept by."""
    def row_count(self, db: str, name: str) -> int: ...
    def partition_row_count(self, db: str, name: str, partition: str) -> int: ...
    def truncate_collection(self, db: str, name: str) -> None: ...
    def alter_collection_properties(
        self, db: str, name: str, properties: Sequence[Tuple[str, str]], delete_keys: Sequence[str]
    ) -> None: ...
    def add_collection_field(self, db: str, name: str, field: Any) -> None:
        """`field`: our FieldSchema or pymilvus's; it must be nullable."""
    def alter_collection_field(self, db: str, name: str, field: str, params: Mapping[str, Any]) -> None:
        """max_length, max_capacity or mmap.enabled; any other parameter is refused."""
    def compact(self, db: str, name: str) -> int:
        """Returns the job id."""
    def compaction_done(self, job: int) -> bool: ...
    # Aliases.
    def create_alias(self, db: str, name: str, alias: str) -> None: ...
    def alter_alias(self, db: str, name: str, alias: str) -> None: ...
    def drop_alias(self, db: str, alias: str) -> None: ...
    def describe_alias(self, db: str, alias: str) -> str:
        """The name of the collection the alias points at."""
    def list_aliases(self, db: str, name: Optional[str] = None) -> List[str]: ...
    # Partitions.
    def create_partition(self, db: str, name: str, partition: str) -> None: ...
    def drop_partition(self, db: str, name: str, partition: str) -> None:
        """Deletes the partition's rows."""
    def list_partitions(self, db: str, name: str) -> List[str]: ...
    # Indexes.
    def create_index(self, db: str, name: str, index_params: IndexRequests) -> None: ...
    def list_indexes(self, db: str, name: str, field_name: str = "") -> List[str]: ...
    def describe_index(self, db: str, name: str, index_name: str) -> Optional[Dict[str, Any]]:
        """pymilvus's describe_index dict; None when no index has that name (or "<field>_idx")."""
    def flush(self, db: str, name: str) -> None: ...
    def drop_index(self, db: str, name: str, index_name: str) -> None: ...
    # Rows: `partitions` holds the one partition a write goes to (empty: "_default" or the partition key)
    # or the partitions a delete or read is confined to (empty: all).
    def insert(
        self, db: str, name: str, rows: Sequence[Mapping[str, Any]], partitions: Sequence[str] = ()
    ) -> List[Pk]:
        """Vectors as lists or numpy arrays; rows that do not fit raise DataNotMatchException."""
    def upsert(
        self,
        db: str,
        name: str,
        rows: Sequence[Mapping[str, Any]],
        partial: bool = False,
        partitions: Sequence[str] = (),
    ) -> List[Pk]: ...
    def delete_ids(self, db: str, name: str, ids: Sequence[Pk], partitions: Sequence[str] = ()) -> int: ...
    def delete_filter(
        self,
        db: str,
        name: str,
        filter: str,
        partitions: Sequence[str] = (),
        filter_params: Optional[Dict[str, Any]] = None,
    ) -> int: ...
    def get(
        self,
        db: str,
        name: str,
        ids: Sequence[Pk],
        names: Optional[List[str]] = None,
        all: bool = False,
        partitions: Sequence[str] = (),
    ) -> List[Row]: ...
    def query(
        self,
        db: str,
        name: str,
        filter: str = "",
        names: Optional[List[str]] = None,
        all: bool = False,
        limit: Optional[int] = None,
        offset: int = 0,
        partitions: Sequence[str] = (),
        filter_params: Optional[Dict[str, Any]] = None,
    ) -> List[Row]:
        """`filter_params`: the values of the filter's {name} placeholders (as in search, count, the
        iterators and delete_filter)."""
    def count(
        self,
        db: str,
        name: str,
        filter: str = "",
        partitions: Sequence[str] = (),
        filter_params: Optional[Dict[str, Any]] = None,
    ) -> int: ...
    def search(
        self,
        db: str,
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
        star: bool = False,
        partitions: Sequence[str] = (),
        filter_params: Optional[Dict[str, Any]] = None,
        function_chain: Optional[Dict[str, Any]] = None,
    ) -> List[HybridHits]:
        """search_params and `arguments` (offset, round_decimal, group_by_field, group_size,
        strict_group_size) as pymilvus takes them; an unknown search parameter, or one covec has not
        implemented, raises ParamError naming it."""
    def hybrid_search(
        self,
        db: str,
        name: str,
        reqs: List[Dict[str, Any]],
        ranker: Ranker,
        limit: int,
        names: Optional[List[str]] = None,
        all: bool = False,
        arguments: Optional[Dict[str, Any]] = None,
        star: bool = False,
        partitions: Sequence[str] = (),
    ) -> List[HybridHits]:
        """`reqs`: {"data", "anns_field", "param", "limit", "expr", "expr_params"} per AnnSearchRequest,
        all searched on one generation and merged by `ranker`."""
    def search_iterator(
        self,
        db: str,
        name: str,
        data: QueryVectors,
        filter: str = "",
        names: Optional[List[str]] = None,
        all: bool = False,
        search_params: Optional[Dict[str, Any]] = None,
        anns_field: Optional[str] = None,
        arguments: Optional[Dict[str, Any]] = None,
        star: bool = False,
        partitions: Sequence[str] = (),
        filter_params: Optional[Dict[str, Any]] = None,
    ) -> SearchIterator:
        """Pages of one query vector's hits, best first, from the current generation (kept)."""
    def query_iterator(
        self,
        db: str,
        name: str,
        filter: str = "",
        names: Optional[List[str]] = None,
        all: bool = False,
        offset: int = 0,
        partitions: Sequence[str] = (),
        filter_params: Optional[Dict[str, Any]] = None,
    ) -> QueryIterator:
        """Pages of the matching rows in primary-key order, from the current generation (kept)."""
    def run_analyzer(
        self,
        texts: List[str],
        analyzer_params: Optional[str] = None,
        db: str = "default",
        collection: Optional[str] = None,
        field: Optional[str] = None,
        analyzer_names: List[str] = ...,
    ) -> List[List[Tuple[str, int, int, int, int, int]]]:
        """Each text's tokens as (token, start_offset, end_offset, position, position_length, hash)."""
    def status(self) -> Dict[str, Any]:
        """{"path", "generation", "segment", "loaded_by", "mapped_bytes", "live_bytes"}."""

def sweep(shm_dir: Optional[str] = None) -> Dict[str, int]:
    """Frees dead processes' slots and unlinks segments nobody holds."""

def segment_status(shm_dir: Optional[str] = None) -> List[Dict[str, Any]]:
    """[{db_id, segments: [{name, generations, bytes, length}], slots: [{pid, generation, count}]}]."""

def verify(path: str) -> int:
    """Checks every checksum of a db file; returns the generation checked."""

def check_schema(schema: Schema) -> None:
    """Raises what create_collection would raise for this schema (CollectionSchema.verify())."""

def _panic_inside_guard() -> None:
    """Test hook: panics inside the guard every call runs in; raises MilvusException(code=1)."""
