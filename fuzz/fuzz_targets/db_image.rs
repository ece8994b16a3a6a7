//! A db image (what a segment or the db file holds) from arbitrary bytes: open, read every collection,
//! search every vector field and verify. Any error is fine; a panic, a hang or an allocation the input
//! did not pay for is not. Seed `typed` holds every newer field type (vectors, ARRAY, TIMESTAMPTZ, GEOMETRY).
//!
//! The first byte chooses whether to repair the checksums (preamble, both meta slots, the catalog a
//! slot names) first, so mutations get past them into the catalog decoder and the section checks.
#![no_main]

use covec::internals::engine::Snapshot;
use covec::Pk;
use covec::{DataType, OutputFields, QueryVectors, SearchRequest, SparseVector};
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
        // The whole collection, then each partition alone (part pruning and per-row partition ids).
        let scopes = std::iter::once(Vec::new())
            .chain(entry.partitions.iter().map(|p| vec![p.name.clone()]));
        for partitions in scopes {
            let Ok(view) = snap
                .collection(&entry.db, &entry.name)
                .and_then(|v| v.confined(&partitions))
            else {
                continue;
            };
            let _ = view.count(None);
            let _ = view.query(None, &all, Some(50), 0);
            let _ = view.get(&[Pk::Int(0), Pk::Int(1), Pk::Str("a".into())], &all);
            // Every vector field, with a query of its type.
            for f in view.schema().fields.iter().filter(|f| f.dtype.is_vector()) {
                let dim = (f.dim.unwrap_or(0) as usize).min(4096);
                let vectors = match f.dtype {
                    DataType::BinaryVector => QueryVectors::Binary(vec![0x5a; dim / 8]),
                    DataType::SparseFloatVector => QueryVectors::Sparse(vec![SparseVector::new(
                        vec![1, 5],
                        vec![0.5, 1.0],
                    )
                    .unwrap()]),
                    _ => QueryVectors::Dense(vec![0.5; dim]),
                };
                let request = SearchRequest {
                    anns_field: Some(f.name.clone()),
                    vectors,
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
        }
    }
});
