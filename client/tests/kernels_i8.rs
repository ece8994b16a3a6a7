//! The int8 kernels: every SIMD set this CPU runs gives exactly the scalar twin's (and a plain i64
//! sum's) result for lengths up to 1100 and unaligned starts, and all sets saturate identically
//! when the true result leaves i32. `dot_f32_i8` and the SQ8 kernels (`sq8_dot`, `sq8_l2`, unsigned
//! codes against an f32 query) agree within rounding, exactly on small integers.

use covec::internals::kernels::{self, I8Kernels, I8_BLOCK};
use proptest::prelude::*;

fn exact_dot(a: &[i8], b: &[i8]) -> i64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i64::from(x) * i64::from(y))
        .sum()
}

fn exact_l2(a: &[i8], b: &[i8]) -> i64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (i64::from(x) - i64::from(y)).pow(2))
        .sum()
}

#[test]
fn dispatch_picks_the_best_available_isa() {
    let sets = kernels::available_i8();
    assert_eq!(kernels::dispatched_i8().isa(), sets[0].isa());
    assert_eq!(sets.last().map(|k| k.isa()), Some("scalar"));
    #[cfg(target_arch = "x86_64")]
    {
        let names: Vec<&str> = sets.iter().map(|k| k.isa()).collect();
        assert_eq!(
            names.contains(&"avx512bw"),
            is_x86_feature_detected!("avx512bw")
        );
        assert_eq!(names.contains(&"avx2"), is_x86_feature_detected!("avx2"));
    }
    // NEON is part of the aarch64 baseline: an arm machine (or qemu-aarch64) must run it.
    #[cfg(target_arch = "aarch64")]
    assert_eq!(sets[0].isa(), "neon");
}

#[test]
fn extremes_are_exact_up_to_the_documented_lengths() {
    // The largest |term|: 128 * 128 for dot, 255^2 for l2; the stated lengths must not saturate.
    let dot_len = (i32::MAX / (128 * 128)) as usize;
    let l2_len = (i32::MAX / (255 * 255)) as usize;
    assert_eq!((dot_len, l2_len), (131_071, 33_025));
    let lows = vec![i8::MIN; dot_len];
    let highs = vec![i8::MAX; l2_len];
    for k in kernels::available_i8() {
        assert_eq!(
            i64::from(k.dot_i8(&lows, &lows)),
            exact_dot(&lows, &lows),
            "{}",
            k.isa()
        );
        assert_eq!(
            i64::from(k.l2_squared_i8(&highs, &lows[..l2_len])),
            exact_l2(&highs, &lows[..l2_len]),
            "{}",
            k.isa()
        );
    }
}

#[test]
fn results_beyond_i32_saturate_on_every_isa() {
    // 5 blocks: 163840 * 128 * 128 and 163840 * 255^2 both exceed i32::MAX.
    let n = 5 * I8_BLOCK;
    let lows = vec![i8::MIN; n];
    let highs = vec![i8::MAX; n];
    for k in kernels::available_i8() {
        assert_eq!(k.dot_i8(&lows, &lows), i32::MAX, "{} dot", k.isa());
        assert_eq!(
            k.dot_i8(&lows, &highs),
            i32::MIN,
            "{} negative dot",
            k.isa()
        );
        assert_eq!(k.l2_squared_i8(&highs, &lows), i32::MAX, "{} l2", k.isa());
    }
}

#[test]
fn free_functions_use_the_dispatched_set() {
    assert_eq!(kernels::dot_i8(&[1, -2, 3], &[4, 5, -6]), -24);
    assert_eq!(
        kernels::l2_squared_i8(&[1, -2, 3], &[4, 5, -6]),
        9 + 49 + 81
    );
    assert_eq!(kernels::dot_i8(&[], &[]), 0);
    assert_eq!(
        kernels::dot_f32_i8(&[0.5, -2.0, 1.0], &[4, 5, -128]),
        -136.0
    );
}

#[test]
fn dot_f32_i8_is_exact_on_small_integer_queries() {
    // Every partial sum stays below 2^24, so f32 holds it exactly in any order.
    for n in [0usize, 1, 7, 8, 15, 16, 17, 63, 64, 65, 100, 1000] {
        let q: Vec<f32> = (0..n).map(|i| (i % 9) as f32 - 4.0).collect();
        let c: Vec<i8> = (0..n).map(|i| (i * 37 % 256) as u8 as i8).collect();
        let want: i64 = (0..n).map(|i| ((i % 9) as i64 - 4) * i64::from(c[i])).sum();
        for k in kernels::available_i8() {
            assert_eq!(k.dot_f32_i8(&q, &c), want as f32, "{} n={n}", k.isa());
        }
    }
}

