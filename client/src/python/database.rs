//! The `Database` class: one open db, its methods converting arguments, calling `Db` inside the guard
//! and converting results.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::convert::{
    self, collection_schema, describe_collection, describe_index, field_schema, hits_to_py,
    index_specs, output_fields, pks_to_py, rows_to_py, search_request, to_pks, to_rows,
    type_params, HitLayout,
};
use super::errors::{invalid, param_error, run, run_in, to_py_err, Call};
use super::iterators::{QueryIterator, SearchIterator};
use crate::format::DEFAULT_DATABASE;
use crate::schema::index_names;
use crate::text::term_id;
use crate::{
    Db, Filter, Hit, HybridRequest, IndexRequest, NewCollection, OpenOptions, OutputFields, Pinned,
    RequestTime, Row, Scope, SearchParams, SearchRequest,
};

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

/// A token as `run_analyzer` returns it: (token, start_offset, end_offset, position, position_length, hash).
type AnalyzedToken = (String, usize, usize, usize, usize, u32);

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

    // Databases.

    #[pyo3(signature = (name, properties=Vec::new()))]
    fn create_database(
        &self,
        py: Python<'_>,
        name: &str,
        properties: Vec<(String, String)>,
    ) -> PyResult<()> {
        run(py, || self.db.create_database(name, &properties))
    }

    fn drop_database(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        run(py, || self.db.drop_database(name))
    }

    fn list_databases(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        run(py, || self.db.list_databases())
    }

    /// pymilvus's describe_database dict: the name, then the properties.
    fn describe_database<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let info = run(py, || self.db.describe_database(name))?;
        let out = PyDict::new(py);
        out.set_item("name", info.name)?;
        for (key, value) in info.properties {
            out.set_item(key, value)?;
        }
        Ok(out)
    }

    fn alter_database_properties(
        &self,
        py: Python<'_>,
        name: &str,
        properties: Vec<(String, String)>,
        delete_keys: Vec<String>,
    ) -> PyResult<()> {
        run(py, || {
            self.db
                .alter_database_properties(name, &properties, &delete_keys)
        })
    }

    // Collections: each takes the database first.

    /// `schema`: our CollectionSchema or pymilvus's; `index_params`: our IndexParams or pymilvus's (or
    /// dicts), or None; `properties` as (key, value) strings; `num_partitions` for a partition key.
    #[pyo3(signature = (db, name, schema, index_params=None, properties=Vec::new(), num_partitions=None))]
    #[allow(clippy::too_many_arguments)] // pymilvus's create_collection arguments
    fn create_collection(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        schema: &Bound<'_, PyAny>,
        index_params: Option<&Bound<'_, PyAny>>,
        properties: Vec<(String, String)>,
        num_partitions: Option<u32>,
    ) -> PyResult<()> {
        let schema = collection_schema(schema)?;
        let (mut indexes, mut scalar_indexes) = (Vec::new(), Vec::new());
        for request in index_specs(index_params, &schema)? {
            match request {
                IndexRequest::Vector(spec) => indexes.push(spec),
                IndexRequest::Scalar(spec) => scalar_indexes.push(spec),
            }
        }
        let new = NewCollection {
            properties,
            num_partitions,
            scalar_indexes,
            ..NewCollection::new(schema, indexes)
        };
        run(py, || {
            self.db.create_collection_with(Scope::new(db, name), new)
        })
    }

    fn drop_collection(&self, py: Python<'_>, db: &str, name: &str) -> PyResult<()> {
        run(py, || self.db.drop_collection(Scope::new(db, name)))
    }

    fn rename_collection(
        &self,
        py: Python<'_>,
        db: &str,
        old: &str,
        new_db: &str,
        new: &str,
    ) -> PyResult<()> {
        run(py, || {
            self.db
                .rename_collection(Scope::new(db, old), Scope::new(new_db, new))
        })
    }

    fn list_collections(&self, py: Python<'_>, db: &str) -> PyResult<Vec<String>> {
        run(py, || self.db.list_collections(db))
    }

    fn has_collection(&self, py: Python<'_>, db: &str, name: &str) -> PyResult<bool> {
        run(py, || self.db.has_collection(Scope::new(db, name)))
    }

    /// pymilvus's describe_collection dict; a missing collection is `DescribeCollectionException`.
    fn describe_collection<'py>(
        &self,
        py: Python<'py>,
        db: &str,
        name: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let info = run_in(py, Call::Describing, || {
            self.db.describe_collection(Scope::new(db, name))
        })?;
        describe_collection(py, &info)
    }

    /// The primary key's name (searches and reads name it in their results).
    fn primary_field(&self, py: Python<'_>, db: &str, name: &str) -> PyResult<String> {
        run(py, || self.db.primary_field(Scope::new(db, name)))
    }

    /// What the Python front keys load state by: (collection id, partition names, has a partition key).
    fn load_key(&self, py: Python<'_>, db: &str, name: &str) -> PyResult<(u64, Vec<String>, bool)> {
        let info = run(py, || self.db.describe_collection(Scope::new(db, name)))?;
        let has_key = info.schema.partition_key().is_some();
        Ok((info.id, info.partitions, has_key))
    }

    /// Live rows (get_collection_stats' `row_count`).
    fn row_count(&self, py: Python<'_>, db: &str, name: &str) -> PyResult<u64> {
        run(py, || self.db.count(Scope::new(db, name), ""))
    }

    /// Live rows of one partition (get_partition_stats' `row_count`).
    fn partition_row_count(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        partition: &str,
    ) -> PyResult<u64> {
        run(py, || {
            self.db.partition_row_count(Scope::new(db, name), partition)
        })
    }

    fn truncate_collection(&self, py: Python<'_>, db: &str, name: &str) -> PyResult<()> {
        run(py, || self.db.truncate_collection(Scope::new(db, name)))
    }

    fn alter_collection_properties(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        properties: Vec<(String, String)>,
        delete_keys: Vec<String>,
    ) -> PyResult<()> {
        run(py, || {
            self.db
                .alter_collection_properties(Scope::new(db, name), &properties, &delete_keys)
        })
    }

    /// `field`: our FieldSchema or pymilvus's.
    fn add_collection_field(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        field: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let field = field_schema(field, false)?;
        run(py, || {
            self.db.add_collection_field(Scope::new(db, name), field)
        })
    }

    /// `params`: the field parameters to change, values as Python gave them.
    fn alter_collection_field(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        field: &str,
        params: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        let params = type_params(params)?;
        run(py, || {
            self.db
                .alter_collection_field(Scope::new(db, name), field, &params)
        })
    }

    /// Compacts the collection and the db file; returns the job id.
    fn compact(&self, py: Python<'_>, db: &str, name: &str) -> PyResult<u64> {
        run(py, || self.db.compact(Scope::new(db, name)))
    }

    fn compaction_done(&self, py: Python<'_>, job: u64) -> PyResult<bool> {
        run(py, || self.db.compaction_done(job))
    }

    // Aliases.

    fn create_alias(&self, py: Python<'_>, db: &str, name: &str, alias: &str) -> PyResult<()> {
        run(py, || self.db.create_alias(Scope::new(db, name), alias))
    }

    fn alter_alias(&self, py: Python<'_>, db: &str, name: &str, alias: &str) -> PyResult<()> {
        run(py, || self.db.alter_alias(Scope::new(db, name), alias))
    }

    fn drop_alias(&self, py: Python<'_>, db: &str, alias: &str) -> PyResult<()> {
        run(py, || self.db.drop_alias(db, alias))
    }

    fn describe_alias(&self, py: Python<'_>, db: &str, alias: &str) -> PyResult<String> {
        run(py, || self.db.describe_alias(db, alias))
    }

    #[pyo3(signature = (db, name=None))]
    fn list_aliases(&self, py: Python<'_>, db: &str, name: Option<&str>) -> PyResult<Vec<String>> {
        run(py, || self.db.list_aliases(db, name))
    }

    // Partitions.

    fn create_partition(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        partition: &str,
    ) -> PyResult<()> {
        run(py, || {
            self.db.create_partition(Scope::new(db, name), partition)
        })
    }

    fn drop_partition(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        partition: &str,
    ) -> PyResult<()> {
        run(py, || {
            self.db.drop_partition(Scope::new(db, name), partition)
        })
    }

    fn list_partitions(&self, py: Python<'_>, db: &str, name: &str) -> PyResult<Vec<String>> {
        run(py, || self.db.list_partitions(Scope::new(db, name)))
    }

    // Indexes.

    /// `index_params`: our IndexParams or pymilvus's (or dicts). Scalar indexes are kept, not built.
    fn create_index(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        index_params: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let target = Scope::new(db, name);
        let schema = run(py, || Ok(self.db.describe_collection(target)?.schema))?;
        for request in index_specs(Some(index_params), &schema)? {
            run(py, || match request {
                IndexRequest::Vector(spec) => self.db.create_index(target, spec),
                IndexRequest::Scalar(spec) => self.db.create_scalar_index(target, spec),
            })?;
        }
        Ok(())
    }

    /// Index names, vector indexes then scalar ones, each in creation order; of one field when
    /// `field_name` is not empty.
    #[pyo3(signature = (db, name, field_name=""))]
    fn list_indexes(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        field_name: &str,
    ) -> PyResult<Vec<String>> {
        let info = run(py, || self.db.describe_collection(Scope::new(db, name)))?;
        Ok(index_names(&info.indexes, &info.scalar_indexes)
            .filter(|(f, _)| field_name.is_empty() || *f == field_name)
            .map(|(_, n)| n.to_string())
            .collect())
    }

    /// pymilvus's describe_index dict, or None when the collection has no index.
    fn describe_index<'py>(
        &self,
        py: Python<'py>,
        db: &str,
        name: &str,
        index_name: &str,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let info = run(py, || self.db.describe_collection(Scope::new(db, name)))?;
        describe_index(py, &info, index_name)
    }

    fn flush(&self, py: Python<'_>, db: &str, name: &str) -> PyResult<()> {
        run(py, || self.db.flush(Scope::new(db, name)))
    }

    fn drop_index(&self, py: Python<'_>, db: &str, name: &str, index_name: &str) -> PyResult<()> {
        run(py, || self.db.drop_index(Scope::new(db, name), index_name))
    }

    // Rows: `partitions` is the one partition a write goes to (none: "_default" or the partition key),
    // the ones a delete or read is confined to (none: all).

    /// `rows`: a list of dicts, vectors as lists or numpy arrays. Returns the primary keys.
    #[pyo3(signature = (db, name, rows, partitions=Vec::new()))]
    fn insert<'py>(
        &self,
        py: Python<'py>,
        db: &str,
        name: &str,
        rows: &Bound<'py, PyAny>,
        partitions: Vec<String>,
    ) -> PyResult<Bound<'py, PyList>> {
        let target = Scope::new(db, name).partitions(&partitions);
        let rows = self.rows(py, target, rows)?;
        let pks = run_in(py, Call::Writing, || self.db.insert(target, rows))?;
        pks_to_py(py, &pks)
    }

    #[pyo3(signature = (db, name, rows, partial=false, partitions=Vec::new()))]
    fn upsert<'py>(
        &self,
        py: Python<'py>,
        db: &str,
        name: &str,
        rows: &Bound<'py, PyAny>,
        partial: bool,
        partitions: Vec<String>,
    ) -> PyResult<Bound<'py, PyList>> {
        let target = Scope::new(db, name).partitions(&partitions);
        let rows = self.rows(py, target, rows)?;
        let pks = run_in(py, Call::Writing, || self.db.upsert(target, rows, partial))?;
        pks_to_py(py, &pks)
    }

    #[pyo3(signature = (db, name, ids, partitions=Vec::new()))]
    fn delete_ids(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        ids: &Bound<'_, PyAny>,
        partitions: Vec<String>,
    ) -> PyResult<u64> {
        let ids = to_pks(ids)?;
        run(py, || {
            self.db
                .delete_ids(Scope::new(db, name).partitions(&partitions), &ids)
        })
    }

    #[pyo3(signature = (db, name, filter, partitions=Vec::new(), filter_params=None))]
    fn delete_filter(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        filter: &str,
        partitions: Vec<String>,
        filter_params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let params = convert::filter_params(py, filter_params)?;
        run(py, || {
            self.db.delete_filter(
                Scope::new(db, name).partitions(&partitions),
                Filter::new(filter, &params),
            )
        })
    }

    #[pyo3(signature = (db, name, ids, names=None, all=false, partitions=Vec::new(), timezone=None, time_fields=None))]
    #[allow(clippy::too_many_arguments)] // mirrors Db::get plus the Python handle
    fn get<'py>(
        &self,
        py: Python<'py>,
        db: &str,
        name: &str,
        ids: &Bound<'py, PyAny>,
        names: Option<Vec<String>>,
        all: bool,
        partitions: Vec<String>,
        timezone: Option<&str>,
        time_fields: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let ids = to_pks(ids)?;
        let output = output_fields(names, all);
        let time = request_time(py, timezone, time_fields)?;
        let target = Scope::new(db, name).partitions(&partitions).time(&time);
        let rows = run(py, || self.db.get(target, &ids, &output))?;
        rows_to_py(py, &rows)
    }

    #[pyo3(signature = (db, name, filter="", names=None, all=false, limit=None, offset=0, partitions=Vec::new(), filter_params=None, timezone=None, time_fields=None))]
    #[allow(clippy::too_many_arguments)] // mirrors Db::query plus the Python handle
    fn query<'py>(
        &self,
        py: Python<'py>,
        db: &str,
        name: &str,
        filter: &str,
        names: Option<Vec<String>>,
        all: bool,
        limit: Option<usize>,
        offset: usize,
        partitions: Vec<String>,
        filter_params: Option<&Bound<'py, PyAny>>,
        timezone: Option<&str>,
        time_fields: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let output = output_fields(names, all);
        let params = convert::filter_params(py, filter_params)?;
        let filter = Filter::new(filter, &params);
        let time = request_time(py, timezone, time_fields)?;
        let target = Scope::new(db, name).partitions(&partitions).time(&time);
        let rows = run(py, || self.db.query(target, filter, &output, limit, offset))?;
        rows_to_py(py, &rows)
    }

    #[pyo3(signature = (db, name, filter="", partitions=Vec::new(), filter_params=None, timezone=None))]
    #[allow(clippy::too_many_arguments)] // mirrors Db::count plus the Python handle
    fn count(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        filter: &str,
        partitions: Vec<String>,
        filter_params: Option<&Bound<'_, PyAny>>,
        timezone: Option<&str>,
    ) -> PyResult<u64> {
        let params = convert::filter_params(py, filter_params)?;
        let time = request_time(py, timezone, None)?;
        run(py, || {
            self.db.count(
                Scope::new(db, name).partitions(&partitions).time(&time),
                Filter::new(filter, &params),
            )
        })
    }

    /// `data`: query vectors (lists or numpy arrays) or query texts (a BM25 function's output field);
    /// `search_params` and `arguments` (the keyword arguments `offset`, `round_decimal`,
    /// `group_by_field`, `group_size`, `strict_group_size`) as pymilvus takes them; `ranker` and
    /// `function_chain`: the front's descriptions of `ranker=` and of the one chain of
    /// `function_chains=`; `star`: `output_fields` held "*". Hits carry the primary key under its
    /// name, read from the generation searched; their entity carries it too when `names` holds it
    /// or `star` (as in Milvus).
    #[pyo3(signature = (db, name, data, limit, filter="", names=None, all=false, search_params=None, anns_field=None, arguments=None, ranker=None, star=false, partitions=Vec::new(), filter_params=None, function_chain=None, timezone=None, time_fields=None))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        db: &str,
        name: &str,
        data: &Bound<'py, PyAny>,
        limit: usize,
        filter: &str,
        names: Option<Vec<String>>,
        all: bool,
        search_params: Option<&Bound<'py, PyAny>>,
        anns_field: Option<String>,
        arguments: Option<&Bound<'py, PyAny>>,
        ranker: Option<&Bound<'py, PyAny>>,
        star: bool,
        partitions: Vec<String>,
        filter_params: Option<&Bound<'py, PyAny>>,
        function_chain: Option<&Bound<'py, PyAny>>,
        timezone: Option<&str>,
        time_fields: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut params = convert::search_params(py, search_params, arguments)?;
        let output = output_fields(names, all);
        let mut request = search_request(anns_field, data, limit, filter, output, &mut params)?;
        request.filter_params = convert::filter_params(py, filter_params)?;
        request.rerank = ranker.map(|r| convert::rerank(py, r)).transpose()?;
        request.chain = function_chain
            .map(|c| convert::function_chain(py, c))
            .transpose()?;
        let time = request_time(py, timezone, time_fields)?;
        let target = Scope::new(db, name).partitions(&partitions).time(&time);
        let shape = HitShape {
            params: &params,
            output: &request.output,
            star,
        };
        self.hit_lists(py, target, shape, |pinned| pinned.search(target, &request))
    }

    /// `reqs`: one dict per AnnSearchRequest (`data`, `anns_field`, `param`, `limit`, `expr`);
    /// `ranker`: the front's description of the ranker; `arguments`: `offset`, `round_decimal` and the
    /// grouping arguments; `star` as for `search`. Every request runs on one generation.
    #[pyo3(signature = (db, name, reqs, ranker, limit, names=None, all=false, arguments=None, star=false, partitions=Vec::new(), timezone=None, time_fields=None))]
    #[allow(clippy::too_many_arguments)]
    fn hybrid_search<'py>(
        &self,
        py: Python<'py>,
        db: &str,
        name: &str,
        reqs: &Bound<'py, PyList>,
        ranker: &Bound<'py, PyAny>,
        limit: usize,
        names: Option<Vec<String>>,
        all: bool,
        arguments: Option<&Bound<'py, PyAny>>,
        star: bool,
        partitions: Vec<String>,
        timezone: Option<&str>,
        time_fields: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let params = convert::search_params(py, None, arguments)?;
        let requests = reqs
            .iter()
            .map(|req| ann_request(py, &req))
            .collect::<PyResult<Vec<_>>>()?;
        let request = HybridRequest {
            requests,
            rerank: convert::rerank(py, ranker)?,
            limit,
            offset: params.offset,
            output: output_fields(names, all),
            group_by: params.group_by.clone(),
        };
        let time = request_time(py, timezone, time_fields)?;
        let target = Scope::new(db, name).partitions(&partitions).time(&time);
        let shape = HitShape {
            params: &params,
            output: &request.output,
            star,
        };
        self.hit_lists(py, target, shape, |pinned| {
            pinned.hybrid_search(target, &request)
        })
    }

    /// A search iterator on the current generation, which it keeps (pages never mix generations);
    /// `star` as for `search`.
    #[pyo3(signature = (db, name, data, filter="", names=None, all=false, search_params=None, anns_field=None, arguments=None, star=false, partitions=Vec::new(), filter_params=None, timezone=None, time_fields=None))]
    #[allow(clippy::too_many_arguments)]
    fn search_iterator(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        data: &Bound<'_, PyAny>,
        filter: &str,
        names: Option<Vec<String>>,
        all: bool,
        search_params: Option<&Bound<'_, PyAny>>,
        anns_field: Option<String>,
        arguments: Option<&Bound<'_, PyAny>>,
        star: bool,
        partitions: Vec<String>,
        filter_params: Option<&Bound<'_, PyAny>>,
        timezone: Option<&str>,
        time_fields: Option<&str>,
    ) -> PyResult<SearchIterator> {
        let mut params = convert::search_params(py, search_params, arguments)?;
        let output = output_fields(names, all);
        let mut request = search_request(anns_field, data, 1, filter, output, &mut params)?;
        request.filter_params = convert::filter_params(py, filter_params)?;
        let time = request_time(py, timezone, time_fields)?;
        let target = Scope::new(db, name).partitions(&partitions).time(&time);
        let (layout, iter) = run(py, || {
            let pinned = self.db.pin()?;
            let layout = HitLayout::new(pinned.schema(target)?, &request.output, star);
            Ok((layout, pinned.search_iter(target, request)?))
        })?;
        Ok(SearchIterator::new(iter, params, layout))
    }

    /// A query iterator on the current generation, which it keeps: matching rows in primary-key
    /// order, after the first `offset`.
    #[pyo3(signature = (db, name, filter="", names=None, all=false, offset=0, partitions=Vec::new(), filter_params=None, timezone=None, time_fields=None))]
    #[allow(clippy::too_many_arguments)]
    fn query_iterator(
        &self,
        py: Python<'_>,
        db: &str,
        name: &str,
        filter: &str,
        names: Option<Vec<String>>,
        all: bool,
        offset: usize,
        partitions: Vec<String>,
        filter_params: Option<&Bound<'_, PyAny>>,
        timezone: Option<&str>,
        time_fields: Option<&str>,
    ) -> PyResult<QueryIterator> {
        let output = output_fields(names, all);
        let params = convert::filter_params(py, filter_params)?;
        let filter = Filter::new(filter, &params);
        let time = request_time(py, timezone, time_fields)?;
        let target = Scope::new(db, name).partitions(&partitions).time(&time);
        let iter = run(py, || {
            self.db.pin()?.query_iter(target, filter, output, offset)
        })?;
        Ok(QueryIterator::new(iter))
    }

    /// Each text's tokens as (token, start_offset, end_offset, position, position_length, hash): by
    /// `analyzer_params` (JSON text; None: standard) or, with `collection` (in database `db`), by its field
    /// `field`'s analyzer.
    #[pyo3(signature = (texts, analyzer_params=None, db=DEFAULT_DATABASE, collection=None, field=None, analyzer_names=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn run_analyzer(
        &self,
        py: Python<'_>,
        texts: Vec<String>,
        analyzer_params: Option<String>,
        db: &str,
        collection: Option<String>,
        field: Option<String>,
        analyzer_names: Vec<String>,
    ) -> PyResult<Vec<Vec<AnalyzedToken>>> {
        let target = collection
            .as_deref()
            .map(|name| Scope::new(db, name))
            .zip(field.as_deref());
        let tokens = run(py, || {
            self.db
                .run_analyzer(&texts, analyzer_params.as_deref(), target, &analyzer_names)
        })?;
        Ok(tokens
            .into_iter()
            .map(|ts| {
                ts.into_iter()
                    .map(|t| {
                        let hash = term_id(&t.text);
                        (t.text, t.start, t.end, t.position, t.position_length, hash)
                    })
                    .collect()
            })
            .collect())
    }

    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let status = run(py, || self.db.status())?;
        let dict = PyDict::new(py);
        dict.set_item("path", status.path)?;
        dict.set_item("generation", status.generation)?;
        dict.set_item("segment", status.segment)?;
        dict.set_item("segment_pending", status.segment_pending)?;
        dict.set_item("loaded_by", status.loaded_by)?;
        dict.set_item("mapped_bytes", status.mapped_bytes)?;
        dict.set_item("live_bytes", status.live_bytes)?;
        Ok(dict)
    }
}

