//! Recall of the graph search against brute force on seeded clustered data (20k x 64 in release builds,
//! a fifth of that in debug). `cargo test --release -p covec --test hnsw_recall -- --nocapture` prints
//! the numbers docs/ann.md quotes.

mod hnsw_support;

use std::time::Instant;

use covec::internals::dense::{DenseRows, Elem};
use covec::internals::hnsw::{build, build_rows, HnswParams, HnswView, Rows};
use covec::internals::kernels::{self, scalar};
use covec::Metric;
use hnsw_support::{brute_force, clustered, distance, normalise_rows, recall, rows};

const DIM: usize = 64;
const QUERIES: usize = 200;
const K: usize = 10;

/// Rows plus held-out queries from the same clusters.
fn data(metric: Metric) -> (Vec<f32>, Vec<f32>) {
    let n = rows(20_000);
    let mut all = clustered(n + QUERIES, DIM, 100, 7);
    if metric == Metric::Cosine {
        normalise_rows(&mut all, DIM);
    }
    let queries = all.split_off(n * DIM);
    (all, queries)
}

fn mean_recall(
    view: &HnswView,
    vectors: &[f32],
    queries: &[f32],
    metric: Metric,
    ef: usize,
    keep: &dyn Fn(u32) -> bool,
    filtered: bool,
) -> (f64, f64) {
    let mut searching = std::time::Duration::ZERO;
    let mut total = 0.0;
    for q in queries.chunks_exact(DIM) {
        let filter = filtered.then_some(keep);
        let start = Instant::now();
        let found = view.search(vectors, DIM, metric, q, K, ef, filter).unwrap();
        searching += start.elapsed();
        assert!(found.len() <= K);
        assert!(
            found.iter().all(|(id, _)| keep(*id)),
            "a filtered-out row was returned"
        );
        total += recall(&found, &brute_force(vectors, DIM, metric, q, K, keep));
    }
    let per_query_us = searching.as_secs_f64() * 1e6 / QUERIES as f64;
    (total / QUERIES as f64, per_query_us)
}

fn check_metric(metric: Metric) {
    let (vectors, queries) = data(metric);
    let start = Instant::now();
    let index = build(&vectors, DIM, metric, &HnswParams::default()).unwrap();
    let built = start.elapsed();
    let bytes = index.to_bytes();
    let view = HnswView::from_bytes(&bytes, vectors.len() / DIM).unwrap();
    let (r, us) = mean_recall(&view, &vectors, &queries, metric, 64, &|_| true, false);
    eprintln!(
        "{}: n={} build {:.2}s recall@10(ef=64) {r:.4} ({us:.0} us/query)",
        metric.name(),
        vectors.len() / DIM,
        built.as_secs_f64()
    );
    assert!(r >= 0.95, "{} recall@10 {r} < 0.95", metric.name());
}

#[test]
fn l2_recall_at_10_is_at_least_095() {
    check_metric(Metric::L2);
}

#[test]
fn ip_recall_at_10_is_at_least_095() {
    check_metric(Metric::Ip);
}

#[test]
fn cosine_recall_at_10_is_at_least_095() {
    check_metric(Metric::Cosine);
}

#[test]
fn cosine_reports_similarity_for_unnormalised_queries() {
    let (vectors, queries) = data(Metric::Cosine);
    let index = build(&vectors, DIM, Metric::Cosine, &HnswParams::default()).unwrap();
    let q: Vec<f32> = queries[..DIM].iter().map(|x| x * 3.0).collect();
    let found = index
        .view()
        .search(&vectors, DIM, Metric::Cosine, &q, K, 64, None)
        .unwrap();
    let unit: Vec<f32> = queries[..DIM].to_vec();
    for (id, sim) in found {
        let row = &vectors[id as usize * DIM..(id as usize + 1) * DIM];
        let expect: f32 = row.iter().zip(&unit).map(|(a, b)| a * b).sum::<f32>()
            / unit.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((sim - expect).abs() < 1e-4, "{sim} vs {expect}");
        assert!(sim <= 1.0 + 1e-5);
    }
}

