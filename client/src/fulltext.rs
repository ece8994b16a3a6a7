//! What a schema's full-text settings mean: which VARCHAR fields are analyzed and by which analyzer
//! (`enable_analyzer`, `analyzer_params`, `multi_analyzer_params`), which are match-enabled (`enable_match`),
//! and which BM25 functions fill which SPARSE_FLOAT_VECTOR fields. `validate` applies the Milvus server's rules
//! at create time (its messages, code 1100, and pymilvus's client-side checks as `ParamError`); `FullText::of`
//! resolves a validated schema for the engine (writes, match indexes, BM25 searches) and the filter
//! (`text_match`, `phrase_match`). No I/O; analyzers are built once per process per distinct params
//! (`analyzer`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::schema::{CollectionSchema, DataType, FieldSchema, FunctionKind};
use crate::sparse::term_frequencies;
use crate::text::{term_id, Analyzer, MultiAnalyzer, Token};
use crate::value::Value;

/// The Milvus server's code for a bad parameter (merr ParameterInvalid), which its schema checks give.
const PARAMETER_INVALID: i32 = 1100;

fn server(message: impl Into<String>) -> Error {
    Error::invalid_code(PARAMETER_INVALID, message)
}

/// A type parameter's value. Type parameters hold text as pymilvus sends it to a server: JSON (`true`, an
/// analyzer's object) or a plain string (`True`); a JSON string that holds JSON is read as the JSON it holds.
fn type_param(f: &FieldSchema, key: &str) -> Option<Json> {
    let text = f.type_param(key)?;
    Some(match serde_json::from_str(text) {
        Ok(Json::String(inner)) => serde_json::from_str(&inner).unwrap_or(Json::String(inner)),
        Ok(value) => value,
        Err(_) => Json::String(text.to_string()),
    })
}

/// A boolean type parameter (true, "true", "True"); absent is false.
fn flag(f: &FieldSchema, key: &str) -> Result<bool> {
    match type_param(f, key) {
        None => Ok(false),
        Some(Json::Bool(b)) => Ok(b),
        Some(Json::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Json::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(Error::invalid(format!(
            "field '{}': {key} must be true or false, got {other}",
            f.name
        ))),
    }
}

impl FieldSchema {
    /// `enable_analyzer=True`: the field's text is analyzed (for BM25 and text match).
    pub fn enable_analyzer(&self) -> Result<bool> {
        flag(self, "enable_analyzer")
    }

    /// `enable_match=True`: the field has a match index for `text_match` and `phrase_match`.
    pub fn enable_match(&self) -> Result<bool> {
        flag(self, "enable_match")
    }
}

/// The analyzer of `params` (an `analyzer_params` value), built once per process per distinct params: every
/// commit, filter and BM25 search of a field asks for it.
pub fn analyzer(params: &Json) -> Result<Analyzer> {
    static CACHE: OnceLock<Mutex<HashMap<String, Analyzer>>> = OnceLock::new();
    let key = params.to_string();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(a) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(a);
    }
    let built = Analyzer::from_params(params)?;
    if let Ok(mut c) = cache.lock() {
        c.insert(key, built.clone());
    }
    Ok(built)
}

/// How one analyzed field's text becomes tokens.
#[derive(Clone, Debug)]
pub enum FieldAnalyzer {
    /// `analyzer_params` (or the standard analyzer without them).
    Single(Analyzer),
    /// `multi_analyzer_params`: per row, the analyzer named by the row's value of field `by_field` (schema
    /// position); per search, the one `analyzer_name` names.
    Multi {
        analyzers: Arc<MultiAnalyzer>,
        by_field: usize,
    },
}

