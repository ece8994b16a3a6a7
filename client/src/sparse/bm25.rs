//! BM25 as Milvus computes it, and the corpus statistics it needs.
//!
//! A document is the sparse vector Milvus's BM25 function makes from its text: term id -> term
//! frequency (a whole number). A query is the same function's output for the query text. Its weight
//! for term `t` is `tf_q(t) * idf(t)` (Milvus's `BM25Stats.BuildIDF`), and a document's score is
//!
//! ```text
//! sum over query terms t of  weight(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * (dl / avgdl)))
//! idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
//! ```
//!
//! with `tf` the document's frequency of `t`, `dl` its length (the sum of its frequencies), `N` the
//! number of documents, `df(t)` how many contain `t` and `avgdl` their mean length. The term factor
//! is knowhere's `GetDocValueBM25Computer` in `f32`; `idf` is computed in `f64` and rounded to `f32`,
//! as Milvus does. Milvus Lite 3.2.2 (`index/sparse_inverted.py`) uses the same formula and the same
//! statistics (counting empty documents, length = sum of frequencies, `avgdl` 1 when undefined).
//!
//! [`Bm25Stats`] holds `N`, the total length and `df` exactly, adds and subtracts (inserts, deletes,
//! merges), and serializes to a section (layout in docs/sparse.md) that a reader looks terms up in
//! place ([`Bm25StatsView`]).

use std::collections::BTreeMap;

use super::bytes::{align8, array, check_header, corrupt, put_all, u32_at, u64_at};
use super::vector::{SparseRef, SparseVector};
use crate::error::{Error, Result};

/// `k1` and `b`, as the index parameters `bm25_k1` and `bm25_b` give them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bm25Params {
    pub k1: f32,
    pub b: f32,
}

impl Default for Bm25Params {
    /// Milvus's defaults, k1 = 1.2 and b = 0.75 (Milvus Lite 3.2.2 defaults k1 to 1.5).
    fn default() -> Self {
        Bm25Params { k1: 1.2, b: 0.75 }
    }
}

impl Bm25Params {
    /// Checked as Milvus checks `bm25_k1` (0 to 3) and `bm25_b` (0 to 1), with its messages.
    pub fn new(k1: f64, b: f64) -> Result<Bm25Params> {
        if !(0.0..=3.0).contains(&k1) {
            return Err(Error::invalid(format!(
                "invalid bm25_k1: {k1}, must be in range [0, 3]"
            )));
        }
        if !(0.0..=1.0).contains(&b) {
            return Err(Error::invalid(format!(
                "invalid bm25_b: {b}, must be in range [0, 1]"
            )));
        }
        Ok(Bm25Params {
            k1: k1 as f32,
            b: b as f32,
        })
    }
}

/// The BM25 term factor of a document with frequency `tf` and length `dl` (knowhere's order of
/// operations, in `f32`). Increasing in `tf`, decreasing in `dl`, increasing in `avgdl`.
#[inline(always)]
pub fn term_factor(tf: f32, dl: f32, params: Bm25Params, avgdl: f32) -> f32 {
    let Bm25Params { k1, b } = params;
    tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * (dl / avgdl)))
}

/// `term_factor` in exact-enough `f64`, for upper bounds.
pub(crate) fn term_factor_f64(tf: f64, dl: f64, params: Bm25Params, avgdl: f64) -> f64 {
    let (k1, b) = (f64::from(params.k1), f64::from(params.b));
    tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * (dl / avgdl)))
}

/// Milvus's idf: `ln(1 + (N - df + 0.5) / (df + 0.5))` in `f64`, rounded to `f32`.
pub fn idf(docs: u64, df: u64) -> f32 {
    (1.0 + (docs as f64 - df as f64 + 0.5) / (df as f64 + 0.5)).ln() as f32
}

/// Mean document length; 1 when there are no documents or no terms (Milvus Lite's rule; no
/// document can match then).
pub fn avgdl(docs: u64, total_len: u64) -> f32 {
    if docs == 0 || total_len == 0 {
        1.0
    } else {
        (total_len as f64 / docs as f64) as f32
    }
}

