//! The PyO3 binding `covec._covec`: conversions between Python objects and `Value`/`Pk`/`Row`, and
//! `Error` -> `covec.exceptions.MilvusException`. No logic of its own: the Milvus-shaped API is the pure
//! Python front (client/python/covec), the engine is `Db`.
//!
//! Invariants: every `Db` call runs with the GIL released and inside `catch_unwind`, so a slow call does
//! not block other Python threads and a Rust panic surfaces as `MilvusException(code=1)`, never an abort.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::conversion::IntoPyObjectExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

use crate::db::{Db, Hit, OpenOptions, OutputFields, SearchRequest};
use crate::error::{Error, Result};
use crate::schema::{CollectionSchema, IndexSpec, Metric};
use crate::segment::{self, ShmConfig};
use crate::value::{Pk, Row, Value};

// ---------------------------------------------------------------------------------------------------
// Errors

/// Builds `covec.exceptions.MilvusException(code=, message=)`; the class is imported at error time so
/// the native module has no import-order dependency on the Python package.
fn milvus_error(py: Python<'_>, code: i32, message: &str) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let class = py.import("covec.exceptions")?.getattr("MilvusException")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("code", code)?;
        kwargs.set_item("message", message)?;
        Ok(PyErr::from_value(class.call((), Some(&kwargs))?))
    };
    // If the package itself is broken, still raise something that carries the message.
    build().unwrap_or_else(|e| {
        PyRuntimeError::new_err(format!(
            "(code={code}, message={message}) [covec.exceptions unavailable: {e}]"
        ))
    })
}

fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    milvus_error(py, err.code(), &err.to_string())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a Rust panic without a message".to_string()
    }
}

/// Runs `f` without the GIL, turning errors and panics into `MilvusException`.
fn run<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    match py.detach(move || std::panic::catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_py_err(py, err)),
        Err(payload) => Err(milvus_error(
            py,
            1,
            &format!("internal error: {}", panic_message(payload.as_ref())),
        )),
    }
}

/// A conversion error raised while the GIL is held (bad rows, bad JSON).
fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py_err(py, Error::invalid(message))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string())
}

// ---------------------------------------------------------------------------------------------------
// Python -> Rust

/// Python object -> JSON, for JSON fields and dynamic keys. numpy arrays and scalars go through `tolist()`.
fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    let py = obj.py();
    if obj.is_none() {
        return Ok(serde_json::Value::Null);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(serde_json::Value::Bool(obj.extract::<bool>()?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(i.into());
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(u.into());
        }
        return Err(invalid(
            py,
            format!("integer {obj} does not fit in 64 bits"),
        ));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f = obj.extract::<f64>()?;
        return serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| invalid(py, format!("JSON cannot hold the float {f}")));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(serde_json::Value::String(s.to_str()?.to_string()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                invalid(
                    py,
                    format!("JSON object keys must be str, got {}", type_name(&k)),
                )
            })?;
            map.insert(key.to_str()?.to_string(), to_json(&v)?);
        }
        return Ok(serde_json::Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let items = obj
            .try_iter()?
            .map(|item| to_json(&item?))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(serde_json::Value::Array(items));
    }
    if obj.hasattr("tolist")? {
        let plain = obj.call_method0("tolist")?;
        // A numpy object whose tolist() returns itself would recurse forever.
        if !plain.is(obj) {
            return to_json(&plain);
        }
    }
    Err(invalid(
        py,
        format!(
            "a value of type {} cannot be stored as JSON",
            type_name(obj)
        ),
    ))
}

/// A 1-D numpy array -> its values as f32 (other float/int dtypes are cast by numpy).
fn to_vector(obj: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    let py = obj.py();
    let arr = obj.cast::<PyUntypedArray>()?;
    if arr.ndim() != 1 {
        return Err(invalid(
            py,
            format!(
                "a vector must be a 1-D array, got {} dimensions",
                arr.ndim()
            ),
        ));
    }
    // float32 (what the Python front passes) is read as it is; other dtypes are cast by numpy.
    if let Ok(f32s) = obj.cast::<numpy::PyArray1<f32>>() {
        if let Ok(values) = f32s.to_vec() {
            return Ok(values);
        }
    }
    let as_f32 = obj.call_method1("astype", ("float32",))?;
    let typed = as_f32
        .cast::<numpy::PyArray1<f32>>()
        .map_err(|e| invalid(py, format!("vector is not a float32 array: {e}")))?;
    typed
        .to_vec()
        .map_err(|_| invalid(py, "a vector array must be contiguous"))
}

