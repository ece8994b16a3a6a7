//! Damaged sparse sections: truncated, lying lengths, rows out of range, arbitrary mutations. Wraps
//! and searches refuse them with `Corrupt` (or `NewerVersion`), never panic, never read outside the
//! section; and what the full check accepts is searched exactly.

mod sparse_support;

use covec::internals::sparse::{
    encode_column, Bm25Params, Bm25Stats, Bm25StatsView, Scoring, SparseColumnView,
    SparseIndexView, SparseMetric, SparseRef, SparseVector,
};
use covec::Error;
use proptest::prelude::*;
use sparse_support::{brute_force, corpus, Aligned, Part, Rng, Values};

const N: usize = 300;

fn rows(seed: u64) -> Vec<SparseVector> {
    corpus(&mut Rng::new(seed), N, 12, 8, Values::Counts, 3)
}

fn metric(bm25: bool) -> SparseMetric {
    if bm25 {
        SparseMetric::Bm25(Bm25Params::default())
    } else {
        SparseMetric::Ip
    }
}

fn scoring(bm25: bool) -> Scoring {
    if bm25 {
        Scoring::bm25(Bm25Params::default(), 7.5).unwrap()
    } else {
        Scoring::Ip
    }
}

fn damage(e: &Error) -> bool {
    matches!(e, Error::Corrupt { .. } | Error::NewerVersion { .. })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Byte offsets of the postings' rows and values (the section's last two arrays).
fn postings_at(index: &[u8]) -> (usize, usize) {
    let p = u64_at(index, 24) as usize;
    (index.len() - 8 * p, index.len() - 4 * p)
}

/// Searches a view that wrapped: every query over the corpus's terms, both searches, with and
/// without a filter. Errors must be damage; with `exact`, both searches and the brute force agree.
fn exercise(
    view: &SparseIndexView,
    bm25: bool,
    queries: &[SparseVector],
    exact: Option<&[SparseVector]>,
) {
    let odd = |r: u32| r % 2 == 1;
    for q in queries {
        for filter in [None, Some(&odd as &dyn Fn(u32) -> bool)] {
            let a = view.search(q.view(), scoring(bm25), 7, filter);
            let b = view.search_exhaustive(q.view(), scoring(bm25), 7, filter);
            for r in [&a, &b] {
                if let Err(e) = r {
                    assert!(damage(e), "{e:?}");
                }
            }
            if let Some(rows) = exact {
                let keep = |r: u32| filter.is_none_or(|f| f(r));
                let expected = brute_force(rows, q.view(), scoring(bm25), 7, &keep);
                assert_eq!(a.unwrap(), expected);
                assert_eq!(b.unwrap(), expected);
            }
        }
    }
    if bm25 {
        if let Err(e) = view.stats_for(&[0, 1, 2, 3, 99]) {
            assert!(damage(&e), "{e:?}");
        }
    }
}

/// Queries that together hold every term of `rows` (ranks 0..12 spread by 3) and some it lacks.
fn queries() -> Vec<SparseVector> {
    (0..13u32)
        .map(|r| SparseVector::new(vec![3 * r, 3 * r + 1, 3 * r + 3], vec![1.0, 2.0, 0.5]).unwrap())
        .collect()
}

#[test]
fn every_truncation_is_refused() {
    for bm25 in [false, true] {
        let part = Part::new(rows(1), metric(bm25));
        let full = part.index.bytes();
        for len in 0..full.len() {
            let cut = Aligned::new(&full[..len]);
            let e = SparseIndexView::wrap(cut.bytes(), N)
                .err()
                .expect("a truncated index wraps");
            assert!(damage(&e), "{e:?}");
        }
        let column = part.column.bytes();
        for len in 0..column.len() {
            let cut = Aligned::new(&column[..len]);
            assert!(damage(&SparseColumnView::wrap(cut.bytes(), N).unwrap_err()));
        }
    }
    let mut stats = Bm25Stats::default();
    for r in rows(2) {
        stats.add_doc(r.view()).unwrap();
    }
    let full = stats.to_bytes();
    for len in 0..full.len() {
        let cut = Aligned::new(&full[..len]);
        assert!(damage(&Bm25StatsView::wrap(cut.bytes()).unwrap_err()));
    }
}

