//! The serialized index: round trip, determinism, and corrupt bytes that must be refused, never panic.

mod hnsw_support;

use covec::internals::hnsw::{
    build, extend, recommended_strategy, HnswParams, HnswView, Strategy, BATCH,
};
use covec::{Error, Metric};
use hnsw_support::{brute_force, clustered, recall};
use proptest::prelude::*;

const DIM: usize = 16;

fn small(n: usize, m: usize, seed: u64) -> (Vec<f32>, Vec<u8>) {
    let vectors = clustered(n, DIM, 8, 3);
    let params = HnswParams {
        m,
        ef_construction: 40,
        seed,
    };
    let bytes = build(&vectors, DIM, Metric::L2, &params)
        .unwrap()
        .to_bytes();
    (vectors, bytes)
}

#[test]
fn search_on_view_equals_search_on_built_index() {
    let vectors = clustered(3000, DIM, 20, 11);
    let index = build(&vectors, DIM, Metric::Ip, &HnswParams::default()).unwrap();
    let bytes = index.to_bytes();
    assert_eq!(bytes.len() % 4, 0);
    let view = HnswView::from_bytes(&bytes, 3000).unwrap();
    assert_eq!(
        (view.len(), view.dim(), view.metric()),
        (3000, DIM, Metric::Ip)
    );
    let queries = clustered(50, DIM, 20, 12);
    for q in queries.chunks_exact(DIM) {
        let keep = |id: u32| id.is_multiple_of(3);
        for filter in [None, Some(&keep as &dyn Fn(u32) -> bool)] {
            let a = index
                .view()
                .search(&vectors, DIM, Metric::Ip, q, 10, 32, filter)
                .unwrap();
            let b = view
                .search(&vectors, DIM, Metric::Ip, q, 10, 32, filter)
                .unwrap();
            assert_eq!(a, b);
            assert_eq!(a.len(), 10);
            assert!(
                a.windows(2).all(|w| w[0].1 >= w[1].1),
                "IP hits must be best (largest) first"
            );
        }
    }
}

#[test]
fn extending_a_graph_row_by_row_equals_building_it_at_once() {
    let vectors = clustered(1500, DIM, 12, 5);
    let params = HnswParams {
        m: 8,
        ef_construction: 40,
        seed: 9,
    };
    let whole = build(&vectors, DIM, Metric::Ip, &params)
        .unwrap()
        .to_bytes();
    // Two extensions in a row, as two commits of new rows would make them, each base ending where
    // a batch ends.
    let (first, second) = (2 * BATCH, 4 * BATCH);
    let mut bytes = build(&vectors[..first * DIM], DIM, Metric::Ip, &params)
        .unwrap()
        .to_bytes();
    for (before, n) in [(first, second), (second, 1500)] {
        let base = HnswView::from_bytes(&bytes, before).unwrap();
        bytes = extend(&base, &vectors[..n * DIM], DIM, Metric::Ip, &params)
            .unwrap()
            .to_bytes();
    }
    assert_eq!(bytes, whole);

    let base_bytes = build(&vectors[..first * DIM], DIM, Metric::Ip, &params)
        .unwrap()
        .to_bytes();
    let base = HnswView::from_bytes(&base_bytes, first).unwrap();
    for (metric, other) in [
        (Metric::L2, params.clone()),
        (
            Metric::Ip,
            HnswParams {
                m: 12,
                ..params.clone()
            },
        ),
        (
            Metric::Ip,
            HnswParams {
                seed: 10,
                ..params.clone()
            },
        ),
    ] {
        assert!(
            matches!(
                extend(&base, &vectors, DIM, metric, &other),
                Err(Error::Invalid { .. })
            ),
            "{metric:?} {other:?} must not extend a graph built otherwise"
        );
    }
}

/// A permutation of `0..n` far from the identity (7919 is prime, so coprime with the sizes used).
fn scattered(n: usize) -> Vec<u32> {
    (0..n as u64)
        .map(|i| (i * 7919 % n as u64) as u32)
        .collect()
}

/// `vectors` with row `i` moved to `slots[i]`, as the engine stores a part's rows.
fn stored(vectors: &[f32], slots: &[u32]) -> Vec<f32> {
    let mut out = vec![0.0; vectors.len()];
    for (v, &slot) in vectors.chunks_exact(DIM).zip(slots) {
        out[slot as usize * DIM..][..DIM].copy_from_slice(v);
    }
    out
}

