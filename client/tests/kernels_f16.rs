//! The float16 kernels: the scalar conversion is exact for all 65536 half bit patterns, encoding
//! rounds to nearest even and round-trips, and every SIMD set this CPU runs agrees with the scalar
//! twin (conversions bit for bit, sums within rounding) for lengths up to 1100 and unaligned starts.

use covec::internals::kernels::{self, scalar, F16Kernels};
use proptest::prelude::*;

fn simd_sets() -> Vec<F16Kernels> {
    kernels::available_f16()
        .into_iter()
        .filter(|k| k.isa() != "scalar")
        .collect()
}

/// binary16 decoded by its defining formula, in f64 (which holds every half exactly).
fn reference_value(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let mant = f64::from(h & 0x3ff);
    match exp {
        0 => sign * mant * 2f64.powi(-24),
        31 if mant == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + mant / 1024.0) * 2f64.powi(exp - 15),
    }
}

#[test]
fn scalar_conversion_is_exact_for_every_half() {
    for h in 0..=u16::MAX {
        let got = scalar::f16_to_f32(h);
        let want = reference_value(h);
        if want.is_nan() {
            assert!(got.is_nan(), "{h:#06x} -> {got}");
            // Sign and payload survive, shifted into the top of the f32 mantissa.
            assert_eq!(got.to_bits() >> 31, u32::from(h >> 15), "{h:#06x} sign");
            assert_eq!(
                got.to_bits() & 0x7f_ffff,
                u32::from(h & 0x3ff) << 13,
                "{h:#06x}"
            );
        } else {
            assert_eq!(f64::from(got), want, "{h:#06x}");
            assert_eq!(got.is_sign_negative(), h & 0x8000 != 0, "{h:#06x} sign");
        }
    }
}

#[test]
fn every_half_round_trips_through_f32() {
    for h in 0..=u16::MAX {
        let back = scalar::f32_to_f16(scalar::f16_to_f32(h));
        if h & 0x7c00 == 0x7c00 && h & 0x3ff != 0 {
            // NaN comes back as a quiet NaN with the same sign and payload.
            assert_eq!(back, h | 0x0200, "{h:#06x}");
        } else {
            assert_eq!(back, h, "{h:#06x}");
        }
    }
}

#[test]
fn simd_widening_matches_scalar_for_every_half() {
    let all: Vec<u16> = (0..=u16::MAX).collect();
    for k in simd_sets() {
        for &h in &all {
            // One term with a 1.0 query: the kernel's result is its widened half.
            let got = k.dot_f32_f16(&[1.0], &[h]);
            let want = scalar::f16_to_f32(h);
            assert!(
                got == want || (got.is_nan() && want.is_nan()),
                "{} {h:#06x}: {got} vs {want}",
                k.isa()
            );
        }
    }
}

#[test]
fn encoding_rounds_to_nearest_even() {
    let cases: [(f32, u16); 12] = [
        (1.0, 0x3c00),
        (-2.0, 0xc000),
        (65504.0, 0x7bff),
        (65519.0, 0x7bff), // below the midpoint to 65536: stays finite
        (65520.0, 0x7c00), // the midpoint rounds to even, which is infinity
        (1e9, 0x7c00),
        (f32::NEG_INFINITY, 0xfc00),
        (2f32.powi(-24), 0x0001),       // smallest subnormal
        (2f32.powi(-25), 0x0000),       // half of it: tie, to even (zero)
        (1.5 * 2f32.powi(-24), 0x0002), // tie between 1 and 2 units: to even
        (1.0 + 2f32.powi(-11), 0x3c00), // tie between 1.0 and the next half: to even
        (-0.0, 0x8000),
    ];
    for (x, want) in cases {
        assert_eq!(scalar::f32_to_f16(x), want, "{x:e}");
        for k in kernels::available_f16() {
            let src = [x; 17];
            let mut dst = [0u16; 17];
            k.f32_to_f16_slice(&src, &mut dst);
            assert_eq!(dst, [want; 17], "{} {x:e}", k.isa());
        }
    }
}

#[test]
fn simd_encoding_matches_scalar_bit_for_bit_near_every_half() {
    // Each half, the f32 one unit either side of it, and the f32 halfway to the next half up (a
    // rounding tie): covers subnormals, overflow, ties and NaN payloads.
    let src: Vec<f32> = (0..=u16::MAX)
        .flat_map(|h| {
            let bits = scalar::f16_to_f32(h).to_bits();
            [
                bits,
                bits.wrapping_sub(1),
                bits.wrapping_add(1),
                bits.wrapping_add(0x1000),
            ]
        })
        .map(f32::from_bits)
        .collect();
    let mut want = vec![0u16; src.len()];
    scalar::f32_to_f16_slice(&src, &mut want);
    for k in simd_sets() {
        let mut got = vec![0u16; src.len()];
        k.f32_to_f16_slice(&src, &mut got);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{} {:#010x}", k.isa(), src[i].to_bits());
        }
    }
}

