//! The PyO3 binding `covec._covec`: the `Database` class (`database`), the iterator classes
//! (`iterators`), typed conversions between Python
//! objects and the crate's types (`convert`: schemas, index requests, rows, query vectors, search
//! parameters in; rows, hits and describe dicts out), and `Error` -> pymilvus's exception classes
//! (`errors`). No logic of its own: the checks belong to the crate (schema.rs, search_params.rs, the
//! engine), the pymilvus-shaped API to the Python front (client/python/covec).
//!
//! Invariants: every `Db` call runs with the GIL released and inside `catch_unwind`, so a slow call does
//! not block other Python threads and a Rust panic surfaces as `MilvusException(code=1)`, never an abort.

mod convert;
mod database;
mod errors;
mod iterators;

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::error::Result;
use crate::segment::{self, ShmConfig};
use crate::Db;
use database::Database;
use errors::{run, to_py_err};

/// Frees the slots of dead processes and unlinks the segments nobody holds (`covec sweep`).
#[pyfunction]
#[pyo3(signature = (shm_dir=None))]
fn sweep<'py>(py: Python<'py>, shm_dir: Option<PathBuf>) -> PyResult<Bound<'py, PyDict>> {
    let mut cfg = ShmConfig::from_env();
    if let Some(dir) = shm_dir {
        cfg.dir = dir;
    }
    let report = run(py, || segment::sweep(&cfg))?;
    let dict = PyDict::new(py);
    dict.set_item("dead_slots", report.dead_slots)?;
    dict.set_item("temps_removed", report.temps_removed)?;
    dict.set_item("segments_unlinked", report.segments_unlinked)?;
    dict.set_item("ref_files_removed", report.ref_files_removed)?;
    dict.set_item("untrusted", report.untrusted)?;
    Ok(dict)
}

/// The segments and live slots of every db in the shm dir (`segment::status`), for tests and tools:
/// a list of {db_id, segments: [{name, generations, bytes, length}], slots: [{pid, generation, count}]}
/// (`bytes`: the memory a segment takes; `length`: its file length).
#[pyfunction]
#[pyo3(signature = (shm_dir=None))]
fn segment_status<'py>(py: Python<'py>, shm_dir: Option<PathBuf>) -> PyResult<Bound<'py, PyList>> {
    let mut cfg = ShmConfig::from_env();
    if let Some(dir) = shm_dir {
        cfg.dir = dir;
    }
    let dbs = run(py, || segment::status(&cfg))?;
    let out = PyList::empty(py);
    for db in dbs {
        let segments = PyList::empty(py);
        for s in &db.segments {
            let d = PyDict::new(py);
            d.set_item("name", &s.name)?;
            d.set_item("generations", s.generations.clone())?;
            d.set_item("bytes", s.bytes)?;
            d.set_item("length", s.length)?;
            segments.append(d)?;
        }
        let slots = PyList::empty(py);
        for s in &db.slots {
            let d = PyDict::new(py);
            d.set_item("pid", s.pid)?;
            d.set_item("generation", s.generation)?;
            d.set_item("count", s.count)?;
            slots.append(d)?;
        }
        let d = PyDict::new(py);
        d.set_item("db_id", db.db_id)?;
        d.set_item("segments", segments)?;
        d.set_item("slots", slots)?;
        out.append(d)?;
    }
    Ok(out)
}

/// Panics inside the guard every method runs in, so a test can show that a Rust panic reaches Python
/// as a `MilvusException` instead of aborting the interpreter.
#[pyfunction]
fn _panic_inside_guard(py: Python<'_>) -> PyResult<()> {
    run(py, || -> Result<()> {
        panic!("deliberate panic from _panic_inside_guard")
    })
}

/// Checks a db file completely: header, catalog and every section checksum (`covec verify`).
/// Returns the generation checked.
#[pyfunction]
fn verify(py: Python<'_>, path: PathBuf) -> PyResult<u64> {
    run(py, || Db::verify(&path))
}

/// Checks a schema (our CollectionSchema or pymilvus's) as `create_collection` does, without a database:
/// covec's `CollectionSchema.verify()`.
#[pyfunction]
fn check_schema(schema: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = schema.py();
    let schema = convert::collection_schema(schema)?;
    crate::engine::check_new_schema(&schema).map_err(|e| to_py_err(py, e))
}

#[pymodule]
fn _covec(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Database>()?;
    m.add_class::<iterators::SearchIterator>()?;
    m.add_class::<iterators::QueryIterator>()?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(segment_status, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(check_schema, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_inside_guard, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
