//! What a search scores with: the metric's scoring rule and Milvus's `drop_ratio_search`.

use super::bm25::{term_factor, Bm25Params};
use super::vector::{SparseRef, SparseVector};
use crate::error::{Error, Result};

/// How a document's values score against a query's weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scoring {
    /// Inner product: the sum of `query value * document value` over shared dimensions.
    Ip,
    /// BM25 over term frequencies; the query's values are its BM25 weights
    /// ([`Bm25Stats::weigh_query`](super::Bm25Stats::weigh_query)) and `avgdl` the corpus's mean
    /// document length ([`Bm25Stats::avgdl`](super::Bm25Stats::avgdl)).
    Bm25 { params: Bm25Params, avgdl: f32 },
}

impl Scoring {
    /// BM25 scoring; `avgdl` must be a finite number above 0.
    pub fn bm25(params: Bm25Params, avgdl: f32) -> Result<Scoring> {
        if !(avgdl.is_finite() && avgdl > 0.0) {
            return Err(Error::invalid(format!(
                "BM25 needs the corpus's mean document length, a number above 0; got {avgdl}"
            )));
        }
        Ok(Scoring::Bm25 { params, avgdl })
    }

    /// One query term's contribution: its weight times the document's value (IP) or term factor
    /// (BM25, with the document's length `dl`). Every search sums these per document in the
    /// query's term order, so all of them report bit-identical scores.
    #[inline(always)]
    pub(crate) fn contribution(&self, weight: f32, value: f32, dl: f32) -> f32 {
        match *self {
            Scoring::Ip => weight * value,
            Scoring::Bm25 { params, avgdl } => weight * term_factor(value, dl, params, avgdl),
        }
    }

    /// The score of one stored row (for scans of a few rows, and as the reference the index's
    /// searches agree with bit for bit): contributions summed in the query's term order. For BM25
    /// the row's length is the sum of its values.
    pub fn score(&self, query: SparseRef, row: SparseRef) -> f32 {
        let dl = match self {
            Scoring::Ip => 0.0,
            Scoring::Bm25 { .. } => row.values().iter().map(|&v| f64::from(v)).sum::<f64>() as f32,
        };
        let (rows, values) = (row.indices(), row.values());
        let mut at = 0;
        let mut score = 0.0f32;
        for (term, weight) in query.iter() {
            // Both are ascending when valid; a row that is not only scores lower, never panics.
            while at < rows.len() && rows[at] < term {
                at += 1;
            }
            if at < rows.len() && rows[at] == term {
                score += self.contribution(weight, values[at], dl);
            }
        }
        score
    }
}

/// Milvus's `drop_ratio_search` as knowhere applies it: with `m` query terms, `floor(ratio * m)`
/// is how many to drop; if that is at least one, the weight at that position of the ascending
/// absolute weights is the threshold and every term whose absolute weight is below it is dropped
/// (ties with the threshold stay). Checked to lie in `[0, 1)`. For BM25 it applies to the weighted
/// query, as Milvus applies it after `BuildIDF`.
pub fn drop_small_terms(query: &SparseVector, drop_ratio: f32) -> Result<SparseVector> {
    if !(0.0..1.0).contains(&drop_ratio) {
        return Err(Error::invalid(format!(
            "invalid drop_ratio_search: {drop_ratio}, must be in range [0, 1)"
        )));
    }
    // knowhere multiplies in f32 and truncates; rounding may reach `len` for huge queries.
    let drop = ((drop_ratio * query.len() as f32) as usize).min(query.len().saturating_sub(1));
    if drop == 0 {
        return Ok(query.clone());
    }
    let mut magnitudes: Vec<f32> = query.values().iter().map(|v| v.abs()).collect();
    let (_, &mut threshold, _) = magnitudes.select_nth_unstable_by(drop, f32::total_cmp);
    Ok(query.clone().retain(|_, v| v.abs() >= threshold))
}
