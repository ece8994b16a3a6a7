//! The segment protocol with real db files, real segment files and real processes. Each test uses its
//! own directory as the shm dir and ends by checking that no covec file is left in it. Generations come
//! from db files written by `Db` (without segments), read through `CommittedImage`, and every check
//! of what a segment holds opens the generation from it and verifies every section's checksum. Child
//! processes are this test binary run again with COVEC_SEG_CHILD set (see `child_entry`).

use std::cell::Cell;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod shm_util;
mod storage_util;

use covec::internals::engine::Snapshot;
use covec::internals::format::{Catalog, MetaSlot};
use covec::internals::segment::{attach, status, sweep, Attachment, ImageSource, ShmConfig};
use covec::internals::store::CommittedImage;
use covec::{Db, Error};
use shm_util::{child_command, covec_files, kill9};
use storage_util::{options, simple_row, simple_schema};

/// A generation of a db file as the loader sees it, counting loads (each load asks for the catalog
/// once) in a file, and optionally stalling once `stall_after` bytes were read (a loader to kill
/// mid-copy).
struct Source {
    image: CommittedImage,
    counter: PathBuf,
    stall_after: Option<u64>,
    read: Cell<u64>,
}

impl Source {
    fn new(db: &Path, counter: &Path) -> Source {
        Source {
            image: CommittedImage::open(db).unwrap(),
            counter: counter.to_path_buf(),
            stall_after: None,
            read: Cell::new(0),
        }
    }
}

impl ImageSource for Source {
    fn db_id(&self) -> &str {
        self.image.db_id()
    }
    fn meta(&self) -> &MetaSlot {
        self.image.meta()
    }
    fn catalog(&self) -> covec::Result<&Catalog> {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.counter)
            .map_err(|e| Error::io(&self.counter, e))?;
        f.write_all(b"L").map_err(|e| Error::io(&self.counter, e))?;
        self.image.catalog()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> covec::Result<()> {
        self.image.read_at(offset, buf)?;
        let read = self.read.get() + buf.len() as u64;
        self.read.set(read);
        if self.stall_after.is_some_and(|n| read >= n) {
            println!("STALLED");
            std::io::stdout().flush().unwrap();
            std::thread::sleep(Duration::from_secs(600));
        }
        Ok(())
    }
}

/// A fresh directory set: `shm` plays /dev/shm, `aux` holds the tests' own signal files and dbs.
struct Dirs {
    root: PathBuf,
    shm: PathBuf,
    aux: PathBuf,
}

impl Dirs {
    fn new(name: &str) -> Dirs {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "covec-segtest-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let (shm, aux) = (root.join("shm"), root.join("aux"));
        fs::create_dir_all(&shm).unwrap();
        fs::create_dir_all(&aux).unwrap();
        Dirs { root, shm, aux }
    }

    fn cfg(&self) -> ShmConfig {
        ShmConfig {
            dir: self.shm.clone(),
            group: None,
        }
    }

    fn db(&self) -> PathBuf {
        self.aux.join("db.covec")
    }

    fn source(&self) -> Source {
        Source::new(&self.db(), &self.aux.join("loads"))
    }

    fn covec_files(&self) -> Vec<String> {
        covec_files(&self.shm)
    }

    fn segments(&self) -> Vec<String> {
        self.covec_files()
            .into_iter()
            .filter(|f| f.contains(".seg."))
            .collect()
    }

    /// Memory the segment takes (tmpfs pages, or the test fs's blocks).
    fn allocated(&self, segment: &str) -> u64 {
        fs::metadata(self.shm.join(segment)).unwrap().blocks() * 512
    }

    fn assert_clean(&self) {
        assert_eq!(
            self.covec_files(),
            Vec::<String>::new(),
            "covec files left behind"
        );
    }