/// Rows whose hash falls under `percent`: a filter uncorrelated with the clusters.
fn mask(percent: u64) -> impl Fn(u32) -> bool {
    move |id: u32| ((id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 100 < percent
}

fn check_filtered(percent: u64) {
    let metric = Metric::L2;
    let (vectors, queries) = data(metric);
    let n = vectors.len() / DIM;
    let index = build(&vectors, DIM, metric, &HnswParams::default()).unwrap();
    let keep = mask(percent);
    let matching = (0..n as u32).filter(|&i| keep(i)).count();
    let view = index.view();
    let (r, us) = mean_recall(&view, &vectors, &queries, metric, 64, &keep, true);
    let (narrow, narrow_us) = mean_recall(&view, &vectors, &queries, metric, 16, &keep, true);
    eprintln!(
        "filtered {percent}% ({matching} of {n} rows): recall@10 {r:.4} at ef=64 ({us:.0} us/query), \
         {narrow:.4} at ef=16 ({narrow_us:.0} us/query)"
    );
    assert!(r >= 0.95, "filtered recall at {percent}% is {r}");
}

#[test]
fn filtered_recall_at_50_percent() {
    check_filtered(50);
}

#[test]
fn filtered_recall_at_10_percent() {
    check_filtered(10);
}

#[test]
fn filtered_recall_at_2_percent() {
    check_filtered(2);
}

/// Rows in the top `percent` of the first coordinate: a filter correlated with where rows lie, so the
/// matches sit in a few clusters and, for most queries, far from the query. The walk must cross the graph
/// to reach them (the engine scans such small shares exactly; this checks the walk itself).
fn check_filtered_by_position(percent: usize) {
    let metric = Metric::L2;
    let (vectors, queries) = data(metric);
    let n = vectors.len() / DIM;
    let mut first: Vec<f32> = vectors.chunks_exact(DIM).map(|row| row[0]).collect();
    first.sort_by(f32::total_cmp);
    let threshold = first[n - n * percent / 100];
    let keep = |id: u32| vectors[id as usize * DIM] >= threshold;
    let index = build(&vectors, DIM, metric, &HnswParams::default()).unwrap();
    let (r, us) = mean_recall(&index.view(), &vectors, &queries, metric, 64, &keep, true);
    eprintln!("filtered by position, top {percent}% of coordinate 0: recall@10 {r:.4} at ef=64 ({us:.0} us/query)");
    assert!(
        r >= 0.95,
        "position-correlated filter at {percent}%: recall {r}"
    );
}

#[test]
fn filtered_recall_with_a_filter_correlated_with_position() {
    for percent in [2, 10] {
        check_filtered_by_position(percent);
    }
}

/// The same few vectors stored many times over (one chunk embedded again and again): every row has more
/// copies than links, which must not cut the copies off from the rest of the graph. Each query is one of
/// the stored vectors; its ten best hits must score as the brute-force ten do (ties make ids ambiguous).
#[test]
fn rows_with_more_copies_than_links_stay_reachable() {
    const DISTINCT: usize = 50;
    let mut distinct = clustered(DISTINCT, DIM, 10, 31);
    normalise_rows(&mut distinct, DIM);
    let n = rows(20_000);
    let vectors: Vec<f32> = (0..n)
        .flat_map(|i| distinct[(i * 7 % DISTINCT) * DIM..][..DIM].to_vec())
        .collect();
    for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
        let index = build(&vectors, DIM, metric, &HnswParams::default()).unwrap();
        for q in distinct.chunks_exact(DIM) {
            let found = index
                .view()
                .search(&vectors, DIM, metric, q, K, 64, None)
                .unwrap();
            let truth = brute_force(&vectors, DIM, metric, q, K, &|_| true);
            let score = |id: u32| distance(metric, q, &vectors[id as usize * DIM..][..DIM]);
            let got: Vec<f32> = found.iter().map(|&(id, _)| score(id)).collect();
            let want: Vec<f32> = truth.iter().map(|&id| score(id)).collect();
            assert_eq!(
                got,
                want,
                "{}: {n} rows of {DISTINCT} vectors",
                metric.name()
            );
        }
    }
}

/// The rows `widened` (f32 values the stored type holds exactly) in the stored element type.
enum Typed {
    F16(Vec<u16>),
    Bf16(Vec<u16>),
    I8(Vec<i8>),
}

impl Typed {
    fn rows(&self) -> DenseRows<'_> {
        match self {
            Typed::F16(v) => DenseRows::F16(v),
            Typed::Bf16(v) => DenseRows::BF16(v),
            Typed::I8(v) => DenseRows::I8(v),
        }
    }
}