impl FieldAnalyzer {
    /// Field `c`'s analyzer; None when it is not analyzed (`enable_analyzer` unset).
    pub fn of(schema: &CollectionSchema, c: usize) -> Result<Option<FieldAnalyzer>> {
        let f = &schema.fields[c];
        if f.dtype != DataType::VarChar || !f.enable_analyzer()? {
            return Ok(None);
        }
        if let Some(multi) = type_param(f, "multi_analyzer_params") {
            let analyzers = MultiAnalyzer::from_params(&multi).map_err(|e| {
                server(format!(
                    "field {} multi_analyzer_params are invalid: {e}",
                    f.name
                ))
            })?;
            let by_field = schema
                .fields
                .iter()
                .position(|o| o.name == analyzers.by_field())
                .ok_or_else(|| {
                    server(format!(
                        "multi analyzer dependent field {} does not exist in the collection; \"by_field\" \
                         must name a VARCHAR field",
                        analyzers.by_field()
                    ))
                })?;
            if schema.fields[by_field].dtype != DataType::VarChar {
                return Err(server(format!(
                    "multi analyzer params now only support by string field, but field {} is not string",
                    schema.fields[by_field].name
                )));
            }
            return Ok(Some(FieldAnalyzer::Multi {
                analyzers: Arc::new(analyzers),
                by_field,
            }));
        }
        let params = type_param(f, "analyzer_params").unwrap_or(Json::Object(Default::default()));
        let single = analyzer(&params)
            .map_err(|e| Error::invalid(format!("field '{}' analyzer_params: {e}", f.name)))?;
        Ok(Some(FieldAnalyzer::Single(single)))
    }

    /// The analyzer for a row whose `by_field` value is `language` (ignored by a single analyzer).
    pub fn for_row(&self, language: Option<&str>) -> &Analyzer {
        match self {
            FieldAnalyzer::Single(a) => a,
            FieldAnalyzer::Multi { analyzers, .. } => analyzers.analyzer(language),
        }
    }

    /// The analyzer a search's query text goes through: the one `analyzer_name` names (its alias resolved,
    /// an unknown name the default one), or the default one without a name. A single analyzer takes no name.
    pub fn for_search(&self, analyzer_name: Option<&str>) -> Result<&Analyzer> {
        match (self, analyzer_name) {
            (FieldAnalyzer::Single(a), None) => Ok(a),
            (FieldAnalyzer::Single(_), Some(name)) => Err(Error::invalid(format!(
                "analyzer_name '{name}' is for fields with multi_analyzer_params; this field has one analyzer"
            ))),
            (FieldAnalyzer::Multi { analyzers, .. }, name) => Ok(analyzers.analyzer(name)),
        }
    }
}

/// Where `run_analyzer` takes its analyzer from.
pub enum AnalyzerSource<'a> {
    /// `analyzer_params` (a JSON object as text); None: the standard analyzer.
    Params(Option<&'a str>),
    /// A collection's analyzed field, with `analyzer_names` for a field with `multi_analyzer_params`: none
    /// (the default analyzer), one for every text, or one per text.
    Field {
        schema: &'a CollectionSchema,
        field: &'a str,
        analyzer_names: &'a [String],
    },
}

/// `run_analyzer`: each text's tokens, by the analyzer `source` names.
pub fn run_analyzer(texts: &[String], source: AnalyzerSource<'_>) -> Result<Vec<Vec<Token>>> {
    match source {
        AnalyzerSource::Params(params) => {
            let params = match params {
                Some(text) => serde_json::from_str(text).map_err(|e| {
                    Error::invalid(format!("analyzer_params is not valid JSON: {e}"))
                })?,
                None => Json::Object(Default::default()),
            };
            let a = analyzer(&params)?;
            Ok(texts.iter().map(|t| a.tokens(t)).collect())
        }
        AnalyzerSource::Field {
            schema,
            field,
            analyzer_names,
        } => {
            let c = schema
                .fields
                .iter()
                .position(|f| f.name == field)
                .ok_or_else(|| server(format!("field {field} does not exist in the collection")))?;
            let a = FieldAnalyzer::of(schema, c)?.ok_or_else(|| {
                server(format!(
                    "field {field} has no analyzer: run_analyzer on a collection field needs a VARCHAR field \
                     created with enable_analyzer=True"
                ))
            })?;
            let name = |i: usize| -> Result<Option<&str>> {
                match analyzer_names {
                    [] => Ok(None),
                    [one] => Ok(Some(one.as_str())),
                    many if many.len() == texts.len() => Ok(Some(many[i].as_str())),
                    many => Err(server(format!(
                        "run_analyzer got {} analyzer_names for {} texts: give one name, or one per text",
                        many.len(),
                        texts.len()
                    ))),
                }
            };
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| Ok(a.for_search(name(i)?)?.tokens(t)))
                .collect()
        }
    }
}