    fn loads(&self) -> usize {
        fs::read(self.aux.join("loads")).map_or(0, |b| b.len())
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Writes `n` rows (ids from `first`) of 64-dim vectors in one commit, creating the collection first.
fn commit_rows(db_path: &Path, first: i64, n: i64) {
    let db = Db::open(db_path, &options()).unwrap();
    if !db.has_collection("c").unwrap() {
        db.create_collection("c", simple_schema(64), vec![])
            .unwrap();
    }
    let rows = (first..first + n)
        .map(|i| simple_row(i, [i as f32; 64], "row"))
        .collect();
    db.insert("c", rows).unwrap();
}

/// The attached generation opened from the segment, every section's checksum verified; its row count.
fn verified_rows(a: &Attachment) -> u64 {
    let snap = Snapshot::open_root(a.image(), *a.meta(), Path::new("<segment>")).unwrap();
    snap.verify(Path::new("<segment>")).unwrap();
    snap.collection("default", "c").map_or(0, |c| c.row_count())
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

// ---- child processes ----

/// Runs only as a child: attaches the db's newest generation (after `go` exists; stalling mid-copy in
/// mode "stall"), reports its segment and row count, holds until `release` exists (never, for a child
/// that will be killed), then drops the attachment.
#[test]
fn child_entry() {
    let Ok(mode) = std::env::var("COVEC_SEG_CHILD") else {
        return;
    };
    let var = |k: &str| PathBuf::from(std::env::var_os(k).unwrap());
    let cfg = ShmConfig {
        dir: var("COVEC_SEG_SHM"),
        group: None,
    };
    let aux = var("COVEC_SEG_AUX");
    wait_for("go", || aux.join("go").exists());
    let mut src = Source::new(&aux.join("db.covec"), &aux.join("loads"));
    if mode == "stall" {
        src.stall_after = Some(1);
    }
    let a = attach(&cfg, &src).unwrap();
    println!("ATTACHED {} {}", a.segment_name(), verified_rows(&a));
    std::io::stdout().flush().unwrap();
    wait_for("release", || aux.join("release").exists());
    drop(a);
}

fn spawn_child(d: &Dirs, mode: &str) -> Child {
    child_command()
        .env("COVEC_SEG_CHILD", mode)
        .env("COVEC_SEG_SHM", &d.shm)
        .env("COVEC_SEG_AUX", &d.aux)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the child's stdout up to its first line starting with `word` and returns the rest of it.
fn child_says(child: &mut Child, word: &str) -> String {
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    loop {
        let line = lines.next().expect("child exited early").unwrap();
        if let Some(rest) = line.strip_prefix(word) {
            // Keep draining, so the child's later output never meets a closed pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return rest.trim().to_string();
        }
    }
}

fn live_slots(cfg: &ShmConfig) -> Vec<(u32, u64, u64)> {
    status(cfg)
        .unwrap()
        .into_iter()
        .flat_map(|db| db.slots)
        .map(|s| (s.pid, s.generation, s.count))
        .collect()
}

// ---- tests ----

#[test]
fn last_detach_unlinks_segment_and_ref_file() {
    let d = Dirs::new("last");
    commit_rows(&d.db(), 0, 100);
    let src = d.source();
    let a = attach(&d.cfg(), &src).unwrap();
    let b = attach(&d.cfg(), &src).unwrap();
    assert_eq!(d.loads(), 1, "the second attach must reuse the segment");
    assert_eq!(verified_rows(&a), 100);
    assert_eq!(a.image().as_ptr(), b.image().as_ptr(), "one mapping");
    assert_eq!(a.image().as_ptr() as usize % 4096, 0);
    assert_eq!(a.generation(), src.meta().generation);
    assert_eq!(d.segments(), vec![a.segment_name()]);
    let me = std::process::id();
    assert_eq!(live_slots(&d.cfg()), vec![(me, a.generation(), 2)]);
    let st = status(&d.cfg()).unwrap();
    assert_eq!(st[0].segments[0].generations, vec![a.generation()]);

    drop(a);
    assert_eq!(live_slots(&d.cfg()), vec![(me, b.generation(), 1)]);
    assert_eq!(d.segments().len(), 1, "one holder left");
    b.detach().unwrap();
    d.assert_clean();
}

/// The heart of segments that grow: a one-row commit on a 5 MB db is appended to the segment the
/// readers map (a few pages, not a copy), and once the old generation's last holder moves on, the
/// pages only it used are given back.
#[test]
fn a_small_commit_is_appended_and_the_old_generations_dead_pages_are_given_back() {
    let d = Dirs::new("append");
    commit_rows(&d.db(), 0, 20_000);
    let src1 = d.source();
    let g1 = attach(&d.cfg(), &src1).unwrap();
    let segment = g1.segment_name();
    let after_first = d.allocated(&segment);
    assert!(after_first >= 20_000 * 256, "{after_first}");

    commit_rows(&d.db(), 20_000, 1);
    let src2 = d.source();
    let g2 = attach(&d.cfg(), &src2).unwrap();
    assert_eq!(g2.segment_name(), segment, "appended to the same segment");
    assert_eq!(
        g2.image().as_ptr(),
        g1.image().as_ptr(),
        "and read through the same mapping"
    );
    let grown = d.allocated(&segment) - after_first;
    assert!(grown < 64 << 10, "a one-row commit wrote {grown} bytes");
    assert_eq!(
        verified_rows(&g1),
        20_000,
        "the old generation reads as before"
    );
    assert_eq!(verified_rows(&g2), 20_001);
    assert_eq!(
        status(&d.cfg()).unwrap()[0].segments[0].generations,
        vec![g1.generation(), g2.generation()]
    );

    // A big commit merges nothing big (parts double), but rewrites the newest parts: more dead bytes.
    commit_rows(&d.db(), 20_001, 10_000);
    let g3 = attach(&d.cfg(), &d.source()).unwrap();
    assert_eq!(g3.segment_name(), segment);
    drop(g1);
    drop(g2);
    let live = g3.meta().committed_len; // an upper bound of what g3 uses
    let used = Snapshot::open_root(g3.image(), *g3.meta(), Path::new("<s>"))
        .unwrap()
        .meta()
        .live_bytes;
    let allocated = d.allocated(&segment);
    assert!(
        allocated <= used + 64 * 4096,
        "{allocated} bytes allocated for {used} live ({live} in the file's range)"
    );
    assert_eq!(verified_rows(&g3), 30_001);
    drop(g3);
    d.assert_clean();
}

#[test]
fn sixteen_processes_starting_together_load_once_and_see_the_same_bytes() {
    let d = Dirs::new("sixteen");
    commit_rows(&d.db(), 0, 3000);
    let mut children: Vec<Child> = (0..16).map(|_| spawn_child(&d, "hold")).collect();
    fs::write(d.aux.join("go"), b"").unwrap();
    let seen: Vec<String> = children
        .iter_mut()
        .map(|c| child_says(c, "ATTACHED"))
        .collect();
    assert_eq!(d.loads(), 1, "exactly one process loads");
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
    assert!(seen[0].ends_with(" 3000"), "{seen:?}");
    let slots = live_slots(&d.cfg());
    assert_eq!(slots.len(), 16);
    fs::write(d.aux.join("release"), b"").unwrap();
    for c in &mut children {
        assert!(c.wait().unwrap().success());
    }
    d.assert_clean();
}

#[test]
fn killed_reader_is_swept_and_segment_lives_until_last_live_reader_leaves() {
    let d = Dirs::new("killread");
    commit_rows(&d.db(), 0, 3000);
    let src = d.source();
    let mut child = spawn_child(&d, "hold");
    fs::write(d.aux.join("go"), b"").unwrap();
    child_says(&mut child, "ATTACHED");
    let mine = attach(&d.cfg(), &src).unwrap();
    kill9(&mut child);
    assert_eq!(live_slots(&d.cfg()).len(), 1, "status hides the dead slot");

    // The next attach sweeps the dead slot; the segment stays while we hold it.
    let again = attach(&d.cfg(), &src).unwrap();
    let g = mine.generation();
    assert_eq!(live_slots(&d.cfg()), vec![(std::process::id(), g, 2)]);
    drop(again);
    assert_eq!(d.segments().len(), 1);
    drop(mine);
    d.assert_clean();

    // Killed last: nobody detaches, a sweep removes what it held.
    let mut child = spawn_child(&d, "hold");
    child_says(&mut child, "ATTACHED");
    let mine = attach(&d.cfg(), &src).unwrap();
    drop(mine);
    assert_eq!(d.segments().len(), 1, "the child is still alive");
    kill9(&mut child);
    assert_eq!(d.segments().len(), 1, "nobody swept yet");
    let report = sweep(&d.cfg()).unwrap();
    assert_eq!(report.dead_slots, 1);
    assert_eq!(report.segments_unlinked, 1);
    assert_eq!(report.ref_files_removed, 1);
    d.assert_clean();
}

#[test]
fn loader_killed_mid_copy_publishes_nothing_and_the_next_attacher_loads() {
    let d = Dirs::new("killload");
    commit_rows(&d.db(), 0, 3000);
    let mut child = spawn_child(&d, "stall");
    fs::write(d.aux.join("go"), b"").unwrap();
    child_says(&mut child, "STALLED");
    assert_eq!(
        d.segments().len(),
        1,
        "the loader's segment exists, unpublished"
    );
    kill9(&mut child);

    let src = d.source();
    let a = attach(&d.cfg(), &src).unwrap();
    assert_eq!(d.loads(), 2, "the next attacher loads again");
    assert_eq!(verified_rows(&a), 3000);
    assert_eq!(
        d.segments(),
        vec![a.segment_name()],
        "the dead loader's segment is gone"
    );
    drop(a);
    d.assert_clean();
}

/// A loader killed while appending to a segment others hold: their generation is untouched, the next
/// attacher appends again, and what the dead loader wrote is given back.
#[test]
fn loader_killed_mid_append_leaves_the_held_generation_whole_and_its_bytes_are_freed() {
    let d = Dirs::new("killappend");
    commit_rows(&d.db(), 0, 3000);
    let held = attach(&d.cfg(), &d.source()).unwrap();
    let segment = held.segment_name();
    let before = d.allocated(&segment);
    commit_rows(&d.db(), 3000, 3000);
    let mut child = spawn_child(&d, "stall");
    fs::write(d.aux.join("go"), b"").unwrap();
    child_says(&mut child, "STALLED");
    kill9(&mut child);
    assert_eq!(verified_rows(&held), 3000);

    let next = attach(&d.cfg(), &d.source()).unwrap();
    assert_eq!(next.segment_name(), segment);
    assert_eq!(verified_rows(&next), 6000);
    drop(held);
    assert_eq!(verified_rows(&next), 6000);
    // The live generation's bytes only (3000 more rows of 256-byte vectors, and small columns).
    let allocated = d.allocated(&segment);
    assert!(
        allocated < before * 2 + 64 * 4096,
        "{allocated} bytes after the append, {before} before"
    );
    drop(next);
    d.assert_clean();
}

/// A generation of another history of the db (the file replaced by an older copy, then written to)
/// cannot go where the held one's bytes are: it gets a segment of its own, and both read right.
#[test]
fn another_history_of_the_db_gets_its_own_segment() {
    let d = Dirs::new("history");
    commit_rows(&d.db(), 0, 1000);
    let copy = d.aux.join("copy.covec");
    fs::copy(d.db(), &copy).unwrap();
    commit_rows(&d.db(), 1000, 500);
    let ours = attach(&d.cfg(), &d.source()).unwrap();
    // Restore the copy (same db id: same uuid, same path) and write other rows.
    fs::rename(&copy, d.db()).unwrap();
    commit_rows(&d.db(), 5000, 7);
    let theirs = attach(&d.cfg(), &d.source()).unwrap();
    assert_eq!(ours.generation(), theirs.generation());
    assert_ne!(ours.segment_name(), theirs.segment_name());
    assert_eq!(verified_rows(&ours), 1500);
    assert_eq!(verified_rows(&theirs), 1007);
    drop(ours);
    drop(theirs);
    d.assert_clean();
}

#[test]
fn untrusted_files_at_our_names_are_refused() {
    let d = Dirs::new("untrusted");
    commit_rows(&d.db(), 0, 100);
    let src = d.source();
    // A published segment replaced by a file others may read, or by a symbolic link.
    let held = attach(&d.cfg(), &src).unwrap();
    let path = d.shm.join(held.segment_name());
    let content = fs::read(&path).unwrap();
    fs::remove_file(&path).unwrap();
    fs::write(&path, &content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = attach(&d.cfg(), &src).err().unwrap();
    assert!(matches!(err, Error::Untrusted { .. }), "{err}");
    assert!(
        err.to_string().contains("other users may access it"),
        "{err}"
    );
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &path).unwrap();
    let err = attach(&d.cfg(), &src).err().unwrap();
    assert!(matches!(err, Error::Untrusted { .. }), "{err}");
    fs::remove_file(&path).unwrap();
    drop(held);
    d.assert_clean();

    // A reference file others may write.
    let ref_file = d.shm.join(format!("covec.{}.refs", src.db_id()));
    fs::write(&ref_file, b"").unwrap();
    fs::set_permissions(&ref_file, fs::Permissions::from_mode(0o666)).unwrap();
    let err = attach(&d.cfg(), &src).err().unwrap();
    assert!(matches!(err, Error::Untrusted { .. }), "{err}");
    fs::remove_file(&ref_file).unwrap();
    d.assert_clean();
}

/// A published segment whose (checksummed) header names another segment or db is refused, as is one
/// shorter than its generation.
#[test]
fn a_segment_that_is_not_the_published_one_is_refused() {
    let d = Dirs::new("lies");
    commit_rows(&d.db(), 0, 100);
    let src = d.source();
    let held = attach(&d.cfg(), &src).unwrap();
    let path = d.shm.join(held.segment_name());
    let good = fs::read(&path).unwrap();
    let mut other = good.clone();
    // Another segment id in the header, checksum repaired.
    other[32] ^= 1;
    let sum = xxhash_rust::xxh3::xxh3_64(&other[..48]);
    other[48..56].copy_from_slice(&sum.to_le_bytes());
    let mut short = good.clone();
    short.truncate(good.len() - 1);
    for (what, bytes) in [("other segment", &other), ("short", &short)] {
        fs::remove_file(&path).unwrap();
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = attach(&d.cfg(), &src).err();
        assert!(
            matches!(err, Some(Error::Corrupt { .. })),
            "{what}: {err:?}"
        );
    }
    drop(held);
    d.assert_clean();
}

#[test]
fn segment_larger_than_free_space_is_shm_full() {
    /// A generation whose catalog claims 2^60 bytes: the load must refuse before writing anything.
    struct Huge(MetaSlot, Catalog);
    impl ImageSource for Huge {
        fn db_id(&self) -> &str {
            "00112233445566aa"
        }
        fn meta(&self) -> &MetaSlot {
            &self.0
        }
        fn catalog(&self) -> covec::Result<&Catalog> {
            Ok(&self.1)
        }
        fn read_at(&self, _: u64, _: &mut [u8]) -> covec::Result<()> {
            panic!("nothing may be read")
        }
    }
    let d = Dirs::new("full");
    let huge = Huge(
        MetaSlot {
            generation: 9,
            commit_id: 90,
            catalog_offset: 4096,
            catalog_len: 1 << 60,
            catalog_xxh3: 0,
            committed_len: 4096 + (1 << 60),
            live_bytes: 0,
        },
        Catalog::default(),
    );
    match attach(&d.cfg(), &huge) {
        Err(Error::ShmFull {
            dir,
            needed,
            available,
        }) => {
            assert_eq!(dir, d.shm);
            assert_eq!(needed, (1 << 60) + 4096);
            assert!(available < needed);
        }
        Err(e) => panic!("expected ShmFull, got {e}"),
        Ok(_) => panic!("expected ShmFull, got a segment"),
    }
    d.assert_clean();
}

#[test]
fn bad_db_id_is_refused_before_touching_the_dir() {
    struct BadId(MetaSlot);
    impl ImageSource for BadId {
        fn db_id(&self) -> &str {
            "../../etc/passwd"
        }
        fn meta(&self) -> &MetaSlot {
            &self.0
        }
        fn catalog(&self) -> covec::Result<&Catalog> {
            panic!("nothing may be loaded")
        }
        fn read_at(&self, _: u64, _: &mut [u8]) -> covec::Result<()> {
            panic!("nothing may be read")
        }
    }
    let d = Dirs::new("badid");
    let meta = *CommittedImage::open(&{
        commit_rows(&d.db(), 0, 1);
        d.db()
    })
    .unwrap()
    .meta();
    let err = attach(&d.cfg(), &BadId(meta)).err().unwrap();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    d.assert_clean();
}
