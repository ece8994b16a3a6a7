//! The `jieba` tokenizer: jieba-rs with jieba's default dictionary (compiled into the binary) and its HMM for
//! words the dictionary lacks. Options, as Milvus documents them: `dict` (a list of words; `"_default_"` in it
//! keeps the default dictionary, without it the dictionary is only those words), `mode` (`"search"`, the default,
//! also emits the dictionary words inside longer words; `"exact"` does not) and `hmm` (default true).
//!
//! Like jieba, it keeps every piece of the text: punctuation and whitespace come out as tokens of their own (the
//! chinese analyzer's cnalphanumonly filter drops them).

use std::fmt;
use std::sync::{Arc, OnceLock};

use jieba_rs::{Jieba, TokenizeMode};
use serde_json::{Map, Value};

use super::params::{check_keys, describe};
use super::Token;
use crate::error::{Error, Result};

const DEFAULT_DICT: &str = "_default_";

pub(super) struct JiebaTokenizer {
    jieba: Arc<Jieba>,
    mode: TokenizeMode,
    hmm: bool,
}

/// Loading the default dictionary takes a while (hundreds of thousands of words); every analyzer that uses it
/// shares this one copy.
fn default_dictionary() -> Arc<Jieba> {
    static DEFAULT: OnceLock<Arc<Jieba>> = OnceLock::new();
    DEFAULT.get_or_init(|| Arc::new(Jieba::new())).clone()
}

impl Default for JiebaTokenizer {
    fn default() -> JiebaTokenizer {
        JiebaTokenizer {
            jieba: default_dictionary(),
            mode: TokenizeMode::Search,
            hmm: true,
        }
    }
}

impl fmt::Debug for JiebaTokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiebaTokenizer")
            .field("mode", &self.mode)
            .field("hmm", &self.hmm)
            .finish_non_exhaustive()
    }
}

impl JiebaTokenizer {
    pub(super) fn from_params(map: &Map<String, Value>) -> Result<JiebaTokenizer> {
        check_keys(map, &["type", "dict", "mode", "hmm"], "the jieba tokenizer")?;
        let mode = match map.get("mode") {
            None => TokenizeMode::Search,
            Some(Value::String(mode)) if mode == "search" => TokenizeMode::Search,
            Some(Value::String(mode)) if mode == "exact" => TokenizeMode::Default,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "jieba \"mode\" must be \"search\" or \"exact\", got {other}"
                )))
            }
        };
        let hmm = match map.get("hmm") {
            None => true,
            Some(Value::Bool(hmm)) => *hmm,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "jieba \"hmm\" must be true or false, got {}",
                    describe(other)
                )))
            }
        };
        let jieba = match map.get("dict") {
            None => default_dictionary(),
            Some(dict) => Arc::new(dictionary(dict)?),
        };
        Ok(JiebaTokenizer { jieba, mode, hmm })
    }

    pub(super) fn tokens(&self, text: &str) -> Vec<Token> {
        // jieba counts characters; tokens carry byte offsets, so map character index -> byte offset.
        let mut byte_at: Vec<usize> = text.char_indices().map(|(offset, _)| offset).collect();
        byte_at.push(text.len());
        self.jieba
            .tokenize(text, self.mode, self.hmm)
            .into_iter()
            .map(|token| Token {
                text: token.word.to_owned(),
                start: byte_at[token.start],
                end: byte_at[token.end],
                position: token.start,
                position_length: token.end - token.start,
            })
            .collect()
    }
}

/// The `dict` option: the default dictionary only if `"_default_"` is listed, plus the other words listed.
fn dictionary(dict: &Value) -> Result<Jieba> {
    let entries = dict.as_array().ok_or_else(|| {
        Error::invalid(format!(
            "jieba \"dict\" must be a list of words (\"{DEFAULT_DICT}\" for the default dictionary), got {}",
            describe(dict)
        ))
    })?;
    let mut words = Vec::new();
    let mut with_default = false;
    for entry in entries {
        match entry.as_str() {
            Some(DEFAULT_DICT) if with_default => {
                return Err(Error::invalid(format!("jieba \"dict\" lists {DEFAULT_DICT:?} twice")))
            }
            Some(DEFAULT_DICT) => with_default = true,
            Some("_extend_default_") => {
                return Err(Error::invalid(
                    "jieba dictionary \"_extend_default_\" (jieba's large dictionary) is not supported; use \
                     \"_default_\" and list the extra words in \"dict\"",
                ))
            }
            // jieba cannot hold an empty word; Milvus skips it too.
            Some("") => {}
            Some(word) => words.push(word),
            None => {
                return Err(Error::invalid(format!(
                    "jieba \"dict\" must be a list of words, but holds {}",
                    describe(entry)
                )))
            }
        }
    }
    let mut jieba = if with_default {
        Jieba::clone(&default_dictionary())
    } else {
        Jieba::empty()
    };
    for word in words {
        jieba.add_word(word, None, None);
    }
    Ok(jieba)
}