/// A BM25 document's length: the sum of its frequencies. `None` unless every value is a whole number
/// (what the BM25 function writes), so lengths and totals add and subtract exactly.
pub fn doc_len(doc: SparseRef) -> Option<u64> {
    doc.values().iter().try_fold(0u64, |sum, &tf| {
        (tf.fract() == 0.0 && tf >= 0.0 && tf < 2f32.powi(63))
            .then(|| sum.saturating_add(tf as u64))
    })
}

pub(crate) fn not_frequencies(row: impl std::fmt::Display) -> Error {
    Error::invalid(format!(
        "a BM25 document holds term frequencies, whole numbers >= 0, but row {row} has another value; \
         BM25 fields are written by the BM25 function from text"
    ))
}

/// Exact corpus statistics over a set of BM25 documents: their number, total length and, per term,
/// how many contain it (a frequency of 0 does not count). Add the statistics of inserted documents,
/// subtract those of deleted ones, add two sets when parts merge; the order never matters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bm25Stats {
    docs: u64,
    total_len: u64,
    df: BTreeMap<u32, u64>,
}

impl Bm25Stats {
    /// Statistics from a part: `docs`, `total_len` and the `df` of some terms.
    pub(crate) fn from_counts(docs: u64, total_len: u64, df: BTreeMap<u32, u64>) -> Bm25Stats {
        Bm25Stats {
            docs,
            total_len,
            df,
        }
    }

    /// Counts one document. Errors unless its values are term frequencies (whole numbers).
    pub fn add_doc(&mut self, doc: SparseRef) -> Result<()> {
        let len = doc_len(doc).ok_or_else(|| not_frequencies("given"))?;
        self.docs += 1;
        self.total_len += len;
        for (term, tf) in doc.iter() {
            if tf > 0.0 {
                *self.df.entry(term).or_default() += 1;
            }
        }
        Ok(())
    }

    /// Uncounts one document these statistics counted (a delete). Removing one they never counted
    /// is an `Error::Internal` and leaves them unchanged.
    pub fn remove_doc(&mut self, doc: SparseRef) -> Result<()> {
        let mut one = Bm25Stats::default();
        one.add_doc(doc)?;
        self.subtract(&one)
    }

    /// Adds another set (a part's, or an insert's).
    pub fn add(&mut self, other: &Bm25Stats) {
        self.docs += other.docs;
        self.total_len += other.total_len;
        for (&term, &df) in &other.df {
            *self.df.entry(term).or_default() += df;
        }
    }

    /// Removes a set these statistics include (deleted documents). Removing more than they hold is
    /// an `Error::Internal` and leaves them unchanged.
    pub fn subtract(&mut self, other: &Bm25Stats) -> Result<()> {
        let short = other.docs > self.docs
            || other.total_len > self.total_len
            || other.df.iter().any(|(t, &df)| self.df(*t) < df);
        if short {
            return Err(Error::Internal(
                "BM25 statistics: subtracting documents that were never counted".into(),
            ));
        }
        self.docs -= other.docs;
        self.total_len -= other.total_len;
        for (term, &df) in &other.df {
            let left = self.df(*term) - df;
            if left == 0 {
                self.df.remove(term);
            } else {
                self.df.insert(*term, left);
            }
        }
        Ok(())
    }

    pub fn docs(&self) -> u64 {
        self.docs
    }

    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// How many documents contain `term`.
    pub fn df(&self, term: u32) -> u64 {
        self.df.get(&term).copied().unwrap_or(0)
    }

    /// `(term, df)` in ascending term order.
    pub fn terms(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.df.iter().map(|(&t, &df)| (t, df))
    }

    pub fn avgdl(&self) -> f32 {
        avgdl(self.docs, self.total_len)
    }

    /// The query's weights: each term frequency times the term's idf (`f32`), as Milvus sends a BM25
    /// query to its index. `query` holds the analyzed query text's term frequencies.
    pub fn weigh_query(&self, query: SparseRef) -> SparseVector {
        let (indices, values) = query
            .iter()
            .map(|(term, tf)| (term, tf * idf(self.docs, self.df(term))))
            .unzip();
        SparseVector::from_valid(indices, values)
    }

