//! BM25 as Milvus and Milvus Lite compute it, and corpus statistics that stay exact across parts,
//! deletes and merges.

mod sparse_support;

use covec::internals::sparse::{
    avgdl, idf, term_frequencies, Bm25Params, Bm25Stats, Bm25StatsView, Scoring, SparseMetric,
    SparseVector,
};
use covec::internals::text::{term_id, Analyzer};
use covec::Error;
use proptest::prelude::*;
use sparse_support::{corpus, Aligned, Part, Rng, Values};

fn vector(pairs: &[(u32, f32)]) -> SparseVector {
    SparseVector::from_pairs(pairs.iter().map(|&(i, v)| (i64::from(i), f64::from(v)))).unwrap()
}

/// The documents of Milvus Lite's own test_milvus_fts_compat.py (the last with "python" three times),
/// and an empty one.
const LITE_TEXTS: [&str; 9] = [
    "python is a popular programming language",
    "java is another popular programming language",
    "machine learning uses python extensively",
    "deep learning and neural networks",
    "databases store and retrieve data efficiently",
    "sql is used for database queries",
    "python and java are both object oriented",
    "natural language processing with python python python",
    "",
];

// Recorded from Milvus Lite 3.2.2 (pure Python, `milvus_lite.index.sparse_inverted`), run as:
//
//     an = milvus_lite.analyzer.factory.create_analyzer({"tokenizer": "standard"})
//     tfs = [compute_tf(an.analyze(d)) for d in LITE_TEXTS]
//     qtfs = [compute_tf(an.analyze(q)) for q in QUERIES]
//     idx = SparseInvertedIndex(); idx.build(tfs); ids, dists = idx.search(qtfs, 10)
//
// with QUERIES "python", "python language", "learning python python", "java sql unknownword",
// "and". Below: the analyzed term frequencies and Lite's hits as (row, -distance), i.e. (row, score).
const LITE_DOCS: [&[(u32, f32)]; 9] = [
    &[
        (265224087, 1.0),
        (1312329493, 1.0),
        (1604419870, 1.0),
        (3104893966, 1.0),
        (3119462523, 1.0),
        (3826002220, 1.0),
    ],
    &[
        (136295781, 1.0),
        (588734996, 1.0),
        (1312329493, 1.0),
        (1604419870, 1.0),
        (3104893966, 1.0),
        (3119462523, 1.0),
    ],
    &[
        (265224087, 1.0),
        (859310955, 1.0),
        (1635278981, 1.0),
        (2832307281, 1.0),
        (3775092334, 1.0),
    ],
    &[
        (254395046, 1.0),
        (859310955, 1.0),
        (1638064390, 1.0),
        (2582219887, 1.0),
        (4070314114, 1.0),
    ],
    &[
        (254395046, 1.0),
        (493076809, 1.0),
        (3353852974, 1.0),
        (3631407781, 1.0),
        (3730581137, 1.0),
        (3735821091, 1.0),
    ],
    &[
        (26054723, 1.0),
        (1312329493, 1.0),
        (1786277552, 1.0),
        (2707807672, 1.0),
        (2901640080, 1.0),
        (3192196991, 1.0),
    ],
    &[
        (136295781, 1.0),
        (254395046, 1.0),
        (265224087, 1.0),
        (525525605, 1.0),
        (1081029709, 1.0),
        (3099987130, 1.0),
        (3934383778, 1.0),
    ],
    &[
        (206241385, 1.0),
        (265224087, 3.0),
        (3119462523, 1.0),
        (3260912582, 1.0),
        (3753552150, 1.0),
    ],
    &[],
];
const LITE_QUERIES: [&[(u32, f32)]; 5] = [
    &[(265224087, 1.0)],
    &[(265224087, 1.0), (3119462523, 1.0)],
    &[(265224087, 2.0), (859310955, 1.0)],
    &[(136295781, 1.0), (894845609, 1.0), (3192196991, 1.0)],
    &[(254395046, 1.0)],
];
const LITE_HITS: [&[(u32, f32)]; 5] = [
    &[
        (7, 1.234408),
        (2, 0.82161564),
        (0, 0.75598365),
        (6, 0.70006156),
    ],
    &[
        (7, 2.1548),
        (0, 1.7498981),
        (1, 0.9939144),
        (2, 0.82161564),
        (6, 0.70006156),
    ],
    &[
        (2, 3.0696435),
        (7, 2.468816),
        (0, 1.5119673),
        (3, 1.4264122),
        (6, 1.4001231),
    ],
    &[(5, 1.79609), (1, 1.312468), (6, 1.2153814)],
    &[(3, 1.0802028), (4, 0.9939144), (6, 0.920392)],
];

