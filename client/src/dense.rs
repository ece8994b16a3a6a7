//! Dense vectors of every element type covec stores, read in place: FLOAT_VECTOR rows as `f32`,
//! FLOAT16_VECTOR and BFLOAT16_VECTOR rows as their 16-bit patterns, INT8_VECTOR rows as `i8`. A
//! query is prepared once per element type (`DenseQuery`) and scored against rows by that type's
//! kernels, so no stored row is ever converted to f32 to be searched. The exact scan (engine) and
//! the HNSW graph (build and walk) score through here.

use crate::kernels::{self, scalar};
use crate::schema::Metric;

/// A stored row's element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    F16,
    BF16,
    I8,
}

impl Elem {
    /// Bytes per element.
    pub fn width(self) -> usize {
        match self {
            Elem::F32 => 4,
            Elem::F16 | Elem::BF16 => 2,
            Elem::I8 => 1,
        }
    }

    /// One stored element as the f32 it stands for (exact for every type).
    fn value(self, bits: &[u8]) -> f32 {
        match self {
            Elem::F32 => f32::from_le_bytes([bits[0], bits[1], bits[2], bits[3]]),
            Elem::F16 => scalar::f16_to_f32(u16::from_le_bytes([bits[0], bits[1]])),
            Elem::BF16 => scalar::bf16_to_f32(u16::from_le_bytes([bits[0], bits[1]])),
            Elem::I8 => f32::from(bits[0] as i8),
        }
    }
}

