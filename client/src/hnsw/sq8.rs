//! int8 scalar quantization: one byte per dimension per row (a quarter of the f32 vectors), with a
//! per-dimension `min` and `scale` so that `x ≈ min[j] + scale[j] * code`. The graph is walked with
//! quantized scores; the best `ef` candidates are then re-ranked with the f32 rows when the caller
//! still has them. Changing this layout breaks databases: bump `VERSION`.

use std::path::PathBuf;

use crate::error::{Error, Result};

const MAGIC: [u8; 8] = *b"CVECSQ8\0";
const VERSION: u32 = 1;
/// Header words: magic (2), version, dim, n, flags, reserved (2).
const HEADER_WORDS: usize = 8;

/// Quantized rows, owned by the writer until serialized.
#[derive(Clone, Debug, PartialEq)]
pub struct Sq8 {
    dim: usize,
    n: usize,
    min: Vec<f32>,
    scale: Vec<f32>,
    codes: Vec<u8>,
}

/// Quantizes row-major `vectors` (`n x dim`). Errors on a bad shape, a non-finite value or a dimension
/// whose range overflows f32 (its scale would not be finite, which readers refuse).
pub fn quantize(vectors: &[f32], dim: usize) -> Result<Sq8> {
    if dim == 0 || !vectors.len().is_multiple_of(dim) {
        return Err(Error::invalid(format!(
            "{} floats is not a whole number of {dim}-dimensional vectors",
            vectors.len()
        )));
    }
    if let Some(pos) = vectors.iter().position(|x| !x.is_finite()) {
        return Err(Error::invalid(format!(
            "row {} has a non-finite value; it cannot be quantized",
            pos / dim
        )));
    }
    let n = vectors.len() / dim;
    let mut min = vec![f32::INFINITY; dim];
    let mut max = vec![f32::NEG_INFINITY; dim];
    for row in vectors.chunks_exact(dim) {
        for j in 0..dim {
            min[j] = min[j].min(row[j]);
            max[j] = max[j].max(row[j]);
        }
    }
    if n == 0 {
        min.fill(0.0);
        max.fill(0.0);
    }
    let scale: Vec<f32> = min
        .iter()
        .zip(&max)
        .map(|(lo, hi)| (hi - lo) / 255.0)
        .collect();
    if let Some(j) = scale.iter().position(|s| !s.is_finite()) {
        return Err(Error::invalid(format!(
            "dimension {j} spans more than a float32 can hold; it cannot be quantized"
        )));
    }
    let mut codes = Vec::with_capacity(vectors.len());
    for row in vectors.chunks_exact(dim) {
        for j in 0..dim {
            let code = if scale[j] > 0.0 {
                ((row[j] - min[j]) / scale[j]).round().clamp(0.0, 255.0) as u8
            } else {
                0
            };
            codes.push(code);
        }
    }
    Ok(Sq8 {
        dim,
        n,
        min,
        scale,
        codes,
    })
}

impl Sq8 {
    /// Header, `min` f32[dim], `scale` f32[dim], codes u8[n * dim], zero padding to a multiple of 4.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_WORDS * 4 + self.dim * 8 + self.codes.len() + 3);
        out.extend_from_slice(&MAGIC);
        for w in [VERSION, self.dim as u32, self.n as u32, 0, 0, 0] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for x in self.min.iter().chain(&self.scale) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&self.codes);
        out.resize(out.len().next_multiple_of(4), 0);
        out
    }

    pub fn view(&self) -> Sq8View<'_> {
        Sq8View {
            dim: self.dim,
            n: self.n,
            min: &self.min,
            scale: &self.scale,
            codes: &self.codes,
        }
    }
}

/// Validated, borrowed quantized rows (searched in place like the graph).
#[derive(Clone, Copy)]
pub struct Sq8View<'a> {
    dim: usize,
    n: usize,
    min: &'a [f32],
    scale: &'a [f32],
    codes: &'a [u8],
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::corrupt(PathBuf::from("<sq8 codes section>"), reason)
}

impl<'a> Sq8View<'a> {
    /// Wraps a serialized `Sq8` over `n` rows; `bytes` must start 4-byte aligned in memory.
    pub fn from_bytes(bytes: &'a [u8], n: usize) -> Result<Sq8View<'a>> {
        if bytes.len() < HEADER_WORDS * 4 || bytes[..8] != MAGIC {
            return Err(corrupt("SQ8 section has no valid header"));
        }
        let word = |i: usize| {
            let b = &bytes[i * 4..i * 4 + 4];
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        };
        let version = word(2);
        if version > VERSION {
            return Err(Error::NewerVersion {
                path: PathBuf::from("<sq8 codes section>"),
                found: version,
                supported: VERSION,
            });
        }
        let (dim, rows) = (word(3) as usize, word(4) as usize);
        if version == 0 || word(5) != 0 || dim == 0 {
            return Err(corrupt("SQ8 header has a bad version, flags or dimension"));
        }
        if rows != n {
            return Err(corrupt(format!(
                "SQ8 codes cover {rows} rows but the collection has {n} indexed rows"
            )));
        }
        let params_end = HEADER_WORDS as u64 * 4 + dim as u64 * 8;
        let codes_end = (n as u64)
            .checked_mul(dim as u64)
            .and_then(|c| c.checked_add(params_end))
            .ok_or_else(|| corrupt("SQ8 header describes more codes than fit in memory"))?;
        if codes_end.next_multiple_of(4) != bytes.len() as u64 {
            return Err(corrupt(format!(
                "SQ8 section is {} bytes; its header implies {}",
                bytes.len(),
                codes_end.next_multiple_of(4)
            )));
        }
        let params = floats(&bytes[HEADER_WORDS * 4..params_end as usize])?;
        let (min, scale) = params.split_at(dim);
        if min.iter().any(|x| !x.is_finite()) || scale.iter().any(|s| !(s.is_finite() && *s >= 0.0))
        {
            return Err(corrupt("SQ8 min/scale are not finite non-negative numbers"));
        }
        Ok(Sq8View {
            dim,
            n,
            min,
            scale,
            codes: &bytes[params_end as usize..codes_end as usize],
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub(crate) fn min(&self) -> &'a [f32] {
        self.min
    }

    pub(crate) fn scale(&self) -> &'a [f32] {
        self.scale
    }

    /// Row `id`'s codes; callers guarantee `id < n`.
    pub(crate) fn codes(&self, id: u32) -> &'a [u8] {
        let start = id as usize * self.dim;
        &self.codes[start..start + self.dim]
    }
}

/// Little-endian f32s in place (see `layout::as_words` for why this is sound).
fn floats(bytes: &[u8]) -> Result<&[f32]> {
    if cfg!(target_endian = "big") {
        return Err(Error::invalid(
            "SQ8 codes are read in place as little-endian floats; big-endian hosts are not supported",
        ));
    }
    // SAFETY: every bit pattern is a valid f32 (NaNs are rejected by the caller), and `align_to`
    // only yields correctly aligned floats.
    let (head, floats, tail) = unsafe { bytes.align_to::<f32>() };
    if !head.is_empty() || !tail.is_empty() {
        return Err(Error::Internal(
            "SQ8 section is not 4-byte aligned in memory; the db format places it 64-byte aligned"
                .into(),
        ));
    }
    Ok(floats)
}
