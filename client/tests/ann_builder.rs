//! The background builder (docs/ann.md, "The builder"): a write that takes the tail past the start
//! threshold, or a delete that takes the graph past the deletion threshold, returns at once and leaves
//! the graph to a builder thread, which publishes it as its own commit; a write committed while that
//! build runs lands and is kept; a merge of unsealed parts meanwhile does not make it build again; a
//! writer past the row bound returns once the tail is back under it; a process killed mid-build loses
//! no row, and the next writer's builder indexes the tail; a build that fails fails no write and is
//! reported by describe_collection until a build succeeds.

mod hnsw_support;
mod storage_util;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use covec::internals::builder::{set_mid_build_hook, BuildLock};
use covec::internals::engine::MAX_TAIL_ROWS;
use covec::internals::format::{self, MetaSlot};
use covec::{Db, Pk};
use hnsw_support::{clustered, hnsw_on_v, wait_for_builder};
use storage_util::{
    insert_rows, nearest, part_layout, parts_of_c, pending_rows, simple_row, simple_schema,
    stored_vector, TempDb,
};

const DIM: usize = 16;

fn delete(db: &Db, ids: std::ops::Range<usize>) {
    let ids: Vec<Pk> = ids.map(|i| Pk::Int(i as i64)).collect();
    db.delete_ids("c", &ids).unwrap();
}

type Hook = Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>;

/// Per-db mid-build hooks: the process has one hook, and the tests of this binary run at once.
static HOOKS: Mutex<Vec<(PathBuf, Hook)>> = Mutex::new(Vec::new());

/// Runs `hook` (after those set before it) in every build of the db at `path` between its prepare and
/// its commit (one call per attempt), until the test ends (`TempDb` paths are never reused).
fn on_mid_build(path: &Path, hook: impl Fn() -> std::io::Result<()> + Send + Sync + 'static) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        set_mid_build_hook(Some(Box::new(|path: &Path| {
            let hooks: Vec<Hook> = HOOKS
                .lock()
                .unwrap()
                .iter()
                .filter(|(p, _)| p == path)
                .map(|(_, h)| Arc::clone(h))
                .collect();
            hooks.iter().try_for_each(|h| h())
        })));
    });
    HOOKS
        .lock()
        .unwrap()
        .push((canonical(path), Arc::new(hook)));
}

/// A hook that stops the db's first build mid-build: `mid` receives once it is there, and the build
/// goes on once `go` is sent. Later builds pass.
fn stop_first_build(path: &Path) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (mid_tx, mid_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (mid_tx, go_rx) = (Mutex::new(mid_tx), Mutex::new(go_rx));
    let once = AtomicBool::new(false);
    on_mid_build(path, move || {
        if !once.swap(true, Ordering::SeqCst) {
            mid_tx.lock().unwrap().send(()).unwrap();
            go_rx.lock().unwrap().recv().unwrap();
        }
        Ok(())
    });
    (mid_rx, go_tx)
}

/// Only a hang guard: the builder has prepared its graph and waits for the test.
fn wait_mid_build(mid: &mpsc::Receiver<()>) {
    mid.recv_timeout(Duration::from_secs(300))
        .expect("the builder reached mid-build");
}

