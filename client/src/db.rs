//! `Db`: the handle a program (or the daemon, or the Python binding) holds on one db file.
//!
//! Reads go to the current generation's segment (or, with `use_segment = false`, to a read-only map of
//! the db file itself). Before every call the handle checks, with one `stat`, whether a newer generation
//! was committed; if so it attaches to it and detaches from the old one. Writes take the db's writer
//! lock, commit durably, and publish the new generation when other processes are reading.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use crate::engine::{self, Deletion, Hit, OutputFields, SearchRequest, Snapshot, WriteMode};
use crate::error::{Error, Result};
use crate::filter;
use crate::format::{Catalog, MetaSlot};
use crate::rowview::RowFilter;
use crate::schema::{CollectionSchema, IndexSpec};
use crate::segment::{self, Attachment, ShmConfig};
use crate::store::{self, CommitBuilder, CommittedImage, Writer};
use crate::value::{Pk, Row};

#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Where segments and reference files live; default `$COVEC_SHM_DIR` or `/dev/shm`.
    pub shm_dir: PathBuf,
    /// Map segments in shared memory (true), or map the db file itself read-only (false, the fallback for
    /// a small /dev/shm; also `COVEC_NO_SHM=1`).
    pub use_segment: bool,
    /// Give segments and reference files to this group (mode 0640/0660) instead of owner-only (0600).
    pub group: Option<u32>,
}

impl Default for OpenOptions {
    /// Segments in `$COVEC_SHM_DIR` (or /dev/shm), owner-only; `COVEC_NO_SHM=1` maps the db file instead.
    fn default() -> OpenOptions {
        OpenOptions {
            shm_dir: ShmConfig::from_env().dir,
            use_segment: std::env::var_os("COVEC_NO_SHM").is_none_or(|v| v != "1"),
            group: None,
        }
    }
}

impl OpenOptions {
    fn shm_config(&self) -> ShmConfig {
        ShmConfig {
            dir: self.shm_dir.clone(),
            group: self.group,
        }
    }
}

/// What `status` reports: enough to see which generation a process reads and where it lives.
#[derive(Debug, Clone)]
pub struct DbStatus {
    pub path: PathBuf,
    pub generation: u64,
    /// Segment name in the shm dir, or None when the db file is mapped directly.
    pub segment: Option<String>,
    /// The pid of the process that loaded the segment.
    pub loaded_by: Option<u32>,
    pub mapped_bytes: u64,
}

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

/// What a generation's bytes are mapped from.
enum Backing {
    /// The db file itself, mapped read-only ([0, committed_len)).
    File(memmap2::Mmap),
    /// The generation's shared-memory segment; dropping it detaches.
    Segment(Attachment),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::File(m) => m,
            Backing::Segment(a) => a.image(),
        }
    }
}

/// What `stat` says about the db path; any change may mean a new generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StatKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

fn stat_key(path: &Path) -> Result<StatKey> {
    let m = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok(StatKey {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    })
}

/// One mapped generation with its decoded catalog.
struct Mapped {
    key: StatKey,
    backing: Backing,
    catalog: Arc<Catalog>,
    meta: MetaSlot,
    db_id: String,
}

impl Mapped {
    fn load(path: &Path, options: &OpenOptions) -> Result<Mapped> {
        let key = stat_key(path)?;
        let image = CommittedImage::open(path)?;
        let backing = if options.use_segment {
            Backing::Segment(segment::attach(&options.shm_config(), &image)?)
        } else {
            Backing::File(image.map()?)
        };
        let snap = Snapshot::open_at(backing.bytes(), path)?;
        let (catalog, meta) = (snap.shared_catalog(), *snap.meta());
        Ok(Mapped {
            key,
            backing,
            catalog,
            meta,
            db_id: image.db_id().to_string(),
        })
    }

    fn snapshot(&self) -> Snapshot<'_> {
        Snapshot::with_catalog(self.backing.bytes(), Arc::clone(&self.catalog), self.meta)
    }
}

/// The state every `Db` of one canonical path shares within one process.
struct Inner {
    path: PathBuf,
    options: OpenOptions,
    pid: u32,
    current: RwLock<Arc<Mapped>>,
}

impl Inner {
    /// The newest generation, remapped when the path's stat changed since the last call.
    fn current(&self) -> Result<Arc<Mapped>> {
        let key = stat_key(&self.path)?;
        {
            let cur = self.current.read().map_err(|_| poisoned())?;
            if cur.key == key {
                return Ok(Arc::clone(&cur));
            }
        }
        let fresh = Arc::new(Mapped::load(&self.path, &self.options)?);
        let mut cur = self.current.write().map_err(|_| poisoned())?;
        // Another thread may have loaded a newer one meanwhile; never go back a generation.
        if fresh.meta.generation >= cur.meta.generation || fresh.key.ino != cur.key.ino {
            *cur = Arc::clone(&fresh);
        }
        Ok(Arc::clone(&cur))
    }
}

