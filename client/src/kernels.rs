//! Vector kernels: dot product, squared L2 distance and squared norm over `f32` slices, single pairs
//! and one query against many contiguous rows (the engine's scan loop); the same over float16 and
//! bfloat16 rows (bit patterns in `u16`, against a row of the same type or an f32 query), int8 codes
//! (exact i32 results, and an f32 query against i8 codes or against SQ8's unsigned codes), and the Hamming and Jaccard counts of
//! binary vectors (bits packed in bytes). docs/kernels.md has the measured throughput.
//!
//! Every kernel has a scalar twin in [`scalar`]; the SIMD variant is picked once per process by
//! runtime CPU detection and kept in a `OnceLock` of function pointers, so a call costs one indirect
//! call. Each element type is its own family with its own dispatch, because each needs different CPU
//! features. What each path needs:
//!
//! | family | `isa()`         | needs (runtime detection)             | width, accumulators        |
//! |--------|-----------------|---------------------------------------|----------------------------|
//! | f32    | `avx512f`       | x86_64 AVX-512F                       | 16 lanes x 4, masked tail  |
//! | f32    | `avx2+fma`      | x86_64 AVX2 and FMA                   | 8 lanes x 4, scalar tail   |
//! | f16    | `avx512f`       | x86_64 AVX-512F (`vcvtph2ps` zmm)     | 16 lanes x 4, padded tail  |
//! | f16    | `avx2+fma+f16c` | x86_64 AVX2, FMA and F16C             | 8 lanes x 4, padded tail   |
//! | i8     | `avx512bw`      | x86_64 AVX-512BW                      | 32 bytes x 4, padded tail  |
//! | i8     | `avx2`          | x86_64 AVX2                           | 16 bytes x 4, padded tail  |
//! | bf16   | `avx512f`       | x86_64 AVX-512F                       | 16 lanes x 4, padded tail  |
//! | bf16   | `avx2+fma`      | x86_64 AVX2 and FMA                   | 8 lanes x 4, padded tail   |
//! | binary | `avx512vpopcntdq` | x86_64 AVX-512F and AVX512_VPOPCNTDQ | 64 bytes, scalar tail     |
//! | binary | `avx2`          | x86_64 AVX2                           | 32 bytes, scalar tail      |
//! | all    | `neon`          | aarch64 (NEON is part of the base ISA)| 4 lanes (16 bytes) x 4     |
//! | all    | `scalar`        | anything                              | 8 independent sums         |
//!
//! Loads are unaligned, so any slice works; rows that start on 64-byte boundaries (as the db format
//! lays vectors out) avoid split cache lines and run fastest. Float summation order differs between
//! variants, so float results agree within rounding, not bit for bit; sums of small integers are
//! exact everywhere, f16 widening and f32 -> f16 encoding are bit-identical on every path, and the
//! i8 kernels are exact integers on every path (see [`I8Kernels`] for overflow).
//!
//! Slices of different lengths are a caller bug: debug builds assert, release builds use the common
//! prefix rather than panic. `*_many` score `out.len()` rows of `dim` floats each (fewer if `rows` is
//! short).

use std::sync::OnceLock;

pub mod scalar;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "aarch64")]
mod neon_binary;
#[cfg(target_arch = "aarch64")]
mod neon_f16;
#[cfg(target_arch = "aarch64")]
mod neon_i8;
#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
mod x86_binary;
#[cfg(target_arch = "x86_64")]
mod x86_f16;
#[cfg(target_arch = "x86_64")]
mod x86_i8;

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

/// 1/|v|, or 0 for a zero (or non-finite) vector so that its cosine is 0. FLOAT_VECTOR columns store
/// it per row, so it is computed one way everywhere: from `dot(v, v)`.
pub fn inv_norm(v: &[f32]) -> f32 {
    let n = dot(v, v).sqrt();
    if n > 0.0 && n.is_finite() {
        1.0 / n
    } else {
        0.0
    }
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

type F16PairFn = unsafe fn(&[u16], &[u16]) -> f32;
type F32F16PairFn = unsafe fn(&[f32], &[u16]) -> f32;
type F16EncodeFn = unsafe fn(&[f32], &mut [u16]);

/// The float16 kernels for one instruction set; like [`Kernels`], a value exists only for an
/// instruction set the running CPU supports. Rows are IEEE binary16 bit patterns in `u16`; every
/// path converts them exactly to f32 and accumulates in f32.
#[derive(Clone, Copy)]
pub struct F16Kernels {
    isa: &'static str,
    dot: F16PairFn,
    l2_squared: F16PairFn,
    dot_f32: F32F16PairFn,
    l2_squared_f32: F32F16PairFn,
    encode: F16EncodeFn,
}

impl std::fmt::Debug for F16Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("F16Kernels")
            .field("isa", &self.isa)
            .finish()
    }
}

