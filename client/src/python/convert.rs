//! Conversions between Python objects and the crate's types (`Value`, `Pk`, `Row`, `Hit`, ...), in both
//! directions.

use numpy::{PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::conversion::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

use super::errors::{invalid, type_name};
use crate::value::{Pk, Row, Value};
use crate::{Hit, OutputFields};

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
        return Ok(serde_json::Value::String(s.to_str()?.to_string()));
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
            map.insert(key.to_str()?.to_string(), to_json(&v)?);
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
        Ok(Value::Str(s.to_str()?.to_string()))
    } else if obj.is_instance_of::<PyUntypedArray>() {
        Ok(Value::FloatVector(to_vector(obj)?))
    } else if obj.is_instance_of::<PyDict>()
        || obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>()
    {
        Ok(Value::Json(to_json(obj)?))
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
        return Ok(Pk::Str(s.to_str()?.to_string()));
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

pub(crate) fn to_row(obj: &Bound<'_, PyAny>) -> PyResult<Row> {
    let py = obj.py();
    let dict = obj.cast::<PyDict>().map_err(|_| {
        invalid(
            py,
            format!("each row must be a dict, got {}", type_name(obj)),
        )
    })?;
    let mut row = Vec::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        let key = k.cast::<PyString>().map_err(|_| {
            invalid(
                py,
                format!("field names must be str, got {}", type_name(&k)),
            )
        })?;
        row.push((key.to_str()?.to_string(), to_value(&v)?));
    }
    Ok(row)
}

pub(crate) fn to_rows(rows: &Bound<'_, PyAny>) -> PyResult<Vec<Row>> {
    rows.try_iter()?.map(|r| to_row(&r?)).collect()
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    py: Python<'_>,
    what: &str,
    text: &str,
) -> PyResult<T> {
    serde_json::from_str(text).map_err(|e| invalid(py, format!("{what} is not valid: {e}")))
}

/// `{"ef": 64}` -> [("ef", "64")]: parameters travel with JSON-encoded values.
pub(crate) fn search_params(params: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let Some(params) = params else {
        return Ok(Vec::new());
    };
    params
        .iter()
        .map(|(k, v)| {
            let key = k.cast::<PyString>().map_err(|_| {
                invalid(
                    k.py(),
                    format!("search parameter names must be str, got {}", type_name(&k)),
                )
            })?;
            Ok((key.to_str()?.to_string(), to_json(&v)?.to_string()))
        })
        .collect()
}

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
        // Milvus returns vectors as lists of float32 values widened to Python floats.
        Value::FloatVector(vec) => {
            Ok(PyList::new(py, vec.iter().map(|x| f64::from(*x)))?.into_any())
        }
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
        dict.set_item(name, value_to_py(py, value)?)?;
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

/// covec._results's `Hit` (a dict) and `HybridHits` (a list), imported at the first search and kept.
/// Search builds its results as them directly: shaping (id, distance, entity) tuples into them in
/// Python cost about 1 µs a hit, a tenth of a top-10 graph search on 100k rows.
static RESULT_TYPES: PyOnceLock<(Py<PyType>, Py<PyType>)> = PyOnceLock::new();

pub(crate) fn result_types(py: Python<'_>) -> PyResult<&(Py<PyType>, Py<PyType>)> {
    RESULT_TYPES.get_or_try_init(py, || {
        let results = py.import("covec._results")?;
        let class = |name: &str| -> PyResult<Py<PyType>> {
            Ok(results.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        Ok((class("Hit")?, class("HybridHits")?))
    })
}

/// One query's hits as `HybridHits` of `Hit`s: `{pk: id, "distance": d, "entity": {...}}`. The entity
/// carries the primary key only when `keep_pk` (asked for by name or by "*", as in Milvus), first
/// unless the engine already placed it.
pub(crate) fn hits_to_py<'py>(
    py: Python<'py>,
    hits: &[Hit],
    pk: &str,
    keep_pk: bool,
) -> PyResult<Bound<'py, PyList>> {
    let (hit_type, hits_type) = result_types(py)?;
    let list = hits_type.bind(py).call0()?.cast_into::<PyList>()?;
    for hit in hits {
        let id = pk_to_py(py, &hit.id)?;
        let entity = PyDict::new(py);
        if keep_pk && !hit.entity.iter().any(|(name, _)| name == pk) {
            entity.set_item(pk, &id)?;
        }
        for (name, value) in &hit.entity {
            if keep_pk || name != pk {
                entity.set_item(name, value_to_py(py, value)?)?;
            }
        }
        let item = hit_type.bind(py).call0()?.cast_into::<PyDict>()?;
        item.set_item(pk, id)?;
        item.set_item("distance", f64::from(hit.distance))?;
        item.set_item("entity", entity)?;
        if pk != "id" {
            item.setattr("_pk_name", pk)?;
        }
        list.append(item)?;
    }
    Ok(list)
}