fn poisoned() -> Error {
    Error::Internal("a thread panicked while holding the db state lock".into())
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
        path: canonical.to_path_buf(),
        options: options.clone(),
        pid,
        current: RwLock::new(Arc::new(Mapped::load(canonical, options)?)),
    });
    reg.retain(|_, w| w.strong_count() > 0);
    reg.insert(canonical.to_path_buf(), Arc::downgrade(&inner));
    Ok(inner)
}

/// The compiled filter, or None when it accepts every row (so the engine can skip evaluating it).
fn compile_filter(filter: &str, schema: &CollectionSchema) -> Result<Option<Box<dyn RowFilter>>> {
    let predicate = filter::compile(filter, schema)?;
    Ok((!predicate.matches_everything()).then(|| Box::new(predicate) as Box<dyn RowFilter>))
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
            (inner.path.clone(), inner.options.clone())
        };
        let fresh = shared_inner(&path, &options)?;
        *self.inner.write().map_err(|_| poisoned())? = Arc::clone(&fresh);
        Ok(fresh)
    }

    fn current(&self) -> Result<Arc<Mapped>> {
        self.inner()?.current()
    }

    /// One durable commit: `plan` sees the newest generation under the writer lock and returns the
    /// next catalog (None: nothing to commit) and its result.
    fn write<T>(
        &self,
        plan: impl FnOnce(&Snapshot<'_>, &mut CommitBuilder) -> Result<(Option<Catalog>, T)>,
    ) -> Result<T> {
        let inner = self.inner()?;
        let writer = Writer::lock(&inner.path)?;
        let mut builder = writer.builder();
        let (catalog, out) = {
            let snap = Snapshot::open_at(writer.image(), &inner.path)?;
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
        if !inner.options.use_segment {
            return Ok(());
        }
        let db_id = inner.current.read().map_err(|_| poisoned())?.db_id.clone();
        let me = std::process::id();
        let readers = segment::status(&inner.options.shm_config())?
            .into_iter()
            .filter(|db| db.db_id == db_id)
            .any(|db| db.slots.iter().any(|slot| slot.pid != me));
        if readers {
            inner.current()?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn status(&self) -> Result<DbStatus> {
        let cur = self.current()?;
        let (segment, loaded_by, mapped_bytes) = match &cur.backing {
            Backing::File(map) => (None, None, map.len() as u64),
            Backing::Segment(a) => (
                Some(a.segment_name().to_string()),
                Some(a.loaded_by()),
                a.mapped_len(),
            ),
        };
        Ok(DbStatus {
            path: self.path.clone(),
            generation: cur.meta.generation,
            segment,
            loaded_by,
            mapped_bytes,
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
                cat.collection(name)
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
            .map(|c| c.name.clone())
            .collect())
    }
    pub fn has_collection(&self, name: &str) -> Result<bool> {
        Ok(self.current()?.catalog.collection(name).is_some())
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
    pub fn delete_filter(&self, collection: &str, filter: &str) -> Result<u64> {
        if filter.trim().is_empty() {
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

    // Reads, from the current generation.
    /// Rows for these keys, in the order asked; missing keys are left out.
    pub fn get(&self, collection: &str, ids: &[Pk], output: &OutputFields) -> Result<Vec<Row>> {
        let cur = self.current()?;
        let snap = cur.snapshot();
        snap.collection(collection)?.get(ids, output)
    }
    /// Rows matching `filter` in primary-key order, after `offset`, at most `limit`.
    pub fn query(
        &self,
        collection: &str,
        filter: &str,
        output: &OutputFields,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<Vec<Row>> {
        let cur = self.current()?;
        let snap = cur.snapshot();
        let view = snap.collection(collection)?;
        let f = compile_filter(filter, view.schema())?;
        view.query(f.as_deref(), output, limit, offset)
    }
    pub fn count(&self, collection: &str, filter: &str) -> Result<u64> {
        let cur = self.current()?;
        let snap = cur.snapshot();
        let view = snap.collection(collection)?;
        let f = compile_filter(filter, view.schema())?;
        Ok(view.count(f.as_deref()))
    }
    /// One list of hits per query vector, best first.
    pub fn search(&self, collection: &str, request: &SearchRequest) -> Result<Vec<Vec<Hit>>> {
        let cur = self.current()?;
        let snap = cur.snapshot();
        let view = snap.collection(collection)?;
        let f = compile_filter(&request.filter, view.schema())?;
        view.search(request, f.as_deref())
    }
}
