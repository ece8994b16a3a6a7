//! Stop-word lists. A `stop_words` option is a list of words in which `_english_`, `_french_`, ... stand for the
//! built-in list of that language, as in Milvus.
//!
//! The lists are the ones Milvus ships (taken from tantivy): `_english_` is Lucene's 33-word English set, the others
//! are the Snowball project's lists (snowballstem.org; Copyright (c) 2001 Dr Martin Porter, (c) 2004-2019 Richard
//! Boulton, Yoshiki Shibukawa, Olly Betts; BSD 3-clause licence), one word per line in `stop_words/`.

use std::collections::HashSet;

use serde_json::Value;

use super::params::string_list;
use crate::error::{Error, Result};

pub(super) type StopWords = HashSet<String>;

const LISTS: [(&str, &str); 13] = [
    ("_english_", include_str!("stop_words/english.txt")),
    ("_danish_", include_str!("stop_words/danish.txt")),
    ("_dutch_", include_str!("stop_words/dutch.txt")),
    ("_finnish_", include_str!("stop_words/finnish.txt")),
    ("_french_", include_str!("stop_words/french.txt")),
    ("_german_", include_str!("stop_words/german.txt")),
    ("_hungarian_", include_str!("stop_words/hungarian.txt")),
    ("_italian_", include_str!("stop_words/italian.txt")),
    ("_norwegian_", include_str!("stop_words/norwegian.txt")),
    ("_portuguese_", include_str!("stop_words/portuguese.txt")),
    ("_russian_", include_str!("stop_words/russian.txt")),
    ("_spanish_", include_str!("stop_words/spanish.txt")),
    ("_swedish_", include_str!("stop_words/swedish.txt")),
];

/// The `_english_` list, which the english analyzer always removes.
pub(super) fn english() -> StopWords {
    list("_english_").map(str::to_owned).collect()
}

fn list(name: &str) -> impl Iterator<Item = &'static str> + use<'_> {
    LISTS
        .iter()
        .filter(move |(list_name, _)| *list_name == name)
        .flat_map(|(_, words)| words.lines())
}

/// Reads a `stop_words` option. A word shaped like a list name (`_xxx_`) that names no list is refused rather than
/// taken literally (Milvus would keep it as a word): it is almost surely a misspelt list.
pub(super) fn parse(value: &Value, what: &str) -> Result<StopWords> {
    let mut words = StopWords::new();
    for word in string_list(value, what)? {
        if LISTS.iter().any(|(name, _)| *name == word) {
            words.extend(list(&word).map(str::to_owned));
        } else if word.len() > 2 && word.starts_with('_') && word.ends_with('_') {
            let names: Vec<&str> = LISTS.iter().map(|(name, _)| *name).collect();
            return Err(Error::invalid(format!(
                "{what}: no built-in stop-word list {word:?}; the lists are {}",
                names.join(", ")
            )));
        } else {
            words.insert(word);
        }
    }
    Ok(words)
}