/// Milvus Lite's term hash (`milvus_lite.analyzer.hash.term_to_id`: FNV-1a 32 of the UTF-8 bytes), which
/// `LITE_DOCS` hold; covec stores the Milvus server's (`term_id`).
fn lite_term_id(token: &str) -> u32 {
    token.bytes().fold(0x811c_9dc5, |hash: u32, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

#[test]
fn the_bm25_function_output_matches_milvus_lite_up_to_the_term_hash() {
    // covec's standard analyzer and counting give Lite's document vectors when tokens are hashed as Lite
    // hashes them, and the same frequencies under the server's ids.
    let analyzer = Analyzer::standard();
    for (text, lite) in LITE_TEXTS.iter().zip(LITE_DOCS) {
        let tokens = analyzer.tokens(text);
        let as_lite = term_frequencies(tokens.iter().map(|t| lite_term_id(&t.text)));
        assert_eq!(as_lite, vector(lite), "{text:?}");
        let stored = term_frequencies(tokens.iter().map(|t| term_id(&t.text)));
        let counts = |v: &SparseVector| {
            let mut c = v.values().to_vec();
            c.sort_by(f32::total_cmp);
            c
        };
        assert_eq!(counts(&stored), counts(&as_lite), "{text:?}");
    }
}

#[test]
fn the_reserved_index_is_a_valid_term_for_bm25() {
    // Hashed tokens can take 2^32 - 1, which Milvus refuses in a user's vector.
    let doc = term_frequencies([u32::MAX, 5, u32::MAX, 5, 5, 9]);
    assert_eq!(
        (doc.indices(), doc.values()),
        (&[5, 9, u32::MAX][..], &[3.0, 1.0, 2.0][..])
    );
    assert!(doc.view().validate().is_err());
    doc.view().validate_stored().unwrap();
    let rows = vec![doc, term_frequencies([5, 9]), term_frequencies([])];
    let mut stats = Bm25Stats::default();
    for r in &rows {
        stats.add_doc(r.view()).unwrap();
    }
    let params = Bm25Params::default();
    let part = Part::new(rows, SparseMetric::Bm25(params));
    let query = stats.weigh_query(term_frequencies([u32::MAX]).view());
    let scoring = Scoring::bm25(params, stats.avgdl()).unwrap();
    let hits = part.view().search(query.view(), scoring, 10, None).unwrap();
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![0]);
    assert_eq!(part.view().stats_for(&[u32::MAX]).unwrap().df(u32::MAX), 1);
}

#[test]
fn scores_match_milvus_lite() {
    let rows: Vec<SparseVector> = LITE_DOCS.iter().map(|d| vector(d)).collect();
    let mut stats = Bm25Stats::default();
    for r in &rows {
        stats.add_doc(r.view()).unwrap();
    }
    assert_eq!((stats.docs(), stats.total_len()), (9, 48));
    // Lite's default k1 is 1.5 (Milvus's is 1.2).
    let params = Bm25Params::new(1.5, 0.75).unwrap();
    let scoring = Scoring::bm25(params, stats.avgdl()).unwrap();
    let part = Part::new(rows, SparseMetric::Bm25(params));
    for (query, lite) in LITE_QUERIES.iter().zip(LITE_HITS) {
        let weighted = stats.weigh_query(vector(query).view());
        let hits = part
            .view()
            .search(weighted.view(), scoring, 10, None)
            .unwrap();
        let rows: Vec<u32> = hits.iter().map(|h| h.0).collect();
        let expected: Vec<u32> = lite.iter().map(|h| h.0).collect();
        assert_eq!(rows, expected, "query {query:?}");
        // Bit for bit: the same f32 operations on the same statistics. (Lite adds a query's terms
        // in the order the text gave them, covec in term order; no row here matches more than two
        // terms, and a sum of two does not depend on the order.)
        let scores: Vec<u32> = hits.iter().map(|h| h.1.to_bits()).collect();
        let expected: Vec<u32> = lite.iter().map(|h| h.1.to_bits()).collect();
        assert_eq!(scores, expected, "query {query:?}");
    }
}

/// The formula written out in `f64`, independently of the library's `f32` code.
fn reference_score(
    stats: &Bm25Stats,
    k1: f64,
    b: f64,
    query: &SparseVector,
    doc: &SparseVector,
) -> f64 {
    let n = stats.docs() as f64;
    let avgdl = stats.total_len() as f64 / n;
    let dl: f64 = doc.values().iter().map(|&v| f64::from(v)).sum();
    let mut score = 0.0;
    for (&t, &qtf) in query.indices().iter().zip(query.values()) {
        if let Ok(i) = doc.indices().binary_search(&t) {
            let tf = f64::from(doc.values()[i]);
            let df = stats.df(t) as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            score +=
                f64::from(qtf) * idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl));
        }
    }
    score
}

