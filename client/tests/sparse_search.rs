//! The index's searches return exactly the brute-force top k (rows, order and scores bit for bit,
//! ties to the lower row), for IP and BM25, with filters, whatever the corpus; and the edge cases.

mod sparse_support;

use covec::internals::sparse::{Bm25Params, Bm25Stats, Scoring, SparseMetric, SparseVector};
use covec::Error;
use proptest::prelude::*;
use sparse_support::{brute_force, corpus, vector, Part, Rng, Values, Zipf};

/// Which rows a search may return.
#[derive(Clone, Copy, Debug)]
enum Keep {
    All,
    EveryThird,
    /// About one row in ten, scattered.
    Hashed,
    None,
}

impl Keep {
    fn accepts(self, row: u32) -> bool {
        match self {
            Keep::All => true,
            Keep::EveryThird => row.is_multiple_of(3),
            Keep::Hashed => (row.wrapping_mul(2_654_435_761) >> 16).is_multiple_of(10),
            Keep::None => false,
        }
    }
}

fn keep_strategy() -> impl Strategy<Value = Keep> {
    prop_oneof![
        3 => Just(Keep::All),
        1 => Just(Keep::EveryThird),
        1 => Just(Keep::Hashed),
        1 => Just(Keep::None),
    ]
}

fn values_strategy() -> impl Strategy<Value = Values> {
    prop_oneof![
        Just(Values::Counts),
        Just(Values::Ties),
        Just(Values::Floats)
    ]
}

/// Runs both searches and the brute force and requires the same hits.
fn check(part: &Part, query: &SparseVector, scoring: Scoring, k: usize, keep: Keep) {
    let view = part.view();
    let accepts = move |row: u32| keep.accepts(row);
    let filter: Option<&dyn Fn(u32) -> bool> = match keep {
        Keep::All => None,
        _ => Some(&accepts),
    };
    let expected = brute_force(&part.rows, query.view(), scoring, k, &accepts);
    let pruned = view.search(query.view(), scoring, k, filter).unwrap();
    let exhaustive = view
        .search_exhaustive(query.view(), scoring, k, filter)
        .unwrap();
    assert_eq!(pruned, expected, "pruned search differs from brute force");
    assert_eq!(
        exhaustive, expected,
        "exhaustive search differs from brute force"
    );
    // A floor at a hit's score (the best, a middle and the last one) keeps the hits reaching it,
    // ties included; just above that score it drops them; above every hit it leaves none.
    let picked = [0, expected.len() / 2, expected.len().saturating_sub(1)];
    let scores = picked
        .into_iter()
        .filter_map(|i| expected.get(i).map(|&(_, s)| s));
    let floors = scores.flat_map(|s| [s, f32::from_bits(s.to_bits() + 1)]);
    for floor in floors.chain([f32::MAX]) {
        let above = view
            .search_at_least(query.view(), scoring, k, floor, filter)
            .unwrap();
        let reaching: Vec<_> = expected
            .iter()
            .copied()
            .filter(|&(_, s)| s >= floor)
            .collect();
        assert_eq!(above, reaching, "search at least {floor} differs");
    }
}

