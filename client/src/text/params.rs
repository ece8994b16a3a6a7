//! Reading `analyzer_params`: the built-in analyzers, the custom-analyzer frame, and the JSON helpers the
//! tokenizer, filter and multi-analyzer parsers share. Every refusal is `Error::invalid` (code 6, as Milvus Lite
//! reports a bad schema) and names what exists.

use serde_json::{Map, Value};

use super::filter::Filter;
use super::tokenizer::Tokenizer;
use super::{stop_words, Analyzer};
use crate::error::{Error, Result};

pub(super) fn analyzer(params: &Value) -> Result<Analyzer> {
    let map = object(params, "analyzer_params")?;
    if map.is_empty() {
        return Ok(Analyzer::standard());
    }
    match map.get("type") {
        Some(kind) => built_in(kind, map),
        None => custom(map),
    }
}

/// `{"type": ..., "stop_words": [...]}`: the pipelines Milvus documents for its three built-in analyzers. Extra
/// stop words run as one more stop filter at the end, as in Milvus.
fn built_in(kind: &Value, map: &Map<String, Value>) -> Result<Analyzer> {
    let kind = kind.as_str().ok_or_else(|| {
        Error::invalid(format!(
            "analyzer \"type\" must be a string, got {}",
            describe(kind)
        ))
    })?;
    let (tokenizer, mut filters) = match kind {
        "standard" => (Tokenizer::Standard, vec![Filter::Lowercase]),
        "english" => (
            Tokenizer::Standard,
            vec![
                Filter::Lowercase,
                Filter::english_stemmer(),
                Filter::Stop(stop_words::english()),
            ],
        ),
        "chinese" => (Tokenizer::default_jieba(), vec![Filter::CnAlphaNumOnly]),
        other => {
            return Err(Error::invalid(format!(
                "unknown analyzer type {other:?}: the built-in analyzers are \"standard\", \"english\" and \
                 \"chinese\"; a custom analyzer gives \"tokenizer\" (standard, whitespace or jieba) and \"filter\" \
                 instead of \"type\""
            )))
        }
    };
    check_keys(
        map,
        &["type", "stop_words"],
        &format!("the {kind} analyzer"),
    )?;
    if let Some(words) = map.get("stop_words") {
        let words = stop_words::parse(words, "analyzer stop_words")?;
        if !words.is_empty() {
            filters.push(Filter::Stop(words));
        }
    }
    Ok(Analyzer::new(tokenizer, filters))
}

/// `{"tokenizer": ..., "filter": [...]}`.
fn custom(map: &Map<String, Value>) -> Result<Analyzer> {
    check_keys(map, &["tokenizer", "filter"], "a custom analyzer")?;
    let tokenizer = map.get("tokenizer").ok_or_else(|| {
        Error::invalid(
            "analyzer_params needs \"type\" (a built-in analyzer: standard, english, chinese) or \"tokenizer\" \
             (a custom analyzer: standard, whitespace, jieba)",
        )
    })?;
    let tokenizer = Tokenizer::from_params(tokenizer)?;
    let filters = match map.get("filter") {
        Some(list) => Filter::parse_list(list)?,
        None => Vec::new(),
    };
    Ok(Analyzer::new(tokenizer, filters))
}

pub(super) fn parse_json(text: &str, what: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::invalid(format!("{what} is not valid JSON: {e}")))
}

pub(super) fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| {
        Error::invalid(format!(
            "{what} must be a JSON object, got {}",
            describe(value)
        ))
    })
}

/// Refuses a key outside `allowed`, naming the ones that exist.
pub(super) fn check_keys(map: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<()> {
    match map.keys().find(|key| !allowed.contains(&key.as_str())) {
        None => Ok(()),
        Some(key) => Err(Error::invalid(format!(
            "unknown option {key:?} for {what}; its options are: {}",
            allowed.join(", ")
        ))),
    }
}

/// The `"type"` of a tokenizer or filter given as an object; `what` names it, `choices` lists the types.
pub(super) fn type_name<'a>(
    map: &'a Map<String, Value>,
    what: &str,
    choices: &str,
) -> Result<&'a str> {
    match map.get("type") {
        Some(Value::String(name)) => Ok(name),
        Some(other) => Err(Error::invalid(format!(
            "{what} \"type\" must be a string, got {}",
            describe(other)
        ))),
        None => Err(Error::invalid(format!(
            "a {what} given as an object needs \"type\" ({choices})"
        ))),
    }
}

pub(super) fn string_list(value: &Value, what: &str) -> Result<Vec<String>> {
    let items = value.as_array().ok_or_else(|| {
        Error::invalid(format!(
            "{what} must be a list of strings, got {}",
            describe(value)
        ))
    })?;
    items
        .iter()
        .map(|item| {
            item.as_str().map(str::to_owned).ok_or_else(|| {
                Error::invalid(format!(
                    "{what} must be a list of strings, but holds {}",
                    describe(item)
                ))
            })
        })
        .collect()
}

/// What kind of JSON value this is, for messages.
pub(super) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
