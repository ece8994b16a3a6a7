//! Reading the harness's .npy files in place (bench/run.py writes them with numpy.save).

use std::path::Path;

use memmap2::Mmap;

pub type Failure = String;

/// A file mapped read-only: its pages stay in the page cache, shared by every worker, so a worker's
/// private memory is covec's and the program's, not its copy of the queries.
pub fn map_npy(path: &Path) -> Result<Mmap, Failure> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: the harness writes its .npy files before starting a program and never changes them after.
    unsafe { Mmap::map(&file) }.map_err(|e| format!("{}: {e}", path.display()))
}

/// The rows of a C-order little-endian float32 2-D array in an .npy file (format 1.0, as numpy.save
/// writes it), in place; and the row length.
pub fn f32_matrix<'a>(bytes: &'a [u8], path: &Path) -> Result<(&'a [f32], usize), Failure> {
    let bad = || format!("{}: not a float32 matrix .npy (format 1.0)", path.display());
    if bytes.len() < 10 || &bytes[..8] != b"\x93NUMPY\x01\x00" || cfg!(target_endian = "big") {
        return Err(bad());
    }
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = bytes
        .get(10..10 + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(bad)?;
    if !header.contains("'descr': '<f4'") || !header.contains("'fortran_order': False") {
        return Err(bad());
    }
    let shape = header
        .split_once("'shape': (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .ok_or_else(bad)?
        .0;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [rows, dim] = dims[..] else {
        return Err(bad());
    };
    let data = &bytes[10 + header_len..];
    // numpy pads the header so the data starts 64-byte aligned in the file, and the map is page aligned.
    if rows == 0 || dim == 0 || data.len() != rows * dim * 4 || data.as_ptr().align_offset(4) != 0 {
        return Err(bad());
    }
    // SAFETY: `data` is 4-byte aligned, holds exactly rows * dim f32 values (little-endian, as this
    // target), lives as long as `bytes`, and every bit pattern is a valid f32.
    Ok((
        unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<f32>(), rows * dim) },
        dim,
    ))
}
