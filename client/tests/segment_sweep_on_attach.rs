//! The sweep on attach, with real processes and real db files: a covec process that attaches one db also
//! frees what dead processes left of its user's other dbs in the shm dir (docs/protocol.md, "Sweep on
//! attach"). Child processes are this test binary run again with COVEC_SWEEP_CHILD set: each reads
//! `open <db path>` lines on stdin, opens that db (printing its segment's name) and holds every db it
//! opened until its stdin closes.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

mod shm_util;

use covec::segment::{status, sweep, ShmConfig};
use covec::{Db, OpenOptions};
use shm_util::{child_command, covec_files, kill9};

const CHILD: &str = "COVEC_SWEEP_CHILD";

#[test]
fn child_entry() {
    let Some(shm) = std::env::var_os(CHILD) else {
        return;
    };
    let options = OpenOptions {
        shm_dir: PathBuf::from(shm),
        use_segment: true,
        group: None,
    };
    let mut held = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let path = line.strip_prefix("open ").expect("open <path>");
        let db = Db::open(Path::new(path), &options).unwrap();
        println!("SEGMENT {}", db.status().unwrap().segment.unwrap());
        std::io::stdout().flush().unwrap();
        held.push(db);
    }
}

/// A covec process holding the dbs it was told to open.
struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Holder {
    fn spawn(shm: &Path) -> Holder {
        let mut child = child_command()
            .env(CHILD, shm)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Holder {
            child,
            stdin,
            stdout,
        }
    }

    /// Opens `db` in the child; returns the name of the segment it attached.
    fn open(&mut self, db: &Path) -> String {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "open {}", db.display()).unwrap();
        stdin.flush().unwrap();
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "child exited"
            );
            if let Some(name) = line.trim_end().strip_prefix("SEGMENT ") {
                return name.to_string();
            }
        }
    }

    fn kill9(mut self) {
        kill9(&mut self.child);
    }

    /// Closes stdin: the child drops its dbs (detaching) and exits.
    fn release(mut self) {
        drop(self.stdin.take());
        assert!(self.child.wait().unwrap().success());
    }
}

struct Dirs {
    root: PathBuf,
    shm: PathBuf,
}

