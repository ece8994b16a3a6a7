//! Sharing segments with a group, across real users: a process of another user that is in the group
//! attaches the segment our process loaded (no second load); a process of that user outside the group
//! can read neither the db nor the segment. Children are this test binary re-executed under the other
//! user's ids, so they start with none of our open files or mappings.
//!
//! Changing user needs root. Run as anyone else, the test says so on stderr and checks nothing.

mod storage_util;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use covec::{Db, OpenOptions, Pk, SearchRequest};
use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
use storage_util::*;

const TEST_NAME: &str = "group_members_attach_the_shared_segment_and_outsiders_cannot_read";
const OTHER_UID: u32 = 65534;
const SHARED_GID: u32 = 4242;
const ROLE: &str = "COVEC_GROUP_TEST_ROLE";
const DIR: &str = "COVEC_GROUP_TEST_DIR";
const QUERY: [f32; 2] = [1.0, 0.2];

fn options(dir: &Path) -> OpenOptions {
    OpenOptions {
        shm_dir: dir.join("shm"),
        use_segment: true,
        group: Some(SHARED_GID),
    }
}

fn top_ids(db: &Db) -> covec::Result<Vec<Pk>> {
    let request = SearchRequest {
        anns_field: None,
        vectors: QUERY.to_vec().into(),
        nq: 1,
        limit: 5,
        offset: 0,
        filter: String::new(),
        output: Default::default(),
        metric: None,
        params: vec![],
        ..SearchRequest::default()
    };
    Ok(db.search("c", &request)?[0]
        .iter()
        .map(|h| h.id.clone())
        .collect())
}

/// What a child reports on one stdout line: `RESULT <text>`.
fn child(role: &str, dir: &Path) {
    let report = match role {
        "member" => match Db::open(&dir.join("db.covec"), &options(dir)) {
            Ok(db) => {
                let status = db.status().expect("status");
                format!(
                    "ids={:?} segment={:?} loaded_by={:?}",
                    top_ids(&db),
                    status.segment,
                    status.loaded_by
                )
            }
            Err(e) => format!("open failed: {e}"),
        },
        _ => {
            let db = Db::open(&dir.join("db.covec"), &options(dir)).map(|_| ());
            let segments: Vec<String> = fs::read_dir(dir.join("shm"))
                .expect("list shm dir")
                .filter_map(|e| e.ok())
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let read = fs::read(e.path()).map(|_| ()).map_err(|e| e.kind());
                    format!("{name}:{read:?}")
                })
                .collect();
            format!("db={db:?} files={segments:?}")
        }
    };
    // After a newline: the test harness has already printed "test <name> ... " on this line.
    println!("\nRESULT {report}");
}

/// Runs `exe` (a copy of this test binary) as OTHER_UID, with SHARED_GID as a supplementary group or not.
fn run_as_other_user(exe: &Path, dir: &Path, role: &str, in_group: bool) -> String {
    let groups = if in_group {
        vec![Gid::from_raw(SHARED_GID)]
    } else {
        vec![]
    };
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(DIR, dir);
    // SAFETY: between fork and exec the closure only makes three syscalls; it touches no locks or heap
    // state (the group list was built before the fork).
    unsafe {
        cmd.pre_exec(move || {
            setgroups(&groups)?;
            setgid(Gid::from_raw(OTHER_UID))?;
            setuid(Uid::from_raw(OTHER_UID))?;
            Ok(())
        });
    }
    let out = cmd.output().expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {role} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("child {role} reported nothing: {stdout}"))
        .to_string()
}

fn mode_and_gid(path: &Path) -> (u32, u32) {
    let meta = fs::metadata(path).expect("stat");
    (meta.permissions().mode() & 0o7777, meta.gid())
}

#[test]
fn group_members_attach_the_shared_segment_and_outsiders_cannot_read() {
    if let (Ok(role), Some(dir)) = (std::env::var(ROLE), std::env::var_os(DIR)) {
        return child(&role, Path::new(&dir));
    }
    if !Uid::effective().is_root() {
        eprintln!("{TEST_NAME}: not run: changing to another user needs root");
        return;
    }
    // A world-traversable directory like /var/lib/<service>, with a sticky world-writable shm dir like
    // /dev/shm, so that only covec's own modes decide who reads what.
    let dir = PathBuf::from(format!("/tmp/covec-group-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("shm")).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(dir.join("shm"), fs::Permissions::from_mode(0o1777)).unwrap();
    let exe = dir.join("test-binary");
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();

    let db_path = dir.join("db.covec");
    let db = Db::open(&db_path, &options(&dir)).unwrap();
    db.create_collection("c", simple_schema(2), vec![]).unwrap();
    let rows = (0..200)
        .map(|i| simple_row(i, [(i % 17) as f32, (i % 5) as f32], "x"))
        .collect();
    db.insert("c", rows).unwrap();
    // The service's db file belongs to the group, not to others (as an administrator would set it).
    nix::unistd::chown(&db_path, None, Some(Gid::from_raw(SHARED_GID))).unwrap();
    fs::set_permissions(&db_path, fs::Permissions::from_mode(0o640)).unwrap();
    let ours = top_ids(&db).unwrap();
    let status = db.status().unwrap();
    let segment = status.segment.clone().expect("a segment is mapped");
    assert_eq!(status.loaded_by, Some(std::process::id()));

    let shm = dir.join("shm");
    assert_eq!(mode_and_gid(&shm.join(&segment)), (0o660, SHARED_GID));
    let ref_files: Vec<PathBuf> = fs::read_dir(&shm)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "refs"))
        .collect();
    assert_eq!(ref_files.len(), 1, "one reference file: {ref_files:?}");
    assert_eq!(mode_and_gid(&ref_files[0]), (0o660, SHARED_GID));

    let member = run_as_other_user(&exe, &dir, "member", true);
    assert_eq!(
        member,
        format!(
            "ids={:?} segment={:?} loaded_by={:?}",
            Ok::<_, covec::Error>(ours),
            Some(&segment),
            Some(std::process::id())
        ),
        "a group member attaches our segment and finds the same rows"
    );

    let outsider = run_as_other_user(&exe, &dir, "outsider", false);
    assert!(
        outsider.starts_with("db=Err(") && outsider.contains("ermission denied"),
        "an outsider cannot open the db: {outsider}"
    );
    assert!(
        outsider.contains(&format!("{segment}:Err(PermissionDenied)")),
        "nor read the segment: {outsider}"
    );
    assert!(
        !outsider.contains(":Ok(())"),
        "no covec file is readable to an outsider: {outsider}"
    );

    drop(db);
    let _ = fs::remove_dir_all(&dir);
}
