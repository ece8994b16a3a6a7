//! The segment protocol with real files and real processes. Each test uses its own directory as the shm
//! dir and ends by checking that no covec file is left in it. Child processes are this test binary run
//! again with COVEC_SEG_CHILD set (see `child_entry`).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod shm_util;

use covec::internals::segment::{attach, status, sweep, ImageSource, ShmConfig};
use covec::Error;
use shm_util::{child_command, covec_files, kill9};

const ID: &str = "00112233445566aa";

/// An image whose bytes depend on (generation, commit); every copy appends one byte to `counter`.
struct Fake {
    generation: u64,
    commit: u64,
    len: u64,
    counter: Option<PathBuf>,
    /// Sleep this long after copying the first half (a loader to kill mid-copy).
    stall: Duration,
}

impl Fake {
    fn new(generation: u64, len: u64) -> Fake {
        Fake {
            generation,
            commit: generation * 10,
            len,
            counter: None,
            stall: Duration::ZERO,
        }
    }

    fn counted(mut self, counter: &Path) -> Fake {
        self.counter = Some(counter.to_path_buf());
        self
    }

    fn expected(&self) -> Vec<u8> {
        (0..self.len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(self.commit as u8))
            .collect()
    }
}

impl ImageSource for Fake {
    fn db_id(&self) -> &str {
        ID
    }
    fn generation(&self) -> u64 {
        self.generation
    }
    fn commit_id(&self) -> u64 {
        self.commit
    }
    fn image_len(&self) -> covec::Result<u64> {
        Ok(self.len)
    }
    fn emit_image(&self, out: &mut dyn FnMut(&[u8]) -> covec::Result<()>) -> covec::Result<()> {
        if let Some(c) = &self.counter {
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(c)
                .map_err(|e| Error::io(c, e))?;
            f.write_all(b"L").map_err(|e| Error::io(c, e))?;
        }
        let image = self.expected();
        let (first, second) = image.split_at(image.len() / 2);
        out(first)?;
        std::thread::sleep(self.stall);
        out(second)
    }
}

