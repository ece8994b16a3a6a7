//! Range search, grouping search, search pages (the iterator's cursor) and hybrid search checked against
//! exact references: a range search is the exact ranking filtered by the bounds, a grouping is the
//! brute-force grouping of the exact ranking, pages cut one after another are the exact ranking, and a
//! hybrid search's fused scores are the formulas applied to each request's own search. With a graph the
//! answers must stay inside what they promise (bounds, no repeated row) and find most of the exact answer.

mod storage_util;

use std::collections::{HashMap, HashSet};

use covec::{
    CollectionSchema, DataType, Db, GroupBy, Hit, HybridRequest, IndexKind, IndexSpec, Merge,
    Metric, OutputFields, Pk, QueryVectors, Range, Rerank, SearchRequest, SparseVector, Value,
};
use proptest::prelude::*;
use storage_util::{field, TempDb};

const DIM: usize = 6;

/// Deterministic vectors in [-1, 1).
fn vectors(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n * DIM)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// id INT64 pk, v and w FLOAT_VECTOR(DIM), g INT64 nullable (the group), tag VARCHAR.
fn schema() -> CollectionSchema {
    CollectionSchema::new(
        vec![
            field("id", DataType::Int64, |f| f.is_primary = true),
            field("v", DataType::FloatVector, |f| f.dim = Some(DIM as u32)),
            field("w", DataType::FloatVector, |f| f.dim = Some(DIM as u32)),
            field("g", DataType::Int64, |f| f.nullable = true),
            field("tag", DataType::VarChar, |_| {}),
        ],
        "",
        false,
    )
}

fn index(field: &str, kind: IndexKind, metric: Metric) -> IndexSpec {
    IndexSpec {
        field: field.into(),
        index_name: field.into(),
        index_type: if kind == IndexKind::Flat {
            "FLAT"
        } else {
            "HNSW"
        }
        .into(),
        kind,
        metric,
        params: vec![],
    }
}

/// A collection of `n` rows (groups `id % groups`, null every 11th row), every 13th row deleted.
fn collection(t: &TempDb, n: usize, groups: i64, kind: IndexKind, metrics: (Metric, Metric)) -> Db {
    let db = t.open();
    let specs = vec![
        index("v", kind, metrics.0),
        index("w", IndexKind::Flat, metrics.1),
    ];
    db.create_collection("c", schema(), specs).unwrap();
    let (v, w) = (vectors(n, 1), vectors(n, 2));
    let rows = (0..n)
        .map(|i| {
            let g = if i % 11 == 10 {
                Value::Null
            } else {
                Value::Int(i as i64 % groups)
            };
            vec![
                ("id".into(), Value::Int(i as i64)),
                (
                    "v".into(),
                    Value::FloatVector(v[i * DIM..(i + 1) * DIM].to_vec()),
                ),
                (
                    "w".into(),
                    Value::FloatVector(w[i * DIM..(i + 1) * DIM].to_vec()),
                ),
                ("g".into(), g),
                ("tag".into(), Value::Str(format!("t{}", i % 3))),
            ]
        })
        .collect();
    db.insert("c", rows).unwrap();
    delete_every_13th(&db, n);
    db
}

/// Deletes rows 0, 13, 26, ... of the `n` rows of collection "c".
fn delete_every_13th(db: &Db, n: usize) {
    let gone: Vec<Pk> = (0..n)
        .filter(|i| i % 13 == 0)
        .map(|i| Pk::Int(i as i64))
        .collect();
    db.delete_ids("c", &gone).unwrap();
}

fn request(field: &str, q: &[f32], limit: usize) -> SearchRequest {
    SearchRequest {
        anns_field: Some(field.into()),
        vectors: q.to_vec().into(),
        nq: q.len() / DIM,
        limit,
        ..SearchRequest::default()
    }
}

fn ids(hits: &[Hit]) -> Vec<Pk> {
    hits.iter().map(|h| h.id.clone()).collect()
}

fn int(pk: &Pk) -> i64 {
    match pk {
        Pk::Int(i) => *i,
        Pk::Str(_) => panic!("int keys"),
    }
}

