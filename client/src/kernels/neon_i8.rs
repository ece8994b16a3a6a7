//! aarch64 int8 kernels: NEON on 16 bytes per step, four accumulators. Dot: `vmull_s8` widens each
//! product to i16 (at most 128 * 128 = 16384, which fits) and `vpadalq_s16` adds lane pairs into
//! i32 accumulators. Squared L2: `vabdq_s8` gives |a - b| <= 255 as a u8 bit pattern, `vmull_u8`
//! squares it into u16 (at most 65025, which fits) and `vpadalq_u16` accumulates in u32. Callers pass
//! at most `super::I8_BLOCK` elements, so no sum overflows i32. Tails are copied into a zeroed
//! buffer; zero lanes add nothing. The SQ8 kernels widen 16 unsigned codes to four f32 lanes of
//! four and leave the last `n % 16` terms to the scalar twin.

use std::arch::aarch64::*;

use super::I8Kernels;

pub const NEON: I8Kernels = I8Kernels {
    isa: "neon",
    dot: dot_neon,
    l2_squared: l2_neon,
    dot_f32: dot_f32_neon,
    sq8_dot: sq8_dot_neon,
    sq8_l2: sq8_l2_neon,
};

/// Calls `step(k, x, y)` on every 16-byte piece of the common prefix, spreading the pieces over
/// four accumulators `k`; the last partial piece is zero-padded.
#[inline(always)]
unsafe fn each16(a: &[i8], b: &[i8], mut step: impl FnMut(usize, int8x16_t, int8x16_t)) {
    let n = a.len().min(b.len());
    debug_assert!(n <= super::I8_BLOCK);
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY (whole body): every load reads 16 bytes ending at or below `n`, or from a local buffer.
    unsafe {
        let mut i = 0;
        while i + 16 <= n {
            step((i / 16) % 4, vld1q_s8(pa.add(i)), vld1q_s8(pb.add(i)));
            i += 16;
        }
        if i < n {
            let mut ta = [0i8; 16];
            let mut tb = [0i8; 16];
            ta[..n - i].copy_from_slice(&a[i..n]);
            tb[..n - i].copy_from_slice(&b[i..n]);
            step(0, vld1q_s8(ta.as_ptr()), vld1q_s8(tb.as_ptr()));
        }
    }
}

/// # Safety
/// The CPU must have NEON; at most `I8_BLOCK` elements.
#[target_feature(enable = "neon")]
unsafe fn dot_neon(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [vdupq_n_s32(0); 4];
    // SAFETY: the caller's contract.
    unsafe {
        each16(a, b, |k, x, y| {
            let lo = vmull_s8(vget_low_s8(x), vget_low_s8(y));
            let hi = vmull_high_s8(x, y);
            acc[k] = vpadalq_s16(vpadalq_s16(acc[k], lo), hi);
        });
    }
    vaddvq_s32(vaddq_s32(
        vaddq_s32(acc[0], acc[1]),
        vaddq_s32(acc[2], acc[3]),
    ))
}

