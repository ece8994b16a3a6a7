//! Values between the API's forms and their stored forms: an input value coerced to its field's type
//! (or the field's default, or null), JSON to and from values, an input row split into schema fields and
//! dynamic keys, and a stored value read back as an owned `Value`.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value as Json};

mod vector;

use super::corrupt;
use crate::error::{Error, Result};
use crate::geometry;
use crate::rowview::ValueRef;
use crate::schema::{CollectionSchema, DataType, DefaultValue, FieldSchema};
use crate::timestamptz::{self, Zone};
use crate::value::{Pk, Row, Value};

fn type_word(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "bool",
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "int",
        DataType::Float | DataType::Double => "float",
        DataType::VarChar => "varchar",
        DataType::Json => "json",
        DataType::FloatVector => "float vector",
        DataType::Array => "array",
        DataType::Geometry => "geometry",
        DataType::Timestamptz => "timestamptz",
        DataType::BinaryVector => "binary vector",
        DataType::Float16Vector => "float16 vector",
        DataType::BFloat16Vector => "bfloat16 vector",
        DataType::SparseFloatVector => "sparse float vector",
        DataType::Int8Vector => "int8 vector",
    }
}

fn value_word(v: &Value) -> &'static str {
    match v {
        Value::Null => "None",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "str",
        Value::Json(_) => "json",
        Value::Array(_) => "list",
        Value::Timestamp(_) => "timestamp",
        Value::Geometry(_) => "geometry",
        Value::FloatVector(_) => "float vector",
        Value::Float16Vector(_) => "float16 vector",
        Value::BFloat16Vector(_) => "bfloat16 vector",
        Value::Int8Vector(_) => "int8 vector",
        Value::BinaryVector(_) => "binary vector",
        Value::SparseFloatVector(_) => "sparse float vector",
    }
}

fn mismatch(f: &FieldSchema, v: &Value) -> Error {
    Error::data_not_match(format!(
            "The Input data type is inconsistent with defined schema, {} field should be a {}, but got a {} instead.",
            f.name,
            type_word(f.dtype),
            value_word(v)
        ),
    )
}

fn json_to_value(j: Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Str(s),
        other => Value::Json(other),
    }
}

/// Any value as JSON (vectors become arrays; non-finite floats become null, as JSON has none).
fn value_to_json(v: Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(b),
        Value::Int(i) => Json::from(i),
        Value::Float(x) => serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s),
        Value::Json(j) => j,
        Value::Array(items) => Json::Array(items.into_iter().map(value_to_json).collect()),
        Value::Timestamp(t) => Json::String(timestamptz::format_utc(t)),
        Value::Geometry(wkb) => {
            geometry::decode(&wkb).map_or(Json::Null, |g| Json::String(geometry::to_wkt(&g)))
        }
        Value::FloatVector(_)
        | Value::Float16Vector(_)
        | Value::BFloat16Vector(_)
        | Value::Int8Vector(_)
        | Value::BinaryVector(_)
        | Value::SparseFloatVector(_) => vector::to_json(&v).unwrap_or(Json::Null),
    }
}

