//! The graph's life cycle through commits: rows written after the build (the tail) and deletions are
//! searched correctly, the graph is rebuilt only past the tail and deletion thresholds, merges never
//! drop it, and create_index / drop_index build and remove it.

mod hnsw_support;
mod storage_util;

use covec::internals::engine::{MAX_TAIL_ROWS, SEAL_ROWS};
use covec::internals::hnsw::BATCH;
use covec::{Db, IndexKind, IndexSpec, OutputFields, Pk, SearchRequest};
use hnsw_support::{clustered, hnsw_on_v, wait_for_builder};
use storage_util::{insert_rows, parts_of_c, pending_rows, simple_schema, TempDb};

const DIM: usize = 16;

/// A sparse, cheap graph, for tests about which rows are in it, not how good it is.
fn cheap_hnsw() -> IndexSpec {
    IndexSpec {
        params: vec![
            ("M".into(), "4".into()),
            ("efConstruction".into(), "8".into()),
        ],
        ..hnsw_on_v()
    }
}

/// Per part: (rows, deleted, graph section checksum: compaction may move it, a rebuild changes it).
fn parts(t: &TempDb) -> Vec<(u64, u64, Option<u64>)> {
    parts_of_c(t.path())
        .iter()
        .map(|p| (p.rows, p.deleted_count, p.ann.first().map(|a| a.graph.xxh3)))
        .collect()
}

/// The top hit's id for each row's own vector, searched with the graph.
fn nearest(db: &Db, data: &[f32], ids: &[usize]) -> Vec<Option<Pk>> {
    let request = SearchRequest {
        anns_field: None,
        vectors: ids
            .iter()
            .flat_map(|&i| data[i * DIM..(i + 1) * DIM].iter().copied())
            .collect::<Vec<f32>>()
            .into(),
        nq: ids.len(),
        limit: 3,
        offset: 0,
        filter: String::new(),
        output: OutputFields::default(),
        metric: None,
        params: vec![("ef".into(), "32".into())],
        ..SearchRequest::default()
    };
    db.search("c", &request)
        .unwrap()
        .into_iter()
        .map(|hits| hits.first().map(|h| h.id.clone()))
        .collect()
}

#[test]
fn tail_and_deletions_until_rebuild() {
    let data = clustered(4000, DIM, 20, 5);
    let t = TempDb::new("ann-tail");
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
        .unwrap();
    // Below 1024 rows: no graph.
    insert_rows(&db, &data, DIM, 0..1000);
    assert_eq!(parts(&t)[0].2, None);
    // Crossing 1024 starts a builder, which builds one indexed part of every row.
    insert_rows(&db, &data, DIM, 1000..2000);
    wait_for_builder(t.path());
    let built = parts(&t);
    assert_eq!(built.len(), 1);
    let graph = built[0].2.expect("a graph over 2000 rows");
    // A tail of 10 % or less is searched exactly beside the graph; the second write, as large as the
    // first, merges with it into one tail part.
    insert_rows(&db, &data, DIM, 2000..2075);
    insert_rows(&db, &data, DIM, 2075..2150);
    let p = parts(&t);
    assert_eq!((p.len(), p[0].2), (2, Some(graph)));
    assert_eq!((p[1].0, p[1].2), (150, None));
    let probe = [5, 1500, 2060, 2149];
    let want: Vec<Option<Pk>> = probe.iter().map(|&i| Some(Pk::Int(i as i64))).collect();
    assert_eq!(nearest(&db, &data, &probe), want);
    // Deleted rows, indexed or in the tail, are never returned.
    let gone: Vec<Pk> = [5i64, 2060].iter().map(|&i| Pk::Int(i)).collect();
    db.delete_ids("c", &gone).unwrap();
    let hits = nearest(&db, &data, &[5, 2060]);
    assert!(hits
        .iter()
        .all(|h| h.as_ref().is_some_and(|id| !gone.contains(id))));
    assert_eq!(parts(&t)[0].2, Some(graph), "a delete does not rebuild");
    // Many small tail writes merge the tail parts only; the graph stays.
    for i in 2150..2158 {
        insert_rows(&db, &data, DIM, i..i + 1);
    }
    let p = parts(&t);
    assert!(p.len() <= 8, "{p:?}");
    assert_eq!(p[0].2, Some(graph));
    assert_eq!(nearest(&db, &data, &[2157]), vec![Some(Pk::Int(2157))]);
    // The tail passing 10 % of the indexed rows (200) starts a builder, which rebuilds: one part, a
    // new graph.
    insert_rows(&db, &data, DIM, 2158..2250);
    wait_for_builder(t.path());
    let p = parts(&t);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].0, 2248);
    let rebuilt = p[0].2.expect("rebuilt graph");
    assert_ne!(rebuilt, graph);
    // Deleting more than 20 % of the indexed rows (449) starts a builder, which rebuilds without them.
    let doomed: Vec<Pk> = (0..400).map(|i| Pk::Int(i as i64)).collect();
    db.delete_ids("c", &doomed).unwrap();
    wait_for_builder(t.path());
    assert_eq!(parts(&t)[0].2, Some(rebuilt), "20 % not yet passed");
    let more: Vec<Pk> = (400..500).map(|i| Pk::Int(i as i64)).collect();
    db.delete_ids("c", &more).unwrap();
    wait_for_builder(t.path());
    let p = parts(&t);
    assert_eq!((p.len(), p[0].0, p[0].1), (1, 1749, 0));
    assert!(p[0].2.is_some_and(|g| g != rebuilt));
    assert_eq!(
        nearest(&db, &data, &[700, 2249]),
        vec![Some(Pk::Int(700)), Some(Pk::Int(2249))]
    );
}

