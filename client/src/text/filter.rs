//! Token filters, each as Milvus defines it (tantivy's filters, or Milvus's own cn*/removepunct/regex ones).
//! Filters without options are named by a string (`"lowercase"`); the others are objects with `"type"`.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use regex_syntax::hir::{Class, HirKind};
use rust_stemmers::{Algorithm, Stemmer};
use serde_json::{Map, Value};

use super::params::{check_keys, describe, string_list, type_name};
use super::stop_words::{self, StopWords};
use super::Token;
use crate::error::{Error, Result};

const PLAIN: &str =
    "lowercase, asciifolding, alphanumonly, cncharonly, cnalphanumonly, removepunct";
const WITH_OPTIONS: &str = "length, stop, stemmer, regex, decompounder";

pub(super) enum Filter {
    /// Unicode lowercase, character by character (as tantivy's LowerCaser: no final-sigma rule).
    Lowercase,
    /// Lucene's ASCII folding: "café" -> "cafe", "straße" -> "strasse".
    AsciiFolding,
    /// Keeps tokens made only of ASCII letters and digits.
    AlphaNumOnly,
    /// Keeps tokens that contain a Han character (Milvus tests `\p{Han}+` unanchored).
    CnCharOnly,
    /// Keeps tokens that contain a Han character or an ASCII letter or digit.
    CnAlphaNumOnly,
    /// Drops tokens that contain punctuation (Unicode category P) or whitespace.
    RemovePunct,
    /// Drops tokens longer than `max` bytes of UTF-8 (tantivy's RemoveLongFilter counts bytes).
    Length {
        max: usize,
    },
    Stop(StopWords),
    Stemmer {
        language: &'static str,
        stemmer: Stemmer,
    },
    /// Keeps tokens in which the pattern matches somewhere.
    Regex(fancy_regex::Regex),
    /// Splits a token that is a sequence of listed words into those words (longest word first at each point);
    /// a token that is not such a sequence stays whole.
    Decompounder {
        words: HashSet<String>,
        longest: usize,
    },
}

const STEMMERS: [(&str, Algorithm); 18] = [
    ("arabic", Algorithm::Arabic),
    ("danish", Algorithm::Danish),
    ("dutch", Algorithm::Dutch),
    ("english", Algorithm::English),
    ("finnish", Algorithm::Finnish),
    ("french", Algorithm::French),
    ("german", Algorithm::German),
    ("greek", Algorithm::Greek),
    ("hungarian", Algorithm::Hungarian),
    ("italian", Algorithm::Italian),
    ("norwegian", Algorithm::Norwegian),
    ("portuguese", Algorithm::Portuguese),
    ("romanian", Algorithm::Romanian),
    ("russian", Algorithm::Russian),
    ("spanish", Algorithm::Spanish),
    ("swedish", Algorithm::Swedish),
    ("tamil", Algorithm::Tamil),
    ("turkish", Algorithm::Turkish),
];

impl Filter {
    pub(super) fn parse_list(value: &Value) -> Result<Vec<Filter>> {
        let items = value.as_array().ok_or_else(|| {
            Error::invalid(format!(
                "\"filter\" must be a list, got {}",
                describe(value)
            ))
        })?;
        items.iter().map(Filter::from_params).collect()
    }

    fn from_params(value: &Value) -> Result<Filter> {
        match value {
            Value::String(name) => Filter::plain(name),
            Value::Object(map) => Filter::with_options(map),
            other => Err(Error::invalid(format!(
                "a filter is a name or an object with \"type\", got {}",
                describe(other)
            ))),
        }
    }

    fn plain(name: &str) -> Result<Filter> {
        Ok(match name {
            "lowercase" => Filter::Lowercase,
            "asciifolding" => Filter::AsciiFolding,
            "alphanumonly" => Filter::AlphaNumOnly,
            "cncharonly" => Filter::CnCharOnly,
            "cnalphanumonly" => Filter::CnAlphaNumOnly,
            "removepunct" => Filter::RemovePunct,
            "length" | "stop" | "stemmer" | "regex" | "decompounder" => {
                return Err(Error::invalid(format!(
                    "filter {name:?} needs options: write it as {{\"type\": {name:?}, ...}}"
                )))
            }
            other => return Err(unknown(other)),
        })
    }

