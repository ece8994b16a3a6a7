//! The sparse sections from arbitrary bytes: the inverted index, the column and the BM25 statistics.
//! Each is wrapped (or refused), then every row is read and the index searched with queries over its
//! own terms; any error is fine, a panic or a hang is not. An index that passes the full check must
//! give the same hits from the pruned and the exhaustive search.
#![no_main]

use covec::internals::sparse::{
    Bm25Params, Bm25StatsView, Scoring, SparseColumnView, SparseIndexView, SparseMetric,
    SparseVector,
};
use libfuzzer_sys::fuzz_target;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Queries over the index's first terms (read from where its term directory starts) and a few
/// small ids.
fn queries(bytes: &[u8]) -> Vec<SparseVector> {
    let terms = u32_at(bytes, 20).unwrap_or(0) as usize;
    let directory = 64 + 8 * (terms + 1);
    let mut ids: Vec<u32> = (0..terms.min(16))
        .filter_map(|i| u32_at(bytes, directory + 4 * i))
        .collect();
    ids.extend(0..4);
    ids.chunks(3)
        .filter_map(|c| SparseVector::from_pairs(c.iter().map(|&t| (i64::from(t), 1.5))).ok())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // Sections are read in place as u64 and u32 arrays: copy into 8-byte aligned memory, as a
    // mapped section is.
    let mut words = vec![0u64; data.len().div_ceil(8)];
    for (w, chunk) in words.iter_mut().zip(data.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    // SAFETY: the words own at least `data.len()` initialized bytes; u8 has no alignment needs.
    let bytes = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), data.len()) };
    // Both the index and the column state their row count at byte 16.
    let n = u32_at(bytes, 16).unwrap_or(0) as usize;

    if let Ok(view) = SparseIndexView::wrap(bytes, n) {
        let exact = SparseIndexView::from_bytes(bytes, n).is_ok();
        // The exhaustive search keeps a score per row of the part, whose row count the caller
        // vouches for (an IP section holds nothing per row); keep fuzzed counts to what the input
        // could describe.
        let affordable = n <= 64 * data.len();
        let scoring = match view.metric() {
            SparseMetric::Ip => Scoring::Ip,
            SparseMetric::Bm25(params) => Scoring::bm25(params, 3.0).unwrap(),
        };
        let odd = |row: u32| row % 2 == 1;
        for q in queries(bytes) {
            for filter in [None, Some(&odd as &dyn Fn(u32) -> bool)] {
                let pruned = view.search(q.view(), scoring, 5, filter);
                if affordable {
                    let exhaustive = view.search_exhaustive(q.view(), scoring, 5, filter);
                    if exact {
                        assert_eq!(pruned.unwrap(), exhaustive.unwrap());
                    }
                }
            }
            if let SparseMetric::Bm25(_) = view.metric() {
                let _ = view.stats_for(q.indices());
                // Other parameters than the stored ones take the wide bounds.
                let other = Scoring::bm25(Bm25Params { k1: 2.0, b: 0.1 }, 9.0).unwrap();
                let _ = view.search(q.view(), other, 5, None);
            }
        }
    }

    if let Ok(view) = SparseColumnView::wrap(bytes, n) {
        for i in 0..view.len() {
            let _ = view.row(i);
        }
        let _ = SparseColumnView::from_bytes(bytes, n);
    }

    if let Ok(view) = Bm25StatsView::wrap(bytes) {
        let _ = view.stats_for(&[0, 1, 2, u32::MAX - 1]);
        let _ = view.to_stats();
        let _ = Bm25StatsView::from_bytes(bytes);
    }
});