/// Counts the db's build attempts.
fn count_attempts(path: &Path) -> Arc<AtomicUsize> {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&attempts);
    on_mid_build(path, move || {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    attempts
}

/// A db whose collection "c" holds rows 0..n of `data`, all in one graph.
fn indexed(t: &TempDb, data: &[f32], n: usize) -> Db {
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
        .unwrap();
    insert_rows(&db, data, DIM, 0..n);
    wait_for_builder(t.path());
    assert_eq!(part_layout(t.path()), vec![(n as u64, 0, true)]);
    db
}

/// Row `i`'s stored vector is found by a search for it, and read back unchanged.
fn assert_found(db: &Db, data: &[f32], i: usize) {
    let v = &data[i * DIM..(i + 1) * DIM];
    assert_eq!(nearest(db, v), Some(Pk::Int(i as i64)), "row {i}");
    assert_eq!(stored_vector(db, i).as_deref(), Some(v), "row {i}");
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap()
}

/// A write lands while the builder is known to be mid-build (stopped by the hook between its prepare
/// and its commit, so the order is certain, not timed): it returns, its rows are searched exactly, and
/// the build, committed after it, keeps them.
#[test]
fn a_write_returns_while_a_build_runs_and_the_build_keeps_it() {
    let data = clustered(2100, DIM, 20, 21);
    let t = TempDb::new("builder-meanwhile");
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
        .unwrap();
    let (mid, go) = stop_first_build(t.path());
    // 2000 rows and no graph: the write starts a builder and returns.
    insert_rows(&db, &data, DIM, 0..2000);
    wait_mid_build(&mid);
    insert_rows(&db, &data, DIM, 2000..2100);
    assert_eq!(db.count("c", "").unwrap(), 2100);
    assert_eq!(pending_rows(&db), 2100, "nothing is indexed yet");
    assert!(part_layout(t.path()).iter().all(|&(_, _, graph)| !graph));
    assert_found(&db, &data, 2050);
    go.send(()).unwrap();
    wait_for_builder(t.path());
    // The builder's commit: the 2000 rows it read in a graph, the write made meanwhile after it.
    assert_eq!(
        part_layout(t.path()),
        vec![(2000, 0, true), (100, 0, false)]
    );
    assert_eq!(pending_rows(&db), 100);
    assert_eq!(db.count("c", "").unwrap(), 2100);
    Db::verify(t.path()).unwrap();
    for i in [0, 999, 1999, 2000, 2099] {
        assert_found(&db, &data, i);
    }
}

/// The newest generation's slot in the db file.
fn newest_meta(path: &Path) -> MetaSlot {
    let bytes = std::fs::read(path).unwrap();
    format::decode_header(&bytes, bytes.len() as u64, path)
        .unwrap()
        .1
}

/// The lowest offset of a section of collection "c"'s graph part in the newest generation.
fn graph_part_start(path: &Path) -> u64 {
    let mut part = parts_of_c(path)
        .into_iter()
        .find(|p| !p.ann.is_empty())
        .unwrap();
    let mut start = u64::MAX;
    part.for_each_section_mut(|s| start = start.min(s.offset));
    start
}

/// Bytes of the db file the newest generation does not reference.
fn dead_bytes(path: &Path) -> u64 {
    let m = newest_meta(path);
    m.committed_len - m.live_bytes
}

/// Runs `commit` on another thread and fails (instead of hanging) unless it returns within a minute:
/// a commit that waited for a writer lock the parked builder held would never return.
fn lands(commit: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        commit();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the commit landed while the builder was parked");
}

/// The builder writes its part into a reservation before it takes the writer lock for its commit.
/// Parked after the fill, the file already holds the part (dead bytes the newest generation does not
/// name, at least its vectors), and an insert, a delete and an upsert (each taking the writer lock
/// through its own open file, so the builder thread holding it would block them) land meanwhile. The
/// build's commit names the bytes in the gap, reserved before those writes (so below their commits),
/// carries the delete and the upsert's deletion into its part, and keeps the writes.
#[test]
fn writes_land_while_a_filled_reservation_waits_for_its_commit() {
    let data = clustered(2100, DIM, 20, 24);
    let t = TempDb::new("builder-reserved");
    let db = Arc::new(t.open());
    db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
        .unwrap();
    let (mid, go) = stop_first_build(t.path());
    insert_rows(&db, &data, DIM, 0..2000);
    wait_mid_build(&mid);
    let parked = newest_meta(t.path());
    assert!(
        dead_bytes(t.path()) >= (2000 * DIM * 4) as u64,
        "the reservation holds the part"
    );
    let (d, v) = (Arc::clone(&db), data.clone());
    lands(move || insert_rows(&d, &v, DIM, 2000..2050));
    let d = Arc::clone(&db);
    lands(move || delete(&d, 0..10));
    let (d, moved) = (Arc::clone(&db), data[2060 * DIM..2061 * DIM].to_vec());
    lands(move || {
        d.upsert("c", vec![simple_row(20, &moved, "t")], false)
            .unwrap();
    });
    go.send(()).unwrap();
    wait_for_builder(t.path());
    let layout = part_layout(t.path());
    assert_eq!(layout[0], (2000, 11, true), "{layout:?}");
    assert!(graph_part_start(t.path()) < parked.committed_len);
    Db::verify(t.path()).unwrap();
    assert_eq!(db.count("c", "").unwrap(), 2040);
    for i in [10, 999, 1999, 2000, 2049] {
        assert_found(&db, &data, i);
    }
    assert_gone(&db, &data, 5);
    assert_eq!(
        stored_vector(&db, 20).as_deref(),
        Some(&data[2060 * DIM..2061 * DIM])
    );
}

/// A compaction that lands between the build's reservation and its commit replaces the file the gap
/// was reserved in: the build's commit appends its part under the lock instead, and is correct. covec
/// compacts only under the build lock, so the compaction here is one that does not take it (as an
/// earlier covec's writer compacted, under the writer lock alone).
#[test]
fn a_compaction_between_reservation_and_commit_leaves_the_build_to_append() {
    let data = clustered(2000, DIM, 20, 25);
    let t = TempDb::new("builder-compacted");
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
        .unwrap();
    let (mid, go) = stop_first_build(t.path());
    let attempts = count_attempts(t.path());
    insert_rows(&db, &data, DIM, 0..2000);
    wait_mid_build(&mid);
    let inode = std::fs::metadata(t.path()).unwrap().ino();
    let parked = newest_meta(t.path());
    covec::internals::store::compact(t.path(), false, || Ok(())).unwrap();
    assert_ne!(std::fs::metadata(t.path()).unwrap().ino(), inode);
    assert!(newest_meta(t.path()).committed_len < parked.committed_len - (2000 * DIM * 4) as u64);
    go.send(()).unwrap();
    wait_for_builder(t.path());
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "kept at its first attempt"
    );
    assert_eq!(part_layout(t.path()), vec![(2000, 0, true)]);
    Db::verify(t.path()).unwrap();
    assert_eq!(pending_rows(&db), 0);
    for i in [0, 777, 1999] {
        assert_found(&db, &data, i);
    }
}

