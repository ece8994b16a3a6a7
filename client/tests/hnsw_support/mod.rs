//! Seeded synthetic data and an exact reference for the HNSW tests.
#![allow(dead_code)] // each test binary uses a different subset

use covec::{IndexKind, IndexSpec, Metric};

/// Debug builds (plain `cargo test`) run the same assertions on fewer rows; release runs the full size.
pub fn rows(full: usize) -> usize {
    if cfg!(debug_assertions) {
        full / 5
    } else {
        full
    }
}

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_5EED)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = (self.unit() + 1e-7).min(1.0);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }
}

/// `n` rows around `clusters` random centres: the shape real embeddings have, and harder for a graph
/// than uniform noise (tight clusters need the diversity heuristic to stay connected).
pub fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.normal()).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = (rng.next_u64() % clusters as u64) as usize;
        for j in 0..dim {
            out.push(centres[c * dim + j] + 0.35 * rng.normal());
        }
    }
    out
}

pub fn normalise_rows(v: &mut [f32], dim: usize) {
    for row in v.chunks_exact_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }
}

/// Milvus-style distance: squared L2, or the inner product (cosine for unit rows).
pub fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        Metric::Ip | Metric::Cosine => a.iter().zip(b).map(|(x, y)| x * y).sum(),
        other => panic!("{other:?} is not a float-vector metric"),
    }
}

/// Exact top-k ids among rows accepted by `keep`, best first.
pub fn brute_force(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    query: &[f32],
    k: usize,
    keep: &dyn Fn(u32) -> bool,
) -> Vec<u32> {
    let mut all: Vec<(f32, u32)> = vectors
        .chunks_exact(dim)
        .enumerate()
        .filter(|(i, _)| keep(*i as u32))
        .map(|(i, row)| {
            let d = distance(metric, query, row);
            (if metric == Metric::L2 { d } else { -d }, i as u32)
        })
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|(_, i)| i).collect()
}

/// |found ∩ truth| / |truth|.
pub fn recall(found: &[(u32, f32)], truth: &[u32]) -> f64 {
    if truth.is_empty() {
        return 1.0;
    }
    let hits = truth
        .iter()
        .filter(|t| found.iter().any(|(id, _)| id == *t))
        .count();
    hits as f64 / truth.len() as f64
}

/// A small HNSW index (M 8, efConstruction 64, L2) on the vector field `v` of storage_util's
/// `simple_schema`.
pub fn hnsw_on_v() -> IndexSpec {
    IndexSpec {
        field: "v".into(),
        index_name: "v".into(),
        index_type: "HNSW".into(),
        kind: IndexKind::Flat,
        metric: Metric::L2,
        params: vec![
            ("M".into(), "8".into()),
            ("efConstruction".into(), "64".into()),
        ],
    }
}

/// Waits until no build of the db at `path` runs: a write that asked for one started it (and took
/// its lock) before returning, so after this the builder's graph is committed.
pub fn wait_for_builder(path: &std::path::Path) {
    drop(covec::internals::builder::BuildLock::wait(path).unwrap());
}
