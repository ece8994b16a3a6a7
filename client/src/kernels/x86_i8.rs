//! x86_64 int8 kernels: AVX-512BW (32 lanes) and AVX2 (16 lanes). Bytes are sign-extended to i16
//! (`vpmovsxbw`), then `vpmaddwd` multiplies lane pairs and adds each pair into one i32 lane, four
//! accumulators in flight. A product is at most 128 * 128 and a squared difference at most
//! 255 * 255, so a pair sum fits easily in i32 and `vpmaddwd`'s one saturating case (two products
//! of -32768 * -32768) cannot occur. Callers pass at most `super::I8_BLOCK` elements, so neither
//! the lanes nor their horizontal sum overflow. Tails are copied into a zeroed buffer; zero lanes
//! add nothing. `dot_f32_i8` widens 16 (or 8) codes to i32 and then f32 and runs f32 multiply-adds;
//! the SQ8 kernels widen unsigned codes the same way and leave the last `n % 16` (or 8) terms to the
//! scalar twin.
//! Every function is `unsafe` because it needs its `target_feature`;
//! `super::available_i8()` checks them first.

use std::arch::x86_64::*;

use super::I8Kernels;

pub const AVX512BW: I8Kernels = I8Kernels {
    isa: "avx512bw",
    dot: dot_avx512,
    l2_squared: l2_avx512,
    dot_f32: dot_f32_avx512,
    sq8_dot: sq8_dot_avx512,
    sq8_l2: sq8_l2_avx512,
};

pub const AVX2: I8Kernels = I8Kernels {
    isa: "avx2",
    dot: dot_avx2,
    l2_squared: l2_avx2,
    dot_f32: dot_f32_avx2,
    sq8_dot: sq8_dot_avx2,
    sq8_l2: sq8_l2_avx2,
};

/// Copies `s[i..n]` (fewer than `N` bytes) into a zero-padded buffer.
#[inline(always)]
fn padded<const N: usize>(s: &[i8], i: usize, n: usize) -> [i8; N] {
    let mut buf = [0i8; N];
    buf[..n - i].copy_from_slice(&s[i..n]);
    buf
}

/// `step(acc, x, y)` folds 32 lanes of i16 (sign-extended bytes) into 16 i32 lanes.
#[inline(always)]
unsafe fn reduce512(
    a: &[i8],
    b: &[i8],
    step: impl Fn(__m512i, __m512i, __m512i) -> __m512i,
) -> i32 {
    let n = a.len().min(b.len());
    debug_assert!(n <= super::I8_BLOCK);
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY (whole body): every load reads 32 bytes ending at or below `n`, or from a local
    // buffer; the caller guarantees AVX-512BW.
    unsafe {
        let load = |p: *const i8| _mm512_cvtepi8_epi16(_mm256_loadu_si256(p.cast()));
        let mut acc = [_mm512_setzero_si512(); 4];
        let mut i = 0;
        while i + 128 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = step(*acc, load(pa.add(i + 32 * k)), load(pb.add(i + 32 * k)));
            }
            i += 128;
        }
        while i + 32 <= n {
            acc[0] = step(acc[0], load(pa.add(i)), load(pb.add(i)));
            i += 32;
        }
        if i < n {
            let ta: [i8; 32] = padded(a, i, n);
            let tb: [i8; 32] = padded(b, i, n);
            acc[1] = step(acc[1], load(ta.as_ptr()), load(tb.as_ptr()));
        }
        let sum = _mm512_add_epi32(
            _mm512_add_epi32(acc[0], acc[1]),
            _mm512_add_epi32(acc[2], acc[3]),
        );
        _mm512_reduce_add_epi32(sum)
    }
}

/// As `reduce512` with 16 lanes of i16 into 8 i32 lanes.
#[inline(always)]
unsafe fn reduce256(
    a: &[i8],
    b: &[i8],
    step: impl Fn(__m256i, __m256i, __m256i) -> __m256i,
) -> i32 {
    let n = a.len().min(b.len());
    debug_assert!(n <= super::I8_BLOCK);
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY (whole body): every load reads 16 bytes ending at or below `n`, or from a local
    // buffer; the caller guarantees AVX2.
    unsafe {
        let load = |p: *const i8| _mm256_cvtepi8_epi16(_mm_loadu_si128(p.cast()));
        let mut acc = [_mm256_setzero_si256(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = step(*acc, load(pa.add(i + 16 * k)), load(pb.add(i + 16 * k)));
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = step(acc[0], load(pa.add(i)), load(pb.add(i)));
            i += 16;
        }
        if i < n {
            let ta: [i8; 16] = padded(a, i, n);
            let tb: [i8; 16] = padded(b, i, n);
            acc[1] = step(acc[1], load(ta.as_ptr()), load(tb.as_ptr()));
        }
        let s = _mm256_add_epi32(
            _mm256_add_epi32(acc[0], acc[1]),
            _mm256_add_epi32(acc[2], acc[3]),
        );
        let s = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01));
        _mm_cvtsi128_si32(s)
    }
}

