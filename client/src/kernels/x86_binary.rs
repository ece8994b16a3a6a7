//! x86_64 binary-vector kernels: popcounts of `a ^ b` (Hamming) and of `a & b` and `a | b` (Jaccard).
//! AVX-512 counts 64 bytes a step with `vpopcntq` (AVX512_VPOPCNTDQ); AVX2 counts 32 bytes a step
//! with the nibble lookup (`vpshufb` on each half byte, `vpsadbw` to sum the bytes into u64 lanes).
//! Both keep u64 lane sums, so no length overflows them; the bytes after the last whole step are
//! counted by the scalar twin. Every function is `unsafe` because it needs its `target_feature`;
//! `super::available_binary()` checks them first.

use std::arch::x86_64::*;

use super::scalar::BitOp;
use super::BinaryKernels;

pub const AVX512: BinaryKernels = BinaryKernels {
    isa: "avx512vpopcntdq",
    hamming: hamming_avx512,
    jaccard: jaccard_avx512,
};

pub const AVX2: BinaryKernels = BinaryKernels {
    isa: "avx2",
    hamming: hamming_avx2,
    jaccard: jaccard_avx2,
};

/// `op(x, y)` on 512 bits. The ops are constants at every call, so the match folds away.
#[inline(always)]
unsafe fn apply512(op: BitOp, x: __m512i, y: __m512i) -> __m512i {
    // SAFETY: register-only; the caller guarantees AVX-512F.
    unsafe {
        match op {
            BitOp::Xor => _mm512_xor_si512(x, y),
            BitOp::And => _mm512_and_si512(x, y),
            BitOp::Or => _mm512_or_si512(x, y),
        }
    }
}

/// `popcount(op(a, b))` over the common prefix for each of `ops`, 64 bytes a step.
#[inline(always)]
unsafe fn counts512<const K: usize>(a: &[u8], b: &[u8], ops: [BitOp; K]) -> [u64; K] {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    // SAFETY (whole block): every load reads 64 bytes ending at or below `n`; the caller guarantees
    // AVX-512F and AVX512_VPOPCNTDQ.
    let sums = unsafe {
        let mut acc = [_mm512_setzero_si512(); K];
        while i + 64 <= n {
            let x = _mm512_loadu_si512(pa.add(i).cast());
            let y = _mm512_loadu_si512(pb.add(i).cast());
            for (acc, &op) in acc.iter_mut().zip(&ops) {
                *acc = _mm512_add_epi64(*acc, _mm512_popcnt_epi64(apply512(op, x, y)));
            }
            i += 64;
        }
        acc.map(|v| _mm512_reduce_add_epi64(v) as u64)
    };
    std::array::from_fn(|k| sums[k] + ops[k].count(&a[i..n], &b[i..n]))
}

/// The sum of the bit counts of `v`'s bytes, in four u64 lanes.
#[inline(always)]
unsafe fn popcount256(v: __m256i) -> __m256i {
    // SAFETY: register-only AVX2 arithmetic; the caller guarantees AVX2.
    unsafe {
        let nibbles = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
            3, 3, 4,
        );
        let low = _mm256_set1_epi8(0x0f);
        let lo = _mm256_shuffle_epi8(nibbles, _mm256_and_si256(v, low));
        let hi = _mm256_shuffle_epi8(nibbles, _mm256_and_si256(_mm256_srli_epi16::<4>(v), low));
        _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256())
    }
}

/// `op(x, y)` on 256 bits.
#[inline(always)]
unsafe fn apply256(op: BitOp, x: __m256i, y: __m256i) -> __m256i {
    // SAFETY: register-only; the caller guarantees AVX2.
    unsafe {
        match op {
            BitOp::Xor => _mm256_xor_si256(x, y),
            BitOp::And => _mm256_and_si256(x, y),
            BitOp::Or => _mm256_or_si256(x, y),
        }
    }
}

/// As `counts512`, 32 bytes a step.
#[inline(always)]
unsafe fn counts256<const K: usize>(a: &[u8], b: &[u8], ops: [BitOp; K]) -> [u64; K] {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    // SAFETY (whole block): every load reads 32 bytes ending at or below `n`; the caller guarantees
    // AVX2.
    let sums = unsafe {
        let mut acc = [_mm256_setzero_si256(); K];
        while i + 32 <= n {
            let x = _mm256_loadu_si256(pa.add(i).cast());
            let y = _mm256_loadu_si256(pb.add(i).cast());
            for (acc, &op) in acc.iter_mut().zip(&ops) {
                *acc = _mm256_add_epi64(*acc, popcount256(apply256(op, x, y)));
            }
            i += 32;
        }
        acc.map(|v| {
            let mut lanes = [0u64; 4];
            _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v);
            lanes.iter().sum::<u64>()
        })
    };
    std::array::from_fn(|k| sums[k] + ops[k].count(&a[i..n], &b[i..n]))
}

/// # Safety
/// The CPU must have AVX-512F and AVX512_VPOPCNTDQ.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
unsafe fn hamming_avx512(a: &[u8], b: &[u8]) -> u64 {
    // SAFETY: the caller's contract.
    unsafe { counts512(a, b, [BitOp::Xor])[0] }
}

/// # Safety
/// The CPU must have AVX-512F and AVX512_VPOPCNTDQ.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
unsafe fn jaccard_avx512(a: &[u8], b: &[u8]) -> (u64, u64) {
    // SAFETY: the caller's contract.
    let [both, either] = unsafe { counts512(a, b, [BitOp::And, BitOp::Or]) };
    (both, either)
}

/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
unsafe fn hamming_avx2(a: &[u8], b: &[u8]) -> u64 {
    // SAFETY: the caller's contract.
    unsafe { counts256(a, b, [BitOp::Xor])[0] }
}

/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
unsafe fn jaccard_avx2(a: &[u8], b: &[u8]) -> (u64, u64) {
    // SAFETY: the caller's contract.
    let [both, either] = unsafe { counts256(a, b, [BitOp::And, BitOp::Or]) };
    (both, either)
}
