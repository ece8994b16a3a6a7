//! Vectors of every type between Python and the crate, in the shapes pymilvus takes and returns:
//! float16/bfloat16 as numpy arrays of their dtype (bfloat16 from ml_dtypes), raw bytes, or float32
//! values (rounded to the field's type, as Milvus converts them); int8 as numpy int8 arrays, bytes or
//! lists of ints; binary vectors as bytes or numpy uint8 arrays of dim/8 bytes; sparse vectors as
//! dicts, lists of (index, value) pairs, or a row of a scipy sparse matrix or array. Out, byte-based
//! vectors come back as `bytes` (pymilvus's search hits; its query rows wrap them in a list) and
//! sparse ones as `{index: value}` dicts.

use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyTuple};

use super::{float_list, to_value, to_vector};
use crate::engine::QueryVectors;
use crate::error::Error;
use crate::python::errors::{invalid, to_py_err, type_name};
use crate::schema::{DataType, FieldSchema};
use crate::sparse::SparseVector;
use crate::value::Value;

/// A numpy array's dtype name ("float16", "bfloat16", ...), None for anything else.
fn numpy_dtype(obj: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if !obj.hasattr("dtype")? || !obj.hasattr("tobytes")? {
        return Ok(None);
    }
    Ok(Some(obj.getattr("dtype")?.getattr("name")?.extract()?))
}

/// A list (not a subclass) or a numpy array: neither is a sparse vector.
fn is_list_or_array(x: &Bound<'_, PyAny>) -> bool {
    x.is_exact_instance_of::<PyList>() || x.is_instance_of::<PyUntypedArray>()
}

/// An array of uint8 (a binary query): numpy arrays answer from their dtype in place (numpy's
/// `dtype.name` runs Python code), other array-likes by `numpy_dtype`.
fn is_uint8(x: &Bound<'_, PyAny>) -> PyResult<bool> {
    if let Ok(array) = x.cast::<PyUntypedArray>() {
        let dtype = array.dtype();
        return Ok(dtype.kind() == b'u' && dtype.itemsize() == 1);
    }
    if x.is_exact_instance_of::<PyList>() {
        return Ok(false);
    }
    Ok(numpy_dtype(x)?.as_deref() == Some("uint8"))
}

/// The raw bytes of a bytes-like object or a numpy array (C order).
fn raw_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Some(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Some(b.to_vec()));
    }
    Ok(None)
}

fn numpy_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let bytes = obj.call_method0("tobytes")?;
    Ok(bytes.cast::<PyBytes>()?.as_bytes().to_vec())
}

fn u16s(bytes: &[u8]) -> Option<Vec<u16>> {
    bytes.len().is_multiple_of(2).then(|| {
        bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect()
    })
}

/// One row's value of the vector field `f`.
pub(crate) fn row_value(obj: &Bound<'_, PyAny>, f: &FieldSchema) -> PyResult<Value> {
    let py = obj.py();
    if obj.is_none() {
        return Ok(Value::Null);
    }
    let wrong = |what: &str| {
        to_py_err(
            py,
            Error::data_not_match(format!(
                "The Input data type is inconsistent with defined schema, {} field should be a {}, but got {what} instead.",
                f.name,
                f.dtype.name()
            )),
        )
    };
    let dtype = numpy_dtype(obj)?;
    match f.dtype {
        DataType::FloatVector => {
            if let Ok(list) = obj.cast::<PyList>() {
                if let Some(v) = float_list(list) {
                    return Ok(Value::FloatVector(v));
                }
            }
            to_value(obj)
        }
        DataType::Float16Vector | DataType::BFloat16Vector => {
            let own = if f.dtype == DataType::Float16Vector { "float16" } else { "bfloat16" };
            let bits = match (raw_bytes(obj)?, dtype.as_deref()) {
                (Some(b), _) => Some(b),
                (None, Some(d)) if d == own => Some(numpy_bytes(obj)?),
                (None, Some("float32" | "float64")) => return Ok(Value::FloatVector(to_vector(obj)?)),
                (None, Some(d)) => return Err(wrong(&format!("a numpy array of {d}"))),
                (None, None) => None,
            };
            match bits {
                Some(b) => {
                    let v = u16s(&b).ok_or_else(|| {
                        invalid(py, format!("field '{}': {} bytes is not a whole number of 2-byte values", f.name, b.len()))
                    })?;
                    Ok(if own == "float16" { Value::Float16Vector(v) } else { Value::BFloat16Vector(v) })
                }
                // Lists of numbers: float32 values, rounded by the engine.
                None => match obj.cast::<PyList>().ok().and_then(|l| float_list(l)) {
                    Some(v) => Ok(Value::FloatVector(v)),
                    None => to_value(obj),
                },
            }
        }
        DataType::Int8Vector => match (raw_bytes(obj)?, dtype.as_deref()) {
            (Some(b), _) => Ok(Value::Int8Vector(b.into_iter().map(|x| x as i8).collect())),
            (None, Some("int8")) => Ok(Value::Int8Vector(
                numpy_bytes(obj)?.into_iter().map(|x| x as i8).collect(),
            )),
            (None, Some(d)) => Err(wrong(&format!("a numpy array of {d} (pass dtype=int8)"))),
            (None, None) => to_value(obj),
        },
        DataType::BinaryVector => match (raw_bytes(obj)?, dtype.as_deref()) {
            (Some(b), _) => Ok(Value::BinaryVector(b)),
            (None, Some("uint8")) => Ok(Value::BinaryVector(numpy_bytes(obj)?)),
            (None, Some(d)) => Err(wrong(&format!(
                "a numpy array of {d} (pass bytes or uint8, bits packed 8 to a byte: numpy.packbits)"
            ))),
            (None, None) => to_value(obj),
        },
        DataType::SparseFloatVector => sparse(obj).map(Value::SparseFloatVector),
        _ => to_value(obj),
    }
}