impl Dirs {
    fn new(name: &str) -> Dirs {
        let root = std::env::temp_dir().join(format!("covec-sweep-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let shm = root.join("shm");
        fs::create_dir_all(&shm).unwrap();
        // Sticky and open to all, like /dev/shm.
        fs::set_permissions(&shm, fs::Permissions::from_mode(0o1777)).unwrap();
        Dirs { root, shm }
    }

    fn db(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.covec"))
    }

    fn cfg(&self) -> ShmConfig {
        ShmConfig {
            dir: self.shm.clone(),
            group: None,
        }
    }

    fn exists(&self, file: &str) -> bool {
        self.shm.join(file).exists()
    }

    fn covec_files(&self) -> Vec<String> {
        covec_files(&self.shm)
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// `covec.<id>.refs` for the segment `covec.<id>.seg.<segment id>`.
fn ref_of(segment: &str) -> String {
    format!("{}.refs", segment.split_once(".seg.").unwrap().0)
}

#[test]
fn a_killed_users_segment_of_a_deleted_db_is_gone_after_another_db_is_attached() {
    let d = Dirs::new("deleted");
    let (x, y, z) = (d.db("x"), d.db("y"), d.db("z"));
    let mut killed = Holder::spawn(&d.shm);
    let sx = killed.open(&x);
    let mut live = Holder::spawn(&d.shm);
    let sz = live.open(&z);
    killed.kill9();
    fs::remove_file(&x).unwrap();
    assert!(d.exists(&sx) && d.exists(&ref_of(&sx)), "nobody swept yet");

    let mut attacher = Holder::spawn(&d.shm);
    let sy = attacher.open(&y);
    assert!(!d.exists(&sx), "the dead user's segment of the deleted db");
    assert!(!d.exists(&ref_of(&sx)), "its reference file");
    assert!(d.exists(&sz), "a segment a live process holds stays");
    let slots: Vec<(String, u32)> = status(&d.cfg())
        .unwrap()
        .into_iter()
        .flat_map(|db| {
            let id = db.db_id;
            db.slots.into_iter().map(move |s| (id.clone(), s.pid))
        })
        .collect();
    assert_eq!(slots.len(), 2, "{slots:?}");
    assert!(d.exists(&sy));

    live.release();
    attacher.release();
    assert_eq!(
        d.covec_files(),
        Vec::<String>::new(),
        "the last users detached"
    );
}

/// A process sweeps the other dbs at its first attach in the dir, then at most once a minute; a new
/// process always does.
#[test]
fn the_sweep_on_attach_is_rate_limited_per_process() {
    let d = Dirs::new("rate");
    let mut attacher = Holder::spawn(&d.shm);
    attacher.open(&d.db("a"));
    let mut killed = Holder::spawn(&d.shm);
    let sw = killed.open(&d.db("w"));
    killed.kill9();
    attacher.open(&d.db("b"));
    assert!(d.exists(&sw), "the attacher swept less than a minute ago");
    let mut fresh = Holder::spawn(&d.shm);
    fresh.open(&d.db("c"));
    assert!(
        !d.exists(&sw) && !d.exists(&ref_of(&sw)),
        "a new process sweeps"
    );
    attacher.release();
    fresh.release();
    assert_eq!(d.covec_files(), Vec::<String>::new());
}

/// A db whose reference file is locked (a loader at work, say) is skipped, not waited for: its lock
/// holder sweeps it.
#[test]
fn the_sweep_on_attach_never_waits_for_a_locked_db() {
    let d = Dirs::new("locked");
    let mut killed = Holder::spawn(&d.shm);
    let sx = killed.open(&d.db("x"));
    killed.kill9();
    let ref_file = fs::File::open(d.shm.join(ref_of(&sx))).unwrap();
    let lock = nix::fcntl::Flock::lock(ref_file, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let mut attacher = Holder::spawn(&d.shm);
    attacher.open(&d.db("y"));
    assert!(d.exists(&sx), "skipped while locked");
    drop(lock);
    let mut fresh = Holder::spawn(&d.shm);
    fresh.open(&d.db("z"));
    assert!(!d.exists(&sx), "swept once unlocked");
    attacher.release();
    fresh.release();
    assert_eq!(d.covec_files(), Vec::<String>::new());
}

/// Dead processes' files that belong to another user are not the sweep on attach's to remove, even
/// for root (only `covec sweep`, run by their owner, or their owner's next attach removes them).
#[test]
fn another_users_dead_db_is_left_alone() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: chown to another user needs root");
        return;
    }
    let d = Dirs::new("other");
    let mut killed = Holder::spawn(&d.shm);
    let su = killed.open(&d.db("u"));
    killed.kill9();
    let nobody = nix::unistd::Uid::from_raw(65534);
    for file in [&su, &ref_of(&su)] {
        nix::unistd::chown(&d.shm.join(file), Some(nobody), None).unwrap();
    }
    let mut attacher = Holder::spawn(&d.shm);
    attacher.open(&d.db("v"));
    assert!(
        d.exists(&su) && d.exists(&ref_of(&su)),
        "another user's files"
    );
    attacher.release();
    for file in [&su, &ref_of(&su)] {
        nix::unistd::chown(&d.shm.join(file), Some(nix::unistd::geteuid()), None).unwrap();
    }
    sweep(&d.cfg()).unwrap();
    assert_eq!(d.covec_files(), Vec::<String>::new());
}

/// A file another user planted under a dead db's names (say a guess at a segment name) does not stop
/// the sweep on attach from removing that db's own files; the planted file is never removed.
#[test]
fn a_planted_file_does_not_stop_the_sweep_on_attach() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: chown to another user needs root");
        return;
    }
    let d = Dirs::new("planted");
    let mut killed = Holder::spawn(&d.shm);
    let sx = killed.open(&d.db("x"));
    killed.kill9();
    let planted = format!("{}.seg.00000000000000aa", sx.split_once(".seg.").unwrap().0);
    fs::write(d.shm.join(&planted), b"not a segment").unwrap();
    nix::unistd::chown(
        &d.shm.join(&planted),
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
    )
    .unwrap();
    let mut attacher = Holder::spawn(&d.shm);
    attacher.open(&d.db("y"));
    assert!(
        !d.exists(&sx) && !d.exists(&ref_of(&sx)),
        "the dead db's own files"
    );
    assert!(d.exists(&planted), "another user's file is never removed");
    attacher.release();
    fs::remove_file(d.shm.join(&planted)).unwrap();
    assert_eq!(d.covec_files(), Vec::<String>::new());
}
