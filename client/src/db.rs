//! `Db`: the handle a program (or the Python binding) holds on one db file.
//!
//! Reads go to the current generation, which the handle's `Follower` (follow.rs) keeps mapped: before
//! every call one `stat` tells whether a newer generation was committed. Within a process, every `Db` of
//! one path shares one follower (a forked child makes its own). Writes take the db's writer lock, commit
//! durably, and publish the new generation when other processes are reading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use crate::engine::{
    self, Deletion, Hit, HybridRequest, OutputFields, SearchRequest, Snapshot, WriteMode,
};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::follow::{poisoned, DbStatus, Follower, Mapped, OpenOptions};
use crate::format::{Catalog, DEFAULT_DATABASE};
use crate::pin::{compile_filter, Pinned};
use crate::schema::{CollectionSchema, IndexSpec};
use crate::segment;
use crate::store::{self, CommitBuilder, Writer};
use crate::value::{Pk, Row};

/// A collection's description: schema, indexes, row count.
#[derive(Debug, Clone)]
pub struct CollectionInfo {
    pub name: String,
    pub schema: CollectionSchema,
    pub indexes: Vec<IndexSpec>,
    pub row_count: u64,
    /// Live rows not yet in the graph (searched exactly until `flush` or the tail's growth indexes them).
    pub pending_index_rows: u64,
}

/// The state every `Db` of one canonical path shares within one process.
struct Inner {
    follower: Follower,
    /// The process that created it: a forked child builds its own.
    pid: u32,
}

