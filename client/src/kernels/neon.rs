//! aarch64 kernels: NEON, 4 lanes x 4 accumulators, scalar tail. NEON is part of the aarch64 base
//! ISA; the functions are still `unsafe` with `target_feature` so the dispatch table treats every
//! SIMD path alike.

use std::arch::aarch64::*;

use super::Kernels;

pub const NEON: Kernels = Kernels {
    isa: "neon",
    dot: dot_neon,
    l2_squared: l2_neon,
    norm_squared: norm_neon,
    dot_many: dot_many_neon,
    l2_many: l2_many_neon,
};

#[inline(always)]
unsafe fn reduce128(
    a: &[f32],
    b: &[f32],
    step: impl Fn(float32x4_t, float32x4_t, float32x4_t) -> float32x4_t,
    tail: impl Fn(f32, f32) -> f32,
) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY (whole body): every load reads 4 lanes ending at or below `n`.
    unsafe {
        let mut acc = [vdupq_n_f32(0.0); 4];
        let mut i = 0;
        while i + 16 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = step(
                    *acc,
                    vld1q_f32(pa.add(i + 4 * k)),
                    vld1q_f32(pb.add(i + 4 * k)),
                );
            }
            i += 16;
        }
        while i + 4 <= n {
            acc[0] = step(acc[0], vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
            i += 4;
        }
        let sum = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
        let mut total = vaddvq_f32(sum);
        for j in i..n {
            total += tail(a[j], b[j]);
        }
        total
    }
}

#[target_feature(enable = "neon")]
unsafe fn dot_neon(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: the caller guarantees NEON.
    unsafe { reduce128(a, b, |acc, x, y| vfmaq_f32(acc, x, y), |x, y| x * y) }
}

#[target_feature(enable = "neon")]
unsafe fn l2_neon(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: the caller guarantees NEON.
    unsafe {
        reduce128(
            a,
            b,
            |acc, x, y| {
                let d = vsubq_f32(x, y);
                vfmaq_f32(acc, d, d)
            },
            |x, y| (x - y) * (x - y),
        )
    }
}

#[target_feature(enable = "neon")]
unsafe fn norm_neon(a: &[f32]) -> f32 {
    // SAFETY: the caller guarantees NEON.
    unsafe { reduce128(a, a, |acc, x, _| vfmaq_f32(acc, x, x), |x, _| x * x) }
}

#[target_feature(enable = "neon")]
unsafe fn dot_many_neon(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    // SAFETY: the caller guarantees NEON.
    super::for_each_row(query, rows, dim, out, |q, r| unsafe { dot_neon(q, r) })
}

#[target_feature(enable = "neon")]
unsafe fn l2_many_neon(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    // SAFETY: the caller guarantees NEON.
    super::for_each_row(query, rows, dim, out, |q, r| unsafe { l2_neon(q, r) })
}