#[test]
fn scores_follow_the_formula() {
    let mut rng = Rng::new(3);
    let rows = corpus(&mut rng, 2000, 300, 30, Values::Counts, 31);
    let mut stats = Bm25Stats::default();
    for r in &rows {
        stats.add_doc(r.view()).unwrap();
    }
    for (k1, b) in [(1.2, 0.75), (0.0, 0.0), (3.0, 1.0), (0.5, 0.3)] {
        let params = Bm25Params::new(k1, b).unwrap();
        let scoring = Scoring::bm25(params, stats.avgdl()).unwrap();
        for q in rows.iter().step_by(97) {
            let weighted = stats.weigh_query(q.view());
            for doc in rows.iter().step_by(13) {
                let ours = f64::from(scoring.score(weighted.view(), doc.view()));
                let exact = reference_score(&stats, k1, b, q, doc);
                assert!(
                    (ours - exact).abs() <= 1e-5 * exact.max(1e-30),
                    "{ours} vs {exact}"
                );
            }
        }
    }
}

#[test]
fn idf_and_mean_length_are_milvus_s() {
    assert_eq!(idf(10, 3), ((1.0 + 7.5f64 / 3.5).ln()) as f32);
    assert_eq!(idf(1, 1), (1.0 + 0.5f64 / 1.5).ln() as f32);
    assert!(
        idf(1_000_000, 1_000_000) > 0.0,
        "ln(1 + x) stays positive for every term"
    );
    assert_eq!(avgdl(4, 10), 2.5);
    assert_eq!((avgdl(0, 0), avgdl(5, 0)), (1.0, 1.0));
    let mut stats = Bm25Stats::default();
    stats.add_doc(vector(&[(1, 2.0), (2, 1.0)]).view()).unwrap();
    stats.add_doc(vector(&[(2, 4.0)]).view()).unwrap();
    let q = stats.weigh_query(vector(&[(1, 1.0), (2, 2.0), (3, 1.0)]).view());
    assert_eq!(q.indices(), &[1, 2, 3]);
    assert_eq!(q.values(), &[idf(2, 1), 2.0 * idf(2, 2), idf(2, 0)]);
}

#[test]
fn parameters_are_checked_with_milvus_messages() {
    assert_eq!(Bm25Params::default(), Bm25Params::new(1.2, 0.75).unwrap());
    for (k1, b, expected) in [
        (3.5, 0.75, "invalid bm25_k1: 3.5, must be in range [0, 3]"),
        (-0.1, 0.75, "invalid bm25_k1: -0.1, must be in range [0, 3]"),
        (
            f64::NAN,
            0.75,
            "invalid bm25_k1: NaN, must be in range [0, 3]",
        ),
        (1.2, 1.01, "invalid bm25_b: 1.01, must be in range [0, 1]"),
    ] {
        let e = Bm25Params::new(k1, b).unwrap_err();
        assert!(matches!(e, Error::Invalid { code: 6, .. }));
        assert_eq!(e.to_string(), expected);
    }
}

#[test]
fn documents_must_hold_term_frequencies() {
    let fractional = vector(&[(1, 1.5)]);
    let e = Bm25Stats::default().add_doc(fractional.view()).unwrap_err();
    assert!(
        e.to_string().contains("term frequencies, whole numbers"),
        "{e}"
    );
    let refs = [fractional.view()];
    let column = Aligned::new(&covec::internals::sparse::encode_column(&refs).unwrap());
    let view = covec::internals::sparse::SparseColumnView::from_bytes(column.bytes(), 1).unwrap();
    let e = covec::internals::sparse::build_index(&view, SparseMetric::Bm25(Bm25Params::default()))
        .unwrap_err();
    assert!(e.to_string().contains("row 0 has another value"), "{e}");
    // The same row is a fine IP row.
    covec::internals::sparse::build_index(&view, SparseMetric::Ip).unwrap();
}

