//! Every conversion between Python objects and the crate's types: values, primary keys and rows here;
//! schemas, index requests and describe results in `schema`; query vectors, search parameters and hits
//! in `search`. Python objects become Rust types directly (no JSON text crosses the boundary).

mod schema;
mod search;
mod vectors;

use numpy::{PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::conversion::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

pub(crate) use schema::{
    collection_schema, describe_collection, describe_index, field_schema, index_specs, type_params,
};
pub(crate) use search::{
    filter_params, function_chain, hits_to_py, rerank, search_params, search_request, HitLayout,
};
pub(crate) use vectors::typed_queries;

use super::errors::{invalid, to_py_err, type_name};
use crate::error::{ClientCheck, Error};
use crate::value::{Pk, Row, Value};
use crate::{CollectionSchema, OutputFields};

/// Python object -> JSON, for JSON fields and dynamic keys. numpy arrays and scalars go through `tolist()`.
pub(crate) fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    let py = obj.py();
    if obj.is_none() {
        return Ok(serde_json::Value::Null);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(serde_json::Value::Bool(obj.extract::<bool>()?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(i.into());
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(u.into());
        }
        return Err(invalid(
            py,
            format!("integer {obj} does not fit in 64 bits"),
        ));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f = obj.extract::<f64>()?;
        return serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| invalid(py, format!("JSON cannot hold the float {f}")));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(serde_json::Value::String(s.to_cow()?.to_string()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                invalid(
                    py,
                    format!("JSON object keys must be str, got {}", type_name(&k)),
                )
            })?;
            map.insert(key.to_cow()?.to_string(), to_json(&v)?);
        }
        return Ok(serde_json::Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let items = obj
            .try_iter()?
            .map(|item| to_json(&item?))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(serde_json::Value::Array(items));
    }
    if obj.hasattr("tolist")? {
        let plain = obj.call_method0("tolist")?;
        // A numpy object whose tolist() returns itself would recurse forever.
        if !plain.is(obj) {
            return to_json(&plain);
        }
    }
    Err(invalid(
        py,
        format!(
            "a value of type {} cannot be stored as JSON",
            type_name(obj)
        ),
    ))
}

/// A 1-D numpy array -> its values as f32 (other float/int dtypes are cast by numpy).
pub(crate) fn to_vector(obj: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    let py = obj.py();
    let arr = obj.cast::<PyUntypedArray>()?;
    if arr.ndim() != 1 {
        return Err(invalid(
            py,
            format!(
                "a vector must be a 1-D array, got {} dimensions",
                arr.ndim()
            ),
        ));
    }
    // float32 (what the Python front passes) is read as it is; other dtypes are cast by numpy.
    if let Ok(f32s) = obj.cast::<numpy::PyArray1<f32>>() {
        if let Ok(values) = f32s.to_vec() {
            return Ok(values);
        }
    }
    let as_f32 = obj.call_method1("astype", ("float32",))?;
    let typed = as_f32
        .cast::<numpy::PyArray1<f32>>()
        .map_err(|e| invalid(py, format!("vector is not a float32 array: {e}")))?;
    typed
        .to_vec()
        .map_err(|_| invalid(py, "a vector array must be contiguous"))
}

/// One row value. Lists stay JSON: the engine accepts a JSON array of numbers for a vector field, and
/// turning `[1, 2]` into floats here would corrupt an integer list stored in a JSON field.
pub(crate) fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let py = obj.py();
    if obj.is_none() {
        Ok(Value::Null)
    } else if obj.is_instance_of::<PyBool>() {
        Ok(Value::Bool(obj.extract()?))
    } else if obj.is_instance_of::<PyInt>() {
        obj.extract::<i64>()
            .map(Value::Int)
            .map_err(|_| invalid(py, format!("integer {obj} does not fit in INT64")))
    } else if obj.is_instance_of::<PyFloat>() {
        Ok(Value::Float(obj.extract()?))
    } else if let Ok(s) = obj.cast::<PyString>() {
        Ok(Value::Str(s.to_cow()?.to_string()))
    } else if obj.is_instance_of::<PyUntypedArray>() {
        Ok(Value::FloatVector(to_vector(obj)?))
    } else if obj.is_instance_of::<PyDict>()
        || obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>()
    {
        Ok(Value::Json(to_json(obj)?))
    } else if obj.hasattr("isoformat")? {
        // datetime and date: their ISO 8601 text, which TIMESTAMPTZ fields read.
        Ok(Value::Str(obj.call_method0("isoformat")?.extract()?))
    } else if obj.hasattr("tolist")? {
        // numpy scalars (np.int64, np.float32, np.bool_) become the matching Python scalar.
        let plain = obj.call_method0("tolist")?;
        if plain.is(obj) {
            return Err(invalid(
                py,
                format!("unsupported value type {}", type_name(obj)),
            ));
        }
        to_value(&plain)
    } else {
        Err(invalid(
            py,
            format!("unsupported value type {} (use None, bool, int, float, str, dict, list or a numpy array)", type_name(obj)),
        ))
    }
}

pub(crate) fn to_pk(obj: &Bound<'_, PyAny>) -> PyResult<Pk> {
    let py = obj.py();
    if obj.is_instance_of::<PyBool>() {
        return Err(invalid(py, "a primary key must be int or str, got bool"));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Pk::Str(s.to_cow()?.to_string()));
    }
    if obj.is_instance_of::<PyInt>() || obj.hasattr("__index__")? {
        return obj
            .extract::<i64>()
            .map(Pk::Int)
            .map_err(|_| invalid(py, format!("primary key {obj} does not fit in INT64")));
    }
    Err(invalid(
        py,
        format!("a primary key must be int or str, got {}", type_name(obj)),
    ))
}

