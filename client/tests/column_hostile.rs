//! Hostile bytes in the columns of the types beyond the first scalar set and FLOAT_VECTOR: ARRAY (element
//! indexes, VARCHAR byte offsets), TIMESTAMPTZ, GEOMETRY (WKB), FLOAT16/BFLOAT16/INT8/BINARY vectors and
//! SPARSE_FLOAT_VECTOR (column and inverted-index sections), and catalogs whose sections of those columns lie
//! about their bounds. Opening, reading every row, filtering on every such field and searching every vector
//! field end in a result or `Error::Corrupt`, never a panic: decoders never trust a stored length.

mod storage_util;

use std::path::Path;

use covec::internals::engine::Snapshot;
use covec::internals::filter::compile;
use covec::internals::format::{
    self, decode_catalog, decode_header, encode_catalog, write_both_slots, Catalog, Column,
    MetaSlot, Section, DEFAULT_DATABASE,
};
use covec::{
    CollectionSchema, DataType, Error, IndexKind, IndexSpec, Metric, QueryVectors, SearchRequest,
    SparseVector, Value,
};
use storage_util::*;
use xxhash_rust::xxh3::xxh3_64;

const ROWS: i64 = 40;

/// Filters that read every field of the new types.
const FILTERS: [&str; 9] = [
    "array_length(tags) >= 2",
    "array_contains(tags, \"t3\")",
    "tags[1] == \"t1\"",
    "array_contains_any(nums, [3, 5])",
    "nums[0] > 10",
    "ts > ISO '2025-01-01T00:00:10Z'",
    "ts is null",
    "ST_INTERSECTS(geo, 'POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))')",
    "ST_DWITHIN(geo, 'POINT(1 1)', 1000)",
];

const VECTOR_FIELDS: [&str; 5] = ["f16", "bf16", "i8v", "bin", "sp"];

fn schema() -> CollectionSchema {
    CollectionSchema::new(
        vec![
            field("id", DataType::Int64, |f| f.is_primary = true),
            field("f16", DataType::Float16Vector, |f| f.dim = Some(4)),
            field("bf16", DataType::BFloat16Vector, |f| f.dim = Some(4)),
            field("i8v", DataType::Int8Vector, |f| f.dim = Some(4)),
            field("bin", DataType::BinaryVector, |f| f.dim = Some(16)),
            field("sp", DataType::SparseFloatVector, |_| {}),
            field("tags", DataType::Array, |f| {
                f.element_type = Some(DataType::VarChar);
                f.max_capacity = Some(4);
                f.max_length = Some(8);
                f.nullable = true;
            }),
            field("nums", DataType::Array, |f| {
                f.element_type = Some(DataType::Int32);
                f.max_capacity = Some(4);
            }),
            field("ts", DataType::Timestamptz, |f| f.nullable = true),
            field("geo", DataType::Geometry, |f| f.nullable = true),
        ],
        "",
        false,
    )
}

fn index(field: &str, index_type: &str, dtype: DataType, metric: Metric) -> IndexSpec {
    IndexSpec {
        field: field.into(),
        index_name: field.into(),
        index_type: index_type.into(),
        kind: IndexKind::of_index_type(index_type, dtype).unwrap(),
        metric,
        params: vec![],
    }
}

fn indexes() -> Vec<IndexSpec> {
    vec![
        index("f16", "FLAT", DataType::Float16Vector, Metric::L2),
        index("bf16", "FLAT", DataType::BFloat16Vector, Metric::Ip),
        index("i8v", "FLAT", DataType::Int8Vector, Metric::Cosine),
        index("bin", "BIN_FLAT", DataType::BinaryVector, Metric::Hamming),
        index(
            "sp",
            "SPARSE_INVERTED_INDEX",
            DataType::SparseFloatVector,
            Metric::Ip,
        ),
    ]
}

