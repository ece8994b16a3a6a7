//! The exact scan (blocked kernels, filter bitsets, bounded top-k) against a brute force in f64, across
//! block boundaries, with deletions and with sparse and dense filters, for every metric.

mod hnsw_support;
mod storage_util;

use covec::{Metric, OutputFields, Pk, SearchRequest};
use hnsw_support::clustered;
use storage_util::{brute_force_score, flat_index, simple_row, simple_schema, TempDb};

const DIM: usize = 12;
const N: usize = 700; // blocks of 256: 256 + 256 + 188

#[test]
fn exact_scan_equals_brute_force() {
    let data = clustered(N + 3, DIM, 7, 9);
    let (rows, queries) = data.split_at(N * DIM);
    let t = TempDb::new("ann-exact");
    let db = t.open();
    // Tags: "a" on every 50th row (sparse: 2 %), "b" on every other row (dense: 50 %).
    let tag = |i: usize| {
        if i.is_multiple_of(50) {
            "a"
        } else if i.is_multiple_of(2) {
            "b"
        } else {
            "c"
        }
    };
    let deleted = |i: usize| i % 7 == 3;
    for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
        let name = metric.name();
        db.create_collection(name, simple_schema(DIM as u32), vec![flat_index(metric)])
            .unwrap();
        for chunk in [0..300, 300..N] {
            let batch = chunk
                .map(|i| simple_row(i as i64, &rows[i * DIM..(i + 1) * DIM], tag(i)))
                .collect();
            db.insert(name, batch).unwrap();
        }
        let gone: Vec<Pk> = (0..N)
            .filter(|&i| deleted(i))
            .map(|i| Pk::Int(i as i64))
            .collect();
        db.delete_ids(name, &gone).unwrap();
        for (filter, keep) in [
            ("", &(|_: usize| true) as &dyn Fn(usize) -> bool),
            ("tag == \"a\"", &|i| i.is_multiple_of(50)),
            ("tag != \"c\"", &|i| i.is_multiple_of(2)),
        ] {
            let request = SearchRequest {
                anns_field: None,
                vectors: queries.to_vec().into(),
                nq: 3,
                limit: 7,
                offset: 1,
                filter: filter.into(),
                output: OutputFields::default(),
                metric: None,
                params: vec![],
                ..SearchRequest::default()
            };
            let got = db.search(name, &request).unwrap();
            for (qi, q) in queries.chunks_exact(DIM).enumerate() {
                let mut want: Vec<(f64, usize)> = (0..N)
                    .filter(|&i| !deleted(i) && keep(i))
                    .map(|i| {
                        (
                            brute_force_score(metric, q, &rows[i * DIM..(i + 1) * DIM]),
                            i,
                        )
                    })
                    .collect();
                want.sort_by(|a, b| {
                    let o = a.0.total_cmp(&b.0);
                    if metric.higher_is_better() {
                        o.reverse()
                    } else {
                        o
                    }
                });
                let hits = &got[qi];
                assert_eq!(hits.len(), 7.min(want.len() - 1), "{name} {filter}");
                for (h, w) in hits.iter().zip(&want[1..]) {
                    assert!(
                        (f64::from(h.distance) - w.0).abs() < 1e-3 * w.0.abs().max(1.0),
                        "{name} {filter}: {} vs {}",
                        h.distance,
                        w.0
                    );
                }
            }
        }
    }
}
