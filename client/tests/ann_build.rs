//! A graph build prepared outside the writer lock (`prepare_index_pending`, what `flush` does) and
//! taken under it (`plan_take_build`): writes committed meanwhile are kept (deletions carried into the
//! new part by row), a rewrite of a part it read drops it, a file compaction (offsets moved) does not;
//! and a process SIGKILLed while it builds loses no row.

mod hnsw_support;
mod storage_util;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use covec::internals::engine::{
    plan_take_build, prepare_index_pending, BuildScope, PreparedBuild, Snapshot,
};
use covec::internals::store::{CommittedImage, Writer};
use covec::{Db, OutputFields, Pk, Value};
use hnsw_support::{clustered, hnsw_on_v};
use storage_util::{
    insert_rows, nearest, part_layout, pending_rows, simple_row, simple_schema, stored_vector,
    TempDb,
};

const DIM: usize = 16;

/// A db whose collection "c" has `indexed` rows in its graph and `tail` rows after them.
fn indexed_with_tail(t: &TempDb, data: &[f32], indexed: usize, tail: usize) -> Db {
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
        .unwrap();
    insert_rows(&db, data, DIM, 0..indexed);
    // The first write started a builder; flush waits for it (and builds what it left).
    db.flush("c").unwrap();
    insert_rows(&db, data, DIM, indexed..indexed + tail);
    assert_eq!(pending_rows(&db), tail as u64);
    db
}

/// The newest generation's build, prepared without the writer lock.
fn prepare(t: &TempDb) -> PreparedBuild {
    let image = CommittedImage::open(t.path()).unwrap();
    let map = image.map().unwrap();
    let snap = Snapshot::open_root(&map, *image.meta(), t.path()).unwrap();
    prepare_index_pending(&snap, "c".into(), BuildScope::Tail)
        .unwrap()
        .expect("rows pending")
}

/// Takes the writer lock and commits `build` if it still applies, appending its bytes (the path a build
/// takes when its reservation went with a compacted file); whether it did.
fn take(t: &TempDb, build: PreparedBuild) -> bool {
    let writer = Writer::lock(t.path()).unwrap();
    let mut b = writer.builder();
    let next = {
        let snap = Snapshot::open(writer.image()).unwrap();
        plan_take_build(&snap, &mut b, build, None).unwrap()
    };
    match next {
        Some(catalog) => {
            writer.commit(b, &catalog).unwrap();
            true
        }
        None => false,
    }
}

fn row_of(data: &[f32], i: usize) -> &[f32] {
    &data[i * DIM..(i + 1) * DIM]
}

/// A search for row `i`'s vector finds row `i` first.
fn assert_found(db: &Db, data: &[f32], i: usize) {
    let want = Some(Pk::Int(i as i64));
    assert_eq!(nearest(db, row_of(data, i)), want, "row {i}");
}

#[test]
fn writes_committed_while_a_build_runs_are_kept_and_its_deletions_carried() {
    let data = clustered(2300, DIM, 20, 11);
    let t = TempDb::new("build-meanwhile");
    let db = indexed_with_tail(&t, &data, 2000, 150);
    let build = prepare(&t);
    assert_eq!(build.rows(), 2150);
    // Meanwhile: a delete in the indexed part and one in the tail, an upsert of an indexed row with
    // another vector, and new rows.
    db.delete_ids("c", &[Pk::Int(5), Pk::Int(2060)]).unwrap();
    db.upsert(
        "c",
        vec![simple_row(7, row_of(&data, 2299), "moved")],
        false,
    )
    .unwrap();
    insert_rows(&db, &data, DIM, 2150..2170);
    assert!(take(&t, build));
    Db::verify(t.path()).unwrap();
    let p = part_layout(t.path());
    // The new part first, holding every row the build read, those deleted meanwhile marked; then
    // the parts written meanwhile, as they were.
    assert_eq!(p[0], (2150, 3, true), "{p:?}");
    assert!(p[1..].iter().all(|&(_, _, graph)| !graph), "{p:?}");
    assert_eq!(p[1..].iter().map(|x| x.0 - x.1).sum::<u64>(), 21, "{p:?}");
    assert_eq!(db.count("c", "").unwrap(), 2150 - 2 + 20);
    assert_eq!(pending_rows(&db), 21);
    for gone in [5, 2060] {
        assert_ne!(
            nearest(&db, row_of(&data, gone)),
            Some(Pk::Int(gone as i64))
        );
        assert!(db
            .get("c", &[Pk::Int(gone as i64)], &OutputFields::default())
            .unwrap()
            .is_empty());
    }
    assert_eq!(stored_vector(&db, 7), Some(row_of(&data, 2299).to_vec()));
    for i in [0, 1999, 2000, 2149, 2169] {
        assert_found(&db, &data, i);
    }
    // What was written meanwhile goes into the graph at the next flush.
    db.flush("c").unwrap();
    assert_eq!(pending_rows(&db), 0);
    assert_eq!(db.count("c", "").unwrap(), 2168);
}

