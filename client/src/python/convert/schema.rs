//! Schemas and index requests in (covec's builder objects, pymilvus's, or plain dicts for index
//! requests), and describe results out, in pymilvus's shapes.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyType};

use super::{json_to_py, to_json};
use crate::python::errors::{invalid, param_error, to_py_err, type_name};
use crate::{
    CollectionInfo, CollectionSchema, DataType, DefaultValue, Error, FieldSchema, IndexSpec,
};

/// Field parameters that change nothing covec stores or answers, accepted as Milvus accepts them:
/// partition and clustering keys only place rows (covec has one partition), mmap and warmup tune a
/// server's memory, analyzers and text match serve features whose own calls covec refuses.
const ACCEPTED_FIELD_PARAMS: [&str; 8] = [
    "is_partition_key",
    "is_clustering_key",
    "mmap_enabled",
    "warmup",
    "enable_analyzer",
    "enable_match",
    "analyzer_params",
    "multi_analyzer_params",
];

fn attr<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    let value = obj.getattr_opt(name)?;
    Ok(value.filter(|v| !v.is_none()))
}

fn attr_bool(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<bool> {
    attr(obj, name)?.map_or(Ok(false), |v| v.is_truthy())
}

fn attr_str(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    attr(obj, name)?.map_or(Ok(String::new()), |v| v.extract())
}

/// A positive integer parameter, as Milvus takes it: 128 or "128".
fn uint_param(field: &str, key: &str, value: &Bound<'_, PyAny>) -> PyResult<u32> {
    let parsed = match value.cast::<PyString>() {
        Ok(s) => s.to_str()?.trim().parse::<u32>().ok(),
        Err(_) => value.extract::<u32>().ok(),
    };
    parsed.ok_or_else(|| {
        invalid(
            value.py(),
            format!("field '{field}': {key} must be a non-negative integer, got {value}"),
        )
    })
}

/// Our CollectionSchema or pymilvus's -> the engine's. Fields that the engine cannot hold and schema
/// parts covec has not implemented (functions, struct fields) are refused by name.
pub(crate) fn collection_schema(obj: &Bound<'_, PyAny>) -> PyResult<CollectionSchema> {
    let py = obj.py();
    let Some(fields) = attr(obj, "fields")? else {
        return Err(param_error(
            py,
            format!("schema must be a CollectionSchema, got {}", type_name(obj)),
        ));
    };
    for (part, feature) in [
        ("functions", "BM25 and embedding functions"),
        ("struct_fields", "struct fields"),
    ] {
        if let Some(items) = attr(obj, part)? {
            if items.len()? > 0 {
                return Err(param_error(
                    py,
                    format!("schema {part} ({feature}) are not supported by covec yet"),
                ));
            }
        }
    }
    let auto_id = attr_bool(obj, "auto_id")?;
    let fields = fields
        .try_iter()?
        .map(|f| field_schema(&f?, auto_id))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(CollectionSchema::new(
        fields,
        attr_str(obj, "description")?,
        attr_bool(obj, "enable_dynamic_field")?,
    ))
}

fn field_schema(obj: &Bound<'_, PyAny>, schema_auto_id: bool) -> PyResult<FieldSchema> {
    let py = obj.py();
    let name: String = obj.getattr("name")?.extract()?;
    let code: i64 = obj.getattr("dtype")?.extract().map_err(|_| {
        param_error(
            py,
            format!(
                "field '{name}': data type {} is not a DataType",
                obj.getattr("dtype")
                    .map_or_else(|_| "?".to_string(), |d| d.to_string())
            ),
        )
    })?;
    let dtype =
        DataType::from_milvus(code).map_err(|e| invalid(py, format!("field '{name}': {e}")))?;
    let is_primary = attr_bool(obj, "is_primary")?;
    let mut field = FieldSchema::new(name, dtype);
    field.description = attr_str(obj, "description")?;
    field.is_primary = is_primary;
    field.auto_id = attr_bool(obj, "auto_id")? || (is_primary && schema_auto_id);
    field.nullable = attr_bool(obj, "nullable")?;
    // pymilvus keeps an ARRAY's element type as an attribute; covec's FieldSchema among its params.
    if let (DataType::Array, Some(element)) = (dtype, attr(obj, "element_type")?) {
        field.element_type = Some(element_type(&field.name, &element)?);
    }
    if let Some(params) = attr(obj, "params")? {
        let params = params.cast_into::<PyDict>().map_err(|e| {
            param_error(
                py,
                format!("field '{}': params must be a dict: {e}", field.name),
            )
        })?;
        for (key, value) in params.iter() {
            let key: String = key.extract()?;
            match key.as_str() {
                // A dimension on a scalar field or a length on a non-VARCHAR one means nothing, as in
                // Milvus.
                "dim" if dtype.is_vector() => {
                    field.dim = Some(uint_param(&field.name, &key, &value)?)
                }
                "max_length" if matches!(dtype, DataType::VarChar | DataType::Array) => {
                    field.max_length = Some(uint_param(&field.name, &key, &value)?)
                }
                "max_capacity" if dtype == DataType::Array => {
                    field.max_capacity = Some(uint_param(&field.name, &key, &value)?)
                }
                "element_type" if dtype == DataType::Array => {
                    field.element_type = Some(element_type(&field.name, &value)?)
                }
                "dim" | "max_length" | "max_capacity" | "element_type" => {}
                k if ACCEPTED_FIELD_PARAMS.contains(&k) => {}
                k => {
                    return Err(param_error(
                        py,
                        format!(
                            "field '{}': parameter '{k}' is not supported by covec",
                            field.name
                        ),
                    ))
                }
            }
        }
    }
    field.default_value = default_value(obj, &field)?;
    Ok(field)
}

/// An ARRAY's element type (a DataType or its number); the engine checks it is one an ARRAY may hold.
fn element_type(field: &str, value: &Bound<'_, PyAny>) -> PyResult<DataType> {
    let code: i64 = value.extract().map_err(|_| {
        param_error(
            value.py(),
            format!("field '{field}': element_type {value} is not a DataType"),
        )
    })?;
    DataType::from_milvus(code)
        .map_err(|e| invalid(value.py(), format!("field '{field}': element_type: {e}")))
}

/// The field's default as the engine keeps it. pymilvus's FieldSchema holds it as a protobuf ValueField.
fn default_value(obj: &Bound<'_, PyAny>, field: &FieldSchema) -> PyResult<Option<DefaultValue>> {
    let Some(mut value) = attr(obj, "default_value")? else {
        return Ok(None);
    };
    if value.hasattr("WhichOneof")? {
        let which = value.call_method1("WhichOneof", ("data",))?;
        if which.is_none() {
            return Ok(None);
        }
        value = value.getattr(which.cast::<PyString>()?.to_str()?)?;
    }
    if matches!(field.dtype, DataType::Json | DataType::Array) {
        let text = match value.cast::<PyString>() {
            Ok(s) => s.to_str()?.to_string(),
            Err(_) => to_json(&value)?.to_string(),
        };
        return Ok(Some(DefaultValue::JsonText(text)));
    }
    let default = if let Ok(b) = value.cast::<pyo3::types::PyBool>() {
        DefaultValue::Bool(b.is_true())
    } else if let Ok(i) = value.extract::<i64>() {
        DefaultValue::Int(i)
    } else if let Ok(x) = value.extract::<f64>() {
        DefaultValue::Float(x)
    } else if let Ok(s) = value.cast::<PyString>() {
        DefaultValue::Str(s.to_str()?.to_string())
    } else {
        return Err(param_error(
            obj.py(),
            format!(
                "default_value of field '{}' has unsupported type {}",
                field.name,
                type_name(&value)
            ),
        ));
    };
    Ok(Some(default))
}

/// Index requests (our IndexParams or pymilvus's, or dicts with `field_name`, `index_type`,
/// `index_name`, `metric_type` and build parameters, flat or under `params`) -> the indexes covec builds.
/// Scalar indexes are accepted and left out: covec's filters scan.
pub(crate) fn index_specs(
    index_params: Option<&Bound<'_, PyAny>>,
    schema: &CollectionSchema,
) -> PyResult<Vec<IndexSpec>> {
    let Some(index_params) = index_params.filter(|p| !p.is_none()) else {
        return Ok(Vec::new());
    };
    let py = index_params.py();
    let mut specs = Vec::new();
    for param in index_params.try_iter()? {
        let param = param?;
        let request = if let Ok(d) = param.cast::<PyDict>() {
            d.copy()?
        } else if param.hasattr("to_dict")? {
            param.call_method0("to_dict")?.cast_into::<PyDict>()?
        } else {
            return Err(param_error(
                py,
                format!(
                    "index params must be IndexParam objects or dicts, got {}",
                    type_name(&param)
                ),
            ));
        };
        if let Some(nested) = request.get_item("params")? {
            request.del_item("params")?;
            if !nested.is_none() {
                request.update(nested.cast::<pyo3::types::PyMapping>()?)?;
            }
        }
        let take = |key: &str| -> PyResult<String> {
            let value = request.get_item(key)?;
            request.del_item(key).ok();
            value
                .filter(|v| !v.is_none())
                .map_or(Ok(String::new()), |v| v.extract())
        };
        let field = take("field_name")?;
        let index_type = take("index_type")?;
        let index_name = take("index_name")?;
        let metric = take("metric_type")?;
        let params = request
            .iter()
            .map(|(k, v)| Ok((k.extract::<String>()?, to_json(&v)?.to_string())))
            .collect::<PyResult<Vec<_>>>()?;
        let metric = (!metric.is_empty()).then_some(metric.as_str());
        let spec = IndexSpec::from_milvus(schema, &field, &index_type, &index_name, metric, params)
            .map_err(|e| to_py_err(py, e))?;
        specs.extend(spec);
    }
    Ok(specs)
}

/// covec._schema's DataType, imported at the first describe and kept.
static DATA_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn default_to_py<'py>(py: Python<'py>, default: &DefaultValue) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::conversion::IntoPyObjectExt;
    match default {
        DefaultValue::Bool(b) => b.into_bound_py_any(py),
        DefaultValue::Int(i) => i.into_bound_py_any(py),
        DefaultValue::Float(x) => x.into_bound_py_any(py),
        DefaultValue::Str(s) => s.into_bound_py_any(py),
        DefaultValue::JsonText(text) => match serde_json::from_str(text) {
            Ok(json) => json_to_py(py, &json),
            Err(_) => text.into_bound_py_any(py),
        },
    }
}

