//! The filter language on arbitrary text: parse, type-check against a schema with every scalar type,
//! and evaluate on rows chosen by the input. Any outcome but a panic is fine.
#![no_main]

use covec::internals::filter::compile;
use covec::internals::rowview::{RowFilter, RowView, ValueRef};
use covec::{CollectionSchema, DataType, FieldSchema};
use libfuzzer_sys::fuzz_target;

fn field(name: &str, dtype: DataType, nullable: bool) -> FieldSchema {
    let mut f = FieldSchema::new(name, dtype);
    f.is_primary = name == "id";
    f.dim = (dtype == DataType::FloatVector).then_some(2);
    f.nullable = nullable;
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

impl RowView for Row {
    fn value(&self, field: &str) -> ValueRef<'_> {
        let k = self.0;
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
            "v" => ValueRef::Vector(&[1.0, f32::NAN]),
            _ => ValueRef::Null,
        }
    }

    fn dynamic(&self) -> Option<&str> {
        Some(JSON[usize::from(self.0 / 7 % 6)])
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