/// Every live row of `c` ranked for `q` on `field`, best first (the exact reference).
fn ranking(db: &Db, field: &str, q: &[f32]) -> Vec<Hit> {
    db.search("c", &request(field, q, 100_000))
        .unwrap()
        .remove(0)
}

fn inside(metric: Metric, range: Range, d: f32) -> bool {
    if !metric.higher_is_better() {
        range.radius.is_none_or(|r| d < r) && range.range_filter.is_none_or(|f| d >= f)
    } else {
        range.radius.is_none_or(|r| d > r) && range.range_filter.is_none_or(|f| d <= f)
    }
}

/// The ids of `all` (a ranking for `metric`) inside `range`, in order.
fn in_range(all: &[Hit], metric: Metric, range: Range) -> impl Iterator<Item = Pk> + '_ {
    all.iter()
        .filter(move |h| inside(metric, range, h.distance))
        .map(|h| h.id.clone())
}

fn metric_strategy() -> impl Strategy<Value = Metric> {
    prop_oneof![Just(Metric::L2), Just(Metric::Ip), Just(Metric::Cosine)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn exact_range_search_is_the_exact_ranking_filtered(
        metric in metric_strategy(),
        seed in 0u64..1000,
        lo in 0.0f32..0.3,
        width in 0.05f32..1.5,
        limit in 1usize..100,
        offset in 0usize..5,
        sides in 0u8..3,
        between in any::<bool>(),
    ) {
        let t = TempDb::new("range");
        let db = collection(&t, 200, 5, IndexKind::Flat, (metric, metric));
        let q = vectors(1, 100 + seed);
        let all = ranking(&db, "v", &q);
        // Bounds on distances of rows themselves (so inclusive and exclusive ends matter), closer
        // first in the ranking, plus a small shift off them for `between`.
        let a = (lo * (all.len() - 1) as f32) as usize;
        let b = (a + 1 + (width * 20.0) as usize).min(all.len() - 1);
        let shift = if between { (all[b].distance - all[a].distance) / 1e3 } else { 0.0 };
        let (close, distant) = (all[a].distance + shift, all[b].distance + shift);
        let range = match sides {
            0 => Range { radius: Some(distant), range_filter: Some(close) },
            1 => Range { radius: Some(distant), range_filter: None },
            _ => Range { radius: None, range_filter: Some(close) },
        };
        let mut r = request("v", &q, limit);
        r.range = range;
        r.offset = offset;
        let got = db.search("c", &r).unwrap().remove(0);
        let expected: Vec<Pk> = in_range(&all, metric, range).skip(offset).take(limit).collect();
        prop_assert_eq!(ids(&got), expected);
    }

    #[test]
    fn grouping_search_is_the_brute_force_grouping_of_the_ranking(
        metric in metric_strategy(),
        seed in 0u64..1000,
        groups in 1i64..9,
        size in 1usize..4,
        strict in any::<bool>(),
        limit in 1usize..6,
        offset in 0usize..3,
        filtered in any::<bool>(),
    ) {
        let t = TempDb::new("group");
        let db = collection(&t, 150, groups, IndexKind::Flat, (metric, metric));
        let q = vectors(1, 300 + seed);
        let mut all_request = request("v", &q, 100_000);
        let mut r = request("v", &q, limit);
        if filtered {
            all_request.filter = "tag != \"t1\"".into();
            r.filter = all_request.filter.clone();
        }
        let all = db.search("c", &all_request).unwrap().remove(0);
        // The reference: rows in ranking order, grouped by first appearance.
        let group_of = |pk: &Pk| -> Option<i64> {
            let i = int(pk);
            (i % 11 != 10).then_some(i % groups)
        };
        let mut order: Vec<Option<i64>> = Vec::new();
        let mut members: HashMap<Option<i64>, Vec<Pk>> = HashMap::new();
        for h in &all {
            let g = group_of(&h.id);
            let m = members.entry(g).or_insert_with(|| { order.push(g); Vec::new() });
            if m.len() < size {
                m.push(h.id.clone());
            }
        }
        let expected: Vec<Pk> = order
            .iter()
            .filter(|g| !strict || members[g].len() == size)
            .skip(offset)
            .take(limit)
            .flat_map(|g| members[g].clone())
            .collect();
        r.group_by = Some(GroupBy { field: "g".into(), size, strict });
        r.offset = offset;
        let got = db.search("c", &r).unwrap().remove(0);
        prop_assert_eq!(ids(&got), expected);
    }

    #[test]
    fn exact_search_pages_are_the_exact_ranking_cut(
        metric in metric_strategy(),
        seed in 0u64..1000,
        batches in proptest::collection::vec(1usize..30, 1..12),
        bounded in any::<bool>(),
    ) {
        let t = TempDb::new("pages");
        let db = collection(&t, 120, 4, IndexKind::Flat, (metric, metric));
        let q = vectors(1, 500 + seed);
        let mut r = request("v", &q, 1);
        if bounded {
            r.filter = "g != 2".into();
        }
        let mut all_request = r.clone();
        all_request.limit = 100_000;
        let all = ids(&db.search("c", &all_request).unwrap().remove(0));
        let mut it = db.pin().unwrap().search_iter("c", r).unwrap();
        let mut got = Vec::new();
        for &b in &batches {
            let page = it.next_page(b).unwrap();
            prop_assert!(page.len() <= b);
            got.extend(ids(&page));
        }
        let n = got.len();
        prop_assert_eq!(&got[..], &all[..n.min(all.len())]);
        prop_assert_eq!(n, batches.iter().sum::<usize>().min(all.len()));
    }
}

/// id INT64 pk, b BINARY_VECTOR(32) and s SPARSE_FLOAT_VECTOR, in two parts, every 13th row deleted;
/// `b` indexed for `binary_metric`, `s` by its inverted index (IP) when `sparse_index`, else exactly.
fn binary_and_sparse(t: &TempDb, binary_metric: Metric, sparse_index: bool) -> Db {
    let db = t.open();
    let schema = CollectionSchema::new(
        vec![
            field("id", DataType::Int64, |f| f.is_primary = true),
            field("b", DataType::BinaryVector, |f| f.dim = Some(32)),
            field("s", DataType::SparseFloatVector, |_| {}),
        ],
        "",
        false,
    );
    let mut specs = vec![IndexSpec {
        index_type: "BIN_FLAT".into(),
        ..index("b", IndexKind::Flat, binary_metric)
    }];
    if sparse_index {
        specs.push(IndexSpec {
            index_type: "SPARSE_INVERTED_INDEX".into(),
            ..index("s", IndexKind::SparseInverted, Metric::Ip)
        });
    }
    db.create_collection("c", schema, specs).unwrap();
    let n = 240;
    let v = vectors(n, 7);
    for half in [0..n / 2, n / 2..n] {
        let rows = half
            .map(|i| {
                let row = &v[i * DIM..(i + 1) * DIM];
                let bits: Vec<u8> = row.iter().take(4).map(|x| (x * 1e4) as i64 as u8).collect();
                // Terms 0..12, a few per row, weights from the row's values.
                let terms = row
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| **x > -0.2)
                    .map(|(j, x)| (((j * 5 + i) % 12) as i64, f64::from(x.abs()) + 0.1));
                let mut terms: Vec<_> = terms.collect();
                terms.sort_by_key(|&(t, _)| t);
                terms.dedup_by_key(|&mut (t, _)| t);
                vec![
                    ("id".into(), Value::Int(i as i64)),
                    ("b".into(), Value::BinaryVector(bits)),
                    (
                        "s".into(),
                        Value::SparseFloatVector(SparseVector::from_pairs(terms).unwrap()),
                    ),
                ]
            })
            .collect();
        db.insert("c", rows).unwrap();
    }
    delete_every_13th(&db, n);
    db
}