/// pymilvus's describe_collection dict. Field ids count from 100 as a server's do; covec has one shard,
/// one partition, no aliases or functions, and is always strongly consistent.
pub(crate) fn describe_collection<'py>(
    py: Python<'py>,
    info: &CollectionInfo,
) -> PyResult<Bound<'py, PyDict>> {
    let data_type = DATA_TYPE
        .get_or_try_init(py, || -> PyResult<_> {
            Ok(py
                .import("covec._schema")?
                .getattr("DataType")?
                .cast_into::<PyType>()?
                .unbind())
        })?
        .bind(py);
    let schema = &info.schema;
    let fields = PyList::empty(py);
    for f in &schema.fields {
        let d = PyDict::new(py);
        d.set_item("field_id", f.id)?;
        d.set_item("name", &f.name)?;
        d.set_item("description", &f.description)?;
        d.set_item("type", data_type.call1((f.dtype as i64,))?)?;
        let params = PyDict::new(py);
        if let Some(dim) = f.dim {
            params.set_item("dim", dim)?;
        }
        if let Some(max_length) = f.max_length {
            params.set_item("max_length", max_length)?;
        }
        if let Some(max_capacity) = f.max_capacity {
            params.set_item("max_capacity", max_capacity)?;
        }
        d.set_item("params", params)?;
        if let Some(element) = f.element_type {
            d.set_item("element_type", data_type.call1((element as i64,))?)?;
        }
        // As pymilvus reads a server's answer: flags only when set.
        if f.is_primary {
            d.set_item("is_primary", true)?;
        }
        if f.auto_id {
            d.set_item("auto_id", true)?;
        }
        if f.nullable {
            d.set_item("nullable", true)?;
        }
        if let Some(default) = &f.default_value {
            d.set_item("default_value", default_to_py(py, default)?)?;
        }
        fields.append(d)?;
    }
    let out = PyDict::new(py);
    out.set_item("collection_name", &info.name)?;
    out.set_item("auto_id", schema.primary().auto_id)?;
    out.set_item("num_shards", 1)?;
    out.set_item("description", &schema.description)?;
    out.set_item("fields", fields)?;
    out.set_item("functions", PyList::empty(py))?;
    out.set_item("aliases", PyList::empty(py))?;
    out.set_item("collection_id", 0)?;
    out.set_item("consistency_level", 0)?;
    out.set_item("consistency_level_name", "Strong")?;
    out.set_item("properties", PyDict::new(py))?;
    out.set_item("num_partitions", 1)?;
    out.set_item("enable_dynamic_field", schema.enable_dynamic_field)?;
    out.set_item("enable_namespace", false)?;
    out.set_item("schema_version", 0)?;
    Ok(out)
}