/// A non-null input value as the field's type; TIMESTAMPTZ text without an offset is read in `zone`.
pub(super) fn coerce(f: &FieldSchema, v: Value, zone: &Zone) -> Result<Value> {
    let v = match (f.dtype, v) {
        (DataType::Json, Value::Str(s)) => {
            return serde_json::from_str(&s).map(Value::Json).map_err(|e| {
                Error::data_not_match(format!("Invalid JSON string for field '{}': {e}", f.name))
            })
        }
        (DataType::Json, v) => return Ok(Value::Json(value_to_json(v))),
        (t, v) if t.is_vector() => return vector::coerce(f, v, |v| mismatch(f, v)),
        (DataType::Array, Value::Json(Json::Array(items))) => {
            return coerce_array(f, items.into_iter().map(json_to_value).collect(), zone)
        }
        (DataType::Array, Value::Array(items)) => return coerce_array(f, items, zone),
        // JSON scalars (e.g. from a dynamic round trip) stand for the plain values.
        (_, Value::Json(j)) if !matches!(j, Json::Array(_) | Json::Object(_)) => json_to_value(j),
        (_, v) => v,
    };
    let (min, max) = match f.dtype {
        DataType::Int8 => (i64::from(i8::MIN), i64::from(i8::MAX)),
        DataType::Int16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        DataType::Int32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    Ok(match (f.dtype, v) {
        (DataType::Bool, Value::Bool(b)) => Value::Bool(b),
        (t, Value::Int(i)) if t.is_integer() => {
            if i < min || i > max {
                return Err(Error::invalid(format!(
                    "field '{}' value {i} does not match dtype DataType.{}",
                    f.name,
                    t.name()
                )));
            }
            Value::Int(i)
        }
        (DataType::Float | DataType::Double, Value::Float(x)) => Value::Float(x),
        (DataType::Float | DataType::Double, Value::Int(i)) => Value::Float(i as f64),
        (DataType::VarChar, Value::Str(s)) => {
            if let Some(max) = f.max_length {
                let n = s.chars().count();
                if n > max as usize {
                    return Err(Error::invalid(format!(
                        "VARCHAR field '{}' value length {n} exceeds max_length={max}",
                        f.name
                    )));
                }
            }
            Value::Str(s)
        }
        (DataType::Timestamptz, Value::Str(s)) => match timestamptz::parse(&s, zone) {
            Ok(t) => Value::Timestamp(t),
            Err(e) => {
                return Err(Error::invalid(format!(
                    "TIMESTAMPTZ field '{}': {e}",
                    f.name
                )))
            }
        },
        // Microseconds since the epoch, UTC: the server's own form of the value.
        (DataType::Timestamptz, Value::Int(t) | Value::Timestamp(t)) => {
            if !(timestamptz::MIN_MICROS..=timestamptz::MAX_MICROS).contains(&t) {
                return Err(Error::invalid(format!(
                    "TIMESTAMPTZ field '{}': {t} microseconds is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z",
                    f.name
                )));
            }
            Value::Timestamp(t)
        }
        (DataType::Geometry, Value::Str(s)) => match geometry::parse_wkt(&s) {
            Ok(g) => Value::Geometry(geometry::encode(&g)),
            Err(e) => {
                return Err(Error::invalid(format!(
                    "GEOMETRY field '{}': invalid WKT '{s}': {e}",
                    f.name
                )))
            }
        },
        (DataType::Geometry, Value::Geometry(wkb)) => match geometry::decode(&wkb) {
            Some(_) => Value::Geometry(wkb),
            None => {
                return Err(Error::invalid(format!(
                    "GEOMETRY field '{}': damaged WKB",
                    f.name
                )))
            }
        },
        (_, v) => return Err(mismatch(f, &v)),
    })
}

/// An ARRAY value: at most `max_capacity` elements, each coerced to the element type (and VARCHAR elements
/// to `max_length`); an element's error names the field and the element's position.
fn coerce_array(f: &FieldSchema, items: Vec<Value>, zone: &Zone) -> Result<Value> {
    if let Some(cap) = f.max_capacity {
        if items.len() > cap as usize {
            return Err(Error::invalid(format!(
                "ARRAY field '{}' has {} elements, exceeds max_capacity={cap}",
                f.name,
                items.len()
            )));
        }
    }
    let element_type = f
        .element_type
        .ok_or_else(|| Error::Internal(format!("ARRAY field '{}' without element type", f.name)))?;
    let mut element = FieldSchema::new(f.name.clone(), element_type);
    element.max_length = f.max_length;
    let where_ =
        |i: usize, message: String| format!("ARRAY field '{}' element {i}: {message}", f.name);
    let in_element = |i: usize, e: Error| match e {
        Error::Invalid { code, message } => Error::Invalid {
            code,
            message: where_(i, message),
        },
        Error::ClientSide { check, message } => Error::ClientSide {
            check,
            message: where_(i, message),
        },
        other => other,
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Null => Err(Error::invalid_code(
                1,
                format!(
                    "ARRAY field '{}' element {i} is None; array elements cannot be null",
                    f.name
                ),
            )),
            v => coerce(&element, v, zone).map_err(|e| in_element(i, e)),
        })
        .collect::<Result<Vec<_>>>()
        .map(Value::Array)
}

/// The field's default as its stored values read (a FLOAT's at f32 precision, JSON as its text), for
/// rows stored before the field was added; None without one.
pub(super) fn default_ref(f: &FieldSchema) -> Option<ValueRef<'_>> {
    Some(match (f.default_value.as_ref()?, f.dtype) {
        (DefaultValue::Bool(b), _) => ValueRef::Bool(*b),
        (DefaultValue::Int(i), DataType::Float) => ValueRef::Float(f64::from(*i as f32)),
        (DefaultValue::Int(i), DataType::Double) => ValueRef::Float(*i as f64),
        (DefaultValue::Int(i), _) => ValueRef::Int(*i),
        (DefaultValue::Float(x), DataType::Float) => ValueRef::Float(f64::from(*x as f32)),
        (DefaultValue::Float(x), _) => ValueRef::Float(*x),
        (DefaultValue::Str(t) | DefaultValue::JsonText(t), DataType::Json) => ValueRef::Json(t),
        (DefaultValue::Str(t) | DefaultValue::JsonText(t), _) => ValueRef::Str(t),
    })
}