/// # Safety
/// The CPU must have AVX-512BW; at most `I8_BLOCK` elements.
#[target_feature(enable = "avx512bw")]
unsafe fn dot_avx512(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        reduce512(a, b, |acc, x, y| {
            _mm512_add_epi32(acc, _mm512_madd_epi16(x, y))
        })
    }
}

/// # Safety
/// The CPU must have AVX-512BW; at most `I8_BLOCK` elements.
#[target_feature(enable = "avx512bw")]
unsafe fn l2_avx512(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        reduce512(a, b, |acc, x, y| {
            let d = _mm512_sub_epi16(x, y);
            _mm512_add_epi32(acc, _mm512_madd_epi16(d, d))
        })
    }
}

/// # Safety
/// The CPU must have AVX2; at most `I8_BLOCK` elements.
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        reduce256(a, b, |acc, x, y| {
            _mm256_add_epi32(acc, _mm256_madd_epi16(x, y))
        })
    }
}

/// # Safety
/// The CPU must have AVX2; at most `I8_BLOCK` elements.
#[target_feature(enable = "avx2")]
unsafe fn l2_avx2(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        reduce256(a, b, |acc, x, y| {
            let d = _mm256_sub_epi16(x, y);
            _mm256_add_epi32(acc, _mm256_madd_epi16(d, d))
        })
    }
}

/// # Safety
/// The CPU must have AVX-512F (implied by the AVX-512BW that selects this set).
#[target_feature(enable = "avx512f")]
unsafe fn dot_f32_avx512(query: &[f32], codes: &[i8]) -> f32 {
    let n = query.len().min(codes.len());
    let (pq, pc) = (query.as_ptr(), codes.as_ptr());
    // SAFETY (whole body): every load reads 16 elements ending at or below `n`, or from local
    // 16-element buffers; the caller guarantees AVX-512F.
    unsafe {
        let codes16 =
            |p: *const i8| _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p.cast())));
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                let j = i + 16 * k;
                *acc = _mm512_fmadd_ps(_mm512_loadu_ps(pq.add(j)), codes16(pc.add(j)), *acc);
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(pq.add(i)), codes16(pc.add(i)), acc[0]);
            i += 16;
        }
        if i < n {
            let mut tq = [0f32; 16];
            tq[..n - i].copy_from_slice(&query[i..n]);
            let tc: [i8; 16] = padded(codes, i, n);
            acc[1] = _mm512_fmadd_ps(_mm512_loadu_ps(tq.as_ptr()), codes16(tc.as_ptr()), acc[1]);
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(sum)
    }
}

/// # Safety
/// The CPU must have AVX2. Multiply and add stay separate so this set needs no FMA.
#[target_feature(enable = "avx2")]
unsafe fn dot_f32_avx2(query: &[f32], codes: &[i8]) -> f32 {
    let n = query.len().min(codes.len());
    let (pq, pc) = (query.as_ptr(), codes.as_ptr());
    // SAFETY (whole body): every load reads 8 elements ending at or below `n`, or from local
    // 8-element buffers; the caller guarantees AVX2.
    unsafe {
        let codes8 =
            |p: *const i8| _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p.cast())));
        let step = |acc, q, c| _mm256_add_ps(acc, _mm256_mul_ps(q, c));
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                let j = i + 8 * k;
                *acc = step(*acc, _mm256_loadu_ps(pq.add(j)), codes8(pc.add(j)));
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = step(acc[0], _mm256_loadu_ps(pq.add(i)), codes8(pc.add(i)));
            i += 8;
        }
        if i < n {
            let mut tq = [0f32; 8];
            tq[..n - i].copy_from_slice(&query[i..n]);
            let tc: [i8; 8] = padded(codes, i, n);
            acc[1] = step(acc[1], _mm256_loadu_ps(tq.as_ptr()), codes8(tc.as_ptr()));
        }
        hsum256(acc)
    }
}

