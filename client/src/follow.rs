//! Following a db path from generation to generation. A `Follower` holds the newest generation it has
//! seen, mapped (its shared-memory segment, or the db file itself read-only) with its decoded catalog;
//! before each use it `stat`s the path, and when the file changed it maps the newer generation and lets
//! the old one go (detaching from its segment). It never goes back a generation. `Db` follows its path
//! through one; covecd follows each db it serves through one.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::engine::{self, BuildNeed, Snapshot};
use crate::error::{Error, Result};
use crate::format::{Catalog, MetaSlot};
use crate::segment::{self, Attachment, ShmConfig};
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
pub(crate) struct Mapped {
    key: StatKey,
    backing: Backing,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) meta: MetaSlot,
    pub(crate) db_id: String,
}

impl Mapped {
    fn load(path: &Path, options: &OpenOptions) -> Result<Mapped> {
        let key = stat_key(path)?;
        let image = CommittedImage::open(path)?;
        let backing = match options.use_segment {
            true => match segment::attach(&options.shm_config(), &image) {
                Ok(attachment) => Backing::Segment(attachment),
                // A file in the shm dir we must not trust (planted by another user under a name we
                // need): this generation is read from the db file itself instead of failing.
                Err(Error::Untrusted { .. }) => Backing::File(image.map()?),
                Err(e) => return Err(e),
            },
            false => Backing::File(image.map()?),
        };
        let snap = Snapshot::open_root(backing.bytes(), *image.meta(), path)?;
        let (catalog, meta) = (snap.shared_catalog(), *snap.meta());
        Ok(Mapped {
            key,
            backing,
            catalog,
            meta,
            db_id: image.db_id().to_string(),
        })
    }

    pub(crate) fn snapshot(&self) -> Snapshot<'_> {
        Snapshot::with_catalog(self.backing.bytes(), Arc::clone(&self.catalog), self.meta)
    }
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
            current: RwLock::new(Arc::new(Mapped::load(path, options)?)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn options(&self) -> &OpenOptions {
        &self.options
    }

    /// The newest generation, remapped when the path's stat changed since the last call.
    pub(crate) fn current(&self) -> Result<Arc<Mapped>> {
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
            Backing::File(map) => (None, None, map.len() as u64),
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
            loaded_by,
            mapped_bytes,
            live_bytes: cur.meta.live_bytes,
        })
    }
}

pub(crate) fn poisoned() -> Error {
    Error::Internal("a thread panicked while holding the db state lock".into())
}