/// A sparse vector: a dict `{index: value}`, a list of `(index, value)` pairs, or one row of a
/// scipy sparse matrix or array; checked as Milvus checks it.
fn sparse(obj: &Bound<'_, PyAny>) -> PyResult<SparseVector> {
    let py = obj.py();
    let number = |x: &Bound<'_, PyAny>| -> PyResult<f64> { x.extract::<f64>() };
    let index = |x: &Bound<'_, PyAny>| -> PyResult<i64> {
        x.extract::<i64>().map_err(|_| {
            invalid(
                py,
                format!(
                    "sparse vector indices must be integers, got {}",
                    type_name(x)
                ),
            )
        })
    };
    let mut pairs = Vec::new();
    if let Ok(d) = obj.cast::<PyDict>() {
        for (k, v) in d.iter() {
            pairs.push((index(&k)?, number(&v)?));
        }
    } else if obj.hasattr("tocoo")? {
        let shape: Vec<usize> = obj.getattr("shape")?.extract()?;
        if shape.len() == 2 && shape[0] != 1 {
            return Err(invalid(
                py,
                format!("a sparse vector is one row of a scipy sparse matrix, got shape {shape:?}"),
            ));
        }
        let coo = obj.call_method0("tocoo")?;
        let cols: Vec<i64> = coo.getattr("col")?.call_method0("tolist")?.extract()?;
        let data: Vec<f64> = coo.getattr("data")?.call_method0("tolist")?.extract()?;
        pairs.extend(cols.into_iter().zip(data));
    } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        for item in obj.try_iter()? {
            let item = item?;
            let pair: (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract().map_err(|_| {
                invalid(
                    py,
                    format!(
                        "a sparse vector given as a list holds (index, value) pairs, got {}",
                        type_name(&item)
                    ),
                )
            })?;
            pairs.push((index(&pair.0)?, number(&pair.1)?));
        }
    } else {
        return Err(to_py_err(
            py,
            Error::data_not_match(format!(
                "a sparse vector is a dict {{index: value}}, a list of (index, value) pairs or a scipy sparse row, got {}",
                type_name(obj)
            )),
        ));
    }
    SparseVector::from_pairs(pairs).map_err(|e| to_py_err(py, e))
}

