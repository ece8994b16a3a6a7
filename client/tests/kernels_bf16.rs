//! The bfloat16 kernels: widening is exact for all 65536 patterns on every path, encoding rounds to
//! nearest even (ties, overflow, NaN), every pattern round-trips, and every SIMD set this CPU runs
//! agrees with the scalar twin within rounding for lengths up to 1100 and unaligned starts.

use covec::internals::kernels::{self, scalar, Bf16Kernels};
use proptest::prelude::*;

fn simd_sets() -> Vec<Bf16Kernels> {
    kernels::available_bf16()
        .into_iter()
        .filter(|k| k.isa() != "scalar")
        .collect()
}

/// bfloat16 decoded by its definition (sign, 8 exponent bits with bias 127, 7 mantissa bits), in f64.
fn reference_value(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 7) & 0xff);
    let mant = f64::from(h & 0x7f);
    match exp {
        0 => sign * mant * 2f64.powi(-133),
        255 if mant == 0.0 => sign * f64::INFINITY,
        255 => f64::NAN,
        _ => sign * (1.0 + mant / 128.0) * 2f64.powi(exp - 127),
    }
}

#[test]
fn widening_is_exact_for_every_pattern_on_every_path() {
    for h in 0..=u16::MAX {
        let want = reference_value(h);
        let scalar_value = scalar::bf16_to_f32(h);
        if want.is_nan() {
            assert!(scalar_value.is_nan(), "{h:#06x}");
        } else {
            assert_eq!(f64::from(scalar_value), want, "{h:#06x}");
        }
        for k in simd_sets() {
            // One term with a 1.0 query: the kernel's result is its widened value.
            let got = k.dot_f32_bf16(&[1.0], &[h]);
            assert!(
                got == scalar_value || (got.is_nan() && want.is_nan()),
                "{} {h:#06x}: {got} vs {scalar_value}",
                k.isa()
            );
        }
    }
}

#[test]
fn every_pattern_round_trips_through_f32() {
    for h in 0..=u16::MAX {
        let back = scalar::f32_to_bf16(scalar::bf16_to_f32(h));
        if h & 0x7f80 == 0x7f80 && h & 0x7f != 0 {
            // NaN comes back quiet, with its sign and payload.
            assert_eq!(back, h | 0x0040, "{h:#06x}");
        } else {
            assert_eq!(back, h, "{h:#06x}");
        }
    }
}

#[test]
fn encoding_rounds_to_nearest_even() {
    let cases: [(f32, u16); 10] = [
        (1.0, 0x3f80),
        (-2.0, 0xc000),
        (1.0 + 2f32.powi(-8), 0x3f80), // tie between 1.0 and the next: to even (1.0)
        (1.0 + 3.0 * 2f32.powi(-8), 0x3f82), // tie between 0x3f81 and 0x3f82: to even
        (1.0 + 2f32.powi(-8) + 2f32.powi(-20), 0x3f81), // just above the tie
        (f32::MAX, 0x7f80),            // rounds up past the largest bfloat16
        (f32::NEG_INFINITY, 0xff80),
        (f32::from_bits(1), 0x0000), // the smallest subnormal f32 rounds to zero
        (-0.0, 0x8000),
        (f32::from_bits(0x7f80_0001), 0x7fc0), // a signalling NaN stays a NaN, quieted
    ];
    for (x, want) in cases {
        assert_eq!(
            scalar::f32_to_bf16(x),
            want,
            "{x:e} ({:#010x})",
            x.to_bits()
        );
    }
    let mut dst = [0u16; 3];
    kernels::f32_to_bf16_slice(&[1.0, -2.0, 0.5], &mut dst);
    assert_eq!(dst, [0x3f80, 0xc000, 0x3f00]);
}

#[test]
fn dispatch_picks_the_best_available_isa() {
    let sets = kernels::available_bf16();
    assert_eq!(kernels::dispatched_bf16().isa(), sets[0].isa());
    assert_eq!(sets.last().map(|k| k.isa()), Some("scalar"));
    #[cfg(target_arch = "x86_64")]
    {
        let names: Vec<&str> = sets.iter().map(|k| k.isa()).collect();
        assert_eq!(
            names.contains(&"avx512f"),
            is_x86_feature_detected!("avx512f")
        );
        assert_eq!(
            names.contains(&"avx2+fma"),
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        );
    }
    #[cfg(target_arch = "aarch64")]
    assert_eq!(sets[0].isa(), "neon");
}