/// Range search and search pages on binary (HAMMING, JACCARD) and sparse (IP, with and without the
/// inverted index) fields: the exact ranking filtered by the bounds, and cut in pages.
#[test]
fn binary_and_sparse_range_search_and_pages_are_the_exact_ranking() {
    let binary_query = QueryVectors::Binary(vec![0b1011_0010, 0x5a, 0xff, 0x01]);
    let sparse_query = QueryVectors::Sparse(vec![SparseVector::from_pairs([
        (1, 0.5),
        (4, 1.0),
        (7, 0.25),
        (11, 2.0),
    ])
    .unwrap()]);
    let cases = [
        (Metric::Hamming, true, "b", &binary_query),
        (Metric::Jaccard, false, "b", &binary_query),
        (Metric::Hamming, true, "s", &sparse_query),
        (Metric::Hamming, false, "s", &sparse_query),
    ];
    for (binary_metric, sparse_index, field, query) in cases {
        let t = TempDb::new("binary-sparse");
        let db = binary_and_sparse(&t, binary_metric, sparse_index);
        let metric = if field == "b" {
            binary_metric
        } else {
            Metric::Ip
        };
        let request = |limit: usize| SearchRequest {
            anns_field: Some(field.into()),
            vectors: query.clone(),
            nq: 1,
            limit,
            ..SearchRequest::default()
        };
        let all = db.search("c", &request(100_000)).unwrap().remove(0);
        let case = format!("{field} {metric:?} index {sparse_index}");
        assert!(all.len() > 60, "{case}: {} rows ranked", all.len());
        for (a, b) in [(0, 40), (5, 40), (12, 13), (30, all.len() - 1)] {
            for range in [
                Range {
                    radius: Some(all[b].distance),
                    range_filter: Some(all[a].distance),
                },
                Range {
                    radius: Some(all[b].distance),
                    range_filter: None,
                },
                Range {
                    radius: None,
                    range_filter: Some(all[a].distance),
                },
            ] {
                if range.radius.is_some() && range.radius == range.range_filter {
                    continue; // no room between them: refused, as Milvus does
                }
                let mut r = request(25);
                r.range = range;
                let got = db.search("c", &r).unwrap().remove(0);
                let expected: Vec<Pk> = in_range(&all, metric, range).take(25).collect();
                assert_eq!(ids(&got), expected, "{case}: {range:?}");
            }
        }
        let mut it = db.pin().unwrap().search_iter("c", request(1)).unwrap();
        let mut paged = Vec::new();
        loop {
            let page = it.next_page(17).unwrap();
            if page.is_empty() {
                break;
            }
            paged.extend(ids(&page));
        }
        assert_eq!(paged, ids(&all), "{case}: pages");
    }
}