/// One row value. Lists stay JSON: the engine accepts a JSON array of numbers for a vector field, and
/// turning `[1, 2]` into floats here would corrupt an integer list stored in a JSON field.
fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let py = obj.py();
    if obj.is_none() {
        Ok(Value::Null)
    } else if obj.is_instance_of::<PyBool>() {
        Ok(Value::Bool(obj.extract()?))
    } else if obj.is_instance_of::<PyInt>() {
        obj.extract::<i64>()
            .map(Value::Int)
            .map_err(|_| invalid(py, format!("integer {obj} does not fit in INT64")))
    } else if obj.is_instance_of::<PyFloat>() {
        Ok(Value::Float(obj.extract()?))
    } else if let Ok(s) = obj.cast::<PyString>() {
        Ok(Value::Str(s.to_str()?.to_string()))
    } else if obj.is_instance_of::<PyUntypedArray>() {
        Ok(Value::FloatVector(to_vector(obj)?))
    } else if obj.is_instance_of::<PyDict>()
        || obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>()
    {
        Ok(Value::Json(to_json(obj)?))
    } else if obj.hasattr("tolist")? {
        // numpy scalars (np.int64, np.float32, np.bool_) become the matching Python scalar.
        let plain = obj.call_method0("tolist")?;
        if plain.is(obj) {
            return Err(invalid(
                py,
                format!("unsupported value type {}", type_name(obj)),
            ));
        }
        to_value(&plain)
    } else {
        Err(invalid(
            py,
            format!("unsupported value type {} (use None, bool, int, float, str, dict, list or a numpy array)", type_name(obj)),
        ))
    }
}

fn to_pk(obj: &Bound<'_, PyAny>) -> PyResult<Pk> {
    let py = obj.py();
    if obj.is_instance_of::<PyBool>() {
        return Err(invalid(py, "a primary key must be int or str, got bool"));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Pk::Str(s.to_str()?.to_string()));
    }
    if obj.is_instance_of::<PyInt>() || obj.hasattr("__index__")? {
        return obj
            .extract::<i64>()
            .map(Pk::Int)
            .map_err(|_| invalid(py, format!("primary key {obj} does not fit in INT64")));
    }
    Err(invalid(
        py,
        format!("a primary key must be int or str, got {}", type_name(obj)),
    ))
}

fn to_pks(ids: &Bound<'_, PyAny>) -> PyResult<Vec<Pk>> {
    ids.try_iter()?.map(|id| to_pk(&id?)).collect()
}

fn to_row(obj: &Bound<'_, PyAny>) -> PyResult<Row> {
    let py = obj.py();
    let dict = obj.cast::<PyDict>().map_err(|_| {
        invalid(
            py,
            format!("each row must be a dict, got {}", type_name(obj)),
        )
    })?;
    let mut row = Vec::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        let key = k.cast::<PyString>().map_err(|_| {
            invalid(
                py,
                format!("field names must be str, got {}", type_name(&k)),
            )
        })?;
        row.push((key.to_str()?.to_string(), to_value(&v)?));
    }
    Ok(row)
}

fn to_rows(rows: &Bound<'_, PyAny>) -> PyResult<Vec<Row>> {
    rows.try_iter()?.map(|r| to_row(&r?)).collect()
}

fn parse_json<T: serde::de::DeserializeOwned>(
    py: Python<'_>,
    what: &str,
    text: &str,
) -> PyResult<T> {
    serde_json::from_str(text).map_err(|e| invalid(py, format!("{what} is not valid: {e}")))
}

/// `{"ef": 64}` -> [("ef", "64")]: parameters travel with JSON-encoded values.
fn search_params(params: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let Some(params) = params else {
        return Ok(Vec::new());
    };
    params
        .iter()
        .map(|(k, v)| {
            let key = k.cast::<PyString>().map_err(|_| {
                invalid(
                    k.py(),
                    format!("search parameter names must be str, got {}", type_name(&k)),
                )
            })?;
            Ok((key.to_str()?.to_string(), to_json(&v)?.to_string()))
        })
        .collect()
}

fn output_fields(names: Option<Vec<String>>, all: bool) -> OutputFields {
    OutputFields {
        names: names.unwrap_or_default(),
        all,
    }
}

// ---------------------------------------------------------------------------------------------------
// Rust -> Python

fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    match v {
        serde_json::Value::Null => Ok(py.None().into_bound(py)),
        serde_json::Value::Bool(b) => b.into_bound_py_any(py),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_bound_py_any(py)
            } else if let Some(u) = n.as_u64() {
                u.into_bound_py_any(py)
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)
            }
        }
        serde_json::Value::String(s) => s.into_bound_py_any(py),
        serde_json::Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            Ok(list.into_any())
        }
        serde_json::Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, json_to_py(py, item)?)?;
            }
            Ok(dict.into_any())
        }
    }
}

fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Int(i) => i.into_bound_py_any(py),
        Value::Float(f) => f.into_bound_py_any(py),
        Value::Str(s) => s.into_bound_py_any(py),
        Value::Json(j) => json_to_py(py, j),
        // Milvus returns vectors as lists of float32 values widened to Python floats.
        Value::FloatVector(vec) => {
            Ok(PyList::new(py, vec.iter().map(|x| f64::from(*x)))?.into_any())
        }
    }
}

fn pk_to_py<'py>(py: Python<'py>, pk: &Pk) -> PyResult<Bound<'py, PyAny>> {
    match pk {
        Pk::Int(i) => i.into_bound_py_any(py),
        Pk::Str(s) => s.into_bound_py_any(py),
    }
}

fn row_to_py<'py>(py: Python<'py>, row: &Row) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in row {
        dict.set_item(name, value_to_py(py, value)?)?;
    }
    Ok(dict)
}

fn rows_to_py<'py>(py: Python<'py>, rows: &[Row]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for row in rows {
        list.append(row_to_py(py, row)?)?;
    }
    Ok(list)
}

fn pks_to_py<'py>(py: Python<'py>, pks: &[Pk]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for pk in pks {
        list.append(pk_to_py(py, pk)?)?;
    }
    Ok(list)
}

/// covec._results's `Hit` (a dict) and `HybridHits` (a list), imported at the first search and kept.
/// Search builds its results as them directly: shaping (id, distance, entity) tuples into them in
/// Python cost about 1 µs a hit, a tenth of a top-10 graph search on 100k rows.
static RESULT_TYPES: PyOnceLock<(Py<PyType>, Py<PyType>)> = PyOnceLock::new();

fn result_types(py: Python<'_>) -> PyResult<&(Py<PyType>, Py<PyType>)> {
    RESULT_TYPES.get_or_try_init(py, || {
        let results = py.import("covec._results")?;
        let class = |name: &str| -> PyResult<Py<PyType>> {
            Ok(results.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        Ok((class("Hit")?, class("HybridHits")?))
    })
}

/// One query's hits as `HybridHits` of `Hit`s: `{pk: id, "distance": d, "entity": {...}}`. The entity
/// carries the primary key only when `keep_pk` (asked for by name or by "*", as in Milvus), first
/// unless the engine already placed it.
fn hits_to_py<'py>(
    py: Python<'py>,
    hits: &[Hit],
    pk: &str,
    keep_pk: bool,
) -> PyResult<Bound<'py, PyList>> {
    let (hit_type, hits_type) = result_types(py)?;
    let list = hits_type.bind(py).call0()?.cast_into::<PyList>()?;
    for hit in hits {
        let id = pk_to_py(py, &hit.id)?;
        let entity = PyDict::new(py);
        if keep_pk && !hit.entity.iter().any(|(name, _)| name == pk) {
            entity.set_item(pk, &id)?;
        }
        for (name, value) in &hit.entity {
            if keep_pk || name != pk {
                entity.set_item(name, value_to_py(py, value)?)?;
            }
        }
        let item = hit_type.bind(py).call0()?.cast_into::<PyDict>()?;
        item.set_item(pk, id)?;
        item.set_item("distance", f64::from(hit.distance))?;
        item.set_item("entity", entity)?;
        if pk != "id" {
            item.setattr("_pk_name", pk)?;
        }
        list.append(item)?;
    }
    Ok(list)
}

// ---------------------------------------------------------------------------------------------------
// The class

/// Resolves the shm group argument: a gid or a group name.
fn resolve_group(py: Python<'_>, group: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u32>> {
    let Some(group) = group else {
        return Ok(None);
    };
    if group.is_none() {
        return Ok(None);
    }
    if let Ok(gid) = group.extract::<u32>() {
        return Ok(Some(gid));
    }
    let name: String = group
        .extract()
        .map_err(|_| invalid(py, "group must be a gid (int) or a group name (str)"))?;
    match nix::unistd::Group::from_name(&name) {
        Ok(Some(g)) => Ok(Some(g.gid.as_raw())),
        Ok(None) => Err(invalid(py, format!("group '{name}' does not exist"))),
        Err(e) => Err(invalid(py, format!("cannot look up group '{name}': {e}"))),
    }
}