    /// The serialized form (docs/sparse.md, "BM25 statistics").
    pub fn to_bytes(&self) -> Vec<u8> {
        let layout = StatsLayout::new(self.df.len() as u64);
        let mut out = vec![0u8; layout.total as usize];
        out[..8].copy_from_slice(&STATS_MAGIC);
        put_all(&mut out, 8, [STATS_VERSION, 0]);
        put_all(&mut out, 16, [self.docs, self.total_len]);
        put_all(&mut out, 32, [self.df.len() as u32, 0]);
        put_all(&mut out, layout.terms, self.df.keys().copied());
        put_all(&mut out, layout.df, self.df.values().copied());
        out
    }
}

const STATS_MAGIC: [u8; 8] = *b"CVECBM25";
/// Changing the layout breaks databases: raise this and keep reading the old one.
const STATS_VERSION: u32 = 1;
const STATS_HEADER: u64 = 40;
const STATS: &str = "BM25 statistics section";

/// Byte offsets of the statistics arrays.
struct StatsLayout {
    terms: u64,
    df: u64,
    total: u64,
}

impl StatsLayout {
    fn new(terms: u64) -> StatsLayout {
        let df = align8(STATS_HEADER + 4 * terms);
        StatsLayout {
            terms: STATS_HEADER,
            df,
            total: df + 8 * terms,
        }
    }
}

/// Serialized statistics read in place: terms are looked up by binary search.
#[derive(Clone, Copy, Debug)]
pub struct Bm25StatsView<'a> {
    docs: u64,
    total_len: u64,
    terms: &'a [u32],
    df: &'a [u64],
}

impl<'a> Bm25StatsView<'a> {
    /// Checks the header and the array lengths (O(1)); lookups check what they read. `bytes` must
    /// start 8-byte aligned in memory.
    pub fn wrap(bytes: &'a [u8]) -> Result<Bm25StatsView<'a>> {
        check_header(
            bytes,
            STATS,
            (&STATS_MAGIC, STATS_HEADER, STATS_VERSION),
            &[12, 36],
            None,
        )?;
        let count = u64::from(u32_at(bytes, 32));
        let layout = StatsLayout::new(count);
        if layout.total != bytes.len() as u64 {
            return Err(corrupt(
                STATS,
                format!(
                    "the section has {} bytes; its {count} terms need {}",
                    bytes.len(),
                    layout.total
                ),
            ));
        }
        Ok(Bm25StatsView {
            docs: u64_at(bytes, 16),
            total_len: u64_at(bytes, 24),
            terms: array(bytes, layout.terms, count, STATS)?,
            df: array(bytes, layout.df, count, STATS)?,
        })
    }

    /// `wrap` and a check of every term: ascending, each counted by 1 to `docs` documents.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Bm25StatsView<'a>> {
        let view = Bm25StatsView::wrap(bytes)?;
        if view.terms.windows(2).any(|w| w[0] >= w[1]) {
            return Err(corrupt(STATS, "terms are not in ascending order"));
        }
        if view.df.iter().any(|&df| df == 0 || df > view.docs) {
            return Err(corrupt(
                STATS,
                "a term's document count is 0 or exceeds the documents",
            ));
        }
        Ok(view)
    }

    pub fn docs(&self) -> u64 {
        self.docs
    }

    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// How many documents contain `term` (0 when absent). A count above `docs` is `Corrupt`.
    pub fn df(&self, term: u32) -> Result<u64> {
        let df = match self.terms.binary_search(&term) {
            Ok(i) => self.df[i],
            Err(_) => 0,
        };
        if df > self.docs {
            return Err(corrupt(
                STATS,
                format!("term {term} is in {df} of {} documents", self.docs),
            ));
        }
        Ok(df)
    }

    /// These statistics restricted to `terms` (what a query needs), owned.
    pub fn stats_for(&self, terms: &[u32]) -> Result<Bm25Stats> {
        let mut df = BTreeMap::new();
        for &term in terms {
            let n = self.df(term)?;
            if n > 0 {
                df.insert(term, n);
            }
        }
        Ok(Bm25Stats {
            docs: self.docs,
            total_len: self.total_len,
            df,
        })
    }

    /// All of it, owned (to add a commit's deletions to a part's stored ones).
    pub fn to_stats(&self) -> Result<Bm25Stats> {
        self.stats_for(self.terms)
    }
}
