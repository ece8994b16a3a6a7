//! Tokenizers: `standard` (runs of alphanumeric characters), `whitespace` (runs between ASCII whitespace) and
//! `jieba` (Chinese dictionary segmentation). The first two cut exactly as tantivy's SimpleTokenizer and
//! WhitespaceTokenizer, which Milvus runs for these names.

use serde_json::Value;

use super::jieba::JiebaTokenizer;
use super::params::{check_keys, describe, type_name};
use super::Token;
use crate::error::{Error, Result};

const SUPPORTED: &str = "standard, whitespace, jieba";

#[derive(Debug)]
pub(super) enum Tokenizer {
    Standard,
    Whitespace,
    Jieba(JiebaTokenizer),
}

impl Tokenizer {
    /// `"name"` or `{"type": "name", options...}`.
    pub(super) fn from_params(value: &Value) -> Result<Tokenizer> {
        let (name, options) = match value {
            Value::String(name) => (name.as_str(), None),
            Value::Object(map) => (type_name(map, "tokenizer", SUPPORTED)?, Some(map)),
            other => {
                return Err(Error::invalid(format!(
                    "\"tokenizer\" must be a name or an object with \"type\", got {}",
                    describe(other)
                )))
            }
        };
        match name {
            "standard" | "whitespace" => {
                if let Some(map) = options {
                    check_keys(map, &["type"], &format!("the {name} tokenizer"))?;
                }
                Ok(if name == "standard" {
                    Tokenizer::Standard
                } else {
                    Tokenizer::Whitespace
                })
            }
            "jieba" => Ok(Tokenizer::Jieba(match options {
                Some(map) => JiebaTokenizer::from_params(map)?,
                None => JiebaTokenizer::default(),
            })),
            other => Err(Error::invalid(format!(
                "tokenizer {other:?} is not supported; the tokenizers are: {SUPPORTED}"
            ))),
        }
    }

    /// The tokenizer of the built-in chinese analyzer: jieba, default dictionary, search mode, HMM on.
    pub(super) fn default_jieba() -> Tokenizer {
        Tokenizer::Jieba(JiebaTokenizer::default())
    }

    pub(super) fn tokens(&self, text: &str) -> Vec<Token> {
        match self {
            Tokenizer::Standard => runs(text, char::is_alphanumeric),
            Tokenizer::Whitespace => runs(text, |c| !c.is_ascii_whitespace()),
            Tokenizer::Jieba(jieba) => jieba.tokens(text),
        }
    }
}

/// Each maximal run of characters for which `in_token` holds, numbered 0, 1, 2, ...
fn runs(text: &str, in_token: impl Fn(char) -> bool) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (offset, c) in text.char_indices() {
        match (start, in_token(c)) {
            (None, true) => start = Some(offset),
            (Some(from), false) => {
                tokens.push(run_token(text, from, offset, tokens.len()));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        tokens.push(run_token(text, from, text.len(), tokens.len()));
    }
    tokens
}

fn run_token(text: &str, start: usize, end: usize, position: usize) -> Token {
    Token {
        text: text[start..end].to_owned(),
        start,
        end,
        position,
        position_length: 1,
    }
}
