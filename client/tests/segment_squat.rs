//! Another local user squatting on the names a db needs in a shared shm dir (sticky and world-writable,
//! like /dev/shm) cannot stop it from publishing: segment names are random and read from the reference
//! file, so the squatter's files (at every name an earlier covec would have used, at guessed segment
//! names, as symbolic links) are never opened, every commit reaches the readers through a segment, and
//! the files are left alone. A reference file planted while nobody uses the db makes processes read the
//! db file itself: every call still works and every commit is seen.
//!
//! The squatter is this test binary re-executed as uid 65534, as in segment_group.rs; a reader is it
//! re-executed as ourselves. Changing user needs root: run as anyone else, the test says so on stderr
//! and checks nothing.

mod storage_util;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use covec::{Db, OpenOptions};
use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
use storage_util::*;

const TEST_NAME: &str = "another_user_squatting_on_our_names_cannot_stop_a_db_from_publishing";
const SQUATTER: u32 = 65534;
const ROLE: &str = "COVEC_SQUAT_TEST_ROLE";
const DIR: &str = "COVEC_SQUAT_TEST_DIR";
const DB_ID: &str = "COVEC_SQUAT_TEST_DB_ID";

fn options(dir: &Path) -> OpenOptions {
    OpenOptions {
        shm_dir: dir.join("shm"),
        use_segment: true,
        group: None,
    }
}

/// As the squatter: plants files at every name a db of id `id` could need next that it can work out
/// from the dir; prints how many. With `refs`, plants only the reference file's name.
fn squat(dir: &Path, id: &str, refs: bool) {
    let shm = dir.join("shm");
    let mut planted = 0;
    let mut plant = |name: String, link: bool| {
        let path = shm.join(name);
        let made = if link {
            std::os::unix::fs::symlink("/etc/passwd", &path)
        } else {
            fs::write(&path, b"squatted")
                .and_then(|_| fs::set_permissions(&path, fs::Permissions::from_mode(0o644)))
        };
        planted += usize::from(made.is_ok());
    };
    if refs {
        plant(format!("covec.{id}.refs"), false);
    } else {
        // What protocol 1 would have used for the next generations, and guesses at segment names.
        for g in 0..64 {
            plant(format!("covec.{id}.{g}"), g % 2 == 0);
            plant(format!("covec.{id}.{g}.tmp-{}", 1000 + g), false);
            plant(
                format!("covec.{id}.seg.{:016x}", g * 0x0101_0101),
                g % 3 == 0,
            );
        }
        plant(format!("covec.{id}.ref"), false);
    }
    println!("\nRESULT planted {planted}");
}

/// As a reader (ourselves): answers each stdin line with the row count and the segment it reads from.
fn reader(dir: &Path) {
    let db = Db::open(&dir.join("db.covec"), &options(dir)).unwrap();
    println!("\nREADY");
    for _ in std::io::stdin().lock().lines() {
        let answer = db
            .count("c", "")
            .and_then(|n| Ok((n, db.status()?.segment)));
        match answer {
            Ok((n, segment)) => println!("COUNT {n} {segment:?}"),
            Err(e) => println!("COUNT error {e}"),
        }
        std::io::stdout().flush().unwrap();
    }
}

fn test_command(exe: &Path, dir: &Path, role: &str) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(DIR, dir);
    cmd
}

/// Runs the squatter as uid 65534 with no groups; returns its RESULT line.
fn run_squatter(exe: &Path, dir: &Path, id: &str, role: &str) -> String {
    let mut cmd = test_command(exe, dir, role);
    cmd.env(DB_ID, id);
    // SAFETY: between fork and exec the closure only makes three syscalls; it touches no locks or heap.
    unsafe {
        cmd.pre_exec(|| {
            setgroups(&[])?;
            setgid(Gid::from_raw(SQUATTER))?;
            setuid(Uid::from_raw(SQUATTER))?;
            Ok(())
        });
    }
    let out = cmd.output().expect("run squatter");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "squatter failed: {stdout}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("squatter reported nothing: {stdout}"))
        .to_string()
}

struct Reader {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Reader {
    fn spawn(exe: &Path, dir: &Path) -> Reader {
        let mut child = test_command(exe, dir, "reader")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while line.trim() != "READY" {
            line.clear();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "reader exited");
        }
        Reader {
            child,
            stdin,
            stdout,
        }
    }

