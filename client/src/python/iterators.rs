//! The iterator classes: `SearchIterator` and `QueryIterator`, each holding the generation it was
//! created on (`crate::SearchIter`, `crate::QueryIter`); the Python front shapes them as pymilvus's.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::convert::{hits_to_py, rows_to_py, HitLayout};
use super::errors::run;
use crate::{Error, QueryIter, SearchIter, SearchParams};

fn poisoned() -> Error {
    Error::Internal("an iterator's lock was poisoned by a panic".into())
}

/// Pages of one search's hits from one generation.
#[pyclass(frozen, module = "covec._covec")]
pub(crate) struct SearchIterator {
    iter: Mutex<SearchIter>,
    /// How distances are rounded.
    params: SearchParams,
    layout: HitLayout,
}

impl SearchIterator {
    pub(crate) fn new(iter: SearchIter, params: SearchParams, layout: HitLayout) -> Self {
        SearchIterator {
            iter: Mutex::new(iter),
            params,
            layout,
        }
    }
}

#[pymethods]
impl SearchIterator {
    /// The next `count` hits, best first (fewer at the end, none past it).
    fn next<'py>(&self, py: Python<'py>, count: usize) -> PyResult<Bound<'py, PyList>> {
        let hits = run(py, || {
            self.iter.lock().map_err(|_| poisoned())?.next_page(count)
        })?;
        hits_to_py(py, hits, &self.params, &self.layout)
    }

    /// The generation the pages come from.
    #[getter]
    fn generation(&self, py: Python<'_>) -> PyResult<u64> {
        run(py, || {
            Ok(self.iter.lock().map_err(|_| poisoned())?.generation())
        })
    }
}

/// Pages of one query's rows, in primary-key order, from one generation.
#[pyclass(frozen, module = "covec._covec")]
pub(crate) struct QueryIterator {
    iter: Mutex<QueryIter>,
}

impl QueryIterator {
    pub(crate) fn new(iter: QueryIter) -> Self {
        QueryIterator {
            iter: Mutex::new(iter),
        }
    }
}

#[pymethods]
impl QueryIterator {
    /// The next `count` rows (fewer at the end, none past it).
    fn next<'py>(&self, py: Python<'py>, count: usize) -> PyResult<Bound<'py, PyList>> {
        let rows = run(py, || {
            self.iter.lock().map_err(|_| poisoned())?.next_page(count)
        })?;
        rows_to_py(py, &rows)
    }

    /// The generation the pages come from.
    #[getter]
    fn generation(&self, py: Python<'_>) -> PyResult<u64> {
        run(py, || {
            Ok(self.iter.lock().map_err(|_| poisoned())?.generation())
        })
    }
}
