//! A sparse vector: ascending unique `u32` dimensions with `f32` values, checked as Milvus checks a
//! SPARSE_FLOAT_VECTOR row (`ValidateSparseFloatRows` in Milvus's `pkg/util/typeutil/schema.go`, and
//! pymilvus's client-side checks for input that does not fit a `u32`). Each message starts with
//! Milvus's own words and then says what to do.

use crate::error::{Error, Result};

/// The largest dimension Milvus accepts: `2^32 - 2` (`2^32 - 1` is reserved by its sparse protocol).
pub const MAX_INDEX: u32 = u32::MAX - 1;

/// Borrowed indices and values of equal length; rows read from mapped bytes come as these. Only
/// [`SparseVector`]s (and rows that passed [`validate`](Self::validate)) are known to follow
/// Milvus's rules; every function taking a `SparseRef` is safe (never panics) on ones that do not.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SparseRef<'a> {
    indices: &'a [u32],
    values: &'a [f32],
}

impl<'a> SparseRef<'a> {
    /// Pairs `indices[i]` with `values[i]`; the lengths must agree.
    pub fn new(indices: &'a [u32], values: &'a [f32]) -> Result<SparseRef<'a>> {
        if indices.len() != values.len() {
            return Err(Error::invalid(format!(
                "length of indices and values must be the same, got {} and {}",
                indices.len(),
                values.len()
            )));
        }
        Ok(SparseRef { indices, values })
    }

    /// From two slices the caller knows to be of equal length (a column's row).
    pub(crate) fn from_parts(indices: &'a [u32], values: &'a [f32]) -> SparseRef<'a> {
        debug_assert_eq!(indices.len(), values.len());
        let len = indices.len().min(values.len());
        SparseRef {
            indices: &indices[..len],
            values: &values[..len],
        }
    }

    pub fn indices(&self) -> &'a [u32] {
        self.indices
    }

    pub fn values(&self) -> &'a [f32] {
        self.values
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// `(index, value)` pairs in stored order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, f32)> + 'a {
        self.indices
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }

    /// Milvus's rules for a vector a user gives (a row or a query): indices strictly ascending (so
    /// unique) and at most [`MAX_INDEX`]; values finite and not negative. Empty vectors are valid
    /// (Milvus stores them; a search with one finds nothing).
    pub fn validate(&self) -> Result<()> {
        self.check(MAX_INDEX)
    }

    /// The rules stored rows and searched queries must follow: `validate`'s, but any `u32` index.
    /// The BM25 function's output ([`term_frequencies`]) may hold `2^32 - 1`, the reserved index:
    /// hashed tokens can take it.
    pub fn validate_stored(&self) -> Result<()> {
        self.check(u32::MAX)
    }

    fn check(&self, max_index: u32) -> Result<()> {
        let mut previous: Option<u32> = None;
        for (index, value) in self.iter() {
            if index > max_index {
                return Err(index_out_of_range(i64::from(index)));
            }
            if let Some(p) = previous.filter(|&p| index <= p) {
                return Err(Error::invalid(format!(
                    "unsorted or same indices in sparse float vector: index {index} follows {p}; \
                     give each dimension once, in ascending order"
                )));
            }
            check_value(index, f64::from(value))?;
            previous = Some(index);
        }
        Ok(())
    }

    /// An owned copy (the same content, checked or not).
    pub fn to_vector(&self) -> SparseVector {
        SparseVector {
            indices: self.indices.to_vec(),
            values: self.values.to_vec(),
        }
    }
}

