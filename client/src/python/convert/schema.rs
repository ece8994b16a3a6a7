//! Schemas and index requests in (covec's builder objects, pymilvus's, or plain dicts for index
//! requests), and describe results out, in pymilvus's shapes.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyType};

use super::{json_to_py, to_json};
use crate::python::errors::{invalid, param_error, to_py_err, type_name};
use crate::schema::{index_names, resolve_index_name, FunctionKind, FunctionSpec};
use crate::{
    CollectionInfo, CollectionSchema, DataType, DefaultValue, Error, FieldSchema, IndexRequest,
};

/// Field parameters covec keeps as type parameters (shown back by describe_collection): analyzers and text
/// match (used by the text features), and mmap and warmup, which tune a server's memory (covec maps every
/// column).
const TYPE_PARAMS: [&str; 7] = [
    "enable_analyzer",
    "enable_match",
    "analyzer_params",
    "multi_analyzer_params",
    "mmap_enabled",
    "mmap.enabled",
    "warmup",
];

/// A type parameter's value as pymilvus sends it to a server: a string as it is, anything else as JSON.
fn type_param_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Ok(to_json(value)?.to_string()),
    }
}

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
        Ok(s) => s.to_cow()?.trim().parse::<u32>().ok(),
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
    if let Some(items) = attr(obj, "struct_fields")? {
        if items.len()? > 0 {
            return Err(param_error(
                py,
                "schema struct_fields (struct fields) are not supported by covec yet",
            ));
        }
    }
    let auto_id = attr_bool(obj, "auto_id")?;
    let mut fields = fields
        .try_iter()?
        .map(|f| field_schema(&f?, auto_id))
        .collect::<PyResult<Vec<_>>>()?;
    let functions = match attr(obj, "functions")? {
        Some(items) => items
            .try_iter()?
            .map(|f| function(&f?))
            .collect::<PyResult<Vec<_>>>()?,
        None => Vec::new(),
    };
    // As pymilvus's add_function marks them: a function fills its output fields.
    for f in &mut fields {
        f.is_function_output |= functions
            .iter()
            .any(|func| func.output_fields.contains(&f.name));
    }
    let mut schema = CollectionSchema::new(
        fields,
        attr_str(obj, "description")?,
        attr_bool(obj, "enable_dynamic_field")?,
    );
    schema.functions = functions;
    Ok(schema)
}

/// pymilvus's `Function` (name, type, input and output field names, params) -> the engine's. Only BM25
/// (FunctionType 1) runs in a schema; the others are refused by name.
fn function(obj: &Bound<'_, PyAny>) -> PyResult<FunctionSpec> {
    let py = obj.py();
    let name = attr_str(obj, "name")?;
    let kind = attr(obj, "type")?.ok_or_else(|| {
        param_error(
            py,
            format!("schema function {name:?} has no type; pass pymilvus's Function"),
        )
    })?;
    let kind = match kind.extract::<i64>() {
        Ok(1) => FunctionKind::Bm25,
        _ => {
            let shown = kind
                .getattr_opt("name")?
                .map_or_else(|| kind.to_string(), |n| n.to_string());
            return Err(to_py_err(
                py,
                Error::invalid_code(
                    1100,
                    format!(
                        "function {name:?} of type {shown} is not supported by covec: schemas run BM25 \
                         functions only"
                    ),
                ),
            ));
        }
    };
    let names = |attr_name: &str| -> PyResult<Vec<String>> {
        match attr(obj, attr_name)? {
            Some(v) if v.is_instance_of::<PyString>() => Ok(vec![v.extract()?]),
            Some(v) => v.extract(),
            None => Ok(Vec::new()),
        }
    };
    let params = match attr(obj, "params")? {
        Some(p) => p
            .cast_into::<PyDict>()
            .map_err(|_| param_error(py, "The parameters of the function should be a dictionary."))?
            .iter()
            .map(|(k, v)| Ok((k.extract::<String>()?, to_json(&v)?.to_string())))
            .collect::<PyResult<Vec<_>>>()?,
        None => Vec::new(),
    };
    Ok(FunctionSpec {
        name,
        description: attr_str(obj, "description")?,
        kind,
        input_fields: names("input_field_names")?,
        output_fields: names("output_field_names")?,
        params,
    })
}