#[test]
fn sq8_kernels_are_exact_on_small_integer_inputs() {
    // Every partial sum stays below 2^24 (l2: 200 terms of at most 259^2), so f32 holds it exactly
    // in any order; codes cover 0..=255, the unsigned range i8 kernels never see.
    for n in [
        0usize, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 200,
    ] {
        let w: Vec<f32> = (0..n).map(|i| (i % 9) as f32 - 4.0).collect();
        let s: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
        let c: Vec<u8> = (0..n).map(|i| (i * 37 % 256) as u8).collect();
        let dot: i64 = (0..n).map(|i| ((i % 9) as i64 - 4) * i64::from(c[i])).sum();
        let l2: i64 = (0..n)
            .map(|i| ((i % 9) as i64 - 4 - (i % 2) as i64 * i64::from(c[i])).pow(2))
            .sum();
        for k in kernels::available_i8() {
            assert_eq!(k.sq8_dot(&w, &c), dot as f32, "{} dot n={n}", k.isa());
            assert_eq!(k.sq8_l2(&w, &s, &c), l2 as f32, "{} l2 n={n}", k.isa());
        }
    }
}

fn vectors() -> impl Strategy<Value = (Vec<i8>, Vec<i8>, usize, usize)> {
    (0usize..1100, 0usize..32, 0usize..32).prop_flat_map(|(n, off_a, off_b)| {
        (
            prop::collection::vec(any::<i8>(), n + off_a),
            prop::collection::vec(any::<i8>(), n + off_b),
            Just(off_a),
            Just(off_b),
        )
    })
}

fn every_set() -> Vec<I8Kernels> {
    kernels::available_i8()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn dot_f32_i8_agrees_with_scalar(
        (q, c, off) in (0usize..1100, 0usize..32).prop_flat_map(|(n, off)| (
            prop::collection::vec(-100.0f32..100.0, n + off),
            prop::collection::vec(any::<i8>(), n + off),
            Just(off),
        ))
    ) {
        let (q, c) = (&q[off..], &c[off..]);
        let sets = every_set();
        let scalar = sets.last().map(|k| k.dot_f32_i8(q, c));
        let scale: f32 = q.iter().zip(c).map(|(x, &y)| (x * f32::from(y)).abs()).sum();
        let tol = 1e-5 * scale.max(1.0) * (q.len() as f32).sqrt().max(1.0);
        for k in &sets {
            let got = k.dot_f32_i8(q, c);
            prop_assert!(scalar.is_some_and(|s| (got - s).abs() <= tol), "{} {got} vs {scalar:?}", k.isa());
        }
    }

    #[test]
    fn sq8_kernels_agree_with_scalar(
        (d, s, c, off) in (0usize..1100, 0usize..32).prop_flat_map(|(n, off)| (
            prop::collection::vec(-2.0f32..2.0, n + off),
            prop::collection::vec(0.0f32..0.02, n + off),
            prop::collection::vec(any::<u8>(), n + off),
            Just(off),
        ))
    ) {
        // The offset starts the slices off any 64-byte boundary.
        let (d, s, c) = (&d[off..], &s[off..], &c[off..]);
        let sets = every_set();
        let scalar = sets.last().map(|k| (k.sq8_dot(d, c), k.sq8_l2(d, s, c)));
        let dot_scale: f32 = d.iter().zip(c).map(|(x, &y)| (x * f32::from(y)).abs()).sum();
        let l2_scale: f32 = (0..c.len()).map(|j| (d[j] - s[j] * f32::from(c[j])).powi(2)).sum();
        let tol = |scale: f32| 1e-5 * scale.max(1.0) * (c.len() as f32).sqrt().max(1.0);
        for k in &sets {
            let (dot, l2) = (k.sq8_dot(d, c), k.sq8_l2(d, s, c));
            prop_assert!(scalar.is_some_and(|(sd, _)| (dot - sd).abs() <= tol(dot_scale)), "{} dot {dot} vs {scalar:?}", k.isa());
            prop_assert!(scalar.is_some_and(|(_, sl)| (l2 - sl).abs() <= tol(l2_scale)), "{} l2 {l2} vs {scalar:?}", k.isa());
        }
    }

    #[test]
    fn every_isa_is_exact((a, b, off_a, off_b) in vectors()) {
        // Offsets start the slices off any 64-byte boundary.
        let (a, b) = (&a[off_a..], &b[off_b..]);
        let dot = exact_dot(a, b);
        let l2 = exact_l2(a, b);
        for k in every_set() {
            prop_assert_eq!(i64::from(k.dot_i8(a, b)), dot, "{} dot", k.isa());
            prop_assert_eq!(i64::from(k.l2_squared_i8(a, b)), l2, "{} l2", k.isa());
        }
    }
}