fn row(i: i64) -> covec::Row {
    let x = i as f32;
    let null_every = |k: i64, v: Value| if i % k == 0 { Value::Null } else { v };
    vec![
        ("id".into(), Value::Int(i)),
        ("f16".into(), Value::FloatVector(vec![x, 1.0, -0.5, 0.25])),
        ("bf16".into(), Value::FloatVector(vec![1.0, x, 0.5, -2.0])),
        ("i8v".into(), Value::Int8Vector(vec![i as i8, -3, 7, 1])),
        ("bin".into(), Value::BinaryVector(vec![i as u8, 0xA5])),
        (
            "sp".into(),
            Value::SparseFloatVector(
                SparseVector::new(vec![i as u32 % 7, 10 + i as u32], vec![0.5, x + 1.0]).unwrap(),
            ),
        ),
        (
            "tags".into(),
            null_every(
                5,
                Value::Array((0..i % 4).map(|k| Value::Str(format!("t{k}"))).collect()),
            ),
        ),
        (
            "nums".into(),
            Value::Array((0..i % 3 + 1).map(|k| Value::Int(i + k)).collect()),
        ),
        (
            "ts".into(),
            null_every(6, Value::Str(format!("2025-01-01T00:00:{:02}Z", i % 60))),
        ),
        (
            "geo".into(),
            null_every(
                7,
                Value::Str(if i % 2 == 0 {
                    format!("POINT({} {})", i % 12, i % 5)
                } else {
                    format!("LINESTRING(0 0, {} 2, 3 {})", i % 9, i % 4)
                }),
            ),
        ),
    ]
}

/// An 8-byte-aligned copy of an image (mapped sections are read in place, typed).
struct Image(Vec<u64>, usize);

impl Image {
    fn of(bytes: &[u8]) -> Image {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            *w = u64::from_le_bytes(b);
        }
        Image(words, bytes.len())
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `self.1` of the u64s' initialised bytes, in file order on this little-endian target.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), self.1) }
    }
}

/// The good image: one part of ROWS rows written by a real db file.
fn good_image() -> Vec<u8> {
    static IMAGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let t = TempDb::new("hostile-columns");
            let db = t.open();
            db.create_collection("c", schema(), indexes()).unwrap();
            db.insert("c", (0..ROWS).map(row).collect()).unwrap();
            drop(db);
            std::fs::read(t.path()).unwrap()
        })
        .clone()
}

fn newest(image: &[u8]) -> (MetaSlot, Catalog) {
    let path = Path::new("image");
    let (_, meta) = decode_header(image, image.len() as u64, path).unwrap();
    let at = meta.catalog_offset as usize..(meta.catalog_offset + meta.catalog_len) as usize;
    let catalog = decode_catalog(&image[at], meta.catalog_xxh3, image.len() as u64, path).unwrap();
    (meta, catalog)
}

/// The image with `catalog` committed as its next generation (checksums right, so only the catalog's
/// own checks stand between it and the readers).
fn with_catalog(image: &[u8], meta: MetaSlot, catalog: &Catalog) -> Vec<u8> {
    let bytes = encode_catalog(catalog).unwrap();
    let mut out = image[..meta.committed_len as usize].to_vec();
    out.resize(format::align_up(out.len() as u64).unwrap() as usize, 0);
    let next = MetaSlot {
        generation: meta.generation + 1,
        catalog_offset: out.len() as u64,
        catalog_len: bytes.len() as u64,
        catalog_xxh3: xxh3_64(&bytes),
        committed_len: (out.len() + bytes.len()) as u64,
        ..meta
    };
    out.extend_from_slice(&bytes);
    write_both_slots(&mut out, &next).unwrap();
    out
}

/// Damage is `Corrupt`, a section header claiming a later layout version included (the catalog's revision
/// says which layouts the file holds).
fn is_damage(e: &Error) -> bool {
    matches!(e, Error::Corrupt { .. })
}

