//! The reference kernels: plain Rust, any CPU. Eight independent partial sums break the dependency
//! chain of a single accumulator (and let the compiler vectorise at the baseline ISA).

const LANES: usize = 8;

#[inline(always)]
fn reduce(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += term(x[i], y[i]);
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += term(*x, *y);
    }
    sum
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