/// One AnnSearchRequest (a dict from the front: `data`, `anns_field`, `param`, `limit`, `expr`,
/// `expr_params`) as a search request. Its `param` holds what a
/// search's `search_params` holds, but for what the hybrid search itself decides (offset, grouping).
fn ann_request(py: Python<'_>, req: &Bound<'_, PyAny>) -> PyResult<SearchRequest> {
    let item = |key: &str| req.get_item(key);
    let mut params = convert::search_params(py, Some(&item("param")?), None)?;
    if params.offset != 0 || params.group_by.is_some() {
        return Err(param_error(
            py,
            "an AnnSearchRequest's param cannot set offset or grouping; give them to hybrid_search",
        ));
    }
    let filter: Option<String> = item("expr")?.extract()?;
    let anns_field: Option<String> = item("anns_field")?.extract()?;
    let limit: usize = item("limit")?.extract()?;
    let mut request = search_request(
        anns_field,
        &item("data")?,
        limit,
        filter.as_deref().unwrap_or(""),
        OutputFields::default(),
        &mut params,
    )?;
    request.filter_params = convert::filter_params(py, Some(&item("expr_params")?))?;
    Ok(request)
}

/// A read's `timezone` and `time_fields` arguments (`RequestTime::parse`).
fn request_time(
    py: Python<'_>,
    timezone: Option<&str>,
    time_fields: Option<&str>,
) -> PyResult<RequestTime> {
    RequestTime::parse(timezone, time_fields).map_err(|e| to_py_err(py, e))
}

