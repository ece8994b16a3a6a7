//! Every distance the index computes goes through `Space`, which scores rows of any dense element
//! type in place with the runtime-dispatched SIMD kernels (`crate::dense`); SQ8 codes go through
//! the int8 kernel set's SQ8 kernels (`Sq8Query`).

use crate::dense::{DenseQuery, DenseRows};
use crate::kernels::{dispatched_i8, dot, I8Kernels};
use crate::schema::Metric;

/// Internal score, smaller is better for every metric: squared L2, or the negated inner product
/// (COSINE is the inner product of unit vectors; see the module docs of `hnsw`). Graphs are built over
/// float vectors only, whose indexes take L2, IP or COSINE (`Metric::accepts`); the binary and sparse
/// metrics go with the one of their direction.
#[cfg(test)]
pub(crate) fn score(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 | Metric::Hamming | Metric::Jaccard => crate::kernels::l2_squared(a, b),
        Metric::Ip | Metric::Cosine | Metric::Bm25 => -dot(a, b),
    }
}

/// The distance as Milvus reports it: squared L2, or the similarity for IP and COSINE.
pub(crate) fn reported(metric: Metric, score: f32) -> f32 {
    match metric {
        Metric::L2 | Metric::Hamming | Metric::Jaccard => score,
        Metric::Ip | Metric::Cosine | Metric::Bm25 => -score,
    }
}

/// Rows of any dense element type and the metric between them.
#[derive(Clone, Copy)]
pub(crate) struct Space<'a> {
    pub rows: DenseRows<'a>,
    pub dim: usize,
    pub metric: Metric,
    /// `1/|row|` per row, applied to inner products: COSINE over rows that are not unit vectors
    /// (stored rows; float16, bfloat16 and int8 rows are never normalised). Callers guarantee at
    /// least `n` entries.
    pub inv_norms: Option<&'a [f32]>,
}

impl Space<'_> {
    /// The internal score of `query` (normalised for COSINE, see `walk_query`) against row `id`.
    #[inline]
    pub fn score_to(&self, query: &DenseQuery, id: u32) -> f32 {
        let id = id as usize;
        let raw = self.rows.raw_query(self.metric, self.dim, query, id);
        match (self.metric.higher_is_better(), self.inv_norms) {
            (false, _) => raw,
            (true, Some(inv)) => -raw * inv[id],
            (true, None) => -raw,
        }
    }

    /// The internal score between rows `a` and `b` (the build's distances).
    #[inline]
    pub fn score_rows(&self, a: u32, b: u32) -> f32 {
        let (a, b) = (a as usize, b as usize);
        let raw = self.rows.raw_rows(self.metric, self.dim, a, b);
        match (self.metric.higher_is_better(), self.inv_norms) {
            (false, _) => raw,
            (true, Some(inv)) => -raw * inv[a] * inv[b],
            (true, None) => -raw,
        }
    }

    /// True when rows `a` and `b` are exact copies.
    pub fn same(&self, a: u32, b: u32) -> bool {
        self.rows.same_rows(self.dim, a as usize, b as usize)
    }

    #[inline(always)]
    pub fn prefetch(&self, id: u32) {
        self.rows.prefetch(self.dim, id as usize)
    }
}

/// A query prepared once for scoring SQ8 codes with the int8 kernel set (`kernels::I8Kernels`):
/// with `x ≈ min + scale * c`, L2: `sum((q - min - scale * c)^2)`, IP: `dot(q, min) + sum(q * scale * c)`.
pub(crate) struct Sq8Query {
    metric: Metric,
    /// L2: `q - min`; IP/COSINE: `q * scale`.
    shifted: Vec<f32>,
    scale: Vec<f32>,
    /// IP/COSINE: `dot(q, min)`.
    base: f32,
    kernels: &'static I8Kernels,
}

impl Sq8Query {
    pub fn new(metric: Metric, query: &[f32], min: &[f32], scale: &[f32]) -> Sq8Query {
        let (shifted, base) = match metric {
            Metric::L2 | Metric::Hamming | Metric::Jaccard => {
                (query.iter().zip(min).map(|(q, m)| q - m).collect(), 0.0)
            }
            Metric::Ip | Metric::Cosine | Metric::Bm25 => (
                query.iter().zip(scale).map(|(q, s)| q * s).collect(),
                dot(query, min),
            ),
        };
        Sq8Query {
            metric,
            shifted,
            scale: scale.to_vec(),
            base,
            kernels: dispatched_i8(),
        }
    }

    /// The internal score (smaller is better) of the row with these codes.
    #[inline]
    pub fn score(&self, codes: &[u8]) -> f32 {
        match self.metric {
            Metric::L2 | Metric::Hamming | Metric::Jaccard => {
                self.kernels.sq8_l2(&self.shifted, &self.scale, codes)
            }
            Metric::Ip | Metric::Cosine | Metric::Bm25 => {
                -(self.base + self.kernels.sq8_dot(&self.shifted, codes))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_naive_sums_for_every_length() {
        for len in 0..21 {
            let a: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..len).map(|i| 2.0 - i as f32 * 0.25).collect();
            let naive_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            let naive_l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            assert!((score(Metric::Ip, &a, &b) + naive_dot).abs() < 1e-3);
            assert!((score(Metric::L2, &a, &b) - naive_l2).abs() < 1e-3);
            assert_eq!(reported(Metric::Ip, score(Metric::Ip, &a, &b)), dot(&a, &b));
        }
    }

    #[test]
    fn sq8_scores_equal_scores_of_the_decoded_rows() {
        for len in [1usize, 7, 8, 19] {
            let min: Vec<f32> = (0..len).map(|j| j as f32 * -0.1).collect();
            let scale: Vec<f32> = (0..len).map(|j| 0.01 + j as f32 * 0.001).collect();
            let codes: Vec<u8> = (0..len).map(|j| (j * 37 % 256) as u8).collect();
            let decoded: Vec<f32> = (0..len)
                .map(|j| min[j] + scale[j] * codes[j] as f32)
                .collect();
            let q: Vec<f32> = (0..len).map(|j| 0.3 - j as f32 * 0.05).collect();
            for metric in [Metric::L2, Metric::Ip] {
                let got = Sq8Query::new(metric, &q, &min, &scale).score(&codes);
                let want = score(metric, &q, &decoded);
                assert!(
                    (got - want).abs() < 1e-4,
                    "{metric:?} {len}: {got} vs {want}"
                );
            }
        }
    }
}