/// A BM25 function of a schema, resolved: text of field `input` becomes term frequencies in field `output`.
#[derive(Clone, Debug)]
pub struct Bm25Function {
    pub name: String,
    pub input: usize,
    pub output: usize,
    pub analyzer: FieldAnalyzer,
}

/// A schema's full-text settings, resolved. Build it from a schema `validate` accepted.
#[derive(Clone, Debug, Default)]
pub struct FullText {
    pub functions: Vec<Bm25Function>,
    /// Match-enabled fields (schema positions) and their analyzers.
    pub match_fields: Vec<(usize, Analyzer)>,
}

impl FullText {
    pub fn of(schema: &CollectionSchema) -> Result<FullText> {
        let position = |name: &str| {
            schema
                .fields
                .iter()
                .position(|f| f.name == name)
                .ok_or_else(|| {
                    Error::Internal(format!("function field '{name}' is not in the schema"))
                })
        };
        let mut out = FullText::default();
        for function in &schema.functions {
            let FunctionKind::Bm25 = function.kind;
            let (Some(input), Some(output)) = (
                function.input_fields.first(),
                function.output_fields.first(),
            ) else {
                return Err(Error::Internal(format!(
                    "BM25 function '{}' without its fields",
                    function.name
                )));
            };
            let input = position(input)?;
            let analyzer = FieldAnalyzer::of(schema, input)?.ok_or_else(|| {
                Error::Internal(format!(
                    "BM25 function '{}' on a field not analyzed",
                    function.name
                ))
            })?;
            out.functions.push(Bm25Function {
                name: function.name.clone(),
                input,
                output: position(output)?,
                analyzer,
            });
        }
        for (c, f) in schema.fields.iter().enumerate() {
            if f.dtype == DataType::VarChar && f.enable_match()? {
                match FieldAnalyzer::of(schema, c)? {
                    Some(FieldAnalyzer::Single(a)) => out.match_fields.push((c, a)),
                    _ => {
                        return Err(Error::Internal(format!(
                            "match-enabled field '{}' without its single analyzer",
                            f.name
                        )))
                    }
                }
            }
        }
        Ok(out)
    }

    /// Sets each BM25 function's output in `values` (a row in stored form, one value per schema field): the
    /// term frequencies of its input text's tokens (an empty vector for a null or empty text), the text
    /// analyzed by the analyzer its language field names.
    pub fn compute_outputs(&self, values: &mut [Value]) {
        for f in &self.functions {
            let language = match &f.analyzer {
                FieldAnalyzer::Multi { by_field, .. } => match &values[*by_field] {
                    Value::Str(l) => Some(l.as_str()),
                    _ => None,
                },
                FieldAnalyzer::Single(_) => None,
            };
            let tf = match &values[f.input] {
                Value::Str(text) => term_frequencies(
                    f.analyzer
                        .for_row(language)
                        .tokens(text)
                        .iter()
                        .map(|t| term_id(&t.text)),
                ),
                _ => term_frequencies([]),
            };
            values[f.output] = Value::SparseFloatVector(tf);
        }
    }