/// On a graph, range search keeps its bounds and finds nearly every row the exact ranking has inside
/// them (the walk is widened, not cut at ef).
#[test]
fn graph_range_search_stays_inside_and_finds_most_of_the_range() {
    for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
        let t = TempDb::new("graph-range");
        let db = collection(&t, 3000, 7, IndexKind::Hnsw, (metric, metric));
        let flat = TempDb::new("graph-range-exact");
        let exact_db = collection(&flat, 3000, 7, IndexKind::Flat, (metric, metric));
        let mut found = 0usize;
        let mut expected_total = 0usize;
        for s in 0..10 {
            let q = vectors(1, 900 + s);
            let all = ranking(&exact_db, "v", &q);
            // A band from the 20th to the 300th distance: a range_filter that cuts the best rows, and
            // more hits than the default ef.
            let (a, b) = (all[20].distance, all[300].distance);
            // Each metric's direction: a is closer than b.
            let range = Range {
                radius: Some(b),
                range_filter: Some(a),
            };
            let mut r = request("v", &q, 250);
            r.range = range;
            let got = db.search("c", &r).unwrap().remove(0);
            let expected: HashSet<Pk> = in_range(&all, metric, range).take(250).collect();
            for h in &got {
                assert!(
                    inside(metric, range, h.distance),
                    "{metric:?}: {} outside {range:?}",
                    h.distance
                );
            }
            let got_ids: HashSet<Pk> = ids(&got).into_iter().collect();
            assert_eq!(got_ids.len(), got.len(), "no row twice");
            found += got_ids.intersection(&expected).count();
            expected_total += expected.len();
        }
        let recall = found as f64 / expected_total as f64;
        assert!(recall > 0.9, "{metric:?}: recall {recall}");
    }
}