/// Row-major rows of one element type. Every method takes the row length `dim` and row numbers the
/// caller has checked (`id < len() / dim`).
#[derive(Clone, Copy, Debug)]
pub enum DenseRows<'a> {
    F32(&'a [f32]),
    F16(&'a [u16]),
    BF16(&'a [u16]),
    I8(&'a [i8]),
}

impl<'a> DenseRows<'a> {
    /// Rows of `elem` over little-endian bytes; None when `bytes` is not aligned for the type or
    /// not a whole number of elements.
    pub fn from_bytes(elem: Elem, bytes: &'a [u8]) -> Option<DenseRows<'a>> {
        fn cast<T>(bytes: &[u8]) -> Option<&[T]> {
            // SAFETY: every bit pattern is a valid f32, u16 and i8; alignment is checked by
            // requiring empty ends.
            let (head, items, tail) = unsafe { bytes.align_to::<T>() };
            (head.is_empty() && tail.is_empty()).then_some(items)
        }
        Some(match elem {
            Elem::F32 => DenseRows::F32(cast(bytes)?),
            Elem::F16 => DenseRows::F16(cast(bytes)?),
            Elem::BF16 => DenseRows::BF16(cast(bytes)?),
            Elem::I8 => DenseRows::I8(cast(bytes)?),
        })
    }

    pub fn elem(&self) -> Elem {
        match self {
            DenseRows::F32(_) => Elem::F32,
            DenseRows::F16(_) => Elem::F16,
            DenseRows::BF16(_) => Elem::BF16,
            DenseRows::I8(_) => Elem::I8,
        }
    }

    /// Elements (not rows).
    pub fn len(&self) -> usize {
        match self {
            DenseRows::F32(v) => v.len(),
            DenseRows::F16(v) | DenseRows::BF16(v) => v.len(),
            DenseRows::I8(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw kernel value between rows `a` and `b`: squared L2 for L2, the inner product otherwise.
    #[inline]
    pub fn raw_rows(&self, metric: Metric, dim: usize, a: usize, b: usize) -> f32 {
        let l2 = metric == Metric::L2;
        match self {
            DenseRows::F32(v) => {
                let (x, y) = (row(v, dim, a), row(v, dim, b));
                if l2 {
                    kernels::l2_squared(x, y)
                } else {
                    kernels::dot(x, y)
                }
            }
            DenseRows::F16(v) => {
                let (x, y) = (row(v, dim, a), row(v, dim, b));
                if l2 {
                    kernels::l2_squared_f16(x, y)
                } else {
                    kernels::dot_f16(x, y)
                }
            }
            DenseRows::BF16(v) => {
                let (x, y) = (row(v, dim, a), row(v, dim, b));
                if l2 {
                    kernels::l2_squared_bf16(x, y)
                } else {
                    kernels::dot_bf16(x, y)
                }
            }
            DenseRows::I8(v) => {
                let (x, y) = (row(v, dim, a), row(v, dim, b));
                (if l2 {
                    kernels::l2_squared_i8(x, y)
                } else {
                    kernels::dot_i8(x, y)
                }) as f32
            }
        }
    }

    /// The raw kernel value of `query` against row `id` (see `raw_rows`).
    #[inline]
    pub fn raw_query(&self, metric: Metric, dim: usize, query: &DenseQuery, id: usize) -> f32 {
        let l2 = metric == Metric::L2;
        let q = &query.values;
        match self {
            DenseRows::F32(v) => {
                if l2 {
                    kernels::l2_squared(q, row(v, dim, id))
                } else {
                    kernels::dot(q, row(v, dim, id))
                }
            }
            DenseRows::F16(v) => {
                if l2 {
                    kernels::l2_squared_f32_f16(q, row(v, dim, id))
                } else {
                    kernels::dot_f32_f16(q, row(v, dim, id))
                }
            }
            DenseRows::BF16(v) => {
                if l2 {
                    kernels::l2_squared_f32_bf16(q, row(v, dim, id))
                } else {
                    kernels::dot_f32_bf16(q, row(v, dim, id))
                }
            }
            DenseRows::I8(v) => match &query.ints {
                Some(ints) if l2 => kernels::l2_squared_i8(ints, row(v, dim, id)) as f32,
                Some(ints) => kernels::dot_i8(ints, row(v, dim, id)) as f32,
                // A query that is not all int8 values (a graph's walk query, normalised).
                None if l2 => {
                    let r = row(v, dim, id);
                    q.iter()
                        .zip(r)
                        .map(|(x, &y)| (x - f32::from(y)) * (x - f32::from(y)))
                        .sum()
                }
                None => kernels::dot_f32_i8(q, row(v, dim, id)),
            },
        }
    }

    /// `out[i]` = the raw value of `query` against row `start + i`.
    pub fn raw_many(
        &self,
        metric: Metric,
        dim: usize,
        query: &DenseQuery,
        start: usize,
        out: &mut [f32],
    ) {
        match self {
            DenseRows::F32(v) => {
                let block = &v[start * dim..(start + out.len()) * dim];
                if metric == Metric::L2 {
                    kernels::l2_many(&query.values, block, dim, out)
                } else {
                    kernels::dot_many(&query.values, block, dim, out)
                }
            }
            _ => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.raw_query(metric, dim, query, start + i);
                }
            }
        }
    }

    /// True when rows `a` and `b` hold the same bits.
    pub fn same_rows(&self, dim: usize, a: usize, b: usize) -> bool {
        match self {
            DenseRows::F32(v) => row(v, dim, a) == row(v, dim, b),
            DenseRows::F16(v) | DenseRows::BF16(v) => row(v, dim, a) == row(v, dim, b),
            DenseRows::I8(v) => row(v, dim, a) == row(v, dim, b),
        }
    }

    /// Hints that row `id` is about to be scored.
    #[inline(always)]
    pub fn prefetch(&self, dim: usize, id: usize) {
        match self {
            DenseRows::F32(v) => prefetch(row(v, dim, id)),
            DenseRows::F16(v) | DenseRows::BF16(v) => prefetch(row(v, dim, id)),
            DenseRows::I8(v) => prefetch(row(v, dim, id)),
        }
    }

    /// Row `id` as f32 values (exact), appended to `out`: for writers that need f32 rows (the
    /// locality order, SQ8 codes).
    pub fn extend_f32(&self, dim: usize, id: usize, out: &mut Vec<f32>) {
        match self {
            DenseRows::F32(v) => out.extend_from_slice(row(v, dim, id)),
            DenseRows::F16(v) => out.extend(row(v, dim, id).iter().map(|&h| scalar::f16_to_f32(h))),
            DenseRows::BF16(v) => {
                out.extend(row(v, dim, id).iter().map(|&h| scalar::bf16_to_f32(h)))
            }
            DenseRows::I8(v) => out.extend(row(v, dim, id).iter().map(|&x| f32::from(x))),
        }
    }
}

/// Every row as f32 values, for writers: `bytes` hold rows of `elem` in little-endian order (what
/// a column stores), read element by element, so no alignment is needed.
pub fn widen_bytes(elem: Elem, bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(elem.width())
        .map(|b| elem.value(b))
        .collect()
}

/// A query vector prepared once for rows of one element type.
#[derive(Clone, Debug)]
pub struct DenseQuery {
    /// The query in f32 (for float rows, and for int8 rows when it is not all int8 values).
    pub values: Vec<f32>,
    /// The query as int8 values when every value is one (int8 rows then score exactly in integers).
    ints: Option<Vec<i8>>,
}

impl DenseQuery {
    pub fn new(values: Vec<f32>) -> DenseQuery {
        let is_int8 = |x: &f32| x.fract() == 0.0 && (-128.0..=127.0).contains(x);
        let ints = values
            .iter()
            .all(is_int8)
            .then(|| values.iter().map(|&x| x as i8).collect());
        DenseQuery { values, ints }
    }
}

/// Row `id` of a row-major matrix of `dim` columns. Callers guarantee it is in bounds.
#[inline(always)]
fn row<T>(v: &[T], dim: usize, id: usize) -> &[T] {
    &v[id * dim..id * dim + dim]
}

/// Asks the CPU to start loading the first cache line of `data`; the hardware prefetcher follows the
/// row's sequential reads from there (64 or 128 bytes, or the whole row, measured no better). A hint:
/// results never depend on it.
#[inline(always)]
pub fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and never changes memory, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(data.as_ptr().cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element type scores what the f32 values it stands for score, in the kernels' rounding.
    #[test]
    fn each_type_scores_its_values() {
        let dim = 5;
        let ints: Vec<i8> = vec![1, -2, 3, 4, -5, 0, 7, -8, 9, 10];
        let floats: Vec<f32> = ints.iter().map(|&x| f32::from(x)).collect();
        let halves: Vec<u16> = floats.iter().map(|&x| scalar::f32_to_f16(x)).collect();
        let brains: Vec<u16> = floats.iter().map(|&x| scalar::f32_to_bf16(x)).collect();
        let query = DenseQuery::new(vec![2.0, 0.0, -1.0, 1.0, 3.0]);
        let sets = [
            DenseRows::F32(&floats),
            DenseRows::F16(&halves),
            DenseRows::BF16(&brains),
            DenseRows::I8(&ints),
        ];
        for rows in sets {
            for metric in [Metric::L2, Metric::Ip] {
                let want_rows = rows.raw_rows(metric, dim, 0, 1);
                let plain: f32 = floats[..5]
                    .iter()
                    .zip(&floats[5..])
                    .map(|(x, y)| {
                        if metric == Metric::L2 {
                            (x - y) * (x - y)
                        } else {
                            x * y
                        }
                    })
                    .sum();
                assert_eq!(want_rows, plain, "{:?} {metric:?}", rows.elem());
                let mut many = [0.0; 2];
                rows.raw_many(metric, dim, &query, 0, &mut many);
                for (id, got) in many.iter().enumerate() {
                    assert_eq!(*got, rows.raw_query(metric, dim, &query, id));
                }
            }
            assert_eq!(
                rows.raw_query(Metric::Ip, dim, &query, 0),
                2.0 - 3.0 + 4.0 - 15.0
            );
            let mut widened = Vec::new();
            rows.extend_f32(dim, 1, &mut widened);
            assert_eq!(widened, floats[5..]);
            assert!(rows.same_rows(dim, 1, 1) && !rows.same_rows(dim, 0, 1));
        }
        // A query that is not all int8 values still scores int8 rows.
        let half = DenseQuery::new(vec![0.5; 5]);
        assert_eq!(
            DenseRows::I8(&ints).raw_query(Metric::Ip, dim, &half, 0),
            0.5
        );
        assert_eq!(
            DenseRows::I8(&ints).raw_query(Metric::L2, dim, &half, 0),
            0.25 + 6.25 + 6.25 + 12.25 + 30.25
        );
        let bytes: Vec<u8> = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
        assert_eq!(widen_bytes(Elem::F16, &bytes), floats);
    }
}
