//! The background graph builder (docs/ann.md, "Growing graphs outside the writer's commit"): the build
//! lock `<db>.build` that elects one builder per db (docs/format.md, "The build lock"), and the thread a
//! committing process (or covecd) starts; the build itself (`index_pending`), which `flush` and a writer
//! past the tail bound run too; and the errors of background builds, kept for `build_error`.
//!
//! The thread holds only the db's path and the collection's names, never a `Db` or its maps: closing
//! every `Db` (Python's `close`) returns at once while it finishes its build from its own file handles,
//! and a process that exits kills it mid-build, which loses only build work, as a crash does.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Once, RwLock};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::engine::{self, BuildNeed, BuildScope, Scope, Snapshot};
use crate::error::{Error, Result};
use crate::format::{Catalog, MetaSlot};
use crate::store::{self, CommitBuilder, CommittedImage, Writer};

/// How many times a build runs outside the writer lock before it runs under it (each attempt is
/// dropped only when a commit meanwhile rewrote a part the build read).
const BUILD_ATTEMPTS: usize = 3;

/// Descriptors of build locks this process holds (-1: free). A forked child closes them at once
/// (`close_inherited`): `flock` belongs to the open file, so a child keeping one would hold the lock
/// after its parent released it.
static HELD: [AtomicI32; 64] = [const { AtomicI32::new(-1) }; 64];

/// In a child just forked: close the build locks the parent held (only `close`, which is
/// async-signal-safe).
extern "C" fn close_inherited() {
    for slot in &HELD {
        let fd = slot.swap(-1, Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: the fd is this process's copy of a descriptor the parent held; nothing in the
            // child uses it (its holder was another thread, which the child does not have).
            unsafe { libc::close(fd) };
        }
    }
}

/// `<db>.build`.
pub(crate) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".build");
    PathBuf::from(name)
}

/// Whether a build of the db runs (a process holds `<db>.build`; this one's builder thread counts): a
/// non-blocking shared `flock` probe, dropped at once. A builder starting at that instant finds the lock
/// taken and starts nothing, as when another build runs; the next commit past the threshold starts it.
pub(crate) fn build_running(db: &Path) -> bool {
    let Ok(file) = File::open(lock_path(db)) else {
        return false;
    };
    matches!(
        Flock::lock(file, FlockArg::LockSharedNonblock),
        Err((_, Errno::EWOULDBLOCK))
    )
}

/// An exclusive `flock` on `<db>.build`, held until dropped.
pub struct BuildLock {
    _lock: Flock<File>,
    slot: usize,
}

impl BuildLock {
    /// Waits until no other build of the db runs (`flush`, a writer past the tail bound).
    pub fn wait(db: &Path) -> Result<BuildLock> {
        BuildLock::take(db, FlockArg::LockExclusive)?
            .ok_or_else(|| Error::io(db, std::io::Error::other("build lock not taken")))
    }

    /// The lock if no other build of the db runs, else None (a builder then starts nothing).
    pub fn try_take(db: &Path) -> Result<Option<BuildLock>> {
        BuildLock::take(db, FlockArg::LockExclusiveNonblock)
    }

    fn take(db: &Path, how: FlockArg) -> Result<Option<BuildLock>> {
        static AT_FORK: Once = Once::new();
        AT_FORK.call_once(|| {
            // SAFETY: registers a child handler that only calls `close`.
            unsafe { libc::pthread_atfork(None, None, Some(close_inherited)) };
        });
        let path = lock_path(db);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let fd = file.as_raw_fd();
        let slot = HELD
            .iter()
            .position(|s| {
                s.compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            })
            .ok_or_else(|| Error::io(&path, std::io::Error::other("too many build locks held")))?;
        let locked = loop {
            match Flock::lock(file, how) {
                Ok(l) => break Ok(Some(l)),
                Err((f, Errno::EINTR)) => file = f,
                Err((_, Errno::EWOULDBLOCK)) => break Ok(None),
                Err((_, e)) => break Err(Error::io(&path, e.into())),
            }
        };
        match locked {
            Ok(Some(lock)) => Ok(Some(BuildLock { _lock: lock, slot })),
            other => {
                HELD[slot].store(-1, Ordering::SeqCst);
                other.map(|_| None)
            }
        }
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        // Cleared before the descriptor closes (the field drops after this), so a child forked in
        // between closes a descriptor its parent still holds, never another file's.
        HELD[self.slot].store(-1, Ordering::SeqCst);
    }
}

