//! Following a db path from generation to generation. A `Follower` holds the newest generation it has
//! seen, mapped (its shared-memory segment, or the db file itself read-only) with its decoded catalog;
//! before each use it `stat`s the path, and when the file changed it maps the newer generation and lets
//! the old one go (detaching from its segment). It never goes back a generation. `Db` follows its path
//! through one; covecd follows each db it serves through one.
//!
//! Only opening waits for the segment's reference-file lock. A newer generation met while another
//! process holds that lock (loading, docs/protocol.md) is read from the db file meanwhile, and its
//! segment tried again on the next call; the old generation's slot is released without waiting.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::builder;
use crate::engine::{self, BuildNeed, Snapshot};
use crate::error::{Error, Result};
use crate::format::{Catalog, MetaSlot};
use crate::segment::{self, Attachment, Patience, ShmConfig};
use crate::store::CommittedImage;

/// How a db's generations are mapped: where segments live, whether to use them, whom to share them with.
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
    pub(crate) fn shm_config(&self) -> ShmConfig {
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
    /// The db file is mapped for now because another process held the segment's lock (loading) when
    /// this generation was met, or a build runs and leaves this generation's large load to its builder;
    /// the next call tries the segment again (docs/protocol.md, "Waiting for nobody").
    pub segment_pending: bool,
    /// The pid of the process that loaded this generation into the segment.
    pub loaded_by: Option<u32>,
    /// The generation's image length (its committed length in the db file; of it, a segment holds only
    /// the sections and catalog the generation uses).
    pub mapped_bytes: u64,
    /// What the generation uses: header, the sections its catalog names and the catalog (what a segment
    /// holds of it; `MetaSlot::live_bytes`).
    pub live_bytes: u64,
}

/// What a generation's bytes are mapped from.
enum Backing {
    /// The db file itself, mapped read-only ([0, committed_len)).
    File(memmap2::Mmap),
    /// The db file, until the generation's segment can be attached without waiting for a loader.
    Pending(memmap2::Mmap),
    /// The generation's shared-memory segment; dropping it detaches.
    Segment(Attachment),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::File(m) | Backing::Pending(m) => m,
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
pub(crate) struct Mapped {
    key: StatKey,
    backing: Backing,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) meta: MetaSlot,
    pub(crate) db_id: String,
}

impl Mapped {
    /// The newest committed generation at `path`, its segment attached if the reference file's lock
    /// comes within `patience` and (when the generation is not published) `may_load` allows the bytes
    /// its load writes (else the db file is mapped meanwhile: `Backing::Pending`). `held` is what the
    /// follower holds now: when the newest generation is the same one, its decoded catalog is reused,
    /// and if its segment is still pending it is returned itself.
    fn load(
        path: &Path,
        options: &OpenOptions,
        patience: Patience,
        may_load: &dyn Fn(u64) -> bool,
        held: Option<&Arc<Mapped>>,
    ) -> Result<Arc<Mapped>> {
        let key = stat_key(path)?;
        let image = CommittedImage::open(path)?;
        let (generation, commit_id) = (image.meta().generation, image.meta().commit_id);
        let same = held.filter(|h| {
            h.key.ino == key.ino && h.meta.generation == generation && h.meta.commit_id == commit_id
        });
        let backing = match options.use_segment {
            true => {
                match segment::try_attach(&options.shm_config(), &image, patience, may_load) {
                    Ok(Some(attachment)) => Backing::Segment(attachment),
                    Ok(None) => match same {
                        Some(h) => return Ok(Arc::clone(h)),
                        None => Backing::Pending(image.map()?),
                    },
                    // A file in the shm dir we must not trust (planted by another user under a name
                    // we need): this generation is read from the db file itself instead of failing.
                    Err(Error::Untrusted { .. }) => Backing::File(image.map()?),
                    Err(e) => return Err(e),
                }
            }
            false => Backing::File(image.map()?),
        };
        let (catalog, meta) = match same {
            Some(h) => (Arc::clone(&h.catalog), h.meta),
            None => {
                let snap = Snapshot::open_root(backing.bytes(), *image.meta(), path)?;
                (snap.shared_catalog(), *snap.meta())
            }
        };
        Ok(Arc::new(Mapped {
            key,
            backing,
            catalog,
            meta,
            db_id: image.db_id().to_string(),
        }))
    }

    pub(crate) fn snapshot(&self) -> Snapshot<'_> {
        Snapshot::with_catalog(self.backing.bytes(), Arc::clone(&self.catalog), self.meta)
    }

    /// Whether this is the newest generation for `key` as mapped for good (not pending a segment).
    fn settled(&self, key: &StatKey) -> bool {
        self.key == *key && !matches!(self.backing, Backing::Pending(_))
    }
}

/// The most a reader or writer copies into the segment while a build runs: what a commit of a batch of
/// rows adds (new parts, bitmaps, a catalog) is below it; a build's rewritten collection (240 MB at 100k
/// rows of 384 dimensions) is far above it, and is left to the builder.
const SMALL_LOAD: u64 = 16 << 20;

