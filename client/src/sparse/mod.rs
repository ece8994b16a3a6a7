//! SPARSE_FLOAT_VECTOR fields and BM25 full-text search: the vector type, a part's column, and the
//! inverted index section that serves sparse inner product and BM25 top-k searches in place.
//!
//! No I/O. The writer encodes a part's rows with [`encode_column`] and builds the index over them
//! with [`build_index`]; both are sections of the part. Every reader wraps the mapped bytes
//! ([`SparseColumnView::wrap`], [`SparseIndexView::wrap`], O(1)) and searches in place; the search
//! checks what it reads, so damaged bytes are `Error::Corrupt`, never a panic. For BM25, each part's
//! index gives its corpus statistics ([`SparseIndexView::stats_for`]); the statistics of a part's
//! deleted rows are a [`Bm25Stats`] section the deleting commit writes; the collection's are the
//! sum over parts minus the deleted ([`Bm25Stats::add`], [`Bm25Stats::subtract`]).
//! docs/sparse.md gives the byte layouts, the search algorithm and its exactness argument.
//!
//! A search, in the engine's order:
//!
//! 1. validate a user's query ([`SparseVector::from_pairs`]); for BM25 analyze the text into term
//!    frequencies ([`term_frequencies`] of `text::term_id`s) and weigh them with the collection's
//!    statistics ([`Bm25Stats::weigh_query`]);
//! 2. drop small terms once for the whole query ([`drop_small_terms`], `drop_ratio_search`);
//! 3. per part, [`SparseIndexView::search`] with [`Scoring::Ip`] or [`Scoring::bm25`] (the
//!    collection's mean length) and the part's deletion bitmap and filter; merge the parts' hits by
//!    score. Hits are rows scoring above 0, best first.

mod bm25;
pub(crate) mod bytes;
mod column;
mod index;
mod query;
mod search;
mod vector;

pub use bm25::{avgdl, doc_len, idf, term_factor, Bm25Params, Bm25Stats, Bm25StatsView};
pub use column::{encode_column, SparseColumnView};
pub use index::{build_index, SparseIndexView, SparseMetric, BLOCK};
pub use query::{drop_small_terms, Scoring};
pub use vector::{term_frequencies, SparseRef, SparseVector, MAX_INDEX};