/// A fresh directory pair: `shm` plays /dev/shm, `aux` holds the tests' own signal files.
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

    fn covec_files(&self) -> Vec<String> {
        covec_files(&self.shm)
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

fn seg(generation: u64) -> String {
    format!("covec.{ID}.{generation}")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

// ---- child processes ----

/// Runs only as a child: attaches (after `go` exists), reports, holds until `release` exists (never,
/// for a child that will be killed), then drops the attachment.
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
    let generation: u64 = std::env::var("COVEC_SEG_GEN").unwrap().parse().unwrap();
    let mut src = Fake::new(generation, 100_000).counted(&aux.join("loads"));
    if mode == "stall" {
        src.stall = Duration::from_secs(600);
    }
    wait_for("go", || aux.join("go").exists());
    let a = attach(&cfg, &src).unwrap();
    println!("HASH {:x}", xxhash_rust::xxh3::xxh3_64(a.image()));
    std::io::stdout().flush().unwrap();
    wait_for("release", || aux.join("release").exists());
    drop(a);
}

fn spawn_child(d: &Dirs, mode: &str, generation: u64) -> Child {
    child_command()
        .env("COVEC_SEG_CHILD", mode)
        .env("COVEC_SEG_SHM", &d.shm)
        .env("COVEC_SEG_AUX", &d.aux)
        .env("COVEC_SEG_GEN", generation.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the child's stdout up to its HASH line (it is attached from then on).
fn attached_hash(child: &mut Child) -> String {
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    loop {
        let line = lines
            .next()
            .expect("child exited before attaching")
            .unwrap();
        if let Some(h) = line.strip_prefix("HASH ") {
            // Keep draining, so the child's later output never meets a closed pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return h.to_string();
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
    let src = Fake::new(1, 10_000).counted(&d.aux.join("loads"));
    let a = attach(&d.cfg(), &src).unwrap();
    let b = attach(&d.cfg(), &src).unwrap();
    assert_eq!(d.loads(), 1, "the second attach must reuse the segment");
    assert_eq!(a.image(), &src.expected()[..]);
    assert_eq!(a.image().as_ptr() as usize % 4096, 0);
    assert_eq!(a.mapped_len(), 4096 + 10_000);
    assert_eq!(a.segment_name(), seg(1));
    assert_eq!(a.generation(), 1);
    a.verify().unwrap();
    let me = std::process::id();
    assert_eq!(live_slots(&d.cfg()), vec![(me, 1, 2)]);
    let st = status(&d.cfg()).unwrap();
    assert_eq!(st[0].segments[0].bytes, 4096 + 10_000);

    drop(a);
    assert_eq!(live_slots(&d.cfg()), vec![(me, 1, 1)]);
    assert!(d.shm.join(seg(1)).exists(), "one holder left");
    b.detach().unwrap();
    d.assert_clean();
}

#[test]
fn old_generation_is_unlinked_when_its_last_reader_moves_on() {
    let d = Dirs::new("gens");
    let (g1, g2) = (Fake::new(1, 5000), Fake::new(2, 7000));
    let r1 = attach(&d.cfg(), &g1).unwrap();
    let r2 = attach(&d.cfg(), &g1).unwrap();
    let n1 = attach(&d.cfg(), &g2).unwrap();
    assert_eq!(n1.image(), &g2.expected()[..]);
    assert_eq!(d.covec_files().len(), 3, "two segments and the ref file");
    drop(r1);
    assert!(d.shm.join(seg(1)).exists());
    drop(r2);
    assert!(
        !d.shm.join(seg(1)).exists(),
        "generation 1 has no reader left"
    );
    assert!(d.shm.join(seg(2)).exists());
    // A mapping outlives unlinking of generation 1; this one still reads generation 2.
    assert_eq!(n1.image(), &g2.expected()[..]);
    drop(n1);
    d.assert_clean();
}

#[test]
fn sixteen_processes_starting_together_load_once_and_see_the_same_bytes() {
    let d = Dirs::new("sixteen");
    let mut children: Vec<Child> = (0..16).map(|_| spawn_child(&d, "hold", 3)).collect();
    fs::write(d.aux.join("go"), b"").unwrap();
    let hashes: Vec<String> = children.iter_mut().map(attached_hash).collect();
    assert_eq!(d.loads(), 1, "exactly one process loads");
    let want = format!(
        "{:x}",
        xxhash_rust::xxh3::xxh3_64(&Fake::new(3, 100_000).expected())
    );
    assert!(hashes.iter().all(|h| *h == want), "{hashes:?}");
    let slots = live_slots(&d.cfg());
    assert_eq!(slots.len(), 16);
    assert!(slots.iter().all(|&(_, g, c)| g == 3 && c == 1));
    fs::write(d.aux.join("release"), b"").unwrap();
    for c in &mut children {
        assert!(c.wait().unwrap().success());
    }
    d.assert_clean();
}

#[test]
fn killed_reader_is_swept_and_segment_lives_until_last_live_reader_leaves() {
    let d = Dirs::new("killread");
    let src = Fake::new(4, 100_000);
    let mut child = spawn_child(&d, "hold", 4);
    fs::write(d.aux.join("go"), b"").unwrap();
    attached_hash(&mut child);
    let mine = attach(&d.cfg(), &src).unwrap();
    kill9(&mut child);
    assert_eq!(live_slots(&d.cfg()).len(), 1, "status hides the dead slot");

    // The next attach sweeps the dead slot; the segment stays while we hold it.
    let again = attach(&d.cfg(), &src).unwrap();
    assert_eq!(live_slots(&d.cfg()), vec![(std::process::id(), 4, 2)]);
    drop(again);
    assert!(d.shm.join(seg(4)).exists());
    drop(mine);
    d.assert_clean();

    // Killed last: nobody detaches, a sweep removes what it held.
    let mut child = spawn_child(&d, "hold", 4);
    attached_hash(&mut child);
    let mine = attach(&d.cfg(), &src).unwrap();
    drop(mine);
    assert!(d.shm.join(seg(4)).exists(), "the child is still alive");
    kill9(&mut child);
    assert!(d.shm.join(seg(4)).exists(), "nobody swept yet");
    let report = sweep(&d.cfg()).unwrap();
    assert_eq!(report.dead_slots, 1);
    assert_eq!(report.segments_unlinked, 1);
    assert_eq!(report.ref_files_removed, 1);
    d.assert_clean();
}

#[test]
fn loader_killed_mid_copy_publishes_nothing_and_the_next_attacher_loads() {
    let d = Dirs::new("killload");
    let mut child = spawn_child(&d, "stall", 5);
    fs::write(d.aux.join("go"), b"").unwrap();
    wait_for("the loader to start copying", || d.loads() == 1);
    let files = d.covec_files();
    assert!(files.iter().any(|f| f.contains(".tmp-")), "{files:?}");
    assert!(
        !files.contains(&seg(5)),
        "no final name before the copy ends"
    );
    kill9(&mut child);
    assert!(!d.shm.join(seg(5)).exists());

    let src = Fake::new(5, 100_000).counted(&d.aux.join("loads"));
    let a = attach(&d.cfg(), &src).unwrap();
    assert_eq!(d.loads(), 2, "the next attacher loads again");
    assert_eq!(a.image(), &src.expected()[..]);
    a.verify().unwrap();
    assert_eq!(d.covec_files(), vec![seg(5), format!("covec.{ID}.ref")]);
    drop(a);
    d.assert_clean();
}

#[test]
fn world_readable_segment_or_ref_file_is_refused() {
    let d = Dirs::new("untrusted");
    let planted = d.shm.join(seg(6));
    fs::write(&planted, vec![0u8; 8192]).unwrap();
    fs::set_permissions(&planted, fs::Permissions::from_mode(0o644)).unwrap();
    let err = attach(&d.cfg(), &Fake::new(6, 100)).err().unwrap();
    assert!(matches!(err, Error::Untrusted { .. }), "{err}");
    assert!(
        err.to_string().contains("other users may access it"),
        "{err}"
    );
    let _ = fs::remove_file(&planted);

    let link = d.shm.join(seg(6));
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    let err = attach(&d.cfg(), &Fake::new(6, 100)).err().unwrap();
    assert!(matches!(err, Error::Untrusted { .. }), "{err}");
    let _ = fs::remove_file(&link);

    let ref_file = d.shm.join(format!("covec.{ID}.ref"));
    fs::write(&ref_file, b"").unwrap();
    fs::set_permissions(&ref_file, fs::Permissions::from_mode(0o666)).unwrap();
    let err = attach(&d.cfg(), &Fake::new(6, 100)).err().unwrap();
    assert!(matches!(err, Error::Untrusted { .. }), "{err}");
    fs::remove_file(&ref_file).unwrap();
    d.assert_clean();
}

#[test]
fn owner_only_garbage_segment_is_not_a_segment() {
    let d = Dirs::new("garbage");
    let planted = d.shm.join(seg(7));
    fs::write(&planted, vec![7u8; 8192]).unwrap();
    fs::set_permissions(&planted, fs::Permissions::from_mode(0o600)).unwrap();
    let err = attach(&d.cfg(), &Fake::new(7, 100)).err().unwrap();
    assert!(matches!(err, Error::NotCovec { .. }), "{err}");
    let _ = fs::remove_file(&planted);
    d.assert_clean();
}

#[test]
fn same_generation_with_another_commit_is_reloaded_only_when_unheld() {
    let d = Dirs::new("commit");
    let old = Fake::new(8, 3000);
    let mut new = Fake::new(8, 3000);
    new.commit = 81;
    let held = attach(&d.cfg(), &old).unwrap();
    let err = attach(&d.cfg(), &new).err().unwrap();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert_eq!(
        held.image(),
        &old.expected()[..],
        "the holder's view is untouched"
    );
    drop(held);
    let a = attach(&d.cfg(), &new).unwrap();
    assert_eq!(a.image(), &new.expected()[..]);
    drop(a);
    d.assert_clean();
}

#[test]
fn segment_larger_than_free_space_is_shm_full() {
    let d = Dirs::new("full");
    let huge = Fake::new(9, 1 << 60);
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
    struct BadId;
    impl ImageSource for BadId {
        fn db_id(&self) -> &str {
            "../../etc/passwd"
        }
        fn generation(&self) -> u64 {
            1
        }
        fn commit_id(&self) -> u64 {
            1
        }
        fn image_len(&self) -> covec::Result<u64> {
            Ok(1)
        }
        fn emit_image(&self, out: &mut dyn FnMut(&[u8]) -> covec::Result<()>) -> covec::Result<()> {
            out(&[0])
        }
    }
    let d = Dirs::new("badid");
    let err = attach(&d.cfg(), &BadId).err().unwrap();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    d.assert_clean();
}