/// Called by a build between preparing its graph (no lock held) and taking the writer lock, with the
/// db's path: lets a test act while a build is known to be under way, and count a build's attempts (one
/// call each). An error it returns fails the build, as a failed write of the build would. Never set
/// outside tests.
pub type MidBuildHook = Box<dyn Fn(&Path) -> std::io::Result<()> + Send + Sync>;

static MID_BUILD: RwLock<Option<MidBuildHook>> = RwLock::new(None);

/// Called by a builder's compaction between its copy without the writer lock and taking the lock (tests
/// only, as `MidBuildHook`).
static MID_COMPACTION: RwLock<Option<MidBuildHook>> = RwLock::new(None);

/// Sets (or clears) the hook every build in this process calls mid-build (tests only).
pub fn set_mid_build_hook(hook: Option<MidBuildHook>) {
    set_hook(&MID_BUILD, hook);
}

/// Sets (or clears) the hook every builder's compaction in this process calls mid-compaction (tests
/// only).
pub fn set_mid_compaction_hook(hook: Option<MidBuildHook>) {
    set_hook(&MID_COMPACTION, hook);
}

fn set_hook(at: &RwLock<Option<MidBuildHook>>, hook: Option<MidBuildHook>) {
    if let Ok(mut h) = at.write() {
        *h = hook;
    }
}

fn call_hook(at: &RwLock<Option<MidBuildHook>>, db: &Path) -> std::io::Result<()> {
    match at.read() {
        Ok(h) => h.as_ref().map_or(Ok(()), |hook| hook(db)),
        Err(_) => Ok(()),
    }
}

pub(crate) fn mid_build(db: &Path) -> std::io::Result<()> {
    call_hook(&MID_BUILD, db)
}

/// A running builder thread: joins to the number of builds it committed, or the error that ended it.
pub type BuilderThread = std::thread::JoinHandle<Result<u64>>;

/// Starts a builder thread for the collection unless a build of the db runs already: None when
/// another builder (of any process) holds `<db>.build`. The lock is taken before the thread starts, so
/// the caller knows one runs when this returns. A writer after a commit that asks for a build
/// (`BuildNeed::Start`) and covecd (for every db it serves) both start builders through it. The thread
/// calls `publish` after each build (or compaction) it commits, so the caller can load the generation
/// into shared memory there, on the builder thread, rather than in a reader's search or a writer's commit.
pub fn start_builder(
    db: &Path,
    database: &str,
    collection: &str,
    publish: impl Fn() + Send + 'static,
) -> Result<Option<BuilderThread>> {
    spawn(
        db,
        Some((database.to_owned(), collection.to_owned())),
        publish,
    )
}

/// Starts a builder that only compacts the db file (after a commit that left `store::compaction_due`
/// and asked for no build), unless a builder of the db runs already, which compacts after its builds.
pub(crate) fn start_compaction(
    db: &Path,
    publish: impl Fn() + Send + 'static,
) -> Result<Option<BuilderThread>> {
    spawn(db, None, publish)
}

fn spawn(
    db: &Path,
    target: Option<(String, String)>,
    publish: impl Fn() + Send + 'static,
) -> Result<Option<BuilderThread>> {
    let Some(lock) = BuildLock::try_take(db)? else {
        return Ok(None);
    };
    let path = db.to_path_buf();
    std::thread::Builder::new()
        .name("covec-builder".into())
        .spawn(move || {
            let target = target.as_ref().map(|(d, c)| Scope::new(d, c));
            run(lock, &path, target, publish)
        })
        .map(Some)
        .map_err(|e| Error::io(db, e))
}