/// Live rows in parts without a graph: the rows every search scans exactly.
fn unindexed_live_rows(t: &TempDb) -> u64 {
    parts(t)
        .iter()
        .filter(|p| p.2.is_none())
        .map(|p| p.0 - p.1)
        .sum()
}

/// Past 10 x MAX_TAIL_ROWS indexed rows, 10 % of them is more than MAX_TAIL_ROWS: the row bound, not the
/// share, decides, so no write returns leaving more than MAX_TAIL_ROWS rows scanned exactly, however
/// large the collection grows. A write past the bound waits for a build; one within the start threshold
/// (MAX_TAIL_ROWS / 2 here) starts none.
#[test]
fn a_large_collection_never_scans_more_than_max_tail_rows_exactly() {
    let indexed = 10 * MAX_TAIL_ROWS as usize + 16 * BATCH;
    let half = MAX_TAIL_ROWS as usize / 2;
    let batch = MAX_TAIL_ROWS as usize / 4 + 4;
    let total = indexed + 2 * half + 1 + 6 * batch;
    let data = clustered(total, DIM, 50, 9);
    let t = TempDb::new("ann-tail-bound");
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![cheap_hnsw()])
        .unwrap();
    insert_rows(&db, &data, DIM, 0..indexed);
    wait_for_builder(t.path());
    let p = parts(&t);
    assert_eq!((p.len(), p[0].0), (1, indexed as u64));
    let graph = p[0].2.expect("a graph over every row");
    // MAX_TAIL_ROWS / 2 rows (under 10 % of the graph) is the start threshold, not past it: no build.
    insert_rows(&db, &data, DIM, indexed..indexed + half);
    assert_eq!(
        (unindexed_live_rows(&t), pending_rows(&db)),
        (half as u64, half as u64)
    );
    assert_eq!(parts(&t)[0].2, Some(graph), "the graph is kept");
    // One more write takes the tail past MAX_TAIL_ROWS: it returns only once they are in the graph.
    let at = indexed + half;
    insert_rows(&db, &data, DIM, at..at + half + 1);
    let p = parts(&t);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].0, (at + half + 1) as u64);
    assert!(p[0].2.is_some_and(|g| g != graph));
    assert_eq!((unindexed_live_rows(&t), pending_rows(&db)), (0, 0));
    // Writes past the start threshold start builders, which run while later writes commit: whatever
    // they have done when a write returns, the tail is within the bound.
    let at = at + half + 1;
    for k in 0..6 {
        insert_rows(&db, &data, DIM, at + k * batch..at + (k + 1) * batch);
        assert!(unindexed_live_rows(&t) <= MAX_TAIL_ROWS, "write {k}");
    }
    assert_eq!(db.count("c", "").unwrap(), total as u64);
    let probe = [3, indexed + half + 1, total - 1];
    let want: Vec<Option<Pk>> = probe.iter().map(|&i| Some(Pk::Int(i as i64))).collect();
    assert_eq!(nearest(&db, &data, &probe), want);
}

