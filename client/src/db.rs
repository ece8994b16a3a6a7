//! `Db`: the handle a program (or the Python binding) holds on one db file.
//!
//! Reads go to the current generation, which the handle's `Follower` (follow.rs) keeps mapped: before
//! every call one `stat` tells whether a newer generation was committed. Within a process, every `Db` of
//! one path shares one follower (a forked child makes its own). Writes take the db's writer lock, commit
//! durably, and publish the new generation when other processes are reading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use crate::builder::{self, BuildLock};
use crate::engine::{
    self, BuildNeed, BuildScope, CollectionView, Deletion, Hit, HybridRequest, NewCollection,
    OutputFields, Scope, SearchRequest, Snapshot, WriteMode,
};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::follow::{poisoned, DbStatus, Follower, Mapped, OpenOptions};
use crate::format::{Catalog, MetaSlot};
use crate::fulltext::{self, AnalyzerSource};
use crate::pin::{compile_filter, Pinned};
use crate::schema::{CollectionSchema, FieldSchema, IndexSpec, ScalarIndexSpec};
use crate::segment::{self, Patience};
use crate::store::{self, CommitBuilder, CommittedImage};
use crate::text::Token;
use crate::value::{Pk, Row};

/// A collection's description, as describe_collection shows it.
#[derive(Debug, Clone)]
pub struct CollectionInfo {
    /// Its database.
    pub db: String,
    /// Its own name (describing it through an alias gives the collection's).
    pub name: String,
    /// Milvus's collection id.
    pub id: u64,
    pub schema: CollectionSchema,
    pub indexes: Vec<IndexSpec>,
    /// Its scalar indexes (kept, not built).
    pub scalar_indexes: Vec<ScalarIndexSpec>,
    pub properties: Vec<(String, String)>,
    /// Its partitions' names: "_default" and the created ones, or a partition-key collection's buckets.
    pub partitions: Vec<String>,
    /// Its aliases, in creation order.
    pub aliases: Vec<String>,
    pub row_count: u64,
    /// Live rows not yet in the graph (searched exactly until `flush` or the builder indexes them).
    pub pending_index_rows: u64,
    /// Why the last background build of the collection in this process failed, until a build of it
    /// succeeds (`builder::failed`; describe_index shows it as state "Retry").
    pub build_error: Option<String>,
}

/// A database's description.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseInfo {
    pub name: String,
    pub id: u64,
    pub properties: Vec<(String, String)>,
}

/// The state every `Db` of one canonical path shares within one process.
struct Inner {
    follower: Follower,
    /// The process that created it: a forked child builds its own.
    pid: u32,
}

impl Inner {
    /// After a commit: when other processes are reading this db, load the new generation now, so that
    /// their next call finds it ready instead of one of them paying for the copy. (covecd does the same
    /// when it runs; whoever comes first loads, the other finds it published.) It waits for no loader:
    /// a reference-file lock held past `Patience::Briefly` is another process loading, and whoever next
    /// needs the generation loads what is left. The commit is durable already, so this never fails the
    /// write: what goes wrong here (a full /dev/shm, a planted reference file) is met and reported by
    /// the next call that reads.
    fn publish(&self) {
        if self.held_elsewhere(Patience::Briefly) {
            let _ = self.follower.current();
        }
    }

    /// For the builder thread after it committed a build: moves this process's follower to the build's
    /// generation, waiting for the lock and loading whatever it adds (however long), since no caller
    /// waits on it. Unlike `publish` it does not first ask whether other processes hold the db: readers
    /// that met the generation while the build ran read it from the db file and may hold no slot then,
    /// and whoever reads next, in this process or another, would load it anyway.
    fn publish_built(&self) {
        if self.follower.options().use_segment {
            let _ = self.follower.follow_loading();
        }
    }

    /// Whether another live process holds a generation of this db in shared memory.
    fn held_elsewhere(&self, patience: Patience) -> bool {
        let options = self.follower.options();
        options.use_segment
            && self.follower.held().is_ok_and(|held| {
                segment::held_elsewhere(&options.shm_config(), &held.db_id, patience)
                    .unwrap_or(false)
            })
    }
}

