//! Sparse vectors are checked as Milvus checks them, with its messages and code 6, and
//! `drop_ratio_search` drops terms as knowhere does.

use covec::internals::sparse::{drop_small_terms, SparseRef, SparseVector, MAX_INDEX};
use covec::Error;
use proptest::prelude::*;

fn message(e: Error) -> String {
    assert!(matches!(e, Error::Invalid { code: 6, .. }), "{e:?}");
    e.to_string()
}

#[test]
fn indices_must_lie_in_0_to_2_pow_32_minus_2() {
    let top = i64::from(MAX_INDEX);
    assert_eq!(top, (1i64 << 32) - 2);
    let ok = SparseVector::from_pairs([(0, 1.0), (top, 2.0)]).unwrap();
    assert_eq!(ok.indices(), &[0, MAX_INDEX]);
    for bad in [-1, top + 1, 1 << 40] {
        let m = message(SparseVector::from_pairs([(bad, 1.0)]).unwrap_err());
        assert!(
            m.starts_with("invalid index in sparse float vector: must be less than 2^32-1"),
            "{m}"
        );
        assert!(
            m.contains(&bad.to_string()) && m.contains("use dimensions 0 to 4294967294"),
            "{m}"
        );
    }
    let m = message(SparseVector::new(vec![u32::MAX], vec![1.0]).unwrap_err());
    assert!(m.contains("must be less than 2^32-1"), "{m}");
}

#[test]
fn values_must_be_finite_float32_and_not_negative() {
    let m = message(SparseVector::from_pairs([(3, f64::NAN)]).unwrap_err());
    assert!(
        m.starts_with("sparse vector value must not be NaN (dimension 3)"),
        "{m}"
    );
    for inf in [f64::INFINITY, f64::NEG_INFINITY, 1e39] {
        let m = message(SparseVector::from_pairs([(3, inf)]).unwrap_err());
        assert!(m.contains("is not a finite float32"), "{inf}: {m}");
    }
    let m = message(SparseVector::from_pairs([(7, -0.5)]).unwrap_err());
    assert!(
        m.starts_with("negative value in sparse float vector: dimension 7 has -0.5"),
        "{m}"
    );
    // Zero is a valid value (Milvus keeps it); so is the largest float32.
    let v = SparseVector::from_pairs([(1, 0.0), (2, f64::from(f32::MAX))]).unwrap();
    assert_eq!(v.values(), &[0.0, f32::MAX]);
}

#[test]
fn indices_are_sorted_from_pairs_but_must_be_unique() {
    let v = SparseVector::from_pairs([(9, 0.9), (1, 0.1), (5, 0.5)]).unwrap();
    assert_eq!(
        (v.indices(), v.values()),
        (&[1, 5, 9][..], &[0.1, 0.5, 0.9][..])
    );
    let m = message(SparseVector::from_pairs([(4, 1.0), (4, 2.0)]).unwrap_err());
    assert!(
        m.starts_with(
            "unsorted or same indices in sparse float vector: dimension 4 is given twice"
        ),
        "{m}"
    );
    for (indices, what) in [
        (vec![5, 1], "index 1 follows 5"),
        (vec![2, 2], "index 2 follows 2"),
    ] {
        let m = message(SparseVector::new(indices, vec![1.0, 1.0]).unwrap_err());
        assert!(
            m.starts_with("unsorted or same indices in sparse float vector"),
            "{m}"
        );
        assert!(m.contains(what), "{m}");
    }
    let m = message(SparseRef::new(&[1, 2], &[1.0]).unwrap_err());
    assert!(
        m.contains("length of indices and values must be the same, got 2 and 1"),
        "{m}"
    );
}

#[test]
fn empty_vectors_are_valid() {
    let empty = SparseVector::from_pairs(std::iter::empty()).unwrap();
    assert!(empty.is_empty());
    assert_eq!(SparseVector::from_milvus_bytes(&[]).unwrap(), empty);
    assert!(empty.to_milvus_bytes().is_empty());
}

