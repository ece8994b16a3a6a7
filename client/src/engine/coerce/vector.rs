//! Vector values of every vector type between their input forms and their stored forms: an input
//! checked against its field (dimension, element type, Milvus's sparse rules), a vector as JSON (a
//! dynamic key or a JSON field holding one), and a stored vector read back as an owned value.

use serde_json::Value as Json;

use crate::engine::corrupt;
use crate::error::{Error, Result};
use crate::kernels::scalar;
use crate::rowview::VectorRef;
use crate::schema::{DataType, FieldSchema};
use crate::sparse::{SparseRef, SparseVector};
use crate::value::Value;

/// A non-null input for the vector field `f`, as the field's type; `mismatch` makes the error for a
/// value that is no vector of any form this field takes.
pub(super) fn coerce(
    f: &FieldSchema,
    v: Value,
    mismatch: impl FnOnce(&Value) -> Error,
) -> Result<Value> {
    let dim = f.dim.unwrap_or(0) as usize;
    let v = match (f.dtype, v) {
        (DataType::FloatVector, Value::FloatVector(x)) => {
            check_dim(f, x.len(), dim).map(|_| Value::FloatVector(x))
        }
        (DataType::Float16Vector, Value::Float16Vector(x)) => check_dim(f, x.len(), dim)
            .and_then(|_| check_finite(f, &x, scalar::f16_to_f32))
            .map(|_| Value::Float16Vector(x)),
        (DataType::BFloat16Vector, Value::BFloat16Vector(x)) => check_dim(f, x.len(), dim)
            .and_then(|_| check_finite(f, &x, scalar::bf16_to_f32))
            .map(|_| Value::BFloat16Vector(x)),
        // float32 values for a 16-bit field are rounded to it, as Milvus converts them.
        (DataType::Float16Vector, Value::FloatVector(x)) => {
            let bits: Vec<u16> = x.iter().map(|&v| scalar::f32_to_f16(v)).collect();
            coerce(f, Value::Float16Vector(bits), mismatch)
        }
        (DataType::BFloat16Vector, Value::FloatVector(x)) => {
            let bits: Vec<u16> = x.iter().map(|&v| scalar::f32_to_bf16(v)).collect();
            coerce(f, Value::BFloat16Vector(bits), mismatch)
        }
        (DataType::Int8Vector, Value::Int8Vector(x)) => {
            check_dim(f, x.len(), dim).map(|_| Value::Int8Vector(x))
        }
        (DataType::BinaryVector, Value::BinaryVector(x)) => {
            let bytes = dim / 8;
            if x.len() == bytes {
                Ok(Value::BinaryVector(x))
            } else {
                Err(Error::invalid(format!(
                    "binary vector field '{}' has dim {dim} bits, so each vector is {bytes} bytes, \
                     got {} bytes; pass dim/8 bytes (bits packed 8 to a byte, e.g. numpy.packbits)",
                    f.name,
                    x.len()
                )))
            }
        }
        (DataType::SparseFloatVector, Value::SparseFloatVector(x)) => {
            Ok(Value::SparseFloatVector(x))
        }
        (t, Value::Json(j)) => match from_json(t, &j) {
            Some(Ok(v)) => coerce(f, v, mismatch),
            Some(Err(e)) => Err(e),
            None => Err(mismatch(&Value::Json(j))),
        },
        (_, v) => Err(mismatch(&v)),
    };
    v
}

/// A 16-bit vector's values must be finite: NaN and infinity (a float32 beyond the type's range
/// rounds to it) have no distance.
fn check_finite(f: &FieldSchema, bits: &[u16], widen: fn(u16) -> f32) -> Result<()> {
    match bits.iter().map(|&b| widen(b)).position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(at) => Err(Error::invalid(format!(
            "{} field '{}' holds {} at dimension {at}: values must be finite and within the type's \
             range (float16: +-65504)",
            f.dtype.name(),
            f.name,
            widen(bits[at])
        ))),
    }
}

fn check_dim(f: &FieldSchema, got: usize, dim: usize) -> Result<()> {
    if got == dim {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "vector field '{}' expected dim {dim}, got {got}",
        f.name
    )))
}

