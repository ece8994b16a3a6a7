//! Text analysis for full-text search: Milvus's analyzers, built from the `analyzer_params` JSON a user gives a
//! VARCHAR field (`enable_analyzer=True`), and the term ids BM25 stores.
//!
//! An analyzer is one tokenizer and zero or more filters, in order (docs/text.md lists them and their options).
//! [`Analyzer::from_params`] builds one; [`Analyzer::tokens`] runs it. [`MultiAnalyzer`] picks an analyzer per row
//! from a language field (`multi_analyzer_params`). [`term_id`] maps a token to the u32 id a sparse vector stores.
//! Nothing here does I/O: dictionaries and stop-word lists are compiled in.

mod filter;
mod jieba;
mod match_index;
mod multi;
mod params;
mod stop_words;
mod tokenizer;

use std::sync::Arc;

use serde_json::Value;

use crate::error::Result;
use filter::Filter;
use tokenizer::Tokenizer;

pub use match_index::{MatchIndexBuilder, MatchIndexView, MatchQuery};
pub use multi::MultiAnalyzer;

/// One token of analyzed text.
///
/// `start..end` is the byte range of the text the token came from; filters change `text` (lowercase, stem, fold)
/// but never the range, so `&input[start..end]` is always the original spelling. `position` is what phrase
/// matching counts: the standard and whitespace tokenizers number tokens 0, 1, 2, ...; jieba gives a token the
/// index of its first character, so search-mode tokens that overlap share positions (Milvus does the same).
/// Filters that drop tokens leave gaps in positions rather than renumbering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub position: usize,
    /// How many positions the token spans: 1, or a jieba token's length in characters.
    pub position_length: usize,
}

/// A tokenizer and its filters. Cheap to clone (shared), and `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Analyzer {
    pipeline: Arc<Pipeline>,
}

#[derive(Debug)]
struct Pipeline {
    tokenizer: Tokenizer,
    filters: Vec<Filter>,
}

impl Analyzer {
    /// The analyzer Milvus applies when a field gives no `analyzer_params`: `{"type": "standard"}`.
    pub fn standard() -> Analyzer {
        Analyzer::new(Tokenizer::Standard, vec![Filter::Lowercase])
    }

    /// Builds an analyzer from `analyzer_params`: `{"type": "standard" | "english" | "chinese", ...}` for a
    /// built-in one, `{"tokenizer": ..., "filter": [...]}` for a custom one, `{}` for the standard one. An unknown
    /// name or option is an error that says what exists (code 6); nothing is silently ignored.
    pub fn from_params(params: &Value) -> Result<Analyzer> {
        params::analyzer(params)
    }

    /// [`Analyzer::from_params`] over the JSON text of the params (as the catalog keeps them).
    pub fn from_json(params: &str) -> Result<Analyzer> {
        Analyzer::from_params(&params::parse_json(params, "analyzer_params")?)
    }

    fn new(tokenizer: Tokenizer, filters: Vec<Filter>) -> Analyzer {
        Analyzer {
            pipeline: Arc::new(Pipeline { tokenizer, filters }),
        }
    }

    /// The tokens of `text`, in the order the tokenizer produced them.
    pub fn tokens(&self, text: &str) -> Vec<Token> {
        let mut tokens = self.pipeline.tokenizer.tokens(text);
        for filter in &self.pipeline.filters {
            filter.apply(&mut tokens);
        }
        tokens
    }
}

impl Default for Analyzer {
    fn default() -> Analyzer {
        Analyzer::standard()
    }
}

/// How many leading bytes of a token `term_id` hashes (the Milvus server's `substringLengthForCRC`).
pub const TERM_ID_PREFIX: usize = 100;

/// The id BM25 stores for a token, as the Milvus server computes it (`typeutil.HashString2LessUint32`): CRC-32
/// (IEEE) of the token's first 100 UTF-8 bytes (a cut may fall inside a character), modulo 2^32 - 1, so the id
/// is never `u32::MAX` (which sparse vectors reserve). Frozen: sparse vectors on disk hold these ids, so changing
/// the function would silently break every stored BM25 field. Milvus Lite hashes with FNV-1a instead; docs/text.md.
pub fn term_id(token: &str) -> u32 {
    let bytes = token.as_bytes();
    let crc = crc32fast::hash(&bytes[..bytes.len().min(TERM_ID_PREFIX)]);
    crc % u32::MAX
}
