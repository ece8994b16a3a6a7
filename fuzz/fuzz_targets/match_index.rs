//! The match index section (text_match / phrase_match) from arbitrary bytes: wrapped (or refused), then
//! asked text and phrase queries over the terms its directory would name; any error is fine, a panic or a
//! hang is not. A section that passes the full check answers every query with a bitmap of its rows.
#![no_main]

use covec::internals::text::{Analyzer, MatchIndexView, MatchQuery};
use libfuzzer_sys::fuzz_target;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fuzz_target!(|data: &[u8]| {
    // Read in place as u64 and u32 arrays: copy into 8-byte aligned memory, as a mapped section is.
    let mut words = vec![0u64; data.len().div_ceil(8)];
    for (w, chunk) in words.iter_mut().zip(data.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    // SAFETY: the words own at least `data.len()` initialized bytes; u8 has no alignment needs.
    let bytes = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), data.len()) };
    // The row count the caller vouches for, kept to what the input could describe.
    let n = (u32_at(bytes, 16).unwrap_or(0) as usize).min(64 * data.len());
    let Ok(view) = MatchIndexView::wrap(bytes, n) else {
        return;
    };
    let exact = MatchIndexView::from_bytes(bytes, n).is_ok();
    let a = Analyzer::standard();
    let queries = [
        MatchQuery::text_match(&a, "a b the of", 1),
        MatchQuery::text_match(&a, "a b the of", 2),
        MatchQuery::phrase_match(&a, "a b", 0).unwrap(),
        MatchQuery::phrase_match(&a, "the a of b", 3).unwrap(),
    ];
    for q in &queries {
        match view.matching(q) {
            Ok(bits) => assert!(bits.len() * 64 >= n, "a bitmap shorter than the part"),
            Err(e) => assert!(!exact, "a fully checked section failed a query: {e}"),
        }
    }
});
