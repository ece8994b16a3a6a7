//! Values between the API's forms and their stored forms: an input value coerced to its field's type
//! (or the field's default, or null), JSON to and from values, an input row split into schema fields and
//! dynamic keys, and a stored value read back as an owned `Value`.

use serde_json::{Map, Value as Json};

use super::corrupt;
use crate::error::{Error, Result};
use crate::rowview::ValueRef;
use crate::schema::{CollectionSchema, DataType, DefaultValue, FieldSchema};
use crate::value::{Pk, Row, Value};

fn type_word(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "bool",
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "int",
        DataType::Float | DataType::Double => "float",
        DataType::VarChar => "varchar",
        DataType::Json => "json",
        DataType::FloatVector => "float vector",
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
        Value::FloatVector(_) => "float vector",
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
        Value::FloatVector(v) => Json::Array(
            v.into_iter()
                .map(|x| {
                    serde_json::Number::from_f64(f64::from(x)).map_or(Json::Null, Json::Number)
                })
                .collect(),
        ),
    }
}

/// A non-null input value as the field's type.
pub(super) fn coerce(f: &FieldSchema, v: Value) -> Result<Value> {
    let v = match (f.dtype, v) {
        (DataType::Json, Value::Str(s)) => {
            return serde_json::from_str(&s).map(Value::Json).map_err(|e| {
                Error::data_not_match(format!("Invalid JSON string for field '{}': {e}", f.name))
            })
        }
        (DataType::Json, v) => return Ok(Value::Json(value_to_json(v))),
        (DataType::FloatVector, Value::Json(Json::Array(a))) => {
            let mut out = Vec::with_capacity(a.len());
            for x in a {
                match x.as_f64() {
                    Some(x) => out.push(x as f32),
                    None => return Err(mismatch(f, &Value::Json(x))),
                }
            }
            Value::FloatVector(out)
        }
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
        (DataType::FloatVector, Value::FloatVector(v)) => {
            let dim = f.dim.unwrap_or(0) as usize;
            if v.len() != dim {
                return Err(Error::invalid(format!(
                    "vector field '{}' expected dim {dim}, got {}",
                    f.name,
                    v.len()
                )));
            }
            Value::FloatVector(v)
        }
        (_, v) => return Err(mismatch(f, &v)),
    })
}

fn default_of(f: &FieldSchema) -> Result<Option<Value>> {
    let Some(d) = &f.default_value else {
        return Ok(None);
    };
    let v = match d {
        DefaultValue::Bool(b) => Value::Bool(*b),
        DefaultValue::Int(i) => Value::Int(*i),
        DefaultValue::Float(x) => Value::Float(*x),
        DefaultValue::Str(s) => Value::Str(s.clone()),
        DefaultValue::JsonText(t) => Value::Str(t.clone()),
    };
    coerce(f, v).map(Some)
}

/// The stored value for an input that may be missing (None) or null.
pub(super) fn fill(f: &FieldSchema, v: Option<Value>) -> Result<Value> {
    match v {
        Some(Value::Null) | None => {
            if let Some(d) = default_of(f)? {
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
        Some(v) => coerce(f, v),
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
        ValueRef::Vector(v) => Value::FloatVector(v.to_vec()),
    })
}