/// The children's side of the kill tests: the db's path, and which write the child makes.
const CHILD_DB: &str = "COVEC_TEST_BUILDER_CHILD_DB";
const CHILD_WRITE: &str = "COVEC_TEST_BUILDER_CHILD_WRITE";

/// A write that starts a builder, which the hook stops mid-build after saying so; the child then
/// waits to be killed.
#[test]
fn child_builds_in_the_background_when_asked() {
    let (Ok(path), Ok(write)) = (std::env::var(CHILD_DB), std::env::var(CHILD_WRITE)) else {
        return;
    };
    set_mid_build_hook(Some(Box::new(|_: &Path| {
        println!("building");
        loop {
            std::thread::park();
        }
    })));
    let db = Db::open(path.as_ref(), &storage_util::options()).unwrap();
    match write.as_str() {
        "insert" => insert_rows(&db, &clustered(3000, DIM, 20, 22), DIM, 2000..2600),
        _ => delete(&db, 0..450),
    }
    println!("written");
    // The builder holds the build lock until it is killed with this process.
    wait_for_builder(path.as_ref());
    unreachable!("the builder never finishes");
}

/// Runs a child that makes `write` on the db at `path`, and SIGKILLs it once its write returned and its
/// builder is mid-build.
fn kill_mid_build(path: &Path, write: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_builds_in_the_background_when_asked",
            "--nocapture",
        ])
        .env(CHILD_DB, path)
        .env(CHILD_WRITE, write)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (mut seen, mut line) = (Vec::new(), String::new());
    while !(seen.contains(&"building".to_string()) && seen.contains(&"written".to_string())) {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0,
            "the child ended before its builder was mid-build: {seen:?}"
        );
        seen.push(line.trim().to_string());
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A process SIGKILLed while its builder is mid-build (after its write returned, before the build's
/// commit): the db verifies and holds every row, the tail is pending, and the next writer's builder
/// indexes it.
#[test]
fn a_process_killed_mid_background_build_loses_no_row() {
    let data = clustered(3000, DIM, 20, 22);
    let t = TempDb::new("builder-killed");
    {
        let db = indexed(&t, &data, 2000);
        assert_eq!(pending_rows(&db), 0);
    }
    kill_mid_build(t.path(), "insert");
    Db::verify(t.path()).unwrap();
    // The builder was parked after filling its reservation: the gap is dead space.
    assert!(dead_bytes(t.path()) >= (2600 * DIM * 4) as u64);
    let db = t.open();
    assert_eq!(db.count("c", "").unwrap(), 2600);
    assert_eq!(pending_rows(&db), 600, "the build was lost, no row was");
    for i in (0..2600).step_by(131).chain([2599]) {
        assert_found(&db, &data, i);
    }
    // The next writer's commit finds the tail past the threshold and its builder indexes it.
    insert_rows(&db, &data, DIM, 2600..2610);
    wait_for_builder(t.path());
    assert_eq!(pending_rows(&db), 0);
    assert_eq!(part_layout(t.path()), vec![(2610, 0, true)]);
    assert_eq!(db.count("c", "").unwrap(), 2610);
    for i in [0, 2000, 2599, 2609] {
        assert_found(&db, &data, i);
    }
    // A compaction reclaims the dead gap (what stays dead is the header and alignment).
    db.compact("c").unwrap();
    assert!(dead_bytes(t.path()) < 8192, "{}", dead_bytes(t.path()));
    Db::verify(t.path()).unwrap();
}

/// The search for row `i`'s vector does not return it (it is deleted).
fn assert_gone(db: &Db, data: &[f32], i: usize) {
    let v = &data[i * DIM..(i + 1) * DIM];
    assert_ne!(nearest(db, v), Some(Pk::Int(i as i64)), "row {i}");
    assert_eq!(stored_vector(db, i), None, "row {i}");
}

/// A delete that takes the graph past 20 % deleted rows returns without rebuilding (the part layout
/// right after it is the graph's, with the bits set; its rows are no longer found), and the builder
/// rebuilds; a delete made while that rebuild runs is carried into it.
#[test]
fn a_delete_past_the_threshold_returns_and_the_builder_rebuilds() {
    let data = clustered(2000, DIM, 20, 23);
    let t = TempDb::new("builder-deleted");
    let db = indexed(&t, &data, 2000);
    let (mid, go) = stop_first_build(t.path());
    // 450 of 2000 is past 20 %.
    delete(&db, 0..450);
    wait_mid_build(&mid);
    assert_eq!(part_layout(t.path()), vec![(2000, 450, true)]);
    assert_eq!(db.count("c", "").unwrap(), 1550);
    assert_gone(&db, &data, 7);
    delete(&db, 450..460);
    go.send(()).unwrap();
    wait_for_builder(t.path());
    // The rebuilt graph holds the 1550 rows the build read, 10 of them deleted meanwhile.
    assert_eq!(part_layout(t.path()), vec![(1550, 10, true)]);
    assert_eq!(db.count("c", "").unwrap(), 1540);
    assert_eq!(pending_rows(&db), 0);
    Db::verify(t.path()).unwrap();
    for i in [460, 1000, 1999] {
        assert_found(&db, &data, i);
    }
    assert_gone(&db, &data, 455);
}

/// A process SIGKILLed while the rebuild its delete started is mid-build: the delete is durable (the
/// rows stay deleted), every other row is found, and the next delete's builder rebuilds.
#[test]
fn a_process_killed_mid_rebuild_after_a_delete_loses_nothing() {
    let data = clustered(3000, DIM, 20, 22);
    let t = TempDb::new("builder-killed-rebuild");
    drop(indexed(&t, &data, 2000));
    kill_mid_build(t.path(), "delete");
    Db::verify(t.path()).unwrap();
    assert_eq!(part_layout(t.path()), vec![(2000, 450, true)]);
    let db = t.open();
    assert_eq!(db.count("c", "").unwrap(), 1550);
    for i in [0, 200, 449] {
        assert_gone(&db, &data, i);
    }
    for i in (450..2000).step_by(97).chain([1999]) {
        assert_found(&db, &data, i);
    }
    delete(&db, 450..451);
    wait_for_builder(t.path());
    assert_eq!(part_layout(t.path()), vec![(1549, 0, true)]);
    for i in [451, 1999] {
        assert_found(&db, &data, i);
    }
}

/// The builder consumes the indexed part and the sealed tail part, not the unsealed parts after it: a
/// write that merges those unsealed parts while the build runs does not make it build again (one
/// attempt; a build of the whole tail would have read them and been dropped).
#[test]
fn a_merge_of_unsealed_parts_during_a_build_of_sealed_parts_does_not_retry() {
    let seal = covec::internals::engine::SEAL_ROWS as usize;
    let n = 2000 + seal + 131;
    let data = clustered(n, DIM, 20, 24);
    let t = TempDb::new("builder-sealed");
    let db = indexed(&t, &data, 2000);
    // Holding the build lock, so that no builder starts: a sealed part, then unsealed ones after it.
    let held = BuildLock::wait(t.path()).unwrap();
    let at = 2000 + seal;
    insert_rows(&db, &data, DIM, 2000..at);
    insert_rows(&db, &data, DIM, at..at + 100);
    insert_rows(&db, &data, DIM, at + 100..at + 110);
    drop(held);
    let attempts = count_attempts(t.path());
    let (mid, go) = stop_first_build(t.path());
    // This write starts a builder.
    insert_rows(&db, &data, DIM, at + 110..at + 111);
    wait_mid_build(&mid);
    let s = seal as u64;
    let before = vec![
        (2000, 0, true),
        (s, 0, false),
        (100, 0, false),
        (10, 0, false),
        (1, 0, false),
    ];
    assert_eq!(part_layout(t.path()), before);
    // 20 rows merge by size with the parts of 10 and 1 rows.
    insert_rows(&db, &data, DIM, at + 111..at + 131);
    assert_eq!(part_layout(t.path())[3..], [(31, 0, false)]);
    go.send(()).unwrap();
    wait_for_builder(t.path());
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "the build was kept");
    let after = vec![(2000 + s, 0, true), (100, 0, false), (31, 0, false)];
    assert_eq!(part_layout(t.path()), after);
    assert_eq!(pending_rows(&db), 131);
    assert_eq!(db.count("c", "").unwrap(), n as u64);
    for i in [0, 2000, at - 1, at, at + 130] {
        assert_found(&db, &data, i);
    }
}