/// The sum of every lane of four accumulators.
#[inline(always)]
unsafe fn hsum256(acc: [__m256; 4]) -> f32 {
    // SAFETY: register arithmetic only; the caller guarantees AVX.
    unsafe {
        let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let s = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0b01));
        _mm_cvtss_f32(s)
    }
}

/// Folds `step(acc, j)` over the whole 8-lane pieces `j = 0, 8, ...` of `n` elements, four
/// accumulators in flight, and sums the lanes; the caller adds the last `n % 8` terms.
#[inline(always)]
unsafe fn sum8(n: usize, step: impl Fn(__m256, usize) -> __m256) -> f32 {
    // SAFETY: `step` is called only at offsets whose 8 elements end at or below `n`; the caller
    // guarantees AVX2.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = step(*acc, i + 8 * k);
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = step(acc[0], i);
            i += 8;
        }
        hsum256(acc)
    }
}

/// As `sum8` over 16-lane pieces; the caller adds the last `n % 16` terms.
#[inline(always)]
unsafe fn sum16(n: usize, step: impl Fn(__m512, usize) -> __m512) -> f32 {
    // SAFETY: as in `sum8`; the caller guarantees AVX-512F.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = step(*acc, i + 16 * k);
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = step(acc[0], i);
            i += 16;
        }
        _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(acc[0], acc[1]),
            _mm512_add_ps(acc[2], acc[3]),
        ))
    }
}

/// # Safety
/// The CPU must have AVX2 (multiply and add stay separate, as in `dot_f32_avx2`).
#[target_feature(enable = "avx2")]
unsafe fn sq8_dot_avx2(weights: &[f32], codes: &[u8]) -> f32 {
    let n = weights.len().min(codes.len());
    let whole = n - n % 8;
    let (pw, pc) = (weights.as_ptr(), codes.as_ptr());
    // SAFETY: `sum8` reads 8 weights and 8 codes ending at or below `n`; the caller's contract.
    let head = unsafe {
        sum8(n, |acc, j| {
            let c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(pc.add(j).cast())));
            _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(pw.add(j)), c))
        })
    };
    head + super::scalar::sq8_dot(&weights[whole..n], &codes[whole..n])
}

/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
unsafe fn sq8_l2_avx2(shifted: &[f32], scale: &[f32], codes: &[u8]) -> f32 {
    let n = shifted.len().min(scale.len()).min(codes.len());
    let whole = n - n % 8;
    let (pd, ps, pc) = (shifted.as_ptr(), scale.as_ptr(), codes.as_ptr());
    // SAFETY: as in `sq8_dot_avx2`.
    let head = unsafe {
        sum8(n, |acc, j| {
            let c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(pc.add(j).cast())));
            let t = _mm256_sub_ps(
                _mm256_loadu_ps(pd.add(j)),
                _mm256_mul_ps(_mm256_loadu_ps(ps.add(j)), c),
            );
            _mm256_add_ps(acc, _mm256_mul_ps(t, t))
        })
    };
    head + super::scalar::sq8_l2(&shifted[whole..n], &scale[whole..n], &codes[whole..n])
}

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn sq8_dot_avx512(weights: &[f32], codes: &[u8]) -> f32 {
    let n = weights.len().min(codes.len());
    let whole = n - n % 16;
    let (pw, pc) = (weights.as_ptr(), codes.as_ptr());
    // SAFETY: `sum16` reads 16 weights and 16 codes ending at or below `n`; the caller's contract.
    let head = unsafe {
        sum16(n, |acc, j| {
            let c = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(pc.add(j).cast())));
            _mm512_fmadd_ps(_mm512_loadu_ps(pw.add(j)), c, acc)
        })
    };
    head + super::scalar::sq8_dot(&weights[whole..n], &codes[whole..n])
}

/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn sq8_l2_avx512(shifted: &[f32], scale: &[f32], codes: &[u8]) -> f32 {
    let n = shifted.len().min(scale.len()).min(codes.len());
    let whole = n - n % 16;
    let (pd, ps, pc) = (shifted.as_ptr(), scale.as_ptr(), codes.as_ptr());
    // SAFETY: as in `sq8_dot_avx512`.
    let head = unsafe {
        sum16(n, |acc, j| {
            let c = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(pc.add(j).cast())));
            let t = _mm512_fnmadd_ps(_mm512_loadu_ps(ps.add(j)), c, _mm512_loadu_ps(pd.add(j)));
            _mm512_fmadd_ps(t, t, acc)
        })
    };
    head + super::scalar::sq8_l2(&shifted[whole..n], &scale[whole..n], &codes[whole..n])
}
