//! The background builder (docs/ann.md, "The builder"): a write that takes the tail past the start
//! threshold returns at once and leaves the graph to a builder thread, which publishes it as its own
//! commit; a write committed while that build runs lands and is kept; a process killed mid-build loses
//! no row, and the next writer's builder indexes the tail.

mod hnsw_support;
mod storage_util;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use covec::internals::builder::set_mid_build_hook;
use covec::{Db, Pk};
use hnsw_support::{clustered, hnsw_on_v, wait_for_builder};
use storage_util::{nearest, simple_row, simple_schema, stored_vector, TempDb};

const DIM: usize = 16;

fn insert(db: &Db, data: &[f32], ids: std::ops::Range<usize>) {
    let rows = ids
        .map(|i| simple_row(i as i64, &data[i * DIM..(i + 1) * DIM], "t"))
        .collect();
    db.insert("c", rows).unwrap();
}

fn pending(db: &Db) -> u64 {
    db.describe_collection("c").unwrap().pending_index_rows
}

/// Per part: (rows, has a graph).
fn parts(path: &Path) -> Vec<(u64, bool)> {
    let bytes = std::fs::read(path).unwrap();
    let snap = covec::internals::engine::Snapshot::open(&bytes).unwrap();
    snap.catalog()
        .collection("default", "c")
        .unwrap()
        .parts
        .iter()
        .map(|p| (p.rows, !p.ann.is_empty()))
        .collect()
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
    let (mid_tx, mid_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (mid_tx, go_rx) = (Mutex::new(mid_tx), Mutex::new(go_rx));
    let ours = canonical(t.path());
    let once = Arc::new(AtomicBool::new(false));
    set_mid_build_hook(Some(Box::new(move |path: &Path| {
        if path == ours && !once.swap(true, Ordering::SeqCst) {
            mid_tx.lock().unwrap().send(()).unwrap();
            go_rx.lock().unwrap().recv().unwrap();
        }
    })));
    // 2000 rows and no graph: the write starts a builder and returns.
    insert(&db, &data, 0..2000);
    // Only a hang guard: the builder has prepared its graph and waits for us.
    mid_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the builder reached mid-build");
    insert(&db, &data, 2000..2100);
    assert_eq!(db.count("c", "").unwrap(), 2100);
    assert_eq!(pending(&db), 2100, "nothing is indexed yet");
    assert!(parts(t.path()).iter().all(|&(_, graph)| !graph));
    assert_found(&db, &data, 2050);
    go_tx.send(()).unwrap();
    wait_for_builder(t.path());
    set_mid_build_hook(None);
    // The builder's commit: the 2000 rows it read in a graph, the write made meanwhile after it.
    assert_eq!(parts(t.path()), vec![(2000, true), (100, false)]);
    assert_eq!(pending(&db), 100);
    assert_eq!(db.count("c", "").unwrap(), 2100);
    Db::verify(t.path()).unwrap();
    for i in [0, 999, 1999, 2000, 2099] {
        assert_found(&db, &data, i);
    }
}

/// The child's side of the kill test: a write that starts a builder, which the hook stops mid-build
/// after saying so; the child then waits to be killed.
const CHILD_DB: &str = "COVEC_TEST_BUILDER_CHILD_DB";

#[test]
fn child_builds_in_the_background_when_asked() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    set_mid_build_hook(Some(Box::new(|_: &Path| {
        println!("building");
        loop {
            std::thread::park();
        }
    })));
    let db = Db::open(path.as_ref(), &storage_util::options()).unwrap();
    let data = clustered(3000, DIM, 20, 22);
    insert(&db, &data, 2000..2600);
    println!("inserted");
    // The builder holds the build lock until it is killed with this process.
    wait_for_builder(path.as_ref());
    unreachable!("the builder never finishes");
}

/// A process SIGKILLed while its builder is mid-build (after its write returned, before the build's
/// commit): the db verifies and holds every row, the tail is pending, and the next writer's builder
/// indexes it.
#[test]
fn a_process_killed_mid_background_build_loses_no_row() {
    let data = clustered(3000, DIM, 20, 22);
    let t = TempDb::new("builder-killed");
    {
        let db = t.open();
        db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
            .unwrap();
        insert(&db, &data, 0..2000);
        wait_for_builder(t.path());
        assert_eq!(pending(&db), 0);
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_builds_in_the_background_when_asked",
            "--nocapture",
        ])
        .env(CHILD_DB, t.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (mut seen, mut line) = (Vec::new(), String::new());
    while !(seen.contains(&"building".to_string()) && seen.contains(&"inserted".to_string())) {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0,
            "the child ended before its builder was mid-build: {seen:?}"
        );
        seen.push(line.trim().to_string());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    Db::verify(t.path()).unwrap();
    let db = t.open();
    assert_eq!(db.count("c", "").unwrap(), 2600);
    assert_eq!(pending(&db), 600, "the build was lost, no row was");
    for i in (0..2600).step_by(131).chain([2599]) {
        assert_found(&db, &data, i);
    }
    // The next writer's commit finds the tail past the threshold and its builder indexes it.
    insert(&db, &data, 2600..2610);
    wait_for_builder(t.path());
    assert_eq!(pending(&db), 0);
    assert_eq!(parts(t.path()), vec![(2610, true)]);
    assert_eq!(db.count("c", "").unwrap(), 2610);
    for i in [0, 2000, 2599, 2609] {
        assert_found(&db, &data, i);
    }
}
