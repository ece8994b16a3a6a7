//! Helpers shared by the storage_* tests: unique db files in the temp dir, small schemas.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use covec::{
    CollectionSchema, DataType, Db, FieldSchema, IndexKind, IndexSpec, Metric, OpenOptions,
    OutputFields, Pk, Row, SearchRequest, Value,
};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A db path unique to this process and call; the file is removed on drop.
pub struct TempDb {
    path: PathBuf,
}

impl TempDb {
    pub fn new(name: &str) -> TempDb {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "covec-storage-test-{}-{name}-{n}.covec",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        TempDb { path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn open(&self) -> Db {
        Db::open(&self.path, &options()).expect("open db")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub fn options() -> OpenOptions {
    OpenOptions {
        shm_dir: std::env::temp_dir(),
        use_segment: false,
        group: None,
    }
}

pub fn field(name: &str, dtype: DataType, tweak: impl FnOnce(&mut FieldSchema)) -> FieldSchema {
    let mut f = FieldSchema::new(name, dtype);
    tweak(&mut f);
    f
}

/// id INT64 pk, v FLOAT_VECTOR(dim), tag VARCHAR.
pub fn simple_schema(dim: u32) -> CollectionSchema {
    CollectionSchema::new(
        vec![
            field("id", DataType::Int64, |f| f.is_primary = true),
            field("v", DataType::FloatVector, |f| f.dim = Some(dim)),
            field("tag", DataType::VarChar, |_| {}),
        ],
        "",
        false,
    )
}

/// An exact (FLAT) index on the vector field `v` of `simple_schema`.
pub fn flat_index(metric: Metric) -> IndexSpec {
    IndexSpec {
        field: "v".into(),
        index_name: "v".into(),
        index_type: "FLAT".into(),
        kind: IndexKind::Flat,
        metric,
        params: vec![],
    }
}

pub fn simple_row(id: i64, v: impl AsRef<[f32]>, tag: &str) -> Row {
    vec![
        ("id".into(), Value::Int(id)),
        ("v".into(), Value::FloatVector(v.as_ref().to_vec())),
        ("tag".into(), Value::Str(tag.into())),
    ]
}

pub fn all() -> OutputFields {
    OutputFields {
        names: vec![],
        all: true,
    }
}

/// The top hit's id for `vector` in collection "c", through its graph (ef 64).
pub fn nearest(db: &Db, vector: &[f32]) -> Option<Pk> {
    let request = SearchRequest {
        vectors: vector.to_vec().into(),
        nq: 1,
        limit: 1,
        params: vec![("ef".into(), "64".into())],
        ..SearchRequest::default()
    };
    let hits = db.search("c", &request).unwrap();
    hits[0].first().map(|h| h.id.clone())
}

/// Inserts rows `ids` into collection "c" in one commit: row i has id i and `data`'s i-th `dim`-wide row.
pub fn insert_rows(db: &Db, data: &[f32], dim: usize, ids: std::ops::Range<usize>) {
    let rows = ids
        .map(|i| simple_row(i as i64, &data[i * dim..(i + 1) * dim], "t"))
        .collect();
    db.insert("c", rows).unwrap();
}

/// Rows of collection "c" not yet in its graph.
pub fn pending_rows(db: &Db) -> u64 {
    db.describe_collection("c").unwrap().pending_index_rows
}

/// Collection "c"'s parts in the db file's newest generation.
pub fn parts_of_c(db: &Path) -> Vec<covec::internals::format::Part> {
    let bytes = std::fs::read(db).unwrap();
    let snap = covec::internals::engine::Snapshot::open(&bytes).unwrap();
    snap.catalog()
        .collection("default", "c")
        .unwrap()
        .parts
        .clone()
}

/// Collection "c"'s parts in the db file's newest generation: (rows, deleted, has a graph) each.
pub fn part_layout(db: &Path) -> Vec<(u64, u64, bool)> {
    parts_of_c(db)
        .iter()
        .map(|p| (p.rows, p.deleted_count, !p.ann.is_empty()))
        .collect()
}

/// Row `id`'s stored float vector in collection "c", None when there is no such live row.
pub fn stored_vector(db: &Db, id: usize) -> Option<Vec<f32>> {
    let rows = db.get("c", &[Pk::Int(id as i64)], &all()).unwrap();
    rows.first()?.iter().find_map(|(_, v)| match v {
        Value::FloatVector(x) => Some(x.clone()),
        _ => None,
    })
}

/// The distance Milvus reports for `metric`, computed in f64 as the reference for searches.
pub fn brute_force_score(metric: Metric, q: &[f32], v: &[f32]) -> f64 {
    let dot: f64 = q
        .iter()
        .zip(v)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum();
    let norm = |x: &[f32]| x.iter().map(|a| f64::from(*a).powi(2)).sum::<f64>().sqrt();
    match metric {
        Metric::L2 => q.iter().zip(v).map(|(a, b)| f64::from(a - b).powi(2)).sum(),
        Metric::Ip => dot,
        Metric::Cosine => dot / (norm(q) * norm(v)),
        other => panic!("{other:?} is not a float-vector metric"),
    }
}