/// Query vectors whose form says their type: sparse (dicts, pair lists, scipy sparse rows or a
/// scipy matrix of several rows), binary (bytes, numpy uint8), or None for dense data.
/// Plain lists and numpy arrays are told apart by type and dtype in place: numpy's `dtype.name`
/// runs Python code (~4 µs, more than the rest of a dense query's conversion).
pub(crate) fn typed_queries(data: &Bound<'_, PyAny>) -> PyResult<Option<(QueryVectors, usize)>> {
    if !data.is_exact_instance_of::<PyList>() && data.hasattr("tocsr")? {
        let rows = data.call_method0("tocsr")?;
        let n: usize = rows.getattr("shape")?.get_item(0)?.extract()?;
        let vectors = (0..n)
            .map(|i| sparse(&rows.get_item(i)?))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Some((QueryVectors::Sparse(vectors), n)));
    }
    let items: Vec<Bound<'_, PyAny>> = match data.cast::<PyList>() {
        Ok(list) => list.iter().collect(),
        Err(_) if data.is_instance_of::<PyDict>() || data.is_instance_of::<PyBytes>() => {
            vec![data.clone()]
        }
        Err(_) => return Ok(None),
    };
    let Some(first) = items.first() else {
        return Ok(None);
    };
    let is_sparse = |x: &Bound<'_, PyAny>| -> PyResult<bool> {
        Ok(x.is_instance_of::<PyDict>() || (!is_list_or_array(x) && x.hasattr("tocoo")?))
    };
    if is_sparse(first)? {
        let vectors = items.iter().map(sparse).collect::<PyResult<Vec<_>>>()?;
        return Ok(Some((QueryVectors::Sparse(vectors), items.len())));
    }
    let binary = |x: &Bound<'_, PyAny>| -> PyResult<Option<Vec<u8>>> {
        match raw_bytes(x)? {
            Some(b) => Ok(Some(b)),
            None if is_uint8(x)? => Ok(Some(numpy_bytes(x)?)),
            None => Ok(None),
        }
    };
    if binary(first)?.is_some() {
        let mut bytes = Vec::new();
        for item in &items {
            let b = binary(item)?.ok_or_else(|| {
                invalid(
                    data.py(),
                    format!(
                        "binary query vectors are bytes each, got {}",
                        type_name(item)
                    ),
                )
            })?;
            bytes.extend_from_slice(&b);
        }
        return Ok(Some((QueryVectors::Binary(bytes), items.len())));
    }
    Ok(None)
}

/// A vector value as pymilvus returns it: float vectors as lists of float32 values widened to Python
/// floats, byte-based vectors as `bytes`, sparse vectors as a dict.
pub(crate) fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    let bytes = |b: Vec<u8>| PyBytes::new(py, &b).into_any();
    Ok(match v {
        Value::FloatVector(x) => floats_to_py(py, x)?.into_any(),
        Value::Float16Vector(x) | Value::BFloat16Vector(x) => {
            bytes(x.iter().flat_map(|h| h.to_le_bytes()).collect())
        }
        Value::Int8Vector(x) => bytes(x.iter().map(|&b| b as u8).collect()),
        Value::BinaryVector(x) => PyBytes::new(py, x).into_any(),
        Value::SparseFloatVector(x) => {
            let dict = PyDict::new(py);
            for (i, v) in x.view().iter() {
                dict.set_item(i, f64::from(v))?;
            }
            dict.into_any()
        }
        _ => {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "value_to_py of vectors was given a value that is no vector",
            ))
        }
    })
}

/// `values` as a list of Python floats (what pymilvus returns for a float vector), filled in place:
/// a search's default output makes one per hit, and pyo3's iterator path costs a tenth more per value.
fn floats_to_py<'py>(py: Python<'py>, values: &[f32]) -> PyResult<Bound<'py, PyList>> {
    let len = ffi::Py_ssize_t::try_from(values.len())
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("vector too long for a list"))?;
    // SAFETY: PyList_New returns a new list of `len` NULL slots (or NULL with an exception set);
    // each slot below `len` is set once, PyList_SetItem stealing the new float. A list left with
    // NULL slots on an error is still freed correctly (list_dealloc skips them).
    unsafe {
        let list =
            Bound::from_owned_ptr_or_err(py, ffi::PyList_New(len))?.cast_into_unchecked::<PyList>();
        for (i, &x) in (0..len).zip(values) {
            let item = ffi::PyFloat_FromDouble(f64::from(x));
            if item.is_null() || ffi::PyList_SetItem(list.as_ptr(), i, item) != 0 {
                return Err(PyErr::fetch(py));
            }
        }
        Ok(list)
    }
}

/// True for the values pymilvus's query rows wrap in a one-item list (byte-based vectors).
pub(crate) fn is_byte_vector(v: &Value) -> bool {
    matches!(
        v,
        Value::Float16Vector(_)
            | Value::BFloat16Vector(_)
            | Value::Int8Vector(_)
            | Value::BinaryVector(_)
    )
}
