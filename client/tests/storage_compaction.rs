//! Compaction leaves writers' commits (docs/format.md, "Compaction"): a commit after which the file is
//! past twice its live bytes returns without compacting and starts a builder, which copies the live
//! sections without the writer lock; a write made while it copies lands, and survives its rename.

mod storage_util;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use covec::internals::builder::{set_mid_compaction_hook, BuildLock};
use covec::internals::format::{self, MetaSlot};
use covec::{Db, Pk};
use storage_util::{simple_row, simple_schema, TempDb};

const DIM: usize = 256;

fn newest_meta(path: &Path) -> MetaSlot {
    let bytes = std::fs::read(path).unwrap();
    format::decode_header(&bytes, bytes.len() as u64, path)
        .unwrap()
        .1
}

/// The file past twice its live bytes plus 1 MiB: what makes a compaction due.
fn due(path: &Path) -> bool {
    let m = newest_meta(path);
    m.committed_len > 2 * m.live_bytes + (1 << 20)
}

fn rows(ids: std::ops::Range<i64>, x: f32) -> Vec<covec::Row> {
    ids.map(|i| simple_row(i, [x; DIM], "t")).collect()
}

fn ino(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

#[test]
fn a_commit_that_makes_compaction_due_leaves_it_to_the_builder() {
    let t = TempDb::new("compact-builder");
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![])
        .unwrap();
    // 2000 rows of 1 KiB, rewritten once (the old part dead), then 30 % of them deleted, which a
    // merge leaves in place: not yet due.
    db.insert("c", rows(0..2000, 1.0)).unwrap();
    db.upsert("c", rows(0..2000, 2.0), false).unwrap();
    let ids: Vec<Pk> = (0..600).map(Pk::Int).collect();
    db.delete_ids("c", &ids).unwrap();
    drop(BuildLock::wait(t.path()).unwrap());
    assert!(!due(t.path()));
    let (parked_tx, parked_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (parked_tx, go_rx) = (Mutex::new(parked_tx), Mutex::new(go_rx));
    let ours = std::fs::canonicalize(t.path()).unwrap();
    set_mid_compaction_hook(Some(Box::new(move |p: &Path| {
        if p == ours || std::fs::canonicalize(p).is_ok_and(|p| p == ours) {
            parked_tx.lock().unwrap().send(()).unwrap();
            go_rx.lock().unwrap().recv().unwrap();
        }
        Ok(())
    })));
    // One more deleted row passes 30 %: the commit rewrites the live rows as one part, which makes
    // the file due. It returns without compacting (same inode: a compaction renames a new file over
    // the path), and a builder compacts, stopped by the hook after its copy.
    let before = ino(t.path());
    db.delete_ids("c", &[Pk::Int(600)]).unwrap();
    assert!(due(t.path()), "the one-row delete made compaction due");
    assert_eq!(ino(t.path()), before, "the commit did not compact");
    parked_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the builder compacts");
    // A write while the builder's copy waits lands (the builder holds no writer lock) ...
    let (done_tx, done_rx) = mpsc::channel();
    let path = t.path().to_path_buf();
    std::thread::spawn(move || {
        let db = Db::open(&path, &storage_util::options()).unwrap();
        db.insert("c", rows(5000..5001, 5.0)).unwrap();
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the write landed during the compaction's copy");
    assert_eq!(ino(t.path()), before);
    go_tx.send(()).unwrap();
    drop(BuildLock::wait(t.path()).unwrap());
    // ... and survives the compaction's rename.
    assert_ne!(ino(t.path()), before, "the builder compacted");
    let m = newest_meta(t.path());
    assert!(m.committed_len - m.live_bytes < 8192, "{m:?}");
    Db::verify(t.path()).unwrap();
    let db = t.open();
    assert_eq!(db.count("c", "").unwrap(), 1400);
    let got = db
        .get("c", &[Pk::Int(5000), Pk::Int(1999)], &storage_util::all())
        .unwrap();
    assert_eq!(got.len(), 2);
    assert!(db
        .get("c", &[Pk::Int(600)], &storage_util::all())
        .unwrap()
        .is_empty());
}