/// `Database(path, shm_dir, use_segment, group)`'s arguments, as `__reduce__` returns them.
type OpenArgs = (PathBuf, PathBuf, bool, Option<u32>);

/// One open covec database. Thread-safe: `Db` serialises its own writes.
#[pyclass(frozen, weakref, module = "covec._covec")]
struct Database {
    db: Db,
    /// As resolved at open; `__reduce__` reopens with them (a 'spawn' child gets its own state).
    options: OpenOptions,
}

#[pymethods]
impl Database {
    #[new]
    #[pyo3(signature = (path, shm_dir=None, use_segment=true, group=None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        shm_dir: Option<PathBuf>,
        use_segment: bool,
        group: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let defaults = OpenOptions::default();
        let options = OpenOptions {
            shm_dir: shm_dir.unwrap_or(defaults.shm_dir),
            use_segment: use_segment && defaults.use_segment,
            group: resolve_group(py, group)?,
        };
        let db = run(py, || Db::open(&path, &options))?;
        Ok(Database { db, options })
    }

    /// Pickling (multiprocessing 'spawn', 'forkserver') sends how to open the db, never the mapping:
    /// the receiving process opens it and holds its own reference-count slot.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, OpenArgs)> {
        let me = slf.get();
        let o = &me.options;
        Ok((
            slf.get_type().into_any(),
            (
                me.db.path().to_path_buf(),
                o.shm_dir.clone(),
                o.use_segment,
                o.group,
            ),
        ))
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.db.path().to_path_buf()
    }

    fn create_collection(
        &self,
        py: Python<'_>,
        name: &str,
        schema_json: &str,
        indexes_json: &str,
    ) -> PyResult<()> {
        let schema: CollectionSchema = parse_json(py, "schema JSON", schema_json)?;
        let indexes: Vec<IndexSpec> = parse_json(py, "index JSON", indexes_json)?;
        run(py, || self.db.create_collection(name, schema, indexes))
    }

    fn drop_collection(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        run(py, || self.db.drop_collection(name))
    }

    fn rename_collection(&self, py: Python<'_>, old: &str, new: &str) -> PyResult<()> {
        run(py, || self.db.rename_collection(old, new))
    }

    fn list_collections(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        run(py, || self.db.list_collections())
    }

    fn has_collection(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        run(py, || self.db.has_collection(name))
    }

    /// JSON text: {"name", "schema", "indexes", "row_count", "pending_index_rows"} in the serde shapes
    /// of schema.rs.
    fn describe_collection(&self, py: Python<'_>, name: &str) -> PyResult<String> {
        run(py, || {
            let info = self.db.describe_collection(name)?;
            let doc = serde_json::json!({
                "name": info.name,
                "schema": info.schema,
                "indexes": info.indexes,
                "row_count": info.row_count,
                "pending_index_rows": info.pending_index_rows,
            });
            Ok(doc.to_string())
        })
    }

    fn create_index(&self, py: Python<'_>, name: &str, spec_json: &str) -> PyResult<()> {
        let spec: IndexSpec = parse_json(py, "index JSON", spec_json)?;
        run(py, || self.db.create_index(name, spec))
    }

    fn flush(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        run(py, || self.db.flush(name))
    }

    fn drop_index(&self, py: Python<'_>, name: &str, index_name: &str) -> PyResult<()> {
        run(py, || self.db.drop_index(name, index_name))
    }

    fn insert<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        rows: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let rows = to_rows(rows)?;
        let pks = run(py, || self.db.insert(name, rows))?;
        pks_to_py(py, &pks)
    }

    #[pyo3(signature = (name, rows, partial=false))]
    fn upsert<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        rows: &Bound<'py, PyAny>,
        partial: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let rows = to_rows(rows)?;
        let pks = run(py, || self.db.upsert(name, rows, partial))?;
        pks_to_py(py, &pks)
    }

    fn delete_ids(&self, py: Python<'_>, name: &str, ids: &Bound<'_, PyAny>) -> PyResult<u64> {
        let ids = to_pks(ids)?;
        run(py, || self.db.delete_ids(name, &ids))
    }

    fn delete_filter(&self, py: Python<'_>, name: &str, filter: &str) -> PyResult<u64> {
        run(py, || self.db.delete_filter(name, filter))
    }

    #[pyo3(signature = (name, ids, names=None, all=false))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        ids: &Bound<'py, PyAny>,
        names: Option<Vec<String>>,
        all: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let ids = to_pks(ids)?;
        let output = output_fields(names, all);
        let rows = run(py, || self.db.get(name, &ids, &output))?;
        rows_to_py(py, &rows)
    }

    #[pyo3(signature = (name, filter="", names=None, all=false, limit=None, offset=0))]
    #[allow(clippy::too_many_arguments)] // mirrors Db::query plus the Python handle
    fn query<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        filter: &str,
        names: Option<Vec<String>>,
        all: bool,
        limit: Option<usize>,
        offset: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let output = output_fields(names, all);
        let rows = run(py, || self.db.query(name, filter, &output, limit, offset))?;
        rows_to_py(py, &rows)
    }

    #[pyo3(signature = (name, filter=""))]
    fn count(&self, py: Python<'_>, name: &str, filter: &str) -> PyResult<u64> {
        run(py, || self.db.count(name, filter))
    }

    #[pyo3(signature = (name, anns_field, vectors, limit, offset=0, filter="", names=None, all=false, metric=None, params=None, pk="id", keep_pk=true))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        anns_field: Option<String>,
        vectors: PyReadonlyArray2<'py, f32>,
        limit: usize,
        offset: usize,
        filter: &str,
        names: Option<Vec<String>>,
        all: bool,
        metric: Option<&str>,
        params: Option<&Bound<'py, PyDict>>,
        pk: &str,
        keep_pk: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let nq = vectors.shape()[0];
        // The one copy: the request owns its vectors so the GIL can be released while searching.
        let flat = vectors
            .as_slice()
            .map_err(|_| invalid(py, "query vectors must be a C-contiguous float32 array"))?
            .to_vec();
        let metric = match metric {
            Some(m) => Some(Metric::parse(m).map_err(|e| to_py_err(py, e))?),
            None => None,
        };
        let request = SearchRequest {
            anns_field,
            vectors: flat,
            nq,
            limit,
            offset,
            filter: filter.to_string(),
            output: output_fields(names, all),
            metric,
            params: search_params(params)?,
        };
        let results = run(py, || self.db.search(name, &request))?;
        let out = PyList::empty(py);
        for hits in &results {
            out.append(hits_to_py(py, hits, pk, keep_pk)?)?;
        }
        Ok(out)
    }

    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let status = run(py, || self.db.status())?;
        let dict = PyDict::new(py);
        dict.set_item("path", status.path)?;
        dict.set_item("generation", status.generation)?;
        dict.set_item("segment", status.segment)?;
        dict.set_item("loaded_by", status.loaded_by)?;
        dict.set_item("mapped_bytes", status.mapped_bytes)?;
        Ok(dict)
    }
}