/// Row counts: small parts, and parts spanning several of the pruned search's 1024-row windows.
fn rows_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..300, 900usize..4000]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn ip_search_is_the_exact_top_k(
        seed in any::<u64>(),
        n in rows_strategy(),
        vocab in 1usize..80,
        max_terms in 1usize..16,
        values in values_strategy(),
        query_terms in 0usize..10,
        k in 0usize..30,
        keep in keep_strategy(),
        spread in prop_oneof![Just(1u32), Just(2_654_435_761u32)],
    ) {
        let mut rng = Rng::new(seed);
        let part = Part::new(corpus(&mut rng, n, vocab, max_terms, values, spread), SparseMetric::Ip);
        let zipf = Zipf::new(vocab + 3, 0.8);
        for _ in 0..4 {
            let query = vector(&mut rng, &zipf, query_terms, values, spread);
            check(&part, &query, Scoring::Ip, k, keep);
        }
    }

    #[test]
    fn bm25_search_is_the_exact_top_k(
        seed in any::<u64>(),
        n in rows_strategy(),
        vocab in 1usize..80,
        max_terms in 1usize..24,
        query_terms in 0usize..8,
        k in 0usize..30,
        keep in keep_strategy(),
        // The collection's mean length against the part's: other parts make it longer or shorter.
        avgdl_scale in prop_oneof![Just(1.0f32), 0.3f32..3.0],
        // Search parameters equal to the build's (tight bounds) or not (the wide bound alone).
        same_params in any::<bool>(),
    ) {
        let mut rng = Rng::new(seed);
        let built = Bm25Params::new(1.2, 0.75).unwrap();
        let rows = corpus(&mut rng, n, vocab, max_terms, Values::Counts, 7919);
        let mut stats = Bm25Stats::default();
        for r in &rows {
            stats.add_doc(r.view()).unwrap();
        }
        let part = Part::new(rows, SparseMetric::Bm25(built));
        let params = if same_params { built } else { Bm25Params::new(1.8, 0.3).unwrap() };
        let scoring = Scoring::bm25(params, stats.avgdl() * avgdl_scale).unwrap();
        let zipf = Zipf::new(vocab + 3, 0.8);
        for _ in 0..4 {
            let tf = vector(&mut rng, &zipf, query_terms, Values::Counts, 7919);
            let query = stats.weigh_query(tf.view());
            check(&part, &query, scoring, k, keep);
        }
    }
}

#[test]
fn ties_go_to_the_lower_row_across_block_boundaries() {
    // 1000 identical rows: every score ties, so the top k must be rows 0..k.
    let row = SparseVector::new(vec![3, 9], vec![1.0, 2.0]).unwrap();
    let part = Part::new(vec![row; 1000], SparseMetric::Ip);
    let query = SparseVector::new(vec![3, 9], vec![1.0, 1.0]).unwrap();
    for k in [1, 10, 127, 128, 129, 999, 1000, 1500] {
        let hits = part
            .view()
            .search(query.view(), Scoring::Ip, k, None)
            .unwrap();
        let expected: Vec<(u32, f32)> = (0..k.min(1000) as u32).map(|r| (r, 3.0)).collect();
        assert_eq!(hits, expected);
    }
    let odd = |r: u32| r % 2 == 1;
    let hits = part
        .view()
        .search(query.view(), Scoring::Ip, 3, Some(&odd))
        .unwrap();
    assert_eq!(hits, vec![(1, 3.0), (3, 3.0), (5, 3.0)]);
}

#[test]
fn a_large_zipf_corpus_agrees_with_brute_force() {
    let mut rng = Rng::new(42);
    let rows = corpus(&mut rng, 20_000, 5_000, 40, Values::Counts, 104_729);
    let mut stats = Bm25Stats::default();
    for r in &rows {
        stats.add_doc(r.view()).unwrap();
    }
    let params = Bm25Params::default();
    let bm25 = Part::new(rows.clone(), SparseMetric::Bm25(params));
    let ip = Part::new(rows, SparseMetric::Ip);
    let scoring = Scoring::bm25(params, stats.avgdl()).unwrap();
    let zipf = Zipf::new(5_000, 1.0);
    for q in 0..60 {
        let tf = vector(&mut rng, &zipf, 1 + q % 6, Values::Counts, 104_729);
        let weighted = stats.weigh_query(tf.view());
        for k in [1, 10, 100] {
            check(&bm25, &weighted, scoring, k, Keep::All);
            check(&ip, &tf, Scoring::Ip, k, Keep::All);
        }
        check(&bm25, &weighted, scoring, 10, Keep::Hashed);
    }
}

