//! The `Database` class: one open db, its methods converting arguments, calling `Db` inside the guard
//! and converting results.

use std::path::PathBuf;

use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::convert::*;
use super::errors::{invalid, run, to_py_err};
use crate::schema::{CollectionSchema, IndexSpec, Metric};
use crate::{Db, OpenOptions, SearchRequest};

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
pub(crate) struct Database {
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