/// # Safety
/// The CPU must have NEON; at most `I8_BLOCK` elements.
#[target_feature(enable = "neon")]
unsafe fn l2_neon(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [vdupq_n_u32(0); 4];
    // SAFETY: the caller's contract.
    unsafe {
        each16(a, b, |k, x, y| {
            let d = vreinterpretq_u8_s8(vabdq_s8(x, y));
            let lo = vmull_u8(vget_low_u8(d), vget_low_u8(d));
            let hi = vmull_high_u8(d, d);
            acc[k] = vpadalq_u16(vpadalq_u16(acc[k], lo), hi);
        });
    }
    // At most I8_BLOCK * 255^2 < i32::MAX, so the u32 total converts losslessly.
    vaddvq_u32(vaddq_u32(
        vaddq_u32(acc[0], acc[1]),
        vaddq_u32(acc[2], acc[3]),
    )) as i32
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn dot_f32_neon(query: &[f32], codes: &[i8]) -> f32 {
    let n = query.len().min(codes.len());
    let (pq, pc) = (query.as_ptr(), codes.as_ptr());
    // SAFETY (whole body): every load reads 16 elements ending at or below `n`, or from local
    // 16-element buffers.
    unsafe {
        let mut acc = [vdupq_n_f32(0.0); 4];
        let mut step = |q: *const f32, c: *const i8| {
            let c = vld1q_s8(c);
            let (lo, hi) = (vmovl_s8(vget_low_s8(c)), vmovl_high_s8(c));
            let lanes = [
                vmovl_s16(vget_low_s16(lo)),
                vmovl_high_s16(lo),
                vmovl_s16(vget_low_s16(hi)),
                vmovl_high_s16(hi),
            ];
            for (k, (acc, l)) in acc.iter_mut().zip(lanes).enumerate() {
                *acc = vfmaq_f32(*acc, vld1q_f32(q.add(4 * k)), vcvtq_f32_s32(l));
            }
        };
        let mut i = 0;
        while i + 16 <= n {
            step(pq.add(i), pc.add(i));
            i += 16;
        }
        if i < n {
            let mut tq = [0f32; 16];
            let mut tc = [0i8; 16];
            tq[..n - i].copy_from_slice(&query[i..n]);
            tc[..n - i].copy_from_slice(&codes[i..n]);
            step(tq.as_ptr(), tc.as_ptr());
        }
        vaddvq_f32(vaddq_f32(
            vaddq_f32(acc[0], acc[1]),
            vaddq_f32(acc[2], acc[3]),
        ))
    }
}

/// Folds `step(acc, k, j, codes)` over the whole 16-element pieces of `n` elements: `codes` are the
/// piece's 16 unsigned codes widened to f32, four lanes of four (`k` = 0..4, elements `j..j + 4`), one
/// accumulator per lane group. Sums the lanes; the caller adds the last `n % 16` terms.
#[inline(always)]
unsafe fn sum_u8(
    n: usize,
    codes: *const u8,
    step: impl Fn(float32x4_t, usize, float32x4_t) -> float32x4_t,
) -> f32 {
    // SAFETY (whole body): every code load reads 16 bytes ending at or below `n`.
    unsafe {
        let mut acc = [vdupq_n_f32(0.0); 4];
        let mut i = 0;
        while i + 16 <= n {
            let c = vld1q_u8(codes.add(i));
            let (lo, hi) = (vmovl_u8(vget_low_u8(c)), vmovl_high_u8(c));
            let lanes = [
                vmovl_u16(vget_low_u16(lo)),
                vmovl_high_u16(lo),
                vmovl_u16(vget_low_u16(hi)),
                vmovl_high_u16(hi),
            ];
            for (k, (acc, l)) in acc.iter_mut().zip(lanes).enumerate() {
                *acc = step(*acc, i + 4 * k, vcvtq_f32_u32(l));
            }
            i += 16;
        }
        vaddvq_f32(vaddq_f32(
            vaddq_f32(acc[0], acc[1]),
            vaddq_f32(acc[2], acc[3]),
        ))
    }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn sq8_dot_neon(weights: &[f32], codes: &[u8]) -> f32 {
    let n = weights.len().min(codes.len());
    let whole = n - n % 16;
    let pw = weights.as_ptr();
    // SAFETY: `sum_u8` passes offsets whose 4 weights end at or below `n`.
    let head = unsafe {
        sum_u8(n, codes.as_ptr(), |acc, j, c| {
            vfmaq_f32(acc, vld1q_f32(pw.add(j)), c)
        })
    };
    head + super::scalar::sq8_dot(&weights[whole..n], &codes[whole..n])
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn sq8_l2_neon(shifted: &[f32], scale: &[f32], codes: &[u8]) -> f32 {
    let n = shifted.len().min(scale.len()).min(codes.len());
    let whole = n - n % 16;
    let (pd, ps) = (shifted.as_ptr(), scale.as_ptr());
    // SAFETY: as in `sq8_dot_neon`.
    let head = unsafe {
        sum_u8(n, codes.as_ptr(), |acc, j, c| {
            let t = vfmsq_f32(vld1q_f32(pd.add(j)), vld1q_f32(ps.add(j)), c);
            vfmaq_f32(acc, t, t)
        })
    };
    head + super::scalar::sq8_l2(&shifted[whole..n], &scale[whole..n], &codes[whole..n])
}