/// `[[x, ...], ...]` (a list of equal-length lists of Python numbers) as a float32 matrix, converted
/// item by item (numpy's list conversion costs several times more for one query vector); None for
/// anything else, which the caller hands to numpy to convert or to explain.
#[pyfunction]
fn float_rows<'py>(
    py: Python<'py>,
    rows: &Bound<'py, PyList>,
) -> Option<Bound<'py, PyArray2<f32>>> {
    let first = rows.get_item(0).ok()?;
    let dim = first.cast::<PyList>().ok()?.len();
    let mut flat = Vec::with_capacity(rows.len() * dim);
    for row in rows.iter() {
        let row = row.cast_into::<PyList>().ok()?;
        if row.len() != dim {
            return None;
        }
        for x in row.iter() {
            // Floats and ints only: numpy also parses strings, and its conversion is the reference.
            if !(x.is_instance_of::<PyFloat>() || x.is_instance_of::<PyInt>()) {
                return None;
            }
            flat.push(x.extract::<f64>().ok()? as f32);
        }
    }
    numpy::PyArray1::from_vec(py, flat)
        .reshape([rows.len(), dim])
        .ok()
}

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
/// a list of {db_id, segments: [{generation, bytes}], slots: [{pid, generation, count}]}.
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
            d.set_item("generation", s.generation)?;
            d.set_item("bytes", s.bytes)?;
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

#[pymodule]
fn _covec(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Database>()?;
    m.add_function(wrap_pyfunction!(float_rows, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(segment_status, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_inside_guard, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