fn checked<T>(r: covec::Result<T>, what: &str) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(is_damage(&e), "{what}: {e:?}");
            None
        }
    }
}

fn query_vectors(field: &str) -> QueryVectors {
    match field {
        "bin" => QueryVectors::Binary(vec![0x0F, 0xA5]),
        "sp" => QueryVectors::Sparse(vec![SparseVector::new(vec![3, 12], vec![1.0, 0.5]).unwrap()]),
        "i8v" => QueryVectors::Dense(vec![1.0, 2.0, -1.0, 5.0]),
        _ => QueryVectors::Dense(vec![1.0, 2.0, -1.0, 0.5]),
    }
}

/// What the reads of a damaged image gave: how many ended in `Corrupt`.
#[derive(Default, Debug)]
struct Outcome {
    refused_at_open: bool,
    corrupt_reads: usize,
    verify_failed: bool,
}

/// Every read of collection "c": open, query every row, each filter, each vector field's search
/// (with and without a filter), and verify. Every error must be `Corrupt`.
fn exercise(bytes: &[u8]) -> Outcome {
    let image = Image::of(bytes);
    let mut outcome = Outcome::default();
    let snap = match Snapshot::open(image.bytes()) {
        Ok(s) => s,
        Err(e) => {
            assert!(is_damage(&e), "open: {e:?}");
            outcome.refused_at_open = true;
            return outcome;
        }
    };
    outcome.verify_failed = checked(snap.verify(Path::new("image")), "verify").is_none();
    let Some(view) = checked(snap.collection(DEFAULT_DATABASE, "c"), "collection") else {
        outcome.refused_at_open = true;
        return outcome;
    };
    let mut count = |r: Option<_>| {
        if r.is_none() {
            outcome.corrupt_reads += 1;
        }
    };
    count(checked(view.query(None, &all(), None, 0), "query").map(drop));
    for expr in FILTERS {
        let p = compile(expr, view.schema()).unwrap();
        count(checked(view.query(Some(&p), &all(), None, 0), expr).map(drop));
        let _ = view.count(Some(&p));
    }
    for field in VECTOR_FIELDS {
        for filter in ["", "array_length(nums) > 1"] {
            let request = SearchRequest {
                anns_field: Some(field.into()),
                vectors: query_vectors(field),
                nq: 1,
                limit: 5,
                offset: 0,
                filter: filter.into(),
                output: all(),
                metric: None,
                params: Vec::new(),
                ..SearchRequest::default()
            };
            count(checked(view.search(&request, None, &[]), field).map(drop));
        }
    }
    outcome
}

/// The sections of field `name`'s column in the (only) part.
fn column(catalog: &Catalog, name: &str) -> Column {
    let entry = catalog.collection("default", "c").unwrap();
    let at = entry
        .schema
        .fields
        .iter()
        .position(|f| f.name == name)
        .unwrap();
    assert_eq!(entry.parts.len(), 1);
    entry.parts[0].columns[at].clone()
}

