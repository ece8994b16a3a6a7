//! aarch64 binary-vector kernels: NEON counts 16 bytes a step with `vcntq_u8` (bits per byte, at most
//! 8), adds byte pairs into u16 lanes with `vpadalq_u8` (at most 16 a step), and moves the u16 lanes
//! into u32 lanes (`vpadalq_u16`) every 2048 steps, before a u16 lane could pass 65535 (a u32 lane
//! then holds the counts of 64 GiB). The bytes after the last whole step are counted by the scalar
//! twin.

use std::arch::aarch64::*;

use super::scalar::BitOp;
use super::BinaryKernels;

pub const NEON: BinaryKernels = BinaryKernels {
    isa: "neon",
    hamming: hamming_neon,
    jaccard: jaccard_neon,
};

/// Steps a u16 lane can take: 2048 * 16 = 32768 < 65536.
const FLUSH: usize = 2048;

/// `op(x, y)` on 128 bits. The ops are constants at every call, so the match folds away.
#[inline(always)]
unsafe fn apply128(op: BitOp, x: uint8x16_t, y: uint8x16_t) -> uint8x16_t {
    // SAFETY: register-only; the caller guarantees NEON.
    unsafe {
        match op {
            BitOp::Xor => veorq_u8(x, y),
            BitOp::And => vandq_u8(x, y),
            BitOp::Or => vorrq_u8(x, y),
        }
    }
}

/// `popcount(op(a, b))` over the common prefix for each of `ops`.
#[inline(always)]
unsafe fn counts128<const K: usize>(a: &[u8], b: &[u8], ops: [BitOp; K]) -> [u64; K] {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    // SAFETY (whole block): every load reads 16 bytes ending at or below `n`; the caller guarantees
    // NEON.
    let sums = unsafe {
        let mut wide = [vdupq_n_u32(0); K];
        let mut narrow = [vdupq_n_u16(0); K];
        let mut steps = 0;
        while i + 16 <= n {
            let x = vld1q_u8(pa.add(i));
            let y = vld1q_u8(pb.add(i));
            for (acc, &op) in narrow.iter_mut().zip(&ops) {
                *acc = vpadalq_u8(*acc, vcntq_u8(apply128(op, x, y)));
            }
            i += 16;
            steps += 1;
            if steps == FLUSH {
                for (w, acc) in wide.iter_mut().zip(narrow.iter_mut()) {
                    *w = vpadalq_u16(*w, *acc);
                    *acc = vdupq_n_u16(0);
                }
                steps = 0;
            }
        }
        let mut sums = [0u64; K];
        for ((sum, w), acc) in sums.iter_mut().zip(wide).zip(narrow) {
            *sum = vaddlvq_u32(vpadalq_u16(w, acc));
        }
        sums
    };
    std::array::from_fn(|k| sums[k] + ops[k].count(&a[i..n], &b[i..n]))
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn hamming_neon(a: &[u8], b: &[u8]) -> u64 {
    // SAFETY: the caller's contract.
    unsafe { counts128(a, b, [BitOp::Xor])[0] }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
unsafe fn jaccard_neon(a: &[u8], b: &[u8]) -> (u64, u64) {
    // SAFETY: the caller's contract.
    let [both, either] = unsafe { counts128(a, b, [BitOp::And, BitOp::Or]) };
    (both, either)
}