/// An owned, validated sparse vector (see [`SparseRef::validate`] for the rules).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseVector {
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl SparseVector {
    /// From indices already in ascending order, as Milvus receives a row; refused unless every
    /// rule holds.
    pub fn new(indices: Vec<u32>, values: Vec<f32>) -> Result<SparseVector> {
        SparseRef::new(&indices, &values)?.validate()?;
        Ok(SparseVector { indices, values })
    }

    /// From `(index, value)` pairs in any order, as a Python dict or a list of tuples gives them:
    /// sorted by index (as pymilvus sorts before sending), then checked. Indices outside
    /// `0..=MAX_INDEX`, values that are NaN, infinite (also once rounded to `f32`) or negative, and
    /// an index given twice are refused.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (i64, f64)>) -> Result<SparseVector> {
        let mut checked = Vec::new();
        for (index, value) in pairs {
            if !(0..=i64::from(MAX_INDEX)).contains(&index) {
                return Err(index_out_of_range(index));
            }
            let index = index as u32;
            check_value(index, value)?;
            checked.push((index, value as f32));
        }
        checked.sort_unstable_by_key(|&(index, _)| index);
        if let Some(w) = checked.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::invalid(format!(
                "unsorted or same indices in sparse float vector: dimension {} is given twice; \
                 give each dimension once",
                w[0].0
            )));
        }
        let (indices, values) = checked.into_iter().unzip();
        Ok(SparseVector { indices, values })
    }

    /// From one row of Milvus's `SparseFloatArray.contents`: little-endian `(u32 index, f32 value)`
    /// pairs, indices ascending.
    pub fn from_milvus_bytes(bytes: &[u8]) -> Result<SparseVector> {
        if !bytes.len().is_multiple_of(8) {
            return Err(Error::invalid(format!(
                "invalid data length in sparse float vector: {}; a row is (uint32 index, float32 value) \
                 pairs of 8 bytes each",
                bytes.len()
            )));
        }
        let (indices, values) = bytes
            .chunks_exact(8)
            .map(|pair| {
                let index = u32::from_le_bytes(pair[..4].try_into().expect("4 bytes"));
                let value = f32::from_le_bytes(pair[4..].try_into().expect("4 bytes"));
                (index, value)
            })
            .unzip();
        SparseVector::new(indices, values)
    }

    /// The row as Milvus's `SparseFloatArray.contents` holds it.
    pub fn to_milvus_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * 8);
        for (index, value) in self.view().iter() {
            out.extend_from_slice(&index.to_le_bytes());
            out.extend_from_slice(&value.to_le_bytes());
        }
        out
    }

    pub fn view(&self) -> SparseRef<'_> {
        SparseRef {
            indices: &self.indices,
            values: &self.values,
        }
    }

    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    pub fn values(&self) -> &[f32] {
        &self.values
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The entries `keep` accepts, in order (a subset of a valid vector is valid).
    pub(crate) fn retain(self, mut keep: impl FnMut(u32, f32) -> bool) -> SparseVector {
        let (indices, values) = self
            .indices
            .into_iter()
            .zip(self.values)
            .filter(|&(i, v)| keep(i, v))
            .unzip();
        SparseVector { indices, values }
    }

    /// Entries known to follow `validate_stored` (built by this module from such input).
    pub(crate) fn from_valid(indices: Vec<u32>, values: Vec<f32>) -> SparseVector {
        debug_assert!(SparseRef::new(&indices, &values)
            .and_then(|r| r.validate_stored())
            .is_ok());
        SparseVector { indices, values }
    }
}

/// The BM25 function's output for a text: each distinct term id of its tokens (one id per token,
/// `text::term_id`) with the number of times it occurs, as Milvus's BM25 function and Milvus Lite's
/// `compute_tf` make it. Every `u32` id is kept (see [`SparseRef::validate_stored`]).
pub fn term_frequencies(ids: impl IntoIterator<Item = u32>) -> SparseVector {
    let mut ids: Vec<u32> = ids.into_iter().collect();
    ids.sort_unstable();
    let mut indices: Vec<u32> = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    for id in ids {
        match (indices.last(), values.last_mut()) {
            (Some(&last), Some(count)) if last == id => *count += 1.0,
            _ => {
                indices.push(id);
                values.push(1.0);
            }
        }
    }
    SparseVector::from_valid(indices, values)
}

fn index_out_of_range(index: i64) -> Error {
    Error::invalid(format!(
        "invalid index in sparse float vector: must be less than 2^32-1 and not negative, got {index}; \
         use dimensions 0 to {MAX_INDEX}"
    ))
}

/// A value as given (f64 from Python, or a stored f32 widened): finite as an f32 and not negative.
fn check_value(index: u32, value: f64) -> Result<()> {
    if value.is_nan() {
        return Err(Error::invalid(format!(
            "sparse vector value must not be NaN (dimension {index}); give a finite float32 >= 0"
        )));
    }
    if !(value as f32).is_finite() {
        return Err(Error::invalid(format!(
            "sparse vector value {value} at dimension {index} is not a finite float32; \
             values must lie within +-3.4e38"
        )));
    }
    if value < 0.0 {
        return Err(Error::invalid(format!(
            "negative value in sparse float vector: dimension {index} has {value}; values must be >= 0"
        )));
    }
    Ok(())
}
