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
            vectors: queries.concat(),
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
        vectors: vec![1.0, 0.0],
        nq: 1,
        limit: 5,
        offset: 0,
        filter: String::new(),
        output: OutputFields::default(),
        metric: None,
        params: vec![],
    };
    let hits = db.search("c", &base).unwrap();
    assert_eq!(hits[0].len(), 1);
    assert!((hits[0][0].distance - 1.0).abs() < 1e-6, "no index: COSINE");
    let err = |r: SearchRequest| db.search("c", &r).unwrap_err().to_string();
    assert!(err(SearchRequest {
        vectors: vec![1.0; 3],
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