/// Clustered data stored as float16, bfloat16 or int8 (scaled by 40 and rounded): the stored rows,
/// the exact f32 values they stand for, and queries of values the type holds.
fn typed_data(elem: Elem) -> (Typed, Vec<f32>, Vec<f32>) {
    let n = rows(20_000);
    let all = clustered(n + QUERIES, DIM, 100, 11);
    let (typed, mut widened): (Typed, Vec<f32>) = match elem {
        Elem::F16 => {
            let h: Vec<u16> = all.iter().map(|&x| scalar::f32_to_f16(x)).collect();
            let w = h.iter().map(|&x| scalar::f16_to_f32(x)).collect();
            (Typed::F16(h[..n * DIM].to_vec()), w)
        }
        Elem::BF16 => {
            let h: Vec<u16> = all.iter().map(|&x| scalar::f32_to_bf16(x)).collect();
            let w = h.iter().map(|&x| scalar::bf16_to_f32(x)).collect();
            (Typed::Bf16(h[..n * DIM].to_vec()), w)
        }
        _ => {
            let b: Vec<i8> = all
                .iter()
                .map(|&x| (x * 40.0).round().clamp(-127.0, 127.0) as i8)
                .collect();
            let w = b.iter().map(|&x| f32::from(x)).collect();
            (Typed::I8(b[..n * DIM].to_vec()), w)
        }
    };
    let queries = widened.split_off(n * DIM);
    (typed, widened, queries)
}

/// A graph built over float16, bfloat16 and int8 rows as stored (COSINE through per-row inverse
/// norms, the rows never normalised or converted) and walked over them finds the exact top 10 of
/// the values they hold.
#[test]
fn graphs_over_16_bit_and_int8_rows_recall_at_least_095() {
    for elem in [Elem::F16, Elem::BF16, Elem::I8] {
        let (typed, widened, queries) = typed_data(elem);
        let inv: Vec<f32> = widened.chunks_exact(DIM).map(kernels::inv_norm).collect();
        let mut unit = widened.clone();
        normalise_rows(&mut unit, DIM);
        for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
            let rows = Rows {
                vectors: typed.rows(),
                inv_norms: (metric == Metric::Cosine).then_some(&inv[..]),
            };
            let index = build_rows(rows, DIM, metric, &HnswParams::default(), None).unwrap();
            let bytes = index.to_bytes();
            let view = HnswView::from_bytes(&bytes, widened.len() / DIM).unwrap();
            let reference = if metric == Metric::Cosine {
                &unit
            } else {
                &widened
            };
            let mut total = 0.0;
            for q in queries.chunks_exact(DIM) {
                let found = view.search_rows(rows, q, K, 64, None).unwrap();
                let truth = brute_force(reference, DIM, metric, q, K, &|_| true);
                total += recall(&found, &truth);
                // Reported distances are those of the stored values.
                let (id, d) = found[0];
                let row = &widened[id as usize * DIM..(id as usize + 1) * DIM];
                let want = match metric {
                    Metric::Cosine => {
                        distance(Metric::Ip, q, row) * kernels::inv_norm(q) * inv[id as usize]
                    }
                    _ => distance(metric, q, row),
                };
                assert!(
                    (d - want).abs() <= 1e-3 * want.abs().max(1.0),
                    "{elem:?} {metric:?}: {d} vs {want}"
                );
            }
            let r = total / QUERIES as f64;
            eprintln!("{elem:?} {}: recall@10(ef=64) {r:.4}", metric.name());
            assert!(r >= 0.95, "{elem:?} {} recall@10 {r} < 0.95", metric.name());
        }
    }
}