/// A tail part of SEAL_ROWS rows or more is sealed: later commits never merge it, even when more than
/// 30 % of the tail is deleted or a write as large as it would merge with it by size, so a background
/// build that read it finds it unchanged (its deletion bitmap aside).
#[test]
fn a_sealed_tail_part_is_never_merged() {
    let sealed = SEAL_ROWS as usize;
    // The graph must be 10 x the sealed part for that part to stay outside it.
    let indexed = 10 * sealed + 100;
    let data = clustered(indexed + sealed + 3000, DIM, 50, 3);
    let t = TempDb::new("ann-sealed");
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![cheap_hnsw()])
        .unwrap();
    insert_rows(&db, &data, DIM, 0..indexed);
    wait_for_builder(t.path());
    insert_rows(&db, &data, DIM, indexed..indexed + sealed);
    let p = parts(&t);
    assert_eq!(p.len(), 2, "{p:?}");
    let graph = p[0].2.expect("a graph");
    assert_eq!(p[1], (sealed as u64, 0, None));
    // Half the sealed part deleted: the tail is 50 % deleted, but only unsealed parts merge.
    let doomed: Vec<Pk> = (indexed..indexed + sealed / 2)
        .map(|i| Pk::Int(i as i64))
        .collect();
    db.delete_ids("c", &doomed).unwrap();
    let at = indexed + sealed;
    insert_rows(&db, &data, DIM, at..at + 10);
    let p = parts(&t);
    assert_eq!(p[1], (sealed as u64, sealed as u64 / 2, None), "{p:?}");
    assert_eq!(p[2], (10, 0, None), "{p:?}");
    // Unsealed parts still merge by size after it: 10 + 20 rows merge into one part of 30.
    insert_rows(&db, &data, DIM, at + 10..at + 30);
    let p = parts(&t);
    assert_eq!(p.len(), 3, "{p:?}");
    assert_eq!((p[0].2, p[1].0, p[2].0), (Some(graph), sealed as u64, 30));
    // Rows of the sealed part and after it, scanned exactly, are found.
    let probe = [at - 1, at + 9, at + 29];
    let want: Vec<Option<Pk>> = probe.iter().map(|&i| Some(Pk::Int(i as i64))).collect();
    assert_eq!(nearest(&db, &data, &probe), want);
    // A deleted row of the sealed part is never returned.
    let hit = nearest(&db, &data, &[indexed])[0].clone();
    assert!(hit.is_some_and(|id| !doomed.contains(&id)));
}

#[test]
fn flush_puts_the_tail_into_the_graph() {
    let data = clustered(2500, DIM, 20, 7);
    let t = TempDb::new("ann-flush");
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
        .unwrap();
    let generation = || db.status().unwrap().generation;
    insert_rows(&db, &data, DIM, 0..2000);
    wait_for_builder(t.path());
    let graph = parts(&t)[0].2.expect("a graph over 2000 rows");
    assert_eq!(pending_rows(&db), 0);
    insert_rows(&db, &data, DIM, 2000..2100);
    insert_rows(&db, &data, DIM, 2100..2150);
    db.delete_ids("c", &[Pk::Int(2120), Pk::Int(7)]).unwrap();
    assert_eq!(
        pending_rows(&db),
        149,
        "live tail rows, not deleted or indexed ones"
    );
    db.flush("c").unwrap();
    let p = parts(&t);
    assert_eq!(p.len(), 1, "{p:?}");
    // The indexed part lost row 7, so its graph is rebuilt over every live row.
    assert_eq!((p[0].0, p[0].1), (2148, 0));
    assert!(p[0].2.is_some_and(|g| g != graph));
    assert_eq!(pending_rows(&db), 0);
    assert_eq!(
        nearest(&db, &data, &[5, 2050, 2149]),
        vec![Some(Pk::Int(5)), Some(Pk::Int(2050)), Some(Pk::Int(2149))]
    );
    // Nothing pending: no commit.
    let before = generation();
    db.flush("c").unwrap();
    assert_eq!(generation(), before);
    // A tail on an intact graph is inserted into it (the graph's rows stay first, in order).
    insert_rows(&db, &data, DIM, 2150..2200);
    assert_eq!(pending_rows(&db), 50);
    db.flush("c").unwrap();
    let p = parts(&t);
    assert_eq!((p.len(), p[0].0, pending_rows(&db)), (1, 2198, 0));
    assert_eq!(nearest(&db, &data, &[2199]), vec![Some(Pk::Int(2199))]);
    assert!(matches!(
        db.flush("missing"),
        Err(covec::Error::CollectionNotFound { .. })
    ));
}