/// A write that takes the tail past MAX_TAIL_ROWS returns once a build brings it back under: the
/// sealed part goes into the graph, the unsealed remainder stays in the tail.
#[test]
fn a_writer_past_the_bound_returns_once_the_tail_is_back_under_it() {
    let bound = MAX_TAIL_ROWS as usize;
    let sealed = bound - 384;
    let n = 2000 + sealed + 400;
    let data = clustered(n, DIM, 20, 25);
    let t = TempDb::new("builder-bound");
    let db = indexed(&t, &data, 2000);
    let held = BuildLock::wait(t.path()).unwrap();
    let at = 2000 + sealed;
    insert_rows(&db, &data, DIM, 2000..at);
    insert_rows(&db, &data, DIM, at..at + 100);
    drop(held);
    let attempts = count_attempts(t.path());
    // 300 rows merge with the 100 into 400: the tail is 16 rows past the bound.
    insert_rows(&db, &data, DIM, at + 100..n);
    let after = vec![((2000 + sealed) as u64, 0, true), (400, 0, false)];
    assert_eq!(part_layout(t.path()), after);
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(pending_rows(&db), 400);
    for i in [0, 2000, at - 1, n - 1] {
        assert_found(&db, &data, i);
    }
}

/// Writers past the bound together can leave more than MAX_TAIL_ROWS in unsealed parts (each commits
/// before it waits; one writer alone cannot: its part is the only one it adds past the bound). The
/// writer whose sealed build leaves that much then builds the whole tail too, so it still returns
/// within the bound.
#[test]
fn a_writer_past_the_bound_with_a_large_unsealed_remainder_builds_the_whole_tail() {
    let seal = covec::internals::engine::SEAL_ROWS as usize;
    // Shrinking sizes: no part merges with the larger one before it.
    let sizes = [seal, seal - 1, seal - 2, seal - 3, seal - 4, seal - 5];
    let n = 2000 + sizes.iter().sum::<usize>();
    let data = clustered(n, DIM, 20, 27);
    let t = TempDb::new("builder-bound-unsealed");
    let db = indexed(&t, &data, 2000);
    let held = BuildLock::wait(t.path()).unwrap();
    let mut ranges = Vec::new();
    let mut at = 2000;
    for &size in &sizes {
        ranges.push(at..at + size);
        at += size;
    }
    for r in &ranges[..4] {
        insert_rows(&db, &data, DIM, r.clone());
    }
    drop(held);
    let attempts = count_attempts(t.path());
    let (mid, go) = stop_first_build(t.path());
    std::thread::scope(|s| {
        // Past the bound: commits, then builds the sealed part (stopped mid-build).
        let a = s.spawn(|| insert_rows(&db, &data, DIM, ranges[4].clone()));
        wait_mid_build(&mid);
        // Commits, then waits for the build lock the first writer holds.
        let b = s.spawn(|| insert_rows(&db, &data, DIM, ranges[5].clone()));
        while db.count("c", "").unwrap() < n as u64 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let unsealed: u64 = sizes[1..].iter().map(|&r| r as u64).sum();
        assert!(unsealed > MAX_TAIL_ROWS);
        let layout: Vec<u64> = part_layout(t.path()).iter().map(|p| p.0).collect();
        let want: Vec<u64> = std::iter::once(2000)
            .chain(sizes.iter().map(|&r| r as u64))
            .collect();
        assert_eq!(layout, want);
        go.send(()).unwrap();
        a.join().unwrap();
        // The first writer returned: its sealed build, then the whole tail's.
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
        assert_eq!(part_layout(t.path()), vec![(n as u64, 0, true)]);
        b.join().unwrap();
    });
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        2,
        "the second writer built nothing"
    );
    for i in [0, 2000, n - 1] {
        assert_found(&db, &data, i);
    }
}