/// A JSON array or object as the input vector of a field of type `t`: numbers for dense vectors (the
/// f32 values of a float16/bfloat16 field, int8 values of an int8 field), byte values for a binary
/// vector, `{index: value}` or `[[index, value], ...]` for a sparse vector. None when it is none of
/// those.
fn from_json(t: DataType, j: &Json) -> Option<Result<Value>> {
    let numbers = |items: &[Json]| items.iter().map(Json::as_f64).collect::<Option<Vec<f64>>>();
    Some(Ok(match (t, j) {
        (
            DataType::FloatVector | DataType::Float16Vector | DataType::BFloat16Vector,
            Json::Array(a),
        ) => Value::FloatVector(numbers(a)?.into_iter().map(|x| x as f32).collect()),
        (DataType::Int8Vector, Json::Array(a)) => Value::Int8Vector(
            a.iter()
                .map(|x| i8::try_from(x.as_i64()?).ok())
                .collect::<Option<Vec<i8>>>()?,
        ),
        (DataType::BinaryVector, Json::Array(a)) => Value::BinaryVector(
            a.iter()
                .map(|x| u8::try_from(x.as_i64()?).ok())
                .collect::<Option<Vec<u8>>>()?,
        ),
        (DataType::SparseFloatVector, Json::Object(map)) => {
            let mut pairs = Vec::with_capacity(map.len());
            for (k, v) in map {
                pairs.push((k.trim().parse::<i64>().ok()?, v.as_f64()?));
            }
            return Some(SparseVector::from_pairs(pairs).map(Value::SparseFloatVector));
        }
        (DataType::SparseFloatVector, Json::Array(a)) => {
            let mut pairs = Vec::with_capacity(a.len());
            for pair in a {
                match pair.as_array().map(Vec::as_slice) {
                    Some([i, v]) => pairs.push((i.as_i64()?, v.as_f64()?)),
                    _ => return None,
                }
            }
            return Some(SparseVector::from_pairs(pairs).map(Value::SparseFloatVector));
        }
        _ => return None,
    }))
}

/// A vector as JSON (a JSON field or dynamic key given one): dense vectors as arrays of their values,
/// binary vectors as arrays of their bytes, sparse vectors as `{"index": value}`. Non-finite floats
/// become null, as JSON has none.
pub(super) fn to_json(v: &Value) -> Option<Json> {
    let float =
        |x: f32| serde_json::Number::from_f64(f64::from(x)).map_or(Json::Null, Json::Number);
    Some(match v {
        Value::FloatVector(x) => Json::Array(x.iter().map(|&v| float(v)).collect()),
        Value::Float16Vector(x) => {
            Json::Array(x.iter().map(|&h| float(scalar::f16_to_f32(h))).collect())
        }
        Value::BFloat16Vector(x) => {
            Json::Array(x.iter().map(|&h| float(scalar::bf16_to_f32(h))).collect())
        }
        Value::Int8Vector(x) => Json::Array(x.iter().map(|&v| Json::from(v)).collect()),
        Value::BinaryVector(x) => Json::Array(x.iter().map(|&v| Json::from(v)).collect()),
        Value::SparseFloatVector(x) => Json::Object(
            x.view()
                .iter()
                .map(|(i, v)| (i.to_string(), float(v)))
                .collect(),
        ),
        _ => return None,
    })
}

/// A stored vector as an owned value; a damaged sparse row is `Corrupt`.
pub(super) fn owned(v: VectorRef<'_>) -> Result<Value> {
    Ok(match v {
        VectorRef::Float(x) => Value::FloatVector(x.to_vec()),
        VectorRef::Float16(x) => Value::Float16Vector(x.to_vec()),
        VectorRef::BFloat16(x) => Value::BFloat16Vector(x.to_vec()),
        VectorRef::Int8(x) => Value::Int8Vector(x.to_vec()),
        VectorRef::Binary(x) => Value::BinaryVector(x.to_vec()),
        VectorRef::Sparse { indices, values } => {
            let row = SparseRef::new(indices, values)
                .and_then(|r| r.validate_stored().map(|_| r))
                .map_err(|e| corrupt(format!("stored sparse vector: {e}")))?;
            Value::SparseFloatVector(row.to_vector())
        }
    })
}