#[test]
fn a_build_whose_parts_were_rewritten_is_dropped_and_one_whose_parts_moved_is_kept() {
    let data = clustered(2200, DIM, 20, 12);
    let t = TempDb::new("build-dropped");
    let db = indexed_with_tail(&t, &data, 2000, 100);
    // A compaction of the collection rewrites every part the build read (its graph too).
    let build = prepare(&t);
    db.delete_ids("c", &[Pk::Int(3)]).unwrap();
    db.compact("c").unwrap();
    let before = std::fs::read(t.path()).unwrap();
    assert!(!take(&t, build));
    assert_eq!(
        std::fs::read(t.path()).unwrap(),
        before,
        "nothing committed"
    );
    // A file compaction moves sections but keeps every part: the build applies.
    insert_rows(&db, &data, DIM, 2100..2150);
    let build = prepare(&t);
    for i in 0..20 {
        db.delete_ids("c", &[Pk::Int(100 + i)]).unwrap();
    }
    let moved = {
        let _build = covec::internals::builder::BuildLock::wait(t.path()).unwrap();
        covec::internals::store::compact(t.path(), false, || Ok(()))
            .unwrap()
            .expect("the file held dead bytes")
    };
    assert!(std::fs::metadata(t.path()).unwrap().len() <= moved.committed_len);
    assert!(take(&t, build));
    Db::verify(t.path()).unwrap();
    assert_eq!(part_layout(t.path()), vec![(2149, 20, true)]);
    assert_eq!(pending_rows(&db), 0);
    assert_eq!(db.count("c", "").unwrap(), 2129);
}