type Registry = Mutex<HashMap<PathBuf, Weak<Inner>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The shared state for `canonical` in this process, created when nobody holds it (or when the
/// holder is a parent process we were forked from).
fn shared_inner(canonical: &Path, options: &OpenOptions) -> Result<Arc<Inner>> {
    let pid = std::process::id();
    let mut reg = registry().lock().map_err(|_| poisoned())?;
    if let Some(inner) = reg.get(canonical).and_then(Weak::upgrade) {
        if inner.pid == pid {
            return Ok(inner);
        }
    }
    let inner = Arc::new(Inner {
        follower: Follower::open(canonical, options)?,
        pid,
    });
    reg.retain(|_, w| w.strong_count() > 0);
    reg.insert(canonical.to_path_buf(), Arc::downgrade(&inner));
    Ok(inner)
}

pub struct Db {
    path: PathBuf,
    inner: RwLock<Arc<Inner>>,
}

impl Db {
    /// Opens the db at `path`, creating an empty one if there is no file. Errors if the path is not a
    /// covec db (a Milvus Lite directory gets a message pointing at `covec import`).
    /// Within one process, every `Db` of one canonical path shares the state (and the options) of the
    /// first one opened.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Db> {
        store::create_if_missing(path)?;
        let canonical = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        let inner = shared_inner(&canonical, options)?;
        Ok(Db {
            path: path.to_path_buf(),
            inner: RwLock::new(inner),
        })
    }

    /// Full check of a db file: header, catalog and every section checksum (`covec verify`).
    /// Returns the generation it checked.
    pub fn verify(path: &Path) -> Result<u64> {
        store::verify(path).map(|m| m.generation)
    }

    /// This process's shared state; after a fork, the child builds its own instead of using the
    /// parent's.
    fn inner(&self) -> Result<Arc<Inner>> {
        {
            let inner = self.inner.read().map_err(|_| poisoned())?;
            if inner.pid == std::process::id() {
                return Ok(Arc::clone(&inner));
            }
        }
        let (path, options) = {
            let inner = self.inner.read().map_err(|_| poisoned())?;
            let f = &inner.follower;
            (f.path().to_path_buf(), f.options().clone())
        };
        let fresh = shared_inner(&path, &options)?;
        *self.inner.write().map_err(|_| poisoned())? = Arc::clone(&fresh);
        Ok(fresh)
    }

    fn current(&self) -> Result<Arc<Mapped>> {
        self.inner()?.follower.current()
    }

    /// One durable commit: `plan` sees the newest generation under the writer lock and returns the
    /// next catalog (None: nothing to commit) and its result.
    fn write<T>(
        &self,
        plan: impl FnOnce(&Snapshot<'_>, &mut CommitBuilder) -> Result<(Option<Catalog>, T)>,
    ) -> Result<T> {
        let inner = self.inner()?;
        let path = inner.follower.path();
        let writer = Writer::lock(path)?;
        let mut builder = writer.builder();
        let (catalog, out) = {
            let snap = Snapshot::open_at(writer.image(), path)?;
            plan(&snap, &mut builder)?
        };
        if let Some(catalog) = catalog {
            writer.commit(builder, &catalog)?;
            self.publish(&inner)?;
        }
        Ok(out)
    }

    /// After a commit: when other processes are reading this db, load the new generation now, so that
    /// their next call finds it ready instead of one of them paying for the copy. (covecd does the same
    /// when it runs; whoever comes first loads, the other finds the segment there.)
    fn publish(&self, inner: &Inner) -> Result<()> {
        let options = inner.follower.options();
        if !options.use_segment {
            return Ok(());
        }
        let db_id = inner.follower.held()?.db_id.clone();
        let me = std::process::id();
        let readers = segment::status(&options.shm_config())?
            .into_iter()
            .filter(|db| db.db_id == db_id)
            .any(|db| db.slots.iter().any(|slot| slot.pid != me));
        if readers {
            inner.follower.current()?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn status(&self) -> Result<DbStatus> {
        let status = self.inner()?.follower.status()?;
        Ok(DbStatus {
            path: self.path.clone(),
            ..status
        })
    }

    // Collections. Every mutating call is one durable commit: when it returns, the change is on disk.
    pub fn create_collection(
        &self,
        name: &str,
        schema: CollectionSchema,
        indexes: Vec<IndexSpec>,
    ) -> Result<()> {
        self.write(|snap, _| {
            let next = engine::plan_create_collection(snap.catalog(), name, schema, indexes)?;
            Ok((Some(next), ()))
        })
    }
    /// Dropping a missing collection is not an error (as in Milvus).
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        self.write(|snap, _| {
            let cat = snap.catalog();
            Ok((
                cat.collection(DEFAULT_DATABASE, name)
                    .map(|_| engine::plan_drop_collection(cat, name)),
                (),
            ))
        })
    }
    pub fn rename_collection(&self, old: &str, new: &str) -> Result<()> {
        self.write(|snap, _| {
            let next = engine::plan_rename_collection(snap.catalog(), old, new)?;
            Ok((Some(next), ()))
        })
    }
    pub fn list_collections(&self) -> Result<Vec<String>> {
        let cur = self.current()?;
        Ok(cur
            .catalog
            .collections
            .iter()
            .filter(|c| c.db == DEFAULT_DATABASE)
            .map(|c| c.name.clone())
            .collect())
    }
    pub fn has_collection(&self, name: &str) -> Result<bool> {
        Ok(self
            .current()?
            .catalog
            .collection(DEFAULT_DATABASE, name)
            .is_some())
    }
    pub fn describe_collection(&self, name: &str) -> Result<CollectionInfo> {
        let cur = self.current()?;
        let snap = cur.snapshot();
        let view = snap.collection(name)?;
        Ok(CollectionInfo {
            name: name.into(),
            schema: view.schema().clone(),
            indexes: view.entry().indexes.clone(),
            row_count: view.row_count(),
            pending_index_rows: view.pending_index_rows()?,
        })
    }

    // Indexes.
    pub fn create_index(&self, collection: &str, spec: IndexSpec) -> Result<()> {
        self.write(|snap, b| {
            let next = engine::plan_create_index(snap, b, collection, spec)?;
            Ok((Some(next), ()))
        })
    }
    /// Puts the rows written since the graph was last grown into it (one commit; none when nothing is
    /// pending). Every write is already durable; this is what makes it fully indexed, as Milvus's flush.
    pub fn flush(&self, collection: &str) -> Result<()> {
        self.write(|snap, b| Ok((engine::plan_index_pending(snap, b, collection)?, ())))
    }
    pub fn drop_index(&self, collection: &str, index_name: &str) -> Result<()> {
        self.write(|snap, _| {
            let next = engine::plan_drop_index(snap.catalog(), collection, index_name)?;
            Ok((Some(next), ()))
        })
    }

    // Rows.
    /// Inserts rows (last write wins on a duplicate primary key); returns their primary keys in order.
    pub fn insert(&self, collection: &str, rows: Vec<Row>) -> Result<Vec<Pk>> {
        self.write_rows(collection, rows, WriteMode::Insert)
    }
    /// Replaces rows by primary key (or, with `partial`, merges the given fields into the stored row).
    pub fn upsert(&self, collection: &str, rows: Vec<Row>, partial: bool) -> Result<Vec<Pk>> {
        self.write_rows(collection, rows, WriteMode::Upsert { partial })
    }

    fn write_rows(&self, collection: &str, rows: Vec<Row>, mode: WriteMode) -> Result<Vec<Pk>> {
        self.write(|snap, b| {
            if rows.is_empty() {
                snap.collection(collection)?;
                return Ok((None, Vec::new()));
            }
            let (next, ids) = engine::plan_write(snap, b, collection, rows, mode)?;
            Ok((Some(next), ids))
        })
    }

    /// Deletes by primary key; returns how many rows existed and were deleted.
    pub fn delete_ids(&self, collection: &str, ids: &[Pk]) -> Result<u64> {
        self.delete(collection, Deletion::Ids(ids))
    }
    pub fn delete_filter<'f>(
        &self,
        collection: &str,
        filter: impl Into<Filter<'f>>,
    ) -> Result<u64> {
        let filter = filter.into();
        if filter.expr.trim().is_empty() {
            return Err(Error::invalid(
                "delete needs ids or a non-empty filter expression",
            ));
        }
        self.write(|snap, b| {
            let compiled = compile_filter(filter, snap.collection(collection)?.schema())?;
            let which = Deletion::Filter(compiled.as_deref());
            let (next, n) = engine::plan_delete(snap, b, collection, which)?;
            Ok(((n > 0).then_some(next), n))
        })
    }

    fn delete(&self, collection: &str, which: Deletion<'_>) -> Result<u64> {
        self.write(|snap, b| {
            let (next, n) = engine::plan_delete(snap, b, collection, which)?;
            Ok(((n > 0).then_some(next), n))
        })
    }

    // Reads, each from the generation current when it starts (`pin`).
    /// The current generation, held: reads through it see this generation until it is dropped,
    /// whatever is committed meanwhile (iterators keep one from first page to last).
    pub fn pin(&self) -> Result<Pinned> {
        Ok(Pinned::new(self.current()?))
    }
    /// Rows for these keys, in the order asked; missing keys are left out.
    pub fn get(&self, collection: &str, ids: &[Pk], output: &OutputFields) -> Result<Vec<Row>> {
        self.pin()?.get(collection, ids, output)
    }
    /// Rows matching `filter` in primary-key order, after `offset`, at most `limit`.
    pub fn query<'f>(
        &self,
        collection: &str,
        filter: impl Into<Filter<'f>>,
        output: &OutputFields,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<Vec<Row>> {
        self.pin()?.query(collection, filter, output, limit, offset)
    }
    pub fn count<'f>(&self, collection: &str, filter: impl Into<Filter<'f>>) -> Result<u64> {
        self.pin()?.count(collection, filter)
    }
    /// One list of hits per query vector, best first.
    pub fn search(&self, collection: &str, request: &SearchRequest) -> Result<Vec<Vec<Hit>>> {
        self.pin()?.search(collection, request)
    }
    /// Several searches on one generation, merged by a reranker: one list of hits per query vector.
    pub fn hybrid_search(
        &self,
        collection: &str,
        request: &HybridRequest,
    ) -> Result<Vec<Vec<Hit>>> {
        self.pin()?.hybrid_search(collection, request)
    }
}