pub(crate) fn to_pks(ids: &Bound<'_, PyAny>) -> PyResult<Vec<Pk>> {
    ids.try_iter()?.map(|id| to_pk(&id?)).collect()
}

/// A list of numbers (anything `float()` takes) as float32 values, item by item; None when an item is not
/// a number, so the caller can convert the list another way or explain.
pub(crate) fn float_list(list: &Bound<'_, PyList>) -> Option<Vec<f32>> {
    let mut out = Vec::with_capacity(list.len());
    for x in list.iter() {
        out.push(x.extract::<f64>().ok()? as f32);
    }
    Some(out)
}

/// The rows of an insert or upsert, converted in one pass: a list of dicts, each field's value as
/// `to_value` makes it, and the schema's vector fields as float32 vectors. The engine checks the rows
/// against the schema.
pub(crate) fn to_rows(rows: &Bound<'_, PyAny>, schema: &CollectionSchema) -> PyResult<Vec<Row>> {
    let py = rows.py();
    let mut out = Vec::new();
    for row in rows.try_iter()? {
        let row = row?;
        let dict = row.cast::<PyDict>().map_err(|_| {
            to_py_err(
                py,
                Error::ClientSide {
                    check: ClientCheck::DataTypeNotMatch,
                    message: format!(
                        "wrong type of argument 'data', expected 'Dict' or list of 'Dict', got '{}'",
                        type_name(&row)
                    ),
                },
            )
        })?;
        let mut values = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                invalid(
                    py,
                    format!("field names must be str, got {}", type_name(&k)),
                )
            })?;
            let name = key.to_cow()?;
            let value = match schema.field(&name).filter(|f| f.dtype.is_vector()) {
                Some(f) => vectors::row_value(&v, f)?,
                None => to_value(&v)?,
            };
            values.push((name.to_string(), value));
        }
        out.push(values);
    }
    Ok(out)
}

/// (names, all) as the Python front sends them -> which fields a read returns.
pub(crate) fn output_fields(names: Option<Vec<String>>, all: bool) -> OutputFields {
    OutputFields {
        names: names.unwrap_or_default(),
        all,
    }
}

// ---------------------------------------------------------------------------------------------------
// Rust -> Python

pub(crate) fn json_to_py<'py>(
    py: Python<'py>,
    v: &serde_json::Value,
) -> PyResult<Bound<'py, PyAny>> {
    match v {
        serde_json::Value::Null => Ok(py.None().into_bound(py)),
        serde_json::Value::Bool(b) => b.into_bound_py_any(py),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_bound_py_any(py)
            } else if let Some(u) = n.as_u64() {
                u.into_bound_py_any(py)
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)
            }
        }
        serde_json::Value::String(s) => s.into_bound_py_any(py),
        serde_json::Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            Ok(list.into_any())
        }
        serde_json::Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, json_to_py(py, item)?)?;
            }
            Ok(dict.into_any())
        }
    }
}

pub(crate) fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Int(i) => i.into_bound_py_any(py),
        Value::Float(f) => f.into_bound_py_any(py),
        Value::Str(s) => s.into_bound_py_any(py),
        Value::Json(j) => json_to_py(py, j),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            Ok(list.into_any())
        }
        // Milvus shows TIMESTAMPTZ values as ISO 8601 text in UTC, GEOMETRY values as WKT.
        Value::Timestamp(t) => crate::timestamptz::format_utc(*t).into_bound_py_any(py),
        Value::Geometry(wkb) => match crate::geometry::decode(wkb) {
            Some(g) => crate::geometry::to_wkt(&g).into_bound_py_any(py),
            None => Err(to_py_err(
                py,
                crate::Error::Internal("stored WKB does not decode".into()),
            )),
        },
        Value::FloatVector(_)
        | Value::Float16Vector(_)
        | Value::BFloat16Vector(_)
        | Value::Int8Vector(_)
        | Value::BinaryVector(_)
        | Value::SparseFloatVector(_) => vectors::value_to_py(py, v),
    }
}

pub(crate) fn pk_to_py<'py>(py: Python<'py>, pk: &Pk) -> PyResult<Bound<'py, PyAny>> {
    match pk {
        Pk::Int(i) => i.into_bound_py_any(py),
        Pk::Str(s) => s.into_bound_py_any(py),
    }
}

pub(crate) fn row_to_py<'py>(py: Python<'py>, row: &Row) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in row {
        let out = value_to_py(py, value)?;
        // pymilvus's query rows hold a byte-based vector as a one-item list of its bytes.
        if vectors::is_byte_vector(value) {
            dict.set_item(name, PyList::new(py, [out])?)?;
        } else {
            dict.set_item(name, out)?;
        }
    }
    Ok(dict)
}

pub(crate) fn rows_to_py<'py>(py: Python<'py>, rows: &[Row]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for row in rows {
        list.append(row_to_py(py, row)?)?;
    }
    Ok(list)
}

pub(crate) fn pks_to_py<'py>(py: Python<'py>, pks: &[Pk]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for pk in pks {
        list.append(pk_to_py(py, pk)?)?;
    }
    Ok(list)
}