/// On a graph, pages never repeat a row, each page is in order and pages come in order.
#[test]
fn graph_search_pages_never_repeat_a_row() {
    let t = TempDb::new("graph-pages");
    let db = collection(&t, 3000, 7, IndexKind::Hnsw, (Metric::L2, Metric::L2));
    let q = vectors(1, 77);
    let mut it = db
        .pin()
        .unwrap()
        .search_iter("c", request("v", &q, 1))
        .unwrap();
    let mut seen = HashSet::new();
    let mut last = f32::MIN;
    let mut total = 0;
    loop {
        let page = it.next_page(97).unwrap();
        if page.is_empty() {
            break;
        }
        for h in &page {
            assert!(seen.insert(h.id.clone()), "row {:?} twice", h.id);
            assert!(h.distance >= last, "pages out of order");
            last = h.distance;
        }
        total += page.len();
    }
    let live = 3000 - (0..3000).filter(|i| i % 13 == 0).count();
    assert!(
        total as f64 > 0.95 * live as f64,
        "{total} of {live} rows paged"
    );
}

/// An iterator keeps its generation: rows committed after it was created never show up in its pages,
/// and rows deleted meanwhile still do.
#[test]
fn iterators_keep_the_generation_they_started_on() {
    let t = TempDb::new("pinned");
    let db = collection(&t, 100, 3, IndexKind::Flat, (Metric::L2, Metric::L2));
    let pinned = db.pin().unwrap();
    let q = vectors(1, 5);
    let mut search = pinned.search_iter("c", request("v", &q, 1)).unwrap();
    let out = OutputFields {
        names: vec!["id".into()],
        all: false,
    };
    let mut query = pinned.query_iter("c", "", out, 0).unwrap();
    let first = search.next_page(10).unwrap();
    let first_rows = query.next_page(10).unwrap();
    // Another writer: delete a row not yet paged, insert rows nearer than any.
    let other = t.open();
    other.delete_ids("c", &[Pk::Int(99)]).unwrap();
    let near = vec![
        ("id".into(), Value::Int(1000)),
        ("v".into(), Value::FloatVector(q.clone())),
        ("w".into(), Value::FloatVector(q.clone())),
        ("g".into(), Value::Int(0)),
        ("tag".into(), Value::Str("new".into())),
    ];
    other.insert("c", vec![near]).unwrap();
    assert!(db.pin().unwrap().generation() > pinned.generation());
    assert_eq!(search.generation(), pinned.generation());
    let mut paged: Vec<Pk> = ids(&first);
    loop {
        let page = search.next_page(25).unwrap();
        if page.is_empty() {
            break;
        }
        paged.extend(ids(&page));
    }
    let before = ids(&pinned
        .search("c", &request("v", &q, 1000))
        .unwrap()
        .remove(0));
    assert_eq!(paged, before);
    assert!(!paged.contains(&Pk::Int(1000)));
    assert!(paged.contains(&Pk::Int(99)));
    let mut rows = first_rows;
    loop {
        let page = query.next_page(30).unwrap();
        if page.is_empty() {
            break;
        }
        rows.extend(page);
    }
    let keys: Vec<Value> = rows.iter().map(|r| r[0].1.clone()).collect();
    let expected: Vec<Value> = (0..100)
        .filter(|i| i % 13 != 0)
        .map(|i| Value::Int(i as i64))
        .collect();
    assert_eq!(keys, expected);
}