/// The builder: builds (the sealed parts first, `BuildScope::Sealed`) while the collection asks for
/// it; joins to the number of builds it committed. The lock is released before each check, so a
/// commit that found it taken (and started nothing) is seen by that check. An error ends it, and is
/// kept for the user too (`failed`: the writer that started it never joins it): what it built is
/// committed or dropped whole, and the next commit past a threshold (or flush) builds again.
fn run(
    mut lock: BuildLock,
    db: &Path,
    target: Option<Scope<'_>>,
    publish: impl Fn(),
) -> Result<u64> {
    let Some(target) = target else {
        if compact_if_due(db) {
            publish();
        }
        return Ok(0);
    };
    // Kept before the build lock is released, so whoever waits for the build finds it.
    let kept = |e: Error| {
        failed(db, target, &e);
        e
    };
    let mut built = 0;
    loop {
        let built_now = index_pending(db, target, BuildScope::Sealed).map_err(kept)?;
        // Every build leaves the indexed part it replaced dead. Compacted before the build's generation
        // is published, so readers copy the compacted file once instead of both.
        let compacted = compact_if_due(db);
        // Still holding `<db>.build`: readers that meet the build's generation meanwhile leave its load
        // to this thread (`build_running`) and read the db file until it is published.
        if built_now || compacted {
            publish();
        }
        if !built_now {
            return Ok(built);
        }
        built += 1;
        drop(lock);
        match need(db, target).map_err(kept)? {
            BuildNeed::Start | BuildNeed::Wait => {}
            BuildNeed::Nothing => return Ok(built),
        }
        lock = match BuildLock::try_take(db).map_err(kept)? {
            Some(l) => l,
            None => return Ok(built),
        };
    }
}

/// Compacts the db file if it is past `store::compaction_due` (the caller holds the build lock). A
/// compaction that fails changes nothing (the next commit past the threshold starts one again); it is
/// written to stderr, and fails no write and no build. Whether it compacted.
fn compact_if_due(db: &Path) -> bool {
    let mid = || call_hook(&MID_COMPACTION, db).map_err(|e| Error::io(db, e));
    match store::compact(db, true, mid) {
        Ok(compacted) => compacted.is_some(),
        Err(e) => {
            eprintln!(
                "covec: background compaction of {} failed (the file stays as it is; the next commit tries again): {e}",
                db.display()
            );
            false
        }
    }
}

/// A writer whose commit left the tail past `MAX_TAIL_ROWS` (its rows are durable already): returns once
/// the tail is back under it, after the build that runs (if that brings it under) or else after a build
/// of its own of the sealed parts, which leaves the unsealed remainder; whether it committed a build.
/// Only when that remainder is itself past the bound (writers that crossed it together, each adding a
/// part before any built) does it build the whole tail too.
pub(crate) fn wait_under_bound(db: &Path, target: Scope<'_>) -> Result<bool> {
    let _lock = BuildLock::wait(db)?;
    if need(db, target)? != BuildNeed::Wait {
        return Ok(false);
    }
    let sealed = index_pending(db, target, BuildScope::Sealed)?;
    if need(db, target)? != BuildNeed::Wait {
        return Ok(sealed);
    }
    Ok(index_pending(db, target, BuildScope::Tail)? || sealed)
}

type Failures = std::sync::Mutex<std::collections::HashMap<(PathBuf, String, String), String>>;

/// The last error of a background build, per (db path, database, collection), until a build of that
/// collection succeeds.
fn failures() -> &'static Failures {
    static FAILURES: std::sync::OnceLock<Failures> = std::sync::OnceLock::new();
    FAILURES.get_or_init(Default::default)
}

fn failure_key(db: &Path, target: Scope<'_>) -> (PathBuf, String, String) {
    (
        db.to_path_buf(),
        target.db.to_owned(),
        target.collection.to_owned(),
    )
}

/// A background build (the builder thread's, or a writer's past the bound) failed: no write fails for
/// it, since the rows it would index are committed and searched exactly. The error is written to
/// stderr and kept for `build_error`.
pub(crate) fn failed(db: &Path, target: Scope<'_>, error: &Error) {
    eprintln!(
        "covec: background index build of {}.{} in {} failed (its rows stay searchable, unindexed; the next write or flush builds again): {error}",
        target.db,
        target.collection,
        db.display()
    );
    if let Ok(mut f) = failures().lock() {
        f.insert(failure_key(db, target), error.to_string());
    }
}