#[test]
fn free_functions_use_the_dispatched_set() {
    let (one, two, three) = (0x3f80, 0x4000, 0x4040);
    assert_eq!(kernels::dot_bf16(&[one, two], &[three, one]), 5.0);
    assert_eq!(kernels::l2_squared_bf16(&[one, two], &[three, one]), 5.0);
    assert_eq!(kernels::dot_f32_bf16(&[0.5, 4.0], &[two, three]), 13.0);
    assert_eq!(
        kernels::l2_squared_f32_bf16(&[0.5, 4.0], &[two, three]),
        3.25
    );
}

/// Relative error bound for float sums of `n` terms whose magnitudes add to `scale`.
fn close(got: f32, want: f32, scale: f32, n: usize) -> bool {
    let tol = 1e-5 * scale.max(1.0) * (n as f32).sqrt().max(1.0);
    (got - want).abs() <= tol
}

fn bf16s(len: usize) -> impl Strategy<Value = Vec<u16>> {
    prop::collection::vec(-100.0f32..100.0, len)
        .prop_map(|v| v.iter().map(|&x| scalar::f32_to_bf16(x)).collect())
}

fn vectors() -> impl Strategy<Value = (Vec<f32>, Vec<u16>, Vec<u16>, usize, usize)> {
    (0usize..1100, 0usize..16, 0usize..16).prop_flat_map(|(n, off_a, off_b)| {
        (
            prop::collection::vec(-100.0f32..100.0, n + off_a),
            bf16s(n + off_a),
            bf16s(n + off_b),
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
        let wa: Vec<f32> = a.iter().map(|&h| scalar::bf16_to_f32(h)).collect();
        let wb: Vec<f32> = b.iter().map(|&h| scalar::bf16_to_f32(h)).collect();
        let dot = scalar::dot_bf16(a, b);
        let l2 = scalar::l2_squared_bf16(a, b);
        let qdot = scalar::dot_f32_bf16(q, b);
        let ql2 = scalar::l2_squared_f32_bf16(q, b);
        // The scalar twin against the plain definition over the widened values.
        let plain: f32 = wa.iter().zip(&wb).map(|(x, y)| x * y).sum();
        let dot_scale: f32 = wa.iter().zip(&wb).map(|(x, y)| (x * y).abs()).sum();
        let qdot_scale: f32 = q.iter().zip(&wb).map(|(x, y)| (x * y).abs()).sum();
        prop_assert!(close(dot, plain, dot_scale, n), "scalar dot {dot} vs {plain}");
        for k in simd_sets() {
            prop_assert!(close(k.dot_bf16(a, b), dot, dot_scale, n), "{} dot", k.isa());
            prop_assert!(close(k.l2_squared_bf16(a, b), l2, l2, n), "{} l2", k.isa());
            prop_assert!(close(k.dot_f32_bf16(q, b), qdot, qdot_scale, n), "{} dot_f32_bf16", k.isa());
            prop_assert!(close(k.l2_squared_f32_bf16(q, b), ql2, ql2, n), "{} l2_f32_bf16", k.isa());
        }
    }

    #[test]
    fn encoding_picks_the_nearest_value(x in prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO) {
        let h = scalar::f32_to_bf16(x);
        let got = f64::from(scalar::bf16_to_f32(h));
        let x = f64::from(x);
        if got.is_infinite() {
            // Overflow: at or past the midpoint between the largest bfloat16 and 2^128.
            prop_assert!(x.abs() >= (2.0 - 2f64.powi(-8)) * 2f64.powi(127), "{x:e} -> {h:#06x}");
            return Ok(());
        }
        for neighbour in [h.wrapping_sub(1), h.wrapping_add(1)] {
            let v = f64::from(scalar::bf16_to_f32(neighbour));
            if (neighbour ^ h) & 0x8000 == 0 && !v.is_nan() {
                prop_assert!((got - x).abs() <= (v - x).abs(), "{x:e} -> {h:#06x} but {neighbour:#06x} is closer");
            }
        }
    }
}
