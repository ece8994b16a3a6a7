//! A part's SPARSE_FLOAT_VECTOR column: its rows in compressed sparse row form, one section read in
//! place (layout in docs/sparse.md, "Column").

use super::bytes::{array, check_header, corrupt, put_all, u32_at, u64_at};
use super::vector::SparseRef;
use crate::error::{Error, Result};

const MAGIC: [u8; 8] = *b"CVECSPCL";
/// Changing the layout breaks databases: raise this and keep reading the old one.
const VERSION: u32 = 1;
const HEADER: u64 = 32;
const SECTION: &str = "sparse column section";

/// Byte offsets of the column's arrays for `rows` rows holding `nnz` entries in all.
struct Layout {
    offsets: u64,
    indices: u64,
    values: u64,
    total: u64,
}

impl Layout {
    fn new(rows: u64, nnz: u64) -> Layout {
        let indices = HEADER + 8 * (rows + 1);
        let values = indices + 4 * nnz;
        Layout {
            offsets: HEADER,
            indices,
            values,
            total: values + 4 * nnz,
        }
    }
}

/// The column section for `rows`, each checked first (`SparseRef::validate_stored`).
pub fn encode_column(rows: &[SparseRef]) -> Result<Vec<u8>> {
    for row in rows {
        row.validate_stored()?;
    }
    let n = u32::try_from(rows.len())
        .ok()
        .filter(|&n| n < u32::MAX)
        .ok_or_else(|| Error::invalid("a part holds fewer than 2^32 - 1 rows"))?;
    let nnz: u64 = rows.iter().map(|r| r.len() as u64).sum();
    let layout = Layout::new(u64::from(n), nnz);
    let mut out = vec![0u8; layout.total as usize];
    out[..8].copy_from_slice(&MAGIC);
    put_all(&mut out, 8, [VERSION, 0, n, 0]);
    put_all(&mut out, 24, [nnz]);
    let ends = rows.iter().scan(0u64, |end, r| {
        *end += r.len() as u64;
        Some(*end)
    });
    put_all(&mut out, layout.offsets, std::iter::once(0).chain(ends));
    put_all(
        &mut out,
        layout.indices,
        rows.iter().flat_map(|r| r.indices().iter().copied()),
    );
    put_all(
        &mut out,
        layout.values,
        rows.iter().flat_map(|r| r.values().iter().copied()),
    );
    Ok(out)
}

/// A column section read in place. Row `i` is `indices[offsets[i]..offsets[i+1]]` with its values.
#[derive(Clone, Copy, Debug)]
pub struct SparseColumnView<'a> {
    offsets: &'a [u64],
    indices: &'a [u32],
    values: &'a [f32],
}

impl<'a> SparseColumnView<'a> {
    /// Checks the header, the array lengths and the first and last offsets (O(1)); `row` checks the
    /// offsets it reads. `n` is the part's row count. `bytes` must start 8-byte aligned in memory.
    pub fn wrap(bytes: &'a [u8], n: usize) -> Result<SparseColumnView<'a>> {
        check_header(
            bytes,
            SECTION,
            (&MAGIC, HEADER, VERSION),
            &[12, 20],
            Some(n),
        )?;
        let rows = u32_at(bytes, 16);
        let nnz = u64_at(bytes, 24);
        // In u128: a lying `nnz` cannot overflow its way to a matching length.
        let expected = u128::from(HEADER) + 8 * (u128::from(rows) + 1) + 8 * u128::from(nnz);
        if expected != bytes.len() as u128 {
            return Err(corrupt(
                SECTION,
                format!(
                    "the section has {} bytes; {rows} rows of {nnz} entries need {expected}",
                    bytes.len()
                ),
            ));
        }
        let layout = Layout::new(u64::from(rows), nnz);
        let view = SparseColumnView {
            offsets: array(bytes, layout.offsets, u64::from(rows) + 1, SECTION)?,
            indices: array(bytes, layout.indices, nnz, SECTION)?,
            values: array(bytes, layout.values, nnz, SECTION)?,
        };
        if view.offsets[0] != 0 || view.offsets[rows as usize] != nnz {
            return Err(corrupt(SECTION, "row offsets do not span the entries"));
        }
        Ok(view)
    }

    /// `wrap` and a check of every row: offsets never decrease, and each row follows
    /// `SparseRef::validate_stored`, reported as `Corrupt`.
    pub fn from_bytes(bytes: &'a [u8], n: usize) -> Result<SparseColumnView<'a>> {
        let view = SparseColumnView::wrap(bytes, n)?;
        for i in 0..n {
            view.row(i)?.validate_stored().map_err(|e| {
                corrupt(
                    SECTION,
                    format!("row {i} is not a valid sparse vector: {e}"),
                )
            })?;
        }
        Ok(view)
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total entries in all rows.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Row `i` (`i < len()`, else `Error::Invalid`); offsets that run backwards or past the entries
    /// are `Corrupt`.
    pub fn row(&self, i: usize) -> Result<SparseRef<'a>> {
        if i >= self.len() {
            return Err(Error::invalid(format!(
                "row {i} is past the column's {} rows",
                self.len()
            )));
        }
        let (start, end) = (self.offsets[i], self.offsets[i + 1]);
        if start > end || end > self.indices.len() as u64 {
            return Err(corrupt(
                SECTION,
                format!(
                    "row {i} spans entries {start}..{end} of {}",
                    self.indices.len()
                ),
            ));
        }
        let (start, end) = (start as usize, end as usize);
        Ok(SparseRef::from_parts(
            &self.indices[start..end],
            &self.values[start..end],
        ))
    }
}
