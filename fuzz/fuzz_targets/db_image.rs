//! A db image (what a segment or the db file holds) from arbitrary bytes: open, read every collection,
//! search and verify. Any error is fine; a panic, a hang or an allocation the input did not pay for is not.
//!
//! The first byte chooses whether to repair the checksums (preamble, both meta slots, the catalog a
//! slot names) first, so mutations get past them into the catalog decoder and the section checks.
#![no_main]

use covec::{OutputFields, SearchRequest};
use covec::internals::engine::Snapshot;
use covec::Pk;
use libfuzzer_sys::fuzz_target;
use xxhash_rust::xxh3::xxh3_64;

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn repair(image: &mut [u8]) {
    if image.len() < 4096 {
        return;
    }
    let sum = xxh3_64(&image[0..40]);
    image[40..48].copy_from_slice(&sum.to_le_bytes());
    for slot in [1024usize, 2048] {
        let (off, len) = (u64_at(image, slot + 16), u64_at(image, slot + 24));
        if let Some(end) = off.checked_add(len).filter(|&e| e <= image.len() as u64) {
            let sum = xxh3_64(&image[off as usize..end as usize]);
            image[slot + 32..slot + 40].copy_from_slice(&sum.to_le_bytes());
        }
        let sum = xxh3_64(&image[slot..slot + 56]);
        image[slot + 56..slot + 64].copy_from_slice(&sum.to_le_bytes());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut image = rest.to_vec();
    if mode & 1 == 1 {
        repair(&mut image);
    }
    let Ok(snap) = Snapshot::open(&image) else {
        return;
    };
    let _ = snap.verify(std::path::Path::new("fuzz"));
    let all = OutputFields {
        names: Vec::new(),
        all: true,
    };
    for entry in &snap.catalog().collections {
        let Ok(view) = snap.collection(&entry.name) else {
            continue;
        };
        let _ = view.count(None);
        let _ = view.query(None, &all, Some(50), 0);
        let _ = view.get(&[Pk::Int(0), Pk::Int(1), Pk::Str("a".into())], &all);
        let Some(dim) = view.schema().fields.iter().find_map(|f| f.dim) else {
            continue;
        };
        let request = SearchRequest {
            anns_field: None,
            vectors: vec![0.5; (dim as usize).min(4096)].into(),
            nq: 1,
            limit: 5,
            offset: 0,
            filter: String::new(),
            output: all.clone(),
            metric: None,
            params: Vec::new(),
            ..SearchRequest::default()
        };
        let _ = view.search(&request, None, &[]);
    }
});