/// What rows stored before field `f` was added read: its default as stored values read it, else null.
/// A TIMESTAMPTZ default is the UTC text `settle_default` keeps, a GEOMETRY default WKT text (unreadable
/// text, which only a damaged catalog holds, reads as null).
pub(crate) fn absent_ref(f: &FieldSchema) -> ValueRef<'_> {
    match (f.dtype, default_ref(f)) {
        (DataType::Timestamptz, Some(ValueRef::Str(text))) => {
            timestamptz::parse(text, &Zone::utc()).map_or(ValueRef::Null, ValueRef::Timestamp)
        }
        (DataType::Geometry, Some(ValueRef::Str(text))) => {
            geometry_default(text).map_or(ValueRef::Null, ValueRef::Geometry)
        }
        (_, v) => v.unwrap_or(ValueRef::Null),
    }
}

/// The stored form (WKB) of the GEOMETRY default `wkt`, made once per distinct default and kept for the
/// life of the process: rows borrow their values for as long as the catalog lives, and the catalog keeps
/// the default as text. Bounded by the distinct defaults of the catalogs read.
fn geometry_default(wkt: &str) -> Option<&'static [u8]> {
    static KEPT: Mutex<BTreeMap<String, &'static [u8]>> = Mutex::new(BTreeMap::new());
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(wkb) = kept.get(wkt) {
        return Some(wkb);
    }
    let wkb: &'static [u8] = Box::leak(geometry::encode(&geometry::parse_wkt(wkt).ok()?).into());
    kept.insert(wkt.to_owned(), wkb);
    Some(wkb)
}

/// Checks field `f`'s default against its type when the default is set (create_collection,
/// add_collection_field), and keeps it as the catalog stores it: a TIMESTAMPTZ default as the UTC text
/// of its instant, text without an offset read in `zone` then, as Milvus Lite fixes it at creation, so
/// rows read the same instant whatever zone the collection has later. An ARRAY field takes no default,
/// as pymilvus refuses one (with this message).
pub(super) fn settle_default(f: &mut FieldSchema, zone: &Zone) -> Result<()> {
    if f.default_value.is_some() && f.dtype == DataType::Array {
        return Err(Error::param(format!(
            "Default value unsupported data type: 999 (field '{}': an ARRAY field takes no default_value)",
            f.name
        )));
    }
    if let Some(Value::Timestamp(t)) = default_of(f, zone)? {
        f.default_value = Some(DefaultValue::Str(timestamptz::format_utc(t)));
    }
    Ok(())
}

/// The field's default as an input value, checked against the field's type.
fn default_of(f: &FieldSchema, zone: &Zone) -> Result<Option<Value>> {
    let v = match default_ref(f) {
        None => return Ok(None),
        // Parsed (and its errors reported) as a JSON string input is.
        Some(ValueRef::Json(text)) => Value::Str(text.to_owned()),
        // An ARRAY's default, kept as JSON text, in catalogs written before ARRAY defaults were refused.
        Some(ValueRef::Str(text)) if f.dtype == DataType::Array => {
            Value::Json(serde_json::from_str(text).map_err(|e| {
                Error::invalid(format!(
                    "ARRAY field '{}': default_value is not a list: {e}",
                    f.name
                ))
            })?)
        }
        Some(v) => owned(v)?,
    };
    coerce(f, v, zone).map(Some)
}

/// The stored value for an input that may be missing (None) or null; TIMESTAMPTZ text (a default's too)
/// without an offset is read in `zone`.
pub(super) fn fill(f: &FieldSchema, v: Option<Value>, zone: &Zone) -> Result<Value> {
    match v {
        Some(Value::Null) | None => {
            if let Some(d) = default_of(f, zone)? {
                Ok(d)
            } else if f.nullable {
                Ok(Value::Null)
            } else if v.is_none() {
                Err(Error::data_not_match(format!(
                        "Insert missed an field `{}` to collection without set nullable==true or set default_value",
                        f.name
                    ),
                ))
            } else {
                Err(Error::invalid(format!(
                    "FieldData '{}' has 0 rows, expected 1",
                    f.name
                )))
            }
        }
        Some(v) => coerce(f, v, zone),
    }
}

/// A row's dynamic keys (the `$meta` object).
type DynamicKeys = Map<String, Json>;

pub(super) fn pk_of(v: &Value) -> Result<Pk> {
    match v {
        Value::Int(i) => Ok(Pk::Int(*i)),
        Value::Str(s) => Ok(Pk::Str(s.clone())),
        _ => Err(Error::Internal("primary key of a non-key type".into())),
    }
}

