//! Query vectors in, search parameters in, hits out.

use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyType};

use super::{float_list, pk_to_py, to_json, to_vector, value_to_py};
use crate::python::errors::{param_error, to_py_err};
use crate::{
    chain_of, rerank_of, CollectionSchema, DataType, Error, FilterParams, FunctionChain, Hit,
    OutputFields, QueryVectors, Rerank, SearchParams, SearchRequest, Value,
};

/// Query vectors as one float32 buffer, one vector after another, and their count. A list of lists of
/// numbers or of 1-D numpy arrays (what most callers pass) converts item by item; anything else goes
/// through numpy, whose conversion is the reference and whose error says what is wrong. One flat
/// vector is one query.
pub(crate) fn query_vectors(data: &Bound<'_, PyAny>) -> PyResult<(QueryVectors, usize)> {
    if let Some(texts) = query_texts(data)? {
        let n = texts.len();
        return Ok((QueryVectors::Text(texts), n));
    }
    if let Some(typed) = super::typed_queries(data)? {
        return Ok(typed);
    }
    if let Ok(list) = data.cast::<PyList>() {
        if let Some((values, nq)) = list_of_vectors(list) {
            return Ok((QueryVectors::Dense(values), nq));
        }
    }
    let py = data.py();
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", "float32")?;
    // numpy float16, bfloat16 and int8 arrays convert to float32 exactly.
    let array = py
        .import("numpy")?
        .call_method("ascontiguousarray", (data,), Some(&kwargs))
        .map_err(|e| {
            to_py_err(
                py,
                Error::invalid_code(
                    1,
                    format!("search data must be a list of equal-length numeric vectors: {e}"),
                ),
            )
        })?;
    let shape = array.cast::<PyUntypedArray>()?.shape().to_vec();
    let nq = match shape[..] {
        [dim] if dim > 0 => 1,
        [nq, dim] if nq > 0 && dim > 0 => nq,
        _ => {
            return Err(param_error(
                py,
                format!("search data must be a non-empty 2-D list of vectors, got shape {shape:?}"),
            ))
        }
    };
    // ascontiguousarray made it contiguous, which is all to_vec asks.
    let values = array
        .cast::<PyArrayDyn<f32>>()?
        .to_vec()
        .map_err(|e| param_error(py, format!("query vectors: {e}")))?;
    Ok((QueryVectors::Dense(values), nq))
}

/// Query texts (a BM25 search): one string, or a list of strings; None for anything else. A list that
/// starts with a string must hold only strings.
fn query_texts(data: &Bound<'_, PyAny>) -> PyResult<Option<Vec<String>>> {
    if let Ok(s) = data.cast::<PyString>() {
        return Ok(Some(vec![s.to_cow()?.into_owned()]));
    }
    let Ok(list) = data.cast::<PyList>() else {
        return Ok(None);
    };
    if !list
        .get_item(0)
        .is_ok_and(|first| first.is_instance_of::<PyString>())
    {
        return Ok(None);
    }
    list.iter()
        .map(|item| {
            item.extract::<String>().map_err(|_| {
                param_error(
                    data.py(),
                    "search data mixes query texts with other values; give a list of strings",
                )
            })
        })
        .collect::<PyResult<Vec<_>>>()
        .map(Some)
}

/// The list fast path of `query_vectors`: None unless every item is a list of numbers or a 1-D numpy
/// array, all of one non-zero length (or every item is a number: one flat vector).
fn list_of_vectors(list: &Bound<'_, PyList>) -> Option<(Vec<f32>, usize)> {
    let first = list.get_item(0).ok()?;
    if !(first.is_instance_of::<PyList>() || first.is_instance_of::<PyUntypedArray>()) {
        let vector = float_list(list)?;
        return (!vector.is_empty()).then_some((vector, 1));
    }
    let mut flat = Vec::new();
    let mut dim = None;
    for item in list.iter() {
        let vector = match item.cast::<PyList>() {
            Ok(inner) => float_list(inner)?,
            Err(_) if item.is_instance_of::<PyUntypedArray>() => to_vector(&item).ok()?,
            Err(_) => return None,
        };
        if vector.is_empty() || *dim.get_or_insert(vector.len()) != vector.len() {
            return None;
        }
        flat.extend_from_slice(&vector);
    }
    Some((flat, list.len()))
}