/// Why a follower moves to the newest generation, which decides how long it waits and whether it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    /// A call (a read, or a writer's publication after its commit): waits about 2 ms for the lock;
    /// while a build runs, loads `SMALL_LOAD` at most.
    Call,
    /// The builder committed it: waits for the lock and loads, however long.
    Build,
}

/// One db path, followed: see the module doc.
pub struct Follower {
    path: PathBuf,
    options: OpenOptions,
    current: RwLock<Arc<Mapped>>,
}

impl Follower {
    /// Maps the newest committed generation of the db file at `path` (which must exist).
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Follower> {
        Ok(Follower {
            path: path.to_path_buf(),
            options: options.clone(),
            // A process that holds no generation yet has nothing to serve while it waited: it waits.
            current: RwLock::new(Mapped::load(
                path,
                options,
                Patience::Wait,
                &|_| true,
                None,
            )?),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn options(&self) -> &OpenOptions {
        &self.options
    }

    /// The newest generation, remapped when the path's stat changed since the last call (or its
    /// segment was pending); waits for no loader.
    pub(crate) fn current(&self) -> Result<Arc<Mapped>> {
        self.follow(Move::Call)
    }

    /// Moves to the newest generation, attaching its segment even if that means waiting for the lock
    /// or loading it: for a thread no caller waits on (the builder, after committing a build).
    pub fn follow_loading(&self) -> Result<()> {
        self.follow(Move::Build).map(drop)
    }

    fn follow(&self, how: Move) -> Result<Arc<Mapped>> {
        let key = stat_key(&self.path)?;
        let held = {
            let cur = self.current.read().map_err(|_| poisoned())?;
            if cur.settled(&key) {
                return Ok(Arc::clone(&cur));
            }
            Arc::clone(&cur)
        };
        // A new generation gets the brief wait; a pending one is retried with a single try, so calls
        // during a long load cost no sleep each.
        let patience = match (how, held.key == key) {
            (Move::Build, _) => Patience::Wait,
            (_, false) => Patience::Briefly,
            (_, true) => Patience::None,
        };
        // A running builder publishes the generation of the build it committed (docs/ann.md, "The
        // builder publishes its generation"): a reader or writer leaves a load that large to it.
        let may_load = |bytes: u64| {
            how == Move::Build || bytes <= SMALL_LOAD || !builder::build_running(&self.path)
        };
        let fresh = Mapped::load(&self.path, &self.options, patience, &may_load, Some(&held))?;
        let mut cur = self.current.write().map_err(|_| poisoned())?;
        // Another thread may have loaded a newer one meanwhile; never go back a generation.
        if !Arc::ptr_eq(&fresh, &cur)
            && (fresh.meta.generation >= cur.meta.generation || fresh.key.ino != cur.key.ino)
        {
            if let Backing::Segment(old) = &cur.backing {
                old.detach_without_waiting();
            }
            *cur = Arc::clone(&fresh);
        }
        Ok(Arc::clone(&cur))
    }

    /// The generation held now, without looking at the path.
    pub(crate) fn held(&self) -> Result<Arc<Mapped>> {
        Ok(Arc::clone(&*self.current.read().map_err(|_| poisoned())?))
    }

    /// The collections (database, name) of the generation held now whose tail asks for a build
    /// (`engine::build_need`): what covecd builds.
    pub fn builds_wanted(&self) -> Result<Vec<(String, String)>> {
        let held = self.held()?;
        let mut wanted = Vec::new();
        for entry in &held.catalog.collections {
            if engine::build_need(entry)? != BuildNeed::Nothing {
                wanted.push((entry.db.clone(), entry.name.clone()));
            }
        }
        Ok(wanted)
    }

    /// Follows the path (as `current`) and describes the generation it holds then.
    pub fn status(&self) -> Result<DbStatus> {
        let cur = self.current()?;
        let (segment, loaded_by, mapped_bytes) = match &cur.backing {
            Backing::File(map) | Backing::Pending(map) => (None, None, map.len() as u64),
            Backing::Segment(a) => (
                Some(a.segment_name()),
                Some(a.loaded_by()),
                a.image().len() as u64,
            ),
        };
        Ok(DbStatus {
            path: self.path.clone(),
            generation: cur.meta.generation,
            segment,
            segment_pending: matches!(cur.backing, Backing::Pending(_)),
            loaded_by,
            mapped_bytes,
            live_bytes: cur.meta.live_bytes,
        })
    }
}

impl Drop for Follower {
    /// A closed db leaves no slot of this process behind: the releases it deferred are made now, with
    /// the wait that closing allows (the generation held now detaches, waiting too, right after).
    fn drop(&mut self) {
        if let Ok(cur) = self.current.get_mut() {
            let _ = segment::release_deferred_now(&self.options.shm_config(), &cur.db_id);
        }
    }
}

pub(crate) fn poisoned() -> Error {
    Error::Internal("a thread panicked while holding the db state lock".into())
}