/// Splits an input row into schema fields (by index) and dynamic keys, rejecting unknown keys
/// without dynamic fields.
pub(super) fn split(
    schema: &CollectionSchema,
    row: Row,
) -> Result<(Vec<Option<Value>>, DynamicKeys)> {
    let mut fields: Vec<Option<Value>> = vec![None; schema.fields.len()];
    let mut dynamic = Map::new();
    for (k, v) in row {
        if let Some(c) = schema.fields.iter().position(|f| f.name == k) {
            if schema.fields[c].is_function_output {
                return Err(Error::data_not_match(format!(
                    "Attempt to insert an unexpected function output field `{k}` to collection"
                )));
            }
            fields[c] = Some(v);
        } else if k == "$meta" {
            return Err(Error::invalid(
                "`$meta` is reserved for the dynamic field; insert its keys as top-level fields",
            ));
        } else if schema.enable_dynamic_field {
            dynamic.insert(k, value_to_json(v));
        } else {
            return Err(Error::data_not_match(format!("Attempt to insert an unexpected field `{k}` to collection without enabling dynamic field"),
            ));
        }
    }
    Ok((fields, dynamic))
}

/// A stored value (a view into the image) as an owned `Value`; JSON text is parsed.
pub(super) fn owned(v: ValueRef<'_>) -> Result<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Bool(b) => Value::Bool(b),
        ValueRef::Int(i) => Value::Int(i),
        ValueRef::Float(x) => Value::Float(x),
        ValueRef::Str(s) => Value::Str(s.to_owned()),
        ValueRef::Json(t) => {
            Value::Json(serde_json::from_str(t).map_err(|e| corrupt(format!("stored JSON: {e}")))?)
        }
        ValueRef::Vector(v) => vector::owned(v)?,
        ValueRef::Timestamp(t) => Value::Timestamp(t),
        ValueRef::Geometry(wkb) => match geometry::decode(wkb) {
            Some(_) => Value::Geometry(wkb.to_vec()),
            None => return Err(corrupt("stored GEOMETRY is not the WKB covec writes")),
        },
        ValueRef::Array(a) => {
            let items = a.iter().map(owned).collect::<Result<Vec<_>>>()?;
            if items.len() != a.len {
                return Err(corrupt("stored ARRAY element unreadable"));
            }
            Value::Array(items)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_default(dtype: DataType, default: DefaultValue) -> FieldSchema {
        let mut f = FieldSchema::new("f", dtype);
        f.nullable = true;
        f.default_value = Some(default);
        f
    }

    #[test]
    fn a_timestamptz_default_is_settled_as_its_utc_instant() {
        let shanghai = Zone::named("Asia/Shanghai").unwrap();
        let mut f = with_default(
            DataType::Timestamptz,
            DefaultValue::Str("2025-01-01T00:00:00".into()),
        );
        settle_default(&mut f, &shanghai).unwrap();
        assert_eq!(
            f.default_value,
            Some(DefaultValue::Str("2024-12-31T16:00:00Z".into()))
        );
        let instant = timestamptz::parse("2024-12-31T16:00:00Z", &Zone::utc()).unwrap();
        assert_eq!(absent_ref(&f), ValueRef::Timestamp(instant));
        // Settled text reads the same instant in any zone the collection takes later.
        let ny = Zone::named("America/New_York").unwrap();
        assert_eq!(fill(&f, None, &ny).unwrap(), Value::Timestamp(instant));
        let mut micros = with_default(DataType::Timestamptz, DefaultValue::Int(5));
        settle_default(&mut micros, &ny).unwrap();
        assert_eq!(absent_ref(&micros), ValueRef::Timestamp(5));
    }

    #[test]
    fn defaults_are_checked_when_set() {
        let utc = Zone::utc();
        let mut array = with_default(DataType::Array, DefaultValue::JsonText("[1]".into()));
        array.element_type = Some(DataType::Int64);
        let e = settle_default(&mut array, &utc).unwrap_err();
        assert!(matches!(e, Error::ClientSide { .. }), "{e:?}");
        assert!(e.to_string().contains("unsupported data type: 999"), "{e}");
        let mut bad = with_default(
            DataType::Timestamptz,
            DefaultValue::Str("2025-02-30T00:00:00Z".into()),
        );
        assert_eq!(settle_default(&mut bad, &utc).unwrap_err().code(), 6);
        let mut geo = with_default(DataType::Geometry, DefaultValue::Str("POINT(1".into()));
        assert_eq!(settle_default(&mut geo, &utc).unwrap_err().code(), 6);
        let point = with_default(DataType::Geometry, DefaultValue::Str("POINT(1 2)".into()));
        let ValueRef::Geometry(wkb) = absent_ref(&point) else {
            panic!("a GEOMETRY default reads as WKB");
        };
        assert_eq!(
            Value::Geometry(wkb.to_vec()),
            fill(&point, None, &utc).unwrap()
        );
        let mut plain = with_default(DataType::Int64, DefaultValue::Int(3));
        settle_default(&mut plain, &utc).unwrap();
        assert_eq!(plain.default_value, Some(DefaultValue::Int(3)));
        assert_eq!(absent_ref(&plain), ValueRef::Int(3));
    }
}