/// Field parameters to change (alter_collection_field), values as `type_param_text` keeps them.
pub(crate) fn type_params(params: &Bound<'_, PyDict>) -> PyResult<Vec<(String, String)>> {
    params
        .iter()
        .map(|(k, v)| Ok((k.extract::<String>()?, type_param_text(&v)?)))
        .collect()
}

/// A DataType given as a number (ours, pymilvus's, or an int).
fn data_type(field: &str, value: &Bound<'_, PyAny>) -> PyResult<DataType> {
    typed(field, "data type", "", value)
}

/// An ARRAY's element type (a DataType or its number), as `data_type` reads a field's; the engine checks it is one an
/// ARRAY may hold.
fn element_type(field: &str, value: &Bound<'_, PyAny>) -> PyResult<DataType> {
    typed(field, "element_type", "element_type: ", value)
}

fn typed(field: &str, what: &str, context: &str, value: &Bound<'_, PyAny>) -> PyResult<DataType> {
    let py = value.py();
    let code: i64 = value.extract().map_err(|_| {
        param_error(
            py,
            format!("field '{field}': {what} {value} is not a DataType"),
        )
    })?;
    DataType::from_milvus(code).map_err(|e| invalid(py, format!("field '{field}': {context}{e}")))
}

/// Our FieldSchema or pymilvus's -> the engine's (`schema_auto_id`: the schema's auto_id, which applies
/// to its primary key).
pub(crate) fn field_schema(obj: &Bound<'_, PyAny>, schema_auto_id: bool) -> PyResult<FieldSchema> {
    let py = obj.py();
    let name: String = obj.getattr("name")?.extract()?;
    let dtype = data_type(&name, &obj.getattr("dtype")?)?;
    let is_primary = attr_bool(obj, "is_primary")?;
    let mut field = FieldSchema::new(name, dtype);
    field.description = attr_str(obj, "description")?;
    field.is_primary = is_primary;
    field.auto_id = attr_bool(obj, "auto_id")? || (is_primary && schema_auto_id);
    field.nullable = attr_bool(obj, "nullable")?;
    field.is_function_output = attr_bool(obj, "is_function_output")?;
    // pymilvus keeps these as attributes; our FieldSchema keeps them among its params (below).
    field.is_partition_key = attr_bool(obj, "is_partition_key")?;
    field.is_clustering_key = attr_bool(obj, "is_clustering_key")?;
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
            if value.is_none() {
                continue;
            }
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
                "is_partition_key" => field.is_partition_key = value.is_truthy()?,
                "is_clustering_key" => field.is_clustering_key = value.is_truthy()?,
                k if TYPE_PARAMS.contains(&k) => {
                    if !value.is_none() {
                        let stored = if k == "mmap_enabled" {
                            "mmap.enabled"
                        } else {
                            k
                        };
                        field
                            .type_params
                            .push((stored.to_string(), type_param_text(&value)?));
                    }
                }
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
        value = value.getattr(which.cast::<PyString>()?.to_cow()?)?;
    }
    if matches!(field.dtype, DataType::Json | DataType::Array) {
        let text = match value.cast::<PyString>() {
            Ok(s) => s.to_cow()?.to_string(),
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
        DefaultValue::Str(s.to_cow()?.to_string())
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
/// `index_name`, `metric_type` and build parameters, flat or under `params`) -> the indexes to keep:
/// vector indexes covec builds, scalar ones it keeps as metadata (its filters scan).
pub(crate) fn index_specs(
    index_params: Option<&Bound<'_, PyAny>>,
    schema: &CollectionSchema,
) -> PyResult<Vec<IndexRequest>> {
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
        let spec =
            IndexRequest::from_milvus(schema, &field, &index_type, &index_name, metric, params)
                .map_err(|e| to_py_err(py, e))?;
        specs.push(spec);
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

/// A type parameter as pymilvus shows a server's: `mmap.enabled` as the bool `mmap_enabled`, the rest as
/// the text kept.
fn show_type_param<'py>(
    py: Python<'py>,
    params: &Bound<'py, PyDict>,
    key: &str,
    value: &str,
) -> PyResult<()> {
    if key == "mmap.enabled" {
        params.set_item("mmap_enabled", !value.eq_ignore_ascii_case("false"))
    } else {
        params.set_item(key, PyString::new(py, value))
    }
}

/// pymilvus's describe_collection dict, as a server fills it: field ids from 100, the collection's id,
/// aliases, properties and partition count; covec has one shard and is always strongly consistent.
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
        for (key, value) in &f.type_params {
            show_type_param(py, &params, key, value)?;
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
        if f.is_partition_key {
            d.set_item("is_partition_key", true)?;
        }
        if f.is_clustering_key {
            d.set_item("is_clustering_key", true)?;
        }
        if f.is_function_output {
            d.set_item("is_function_output", true)?;
        }
        fields.append(d)?;
    }
    let properties = PyDict::new(py);
    for (key, value) in &info.properties {
        properties.set_item(key, value)?;
    }
    let out = PyDict::new(py);
    out.set_item("collection_name", &info.name)?;
    out.set_item("auto_id", schema.primary().auto_id)?;
    out.set_item("num_shards", 1)?;
    out.set_item("description", &schema.description)?;
    out.set_item("fields", fields)?;
    out.set_item("functions", functions_to_py(py, &schema.functions)?)?;
    out.set_item("aliases", PyList::new(py, &info.aliases)?)?;
    out.set_item("collection_id", info.id)?;
    out.set_item("consistency_level", 0)?;
    out.set_item("consistency_level_name", "Strong")?;
    out.set_item("properties", properties)?;
    out.set_item("num_partitions", info.partitions.len())?;
    out.set_item("enable_dynamic_field", schema.enable_dynamic_field)?;
    out.set_item("enable_namespace", false)?;
    out.set_item("schema_version", 0)?;
    Ok(out)
}

/// pymilvus's describe_index dict: the build parameters as given, then type, metric ("NONE" for a
/// scalar index), names, row counts and state ("Retry" with `index_state_fail_reason` after a failed
/// background build). None when no index has that name, as pymilvus returns for the
/// server's "index not found" (Milvus's and Milvus Lite's).
pub(crate) fn describe_index<'py>(
    py: Python<'py>,
    info: &CollectionInfo,
    index_name: &str,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let names = index_names(&info.indexes, &info.scalar_indexes);
    let Some(at) = resolve_index_name(names, index_name) else {
        return Ok(None);
    };
    let (params, index_type, metric, field, name, pending) = match info.indexes.get(at) {
        Some(v) => (
            &v.params,
            &v.index_type,
            v.metric.name(),
            &v.field,
            &v.index_name,
            info.pending_index_rows,
        ),
        None => {
            let s = &info.scalar_indexes[at - info.indexes.len()];
            (&s.params, &s.index_type, "NONE", &s.field, &s.index_name, 0)
        }
    };
    let out = PyDict::new(py);
    for (key, value) in params {
        let value: serde_json::Value = serde_json::from_str(value).map_err(|e| {
            to_py_err(
                py,
                Error::Internal(format!("index parameter {key} is not JSON: {e}")),
            )
        })?;
        out.set_item(key, json_to_py(py, &value)?)?;
    }
    out.set_item("index_type", index_type)?;
    out.set_item("metric_type", metric)?;
    out.set_item("field_name", field)?;
    out.set_item("index_name", name)?;
    out.set_item("total_rows", info.row_count)?;
    out.set_item("indexed_rows", info.row_count - pending)?;
    out.set_item("pending_index_rows", pending)?;
    // Milvus's IndexState names: a failed background build is retried by the next write or flush.
    match (&info.build_error, info.indexes.get(at)) {
        (Some(reason), Some(_)) => {
            out.set_item("state", "Retry")?;
            out.set_item("index_state_fail_reason", reason)?;
        }
        _ => out.set_item("state", "Finished")?,
    }
    Ok(Some(out))
}

/// describe_collection's `functions`, in pymilvus's shape (`Function.construct_from_dict` reads it back).
fn functions_to_py<'py>(
    py: Python<'py>,
    functions: &[FunctionSpec],
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for f in functions {
        let d = PyDict::new(py);
        d.set_item("name", &f.name)?;
        d.set_item("description", &f.description)?;
        // Milvus's FunctionType numbers.
        d.set_item(
            "type",
            match f.kind {
                FunctionKind::Bm25 => 1,
            },
        )?;
        d.set_item("input_field_names", &f.input_fields)?;
        d.set_item("output_field_names", &f.output_fields)?;
        let params = PyDict::new(py);
        for (key, value) in &f.params {
            match serde_json::from_str::<serde_json::Value>(value) {
                Ok(json) => params.set_item(key, json_to_py(py, &json)?)?,
                Err(_) => params.set_item(key, value)?,
            }
        }
        d.set_item("params", params)?;
        out.append(d)?;
    }
    Ok(out)
}
