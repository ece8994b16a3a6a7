//! The filter language on arbitrary text: parse, type-check against a schema with every scalar type (ARRAY,
//! TIMESTAMPTZ and GEOMETRY included) and a vector field, and evaluate on rows chosen by the input, some of
//! whose ARRAY and WKB values are damaged as a hostile file's could be. Any outcome but a panic is fine.
#![no_main]

use std::sync::OnceLock;

use covec::internals::filter::compile;
use covec::internals::geometry;
use covec::internals::rowview::{ArrayRef, ElementKind, RowFilter, RowView, ValueRef, VectorRef};
use covec::{CollectionSchema, DataType, FieldSchema};
use libfuzzer_sys::fuzz_target;

fn field(name: &str, dtype: DataType, nullable: bool) -> FieldSchema {
    let mut f = FieldSchema::new(name, dtype);
    f.is_primary = name == "id";
    f.dim = (dtype == DataType::FloatVector).then_some(2);
    f.nullable = nullable;
    if dtype == DataType::VarChar {
        // text_match and phrase_match analyze their queries with the field's analyzer.
        f.type_params = vec![
            ("enable_analyzer".into(), "true".into()),
            ("enable_match".into(), "true".into()),
        ];
    }
    f
}

fn array(name: &str, element: DataType) -> FieldSchema {
    let mut f = field(name, DataType::Array, true);
    f.element_type = Some(element);
    f.max_capacity = Some(8);
    f.max_length = Some(16);
    f
}

fn schema() -> CollectionSchema {
    use DataType::*;
    CollectionSchema::new(
        vec![
            field("id", Int64, false),
            field("small", Int8, false),
            field("name", VarChar, false),
            field("flag", Bool, false),
            field("score", Double, false),
            field("f", Float, true),
            field("meta", Json, true),
            field("v", FloatVector, false),
            array("tags", VarChar),
            array("nums", Int64),
            field("ts", Timestamptz, true),
            field("geo", Geometry, true),
        ],
        "",
        true,
    )
}

/// A row whose values come from one input byte: extremes, nulls and odd JSON included.
struct Row(u8);

const JSON: [&str; 6] = [
    "{\"a\": 1, \"b\": [1, 2.5, \"x\"], \"c\": {\"d\": null}}",
    "[]",
    "null",
    "\"str\"",
    "{\"a\": 9223372036854775807, \"b\": -1e308}",
    "not json",
];

const TIMES: [i64; 6] = [
    0,
    -62_135_596_800_000_000,
    253_402_300_799_999_999,
    i64::MAX,
    i64::MIN,
    1_735_689_600_000_000,
];

/// Stored bytes the rows borrow: ARRAY element bytes and offsets (some lying) and WKB (some damaged).
struct Stored {
    strings: Vec<u8>,
    string_offsets: Vec<u8>,
    lying_offsets: Vec<u8>,
    ints: Vec<u8>,
    wkb: Vec<Vec<u8>>,
}

fn u64s(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn stored() -> &'static Stored {
    static STORED: OnceLock<Stored> = OnceLock::new();
    STORED.get_or_init(|| {
        let wkt = [
            "POINT(1 2)",
            "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))",
            "LINESTRING(0 0, 5 5)",
            "GEOMETRYCOLLECTION(POINT(1 1), MULTIPOINT((2 2), (3 3)))",
        ];
        let mut wkb: Vec<Vec<u8>> = wkt
            .iter()
            .map(|t| geometry::encode(&geometry::parse_wkt(t).unwrap()))
            .collect();
        let mut lying_count = wkb[2].clone();
        lying_count[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
        wkb.extend([lying_count, vec![1, 7, 0, 0], Vec::new()]);
        Stored {
            strings: b"abc\xc3\xa4\xff".to_vec(),
            string_offsets: u64s(&[0, 1, 3, 3, 5]),
            lying_offsets: u64s(&[0, u64::MAX, 2, 1 << 40, 6]),
            ints: [i64::MIN, -1, 0, 7, i64::MAX]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            wkb,
        }
    })
}

impl RowView for Row {
    fn value(&self, field: &str) -> ValueRef<'_> {
        let k = self.0;
        let s = stored();
        match field {
            "id" => ValueRef::Int([0, -1, i64::MIN, i64::MAX][usize::from(k % 4)]),
            "small" => ValueRef::Int(i64::from(k as i8)),
            "name" => ValueRef::Str(["", "abc", "ä%_\\", "a\u{0}b"][usize::from(k % 4)]),
            "flag" => ValueRef::Bool(k & 1 == 1),
            "score" => {
                ValueRef::Float([0.0, -0.0, f64::NAN, f64::INFINITY, 1e308][usize::from(k % 5)])
            }
            "f" if k % 3 == 0 => ValueRef::Null,
            "f" => ValueRef::Float(f64::from(k) / 3.0),
            "meta" if k % 7 == 0 => ValueRef::Null,
            "meta" => ValueRef::Json(JSON[usize::from(k % 6)]),
            "v" => ValueRef::Vector(VectorRef::Float(&[1.0, f32::NAN])),
            "tags" if k % 5 == 0 => ValueRef::Null,
            // Up to 4 elements over good offsets, or up to 4 (claimed 6) over lying ones.
            "tags" => ValueRef::Array(ArrayRef {
                kind: ElementKind::VarChar,
                len: usize::from(k % 7),
                data: &s.strings,
                offsets: if k & 8 == 0 {
                    &s.string_offsets
                } else {
                    &s.lying_offsets
                },
            }),
            // Up to 5 elements, or a length past the bytes.
            "nums" => ValueRef::Array(ArrayRef {
                kind: ElementKind::Int64,
                len: usize::from(k % 7),
                data: &s.ints,
                offsets: &[],
            }),
            "ts" if k % 11 == 0 => ValueRef::Null,
            "ts" => ValueRef::Timestamp(TIMES[usize::from(k % 6)]),
            "geo" if k % 13 == 0 => ValueRef::Null,
            "geo" => ValueRef::Geometry(&s.wkb[usize::from(k) % s.wkb.len()]),
            _ => ValueRef::Null,
        }
    }

    fn dynamic(&self) -> Option<&str> {
        Some(JSON[usize::from(self.0 / 7 % 6)])
    }

    fn text_match(&self, i: usize) -> bool {
        self.0 >> (i % 8) & 1 == 1
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, text)) = data.split_first() else {
        return;
    };
    let Ok(expr) = std::str::from_utf8(text) else {
        return;
    };
    let _ = covec::internals::filter::parse(expr);
    if let Ok(predicate) = compile(expr, &schema()) {
        for row in [Row(k), Row(k.wrapping_add(1)), Row(k.wrapping_mul(7))] {
            let _ = predicate.matches(&row);
        }
    }
});