/// Rounds of: a build prepared, then random writes (deletes, upserts with new vectors, inserts into
/// `_default` and a partition, the partition dropped and created again), then the build taken if it
/// still applies (else flushed under the usual path). After every round the collection holds exactly
/// the rows a model of those writes holds, with their vectors, and the file verifies.
#[test]
fn a_build_taken_after_random_writes_leaves_exactly_what_they_wrote() {
    use std::collections::BTreeMap;
    let mut rng = hnsw_support::Rng::new(20);
    let t = TempDb::new("build-random");
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
        .unwrap();
    let partition = ["p".to_string()];
    let in_p = covec::Scope {
        partitions: &partition,
        ..covec::Scope::from("c")
    };
    db.create_partition("c", "p").unwrap();
    let mut model: BTreeMap<i64, (Vec<f32>, bool)> = BTreeMap::new();
    let mut next_id = 0i64;
    let vector =
        |rng: &mut hnsw_support::Rng| -> Vec<f32> { (0..DIM).map(|_| rng.normal()).collect() };
    let mut write = |db: &Db,
                     model: &mut BTreeMap<i64, (Vec<f32>, bool)>,
                     n: usize,
                     to_p: bool,
                     rng: &mut hnsw_support::Rng| {
        let rows: Vec<_> = (0..n)
            .map(|_| {
                next_id += 1;
                let v = vector(rng);
                model.insert(next_id, (v.clone(), to_p));
                simple_row(next_id, v, "r")
            })
            .collect();
        match to_p {
            true => db.insert(in_p, rows).unwrap(),
            false => db.insert("c", rows).unwrap(),
        };
    };
    write(&db, &mut model, 1500, false, &mut rng);
    let (mut kept, mut dropped) = (0, 0);
    for round in 0..8 {
        write(&db, &mut model, 60 + round * 7, round % 2 == 1, &mut rng);
        let build = prepare(&t);
        for _ in 0..6 {
            let ids: Vec<i64> = model.keys().copied().collect();
            let pick = ids[(rng.next_u64() % ids.len() as u64) as usize];
            match rng.next_u64() % 6 {
                0 => {
                    db.delete_ids("c", &[Pk::Int(pick)]).unwrap();
                    model.remove(&pick);
                }
                1 if !model[&pick].1 => {
                    let v = vector(&mut rng);
                    db.upsert("c", vec![simple_row(pick, &v, "u")], false)
                        .unwrap();
                    model.insert(pick, (v, false));
                }
                2 if round == 5 => {
                    db.drop_partition("c", "p").unwrap();
                    model.retain(|_, (_, p)| !*p);
                    db.create_partition("c", "p").unwrap();
                }
                3 => write(
                    &db,
                    &mut model,
                    1 + (rng.next_u64() % 40) as usize,
                    true,
                    &mut rng,
                ),
                _ => write(
                    &db,
                    &mut model,
                    1 + (rng.next_u64() % 40) as usize,
                    false,
                    &mut rng,
                ),
            }
        }
        if take(&t, build) {
            kept += 1;
        } else {
            dropped += 1;
            db.flush("c").unwrap();
        }
        Db::verify(t.path()).unwrap();
        let rows = db.query("c", "", &storage_util::all(), None, 0).unwrap();
        let held: BTreeMap<i64, Vec<f32>> = rows
            .iter()
            .map(|r| {
                let id = match r[0].1 {
                    Value::Int(id) => id,
                    ref other => panic!("{other:?}"),
                };
                match &r[1].1 {
                    Value::FloatVector(v) => (id, v.clone()),
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        let want: BTreeMap<i64, Vec<f32>> =
            model.iter().map(|(&id, (v, _))| (id, v.clone())).collect();
        // Compared by id, so a failure names the rows that differ rather than printing them all.
        let extra: Vec<i64> = held
            .keys()
            .filter(|id| !want.contains_key(id))
            .copied()
            .collect();
        let missing: Vec<i64> = want
            .keys()
            .filter(|id| !held.contains_key(id))
            .copied()
            .collect();
        let changed: Vec<i64> = want
            .iter()
            .filter(|(id, v)| held.get(id).is_some_and(|h| h != *v))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(
            (extra, missing, changed),
            Default::default(),
            "round {round}: extra, missing, changed"
        );
        assert_eq!(db.count("c", "").unwrap(), model.len() as u64);
    }
    // Both outcomes happened: the test exercised carrying deletions and dropping a stale build.
    assert!(kept > 0 && dropped > 0, "{kept} kept, {dropped} dropped");
}

/// The child's side of the crash test: flush, as a writing process does (see below).
const CHILD_DB: &str = "COVEC_TEST_BUILD_CHILD_DB";

#[test]
fn child_flushes_when_asked() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    let db = Db::open(path.as_ref(), &storage_util::options()).unwrap();
    println!("flushing");
    db.flush("c").unwrap();
    println!("flushed");
}

/// Runs this test binary's `child_flushes_when_asked` on `path`; returns the child once it has begun
/// its flush.
fn spawn_flush(path: &std::path::Path) -> std::process::Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_flushes_when_asked", "--nocapture"])
        .env(CHILD_DB, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("flushing") {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0,
            "the child ended before flushing"
        );
    }
    // Keep reading what it prints, so its writes never meet a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    child
}

/// A process SIGKILLed at points through a flush (most inside the build, outside the writer lock; some
/// after its commit): the db opens, verifies, holds every row with its vector, and pending_index_rows
/// counts the tail unless the flush committed; the next flush indexes it.
#[test]
fn a_writer_killed_while_it_builds_loses_no_row() {
    let (indexed, tail) = (2000, 180);
    let data = clustered(indexed + tail, DIM, 20, 13);
    let t = TempDb::new("build-killed");
    let db = indexed_with_tail(&t, &data, indexed, tail);
    drop(db);
    let original = std::fs::read(t.path()).unwrap();
    // How long a whole flush takes here, to spread the kills over it.
    let start = Instant::now();
    let status = spawn_flush(t.path()).wait().unwrap();
    assert!(status.success());
    let whole = start.elapsed();
    let mut committed = 0;
    for k in 0..6u32 {
        std::fs::write(t.path(), &original).unwrap();
        let mut child = spawn_flush(t.path());
        std::thread::sleep(whole * k / 5 + Duration::from_millis(5));
        let _ = child.kill();
        child.wait().unwrap();
        Db::verify(t.path()).unwrap();
        let db = t.open();
        assert_eq!(db.count("c", "").unwrap(), (indexed + tail) as u64);
        let left = pending_rows(&db);
        assert!(left == tail as u64 || left == 0, "{left} pending");
        committed += u32::from(left == 0);
        for i in (0..indexed + tail).step_by(97).chain([indexed + tail - 1]) {
            assert_eq!(stored_vector(&db, i), Some(row_of(&data, i).to_vec()));
            assert_found(&db, &data, i);
        }
        db.flush("c").unwrap();
        assert_eq!(pending_rows(&db), 0);
        assert_eq!(db.count("c", "").unwrap(), (indexed + tail) as u64);
    }
    // The kills landed before the commit at least once (the early ones land in the build).
    assert!(committed < 6, "every kill came after the commit");
}
