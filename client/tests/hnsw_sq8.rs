//! SQ8: the graph walked with one-byte codes, re-ranked with the f32 rows or not.
//! `cargo test --release -p covec --test hnsw_sq8 -- --nocapture` prints the numbers docs/ann.md quotes.

mod hnsw_support;

use std::time::Instant;

use covec::internals::hnsw::{build, quantize, HnswParams, HnswView, Sq8View};
use covec::{Error, Metric};
use hnsw_support::{brute_force, clustered, normalise_rows, recall, rows};

const DIM: usize = 64;
const QUERIES: usize = 200;
const K: usize = 10;

fn check(metric: Metric) {
    let n = rows(20_000);
    let mut all = clustered(n + QUERIES, DIM, 100, 7);
    if metric == Metric::Cosine {
        normalise_rows(&mut all, DIM);
    }
    let queries = all.split_off(n * DIM);
    let graph = build(&all, DIM, metric, &HnswParams::default())
        .unwrap()
        .to_bytes();
    let codes = quantize(&all, DIM).unwrap().to_bytes();
    assert_eq!(codes.len(), 32 + DIM * 8 + n * DIM, "one byte per value");
    let view = HnswView::from_bytes(&graph, n).unwrap();
    let sq = Sq8View::from_bytes(&codes, n).unwrap();
    let keep = |id: u32| id % 10 == 3;
    for filtered in [false, true] {
        let filter = filtered.then_some(&keep as &dyn Fn(u32) -> bool);
        let accept = |id: u32| !filtered || keep(id);
        let (mut exact_r, mut quant_r) = (0.0, 0.0);
        let mut took = std::time::Duration::ZERO;
        for q in queries.chunks_exact(DIM) {
            let truth = brute_force(&all, DIM, metric, q, K, &accept);
            let start = Instant::now();
            let reranked = view.search_sq8(&sq, Some(&all), q, K, 64, filter).unwrap();
            took += start.elapsed();
            let quantized = view.search_sq8(&sq, None, q, K, 64, filter).unwrap();
            assert!(reranked.iter().chain(&quantized).all(|(id, _)| accept(*id)));
            // Re-ranked distances are exact.
            for (id, d) in &reranked {
                let row = &all[*id as usize * DIM..(*id as usize + 1) * DIM];
                let want = hnsw_support::distance(metric, q, row);
                let want = if metric == Metric::Cosine {
                    want / q.iter().map(|x| x * x).sum::<f32>().sqrt()
                } else {
                    want
                };
                assert!(
                    (d - want).abs() <= 1e-3 * want.abs().max(1.0),
                    "{d} vs {want}"
                );
            }
            exact_r += recall(&reranked, &truth);
            quant_r += recall(&quantized, &truth);
        }
        let (exact_r, quant_r) = (exact_r / QUERIES as f64, quant_r / QUERIES as f64);
        eprintln!(
            "SQ8 {} n={n} filtered={filtered}: recall@10 re-ranked {exact_r:.4} ({:.0} us/query), \
             codes only {quant_r:.4}",
            metric.name(),
            took.as_secs_f64() * 1e6 / QUERIES as f64
        );
        assert!(exact_r >= 0.95, "re-ranked recall {exact_r}");
        assert!(quant_r >= 0.85, "quantized-only recall {quant_r}");
    }
}

#[test]
fn sq8_l2_recall_with_and_without_rerank() {
    check(Metric::L2);
}

#[test]
fn sq8_ip_recall_with_and_without_rerank() {
    check(Metric::Ip);
}

#[test]
fn sq8_cosine_recall_with_and_without_rerank() {
    check(Metric::Cosine);
}

#[test]
fn sq8_bad_input_and_damage_are_errors() {
    assert!(matches!(
        quantize(&[1.0, f32::NAN], 2),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(quantize(&[1.0; 3], 2), Err(Error::Invalid { .. })));
    // A range wider than f32 holds would give a scale readers refuse: refused when quantizing.
    assert!(matches!(
        quantize(&[f32::MAX, 0.0, -f32::MAX, 0.0], 2),
        Err(Error::Invalid { .. })
    ));
    let vectors = clustered(50, 8, 3, 1);
    let good = quantize(&vectors, 8).unwrap().to_bytes();
    assert!(Sq8View::from_bytes(&good, 50).is_ok());
    let corrupt = |b: &[u8], n| matches!(Sq8View::from_bytes(b, n), Err(Error::Corrupt { .. }));
    assert!(corrupt(&good, 51));
    assert!(corrupt(&good[..good.len() - 4], 50));
    assert!(corrupt(&good[..10], 50));
    let mut b = good.clone();
    b[32..36].copy_from_slice(&f32::NAN.to_le_bytes()); // min[0]
    assert!(corrupt(&b, 50));
    let mut b = good.clone();
    b[12..16].copy_from_slice(&u32::MAX.to_le_bytes()); // dim
    assert!(corrupt(&b, 50));
    // Codes that do not match the graph's shape are refused by the search.
    let graph = build(&vectors, 8, Metric::L2, &HnswParams::default()).unwrap();
    let other = quantize(&vectors[..8 * 40], 8).unwrap();
    let q = [0.0; 8];
    assert!(graph
        .view()
        .search_sq8(&other.view(), None, &q, 5, 8, None)
        .is_err());
}