    /// (row count, segment) as the reader sees them now.
    fn ask(&mut self) -> String {
        writeln!(self.stdin, "count").unwrap();
        self.stdin.flush().unwrap();
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "reader exited"
            );
            if let Some(answer) = line.trim().strip_prefix("COUNT ") {
                return answer.to_string();
            }
        }
    }

    fn close(self) {
        drop(self.stdin);
        let mut child = self.child;
        assert!(child.wait().unwrap().success());
    }
}

fn files(shm: &Path) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = fs::read_dir(shm)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let uid = fs::symlink_metadata(e.path()).unwrap().uid();
            (e.file_name().into_string().unwrap(), uid)
        })
        .collect();
    out.sort();
    out
}

fn insert(db: &Db, id: i64) {
    db.insert("c", vec![simple_row(id, [id as f32, 1.0], "x")])
        .unwrap();
}

#[test]
fn another_user_squatting_on_our_names_cannot_stop_a_db_from_publishing() {
    if let (Ok(role), Some(dir)) = (std::env::var(ROLE), std::env::var_os(DIR)) {
        let dir = Path::new(&dir);
        return match role.as_str() {
            "reader" => reader(dir),
            _ => squat(dir, &std::env::var(DB_ID).unwrap(), role == "squat-refs"),
        };
    }
    if !Uid::effective().is_root() {
        eprintln!("{TEST_NAME}: not run: changing to another user needs root");
        return;
    }
    let dir = PathBuf::from(format!("/tmp/covec-squat-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let shm = dir.join("shm");
    fs::create_dir_all(&shm).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&shm, fs::Permissions::from_mode(0o1777)).unwrap();
    let exe = dir.join("test-binary");
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();

    let db_path = dir.join("db.covec");
    let db = Db::open(&db_path, &options(&dir)).unwrap();
    db.create_collection("c", simple_schema(2), vec![]).unwrap();
    for id in 0..100 {
        insert(&db, id);
    }
    let segment = db.status().unwrap().segment.expect("a segment is mapped");
    let id = segment.split('.').nth(1).unwrap().to_string();
    let mut reader = Reader::spawn(&exe, &dir);
    assert_eq!(reader.ask(), format!("100 Some({segment:?})"));

    // The squatter sees our files and plants at every name it can work out.
    let planted = run_squatter(&exe, &dir, &id, "squat");
    assert_eq!(planted, "planted 193");
    let theirs = |shm: &Path| -> Vec<(String, u32)> {
        files(shm)
            .into_iter()
            .filter(|(_, uid)| *uid == SQUATTER)
            .collect()
    };
    let squatted = theirs(&shm);
    assert_eq!(squatted.len(), 193);

    // Every commit reaches the reader, through a segment, with no error.
    for id in 100..120 {
        insert(&db, id);
        let answer = reader.ask();
        let n = id + 1;
        assert!(
            answer.starts_with(&format!("{n} Some(\"covec.")),
            "after commit {n}: {answer}"
        );
    }
    assert_eq!(theirs(&shm), squatted, "the planted files are untouched");
    // A sweep neither trusts nor removes them, and does not fail on them.
    covec::segment::sweep(&covec::segment::ShmConfig {
        dir: shm.clone(),
        group: None,
    })
    .unwrap();
    assert_eq!(theirs(&shm), squatted);

    // Everyone leaves: our files go, theirs stay. Now the reference file's name is free to plant.
    reader.close();
    drop(db);
    assert_eq!(files(&shm), squatted, "only the squatter's files are left");
    assert_eq!(run_squatter(&exe, &dir, &id, "squat-refs"), "planted 1");

    // The db still works, from the db file itself: every call, every commit.
    let db = Db::open(&db_path, &options(&dir)).unwrap();
    assert_eq!(db.count("c", "").unwrap(), 120);
    assert_eq!(db.status().unwrap().segment, None);
    let mut reader = Reader::spawn(&exe, &dir);
    assert_eq!(reader.ask(), "120 None");
    for id in 120..125 {
        insert(&db, id);
        assert_eq!(reader.ask(), format!("{} None", id + 1));
    }
    reader.close();
    drop(db);
    let _ = fs::remove_dir_all(&dir);
}