fn put_u64(image: &mut [u8], s: &Section, word: usize, v: u64) {
    let at = s.offset as usize + word * 8;
    image[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn the_good_image_reads_every_value_back() {
    let image = good_image();
    let outcome = exercise(&image);
    assert!(!outcome.refused_at_open && !outcome.verify_failed && outcome.corrupt_reads == 0);
    let buf = Image::of(&image);
    let snap = Snapshot::open(buf.bytes()).unwrap();
    let view = snap.collection(DEFAULT_DATABASE, "c").unwrap();
    let rows = view.query(None, &all(), None, 0).unwrap();
    assert_eq!(rows.len(), ROWS as usize);
    let get = |r: &covec::Row, k: &str| r.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let r7 = &rows[7];
    assert_eq!(
        get(r7, "tags"),
        Value::Array(vec![
            Value::Str("t0".into()),
            Value::Str("t1".into()),
            Value::Str("t2".into())
        ])
    );
    assert_eq!(
        get(r7, "nums"),
        Value::Array(vec![Value::Int(7), Value::Int(8)])
    );
    assert_eq!(get(r7, "geo"), Value::Null);
    assert_eq!(get(r7, "ts"), Value::Timestamp(1_735_689_607_000_000));
    assert_eq!(get(r7, "bin"), Value::BinaryVector(vec![7, 0xA5]));
    assert_eq!(get(r7, "i8v"), Value::Int8Vector(vec![7, -3, 7, 1]));
    let p = compile("array_contains(tags, \"t2\")", view.schema()).unwrap();
    // Rows with i % 4 == 3 and not i % 5 == 0: 3, 7, 11, 19, 23, 27, 31, 39.
    assert_eq!(view.count(Some(&p)).unwrap(), 8);
}

#[test]
fn lying_array_element_indexes_and_byte_offsets_are_corrupt() {
    let good = good_image();
    let (_, catalog) = newest(&good);
    let word_at = |s: &Section, word: usize| {
        let at = s.offset as usize + word * 8;
        u64::from_le_bytes(good[at..at + 8].try_into().unwrap())
    };
    for name in ["tags", "nums"] {
        let col = column(&catalog, name);
        let index = col.offsets.expect("element index");
        let last = (index.len / 8) as usize - 1;
        for word in [1, last / 2, last] {
            for lie in [u64::MAX, 1 << 61, 1 << 32, col.data.len + 1, 0] {
                if lie == word_at(&index, word) {
                    continue;
                }
                let mut bad = good.clone();
                put_u64(&mut bad, &index, word, lie);
                let outcome = exercise(&bad);
                assert!(outcome.verify_failed, "{name} word {word} = {lie}");
                // Row 1 ending at 0 only moves elements to row 2; every other lie bounds a row that
                // is read.
                if !(lie == 0 && word == 1) {
                    assert!(
                        outcome.corrupt_reads > 0,
                        "{name} word {word} = {lie}: {outcome:?}"
                    );
                }
            }
        }
    }
    let offsets = column(&catalog, "tags").aux.expect("byte offsets");
    let last = (offsets.len / 8) as usize - 1;
    for word in [1, last / 2, last] {
        for lie in [u64::MAX, 1 << 40, 3] {
            let mut bad = good.clone();
            put_u64(&mut bad, &offsets, word, lie);
            let outcome = exercise(&bad);
            assert!(outcome.verify_failed);
            // A small offset may still cut the first elements' bytes at character boundaries.
            if lie != 3 {
                assert!(outcome.corrupt_reads > 0, "tags byte offset {word} = {lie}");
            }
        }
    }
}

#[test]
fn damaged_wkb_timestamps_and_sparse_sections_are_corrupt_or_read() {
    let good = good_image();
    let (_, catalog) = newest(&good);

    // WKB: the type word, a coordinate count and the byte-order mark of the first stored geometry (row 1,
    // a LINESTRING: 1 + 4 + 4 bytes before its coordinates).
    let geo = column(&catalog, "geo").data;
    for (at, byte) in [(0usize, 0u8), (1, 0x7f), (5, 0xff), (8, 0x7f), (2, 0xff)] {
        let mut bad = good.clone();
        bad[geo.offset as usize + at] = byte;
        let outcome = exercise(&bad);
        assert!(
            outcome.verify_failed && outcome.corrupt_reads > 0,
            "WKB byte {at} = {byte}: {outcome:?}"
        );
    }
    // GEOMETRY offsets out of order or past the data.
    let geo_offsets = column(&catalog, "geo").offsets.unwrap();
    for lie in [u64::MAX, geo.len + 1] {
        let mut bad = good.clone();
        put_u64(&mut bad, &geo_offsets, 2, lie);
        assert!(exercise(&bad).corrupt_reads > 0);
    }

    // A TIMESTAMPTZ outside years 1..9999 is no instant covec wrote.
    let ts = column(&catalog, "ts").data;
    for lie in [i64::MAX, i64::MIN, 253_402_300_800_000_000] {
        let mut bad = good.clone();
        put_u64(&mut bad, &ts, 1, lie as u64);
        let outcome = exercise(&bad);
        assert!(outcome.corrupt_reads > 0, "ts = {lie}: {outcome:?}");
    }

    // The sparse column's and inverted index's headers and offsets: refused or read, every word.
    let sp = column(&catalog, "sp").data;
    let entry = catalog.collection("default", "c").unwrap();
    let sparse_index = entry.parts[0].text[0].index;
    for section in [sp, sparse_index] {
        for word in 0..((section.len / 8) as usize).min(24) {
            for lie in [u64::MAX, 1 << 33, 0] {
                let mut bad = good.clone();
                put_u64(&mut bad, &section, word, lie);
                exercise(&bad);
            }
        }
    }
}

#[test]
fn every_byte_of_the_new_columns_flipped_is_corrupt_or_read() {
    let good = good_image();
    let (_, catalog) = newest(&good);
    let mut sections = Vec::new();
    for name in [
        "f16", "bf16", "i8v", "bin", "sp", "tags", "nums", "ts", "geo",
    ] {
        let c = column(&catalog, name);
        sections.extend(
            [Some(c.data), c.offsets, c.aux, c.validity]
                .into_iter()
                .flatten(),
        );
    }
    sections.extend(
        catalog.collection("default", "c").unwrap().parts[0]
            .text
            .iter()
            .map(|t| t.index),
    );
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for s in sections.into_iter().filter(|s| s.len > 0) {
        for _ in 0..12 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let at = s.offset + rng % s.len;
            let mut bad = good.clone();
            bad[at as usize] ^= 1 << (rng >> 60 & 7);
            let outcome = exercise(&bad);
            assert!(
                outcome.verify_failed,
                "flip at {at}: checksums must find it"
            );
        }
    }
}

#[test]
fn lying_section_bounds_in_the_catalog_are_refused_at_open() {
    let good = good_image();
    let (meta, catalog) = newest(&good);
    let fields = [
        "f16", "bf16", "i8v", "bin", "sp", "tags", "nums", "ts", "geo",
    ];
    type Lie = fn(&mut Column);
    let lies: [(&str, Lie); 7] = [
        ("data one row short", |c| {
            c.data.len = c.data.len.saturating_sub(8)
        }),
        ("data longer", |c| c.data.len += 64),
        ("data past the image", |c| c.data.offset = u64::MAX - 63),
        ("data misaligned", |c| c.data.offset += 1),
        ("offsets dropped", |c| c.offsets = None),
        ("aux dropped", |c| c.aux = None),
        ("aux added", |c| c.aux = c.aux.or(Some(c.data))),
    ];
    let mut cases = 0;
    for name in fields {
        let at = catalog
            .collection("default", "c")
            .unwrap()
            .schema
            .fields
            .iter()
            .position(|f| f.name == name)
            .unwrap();
        for (what, lie) in lies {
            let mut cat = catalog.clone();
            let entry = cat.collections.iter_mut().find(|e| e.name == "c").unwrap();
            let before = entry.parts[0].columns[at].clone();
            lie(&mut entry.parts[0].columns[at]);
            if entry.parts[0].columns[at] == before {
                continue;
            }
            let outcome = exercise(&with_catalog(&good, meta, &cat));
            cases += 1;
            // A longer var-length data section is harmless: its offsets bound every read.
            let var_data = matches!(name, "tags" | "nums" | "geo" | "sp") && what == "data longer";
            assert!(
                outcome.refused_at_open || outcome.corrupt_reads > 0 || var_data,
                "{name}: {what} was read as good: {outcome:?}"
            );
        }
    }
    assert!(cases >= 40, "{cases} lies tried");
}
