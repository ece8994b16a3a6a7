//! Filtered search through the db with an HNSW index: recall@10 against the exact answer of a FLAT
//! collection holding the same rows, at every selectivity from 0.1 % to 100 %. Recall is a pure
//! function of the seed: no timings. Release runs 20k x 64 (`cargo test --release -p covec --test
//! ann_filtered`); debug builds run a fifth of the rows.

mod ann_support;
mod hnsw_support;
mod storage_util;

use ann_support::{load, search, DIM};
use covec::{Db, Metric, Pk};
use hnsw_support::{clustered, rows};
use storage_util::TempDb;

const QUERIES: usize = 40;

fn top_ids(db: &Db, name: &str, queries: &[f32], filter: &str) -> Vec<Vec<Pk>> {
    search(db, name, queries, filter, vec![])
        .into_iter()
        .map(|hits| hits.into_iter().map(|h| h.id).collect())
        .collect()
}

/// Mean over queries of |approx ∩ exact| / |exact| (1.0 when the exact answer is empty).
fn recall(approx: &[Vec<Pk>], exact: &[Vec<Pk>]) -> f64 {
    let per: Vec<f64> = approx
        .iter()
        .zip(exact)
        .map(|(a, e)| {
            if e.is_empty() {
                return 1.0;
            }
            e.iter().filter(|id| a.contains(id)).count() as f64 / e.len() as f64
        })
        .collect();
    per.iter().sum::<f64>() / per.len() as f64
}

/// The db's catalog entry for `name`: (rows, has a graph) per part.
fn parts(t: &TempDb, name: &str) -> Vec<(u64, bool)> {
    let bytes = std::fs::read(t.path()).unwrap();
    let snap = covec::internals::engine::Snapshot::open(&bytes).unwrap();
    snap.catalog()
        .collection("default", name)
        .unwrap()
        .parts
        .iter()
        .map(|p| (p.rows, !p.ann.is_empty()))
        .collect()
}

#[test]
fn filtered_recall_at_every_selectivity() {
    let n = rows(20_000);
    let data = clustered(n + QUERIES, DIM, 100, 11);
    let (rows_data, queries) = data.split_at(n * DIM);
    let t = TempDb::new("ann-filtered");
    let db = t.open();
    load(&db, "hnsw", "HNSW", Metric::L2, rows_data);
    load(&db, "flat", "FLAT", Metric::L2, rows_data);
    assert_eq!(parts(&t, "hnsw"), vec![(n as u64, true)]);
    assert_eq!(parts(&t, "flat"), vec![(n as u64, false)]);
    let no_filter = recall(
        &top_ids(&db, "hnsw", queries, ""),
        &top_ids(&db, "flat", queries, ""),
    );
    assert!(no_filter >= 0.95, "recall@10 without filter {no_filter}");
    for percent in [0.1, 1.0, 2.0, 5.0, 10.0, 50.0, 100.0] {
        let filter = format!("bucket < {}", (percent * 10.0) as i64);
        let exact = top_ids(&db, "flat", queries, &filter);
        assert!(exact.iter().all(|e| !e.is_empty()), "{filter}: no matches");
        let r = recall(&top_ids(&db, "hnsw", queries, &filter), &exact);
        assert!(r >= 0.95, "recall@10 at {percent} % ({filter}): {r}");
    }
}

#[test]
fn every_metric_and_hnsw_sq_reach_recall() {
    let n = rows(10_000);
    let data = clustered(n + QUERIES, DIM, 50, 12);
    let (rows_data, queries) = data.split_at(n * DIM);
    let t = TempDb::new("ann-metrics");
    let db = t.open();
    for metric in [Metric::Ip, Metric::Cosine] {
        for index_type in ["AUTOINDEX", "HNSW_SQ", "IVF_FLAT"] {
            let name = format!("{}_{index_type}", metric.name());
            load(&db, &name, index_type, metric, rows_data);
            let flat = format!("{}_flat", metric.name());
            if !db.has_collection(&flat).unwrap() {
                load(&db, &flat, "FLAT", metric, rows_data);
            }
            assert_eq!(parts(&t, &name), vec![(n as u64, true)], "{name}");
            let r = recall(
                &top_ids(&db, &name, queries, "bucket >= 300"),
                &top_ids(&db, &flat, queries, "bucket >= 300"),
            );
            assert!(r >= 0.95, "{name}: recall@10 {r}");
        }
    }
}