#[test]
fn milvus_row_bytes_round_trip_and_are_checked() {
    let v = SparseVector::new(vec![1, 1000, MAX_INDEX], vec![0.25, 2.0, 0.0]).unwrap();
    let bytes = v.to_milvus_bytes();
    assert_eq!(bytes.len(), 24);
    assert_eq!(&bytes[..8], &[1, 0, 0, 0, 0, 0, 0x80, 0x3e]);
    assert_eq!(SparseVector::from_milvus_bytes(&bytes).unwrap(), v);
    let m = message(SparseVector::from_milvus_bytes(&bytes[..20]).unwrap_err());
    assert!(
        m.starts_with("invalid data length in sparse float vector: 20"),
        "{m}"
    );
    let mut swapped = bytes.clone();
    swapped.copy_within(8..16, 0);
    let m = message(SparseVector::from_milvus_bytes(&swapped).unwrap_err());
    assert!(m.contains("unsorted or same indices"), "{m}");
    let mut negative = bytes;
    negative[4..8].copy_from_slice(&(-1.0f32).to_le_bytes());
    let m = message(SparseVector::from_milvus_bytes(&negative).unwrap_err());
    assert!(m.contains("negative value"), "{m}");
}

#[test]
fn drop_ratio_search_follows_knowhere() {
    let q = SparseVector::new(vec![1, 2, 3, 4, 5], vec![0.5, 0.1, 0.3, 0.1, 0.9]).unwrap();
    // floor(0.1 * 5) = 0: nothing dropped.
    assert_eq!(drop_small_terms(&q, 0.1).unwrap(), q);
    assert_eq!(drop_small_terms(&q, 0.0).unwrap(), q);
    // floor(0.4 * 5) = 2: the threshold is the third smallest, 0.3; 0.1 and 0.1 go.
    let kept = drop_small_terms(&q, 0.4).unwrap();
    assert_eq!(kept.indices(), &[1, 3, 5]);
    // floor(0.2 * 5) = 1: the threshold is the second smallest, 0.1, which ties the smallest: both stay.
    assert_eq!(drop_small_terms(&q, 0.2).unwrap(), q);
    // floor(0.99 * 5) = 4: only the largest stays.
    assert_eq!(drop_small_terms(&q, 0.99).unwrap().indices(), &[5]);
    for bad in [1.0, 1.5, -0.1, f32::NAN] {
        let m = message(drop_small_terms(&q, bad).unwrap_err());
        assert!(m.starts_with("invalid drop_ratio_search"), "{m}");
        assert!(m.contains("must be in range [0, 1)"), "{m}");
    }
    assert!(drop_small_terms(&SparseVector::default(), 0.5)
        .unwrap()
        .is_empty());
}

proptest! {
    #[test]
    fn drop_ratio_keeps_exactly_the_terms_at_or_above_the_threshold(
        values in proptest::collection::vec(0.0f32..4.0, 0..40),
        ratio in 0.0f32..1.0,
    ) {
        let pairs = values.iter().enumerate().map(|(i, &v)| (i as i64, f64::from(v)));
        let q = SparseVector::from_pairs(pairs).unwrap();
        let kept = drop_small_terms(&q, ratio).unwrap();
        let drop = (ratio * values.len() as f32) as usize;
        let mut sorted = values.clone();
        sorted.sort_by(f32::total_cmp);
        let expected: Vec<u32> = if drop == 0 {
            (0..values.len() as u32).collect()
        } else {
            (0..values.len() as u32).filter(|&i| values[i as usize] >= sorted[drop]).collect()
        };
        prop_assert_eq!(kept.indices(), &expected[..]);
        prop_assert!(kept.len() >= values.len() - drop);
    }

    #[test]
    fn valid_pairs_always_make_a_vector_that_validates(
        pairs in proptest::collection::btree_map(0i64..=i64::from(MAX_INDEX), 0.0f64..1e30, 0..30),
    ) {
        let v = SparseVector::from_pairs(pairs.iter().map(|(&i, &x)| (i, x))).unwrap();
        prop_assert!(v.view().validate().is_ok());
        prop_assert_eq!(v.len(), pairs.len());
        prop_assert_eq!(SparseVector::from_milvus_bytes(&v.to_milvus_bytes()).unwrap(), v);
    }
}
