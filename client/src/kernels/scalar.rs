//! The reference kernels: plain Rust, any CPU. Eight independent partial sums break the dependency
//! chain of a single accumulator (and let the compiler vectorise at the baseline ISA).

const LANES: usize = 8;

#[inline(always)]
fn reduce(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    reduce_widened(a, b, |x| x, |x| x, term)
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    reduce(a, b, |x, y| x * y)
}

pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    reduce(a, b, |x, y| (x - y) * (x - y))
}

pub fn norm_squared(a: &[f32]) -> f32 {
    reduce(a, a, |x, _| x * x)
}

pub fn dot_many(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    super::for_each_row(query, rows, dim, out, dot)
}

pub fn l2_many(query: &[f32], rows: &[f32], dim: usize, out: &mut [f32]) {
    super::for_each_row(query, rows, dim, out, l2_squared)
}

/// Exact IEEE binary16 -> binary32: every half value, subnormals, infinities and NaN payloads
/// (shifted into the top of the f32 mantissa, so a quiet NaN stays quiet) are represented exactly.
/// Integer operations only, so a flush-to-zero mode some library set in the process cannot touch
/// subnormals; `neon_f16.rs` runs the same steps lane by lane.
pub fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    let exp = (h >> 10) & 0x1f;
    let mant = h & 0x03ff;
    // Normal: rebias the exponent from 15 to 127.
    let normal = ((exp + 112) << 23) | (mant << 13);
    // Subnormal, mant * 2^-24: move the top set bit to the implicit position (bit 10). `| 1` keeps
    // the shift in range for a zero mantissa, which is selected away below.
    let shift = (mant | 1).leading_zeros() - 21;
    let subnormal = ((113 - shift) << 23) | (((mant << shift) & 0x03ff) << 13);
    let bits = match exp {
        31 => 0x7f80_0000 | (mant << 13),
        0 if mant == 0 => 0,
        0 => subnormal,
        _ => normal,
    };
    f32::from_bits(sign | bits)
}

/// binary32 -> binary16, rounding to nearest with ties to even (as F16C's `vcvtps2ph` does with
/// rounding mode 0): too large becomes infinity, too small a signed zero or a subnormal; a NaN
/// stays a quiet NaN with the top of its payload.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x007f_ffff;
    if exp == 0xff {
        let nan = if mant == 0 {
            0
        } else {
            0x0200 | (mant >> 13) as u16
        };
        return sign | 0x7c00 | nan;
    }
    // The half's biased exponent; 31 and above overflow.
    let e = exp - 112;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // Below 2^-25 everything rounds to zero.
        if e < -10 {
            return sign;
        }
        // A subnormal half counts units of 2^-24: q = (1.mant * 2^23) >> (14 - e).
        let shift = (14 - e) as u32;
        let m = mant | 0x0080_0000;
        return sign | round_shifted(m, shift) as u16;
    }
    // A carry out of the mantissa correctly bumps the exponent, up to infinity (0x7c00).
    sign | round_shifted(((e as u32) << 23) | mant, 13) as u16
}

/// `v >> shift` rounded to nearest, ties to even; `1 <= shift <= 24`.
fn round_shifted(v: u32, shift: u32) -> u32 {
    let q = v >> shift;
    let rest = v & ((1 << shift) - 1);
    let half = 1 << (shift - 1);
    if rest > half || (rest == half && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// `sum(term(fa(a[i]), fb(b[i])))` over the common length, in `LANES` independent partial sums.
#[inline(always)]
fn reduce_widened<A: Copy, B: Copy>(
    a: &[A],
    b: &[B],
    fa: impl Fn(A) -> f32,
    fb: impl Fn(B) -> f32,
    term: impl Fn(f32, f32) -> f32,
) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += term(fa(x[i]), fb(y[i]));
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += term(fa(*x), fb(*y));
    }
    sum
}

pub fn dot_f16(a: &[u16], b: &[u16]) -> f32 {
    reduce_widened(a, b, f16_to_f32, f16_to_f32, |x, y| x * y)
}

pub fn l2_squared_f16(a: &[u16], b: &[u16]) -> f32 {
    reduce_widened(a, b, f16_to_f32, f16_to_f32, |x, y| (x - y) * (x - y))
}

pub fn dot_f32_f16(query: &[f32], row: &[u16]) -> f32 {
    reduce_widened(query, row, |x| x, f16_to_f32, |x, y| x * y)
}

pub fn l2_squared_f32_f16(query: &[f32], row: &[u16]) -> f32 {
    reduce_widened(query, row, |x| x, f16_to_f32, |x, y| (x - y) * (x - y))
}

/// Converts the common prefix of `src` and `dst`.
pub fn f32_to_f16_slice(src: &[f32], dst: &mut [u16]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = f32_to_f16(*s);
    }
}

/// Integer kernels over one block of at most [`super::I8_BLOCK`] elements, whose sum cannot
/// overflow i32; `super::I8Kernels` splits longer slices into such blocks.
#[inline(always)]
fn reduce_i8(a: &[i8], b: &[i8], term: impl Fn(i32, i32) -> i32) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = [0i32; LANES];
    let mut ca = a[..n].chunks_exact(LANES);
    let mut cb = b[..n].chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += term(i32::from(x[i]), i32::from(y[i]));
        }
    }
    let mut sum = acc.iter().sum::<i32>();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += term(i32::from(*x), i32::from(*y));
    }
    sum
}