impl F16Kernels {
    pub fn isa(&self) -> &'static str {
        self.isa
    }

    pub fn dot_f16(&self, a: &[u16], b: &[u16]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        // SAFETY: `available_f16()` builds an `F16Kernels` only for instruction sets this CPU supports.
        unsafe { (self.dot)(a, b) }
    }

    pub fn l2_squared_f16(&self, a: &[u16], b: &[u16]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        // SAFETY: as in `dot_f16`.
        unsafe { (self.l2_squared)(a, b) }
    }

    pub fn dot_f32_f16(&self, query: &[f32], row: &[u16]) -> f32 {
        debug_assert_eq!(query.len(), row.len());
        // SAFETY: as in `dot_f16`.
        unsafe { (self.dot_f32)(query, row) }
    }

    pub fn l2_squared_f32_f16(&self, query: &[f32], row: &[u16]) -> f32 {
        debug_assert_eq!(query.len(), row.len());
        // SAFETY: as in `dot_f16`.
        unsafe { (self.l2_squared_f32)(query, row) }
    }

    pub fn f32_to_f16_slice(&self, src: &[f32], dst: &mut [u16]) {
        debug_assert_eq!(src.len(), dst.len());
        // SAFETY: as in `dot_f16`.
        unsafe { (self.encode)(src, dst) }
    }
}

const SCALAR_F16: F16Kernels = F16Kernels {
    isa: "scalar",
    dot: scalar::dot_f16,
    l2_squared: scalar::l2_squared_f16,
    dot_f32: scalar::dot_f32_f16,
    l2_squared_f32: scalar::l2_squared_f32_f16,
    encode: scalar::f32_to_f16_slice,
};

/// Every float16 kernel set this CPU can run, fastest first; the last is always `scalar`.
pub fn available_f16() -> Vec<F16Kernels> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            sets.push(x86_f16::AVX512);
        }
        if is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
        {
            sets.push(x86_f16::AVX2);
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            sets.push(neon_f16::NEON);
        }
    }
    sets.push(SCALAR_F16);
    sets
}

static DISPATCH_F16: OnceLock<F16Kernels> = OnceLock::new();

/// The float16 kernel set the free functions below use: the fastest in `available_f16()`.
pub fn dispatched_f16() -> &'static F16Kernels {
    DISPATCH_F16.get_or_init(|| available_f16()[0])
}

pub fn dot_f16(a: &[u16], b: &[u16]) -> f32 {
    dispatched_f16().dot_f16(a, b)
}

pub fn l2_squared_f16(a: &[u16], b: &[u16]) -> f32 {
    dispatched_f16().l2_squared_f16(a, b)
}

/// Dot product of an f32 query with a row stored as float16.
pub fn dot_f32_f16(query: &[f32], row: &[u16]) -> f32 {
    dispatched_f16().dot_f32_f16(query, row)
}

/// Squared L2 distance between an f32 query and a row stored as float16.
pub fn l2_squared_f32_f16(query: &[f32], row: &[u16]) -> f32 {
    dispatched_f16().l2_squared_f32_f16(query, row)
}

/// Encodes `src` as float16 into `dst` (the common prefix if lengths differ), rounding to nearest
/// even; bit-identical on every path to [`scalar::f32_to_f16`].
pub fn f32_to_f16_slice(src: &[f32], dst: &mut [u16]) {
    dispatched_f16().f32_to_f16_slice(src, dst)
}

/// The most elements one i8 kernel call sums: 32768 * 255^2 (the largest squared difference of
/// two i8) = 2_130_739_200 < i32::MAX = 2_147_483_647, so no block sum overflows.
pub const I8_BLOCK: usize = 32_768;

type I8PairFn = unsafe fn(&[i8], &[i8]) -> i32;
type F32I8PairFn = unsafe fn(&[f32], &[i8]) -> f32;
type Sq8DotFn = unsafe fn(&[f32], &[u8]) -> f32;
type Sq8L2Fn = unsafe fn(&[f32], &[f32], &[u8]) -> f32;