#[test]
fn dispatch_picks_the_best_available_isa() {
    let sets = kernels::available_f16();
    assert_eq!(kernels::dispatched_f16().isa(), sets[0].isa());
    assert_eq!(sets.last().map(|k| k.isa()), Some("scalar"));
    #[cfg(target_arch = "x86_64")]
    {
        let names: Vec<&str> = sets.iter().map(|k| k.isa()).collect();
        assert_eq!(
            names.contains(&"avx512f"),
            is_x86_feature_detected!("avx512f")
        );
        assert_eq!(
            names.contains(&"avx2+fma+f16c"),
            is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c")
        );
    }
    // NEON is part of the aarch64 baseline: an arm machine (or qemu-aarch64) must run it.
    #[cfg(target_arch = "aarch64")]
    assert_eq!(sets[0].isa(), "neon");
}

#[test]
fn free_functions_use_the_dispatched_set() {
    let (one, two, three) = (0x3c00, 0x4000, 0x4200);
    assert_eq!(kernels::dot_f16(&[one, two], &[three, one]), 5.0);
    assert_eq!(kernels::l2_squared_f16(&[one, two], &[three, one]), 5.0);
    assert_eq!(kernels::dot_f32_f16(&[0.5, 4.0], &[two, three]), 13.0);
    assert_eq!(
        kernels::l2_squared_f32_f16(&[0.5, 4.0], &[two, three]),
        3.25
    );
    let mut dst = [0u16; 3];
    kernels::f32_to_f16_slice(&[1.0, 2.0, 3.0], &mut dst);
    assert_eq!(dst, [one, two, three]);
}

/// Relative error bound for float sums of `n` terms whose magnitudes add to `scale`.
fn close(got: f32, want: f32, scale: f32, n: usize) -> bool {
    let tol = 1e-5 * scale.max(1.0) * (n as f32).sqrt().max(1.0);
    (got - want).abs() <= tol
}

fn halves(len: usize) -> impl Strategy<Value = Vec<u16>> {
    prop::collection::vec(-100.0f32..100.0, len)
        .prop_map(|v| v.iter().map(|&x| scalar::f32_to_f16(x)).collect())
}

fn vectors() -> impl Strategy<Value = (Vec<f32>, Vec<u16>, Vec<u16>, usize, usize)> {
    (0usize..1100, 0usize..16, 0usize..16).prop_flat_map(|(n, off_a, off_b)| {
        (
            prop::collection::vec(-100.0f32..100.0, n + off_a),
            halves(n + off_a),
            halves(n + off_b),
            Just(off_a),
            Just(off_b),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn simd_agrees_with_scalar((q, a, b, off_a, off_b) in vectors()) {
        // Offsets start the slices off any 64-byte boundary.
        let (q, a, b) = (&q[off_a..], &a[off_a..], &b[off_b..]);
        let n = a.len();
        let wa: Vec<f32> = a.iter().map(|&h| scalar::f16_to_f32(h)).collect();
        let wb: Vec<f32> = b.iter().map(|&h| scalar::f16_to_f32(h)).collect();
        let dot = scalar::dot_f16(a, b);
        let l2 = scalar::l2_squared_f16(a, b);
        let qdot = scalar::dot_f32_f16(q, b);
        let ql2 = scalar::l2_squared_f32_f16(q, b);
        let dot_scale: f32 = wa.iter().zip(&wb).map(|(x, y)| (x * y).abs()).sum();
        let qdot_scale: f32 = q.iter().zip(&wb).map(|(x, y)| (x * y).abs()).sum();
        let mut want_enc = vec![0u16; n];
        scalar::f32_to_f16_slice(q, &mut want_enc);
        for k in simd_sets() {
            prop_assert!(close(k.dot_f16(a, b), dot, dot_scale, n), "{} dot {} vs {}", k.isa(), k.dot_f16(a, b), dot);
            prop_assert!(close(k.l2_squared_f16(a, b), l2, l2, n), "{} l2", k.isa());
            prop_assert!(close(k.dot_f32_f16(q, b), qdot, qdot_scale, n), "{} dot_f32_f16", k.isa());
            prop_assert!(close(k.l2_squared_f32_f16(q, b), ql2, ql2, n), "{} l2_f32_f16", k.isa());
            let mut enc = vec![0u16; n];
            k.f32_to_f16_slice(q, &mut enc);
            prop_assert_eq!(&enc, &want_enc, "{} encode", k.isa());
        }
    }

    #[test]
    fn encoding_picks_the_nearest_half(x in prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO) {
        let h = scalar::f32_to_f16(x);
        let got = f64::from(scalar::f16_to_f32(h));
        let x = f64::from(x);
        if got.is_infinite() {
            // Overflow: at or past the midpoint between the largest half (65504) and 65536.
            prop_assert!(x.abs() >= 65520.0, "{x:e} -> {h:#06x}");
            return Ok(());
        }
        // Neither neighbour of `h` (one unit either way, same sign) is strictly closer to `x`.
        for neighbour in [h.wrapping_sub(1), h.wrapping_add(1)] {
            let v = f64::from(scalar::f16_to_f32(neighbour));
            if (neighbour ^ h) & 0x8000 == 0 && !v.is_nan() {
                prop_assert!((got - x).abs() <= (v - x).abs(), "{x:e} -> {h:#06x} but {neighbour:#06x} is closer");
            }
        }
    }
}