/// The error of the last background build of the collection in this process, if it failed and no
/// build of it has succeeded since.
pub(crate) fn build_error(db: &Path, target: Scope<'_>) -> Option<String> {
    failures()
        .lock()
        .ok()?
        .get(&failure_key(db, target))
        .cloned()
}

/// What the newest committed generation's collection asks of the builder.
fn need(db: &Path, target: Scope<'_>) -> Result<BuildNeed> {
    let image = CommittedImage::open(db)?;
    let map = image.map()?;
    let snap = Snapshot::open_root(&map, *image.meta(), db)?;
    engine::build_need(snap.collection(target.db, target.collection)?.entry())
}

/// One durable commit on the db at `path`, as `Db::write` makes it; also the generation it committed,
/// if it did.
pub(crate) fn commit_at<T>(
    path: &Path,
    plan: impl FnOnce(&Snapshot<'_>, &mut CommitBuilder) -> Result<(Option<Catalog>, T)>,
) -> Result<(T, Option<MetaSlot>)> {
    let writer = Writer::lock(path)?;
    let mut builder = writer.builder();
    let (catalog, out) = {
        let snap = Snapshot::open_at(writer.image(), path)?;
        plan(&snap, &mut builder).map_err(|e| engine::on_file(e, path))?
    };
    let committed = match catalog {
        Some(catalog) => Some(writer.commit(builder, &catalog)?),
        None => None,
    };
    Ok((out, committed))
}

/// The build (`flush`'s, the builder thread's, a writer's past the bound): puts the target collection's
/// live rows outside its graphs that `scope` names into them, and rebuilds a graph past
/// `DELETED_PERCENT` % deletions, in one commit; whether it committed. The graph is built from the newest
/// generation without the writer lock, so other writers keep committing meanwhile; under the lock the
/// build is kept if the parts it read are still there (deletions made meanwhile carried over), else
/// built again, the last time under the lock. With `BuildScope::Sealed` it reads only parts no commit
/// merges, so only a compaction, a schema or index change, or another build makes it build again. The
/// caller holds the build lock (`<db>.build`).
pub(crate) fn index_pending(path: &Path, target: Scope<'_>, scope: BuildScope) -> Result<bool> {
    let built = build(path, target, scope)?;
    if let Ok(mut f) = failures().lock() {
        f.remove(&failure_key(path, target));
    }
    Ok(built)
}

fn build(path: &Path, target: Scope<'_>, scope: BuildScope) -> Result<bool> {
    for _ in 0..BUILD_ATTEMPTS {
        let image = store::CommittedImage::open(path)?;
        let map = image.map()?;
        let prepared = Snapshot::open_root(&map, *image.meta(), path)
            .and_then(|snap| engine::prepare_index_pending(&snap, target, scope))
            .map_err(|e| engine::on_file(e, path))?;
        let Some(build) = prepared else {
            return Ok(false);
        };
        // The part's bytes go into the file before the writer lock is taken for its commit, so writers
        // wait for neither their write nor their sync.
        let bytes = build.bytes()?;
        let reservation = Writer::lock(path)?.reserve(bytes.len() as u64)?;
        reservation.fill(bytes)?;
        mid_build(path).map_err(|e| Error::io(path, e))?;
        let writer = Writer::lock(path)?;
        let placed = writer.reserved_at(&reservation)?;
        let mut b = writer.builder();
        // Not kept (None, nothing committed) when a commit meanwhile rewrote a part the build read.
        let catalog = Snapshot::open_at(writer.image(), path)
            .and_then(|snap| engine::plan_take_build(&snap, &mut b, build, placed))
            .map_err(|e| engine::on_file(e, path))?;
        if let Some(catalog) = catalog {
            writer.commit(b, &catalog)?;
            return Ok(true);
        }
    }
    commit_at(path, |snap, b| {
        Ok((engine::plan_index_pending(snap, b, target, scope)?, ()))
    })
    .map(|(_, committed)| committed.is_some())
}