/// The int8 kernel set for one instruction set; like [`Kernels`], a value exists only for an
/// instruction set the running CPU supports. Results are exact integers, identical on every path.
///
/// Overflow: each block of [`I8_BLOCK`] elements is summed exactly in i32 and the blocks in i64;
/// the total saturates to `i32::MIN..=i32::MAX`. It is therefore exact whenever the true result
/// fits in i32, which any input guarantees up to 33025 elements for `l2_squared_i8`
/// (i32::MAX / 255^2) and 131071 for `dot_i8` (i32::MAX / 128^2).
///
/// The same sets score SQ8 codes (unsigned bytes, `x[j] ≈ min[j] + scale[j] * code[j]`) against an
/// f32 query in f32: `sq8_dot` and `sq8_l2`, within rounding (not bit for bit) across paths.
#[derive(Clone, Copy)]
pub struct I8Kernels {
    isa: &'static str,
    dot: I8PairFn,
    l2_squared: I8PairFn,
    dot_f32: F32I8PairFn,
    sq8_dot: Sq8DotFn,
    sq8_l2: Sq8L2Fn,
}

impl std::fmt::Debug for I8Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I8Kernels").field("isa", &self.isa).finish()
    }
}

impl I8Kernels {
    pub fn isa(&self) -> &'static str {
        self.isa
    }

    pub fn dot_i8(&self, a: &[i8], b: &[i8]) -> i32 {
        debug_assert_eq!(a.len(), b.len());
        // SAFETY: `available_i8()` builds an `I8Kernels` only for instruction sets this CPU
        // supports, and `by_blocks` passes at most `I8_BLOCK` elements.
        by_blocks(a, b, |x, y| unsafe { (self.dot)(x, y) })
    }

    pub fn l2_squared_i8(&self, a: &[i8], b: &[i8]) -> i32 {
        debug_assert_eq!(a.len(), b.len());
        // SAFETY: as in `dot_i8`.
        by_blocks(a, b, |x, y| unsafe { (self.l2_squared)(x, y) })
    }

    /// `sum(query[i] * codes[i])` in f32; within rounding (not bit for bit) across paths.
    pub fn dot_f32_i8(&self, query: &[f32], codes: &[i8]) -> f32 {
        debug_assert_eq!(query.len(), codes.len());
        // SAFETY: `available_i8()` builds an `I8Kernels` only for instruction sets this CPU
        // supports; this kernel sums in f32 and has no length limit.
        unsafe { (self.dot_f32)(query, codes) }
    }

    /// `sum(weights[j] * codes[j])` over SQ8 codes, in f32 (an inner product's query side is
    /// `weights = q * scale`).
    pub fn sq8_dot(&self, weights: &[f32], codes: &[u8]) -> f32 {
        debug_assert_eq!(weights.len(), codes.len());
        // SAFETY: as in `dot_f32_i8`.
        unsafe { (self.sq8_dot)(weights, codes) }
    }

    /// `sum((shifted[j] - scale[j] * codes[j])^2)` over SQ8 codes, in f32 (a squared L2 distance's
    /// query side is `shifted = q - min`).
    pub fn sq8_l2(&self, shifted: &[f32], scale: &[f32], codes: &[u8]) -> f32 {
        debug_assert_eq!(shifted.len(), codes.len());
        debug_assert_eq!(scale.len(), codes.len());
        // SAFETY: as in `dot_f32_i8`.
        unsafe { (self.sq8_l2)(shifted, scale, codes) }
    }
}

/// Sums `block` over the common prefix in pieces of at most `I8_BLOCK`, saturating to i32.
fn by_blocks(a: &[i8], b: &[i8], block: impl Fn(&[i8], &[i8]) -> i32) -> i32 {
    let n = a.len().min(b.len());
    let total: i64 = a[..n]
        .chunks(I8_BLOCK)
        .zip(b[..n].chunks(I8_BLOCK))
        .map(|(x, y)| i64::from(block(x, y)))
        .sum();
    total.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

const SCALAR_I8: I8Kernels = I8Kernels {
    isa: "scalar",
    dot: scalar::dot_i8_block,
    l2_squared: scalar::l2_squared_i8_block,
    dot_f32: scalar::dot_f32_i8,
    sq8_dot: scalar::sq8_dot,
    sq8_l2: scalar::sq8_l2,
};

/// Every int8 kernel set this CPU can run, fastest first; the last is always `scalar`.
pub fn available_i8() -> Vec<I8Kernels> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512bw") {
            sets.push(x86_i8::AVX512BW);
        }
        if is_x86_feature_detected!("avx2") {
            sets.push(x86_i8::AVX2);
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            sets.push(neon_i8::NEON);
        }
    }
    sets.push(SCALAR_I8);
    sets
}