/// A background build that fails (here its hook fails it, as a failed write of its commit would)
/// fails no write: the builder's error and that of a writer past the bound are kept and shown by
/// describe_collection, the rows are committed and searched exactly, and a build that succeeds (flush)
/// clears the error.
#[test]
fn a_failed_background_build_fails_no_write_and_is_reported() {
    let bound = MAX_TAIL_ROWS as usize;
    let n = bound + 1100;
    let data = clustered(n, DIM, 20, 26);
    let t = TempDb::new("builder-fails");
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
        .unwrap();
    let failing = Arc::new(AtomicBool::new(true));
    let fail = Arc::clone(&failing);
    on_mid_build(t.path(), move || match fail.load(Ordering::SeqCst) {
        true => Err(std::io::Error::other("injected build failure")),
        false => Ok(()),
    });
    let error = |db: &Db| db.describe_collection("c").unwrap().build_error;
    // The builder thread's build fails.
    insert_rows(&db, &data, DIM, 0..1100);
    wait_for_builder(t.path());
    let e = error(&db).expect("the builder's error is kept");
    assert!(e.contains("injected build failure"), "{e}");
    assert_eq!(pending_rows(&db), 1100);
    // A writer past the bound whose build fails: its rows are committed, and it returns them.
    let ids = db
        .insert(
            "c",
            (1100..n)
                .map(|i| simple_row(i as i64, &data[i * DIM..(i + 1) * DIM], "t"))
                .collect(),
        )
        .unwrap();
    assert_eq!(ids.len(), n - 1100);
    assert!(error(&db).is_some_and(|e| e.contains("injected build failure")));
    assert_eq!(
        (db.count("c", "").unwrap(), pending_rows(&db)),
        (n as u64, n as u64)
    );
    for i in [0, 1100, n - 1] {
        assert_found(&db, &data, i);
    }
    failing.store(false, Ordering::SeqCst);
    db.flush("c").unwrap();
    assert_eq!((error(&db), pending_rows(&db)), (None, 0));
    assert_eq!(part_layout(t.path()), vec![(n as u64, 0, true)]);
}