/// pymilvus's describe_index dict: the build parameters as given, then type, metric, names and row
/// counts. None when the collection has no index at all, as pymilvus returns.
pub(crate) fn describe_index<'py>(
    py: Python<'py>,
    info: &CollectionInfo,
    index_name: &str,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    if info.indexes.is_empty() {
        return Ok(None);
    }
    let spec = info
        .indexes
        .iter()
        .find(|i| i.index_name == index_name)
        .ok_or_else(|| {
            to_py_err(
                py,
                Error::IndexNotFound {
                    name: index_name.to_string(),
                },
            )
        })?;
    let out = PyDict::new(py);
    for (key, value) in &spec.params {
        let value: serde_json::Value = serde_json::from_str(value).map_err(|e| {
            to_py_err(
                py,
                Error::Internal(format!("index parameter {key} is not JSON: {e}")),
            )
        })?;
        out.set_item(key, json_to_py(py, &value)?)?;
    }
    let pending = info.pending_index_rows;
    out.set_item("index_type", &spec.index_type)?;
    out.set_item("metric_type", spec.metric.name())?;
    out.set_item("field_name", &spec.field)?;
    out.set_item("index_name", &spec.index_name)?;
    out.set_item("total_rows", info.row_count)?;
    out.set_item("indexed_rows", info.row_count - pending)?;
    out.set_item("pending_index_rows", pending)?;
    out.set_item("state", "Finished")?;
    Ok(Some(out))
}