static DISPATCH_I8: OnceLock<I8Kernels> = OnceLock::new();

/// The int8 kernel set the free functions below use: the fastest in `available_i8()`.
pub fn dispatched_i8() -> &'static I8Kernels {
    DISPATCH_I8.get_or_init(|| available_i8()[0])
}

/// Exact dot product of two int8 vectors (saturating; see [`I8Kernels`]).
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    dispatched_i8().dot_i8(a, b)
}

/// Exact squared L2 distance of two int8 vectors (saturating; see [`I8Kernels`]).
pub fn l2_squared_i8(a: &[i8], b: &[i8]) -> i32 {
    dispatched_i8().l2_squared_i8(a, b)
}

/// Dot product of an f32 query with int8 codes, for asymmetric search over quantized rows: with
/// `x[j] = min[j] + scale[j] * code[j]`, `dot(q, x) = dot(q, min) + dot_f32_i8(q * scale, code)`,
/// where both `dot(q, min)` and `q * scale` are computed once per query.
pub fn dot_f32_i8(query: &[f32], codes: &[i8]) -> f32 {
    dispatched_i8().dot_f32_i8(query, codes)
}

/// bfloat16 bits, the element type the SIMD bfloat16 kernels widen; the same bytes as the `u16` the
/// API takes (`as_bf16`).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[repr(transparent)]
#[derive(Clone, Copy, Default)]
struct Bf16(u16);

/// `u16` rows read as bfloat16.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn as_bf16(s: &[u16]) -> &[Bf16] {
    // SAFETY: `Bf16` is `repr(transparent)` over `u16`: same size, alignment and valid values.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast(), s.len()) }
}

/// The bfloat16 kernels for one instruction set; like [`Kernels`], a value exists only for an
/// instruction set the running CPU supports. Rows are bfloat16 bit patterns in `u16` (the top half
/// of an f32, so every path widens them exactly) and every path accumulates in f32. Encoding is
/// scalar ([`f32_to_bf16_slice`]): it runs once per stored row, never per search.
#[derive(Clone, Copy)]
pub struct Bf16Kernels {
    isa: &'static str,
    dot: F16PairFn,
    l2_squared: F16PairFn,
    dot_f32: F32F16PairFn,
    l2_squared_f32: F32F16PairFn,
}

impl std::fmt::Debug for Bf16Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bf16Kernels")
            .field("isa", &self.isa)
            .finish()
    }
}

impl Bf16Kernels {
    pub fn isa(&self) -> &'static str {
        self.isa
    }

    pub fn dot_bf16(&self, a: &[u16], b: &[u16]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        // SAFETY: `available_bf16()` builds a `Bf16Kernels` only for instruction sets this CPU
        // supports.
        unsafe { (self.dot)(a, b) }
    }

    pub fn l2_squared_bf16(&self, a: &[u16], b: &[u16]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        // SAFETY: as in `dot_bf16`.
        unsafe { (self.l2_squared)(a, b) }
    }

    pub fn dot_f32_bf16(&self, query: &[f32], row: &[u16]) -> f32 {
        debug_assert_eq!(query.len(), row.len());
        // SAFETY: as in `dot_bf16`.
        unsafe { (self.dot_f32)(query, row) }
    }

    pub fn l2_squared_f32_bf16(&self, query: &[f32], row: &[u16]) -> f32 {
        debug_assert_eq!(query.len(), row.len());
        // SAFETY: as in `dot_bf16`.
        unsafe { (self.l2_squared_f32)(query, row) }
    }
}

const SCALAR_BF16: Bf16Kernels = Bf16Kernels {
    isa: "scalar",
    dot: scalar::dot_bf16,
    l2_squared: scalar::l2_squared_bf16,
    dot_f32: scalar::dot_f32_bf16,
    l2_squared_f32: scalar::l2_squared_f32_bf16,
};

/// Every bfloat16 kernel set this CPU can run, fastest first; the last is always `scalar`.
pub fn available_bf16() -> Vec<Bf16Kernels> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            sets.push(x86_f16::AVX512_BF16);
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            sets.push(x86_f16::AVX2_BF16);
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            sets.push(neon_f16::NEON_BF16);
        }
    }
    sets.push(SCALAR_BF16);
    sets
}

static DISPATCH_BF16: OnceLock<Bf16Kernels> = OnceLock::new();

