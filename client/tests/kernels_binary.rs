//! The binary-vector kernels: every set this CPU runs counts exactly what a bit-by-bit count gives
//! (Hamming, and Jaccard's intersection and union) for lengths up to 600 bytes and unaligned starts,
//! and the Jaccard distance is knowhere's formula.

use covec::internals::kernels::{self, BinaryKernels};
use proptest::prelude::*;

/// (differing bits, bits set in both, bits set in either), one bit at a time.
fn bit_by_bit(a: &[u8], b: &[u8]) -> (u64, u64, u64) {
    let mut counts = (0, 0, 0);
    for (x, y) in a.iter().zip(b) {
        for bit in 0..8 {
            let (p, q) = (x >> bit & 1 == 1, y >> bit & 1 == 1);
            counts.0 += u64::from(p != q);
            counts.1 += u64::from(p && q);
            counts.2 += u64::from(p || q);
        }
    }
    counts
}

fn sets() -> Vec<BinaryKernels> {
    kernels::available_binary()
}

#[test]
fn dispatch_picks_the_best_available_isa() {
    let sets = sets();
    assert_eq!(kernels::dispatched_binary().isa(), sets[0].isa());
    assert_eq!(sets.last().map(|k| k.isa()), Some("scalar"));
    #[cfg(target_arch = "x86_64")]
    {
        let names: Vec<&str> = sets.iter().map(|k| k.isa()).collect();
        assert_eq!(
            names.contains(&"avx512vpopcntdq"),
            is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vpopcntdq")
        );
        assert_eq!(names.contains(&"avx2"), is_x86_feature_detected!("avx2"));
    }
    #[cfg(target_arch = "aarch64")]
    assert_eq!(sets[0].isa(), "neon");
}

#[test]
fn all_ones_against_all_zeros_counts_every_bit() {
    // Long enough to pass NEON's u16 flush (2048 steps of 16 bytes) more than once.
    let n = 3 * 2048 * 16 + 37;
    let (ones, zeros) = (vec![0xffu8; n], vec![0u8; n]);
    let bits = 8 * n as u64;
    for k in sets() {
        assert_eq!(k.hamming(&ones, &zeros), bits, "{}", k.isa());
        assert_eq!(k.hamming(&ones, &ones), 0, "{}", k.isa());
        assert_eq!(k.jaccard_counts(&ones, &ones), (bits, bits), "{}", k.isa());
        assert_eq!(k.jaccard_counts(&ones, &zeros), (0, bits), "{}", k.isa());
    }
}

#[test]
fn jaccard_distance_is_knowhere_s() {
    // {0, 1, 2} against {1, 2, 3}: 2 shared of 4 set.
    assert_eq!(kernels::jaccard(&[0b0111], &[0b1110]), 0.5);
    assert_eq!(kernels::jaccard(&[0b0111], &[0b0111]), 0.0);
    assert_eq!(kernels::jaccard(&[0b0001], &[0b0010]), 1.0);
    // Neither has a bit set: knowhere reports 1, not 0/0.
    assert_eq!(kernels::jaccard(&[0, 0], &[0, 0]), 1.0);
    assert_eq!(kernels::hamming(&[0b1010_1010], &[0b0101_0101]), 8);
}

fn pairs() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, usize, usize)> {
    (0usize..600, 0usize..64, 0usize..64).prop_flat_map(|(n, off_a, off_b)| {
        (
            prop::collection::vec(any::<u8>(), n + off_a),
            prop::collection::vec(any::<u8>(), n + off_b),
            Just(off_a),
            Just(off_b),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_set_counts_exactly((a, b, off_a, off_b) in pairs()) {
        // Offsets start the slices off any 64-byte boundary.
        let (a, b) = (&a[off_a..], &b[off_b..]);
        let (differ, both, either) = bit_by_bit(a, b);
        for k in sets() {
            prop_assert_eq!(k.hamming(a, b), differ, "{} hamming", k.isa());
            prop_assert_eq!(k.jaccard_counts(a, b), (both, either), "{} jaccard", k.isa());
        }
    }
}