#[test]
fn a_renumbered_graph_finds_the_same_rows_under_their_new_numbers() {
    let n = 1500;
    let vectors = clustered(n, DIM, 12, 21);
    let index = build(&vectors, DIM, Metric::L2, &HnswParams::default()).unwrap();
    let slots = scattered(n);
    let bytes = index.renumbered(&slots).to_bytes();
    let view = HnswView::from_bytes(&bytes, n).unwrap();
    let moved = stored(&vectors, &slots);
    assert!((0..n).all(|k| view.inserted(k) == slots[k]));
    for q in clustered(30, DIM, 12, 22).chunks_exact(DIM) {
        let before = index
            .view()
            .search(&vectors, DIM, Metric::L2, q, 10, 32, None)
            .unwrap();
        let after = view
            .search(&moved, DIM, Metric::L2, q, 10, 32, None)
            .unwrap();
        let renamed: Vec<(u32, f32)> = before
            .iter()
            .map(|&(row, d)| (slots[row as usize], d))
            .collect();
        assert_eq!(after, renamed);
    }
}

#[test]
fn extending_a_renumbered_graph_equals_building_it_at_once() {
    let vectors = clustered(1500, DIM, 12, 5);
    let params = HnswParams {
        m: 8,
        ef_construction: 40,
        seed: 9,
    };
    let (all, first) = (scattered(1500), scattered(2 * BATCH));
    let whole = build(&vectors, DIM, Metric::Ip, &params)
        .unwrap()
        .renumbered(&all)
        .to_bytes();
    let base_bytes = build(&vectors[..2 * BATCH * DIM], DIM, Metric::Ip, &params)
        .unwrap()
        .renumbered(&first)
        .to_bytes();
    // The caller passes the base's rows in insertion order, then the new rows.
    let base = HnswView::from_bytes(&base_bytes, 2 * BATCH).unwrap();
    let grown = extend(&base, &vectors, DIM, Metric::Ip, &params).unwrap();
    assert!(
        (0..1500).all(|k| grown.view().inserted(k) == k as u32),
        "numbered by insertion"
    );
    assert_eq!(grown.renumbered(&all).to_bytes(), whole);
}

/// A base that ends inside a batch: the rest of that batch is searched against the base, so the grown
/// graph is not the one-build graph, but it is the same every time and finds the same neighbours.
#[test]
fn extending_a_graph_cut_inside_a_batch_is_deterministic_and_as_good() {
    let (n, cut) = (3 * BATCH + 100, BATCH + 144);
    let vectors = clustered(n, DIM, 12, 31);
    let params = HnswParams {
        m: 8,
        ef_construction: 40,
        seed: 4,
    };
    let base_bytes = build(&vectors[..cut * DIM], DIM, Metric::L2, &params)
        .unwrap()
        .to_bytes();
    let base = HnswView::from_bytes(&base_bytes, cut).unwrap();
    let grow = || extend(&base, &vectors, DIM, Metric::L2, &params).unwrap();
    let (grown, again) = (grow(), grow());
    assert!(grown == again, "the same base and rows grew two graphs");
    let whole = build(&vectors, DIM, Metric::L2, &params).unwrap();
    assert!(
        grown != whole,
        "a base cut inside a batch grows another graph"
    );
    let queries = clustered(100, DIM, 12, 32);
    let recall_of = |index: &covec::internals::hnsw::HnswIndex| {
        queries
            .chunks_exact(DIM)
            .map(|q| {
                let found = index
                    .view()
                    .search(&vectors, DIM, Metric::L2, q, 10, 32, None)
                    .unwrap();
                recall(
                    &found,
                    &brute_force(&vectors, DIM, Metric::L2, q, 10, &|_| true),
                )
            })
            .sum::<f64>()
            / 100.0
    };
    let (grown_recall, whole_recall) = (recall_of(&grown), recall_of(&whole));
    eprintln!("recall@10 at ef 32: grown {grown_recall}, one build {whole_recall}");
    assert!(
        whole_recall >= 0.9 && grown_recall >= whole_recall - 0.01,
        "recall@10 at ef 32: grown {grown_recall}, one build {whole_recall}"
    );
}