#[test]
fn empty_parts_queries_and_k_give_no_hits() {
    let empty = Part::new(Vec::new(), SparseMetric::Ip);
    let q = SparseVector::new(vec![1], vec![1.0]).unwrap();
    assert!(empty
        .view()
        .search(q.view(), Scoring::Ip, 10, None)
        .unwrap()
        .is_empty());

    let rows = vec![
        SparseVector::new(vec![1, 2], vec![1.0, 0.0]).unwrap(),
        SparseVector::default(),
        SparseVector::new(vec![2], vec![0.0]).unwrap(),
    ];
    let part = Part::new(rows, SparseMetric::Ip);
    let view = part.view();
    assert_eq!(view.postings_len(), 1, "zero values are not posted");
    let none = SparseVector::default();
    assert!(view
        .search(none.view(), Scoring::Ip, 10, None)
        .unwrap()
        .is_empty());
    assert!(view
        .search(q.view(), Scoring::Ip, 0, None)
        .unwrap()
        .is_empty());
    // Row 2 holds term 2 with value 0: it scores 0, and rows scoring 0 are not hits.
    let q2 = SparseVector::new(vec![1, 2, 77], vec![0.0, 1.0, 5.0]).unwrap();
    assert!(view
        .search(q2.view(), Scoring::Ip, 10, None)
        .unwrap()
        .is_empty());
    assert_eq!(
        view.search(q.view(), Scoring::Ip, 10, None).unwrap(),
        vec![(0, 1.0)]
    );
}

#[test]
fn the_wrong_metric_or_an_invalid_query_is_refused() {
    let rows = vec![SparseVector::new(vec![1], vec![2.0]).unwrap()];
    let ip = Part::new(rows.clone(), SparseMetric::Ip);
    let bm25 = Part::new(rows, SparseMetric::Bm25(Bm25Params::default()));
    let q = SparseVector::new(vec![1], vec![1.0]).unwrap();
    let scoring = Scoring::bm25(Bm25Params::default(), 2.0).unwrap();
    for (view, scoring) in [(ip.view(), scoring), (bm25.view(), Scoring::Ip)] {
        let e = view.search(q.view(), scoring, 5, None).unwrap_err();
        assert!(matches!(e, Error::Invalid { code: 6, .. }), "{e}");
        assert!(e.to_string().contains("was built for metric"), "{e}");
        assert!(view.search_exhaustive(q.view(), scoring, 5, None).is_err());
    }
    let indices = [5u32, 1];
    let values = [1.0f32, 1.0];
    let unsorted = covec::internals::sparse::SparseRef::new(&indices, &values).unwrap();
    let e = ip
        .view()
        .search(unsorted, Scoring::Ip, 5, None)
        .unwrap_err();
    assert!(e.to_string().contains("unsorted or same indices"), "{e}");
    assert!(Scoring::bm25(Bm25Params::default(), 0.0).is_err());
    assert!(Scoring::bm25(Bm25Params::default(), f32::NAN).is_err());
}

#[test]
fn a_filter_that_searches_the_same_index_still_works() {
    let mut rng = Rng::new(7);
    let part = Part::new(
        corpus(&mut rng, 300, 20, 8, Values::Floats, 1),
        SparseMetric::Ip,
    );
    let view = part.view();
    let q = SparseVector::new(vec![0, 1], vec![1.0, 1.0]).unwrap();
    let nested = |row: u32| {
        // The exhaustive search's per-thread buffer is in use by the outer search here.
        !view
            .search_exhaustive(q.view(), Scoring::Ip, 1, None)
            .unwrap()
            .iter()
            .any(|&(r, _)| r == row)
    };
    let outer = view
        .search_exhaustive(q.view(), Scoring::Ip, 5, Some(&nested))
        .unwrap();
    let best = view
        .search_exhaustive(q.view(), Scoring::Ip, 1, None)
        .unwrap();
    assert!(!outer.iter().any(|h| h.0 == best[0].0));
    assert_eq!(
        outer,
        brute_force(&part.rows, q.view(), Scoring::Ip, 5, &nested)
    );
}