#[test]
fn lying_header_lengths_are_refused() {
    let part = Part::new(rows(3), metric(true));
    let good = part.index.bytes().to_vec();
    // rows, terms, postings (low and high word), blocks, block size
    for (at, values) in [
        (16usize, vec![0u32, N as u32 - 1, N as u32 + 1, u32::MAX]),
        (20, vec![0, 1, u32::MAX]),
        (24, vec![0, 1, u32::MAX]),
        (28, vec![1, u32::MAX]),
        (32, vec![0, 1, u32::MAX]),
        (36, vec![0, 1, 127, 129, 1 << 17]),
    ] {
        for v in values {
            let mut bad = good.clone();
            put_u32(&mut bad, at, v);
            let bad = Aligned::new(&bad);
            match SparseIndexView::wrap(bad.bytes(), N) {
                Err(e) => assert!(damage(&e), "{e:?}"),
                // A block size that still fits the lengths: searches must not trust it.
                Ok(view) => exercise(&view, true, &queries(), None),
            }
        }
    }
    let mut newer = good.clone();
    put_u32(&mut newer, 8, 2);
    let newer = Aligned::new(&newer);
    let e = SparseIndexView::wrap(newer.bytes(), N).err().unwrap();
    assert!(
        matches!(
            e,
            Error::NewerVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{e:?}"
    );
    let e = SparseIndexView::wrap(part.index.bytes(), N + 1)
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("covers 300 rows but the part has 301"),
        "{e}"
    );
    // The column's entry count.
    let mut column = part.column.bytes().to_vec();
    let nnz = u64_at(&column, 24);
    for v in [0, nnz - 1, nnz + 1, u64::MAX] {
        column[24..32].copy_from_slice(&v.to_le_bytes());
        let bad = Aligned::new(&column);
        assert!(damage(&SparseColumnView::wrap(bad.bytes(), N).unwrap_err()));
    }
}

#[test]
fn postings_past_the_rows_or_out_of_order_are_corrupt() {
    for bm25 in [false, true] {
        let part = Part::new(rows(4), metric(bm25));
        let good = part.index.bytes().to_vec();
        let (docs, values) = postings_at(&good);
        let postings = (values - docs) / 4;
        for (p, row) in [
            (0, N as u32),
            (postings - 1, u32::MAX),
            (1, 0),
            (postings / 2, 0),
        ] {
            let mut bad = good.clone();
            put_u32(&mut bad, docs + 4 * p, row);
            let bad = Aligned::new(&bad);
            let view = SparseIndexView::wrap(bad.bytes(), N).unwrap();
            assert!(damage(
                &SparseIndexView::from_bytes(bad.bytes(), N).err().unwrap()
            ));
            // Some query reaches the damaged posting and reports it.
            let reached = queries().iter().any(|q| {
                view.search_exhaustive(q.view(), scoring(bm25), 300, None)
                    .is_err()
            });
            assert!(reached, "posting {p} set to {row} went unnoticed");
            exercise(&view, bm25, &queries(), None);
        }
        for value in [f32::NAN, -1.0, 0.0, f32::INFINITY] {
            let mut bad = good.clone();
            bad[values..values + 4].copy_from_slice(&value.to_le_bytes());
            let bad = Aligned::new(&bad);
            assert!(damage(
                &SparseIndexView::from_bytes(bad.bytes(), N).err().unwrap()
            ));
            let view = SparseIndexView::wrap(bad.bytes(), N).unwrap();
            let reached = queries().iter().any(|q| {
                matches!(
                    view.search_exhaustive(q.view(), scoring(bm25), 300, None),
                    Err(Error::Corrupt { .. })
                )
            });
            assert!(reached, "value {value} went unnoticed");
        }
    }
}

#[test]
fn a_column_whose_offsets_run_backwards_is_corrupt() {
    let empty = Aligned::new(&encode_column(&[] as &[SparseRef]).unwrap());
    assert!(SparseColumnView::from_bytes(empty.bytes(), 0)
        .unwrap()
        .is_empty());
    let part = Part::new(rows(5), SparseMetric::Ip);
    let mut bad = part.column.bytes().to_vec();
    // Row 3's end before its start.
    let at = 32 + 8 * 4;
    let start = u64_at(&bad, 32 + 8 * 3);
    bad[at..at + 8].copy_from_slice(&start.wrapping_sub(1).to_le_bytes());
    let bad = Aligned::new(&bad);
    let view = SparseColumnView::wrap(bad.bytes(), N).unwrap();
    assert!(damage(&view.row(3).unwrap_err()));
    assert!(damage(
        &SparseColumnView::from_bytes(bad.bytes(), N).unwrap_err()
    ));
    assert!(matches!(view.row(N).unwrap_err(), Error::Invalid { .. }));
}

#[test]
fn misaligned_sections_are_an_internal_error_not_a_panic() {
    let part = Part::new(rows(6), SparseMetric::Ip);
    // The section 4 bytes past an 8-byte boundary.
    let shifted = Aligned::new(&[&[0u8; 4][..], part.index.bytes()].concat());
    let e = SparseIndexView::wrap(&shifted.bytes()[4..], N)
        .err()
        .unwrap();
    assert!(matches!(e, Error::Internal(_)), "{e:?}");
    let shifted = Aligned::new(&[&[0u8; 4][..], part.column.bytes()].concat());
    let e = SparseColumnView::wrap(&shifted.bytes()[4..], N).unwrap_err();
    assert!(matches!(e, Error::Internal(_)), "{e:?}");
}