#[test]
fn a_damaged_insertion_order_is_corrupt() {
    let n = 500;
    let vectors = clustered(n, DIM, 8, 3);
    let good = build(&vectors, DIM, Metric::L2, &HnswParams::default())
        .unwrap()
        .renumbered(&scattered(n))
        .to_bytes();
    assert!(HnswView::from_bytes(&good, n).is_ok());
    let order = good.len() / 4 - n;
    let mut twice = good.clone();
    let first = u32::from_le_bytes(good[order * 4..order * 4 + 4].try_into().unwrap());
    put_word(&mut twice, order + 1, first);
    assert!(corrupt(&twice, n));
    let mut past = good.clone();
    put_word(&mut past, order, n as u32);
    assert!(corrupt(&past, n));
    // Version 1 had no flags: an insertion order there is damage.
    let mut v1 = good;
    put_word(&mut v1, 2, 1);
    assert!(corrupt(&v1, n));
}

#[test]
fn same_seed_builds_identical_bytes_and_other_seed_differs() {
    let (_, a) = small(2000, 8, 42);
    let (_, b) = small(2000, 8, 42);
    let (_, c) = small(2000, 8, 43);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn tiny_and_empty_indexes_work() {
    for n in [0usize, 1, 2, 5] {
        let vectors = clustered(n, DIM, 2, 1);
        let index = build(&vectors, DIM, Metric::L2, &HnswParams::default()).unwrap();
        let bytes = index.to_bytes();
        let view = HnswView::from_bytes(&bytes, n).unwrap();
        let q = vec![0.5; DIM];
        let hits = view
            .search(&vectors, DIM, Metric::L2, &q, 10, 10, None)
            .unwrap();
        assert_eq!(hits.len(), n);
    }
}

#[test]
fn bad_build_input_is_an_error() {
    let p = HnswParams::default();
    assert!(matches!(
        build(&[1.0; 10], 0, Metric::L2, &p),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        build(&[1.0; 10], 3, Metric::L2, &p),
        Err(Error::Invalid { .. })
    ));
    let m1 = HnswParams { m: 1, ..p.clone() };
    assert!(matches!(
        build(&[1.0; 9], 3, Metric::L2, &m1),
        Err(Error::Invalid { .. })
    ));
    let ef0 = HnswParams {
        ef_construction: 0,
        ..p
    };
    assert!(matches!(
        build(&[1.0; 9], 3, Metric::L2, &ef0),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn search_rejects_mismatched_arguments() {
    let (vectors, bytes) = small(200, 4, 1);
    let view = HnswView::from_bytes(&bytes, 200).unwrap();
    let q = vec![0.0; DIM];
    assert!(view
        .search(&vectors, DIM, Metric::Ip, &q, 5, 5, None)
        .is_err());
    assert!(view
        .search(&vectors, DIM + 1, Metric::L2, &[0.0; DIM + 1], 5, 5, None)
        .is_err());
    assert!(view
        .search(&vectors, DIM, Metric::L2, &q[1..], 5, 5, None)
        .is_err());
    assert!(view
        .search(&vectors[DIM..], DIM, Metric::L2, &q, 5, 5, None)
        .is_err());
    assert!(view
        .search(&vectors, DIM, Metric::L2, &q, 0, 5, None)
        .unwrap()
        .is_empty());
}

fn corrupt(bytes: &[u8], n: usize) -> bool {
    matches!(HnswView::from_bytes(bytes, n), Err(Error::Corrupt { .. }))
}

fn put_word(bytes: &mut [u8], word: usize, value: u32) {
    bytes[word * 4..word * 4 + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn structural_damage_is_reported_as_corrupt() {
    let n = 500;
    let (_, good) = small(n, 4, 5);
    let m0 = 8;
    let layer0 = 12; // header words
    let upper_off = layer0 + n * (m0 + 1);
    assert!(HnswView::from_bytes(&good, n).is_ok());
    // Wrong row count, truncation, a trailing word.
    assert!(corrupt(&good, n + 1));
    assert!(corrupt(&good[..good.len() - 4], n));
    assert!(corrupt(&good[..20], n));
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 4]);
    assert!(corrupt(&longer, n));
    // A layer-0 neighbour past the end, and a count above M0.
    let mut b = good.clone();
    put_word(&mut b, layer0 + 1, n as u32);
    put_word(&mut b, layer0, 1);
    assert!(corrupt(&b, n));
    let mut b = good.clone();
    put_word(&mut b, layer0, m0 as u32 + 1);
    assert!(corrupt(&b, n));
    // Offsets that go backwards, an entry point out of range, a bad magic.
    let mut b = good.clone();
    put_word(&mut b, upper_off + 1, u32::MAX);
    assert!(corrupt(&b, n));
    let mut b = good.clone();
    put_word(&mut b, 7, n as u32);
    assert!(corrupt(&b, n));
    let mut b = good.clone();
    b[0] ^= 1;
    assert!(corrupt(&b, n));
    // A newer version is refused by name, not as damage.
    let mut b = good;
    put_word(&mut b, 2, 99);
    assert!(matches!(
        HnswView::from_bytes(&b, n),
        Err(Error::NewerVersion { found: 99, .. })
    ));
}

#[test]
fn a_wrapped_graph_reports_damage_its_walk_meets() {
    let n = 500;
    let (vectors, good) = small(n, 4, 5);
    let (m0, layer0) = (8, 12);
    let q = vec![0.25; DIM];
    let search = |b: &[u8]| {
        HnswView::wrap(b, n)
            .unwrap()
            .search(&vectors, DIM, Metric::L2, &q, 5, 16, None)
    };
    assert!(search(&good).is_ok());
    // Every layer-0 block lists one neighbour too many: wrapping reads none of them, the walk must.
    let mut b = good.clone();
    for node in 0..n {
        put_word(&mut b, layer0 + node * (m0 + 1), m0 as u32 + 1);
    }
    assert!(HnswView::wrap(&b, n).is_ok());
    assert!(matches!(search(&b), Err(Error::Corrupt { .. })));
    // Every first layer-0 neighbour past the rows.
    let mut b = good.clone();
    for node in 0..n {
        put_word(&mut b, layer0 + node * (m0 + 1), 1);
        put_word(&mut b, layer0 + node * (m0 + 1) + 1, n as u32 + 7);
    }
    assert!(matches!(search(&b), Err(Error::Corrupt { .. })));
}

#[test]
fn exact_scan_is_recommended_for_few_matches() {
    assert_eq!(recommended_strategy(1_000_000, 100), Strategy::Exact);
    assert_eq!(recommended_strategy(1_000_000, 19_999), Strategy::Exact);
    assert_eq!(recommended_strategy(1_000_000, 20_000), Strategy::Graph);
    assert_eq!(recommended_strategy(10_000, 5_000), Strategy::Graph);
    assert_eq!(recommended_strategy(5_000, 4_000), Strategy::Exact);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random mutations either fail validation or give a view that searches without panicking.
    #[test]
    fn mutated_bytes_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u32>(), 0u8..3), 1..6),
        cut in any::<usize>(),
        truncate in any::<bool>(),
    ) {
        let n = 120;
        let (vectors, good) = small(n, 3, 9);
        let mut b = good.clone();
        for (pos, value, kind) in edits {
            let word = pos % (b.len() / 4);
            match kind {
                0 => b[word * 4 + (value as usize % 4)] ^= 1 << (value % 8),
                1 => put_word(&mut b, word, value),
                _ => put_word(&mut b, word, value % (n as u32 + 2)),
            }
        }
        if truncate {
            b.truncate(cut % (b.len() + 1));
        }
        // Readers wrap in O(1) and check as they walk: never a panic, and on bytes that pass the full
        // check, the same hits.
        let checked = HnswView::from_bytes(&b, n).ok();
        if let Ok(view) = HnswView::wrap(&b, n) {
            let q = vec![0.25; view.dim()];
            if view.dim() == DIM {
                let odd = |id: u32| id % 2 == 1;
                for filter in [None, Some(&odd as &dyn Fn(u32) -> bool)] {
                    let got = view.search(&vectors, DIM, view.metric(), &q, 5, 16, filter);
                    if let Some(full) = &checked {
                        let want = full.search(&vectors, DIM, full.metric(), &q, 5, 16, filter);
                        prop_assert_eq!(got.ok(), want.ok());
                    }
                }
            }
        } else {
            prop_assert!(checked.is_none());
        }
    }
}