/// What a builder thread calls after it commits a build or a compaction (`Inner::publish_built`),
/// holding the handle weakly so that closing every `Db` is never delayed by it.
fn publisher(inner: &Arc<Inner>) -> impl Fn() + Send + 'static {
    let built = Arc::downgrade(inner);
    move || {
        if let Some(inner) = built.upgrade() {
            inner.publish_built();
        }
    }
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
    /// When the file is then past `store::compaction_due`, starts a builder that compacts it.
    fn write<T>(
        &self,
        plan: impl FnOnce(&Snapshot<'_>, &mut CommitBuilder) -> Result<(Option<Catalog>, T)>,
    ) -> Result<T> {
        let (out, committed) = self.commit(plan)?;
        if committed.as_ref().is_some_and(store::compaction_due) {
            let inner = self.inner()?;
            drop(builder::start_compaction(
                inner.follower.path(),
                publisher(&inner),
            ));
        }
        Ok(out)
    }

    /// One durable commit, published; the generation it committed, if it did.
    fn commit<T>(
        &self,
        plan: impl FnOnce(&Snapshot<'_>, &mut CommitBuilder) -> Result<(Option<Catalog>, T)>,
    ) -> Result<(T, Option<MetaSlot>)> {
        let inner = self.inner()?;
        let (out, committed) = builder::commit_at(inner.follower.path(), plan)?;
        if committed.is_some() {
            inner.publish();
        }
        Ok((out, committed))
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

    /// One commit of a change to the catalog alone.
    fn edit(&self, plan: impl FnOnce(&Catalog) -> Result<Catalog>) -> Result<()> {
        self.write(|snap, _| Ok((Some(plan(snap.catalog())?), ())))
    }

    /// A read of the current generation's catalog.
    fn read_catalog<T>(&self, read: impl FnOnce(&Catalog) -> Result<T>) -> Result<T> {
        read(&self.current()?.catalog)
    }

    /// A read of the target collection (whole, or confined to the target's partitions when `confine`),
    /// its errors naming the file.
    fn read_view<T>(
        &self,
        target: Scope<'_>,
        confine: bool,
        read: impl FnOnce(CollectionView<'_>) -> Result<T>,
    ) -> Result<T> {
        let inner = self.inner()?;
        let cur = inner.follower.current()?;
        let snap = cur.snapshot();
        let view = match confine {
            true => snap.scoped(target),
            false => snap.collection(target.db, target.collection),
        };
        view.and_then(read)
            .map_err(|e| engine::on_file(e, inner.follower.path()))
    }

    /// A read of the target collection, confined to its partitions.
    fn read_scoped<T>(
        &self,
        target: Scope<'_>,
        read: impl FnOnce(CollectionView<'_>) -> Result<T>,
    ) -> Result<T> {
        self.read_view(target, true, read)
    }

    // Databases. Every mutating call is one durable commit: when it returns, the change is on disk.
    pub fn create_database(&self, name: &str, properties: &[(String, String)]) -> Result<()> {
        self.edit(|cat| engine::plan_create_database(cat, name, properties))
    }
    /// Drops an empty database; "default" cannot be dropped.
    pub fn drop_database(&self, name: &str) -> Result<()> {
        self.edit(|cat| engine::plan_drop_database(cat, name))
    }
    /// Database names, sorted.
    pub fn list_databases(&self) -> Result<Vec<String>> {
        self.read_catalog(|cat| {
            let mut names: Vec<String> = cat.databases.iter().map(|d| d.name.clone()).collect();
            names.sort_unstable();
            Ok(names)
        })
    }
    pub fn describe_database(&self, name: &str) -> Result<DatabaseInfo> {
        self.read_catalog(|cat| {
            let db = cat
                .database(name)
                .ok_or_else(|| Error::invalid(format!("database '{name}' does not exist")))?;
            Ok(DatabaseInfo {
                name: db.name.clone(),
                id: db.id,
                properties: db.properties.clone(),
            })
        })
    }
    /// Sets the properties `set` and removes the keys `delete`.
    pub fn alter_database_properties(
        &self,
        name: &str,
        set: &[(String, String)],
        delete: &[String],
    ) -> Result<()> {
        self.edit(|cat| engine::plan_alter_database_properties(cat, name, set, delete))
    }

    // Collections.
    pub fn create_collection<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        schema: CollectionSchema,
        indexes: Vec<IndexSpec>,
    ) -> Result<()> {
        self.create_collection_with(target, NewCollection::new(schema, indexes))
    }
    /// create_collection with properties and a partition-key collection's number of partitions.
    pub fn create_collection_with<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        new: NewCollection,
    ) -> Result<()> {
        let t = target.into();
        self.edit(|cat| engine::plan_create_collection(cat, t.db, t.collection, new))
    }
    /// Dropping a missing collection is not an error (as in Milvus); one with aliases is not dropped.
    pub fn drop_collection<'a>(&self, target: impl Into<Scope<'a>>) -> Result<()> {
        let t = target.into();
        self.write(|snap, _| {
            Ok((
                engine::plan_drop_collection(snap.catalog(), t.db, t.collection)?,
                (),
            ))
        })
    }
    /// Renames `from` to `to` (into `to`'s database when it differs).
    pub fn rename_collection<'a, 'b>(
        &self,
        from: impl Into<Scope<'a>>,
        to: impl Into<Scope<'b>>,
    ) -> Result<()> {
        let (from, to) = (from.into(), to.into());
        self.edit(|cat| engine::plan_rename_collection(cat, from, to))
    }
    /// The collections of database `db`, sorted by name.
    pub fn list_collections(&self, db: &str) -> Result<Vec<String>> {
        self.read_catalog(|cat| {
            engine::database(cat, db)?;
            let mut names: Vec<String> = cat
                .collections
                .iter()
                .filter(|c| c.db == db)
                .map(|c| c.name.clone())
                .collect();
            names.sort_unstable();
            Ok(names)
        })
    }
    /// Whether the target names a collection (or an alias of one).
    pub fn has_collection<'a>(&self, target: impl Into<Scope<'a>>) -> Result<bool> {
        let t = target.into();
        self.read_catalog(|cat| {
            engine::database(cat, t.db)?;
            Ok(cat.resolve(t.db, t.collection).is_some())
        })
    }
    pub fn describe_collection<'a>(&self, target: impl Into<Scope<'a>>) -> Result<CollectionInfo> {
        let t = target.into();
        let inner = self.inner()?;
        let cur = inner.follower.current()?;
        let snap = cur.snapshot();
        let on_file = |e| engine::on_file(e, inner.follower.path());
        let view = snap.collection(t.db, t.collection).map_err(on_file)?;
        let entry = view.entry();
        let pending_index_rows = view.pending_index_rows().map_err(on_file)?;
        Ok(CollectionInfo {
            db: entry.db.clone(),
            name: entry.name.clone(),
            id: entry.id,
            schema: entry.schema.clone(),
            indexes: entry.indexes.clone(),
            scalar_indexes: entry.scalar_indexes.clone(),
            properties: entry.properties.clone(),
            partitions: entry.partitions.iter().map(|p| p.name.clone()).collect(),
            aliases: snap
                .catalog()
                .aliases_of(entry.id)
                .map(String::from)
                .collect(),
            row_count: view.row_count(),
            pending_index_rows,
            build_error: builder::build_error(
                inner.follower.path(),
                Scope::new(&entry.db, &entry.name),
            ),
        })
    }
    /// The primary key's name: cheaper than `describe_collection` for calls that need only it.
    pub fn primary_field<'a>(&self, target: impl Into<Scope<'a>>) -> Result<String> {
        self.pin()?.primary_field(target)
    }
    /// Empties the collection, keeping its schema, indexes, partitions, aliases and properties.
    pub fn truncate_collection<'a>(&self, target: impl Into<Scope<'a>>) -> Result<()> {
        let t = target.into();
        self.edit(|cat| engine::plan_truncate(cat, t))
    }
    /// Sets the properties `set` and removes the keys `delete`.
    pub fn alter_collection_properties<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        set: &[(String, String)],
        delete: &[String],
    ) -> Result<()> {
        let t = target.into();
        self.edit(|cat| {
            engine::plan_alter_collection_properties(cat, t.db, t.collection, set, delete)
        })
    }
    /// Adds a (nullable) field; rows written before read as its default, else null.
    pub fn add_collection_field<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        field: FieldSchema,
    ) -> Result<()> {
        let t = target.into();
        self.edit(|cat| engine::plan_add_field(cat, t.db, t.collection, field))
    }
    /// Changes a field's `max_length`, `max_capacity` or `mmap.enabled` (values JSON text).
    pub fn alter_collection_field<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        field: &str,
        params: &[(String, String)],
    ) -> Result<()> {
        let t = target.into();
        self.edit(|cat| engine::plan_alter_field(cat, t.db, t.collection, field, params))
    }
    /// Rewrites the collection without what deletes, upserts and dropped partitions left, then the db
    /// file without what it no longer references. Returns the generation that holds the result (a
    /// compaction's job id: `compaction_done` answers for it).
    pub fn compact<'a>(&self, target: impl Into<Scope<'a>>) -> Result<u64> {
        let t = target.into();
        self.write(|snap, b| Ok((engine::plan_compact(snap, b, t)?, ())))?;
        let inner = self.inner()?;
        let path = inner.follower.path();
        // Waits for a build (or a background compaction) that runs; compactions run only under it.
        let meta = {
            let _build = BuildLock::wait(path)?;
            match store::compact(path, false, || Ok(()))? {
                Some(compacted) => compacted,
                None => *CommittedImage::open(path)?.meta(),
            }
        };
        inner.publish();
        Ok(meta.generation)
    }
    /// Whether the compaction that returned `job` is complete (every compaction completes before
    /// `compact` returns; a job id no compaction returned is not).
    pub fn compaction_done(&self, job: u64) -> Result<bool> {
        Ok(job <= self.current()?.meta.generation)
    }

    // Aliases.
    pub fn create_alias<'a>(&self, target: impl Into<Scope<'a>>, alias: &str) -> Result<()> {
        let t = target.into();
        self.edit(|cat| engine::plan_create_alias(cat, t.db, t.collection, alias))
    }
    /// Points an existing alias at the target collection.
    pub fn alter_alias<'a>(&self, target: impl Into<Scope<'a>>, alias: &str) -> Result<()> {
        let t = target.into();
        self.edit(|cat| engine::plan_alter_alias(cat, t.db, t.collection, alias))
    }
    pub fn drop_alias(&self, db: &str, alias: &str) -> Result<()> {
        self.edit(|cat| engine::plan_drop_alias(cat, db, alias))
    }
    /// The name of the collection the alias points at.
    pub fn describe_alias(&self, db: &str, alias: &str) -> Result<String> {
        self.read_catalog(|cat| engine::alias_target(cat, db, alias).map(String::from))
    }
    /// The aliases of database `db` (of one collection when `collection` names one), sorted.
    pub fn list_aliases(&self, db: &str, collection: Option<&str>) -> Result<Vec<String>> {
        self.read_catalog(|cat| engine::list_aliases(cat, db, collection))
    }

    // Partitions.
    pub fn create_partition<'a>(&self, target: impl Into<Scope<'a>>, name: &str) -> Result<()> {
        let t = target.into();
        self.edit(|cat| engine::plan_create_partition(cat, t.db, t.collection, name))
    }
    /// Drops a partition and the rows in it.
    pub fn drop_partition<'a>(&self, target: impl Into<Scope<'a>>, name: &str) -> Result<()> {
        let t = target.into();
        self.write_collection(t, |snap, b| {
            Ok((Some(engine::plan_drop_partition(snap, b, t, name)?), ()))
        })
    }
    /// The collection's partitions: "_default" first, then the created ones in creation order (a
    /// partition-key collection's buckets in bucket order).
    pub fn list_partitions<'a>(&self, target: impl Into<Scope<'a>>) -> Result<Vec<String>> {
        Ok(self.describe_collection(target)?.partitions)
    }
    /// Live rows of one partition (get_partition_stats; a partition-key collection's buckets too).
    pub fn partition_row_count<'a>(&self, target: impl Into<Scope<'a>>, name: &str) -> Result<u64> {
        self.read_view(target.into(), false, |view| {
            view.confined(&[name.to_string()])?.count(None)
        })
    }
    pub fn has_partition<'a>(&self, target: impl Into<Scope<'a>>, name: &str) -> Result<bool> {
        Ok(self.list_partitions(target)?.iter().any(|p| p == name))
    }

    // Indexes.
    pub fn create_index<'a>(&self, target: impl Into<Scope<'a>>, spec: IndexSpec) -> Result<()> {
        let t = target.into();
        self.write(|snap, b| {
            let next = engine::plan_create_index(snap, b, t, spec)?;
            Ok((Some(next), ()))
        })
    }
    /// Keeps a scalar index (described, listed, dropped); covec builds nothing for it.
    pub fn create_scalar_index<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        spec: ScalarIndexSpec,
    ) -> Result<()> {
        let t = target.into();
        self.edit(|cat| engine::plan_create_scalar_index(cat, t, spec))
    }
    /// Puts the rows written since the graph was last grown into it (one commit; none when nothing is
    /// pending). Every write is already durable; this is what makes it fully indexed, as Milvus's flush.
    /// It first waits for a build of the db that runs (`<db>.build`), then builds what is left
    /// (`builder::index_pending`). Rows committed while it builds may stay pending.
    pub fn flush<'a>(&self, target: impl Into<Scope<'a>>) -> Result<()> {
        let inner = self.inner()?;
        let path = inner.follower.path();
        let _building = BuildLock::wait(path)?;
        if builder::index_pending(path, target.into(), BuildScope::Tail)? {
            inner.publish();
        }
        Ok(())
    }
    pub fn drop_index<'a>(&self, target: impl Into<Scope<'a>>, index_name: &str) -> Result<()> {
        let t = target.into();
        self.edit(|cat| engine::plan_drop_index(cat, t, index_name))
    }

    // Rows.
    /// Inserts rows (last write wins on a duplicate primary key) into the target's one partition, else
    /// "_default" or where the partition key sends each; returns their primary keys in order.
    pub fn insert<'a>(&self, target: impl Into<Scope<'a>>, rows: Vec<Row>) -> Result<Vec<Pk>> {
        self.write_rows(target.into(), rows, WriteMode::Insert)
    }
    /// Replaces rows by primary key (or, with `partial`, merges the given fields into the stored row).
    pub fn upsert<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        rows: Vec<Row>,
        partial: bool,
    ) -> Result<Vec<Pk>> {
        self.write_rows(target.into(), rows, WriteMode::Upsert { partial })
    }

    /// A write of rows (`write_collection`).
    fn write_rows(&self, target: Scope<'_>, rows: Vec<Row>, mode: WriteMode) -> Result<Vec<Pk>> {
        self.write_collection(target, |snap, b| {
            if rows.is_empty() {
                snap.scoped(target)?;
                return Ok((None, Vec::new()));
            }
            let (next, ids) = engine::plan_write(snap, b, target, rows, mode)?;
            Ok((Some(next), ids))
        })
    }

    /// A commit that writes or deletes rows of the target collection; then, when the collection asks
    /// for it (`engine::build_need`), starts a builder, or (past `MAX_TAIL_ROWS`) waits until a build
    /// brings the tail back under it (`builder::wait_under_bound`), so no write returns leaving more
    /// rows than that unindexed unless that build failed. The commit is durable before any build: a
    /// build that fails is reported as the builder's are (`builder::failed`), never as this write's
    /// error.
    fn write_collection<T>(
        &self,
        target: Scope<'_>,
        plan: impl FnOnce(&Snapshot<'_>, &mut CommitBuilder) -> Result<(Option<Catalog>, T)>,
    ) -> Result<T> {
        let (out, committed) = self.commit(|snap, b| {
            let (next, out) = plan(snap, b)?;
            let need = match &next {
                Some(next) => {
                    let entry = engine::entry(next, target.db, target.collection)?;
                    let need = engine::build_need(entry)?;
                    Some((need, entry.db.clone(), entry.name.clone()))
                }
                None => None,
            };
            Ok((next, (out, need)))
        })?;
        let (out, need) = out;
        let Some((need, db, collection)) = need else {
            return Ok(out);
        };
        let inner = self.inner()?;
        let path = inner.follower.path();
        let scope = Scope::new(&db, &collection);
        // The builder compacts after its builds; without one, a compaction due starts a builder that
        // only compacts. Threads are not joined (`close` returns while they run); one that cannot start
        // leaves its work to the next commit or flush, as a crash would.
        let compaction_due = committed.as_ref().is_some_and(store::compaction_due);
        match need {
            BuildNeed::Nothing if compaction_due => {
                drop(builder::start_compaction(path, publisher(&inner)))
            }
            BuildNeed::Nothing => {}
            BuildNeed::Start => {
                let publish = publisher(&inner);
                drop(builder::start_builder(path, &db, &collection, publish));
            }
            BuildNeed::Wait => {
                match builder::wait_under_bound(path, scope) {
                    Ok(true) => inner.publish(),
                    Ok(false) => {}
                    Err(e) => builder::failed(path, scope, &e),
                }
                // Its builds may have left the file past the threshold too.
                drop(builder::start_compaction(path, publisher(&inner)));
            }
        }
        Ok(out)
    }

    /// Deletes by primary key (in the target's partitions); returns how many rows existed and were
    /// deleted.
    pub fn delete_ids<'a>(&self, target: impl Into<Scope<'a>>, ids: &[Pk]) -> Result<u64> {
        self.delete(target.into(), Deletion::Ids(ids))
    }
    pub fn delete_filter<'a, 'f>(
        &self,
        target: impl Into<Scope<'a>>,
        filter: impl Into<Filter<'f>>,
    ) -> Result<u64> {
        let filter = filter.into();
        if filter.expr.trim().is_empty() {
            return Err(Error::invalid(
                "delete needs ids or a non-empty filter expression",
            ));
        }
        let t = target.into();
        self.write_collection(t, |snap, b| {
            let compiled = compile_filter(filter, &snap.scoped(t)?)?;
            let which = Deletion::Filter(compiled.as_deref());
            let (next, n) = engine::plan_delete(snap, b, t, which)?;
            Ok(((n > 0).then_some(next), n))
        })
    }

    fn delete(&self, target: Scope<'_>, which: Deletion<'_>) -> Result<u64> {
        self.write_collection(target, |snap, b| {
            let (next, n) = engine::plan_delete(snap, b, target, which)?;
            Ok(((n > 0).then_some(next), n))
        })
    }

    // Reads, each from the generation current when it starts (`pin`), confined to the target's
    // partitions.
    /// The current generation, held: reads through it see this generation until it is dropped,
    /// whatever is committed meanwhile (iterators keep one from first page to last).
    pub fn pin(&self) -> Result<Pinned> {
        let inner = self.inner()?;
        let mapped = inner.follower.current()?;
        Ok(Pinned::new(mapped, inner.follower.path().to_path_buf()))
    }
    /// Rows for these keys, in the order asked; missing keys are left out.
    pub fn get<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        ids: &[Pk],
        output: &OutputFields,
    ) -> Result<Vec<Row>> {
        self.pin()?.get(target, ids, output)
    }
    /// Rows matching `filter` in primary-key order, after `offset`, at most `limit`.
    pub fn query<'a, 'f>(
        &self,
        target: impl Into<Scope<'a>>,
        filter: impl Into<Filter<'f>>,
        output: &OutputFields,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<Vec<Row>> {
        self.pin()?.query(target, filter, output, limit, offset)
    }
    pub fn count<'a, 'f>(
        &self,
        target: impl Into<Scope<'a>>,
        filter: impl Into<Filter<'f>>,
    ) -> Result<u64> {
        self.pin()?.count(target, filter)
    }
    /// `run_analyzer`: each text's tokens, by `analyzer_params` or by a collection field's analyzer
    /// (`analyzer_names` for a field with `multi_analyzer_params`).
    pub fn run_analyzer(
        &self,
        texts: &[String],
        analyzer_params: Option<&str>,
        field: Option<(Scope<'_>, &str)>,
        analyzer_names: &[String],
    ) -> Result<Vec<Vec<Token>>> {
        let Some((target, field)) = field else {
            return fulltext::run_analyzer(texts, AnalyzerSource::Params(analyzer_params));
        };
        self.read_scoped(target, |view| {
            let source = AnalyzerSource::Field {
                schema: view.schema(),
                field,
                analyzer_names,
            };
            fulltext::run_analyzer(texts, source)
        })
    }

    /// One list of hits per query vector, best first.
    pub fn search<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        request: &SearchRequest,
    ) -> Result<Vec<Vec<Hit>>> {
        self.pin()?.search(target, request)
    }
    /// Several searches on one generation, merged by a reranker: one list of hits per query vector.
    pub fn hybrid_search<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        request: &HybridRequest,
    ) -> Result<Vec<Vec<Hit>>> {
        self.pin()?.hybrid_search(target, request)
    }
}