#[test]
fn statistics_that_lie_are_refused() {
    let mut stats = Bm25Stats::default();
    for r in rows(7) {
        stats.add_doc(r.view()).unwrap();
    }
    let good = stats.to_bytes();
    let terms = u32_at(&good, 32) as usize;
    let df_at = (40 + 4 * terms).div_ceil(8) * 8;
    // A df above the documents.
    let mut bad = good.clone();
    bad[df_at..df_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let bad = Aligned::new(&bad);
    assert!(damage(&Bm25StatsView::from_bytes(bad.bytes()).unwrap_err()));
    let view = Bm25StatsView::wrap(bad.bytes()).unwrap();
    let first = u32_at(&good, 40);
    assert!(damage(&view.df(first).unwrap_err()));
    // Terms out of order.
    let mut bad = good.clone();
    bad.copy_within(44..48, 40);
    let bad = Aligned::new(&bad);
    assert!(damage(&Bm25StatsView::from_bytes(bad.bytes()).unwrap_err()));
}

/// One change to a section's bytes.
#[derive(Clone, Debug)]
enum Change {
    Byte(usize, u8),
    /// A 4-byte word set to a value a reader might trip on.
    Word(usize, u32),
    Truncate(usize),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Change::Byte(at, b)),
        (
            any::<usize>(),
            prop_oneof![
                Just(0u32),
                Just(1),
                Just(N as u32 - 1),
                Just(N as u32),
                Just(u32::MAX),
                Just(0x7FC0_0000),
                any::<u32>()
            ]
        )
            .prop_map(|(at, w)| Change::Word(at, w)),
        any::<usize>().prop_map(Change::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, changes: &[Change]) {
    for c in changes {
        match *c {
            Change::Byte(at, b) if !bytes.is_empty() => {
                let at = at % bytes.len();
                bytes[at] = b;
            }
            Change::Word(at, w) if bytes.len() >= 4 => {
                let at = (at % (bytes.len() / 4)) * 4;
                put_u32(bytes, at, w);
            }
            Change::Truncate(len) => {
                let len = len % (bytes.len() + 1);
                bytes.truncate(len);
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_sections_never_panic(
        seed in any::<u64>(),
        bm25 in any::<bool>(),
        changes in proptest::collection::vec(change(), 1..4),
    ) {
        let part = Part::new(rows(seed), metric(bm25));
        let mut index = part.index.bytes().to_vec();
        apply(&mut index, &changes);
        let index = Aligned::new(&index);
        match SparseIndexView::from_bytes(index.bytes(), N) {
            // Whatever passes the full check is searched without error and exactly: both searches
            // agree (and, when the change was a no-op, agree with the brute force).
            Ok(view) => {
                let unchanged = index.bytes() == part.index.bytes();
                exercise(&view, bm25, &queries(), unchanged.then_some(&part.rows[..]));
                for q in queries() {
                    let a = view.search(q.view(), scoring(bm25), 7, None).unwrap();
                    let b = view.search_exhaustive(q.view(), scoring(bm25), 7, None).unwrap();
                    prop_assert_eq!(a, b);
                }
            }
            Err(e) => {
                prop_assert!(damage(&e) || matches!(e, Error::Internal(_)), "{:?}", e);
                if let Ok(view) = SparseIndexView::wrap(index.bytes(), N) {
                    exercise(&view, bm25, &queries(), None);
                }
            }
        }

        let mut column = part.column.bytes().to_vec();
        apply(&mut column, &changes);
        let column = Aligned::new(&column);
        if let Ok(view) = SparseColumnView::wrap(column.bytes(), N) {
            for i in 0..N {
                if let Err(e) = view.row(i) {
                    prop_assert!(damage(&e), "{:?}", e);
                }
            }
            let _ = SparseColumnView::from_bytes(column.bytes(), N);
        }

        let mut stats = Bm25Stats::default();
        for r in part.rows.iter().take(50) {
            stats.add_doc(r.view()).unwrap();
        }
        let mut stats = stats.to_bytes();
        apply(&mut stats, &changes);
        let stats = Aligned::new(&stats);
        if let Ok(view) = Bm25StatsView::wrap(stats.bytes()) {
            if let Err(e) = view.stats_for(&[0, 1, 2, 3, 7]) {
                prop_assert!(damage(&e), "{:?}", e);
            }
            let _ = Bm25StatsView::from_bytes(stats.bytes());
        }
    }
}
