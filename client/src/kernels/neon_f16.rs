//! aarch64 float16 and bfloat16 kernels: NEON, 4 lanes x 4 accumulators. A bfloat16 is the top half
//! of an f32, so it widens by a shift (`vshll_n_u16`). Stable Rust has no `float16x4_t`, so
//! halves are widened with integer NEON, the same steps as `scalar::f16_to_f32` (whose exhaustive
//! test checks them) computed for every class and selected per lane. Integer-only, so a
//! flush-to-zero FPCR cannot lose subnormal halves. Encoding to f16 uses the scalar twin. Tails are copied into a zeroed buffer; zero lanes add
//! nothing. NEON is part of the aarch64 base ISA; the functions are still `unsafe` with
//! `target_feature` so the dispatch table treats every SIMD path alike.

use std::arch::aarch64::*;

use super::{as_bf16, scalar, Bf16, Bf16Kernels, F16Kernels};

pub const NEON: F16Kernels = F16Kernels {
    isa: "neon",
    dot: dot_neon,
    l2_squared: l2_neon,
    dot_f32: dot_f32_neon,
    l2_squared_f32: l2_f32_neon,
    encode: scalar::f32_to_f16_slice,
};

pub const NEON_BF16: Bf16Kernels = Bf16Kernels {
    isa: "neon",
    dot: dot_bf16_neon,
    l2_squared: l2_bf16_neon,
    dot_f32: dot_f32_bf16_neon,
    l2_squared_f32: l2_f32_bf16_neon,
};

/// An element type the kernels widen to 4 f32 lanes: `u16` (binary16 bits), [`Bf16`] or `f32`.
trait Widen: Copy + Default {
    /// # Safety
    /// `p` must be valid for 4 reads of `Self`.
    unsafe fn load4(p: *const Self) -> float32x4_t;
}

impl Widen for u16 {
    /// `scalar::f16_to_f32` on 4 lanes.
    #[inline(always)]
    unsafe fn load4(p: *const u16) -> float32x4_t {
        // SAFETY: the caller's contract; register-only arithmetic after the load.
        unsafe {
            let w = vmovl_u16(vld1_u16(p));
            let sign = vshlq_n_u32::<16>(vandq_u32(w, vdupq_n_u32(0x8000)));
            let exp = vandq_u32(vshrq_n_u32::<10>(w), vdupq_n_u32(0x1f));
            let mant = vandq_u32(w, vdupq_n_u32(0x03ff));
            let mant_hi = vshlq_n_u32::<13>(mant);
            let normal = vorrq_u32(vshlq_n_u32::<23>(vaddq_u32(exp, vdupq_n_u32(112))), mant_hi);
            let shift = vsubq_u32(vclzq_u32(vorrq_u32(mant, vdupq_n_u32(1))), vdupq_n_u32(21));
            let moved = vandq_u32(
                vshlq_u32(mant, vreinterpretq_s32_u32(shift)),
                vdupq_n_u32(0x03ff),
            );
            let subnormal = vorrq_u32(
                vshlq_n_u32::<23>(vsubq_u32(vdupq_n_u32(113), shift)),
                vshlq_n_u32::<13>(moved),
            );
            // A zero mantissa with a zero exponent is zero: mask the subnormal pattern away.
            let subnormal = vandq_u32(subnormal, vtstq_u32(mant, mant));
            let special = vorrq_u32(mant_hi, vdupq_n_u32(0x7f80_0000));
            let bits = vbslq_u32(
                vceqq_u32(exp, vdupq_n_u32(31)),
                special,
                vbslq_u32(vceqq_u32(exp, vdupq_n_u32(0)), subnormal, normal),
            );
            vreinterpretq_f32_u32(vorrq_u32(bits, sign))
        }
    }
}

impl Widen for Bf16 {
    #[inline(always)]
    unsafe fn load4(p: *const Bf16) -> float32x4_t {
        // SAFETY: the caller's contract; 4 u16 are the 8 bytes read.
        unsafe { vreinterpretq_f32_u32(vshll_n_u16::<16>(vld1_u16(p.cast()))) }
    }
}

impl Widen for f32 {
    #[inline(always)]
    unsafe fn load4(p: *const f32) -> float32x4_t {
        // SAFETY: the caller's contract.
        unsafe { vld1q_f32(p) }
    }
}

/// `sum(term(a[i], b[i]))` over the common prefix, where `step(acc, x, y)` folds 4 lanes.
#[inline(always)]
unsafe fn reduce128<A: Widen, B: Widen>(
    a: &[A],
    b: &[B],
    step: impl Fn(float32x4_t, float32x4_t, float32x4_t) -> float32x4_t,
) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY (whole body): every load reads 4 elements ending at or below `n`, or from a local
    // 4-element buffer.
    unsafe {
        let mut acc = [vdupq_n_f32(0.0); 4];
        let mut i = 0;
        while i + 16 <= n {
            for (k, acc) in acc.iter_mut().enumerate() {
                *acc = step(
                    *acc,
                    A::load4(pa.add(i + 4 * k)),
                    B::load4(pb.add(i + 4 * k)),
                );
            }
            i += 16;
        }
        while i + 4 <= n {
            acc[0] = step(acc[0], A::load4(pa.add(i)), B::load4(pb.add(i)));
            i += 4;
        }
        if i < n {
            let mut ta = [A::default(); 4];
            let mut tb = [B::default(); 4];
            ta[..n - i].copy_from_slice(&a[i..n]);
            tb[..n - i].copy_from_slice(&b[i..n]);
            acc[1] = step(acc[1], A::load4(ta.as_ptr()), B::load4(tb.as_ptr()));
        }
        vaddvq_f32(vaddq_f32(
            vaddq_f32(acc[0], acc[1]),
            vaddq_f32(acc[2], acc[3]),
        ))
    }
}

#[inline(always)]
unsafe fn dot128<A: Widen, B: Widen>(a: &[A], b: &[B]) -> f32 {
    // SAFETY: the caller guarantees NEON.
    unsafe { reduce128(a, b, |acc, x, y| vfmaq_f32(acc, x, y)) }
}

#[inline(always)]
unsafe fn l2_128<A: Widen, B: Widen>(a: &[A], b: &[B]) -> f32 {
    // SAFETY: the caller guarantees NEON.
    unsafe {
        reduce128(a, b, |acc, x, y| {
            let d = vsubq_f32(x, y);
            vfmaq_f32(acc, d, d)
        })
    }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn dot_neon(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot128(a, b) }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn l2_neon(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_128(a, b) }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn dot_f32_neon(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot128(query, row) }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn l2_f32_neon(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_128(query, row) }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn dot_bf16_neon(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot128(as_bf16(a), as_bf16(b)) }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn l2_bf16_neon(a: &[u16], b: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_128(as_bf16(a), as_bf16(b)) }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn dot_f32_bf16_neon(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { dot128(query, as_bf16(row)) }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn l2_f32_bf16_neon(query: &[f32], row: &[u16]) -> f32 {
    // SAFETY: the caller's contract.
    unsafe { l2_128(query, as_bf16(row)) }
}