/// How a search's hits are shaped for Python: distances rounded by `params`; the primary key in the
/// entity and the lazy values as `HitLayout` says.
struct HitShape<'a> {
    params: &'a SearchParams,
    output: &'a OutputFields,
    star: bool,
}

impl Database {
    /// `search` run on the current generation, its hits as pymilvus's (one list per query vector)
    /// under the primary key's name in that same generation.
    fn hit_lists<'py>(
        &self,
        py: Python<'py>,
        target: Scope<'_>,
        shape: HitShape<'_>,
        search: impl FnOnce(&Pinned) -> crate::Result<Vec<Vec<Hit>>> + Send,
    ) -> PyResult<Bound<'py, PyList>> {
        let (layout, results) = run(py, || {
            let pinned = self.db.pin()?;
            let layout = HitLayout::new(pinned.schema(target)?, shape.output, shape.star);
            Ok((layout, search(&pinned)?))
        })?;
        let out = PyList::empty(py);
        for hits in results {
            out.append(hits_to_py(py, hits, shape.params, &layout)?)?;
        }
        Ok(out)
    }

    /// An insert's or upsert's rows, converted with the collection's vector fields in hand; a missing
    /// collection is `DescribeCollectionException`, as pymilvus describes it before it converts rows.
    fn rows(
        &self,
        py: Python<'_>,
        target: Scope<'_>,
        rows: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Row>> {
        let schema = run_in(py, Call::Writing, || {
            Ok(self.db.describe_collection(target)?.schema)
        })?;
        to_rows(rows, &schema)
    }
}
