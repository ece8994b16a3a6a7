//! Vector kernels: dot product, squared L2 distance and squared norm over `f32` slices, single pairs
//! and one query against many contiguous rows (the engine's scan loop).
//!
//! Every kernel has a scalar twin in [`scalar`]; the SIMD variant is picked once per process by
//! runtime CPU detection and kept in a `OnceLock` of function pointers, so a call costs one indirect
//! call. What each path needs:
//!
//! | `isa()`    | needs                                        | width, accumulators        |
//! |------------|----------------------------------------------|----------------------------|
//! | `avx512f`  | x86_64 with AVX-512F (`is_x86_feature_detected!("avx512f")`) | 16 lanes x 4, masked tail |
//! | `avx2+fma` | x86_64 with AVX2 and FMA                     | 8 lanes x 4, scalar tail   |
//! | `neon`     | aarch64 (NEON is part of the base ISA)       | 4 lanes x 4, scalar tail   |
//! | `scalar`   | anything                                     | 8 independent sums         |
//!
//! Loads are unaligned, so any slice works; rows that start on 64-byte boundaries (as the db format
//! lays vectors out) avoid split cache lines and run fastest. Summation order differs between
//! variants, so results agree within floating-point rounding, not bit for bit; sums of small integers
//! are exact everywhere.
//!
//! Slices of different lengths are a caller bug: debug builds assert, release builds use the common
//! prefix rather than panic. `*_many` score `out.len()` rows of `dim` floats each (fewer if `rows` is
//! short).

use std::sync::OnceLock;

pub mod scalar;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "x86_64")]
mod x86;

type PairFn = unsafe fn(&[f32], &[f32]) -> f32;
type NormFn = unsafe fn(&[f32]) -> f32;
type ManyFn = unsafe fn(&[f32], &[f32], usize, &mut [f32]);

/// One complete set of kernels for one instruction set. A value of this type exists only for an
/// instruction set the running CPU supports, which is what makes its methods safe to call.
#[derive(Clone, Copy)]
pub struct Kernels {
    isa: &'static str,
    dot: PairFn,
    l2_squared: PairFn,
    norm_squared: NormFn,
    dot_many: ManyFn,
    l2_many: ManyFn,
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels").field("isa", &self.isa).finish()
    }
}

impl Kernels {
    pub fn isa(&self) -> &'static str {
        self.isa
    }

    pub fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        // SAFETY: `available()` builds a `Kernels` only for instruction sets this CPU supports.
        unsafe { (self.dot)(a, b) }
    }

    pub fn l2_squared(&self, a: &[f32], b: &[f32]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        // SAFETY: as in `dot`.
        unsafe { (self.l2_squared)(a, b) }
    }

    pub fn norm_squared(&self, a: &[f32]) -> f32 {
        // SAFETY: as in `dot`.
        unsafe { (self.norm_squared)(a) }
    }

    pub fn dot_many(&self, query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
        debug_assert_many(query, rows, dim, out);
        // SAFETY: as in `dot`.
        unsafe { (self.dot_many)(query, rows, dim, out) }
    }

    pub fn l2_many(&self, query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
        debug_assert_many(query, rows, dim, out);
        // SAFETY: as in `dot`.
        unsafe { (self.l2_many)(query, rows, dim, out) }
    }
}

fn debug_assert_many(query: &[f32], rows: &[f32], dim: usize, out: &[f32]) {
    debug_assert_eq!(query.len(), dim);
    debug_assert_eq!(rows.len(), dim * out.len());
}

const SCALAR: Kernels = Kernels {
    isa: "scalar",
    dot: scalar::dot,
    l2_squared: scalar::l2_squared,
    norm_squared: scalar::norm_squared,
    dot_many: scalar::dot_many,
    l2_many: scalar::l2_many,
};

/// Every kernel set this CPU can run, fastest first; the last is always `scalar`.
pub fn available() -> Vec<Kernels> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            sets.push(x86::AVX512);
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            sets.push(x86::AVX2);
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            sets.push(neon::NEON);
        }
    }
    sets.push(SCALAR);
    sets
}

static DISPATCH: OnceLock<Kernels> = OnceLock::new();

/// The kernel set every free function below uses: the fastest in `available()`.
pub fn dispatched() -> &'static Kernels {
    DISPATCH.get_or_init(|| available()[0])
}

/// The instruction set the kernels run on: "avx512f", "avx2+fma", "neon" or "scalar".
pub fn isa() -> &'static str {
    dispatched().isa
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    dispatched().dot(a, b)
}

pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    dispatched().l2_squared(a, b)
}

pub fn norm_squared(a: &[f32]) -> f32 {
    dispatched().norm_squared(a)
}

/// `out[i] = dot(query, rows[i*dim .. (i+1)*dim])`.
pub fn dot_many(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    dispatched().dot_many(query, rows, dim, out)
}

/// `out[i] = l2_squared(query, rows[i*dim .. (i+1)*dim])`.
pub fn l2_many(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    dispatched().l2_many(query, rows, dim, out)
}

/// Scores `query` against consecutive rows of `dim` floats: at most `out.len()` rows, only whole
/// ones. A zero `dim` scores every output as the empty vector. Inlined into each variant's `*_many`
/// so the per-row kernel inlines too.
#[inline(always)]
fn for_each_row(
    query: &[f32],
    rows: &[f32],
    dim: usize,
    out: &mut [f32],
    score: impl Fn(&[f32], &[f32]) -> f32,
) {
    if dim == 0 {
        out.fill(score(&[], &[]));
        return;
    }
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
        *o = score(query, row);
    }
}
