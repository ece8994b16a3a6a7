//! x86_64 float16 and bfloat16 kernels: AVX-512F (16 lanes) and AVX2+FMA (+F16C for float16; 8
//! lanes), four accumulators each, as in `x86.rs`. Halves are widened to f32 exactly (float16 by
//! `vcvtph2ps`, bfloat16 by a zero-extension and a 16-bit shift: it is the top half of an f32), then
//! the f32 FMAs run as for f32 rows. Tails shorter than one vector are copied into a zeroed buffer:
//! zero lanes add nothing to a dot product or a squared distance. Every function is `unsafe`
//! because it needs its `target_feature`; `super::available_f16()` checks them first.

use std::arch::x86_64::*;

use super::x86::hsum256;
use super::{as_bf16, scalar, Bf16, Bf16Kernels, F16Kernels};

pub const AVX512: F16Kernels = F16Kernels {
    isa: "avx512f",
    dot: dot_avx512,
    l2_squared: l2_avx512,
    dot_f32: dot_f32_avx512,
    l2_squared_f32: l2_f32_avx512,
    encode: encode_avx512,
};

pub const AVX2: F16Kernels = F16Kernels {
    isa: "avx2+fma+f16c",
    dot: dot_avx2,
    l2_squared: l2_avx2,
    dot_f32: dot_f32_avx2,
    l2_squared_f32: l2_f32_avx2,
    encode: encode_avx2,
};

pub const AVX512_BF16: Bf16Kernels = Bf16Kernels {
    isa: "avx512f",
    dot: dot_bf16_avx512,
    l2_squared: l2_bf16_avx512,
    dot_f32: dot_f32_bf16_avx512,
    l2_squared_f32: l2_f32_bf16_avx512,
};

pub const AVX2_BF16: Bf16Kernels = Bf16Kernels {
    isa: "avx2+fma",
    dot: dot_bf16_avx2,
    l2_squared: l2_bf16_avx2,
    dot_f32: dot_f32_bf16_avx2,
    l2_squared_f32: l2_f32_bf16_avx2,
};

/// An element type the kernels widen to f32 lanes: `u16` (binary16 bits), [`Bf16`] or `f32` (the
/// query).
trait Widen: Copy + Default {
    /// # Safety
    /// `p` must be valid for 16 reads of `Self`; the CPU must have AVX-512F.
    unsafe fn load16(p: *const Self) -> __m512;
    /// # Safety
    /// `p` must be valid for 8 reads of `Self`; the CPU must have AVX2 (and F16C for `u16`).
    unsafe fn load8(p: *const Self) -> __m256;
}

impl Widen for u16 {
    #[inline(always)]
    unsafe fn load16(p: *const u16) -> __m512 {
        // SAFETY: the caller's contract; 16 u16 are the 32 bytes read.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }
    #[inline(always)]
    unsafe fn load8(p: *const u16) -> __m256 {
        // SAFETY: the caller's contract; 8 u16 are the 16 bytes read.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }
}

impl Widen for Bf16 {
    #[inline(always)]
    unsafe fn load16(p: *const Bf16) -> __m512 {
        // SAFETY: the caller's contract; 16 u16 are the 32 bytes read.
        unsafe {
            let wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(p.cast()));
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(wide))
        }
    }
    #[inline(always)]
    unsafe fn load8(p: *const Bf16) -> __m256 {
        // SAFETY: the caller's contract (AVX2 for the widening); 8 u16 are the 16 bytes read.
        unsafe {
            let wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(p.cast()));
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(wide))
        }
    }
}

impl Widen for f32 {
    #[inline(always)]
    unsafe fn load16(p: *const f32) -> __m512 {
        // SAFETY: the caller's contract.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load8(p: *const f32) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_loadu_ps(p) }
    }
}

/// Copies `s[i..]` (fewer than `N` elements) into a zero-padded buffer.
#[inline(always)]
fn padded<T: Copy + Default, const N: usize>(s: &[T], i: usize, n: usize) -> [T; N] {
    let mut buf = [T::default(); N];
    buf[..n - i].copy_from_slice(&s[i..n]);
    buf
}

/// `sum(term(a[i], b[i]))` over the common prefix, where `step(acc, x, y)` folds 16 lanes.
#[inline(always)]
unsafe fn reduce512<A: Widen, B: Widen>(
    a: &[A],
    b: &[B],
    step: impl Fn(__m512, __m512, __m512) -> __m512,
) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY (whole body): every load reads 16 elements ending at or below `n`, or from a local
    // 16-element buffer; the caller guarantees AVX-512F.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = step(
                    *acc,
                    A::load16(pa.add(i + 16 * k)),
                    B::load16(pb.add(i + 16 * k)),
                );
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = step(acc[0], A::load16(pa.add(i)), B::load16(pb.add(i)));
            i += 16;
        }
        if i < n {
            let ta: [A; 16] = padded(a, i, n);
            let tb: [B; 16] = padded(b, i, n);
            acc[1] = step(acc[1], A::load16(ta.as_ptr()), B::load16(tb.as_ptr()));
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(sum)
    }
}