/// The bfloat16 kernel set the free functions below use: the fastest in `available_bf16()`.
pub fn dispatched_bf16() -> &'static Bf16Kernels {
    DISPATCH_BF16.get_or_init(|| available_bf16()[0])
}

pub fn dot_bf16(a: &[u16], b: &[u16]) -> f32 {
    dispatched_bf16().dot_bf16(a, b)
}

pub fn l2_squared_bf16(a: &[u16], b: &[u16]) -> f32 {
    dispatched_bf16().l2_squared_bf16(a, b)
}

/// Dot product of an f32 query with a row stored as bfloat16.
pub fn dot_f32_bf16(query: &[f32], row: &[u16]) -> f32 {
    dispatched_bf16().dot_f32_bf16(query, row)
}

/// Squared L2 distance between an f32 query and a row stored as bfloat16.
pub fn l2_squared_f32_bf16(query: &[f32], row: &[u16]) -> f32 {
    dispatched_bf16().l2_squared_f32_bf16(query, row)
}

/// Encodes `src` as bfloat16 into `dst` (the common prefix if lengths differ), rounding to nearest
/// even ([`scalar::f32_to_bf16`]).
pub fn f32_to_bf16_slice(src: &[f32], dst: &mut [u16]) {
    scalar::f32_to_bf16_slice(src, dst)
}

type HammingFn = unsafe fn(&[u8], &[u8]) -> u64;
type JaccardFn = unsafe fn(&[u8], &[u8]) -> (u64, u64);

/// The binary-vector kernels for one instruction set; like [`Kernels`], a value exists only for an
/// instruction set the running CPU supports. A binary vector is its bits packed 8 to a byte; every
/// path counts exactly, in u64, over the common prefix of its two slices.
#[derive(Clone, Copy)]
pub struct BinaryKernels {
    isa: &'static str,
    hamming: HammingFn,
    jaccard: JaccardFn,
}

impl std::fmt::Debug for BinaryKernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryKernels")
            .field("isa", &self.isa)
            .finish()
    }
}

impl BinaryKernels {
    pub fn isa(&self) -> &'static str {
        self.isa
    }

    /// The bits that differ: `popcount(a ^ b)`.
    pub fn hamming(&self, a: &[u8], b: &[u8]) -> u64 {
        debug_assert_eq!(a.len(), b.len());
        // SAFETY: `available_binary()` builds a `BinaryKernels` only for instruction sets this CPU
        // supports.
        unsafe { (self.hamming)(a, b) }
    }

    /// `(popcount(a & b), popcount(a | b))`: the sizes of the two bit sets' intersection and union.
    pub fn jaccard_counts(&self, a: &[u8], b: &[u8]) -> (u64, u64) {
        debug_assert_eq!(a.len(), b.len());
        // SAFETY: as in `hamming`.
        unsafe { (self.jaccard)(a, b) }
    }
}

const SCALAR_BINARY: BinaryKernels = BinaryKernels {
    isa: "scalar",
    hamming: scalar::hamming,
    jaccard: scalar::jaccard_counts,
};

/// Every binary kernel set this CPU can run, fastest first; the last is always `scalar`.
pub fn available_binary() -> Vec<BinaryKernels> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vpopcntdq") {
            sets.push(x86_binary::AVX512);
        }
        if is_x86_feature_detected!("avx2") {
            sets.push(x86_binary::AVX2);
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            sets.push(neon_binary::NEON);
        }
    }
    sets.push(SCALAR_BINARY);
    sets
}

static DISPATCH_BINARY: OnceLock<BinaryKernels> = OnceLock::new();

/// The binary kernel set the free functions below use: the fastest in `available_binary()`.
pub fn dispatched_binary() -> &'static BinaryKernels {
    DISPATCH_BINARY.get_or_init(|| available_binary()[0])
}

/// The Hamming distance of two binary vectors: the number of bits that differ.
pub fn hamming(a: &[u8], b: &[u8]) -> u64 {
    dispatched_binary().hamming(a, b)
}

/// The Jaccard distance of two binary vectors as Milvus (knowhere) computes it:
/// `(|a or b| - |a and b|) / |a or b|` in f32, and 1 when neither has a bit set.
pub fn jaccard(a: &[u8], b: &[u8]) -> f32 {
    let (both, either) = dispatched_binary().jaccard_counts(a, b);
    if either == 0 {
        1.0
    } else {
        (either - both) as f32 / either as f32
    }
}