    /// The BM25 function filling field `output`, if any.
    pub fn function_of(&self, output: usize) -> Option<&Bm25Function> {
        self.functions.iter().find(|f| f.output == output)
    }

    /// Field `c`'s analyzer when it is match-enabled.
    pub fn match_analyzer(&self, c: usize) -> Option<&Analyzer> {
        self.match_fields
            .iter()
            .find(|(field, _)| *field == c)
            .map(|(_, a)| a)
    }

    pub fn is_empty(&self) -> bool {
        self.functions.is_empty() && self.match_fields.is_empty()
    }
}

/// The create-time rules for functions and analyzers: pymilvus's client-side checks (`ParamError`, its
/// messages) and then the Milvus server's (code 1100, its messages), each naming what to change.
pub fn validate(schema: &CollectionSchema) -> Result<()> {
    let field = |name: &str| schema.fields.iter().find(|f| f.name == name);
    let mut outputs: Vec<&str> = Vec::new();
    for (i, function) in schema.functions.iter().enumerate() {
        // pymilvus (CollectionSchema.verify, Function.verify).
        for name in &function.output_fields {
            let f = field(name).ok_or_else(|| {
                Error::param(format!(
                    "Function output field not found in collection schema.: {name}"
                ))
            })?;
            if f.is_primary || f.is_partition_key || f.is_clustering_key {
                return Err(Error::param(
                    "The output field must not be primary key, partition key, clustering key.",
                ));
            }
        }
        if let Some(name) = function.input_fields.iter().find(|n| field(n).is_none()) {
            return Err(Error::param(format!(
                "Function input field not found in collection schema.: {name}"
            )));
        }
        let FunctionKind::Bm25 = function.kind;
        let (input, output) = match (&function.input_fields[..], &function.output_fields[..]) {
            ([input], [output]) => (field(input), field(output)),
            _ => {
                return Err(Error::param(
                    "BM25 function must have exact 1 input and 1 output field.",
                ))
            }
        };
        let (Some(input), Some(output)) = (input, output) else {
            return Err(Error::Internal("function fields were checked".into()));
        };
        if input.dtype != DataType::VarChar {
            return Err(Error::param("BM25 function input field must be VARCHAR."));
        }
        if output.dtype != DataType::SparseFloatVector {
            return Err(Error::param(
                "BM25 function output field must be SPARSE_FLOAT_VECTOR.",
            ));
        }
        // The server (proxy validateFunction, checkFunctionBasicParams).
        if function.name.is_empty() {
            return Err(server("function name cannot be empty"));
        }
        if schema.functions[..i]
            .iter()
            .any(|o| o.name == function.name)
        {
            return Err(server(format!(
                "duplicate function name: {}",
                function.name
            )));
        }
        if input.name == output.name {
            return Err(server(format!(
                "a single field cannot be both input and output in the same function, function: {}, field: {}",
                function.name, input.name
            )));
        }
        if !function.params.is_empty() {
            return Err(server(format!(
                "BM25 function accepts no params (function {}); set bm25_k1 and bm25_b on the output field's \
                 index instead",
                function.name
            )));
        }
        if !input.enable_analyzer()? {
            return Err(server(format!(
                "BM25 function input field must set enable_analyzer to true (field {})",
                input.name
            )));
        }
        if output.nullable {
            return Err(server(format!(
                "function output field cannot be nullable: function {}, field {}",
                function.name, output.name
            )));
        }
        if outputs.contains(&output.name.as_str()) {
            return Err(server(format!(
                "duplicate function output field: function {}, field {}",
                function.name, output.name
            )));
        }
        outputs.push(&output.name);
    }
    for (c, f) in schema.fields.iter().enumerate() {
        if f.is_function_output && !outputs.contains(&f.name.as_str()) {
            return Err(server(format!(
                "function output field {} has no producer: add the BM25 Function that fills it",
                f.name
            )));
        }
        validate_analysis(schema, c)?;
    }
    Ok(())
}

