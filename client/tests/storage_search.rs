//! Exact search against a brute-force reference computed here in f64, for every metric.

mod storage_util;

use covec::{Metric, OutputFields, Pk, SearchRequest, Value};
use storage_util::*;

const DIM: usize = 8;

fn vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            (0..DIM)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
                })
                .collect()
        })
        .collect()
}

#[test]
fn search_top_k_equals_brute_force_for_every_metric() {
    let t = TempDb::new("search");
    let db = t.open();
    let data = vectors(300, 42);
    let deleted: Vec<i64> = (0..300).filter(|i| i % 7 == 0).collect();
    for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
        let name = metric.name();
        db.create_collection(name, simple_schema(DIM as u32), vec![flat_index(metric)])
            .unwrap();
        for chunk in data.chunks(100).enumerate() {
            let rows = chunk
                .1
                .iter()
                .enumerate()
                .map(|(j, v)| simple_row((chunk.0 * 100 + j) as i64, v, "t"))
                .collect();
            db.insert(name, rows).unwrap();
        }
        let ids: Vec<Pk> = deleted.iter().map(|&i| Pk::Int(i)).collect();
        db.delete_ids(name, &ids).unwrap();

        let queries = vectors(3, 7);
        let request = SearchRequest {
            anns_field: None,
            vectors: queries.concat().into(),
            nq: 3,
            limit: 10,
            offset: 2,
            filter: String::new(),
            output: OutputFields {
                names: vec!["tag".into()],
                all: false,
            },
            metric: None,
            params: vec![],
            ..SearchRequest::default()
        };
        let hits = db.search(name, &request).unwrap();
        assert_eq!(hits.len(), 3);
        for (q, got) in queries.iter().zip(&hits) {
            let mut reference: Vec<(f64, i64)> = (0..300)
                .filter(|i| i % 7 != 0)
                .map(|i| (brute_force_score(metric, q, &data[i as usize]), i))
                .collect();
            reference.sort_by(|a, b| a.0.total_cmp(&b.0));
            if metric.higher_is_better() {
                reference.reverse();
            }
            let want: Vec<Pk> = reference[2..12].iter().map(|r| Pk::Int(r.1)).collect();
            let have: Vec<Pk> = got.iter().map(|h| h.id.clone()).collect();
            assert_eq!(have, want, "{name}");
            for (h, r) in got.iter().zip(&reference[2..12]) {
                assert!(
                    (f64::from(h.distance) - r.0).abs() < 1e-4,
                    "{name}: {} vs {}",
                    h.distance,
                    r.0
                );
                assert_eq!(h.entity, vec![("tag".to_string(), Value::Str("t".into()))]);
            }
        }
    }
}

#[test]
fn search_rejects_wrong_dims_fields_and_metrics() {
    let t = TempDb::new("search-errors");
    let db = t.open();
    db.create_collection("c", simple_schema(2), vec![]).unwrap();
    db.insert("c", vec![simple_row(1, [1.0, 0.0], "a")])
        .unwrap();
    let base = SearchRequest {
        anns_field: None,
        vectors: vec![1.0, 0.0].into(),
        nq: 1,
        limit: 5,
        offset: 0,
        filter: String::new(),
        output: OutputFields::default(),
        metric: None,
        params: vec![],
        ..SearchRequest::default()
    };
    let hits = db.search("c", &base).unwrap();
    assert_eq!(hits[0].len(), 1);
    assert!((hits[0][0].distance - 1.0).abs() < 1e-6, "no index: COSINE");
    let err = |r: SearchRequest| db.search("c", &r).unwrap_err().to_string();
    assert!(err(SearchRequest {
        vectors: vec![1.0; 3].into(),
        ..base.clone()
    })
    .contains("dim 2"));
    assert_eq!(
        err(SearchRequest {
            anns_field: Some("zzz".into()),
            ..base.clone()
        }),
        "anns_field 'zzz' not found in schema"
    );
    assert_eq!(
        err(SearchRequest {
            anns_field: Some("tag".into()),
            ..base.clone()
        }),
        "anns_field 'tag' is not a vector field (dtype=VARCHAR)"
    );
    assert!(db
        .search(
            "c",
            &SearchRequest {
                metric: Some(Metric::L2),
                ..base.clone()
            }
        )
        .is_ok());
}

/// A part holding more than two scan threads' share of vectors is scanned by several threads; rows tied
/// on distance, spread over every thread's range, must come back as one scan returns them: the smaller
/// row first.
#[test]
fn a_scan_split_across_threads_keeps_the_rows_one_scan_keeps() {
    const DIM: usize = 256;
    const DISTINCT: usize = 1000;
    const COPIES: usize = 40; // 40,000 rows of 1 KiB: 40 MiB, more than two threads' share
    let t = TempDb::new("search-threads");
    let db = t.open();
    let distinct = vectors(DISTINCT * DIM / 8, 3).concat();
    let row = |i: usize| &distinct[(i % DISTINCT) * DIM..][..DIM];
    for metric in [Metric::L2, Metric::Cosine] {
        let name = metric.name();
        db.create_collection(name, simple_schema(DIM as u32), vec![flat_index(metric)])
            .unwrap();
        let rows = (0..DISTINCT * COPIES)
            .map(|i| simple_row(i as i64, row(i), "t"))
            .collect();
        db.insert(name, rows).unwrap();
        for (k, filter, first) in [(17, "", 0), (503, "id >= 3000", 3), (999, "id < 39000", 0)] {
            let request = SearchRequest {
                anns_field: None,
                vectors: row(k).to_vec().into(),
                nq: 1,
                limit: 10,
                offset: 0,
                filter: filter.into(),
                output: OutputFields::default(),
                metric: None,
                params: vec![],
                ..SearchRequest::default()
            };
            let hits = db.search(name, &request).unwrap();
            // The query's own vector is stored COPIES times, at rows k, k + 1000, ...: the ten
            // smallest of those the filter keeps, all at the same best distance.
            let want: Vec<Pk> = (first..first + 10)
                .map(|c| Pk::Int((k + c * DISTINCT) as i64))
                .collect();
            let have: Vec<Pk> = hits[0].iter().map(|h| h.id.clone()).collect();
            assert_eq!(have, want, "{name}, filter {filter:?}");
            assert!(hits[0].windows(2).all(|w| w[0].distance == w[1].distance));
        }
    }
}
