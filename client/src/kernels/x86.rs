//! x86_64 kernels: AVX-512F (16 lanes, masked tail) and AVX2+FMA (8 lanes, scalar tail), each with
//! four accumulators so four FMAs are in flight. Every function here is `unsafe` because it needs
//! its `target_feature` on the running CPU; `super::available()` checks that before handing out
//! `AVX512` or `AVX2`.

use std::arch::x86_64::*;

use super::Kernels;

pub const AVX512: Kernels = Kernels {
    isa: "avx512f",
    dot: dot_avx512,
    l2_squared: l2_avx512,
    norm_squared: norm_avx512,
    dot_many: dot_many_avx512,
    l2_many: l2_many_avx512,
};

pub const AVX2: Kernels = Kernels {
    isa: "avx2+fma",
    dot: dot_avx2,
    l2_squared: l2_avx2,
    norm_squared: norm_avx2,
    dot_many: dot_many_avx2,
    l2_many: l2_many_avx2,
};

/// `sum(term(a[i], b[i]))` over the common prefix, where `step(acc, x, y)` folds 16 lanes.
#[inline(always)]
unsafe fn reduce512(a: &[f32], b: &[f32], step: impl Fn(__m512, __m512, __m512) -> __m512) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY (whole body): every load reads lanes below `n`, in bounds of both slices; the masked
    // tail load touches only the lanes its mask selects.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_loadu_ps(pa.add(i + 16 * k));
                let y = _mm512_loadu_ps(pb.add(i + 16 * k));
                *acc = step(*acc, x, y);
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = step(
                acc[0],
                _mm512_loadu_ps(pa.add(i)),
                _mm512_loadu_ps(pb.add(i)),
            );
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u32 << (n - i)).wrapping_sub(1) as __mmask16;
            let x = _mm512_maskz_loadu_ps(mask, pa.add(i));
            let y = _mm512_maskz_loadu_ps(mask, pb.add(i));
            // Masked-off lanes are zero in both inputs, so they add zero for every term used here.
            acc[1] = step(acc[1], x, y);
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(sum)
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: the caller guarantees AVX-512F.
    unsafe { reduce512(a, b, |acc, x, y| _mm512_fmadd_ps(x, y, acc)) }
}

#[target_feature(enable = "avx512f")]
unsafe fn l2_avx512(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: the caller guarantees AVX-512F.
    unsafe {
        reduce512(a, b, |acc, x, y| {
            let d = _mm512_sub_ps(x, y);
            _mm512_fmadd_ps(d, d, acc)
        })
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn norm_avx512(a: &[f32]) -> f32 {
    // SAFETY: the caller guarantees AVX-512F.
    unsafe { reduce512(a, a, |acc, x, _| _mm512_fmadd_ps(x, x, acc)) }
}

#[target_feature(enable = "avx512f")]
unsafe fn dot_many_avx512(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    // SAFETY: the caller guarantees AVX-512F.
    super::for_each_row(query, rows, dim, out, |q, r| unsafe { dot_avx512(q, r) })
}

#[target_feature(enable = "avx512f")]
unsafe fn l2_many_avx512(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    // SAFETY: the caller guarantees AVX-512F.
    super::for_each_row(query, rows, dim, out, |q, r| unsafe { l2_avx512(q, r) })
}

/// Horizontal sum of 8 lanes.
#[inline(always)]
pub(super) unsafe fn hsum256(v: __m256) -> f32 {
    // SAFETY: register-only shuffles; AVX is implied by the callers' AVX2.
    unsafe {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0b01));
        _mm_cvtss_f32(s)
    }
}

/// As `reduce512` with 8 lanes; `tail` folds the last `n % 8` elements one at a time.
#[inline(always)]
unsafe fn reduce256(
    a: &[f32],
    b: &[f32],
    step: impl Fn(__m256, __m256, __m256) -> __m256,
    tail: impl Fn(f32, f32) -> f32,
) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY (whole body): every load reads 8 lanes ending at or below `n`.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_loadu_ps(pa.add(i + 8 * k));
                let y = _mm256_loadu_ps(pb.add(i + 8 * k));
                *acc = step(*acc, x, y);
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = step(
                acc[0],
                _mm256_loadu_ps(pa.add(i)),
                _mm256_loadu_ps(pb.add(i)),
            );
            i += 8;
        }
        let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut total = hsum256(sum);
        for j in i..n {
            total += tail(a[j], b[j]);
        }
        total
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: the caller guarantees AVX2 and FMA.
    unsafe { reduce256(a, b, |acc, x, y| _mm256_fmadd_ps(x, y, acc), |x, y| x * y) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn l2_avx2(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: the caller guarantees AVX2 and FMA.
    unsafe {
        reduce256(
            a,
            b,
            |acc, x, y| {
                let d = _mm256_sub_ps(x, y);
                _mm256_fmadd_ps(d, d, acc)
            },
            |x, y| (x - y) * (x - y),
        )
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn norm_avx2(a: &[f32]) -> f32 {
    // SAFETY: the caller guarantees AVX2 and FMA.
    unsafe { reduce256(a, a, |acc, x, _| _mm256_fmadd_ps(x, x, acc), |x, _| x * x) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_many_avx2(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    // SAFETY: the caller guarantees AVX2 and FMA.
    super::for_each_row(query, rows, dim, out, |q, r| unsafe { dot_avx2(q, r) })
}

#[target_feature(enable = "avx2,fma")]
unsafe fn l2_many_avx2(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    // SAFETY: the caller guarantees AVX2 and FMA.
    super::for_each_row(query, rows, dim, out, |q, r| unsafe { l2_avx2(q, r) })
}