/// The server's `validateAnalyzer` for field `c`, and its analyzer built (which checks its params).
fn validate_analysis(schema: &CollectionSchema, c: usize) -> Result<()> {
    let f = &schema.fields[c];
    let keys = [
        "enable_analyzer",
        "analyzer_params",
        "multi_analyzer_params",
        "enable_match",
    ];
    if f.dtype != DataType::VarChar {
        if let Some(key) = keys.iter().find(|k| f.type_param(k).is_some()) {
            return Err(Error::param(format!(
                "field '{}': {key} applies to VARCHAR fields, not {}",
                f.name,
                f.dtype.name()
            )));
        }
        return Ok(());
    }
    let is_input = schema
        .functions
        .iter()
        .any(|function| function.input_fields.contains(&f.name));
    let enable_match = f.enable_match()?;
    if (enable_match || is_input) && !f.enable_analyzer()? {
        return Err(server(format!(
            "field {} is set to enable match or bm25 function but not enable analyzer",
            f.name
        )));
    }
    let multi = f.type_param("multi_analyzer_params").is_some();
    if multi && enable_match {
        return Err(server(format!(
            "multi analyzer now only support for bm25, but now field {} enable match",
            f.name
        )));
    }
    if multi && f.type_param("analyzer_params").is_some() {
        return Err(server(format!(
            "field {} analyzer params should be none if has multi analyzer params",
            f.name
        )));
    }
    FieldAnalyzer::of(schema, c).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FunctionSpec;

    fn field(name: &str, dtype: DataType, params: &[(&str, &str)]) -> FieldSchema {
        let mut f = FieldSchema::new(name, dtype);
        f.type_params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        f
    }

    fn schema(text: FieldSchema, functions: Vec<FunctionSpec>) -> CollectionSchema {
        let mut id = FieldSchema::new("id", DataType::Int64);
        id.is_primary = true;
        let lang = FieldSchema::new("lang", DataType::VarChar);
        let mut sparse = FieldSchema::new("sparse", DataType::SparseFloatVector);
        sparse.is_function_output = !functions.is_empty();
        let mut s = CollectionSchema::new(vec![id, text, lang, sparse], "", false);
        s.functions = functions;
        s
    }

    fn bm25(input: &str, output: &str) -> FunctionSpec {
        FunctionSpec {
            name: "bm25".into(),
            description: String::new(),
            kind: FunctionKind::Bm25,
            input_fields: vec![input.into()],
            output_fields: vec![output.into()],
            params: Vec::new(),
        }
    }

    fn err(s: &CollectionSchema) -> (i32, String) {
        let e = validate(s).unwrap_err();
        (e.code(), e.to_string())
    }

    #[test]
    fn a_bm25_function_resolves_its_fields_and_analyzer() {
        let text = field(
            "text",
            DataType::VarChar,
            &[
                ("enable_analyzer", "true"),
                ("enable_match", "True"),
                ("analyzer_params", r#""{\"type\": \"english\"}""#),
            ],
        );
        let s = schema(text, vec![bm25("text", "sparse")]);
        validate(&s).unwrap();
        let ft = FullText::of(&s).unwrap();
        let f = ft.function_of(3).unwrap();
        assert_eq!((f.input, f.output), (1, 3));
        let tokens: Vec<String> = f
            .analyzer
            .for_row(None)
            .tokens("Running dogs")
            .into_iter()
            .map(|t| t.text)
            .collect();
        assert_eq!(tokens, ["run", "dog"]);
        assert!(ft.match_analyzer(1).is_some());
    }

    #[test]
    fn multi_analyzers_pick_by_row_and_by_search_name() {
        let multi = r#"{"analyzers": {"default": {}, "zh": {"type": "chinese"}}, "by_field": "lang", "alias": {"cn": "zh"}}"#;
        let text = field(
            "text",
            DataType::VarChar,
            &[
                ("enable_analyzer", "true"),
                ("multi_analyzer_params", multi),
            ],
        );
        let s = schema(text, vec![bm25("text", "sparse")]);
        validate(&s).unwrap();
        let ft = FullText::of(&s).unwrap();
        let a = &ft.functions[0].analyzer;
        assert!(matches!(a, FieldAnalyzer::Multi { by_field: 2, .. }));
        let count = |a: &Analyzer| a.tokens("用户订单").len();
        assert!(count(a.for_row(Some("cn"))) > 1);
        assert_eq!(count(a.for_row(None)), 1);
        assert_eq!(
            count(a.for_search(Some("zh")).unwrap()),
            count(a.for_row(Some("cn")))
        );
    }

    #[test]
    fn bad_functions_and_analyzers_get_the_servers_and_pymilvuss_messages() {
        let analyzed = field("text", DataType::VarChar, &[("enable_analyzer", "true")]);
        let plain = field("text", DataType::VarChar, &[]);
        let (code, m) = err(&schema(plain.clone(), vec![bm25("text", "sparse")]));
        assert_eq!(code, 1100);
        assert!(m.contains("enable_analyzer"), "{m}");
        let (code, m) = err(&schema(analyzed.clone(), vec![bm25("id", "sparse")]));
        assert_eq!(
            (code, m.as_str()),
            (1, "BM25 function input field must be VARCHAR.")
        );
        let (_, m) = err(&schema(analyzed.clone(), vec![bm25("text", "lang")]));
        assert_eq!(m, "BM25 function output field must be SPARSE_FLOAT_VECTOR.");
        let (_, m) = err(&schema(analyzed.clone(), vec![bm25("text", "nope")]));
        assert!(m.starts_with("Function output field not found"), "{m}");
        let mut two = bm25("text", "sparse");
        two.output_fields.push("lang".into());
        let (_, m) = err(&schema(analyzed.clone(), vec![two]));
        assert_eq!(
            m,
            "BM25 function must have exact 1 input and 1 output field."
        );
        let mut with_params = bm25("text", "sparse");
        with_params.params.push(("k1".into(), "1.2".into()));
        assert!(err(&schema(analyzed.clone(), vec![with_params]))
            .1
            .contains("accepts no params"));
        let mut orphan = schema(analyzed.clone(), vec![]);
        orphan.fields[3].is_function_output = true;
        assert!(err(&orphan).1.contains("has no producer"));
        let matched = field("text", DataType::VarChar, &[("enable_match", "true")]);
        assert!(err(&schema(matched, vec![]))
            .1
            .contains("not enable analyzer"));
        let bad_params = field(
            "text",
            DataType::VarChar,
            &[
                ("enable_analyzer", "true"),
                ("analyzer_params", r#"{"type": "klingon"}"#),
            ],
        );
        assert!(err(&schema(bad_params, vec![]))
            .1
            .contains("unknown analyzer type"));
        let multi_match = field(
            "text",
            DataType::VarChar,
            &[
                ("enable_analyzer", "true"),
                ("enable_match", "true"),
                (
                    "multi_analyzer_params",
                    r#"{"analyzers": {"default": {}}, "by_field": "lang"}"#,
                ),
            ],
        );
        assert!(err(&schema(multi_match, vec![]))
            .1
            .contains("only support for bm25"));
        let by_int = field(
            "text",
            DataType::VarChar,
            &[
                ("enable_analyzer", "true"),
                (
                    "multi_analyzer_params",
                    r#"{"analyzers": {"default": {}}, "by_field": "id"}"#,
                ),
            ],
        );
        assert!(err(&schema(by_int, vec![])).1.contains("not string"));
        let on_int = field("n", DataType::Int64, &[("enable_analyzer", "true")]);
        let mut s = schema(analyzed, vec![]);
        s.fields.push(on_int);
        assert!(err(&s).1.contains("applies to VARCHAR"));
    }
}
