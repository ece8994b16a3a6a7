//! Every kernel set this CPU runs agrees with the scalar reference: exactly on integer-valued
//! vectors, within rounding on random ones, for every length up to 1100 and unaligned starts.

use covec::internals::kernels::{self, scalar, Kernels};
use proptest::prelude::*;

fn simd_sets() -> Vec<Kernels> {
    kernels::available()
        .into_iter()
        .filter(|k| k.isa() != "scalar")
        .collect()
}

/// Relative error bound for float sums of `n` terms whose magnitudes add to `scale`.
fn close(got: f32, want: f32, scale: f32, n: usize) -> bool {
    let tol = 1e-5 * scale.max(1.0) * (n as f32).sqrt().max(1.0);
    (got - want).abs() <= tol
}

#[test]
fn dispatch_picks_the_best_available_isa() {
    let sets = kernels::available();
    assert_eq!(kernels::isa(), sets[0].isa());
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
    // NEON is part of the aarch64 baseline: an arm machine (or qemu-aarch64) must run it.
    #[cfg(target_arch = "aarch64")]
    assert_eq!(sets[0].isa(), "neon");
}

#[test]
fn integer_vectors_give_exact_results_on_every_isa() {
    for k in kernels::available() {
        for n in [
            0usize, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000,
        ] {
            let a: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| (i % 5) as f32).collect();
            let dot: i64 = (0..n).map(|i| ((i % 7) as i64 - 3) * (i % 5) as i64).sum();
            let l2: i64 = (0..n)
                .map(|i| ((i % 7) as i64 - 3 - (i % 5) as i64).pow(2))
                .sum();
            let norm: i64 = (0..n).map(|i| ((i % 7) as i64 - 3).pow(2)).sum();
            assert_eq!(k.dot(&a, &b), dot as f32, "{} dot n={n}", k.isa());
            assert_eq!(k.l2_squared(&a, &b), l2 as f32, "{} l2 n={n}", k.isa());
            assert_eq!(k.norm_squared(&a), norm as f32, "{} norm n={n}", k.isa());
        }
    }
}

#[test]
fn many_scores_each_row_like_the_pair_kernels() {
    let dim = 19;
    let query: Vec<f32> = (0..dim).map(|i| i as f32).collect();
    let rows: Vec<f32> = (0..dim * 5).map(|i| (i % 11) as f32 - 5.0).collect();
    for k in kernels::available() {
        let mut dots = [f32::NAN; 5];
        let mut l2s = [f32::NAN; 5];
        k.dot_many(&query, &rows, dim, &mut dots);
        k.l2_many(&query, &rows, dim, &mut l2s);
        for (i, row) in rows.chunks_exact(dim).enumerate() {
            assert_eq!(dots[i], scalar::dot(&query, row), "{}", k.isa());
            assert_eq!(l2s[i], scalar::l2_squared(&query, row), "{}", k.isa());
        }
    }
}

#[test]
fn many_with_zero_dim_scores_empty_vectors() {
    let mut out = [f32::NAN; 3];
    kernels::dot_many(&[], &[], 0, &mut out);
    assert_eq!(out, [0.0; 3]);
}

#[test]
fn free_functions_use_the_dispatched_set() {
    let a = [1.0, 2.0, 3.0];
    let b = [4.0, 5.0, 6.0];
    assert_eq!(kernels::dot(&a, &b), 32.0);
    assert_eq!(kernels::l2_squared(&a, &b), 27.0);
    assert_eq!(kernels::norm_squared(&a), 14.0);
    let mut out = [0.0; 1];
    kernels::l2_many(&a, &b, 3, &mut out);
    assert_eq!(out, [27.0]);
}

fn vectors() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, usize, usize)> {
    (0usize..1100, 0usize..16, 0usize..16).prop_flat_map(|(n, off_a, off_b)| {
        (
            prop::collection::vec(-100.0f32..100.0, n + off_a),
            prop::collection::vec(-100.0f32..100.0, n + off_b),
            Just(off_a),
            Just(off_b),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn simd_agrees_with_scalar((a, b, off_a, off_b) in vectors()) {
        // Offsets start the slices off any 64-byte boundary.
        let (a, b) = (&a[off_a..], &b[off_b..]);
        let n = a.len();
        let dot = scalar::dot(a, b);
        let l2 = scalar::l2_squared(a, b);
        let norm = scalar::norm_squared(a);
        let dot_scale: f32 = a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum();
        for k in simd_sets() {
            prop_assert!(close(k.dot(a, b), dot, dot_scale, n), "{} dot {} vs {}", k.isa(), k.dot(a, b), dot);
            prop_assert!(close(k.l2_squared(a, b), l2, l2, n), "{} l2", k.isa());
            prop_assert!(close(k.norm_squared(a), norm, norm, n), "{} norm", k.isa());
            let mut out = [0.0f32; 1];
            k.dot_many(a, b, n, &mut out);
            prop_assert!(close(out[0], dot, dot_scale, n), "{} dot_many", k.isa());
            k.l2_many(a, b, n, &mut out);
            prop_assert!(close(out[0], l2, l2, n), "{} l2_many", k.isa());
        }
    }
}