/// pymilvus's `search_params` dict and the search's keyword arguments that reach here (`arguments`: a
/// dict of `offset`, `round_decimal` and the grouping arguments), checked.
pub(crate) fn search_params(
    py: Python<'_>,
    search_params: Option<&Bound<'_, PyAny>>,
    arguments: Option<&Bound<'_, PyAny>>,
) -> PyResult<SearchParams> {
    let search_params = search_params.map(to_json).transpose()?;
    let arguments = arguments
        .map(to_json)
        .transpose()?
        .unwrap_or(serde_json::Value::Null);
    SearchParams::from_milvus(search_params.as_ref(), &arguments).map_err(|e| to_py_err(py, e))
}

/// `filter_params`: a dict of placeholder values (None: none).
pub(crate) fn filter_params(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<FilterParams> {
    match obj.filter(|o| !o.is_none()).map(to_json).transpose()? {
        None => Ok(FilterParams::new()),
        Some(serde_json::Value::Object(map)) => Ok(map),
        Some(other) => Err(param_error(
            py,
            format!("filter_params must be a dict, got {other}"),
        )),
    }
}

/// `ranker=` as the Python front describes it (a dict: see search_params/rerank.rs), checked.
pub(crate) fn rerank(py: Python<'_>, spec: &Bound<'_, PyAny>) -> PyResult<Rerank> {
    rerank_of(&to_json(spec)?).map_err(|e| to_py_err(py, e))
}

/// `function_chains=`'s chain as the Python front describes it (a dict: see search_params/chain.rs),
/// checked.
pub(crate) fn function_chain(py: Python<'_>, spec: &Bound<'_, PyAny>) -> PyResult<FunctionChain> {
    chain_of(&to_json(spec)?).map_err(|e| to_py_err(py, e))
}

/// A search request from its converted parts: `params` gives the metric, `ef`, offset, range and
/// grouping (moved out of it).
pub(crate) fn search_request(
    anns_field: Option<String>,
    data: &Bound<'_, PyAny>,
    limit: usize,
    filter: &str,
    output: OutputFields,
    params: &mut SearchParams,
) -> PyResult<SearchRequest> {
    // The one copy: the request owns its vectors so the GIL can be released while searching.
    let (vectors, nq) = query_vectors(data)?;
    Ok(SearchRequest {
        anns_field,
        vectors,
        nq,
        limit,
        offset: params.offset,
        filter: filter.to_string(),
        filter_params: FilterParams::new(),
        output,
        metric: params.metric,
        params: std::mem::take(&mut params.params),
        range: params.range,
        group_by: params.group_by.take(),
        rerank: None,
        chain: None,
    })
}

/// covec._results's `Hit` (a dict) and `HybridHits` (a list), imported at the first search and kept.
/// Search builds its results as them directly: shaping (id, distance, entity) tuples into them in
/// Python cost about 1 µs a hit, a tenth of a top-10 graph search on 100k rows.
static RESULT_TYPES: PyOnceLock<(Py<PyType>, Py<PyType>)> = PyOnceLock::new();

fn result_types(py: Python<'_>) -> PyResult<&(Py<PyType>, Py<PyType>)> {
    RESULT_TYPES.get_or_try_init(py, || {
        let results = py.import("covec._results")?;
        let class = |name: &str| -> PyResult<Py<PyType>> {
            Ok(results.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        Ok((class("Hit")?, class("HybridHits")?))
    })
}

/// Where a search's values go in its hits, from the schema of the generation searched: the primary
/// key's name, whether the entity carries it (when `output` names it or `output_fields` held "*", as
/// in Milvus), and the fields whose nulls wait with their values (vector and JSON fields: pymilvus 3
/// decides by the field's type).
pub(crate) struct HitLayout {
    pk: String,
    keep_pk: bool,
    lazy_nulls: Vec<String>,
}

impl HitLayout {
    pub(crate) fn new(schema: &CollectionSchema, output: &OutputFields, star: bool) -> Self {
        let pk = schema.primary().name.clone();
        HitLayout {
            keep_pk: star || output.names.contains(&pk),
            pk,
            lazy_nulls: schema
                .fields
                .iter()
                .filter(|f| f.nullable && (f.dtype.is_vector() || f.dtype == DataType::Json))
                .map(|f| f.name.clone())
                .collect(),
        }
    }

    /// Whether `name`'s `value` is converted on first read rather than on arrival, as pymilvus 3's
    /// search results convert vectors of every type and JSON (JSON fields and dynamic keys).
    fn is_lazy(&self, name: &str, value: &Value) -> bool {
        match value {
            Value::FloatVector(_)
            | Value::Float16Vector(_)
            | Value::BFloat16Vector(_)
            | Value::Int8Vector(_)
            | Value::BinaryVector(_)
            | Value::SparseFloatVector(_)
            | Value::Json(_) => true,
            Value::Null => self.lazy_nulls.iter().any(|n| n == name),
            _ => false,
        }
    }
}

/// One query's hits as `HybridHits` of `Hit`s: `{pk: id, "distance": d, "entity": {...}}`, distances
/// as `params` rounds them. The entity carries the primary key only when the layout keeps it, first
/// unless the engine already placed it. The lazy values (`HitLayout::is_lazy`) stay native, in the
/// list's `_lazy` `LazyFields`.
pub(crate) fn hits_to_py<'py>(
    py: Python<'py>,
    hits: Vec<Hit>,
    params: &SearchParams,
    layout: &HitLayout,
) -> PyResult<Bound<'py, PyList>> {
    let (hit_type, hits_type) = result_types(py)?;
    let pk = layout.pk.as_str();
    let list = hits_type.bind(py).call0()?.cast_into::<PyList>()?;
    let mut cells = Vec::new();
    for hit in hits {
        let id = pk_to_py(py, &hit.id)?;
        let entity = PyDict::new(py);
        if layout.keep_pk && !hit.entity.iter().any(|(name, _)| name == pk) {
            entity.set_item(pk, &id)?;
        }
        for (name, value) in hit.entity {
            if !layout.keep_pk && name == pk {
                continue;
            }
            if layout.is_lazy(&name, &value) {
                cells.push((entity.clone().unbind(), name, value));
            } else {
                entity.set_item(name, value_to_py(py, &value)?)?;
            }
        }
        let item = hit_type.bind(py).call0()?.cast_into::<PyDict>()?;
        item.set_item(pk, id)?;
        item.set_item("distance", params.distance(hit.distance))?;
        item.set_item("entity", entity)?;
        if pk != "id" {
            item.setattr("_pk_name", pk)?;
        }
        list.append(item)?;
    }
    if !cells.is_empty() {
        list.setattr("_lazy", LazyFields { cells })?;
    }
    Ok(list)
}

/// The lazy values (`HitLayout::is_lazy`) of one query's hits, owned: the engine copied them out of the
/// generation it searched, so no later commit or released segment reaches them. `fill` puts them
/// into their hits' entities as `value_to_py` makes them, the objects an eager result held.
#[pyclass(module = "covec._covec")]
pub(crate) struct LazyFields {
    /// (entity, field name, value), hit after hit and in entity order within a hit; empty once filled.
    cells: Vec<(Py<PyDict>, String, Value)>,
}

#[pymethods]
impl LazyFields {
    /// Sets each value in its entity, after the keys it holds (where pymilvus 3 puts them too); a
    /// second call finds nothing left. The entities are the hits' own dicts, wherever the list
    /// moved them.
    fn fill(&mut self, py: Python<'_>) -> PyResult<()> {
        for (entity, name, value) in std::mem::take(&mut self.cells) {
            entity.bind(py).set_item(name, value_to_py(py, &value)?)?;
        }
        Ok(())
    }
}