    fn with_options(map: &Map<String, Value>) -> Result<Filter> {
        let name = type_name(map, "filter", WITH_OPTIONS)?;
        let what = format!("the {name} filter");
        match name {
            "length" => {
                check_keys(map, &["type", "max"], &what)?;
                let max = map.get("max").and_then(Value::as_u64).ok_or_else(|| {
                    Error::invalid("the length filter needs \"max\", a whole number of bytes")
                })?;
                Ok(Filter::Length {
                    max: usize::try_from(max).unwrap_or(usize::MAX),
                })
            }
            "stop" => {
                check_keys(map, &["type", "stop_words"], &what)?;
                let words = map.get("stop_words").ok_or_else(|| {
                    Error::invalid(
                        "the stop filter needs \"stop_words\", e.g. [\"_english_\", \"of\"]",
                    )
                })?;
                Ok(Filter::Stop(stop_words::parse(
                    words,
                    "stop filter stop_words",
                )?))
            }
            "stemmer" => {
                check_keys(map, &["type", "language"], &what)?;
                let language = map.get("language").and_then(Value::as_str).unwrap_or("");
                Filter::stemmer(language)
            }
            "regex" => {
                check_keys(map, &["type", "expr"], &what)?;
                let expr = map.get("expr").and_then(Value::as_str).ok_or_else(|| {
                    Error::invalid("the regex filter needs \"expr\", a regular expression")
                })?;
                let regex = fancy_regex::Regex::new(expr).map_err(|e| {
                    Error::invalid(format!(
                        "regex filter expr {expr:?} is not a valid regular expression: {e}"
                    ))
                })?;
                Ok(Filter::Regex(regex))
            }
            "decompounder" => {
                check_keys(map, &["type", "word_list"], &what)?;
                let list = map.get("word_list").ok_or_else(|| {
                    Error::invalid("the decompounder filter needs \"word_list\", the words compounds are made of")
                })?;
                let words: HashSet<String> = string_list(list, "decompounder word_list")?
                    .into_iter()
                    .collect();
                if words.is_empty() || words.contains("") {
                    return Err(Error::invalid(
                        "decompounder word_list must hold at least one word, and no empty word",
                    ));
                }
                let longest = words.iter().map(String::len).max().unwrap_or(0);
                Ok(Filter::Decompounder { words, longest })
            }
            "lowercase" | "asciifolding" | "alphanumonly" | "cncharonly" | "cnalphanumonly"
            | "removepunct" => Err(Error::invalid(format!(
                "filter {name:?} takes no options: write it as the string {name:?}"
            ))),
            other => Err(unknown(other)),
        }
    }

    /// The stemmer of the english analyzer.
    pub(super) fn english_stemmer() -> Filter {
        Filter::Stemmer {
            language: "english",
            stemmer: Stemmer::create(Algorithm::English),
        }
    }

    fn stemmer(language: &str) -> Result<Filter> {
        let wanted = language.to_lowercase();
        let (language, algorithm) = STEMMERS
            .iter()
            .find(|(name, _)| *name == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = STEMMERS.iter().map(|(name, _)| *name).collect();
                Error::invalid(format!(
                    "the stemmer filter needs \"language\", one of: {}; got {language:?}",
                    names.join(", ")
                ))
            })?;
        Ok(Filter::Stemmer {
            language,
            stemmer: Stemmer::create(*algorithm),
        })
    }

    pub(super) fn apply(&self, tokens: &mut Vec<Token>) {
        match self {
            Filter::Lowercase => tokens
                .iter_mut()
                .for_each(|token| lowercase(&mut token.text)),
            Filter::AsciiFolding => tokens.iter_mut().for_each(|token| {
                if !token.text.is_ascii() {
                    token.text = asciifolding::fold_to_ascii(&token.text);
                }
            }),
            Filter::AlphaNumOnly => {
                tokens.retain(|token| token.text.bytes().all(|b| b.is_ascii_alphanumeric()))
            }
            Filter::CnCharOnly => {
                tokens.retain(|token| token.text.chars().any(|c| han().contains(c)))
            }
            Filter::CnAlphaNumOnly => tokens.retain(|token| {
                token
                    .text
                    .chars()
                    .any(|c| c.is_ascii_alphanumeric() || han().contains(c))
            }),
            Filter::RemovePunct => tokens.retain(|token| {
                !token
                    .text
                    .chars()
                    .any(|c| punctuation_or_space().contains(c))
            }),
            Filter::Length { max } => tokens.retain(|token| token.text.len() <= *max),
            Filter::Stop(words) => tokens.retain(|token| !words.contains(&token.text)),
            Filter::Stemmer { stemmer, .. } => tokens.iter_mut().for_each(|token| {
                if let std::borrow::Cow::Owned(stem) = stemmer.stem(&token.text) {
                    token.text = stem;
                }
            }),
            // A match that gives up (backtracking limit) keeps the token, as in Milvus.
            Filter::Regex(regex) => {
                tokens.retain(|token| regex.is_match(&token.text).unwrap_or(true))
            }
            Filter::Decompounder { words, longest } => {
                *tokens = std::mem::take(tokens)
                    .into_iter()
                    .flat_map(|token| decompound(token, words, *longest))
                    .collect();
            }
        }
    }
}