#[test]
fn statistics_serialize_and_are_read_in_place() {
    let mut stats = Bm25Stats::default();
    for d in LITE_DOCS {
        stats.add_doc(vector(d).view()).unwrap();
    }
    let bytes = Aligned::new(&stats.to_bytes());
    let view = Bm25StatsView::from_bytes(bytes.bytes()).unwrap();
    assert_eq!((view.docs(), view.total_len()), (9, 48));
    assert_eq!(view.df(265224087).unwrap(), 4);
    assert_eq!(view.df(7).unwrap(), 0);
    assert_eq!(view.to_stats().unwrap(), stats);
    let some = view.stats_for(&[265224087, 7, 254395046]).unwrap();
    assert_eq!(
        some.terms().collect::<Vec<_>>(),
        vec![(254395046, 3), (265224087, 4)]
    );
    let empty = Aligned::new(&Bm25Stats::default().to_bytes());
    assert_eq!(
        Bm25StatsView::from_bytes(empty.bytes())
            .unwrap()
            .to_stats()
            .unwrap(),
        Bm25Stats::default()
    );
}

#[test]
fn subtracting_what_was_never_counted_is_refused() {
    let mut stats = Bm25Stats::default();
    stats.add_doc(vector(&[(1, 1.0)]).view()).unwrap();
    let before = stats.clone();
    let e = stats.remove_doc(vector(&[(2, 1.0)]).view()).unwrap_err();
    assert!(matches!(e, Error::Internal(_)), "{e}");
    assert_eq!(stats, before, "a refused subtraction changes nothing");
    stats.remove_doc(vector(&[(1, 1.0)]).view()).unwrap();
    assert_eq!(stats, Bm25Stats::default());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A collection as parts, some rows deleted, parts merged: the statistics the engine combines
    /// (each part's index, minus each part's deleted rows, added up) equal those of the live rows
    /// counted afresh, and so do the scores and hits computed with them.
    #[test]
    fn statistics_combine_exactly_across_parts_deletes_and_merges(
        seed in any::<u64>(),
        sizes in proptest::collection::vec(0usize..200, 1..5),
        delete_one_in in 2u64..10,
        merge in any::<bool>(),
    ) {
        let mut rng = Rng::new(seed);
        let params = Bm25Params::default();
        let mut parts: Vec<(Vec<SparseVector>, Vec<bool>)> = sizes
            .iter()
            .map(|&n| {
                let rows = corpus(&mut rng, n, 60, 12, Values::Counts, 7);
                let deleted = (0..n).map(|_| rng.below(delete_one_in) == 0).collect();
                (rows, deleted)
            })
            .collect();
        if merge {
            // A merge rewrites the live rows of the newest two parts as one part with no deletions.
            let merged: Vec<SparseVector> = parts
                .iter()
                .rev()
                .take(2)
                .rev()
                .flat_map(|(rows, deleted)| rows.iter().zip(deleted).filter(|x| !*x.1).map(|x| x.0.clone()))
                .collect();
            let keep = parts.len().saturating_sub(2);
            parts.truncate(keep);
            let n = merged.len();
            parts.push((merged, vec![false; n]));
        }
        let query = corpus(&mut rng, 1, 60, 6, Values::Counts, 7).pop().unwrap();
        let terms = query.indices();

        let mut live = Bm25Stats::default();
        let mut combined = Bm25Stats::default();
        let mut deleted_total = Bm25Stats::default();
        let mut built = Vec::new();
        for (rows, deleted) in &parts {
            let part = Part::new(rows.clone(), SparseMetric::Bm25(params));
            combined.add(&part.view().stats_for(terms).unwrap());
            // What the deleting commit stores for the part: its deleted rows' statistics.
            let mut gone = Bm25Stats::default();
            for (row, &d) in rows.iter().zip(deleted) {
                if d {
                    gone.add_doc(row.view()).unwrap();
                } else {
                    live.add_doc(row.view()).unwrap();
                }
            }
            let stored = Aligned::new(&gone.to_bytes());
            let restricted = Bm25StatsView::from_bytes(stored.bytes()).unwrap().stats_for(terms).unwrap();
            combined.subtract(&restricted).unwrap();
            deleted_total.add(&gone);
            built.push((part, deleted.clone()));
        }
        prop_assert_eq!(combined.docs(), live.docs());
        prop_assert_eq!(combined.total_len(), live.total_len());
        for &t in terms {
            prop_assert_eq!(combined.df(t), live.df(t));
        }
        prop_assert_eq!(combined.weigh_query(query.view()), live.weigh_query(query.view()));

        // Every live row's score through the parts' indexes equals its score against the live rows.
        let scoring = Scoring::bm25(params, combined.avgdl()).unwrap();
        let weighted = combined.weigh_query(query.view());
        for (part, deleted) in &built {
            let alive = |row: u32| !deleted[row as usize];
            let hits = part.view().search(weighted.view(), scoring, 1000, Some(&alive)).unwrap();
            for (row, score) in hits {
                prop_assert!(!deleted[row as usize]);
                prop_assert_eq!(score, scoring.score(weighted.view(), part.rows[row as usize].view()));
            }
        }
    }
}