/// As `reduce512` with 8 lanes.
#[inline(always)]
unsafe fn reduce256<A: Widen, B: Widen>(
    a: &[A],
    b: &[B],
    step: impl Fn(__m256, __m256, __m256) -> __m256,
) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY (whole body): every load reads 8 elements ending at or below `n`, or from a local
    // 8-element buffer; the caller guarantees AVX2 and FMA, and F16C for float16.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = step(
                    *acc,
                    A::load8(pa.add(i + 8 * k)),
                    B::load8(pb.add(i + 8 * k)),
                );
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = step(acc[0], A::load8(pa.add(i)), B::load8(pb.add(i)));
            i += 8;
        }
        if i < n {
            let ta: [A; 8] = padded(a, i, n);
            let tb: [B; 8] = padded(b, i, n);
            acc[1] = step(acc[1], A::load8(ta.as_ptr()), B::load8(tb.as_ptr()));
        }
        let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        hsum256(sum)
    }
}

#[inline(always)]
unsafe fn dot512<A: Widen, B: Widen>(a: &[A], b: &[B]) -> f32 {
    // SAFETY: the caller guarantees AVX-512F.
    unsafe { reduce512(a, b, |acc, x, y| _mm512_fmadd_ps(x, y, acc)) }
}

#[inline(always)]
unsafe fn l2_512<A: Widen, B: Widen>(a: &[A], b: &[B]) -> f32 {
    // SAFETY: the caller guarantees AVX-512F.
    unsafe {
        reduce512(a, b, |acc, x, y| {
            let d = _mm512_sub_ps(x, y);
            _mm512_fmadd_ps(d, d, acc)
        })
    }
}

#[inline(always)]
unsafe fn dot256<A: Widen, B: Widen>(a: &[A], b: &[B]) -> f32 {
    // SAFETY: the caller guarantees AVX2 and FMA, and F16C for float16.
    unsafe { reduce256(a, b, |acc, x, y| _mm256_fmadd_ps(x, y, acc)) }
}

#[inline(always)]
unsafe fn l2_256<A: Widen, B: Widen>(a: &[A], b: &[B]) -> f32 {
    // SAFETY: the caller guarantees AVX2 and FMA, and F16C for float16.
    unsafe {
        reduce256(a, b, |acc, x, y| {
            let d = _mm256_sub_ps(x, y);
            _mm256_fmadd_ps(d, d, acc)
        })
    }
}

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot512(a, b) }
}

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn l2_avx512(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_512(a, b) }
}

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn dot_f32_avx512(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot512(query, row) }
}

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn l2_f32_avx512(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_512(query, row) }
}

/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot256(a, b) }
}

/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l2_avx2(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_256(a, b) }
}

/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f32_avx2(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot256(query, row) }
}

/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l2_f32_avx2(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_256(query, row) }
}

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn dot_bf16_avx512(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot512(as_bf16(a), as_bf16(b)) }
}

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn l2_bf16_avx512(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_512(as_bf16(a), as_bf16(b)) }
}

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn dot_f32_bf16_avx512(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot512(query, as_bf16(row)) }
}

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn l2_f32_bf16_avx512(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_512(query, as_bf16(row)) }
}

/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_bf16_avx2(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot256(as_bf16(a), as_bf16(b)) }
}

/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn l2_bf16_avx2(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_256(as_bf16(a), as_bf16(b)) }
}

/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_f32_bf16_avx2(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot256(query, as_bf16(row)) }
}

/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn l2_f32_bf16_avx2(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_256(query, as_bf16(row)) }
}

/// Round to nearest even (the immediate, not MXCSR): the same rounding as `scalar::f32_to_f16`.
const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT;

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn encode_avx512(src: &[f32], dst: &mut [u16]) {
    let n = src.len().min(dst.len());
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: reads and writes 16 elements ending at or below `n`; the caller guarantees
        // AVX-512F.
        unsafe {
            let h = _mm512_cvtps_ph::<NEAREST>(_mm512_loadu_ps(src.as_ptr().add(i)));
            _mm256_storeu_si256(dst.as_mut_ptr().add(i).cast(), h);
        }
        i += 16;
    }
    scalar::f32_to_f16_slice(&src[i..n], &mut dst[i..n]);
}

/// # Safety
/// The CPU must have AVX2 and F16C.
#[target_feature(enable = "avx2,f16c")]
unsafe fn encode_avx2(src: &[f32], dst: &mut [u16]) {
    let n = src.len().min(dst.len());
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: reads and writes 8 elements ending at or below `n`; the caller guarantees F16C.
        unsafe {
            let h = _mm256_cvtps_ph::<NEAREST>(_mm256_loadu_ps(src.as_ptr().add(i)));
            _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), h);
        }
        i += 8;
    }
    scalar::f32_to_f16_slice(&src[i..n], &mut dst[i..n]);
}