pub(super) fn dot_i8_block(a: &[i8], b: &[i8]) -> i32 {
    debug_assert!(a.len().min(b.len()) <= super::I8_BLOCK);
    reduce_i8(a, b, |x, y| x * y)
}

pub(super) fn l2_squared_i8_block(a: &[i8], b: &[i8]) -> i32 {
    debug_assert!(a.len().min(b.len()) <= super::I8_BLOCK);
    reduce_i8(a, b, |x, y| (x - y) * (x - y))
}

pub fn dot_f32_i8(query: &[f32], codes: &[i8]) -> f32 {
    reduce_widened(query, codes, |x| x, f32::from, |x, y| x * y)
}

pub fn sq8_dot(weights: &[f32], codes: &[u8]) -> f32 {
    reduce_widened(weights, codes, |x| x, f32::from, |x, y| x * y)
}

pub fn sq8_l2(shifted: &[f32], scale: &[f32], codes: &[u8]) -> f32 {
    let n = shifted.len().min(scale.len()).min(codes.len());
    let (d, s, c) = (&shifted[..n], &scale[..n], &codes[..n]);
    let term = |d: f32, s: f32, c: u8| {
        let t = d - s * f32::from(c);
        t * t
    };
    let mut acc = [0.0f32; LANES];
    let (mut cd, mut cs, mut cc) = (
        d.chunks_exact(LANES),
        s.chunks_exact(LANES),
        c.chunks_exact(LANES),
    );
    for ((d, s), c) in (&mut cd).zip(&mut cs).zip(&mut cc) {
        for i in 0..LANES {
            acc[i] += term(d[i], s[i], c[i]);
        }
    }
    let tail = cd
        .remainder()
        .iter()
        .zip(cs.remainder())
        .zip(cc.remainder());
    tail.fold(acc.iter().sum::<f32>(), |sum, ((&d, &s), &c)| {
        sum + term(d, s, c)
    })
}

/// bfloat16 -> binary32: a bfloat16 is the top half of an f32, so this is exact for every pattern.
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// binary32 -> bfloat16, rounding to nearest with ties to even (what numpy's `ml_dtypes.bfloat16`
/// and PyTorch do): a finite value may round up to infinity; a NaN stays a quiet NaN with the top of
/// its payload.
pub fn f32_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x0040) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    // No overflow: the largest finite pattern plus the rounding stays below 2^32.
    ((bits + round) >> 16) as u16
}

pub fn dot_bf16(a: &[u16], b: &[u16]) -> f32 {
    reduce_widened(a, b, bf16_to_f32, bf16_to_f32, |x, y| x * y)
}

pub fn l2_squared_bf16(a: &[u16], b: &[u16]) -> f32 {
    reduce_widened(a, b, bf16_to_f32, bf16_to_f32, |x, y| (x - y) * (x - y))
}

pub fn dot_f32_bf16(query: &[f32], row: &[u16]) -> f32 {
    reduce_widened(query, row, |x| x, bf16_to_f32, |x, y| x * y)
}

pub fn l2_squared_f32_bf16(query: &[f32], row: &[u16]) -> f32 {
    reduce_widened(query, row, |x| x, bf16_to_f32, |x, y| (x - y) * (x - y))
}

/// Converts the common prefix of `src` and `dst`.
pub fn f32_to_bf16_slice(src: &[f32], dst: &mut [u16]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = f32_to_bf16(*s);
    }
}

/// The bitwise combination of two binary vectors whose set bits a binary kernel counts.
#[derive(Clone, Copy)]
pub(super) enum BitOp {
    Xor,
    And,
    Or,
}

impl BitOp {
    #[inline(always)]
    fn word(self, x: u64, y: u64) -> u64 {
        match self {
            BitOp::Xor => x ^ y,
            BitOp::And => x & y,
            BitOp::Or => x | y,
        }
    }

    /// `sum(popcount(op(a[i], b[i])))` over the common prefix, eight bytes at a time (the SIMD
    /// kernels count their tails with it).
    #[inline(always)]
    pub(super) fn count(self, a: &[u8], b: &[u8]) -> u64 {
        popcount_of(a, b, |x, y| self.word(x, y))
    }
}

#[inline(always)]
fn popcount_of(a: &[u8], b: &[u8], op: impl Fn(u64, u64) -> u64) -> u64 {
    let n = a.len().min(b.len());
    let mut ca = a[..n].chunks_exact(8);
    let mut cb = b[..n].chunks_exact(8);
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().expect("8 bytes"));
    let mut count = 0u64;
    for (x, y) in (&mut ca).zip(&mut cb) {
        count += u64::from(op(word(x), word(y)).count_ones());
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        count += u64::from(op(u64::from(*x), u64::from(*y)).count_ones());
    }
    count
}

/// Bits that differ: `popcount(a ^ b)`.
pub fn hamming(a: &[u8], b: &[u8]) -> u64 {
    BitOp::Xor.count(a, b)
}

/// `(popcount(a & b), popcount(a | b))`: the intersection and union of two bit sets.
pub fn jaccard_counts(a: &[u8], b: &[u8]) -> (u64, u64) {
    (BitOp::And.count(a, b), BitOp::Or.count(a, b))
}
