//! Seeded sparse corpora (Zipf-distributed terms, as in text) and the brute-force reference the
//! index's searches must agree with.
#![allow(dead_code)]

use covec::internals::sparse::{
    build_index, encode_column, Scoring, SparseColumnView, SparseIndexView, SparseMetric,
    SparseRef, SparseVector,
};

/// xorshift64*: small, seeded, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Draws term ranks with probability proportional to 1 / (rank + 1)^s.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(vocab: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(vocab);
        let mut sum = 0.0;
        for r in 0..vocab {
            sum += 1.0 / ((r + 1) as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    pub fn draw(&self, rng: &mut Rng) -> u32 {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1) as u32
    }
}

/// How row values are drawn.
#[derive(Clone, Copy, Debug)]
pub enum Values {
    /// Term frequencies: whole numbers, mostly 1 (BM25 documents).
    Counts,
    /// A few repeated values, so that many rows tie.
    Ties,
    /// Arbitrary positive floats over several magnitudes, some zeros.
    Floats,
}

fn value(rng: &mut Rng, values: Values) -> f32 {
    match values {
        Values::Counts => 1.0 + (rng.unit().powi(3) * 6.0).floor() as f32,
        Values::Ties => [0.5f32, 1.0, 2.0][rng.below(3) as usize],
        Values::Floats => {
            if rng.below(20) == 0 {
                0.0
            } else {
                (rng.unit() * 4.0 - 2.0).exp2() as f32
            }
        }
    }
}

/// A sparse vector of up to `max_terms` distinct Zipf-drawn terms (term ids spread over the u32
/// range by `spread`, so they are not just small integers).
pub fn vector(
    rng: &mut Rng,
    zipf: &Zipf,
    max_terms: usize,
    values: Values,
    spread: u32,
) -> SparseVector {
    let len = rng.below(max_terms as u64 + 1) as usize;
    let mut pairs: Vec<(i64, f64)> = Vec::new();
    for _ in 0..len {
        let term =
            i64::from(zipf.draw(rng).wrapping_mul(spread) % covec::internals::sparse::MAX_INDEX);
        if pairs.iter().all(|&(t, _)| t != term) {
            pairs.push((term, f64::from(value(rng, values))));
        }
    }
    SparseVector::from_pairs(pairs).expect("generated vectors are valid")
}

pub fn corpus(
    rng: &mut Rng,
    n: usize,
    vocab: usize,
    max_terms: usize,
    values: Values,
    spread: u32,
) -> Vec<SparseVector> {
    let zipf = Zipf::new(vocab, 1.1);
    (0..n)
        .map(|_| vector(rng, &zipf, max_terms, values, spread))
        .collect()
}

/// Bytes with 8-byte alignment in memory, as a mapped section has (the views borrow `u64`s in place).
pub struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    pub fn new(bytes: &[u8]) -> Aligned {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            *w = u64::from_le_bytes(b);
        }
        Aligned {
            words,
            len: bytes.len(),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the words own at least `len` initialized bytes; u8 has no alignment needs.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }
}

/// A part's column and index sections over `rows`.
pub struct Part {
    pub rows: Vec<SparseVector>,
    pub column: Aligned,
    pub index: Aligned,
}

impl Part {
    pub fn new(rows: Vec<SparseVector>, metric: SparseMetric) -> Part {
        let refs: Vec<SparseRef> = rows.iter().map(SparseVector::view).collect();
        let column = Aligned::new(&encode_column(&refs).unwrap());
        let view = SparseColumnView::from_bytes(column.bytes(), rows.len()).unwrap();
        let index = Aligned::new(&build_index(&view, metric).unwrap());
        Part {
            rows,
            column,
            index,
        }
    }

    pub fn view(&self) -> SparseIndexView<'_> {
        SparseIndexView::from_bytes(self.index.bytes(), self.rows.len()).unwrap()
    }
}

/// The reference: every row scored by `Scoring::score`, rows above 0 that `keep` accepts, best
/// first, ties by lower row, the first `k`.
pub fn brute_force(
    rows: &[SparseVector],
    query: SparseRef,
    scoring: Scoring,
    k: usize,
    keep: &dyn Fn(u32) -> bool,
) -> Vec<(u32, f32)> {
    let mut hits: Vec<(u32, f32)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (i as u32, scoring.score(query, r.view())))
        .filter(|&(i, s)| s > 0.0 && keep(i))
        .collect();
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    hits.truncate(k);
    hits
}
