//! Every distance the index computes goes through `score`, so the SIMD kernels can replace the scalar
//! loops below in one place.

use crate::schema::Metric;

/// Internal score, smaller is better for every metric: squared L2, or the negated inner product
/// (COSINE is the inner product of unit vectors; see the module docs of `hnsw`).
#[inline]
pub(crate) fn score(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => l2_squared(a, b),
        Metric::Ip | Metric::Cosine => -dot(a, b),
    }
}

/// The distance as Milvus reports it: squared L2, or the similarity for IP and COSINE.
pub(crate) fn reported(metric: Metric, score: f32) -> f32 {
    match metric {
        Metric::L2 => score,
        Metric::Ip | Metric::Cosine => -score,
    }
}

/// Row `id` of a row-major `n x dim` matrix. Callers guarantee `id < n` and `vectors.len() >= n * dim`.
#[inline]
pub(crate) fn row(vectors: &[f32], dim: usize, id: u32) -> &[f32] {
    let start = id as usize * dim;
    &vectors[start..start + dim]
}

// Eight independent accumulators let the compiler vectorise without reassociating a single sum.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0f32; 8];
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline]
fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    let mut acc = [0f32; 8];
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            let t = x[i] - y[i];
            acc[i] += t * t;
        }
    }
    acc.iter().sum::<f32>() + tail
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
}
