//! The collection the db-level graph tests search: id INT64 primary key, v FLOAT_VECTOR(64), bucket INT64
//! in 0..1000 (a hash of the id: uncorrelated with the clusters), so `bucket < 10 * p` matches p % of the
//! rows.
#![allow(dead_code)] // each test binary uses a different subset

use covec::{
    CollectionSchema, DataType, Db, FieldSchema, Hit, IndexKind, IndexSpec, Metric, OutputFields,
    SearchRequest, Value,
};

use super::hnsw_support::wait_for_builder;

pub const DIM: usize = 64;
pub const K: usize = 10;

pub fn schema() -> CollectionSchema {
    let mut id = FieldSchema::new("id", DataType::Int64);
    id.is_primary = true;
    let mut v = FieldSchema::new("v", DataType::FloatVector);
    v.dim = Some(DIM as u32);
    CollectionSchema::new(
        vec![id, v, FieldSchema::new("bucket", DataType::Int64)],
        "",
        false,
    )
}

pub fn bucket(id: i64) -> i64 {
    ((id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as i64 % 1000
}

/// Creates `name` with `index_type` and inserts `data` (row i has id i) in one commit, its graph built.
pub fn load(db: &Db, name: &str, index_type: &str, metric: Metric, data: &[f32]) {
    let index = IndexSpec {
        field: "v".into(),
        index_name: "v".into(),
        index_type: index_type.into(),
        kind: IndexKind::Flat,
        metric,
        params: vec![],
    };
    db.create_collection(name, schema(), vec![index]).unwrap();
    let rows = data
        .chunks_exact(DIM)
        .enumerate()
        .map(|(i, v)| {
            vec![
                ("id".into(), Value::Int(i as i64)),
                ("v".into(), Value::FloatVector(v.to_vec())),
                ("bucket".into(), Value::Int(bucket(i as i64))),
            ]
        })
        .collect();
    db.insert(name, rows).unwrap();
    wait_for_builder(db.path());
}

/// The db's top-`K` hits for each of `queries` (ids and distances) with `filter` and search `params`.
pub fn search(
    db: &Db,
    name: &str,
    queries: &[f32],
    filter: &str,
    params: Vec<(String, String)>,
) -> Vec<Vec<Hit>> {
    let request = SearchRequest {
        vectors: queries.to_vec().into(),
        nq: queries.len() / DIM,
        limit: K,
        filter: filter.into(),
        output: OutputFields::default(),
        params,
        ..SearchRequest::default()
    };
    db.search(name, &request).unwrap()
}
