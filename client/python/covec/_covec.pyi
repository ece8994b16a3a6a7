"""Type stubs for the native module covec._covec (client/src/python.rs)."""

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

Pk = Union[int, str]
Row = Dict[str, Any]

__version__: str

class Database:
    """One open covec database; every method raises covec.exceptions.MilvusException on error."""

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        shm_dir: Optional[Union[str, os.PathLike[str]]] = None,
        use_segment: bool = True,
        group: Optional[Union[int, str]] = None,
    ) -> None: ...
    @property
    def path(self) -> str: ...
    def create_collection(self, name: str, schema_json: str, indexes_json: str) -> None: ...
    def drop_collection(self, name: str) -> None: ...
    def rename_collection(self, old: str, new: str) -> None: ...
    def list_collections(self) -> List[str]: ...
    def has_collection(self, name: str) -> bool: ...
    def describe_collection(self, name: str) -> str:
        """JSON text: {"name", "schema", "indexes", "row_count"}."""
    def create_index(self, name: str, spec_json: str) -> None: ...
    def drop_index(self, name: str, index_name: str) -> None: ...
    def insert(self, name: str, rows: Sequence[Row]) -> List[Pk]: ...
    def upsert(self, name: str, rows: Sequence[Row], partial: bool = False) -> List[Pk]: ...
    def delete_ids(self, name: str, ids: Sequence[Pk]) -> int: ...
    def delete_filter(self, name: str, filter: str) -> int: ...
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
    ) -> List[Row]: ...
    def count(self, name: str, filter: str = "") -> int: ...
    def search(
        self,
        name: str,
        anns_field: Optional[str],
        vectors: npt.NDArray[np.float32],
        limit: int,
        offset: int = 0,
        filter: str = "",
        names: Optional[List[str]] = None,
        all: bool = False,
        metric: Optional[str] = None,
        params_json: Optional[str] = None,
    ) -> List[List[Tuple[Pk, float, Row]]]: ...
    def status(self) -> Dict[str, Any]:
        """{"path", "generation", "segment", "loaded_by", "mapped_bytes"}."""

def sweep(shm_dir: Optional[str] = None) -> Dict[str, int]:
    """Frees dead processes' slots and unlinks segments nobody holds."""

def verify(path: str) -> int:
    """Checks every checksum of a db file; returns the generation checked."""

def _panic_inside_guard() -> None:
    """Test hook: panics inside the guard every call runs in; raises MilvusException(code=1)."""