fn unknown(name: &str) -> Error {
    Error::invalid(format!(
        "filter {name:?} is not supported; the filters are: {PLAIN}, and with options: {WITH_OPTIONS}"
    ))
}

fn lowercase(text: &mut String) {
    if text.is_ascii() {
        text.make_ascii_lowercase();
    } else {
        *text = text.chars().flat_map(char::to_lowercase).collect();
    }
}

/// A set of characters, as sorted inclusive ranges.
struct CharClass(Vec<(char, char)>);

impl CharClass {
    /// The characters a one-class regex (`\p{Han}`) matches, from the regex crate's Unicode tables.
    fn of(pattern: &str) -> CharClass {
        let hir = regex_syntax::parse(pattern).expect("a valid pattern");
        match hir.kind() {
            HirKind::Class(Class::Unicode(class)) => CharClass(
                class
                    .ranges()
                    .iter()
                    .map(|r| (r.start(), r.end()))
                    .collect(),
            ),
            other => unreachable!("{pattern} is not a Unicode class: {other:?}"),
        }
    }

    fn contains(&self, c: char) -> bool {
        let after = self.0.partition_point(|&(start, _)| start <= c);
        after > 0 && c <= self.0[after - 1].1
    }
}

fn han() -> &'static CharClass {
    static HAN: OnceLock<CharClass> = OnceLock::new();
    HAN.get_or_init(|| CharClass::of(r"\p{Han}"))
}

fn punctuation_or_space() -> &'static CharClass {
    static PUNCT: OnceLock<CharClass> = OnceLock::new();
    PUNCT.get_or_init(|| CharClass::of(r"[\p{Punct}\s]"))
}

/// The pieces of `token` if it is a sequence of `words` (taking the longest word at each point), else `token`.
/// The pieces keep the token's offsets and position.
fn decompound(token: Token, words: &HashSet<String>, longest: usize) -> Vec<Token> {
    let text = token.text.as_str();
    let mut cuts = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let limit = text.len().min(at + longest);
        let next = (at + 1..=limit)
            .rev()
            .find(|&end| text.is_char_boundary(end) && words.contains(&text[at..end]));
        match next {
            Some(end) => {
                cuts.push((at, end));
                at = end;
            }
            None => return vec![token],
        }
    }
    if cuts.len() < 2 {
        return vec![token];
    }
    cuts.into_iter()
        .map(|(from, to)| Token {
            text: text[from..to].to_owned(),
            ..token.clone()
        })
        .collect()
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Lowercase => f.write_str("Lowercase"),
            Filter::AsciiFolding => f.write_str("AsciiFolding"),
            Filter::AlphaNumOnly => f.write_str("AlphaNumOnly"),
            Filter::CnCharOnly => f.write_str("CnCharOnly"),
            Filter::CnAlphaNumOnly => f.write_str("CnAlphaNumOnly"),
            Filter::RemovePunct => f.write_str("RemovePunct"),
            Filter::Length { max } => write!(f, "Length {{ max: {max} }}"),
            Filter::Stop(words) => write!(f, "Stop({} words)", words.len()),
            Filter::Stemmer { language, .. } => write!(f, "Stemmer({language})"),
            Filter::Regex(regex) => write!(f, "Regex({:?})", regex.as_str()),
            Filter::Decompounder { words, .. } => write!(f, "Decompounder({} words)", words.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_class_holds_exactly_its_ranges() {
        for class in [han(), punctuation_or_space()] {
            let inside = |c: char| class.0.iter().any(|&(start, end)| start <= c && c <= end);
            for &(start, end) in &class.0 {
                assert!(class.contains(start) && class.contains(end));
                for c in [
                    char::from_u32(start as u32 - 1),
                    char::from_u32(end as u32 + 1),
                ]
                .into_iter()
                .flatten()
                {
                    assert_eq!(class.contains(c), inside(c), "{c:?}");
                }
            }
            assert!(!class.contains('a') && !class.contains('\0'));
        }
        assert!(han().contains('中') && han().contains('〇') && !han().contains('。'));
        assert!(
            punctuation_or_space().contains('。') && punctuation_or_space().contains('\u{3000}')
        );
        assert!(!punctuation_or_space().contains('$') && !punctuation_or_space().contains('+'));
    }
}