/// The fused score of each hybrid hit is the formula applied to each request's own search.
#[test]
fn hybrid_scores_are_the_formulas_over_each_request() {
    let t = TempDb::new("hybrid");
    let db = collection(&t, 200, 5, IndexKind::Flat, (Metric::Cosine, Metric::L2));
    let q = vectors(2, 31);
    let (rv, rw) = (request("v", &q, 30), {
        let mut r = request("w", &q, 20);
        r.filter = "tag != \"t0\"".into();
        r
    });
    let routes = [
        (db.search("c", &rv).unwrap(), Metric::Cosine),
        (db.search("c", &rw).unwrap(), Metric::L2),
    ];
    for merge in [
        Merge::Rrf { k: 60.0 },
        Merge::Rrf { k: 5.0 },
        Merge::Weighted {
            weights: vec![0.7, 0.3],
            norm_score: true,
        },
        Merge::Weighted {
            weights: vec![0.7, 0.3],
            norm_score: false,
        },
    ] {
        let hybrid = HybridRequest {
            requests: vec![rv.clone(), rw.clone()],
            rerank: Rerank {
                merge: Some(merge.clone()),
                ..Rerank::default()
            },
            limit: 15,
            offset: 2,
            ..HybridRequest::default()
        };
        let got = db.hybrid_search("c", &hybrid).unwrap();
        assert_eq!(got.len(), 2);
        for (qi, hits) in got.iter().enumerate() {
            let mut fused: HashMap<Pk, f64> = HashMap::new();
            for (hits, metric) in &routes {
                for (rank, h) in hits[qi].iter().enumerate() {
                    let d = f64::from(h.distance);
                    let score = match &merge {
                        Merge::Rrf { k } => 1.0 / (k + rank as f64 + 1.0),
                        Merge::Weighted {
                            weights,
                            norm_score,
                        } => {
                            let w = weights[usize::from(*metric == Metric::L2)];
                            let atan = |x: f64| x.atan() / std::f64::consts::PI;
                            w * match (metric, norm_score) {
                                (Metric::Cosine, true) => (1.0 + d) / 2.0,
                                (Metric::L2, _) => 1.0 - 2.0 * atan(d),
                                _ => d,
                            }
                        }
                        Merge::Decay { .. } => unreachable!(),
                    };
                    *fused.entry(h.id.clone()).or_default() += score;
                }
            }
            // Scores place by place (rows of equal score may come in either order), and each hit's
            // own score.
            let mut expected: Vec<f64> = fused.values().copied().collect();
            // A cosine and an L2 route: every merge ranks larger first.
            expected.sort_by(|a, b| b.total_cmp(a));
            assert_eq!(hits.len(), 15);
            for (h, score) in hits.iter().zip(expected.iter().skip(2)) {
                assert!(
                    (f64::from(h.distance) - score).abs() < 1e-6,
                    "{merge:?}: {} vs {score}",
                    h.distance
                );
                assert!(
                    (f64::from(h.distance) - fused[&h.id]).abs() < 1e-6,
                    "{merge:?}: row {:?}",
                    h.id
                );
            }
        }
    }
    // Weights must match the requests.
    let bad = HybridRequest {
        requests: vec![rv, rw],
        rerank: Rerank {
            merge: Some(Merge::Weighted {
                weights: vec![1.0],
                norm_score: true,
            }),
            ..Rerank::default()
        },
        limit: 5,
        ..HybridRequest::default()
    };
    let err = db.hybrid_search("c", &bad).unwrap_err();
    assert_eq!(err.code(), 1);
    assert!(
        err.to_string().contains("requires 2 weights, got 1"),
        "{err}"
    );
}

/// Bounds in the wrong order for the metric, grouping by an unsupported field: Milvus's errors.
#[test]
fn bad_range_and_grouping_are_refused_with_milvus_messages() {
    let t = TempDb::new("bad");
    let db = collection(&t, 20, 2, IndexKind::Flat, (Metric::L2, Metric::Ip));
    let q = vectors(1, 3);
    let mut r = request("v", &q, 5);
    r.range = Range {
        radius: Some(1.0),
        range_filter: Some(2.0),
    };
    let err = db.search("c", &r).unwrap_err();
    assert_eq!(err.code(), 1100);
    assert!(
        err.to_string()
            .contains("range_filter must be less than radius for L2"),
        "{err}"
    );
    let mut r = request("w", &q, 5);
    r.range = Range {
        radius: Some(1.0),
        range_filter: Some(0.5),
    };
    let err = db.search("c", &r).unwrap_err();
    assert!(
        err.to_string()
            .contains("range_filter must be greater than radius for IP/COSINE"),
        "{err}"
    );
    let mut r = request("v", &q, 5);
    r.group_by = Some(GroupBy {
        field: "v".into(),
        size: 1,
        strict: false,
    });
    let err = db.search("c", &r).unwrap_err();
    assert!(
        err.to_string()
            .contains("group_by_field 'v' has type FLOAT_VECTOR which is not supported"),
        "{err}"
    );
    r.group_by = Some(GroupBy {
        field: "nope".into(),
        size: 1,
        strict: false,
    });
    let err = db.search("c", &r).unwrap_err();
    assert!(
        err.to_string().contains("group_by_field 'nope' not found"),
        "{err}"
    );
}