#[test]
fn create_index_builds_and_drop_index_removes_the_graph() {
    let data = clustered(1500, DIM, 10, 6);
    let t = TempDb::new("ann-create");
    let db = t.open();
    db.create_collection("c", simple_schema(DIM as u32), vec![])
        .unwrap();
    insert_rows(&db, &data, DIM, 0..1500);
    assert_eq!(parts(&t)[0].2, None);
    db.create_index("c", hnsw_on_v()).unwrap();
    assert!(parts(&t)[0].2.is_some());
    let spec = &db.describe_collection("c").unwrap().indexes[0];
    assert_eq!(
        (spec.kind, spec.index_type.as_str()),
        (IndexKind::Hnsw, "HNSW")
    );
    assert_eq!(nearest(&db, &data, &[42]), vec![Some(Pk::Int(42))]);
    db.drop_index("c", "v").unwrap();
    assert_eq!(parts(&t)[0].2, None);
    assert_eq!(nearest(&db, &data, &[42]), vec![Some(Pk::Int(42))]);
}

#[test]
fn bad_parameters_are_errors() {
    let t = TempDb::new("ann-params");
    let db = t.open();
    let mut spec = hnsw_on_v();
    spec.params = vec![("M".into(), "1".into())];
    let err = db
        .create_collection("c", simple_schema(DIM as u32), vec![spec])
        .unwrap_err();
    assert!(err.to_string().contains("M must be"), "{err}");
    db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
        .unwrap();
    let request = SearchRequest {
        anns_field: None,
        vectors: vec![0.0; DIM].into(),
        nq: 1,
        limit: 3,
        offset: 0,
        filter: String::new(),
        output: OutputFields::default(),
        metric: None,
        params: vec![("ef".into(), "\"lots\"".into())],
        ..SearchRequest::default()
    };
    let err = db.search("c", &request).unwrap_err();
    assert!(err.to_string().contains("ef must be"), "{err}");
}

#[test]
fn a_graph_grown_by_appends_is_the_graph_one_build_of_all_rows_makes() {
    let data = clustered(2300, DIM, 20, 8);
    let (batched, whole) = (TempDb::new("ann-extend-a"), TempDb::new("ann-extend-b"));
    let (a, b) = (batched.open(), whole.open());
    for db in [&a, &b] {
        db.create_collection("c", simple_schema(DIM as u32), vec![hnsw_on_v()])
            .unwrap();
    }
    // The first graph ends where a build batch does, so growing it inserts whole batches as one build
    // does (see `hnsw::extend`).
    let first = 8 * BATCH;
    insert_rows(&a, &data, DIM, 0..first);
    wait_for_builder(batched.path());
    insert_rows(&a, &data, DIM, first..2300); // a tail of 12 %: past the threshold, so the builder grows it
    wait_for_builder(batched.path());
    insert_rows(&b, &data, DIM, 0..2300);
    wait_for_builder(whole.path());
    let (pa, pb) = (parts(&batched), parts(&whole));
    assert_eq!(pa.len(), 1, "one part after the rebuild: {pa:?}");
    assert!(pa[0].2.is_some());
    assert_eq!(pa, pb, "same rows, same graph bytes");
}
