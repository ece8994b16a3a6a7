//! `Pinned`: one generation held for reads. Everything read through it comes from that generation,
//! whatever is committed meanwhile, and holding it keeps the generation mapped (its segment attached).
//! `Db`'s reads each pin the current generation for the length of the call; the iterators
//! (`SearchIter`, `QueryIter`) keep theirs from the first page to the last, so pages never mix
//! generations (docs/compatibility.md, "Iterators").

use std::sync::Arc;

use crate::engine::{
    CollectionView, Cursor, Hit, HybridRequest, OutputFields, RowId, SearchRequest,
};
use crate::error::Result;
use crate::filter::{self, Filter};
use crate::follow::Mapped;
use crate::rowview::RowFilter;
use crate::schema::CollectionSchema;
use crate::value::{Pk, Row};

/// The compiled filter, or None when it accepts every row (so the engine can skip evaluating it).
pub(crate) fn compile_filter(
    filter: Filter<'_>,
    schema: &CollectionSchema,
) -> Result<Option<Box<dyn RowFilter>>> {
    let predicate = filter::compile(filter, schema)?;
    Ok((!predicate.matches_everything()).then(|| Box::new(predicate) as Box<dyn RowFilter>))
}

/// Compiled filters borrowed as the engine takes them.
fn borrowed(filters: &[Option<Box<dyn RowFilter>>]) -> Vec<Option<&dyn RowFilter>> {
    filters.iter().map(|f| f.as_deref()).collect()
}

/// One generation, held (see the module doc). Cheap to clone: clones share the mapping.
#[derive(Clone)]
pub struct Pinned {
    mapped: Arc<Mapped>,
}

impl Pinned {
    pub(crate) fn new(mapped: Arc<Mapped>) -> Pinned {
        Pinned { mapped }
    }

    /// The generation held.
    pub fn generation(&self) -> u64 {
        self.mapped.meta.generation
    }

    /// Runs `read` on `collection` of this generation.
    fn read<T>(
        &self,
        collection: &str,
        read: impl FnOnce(&CollectionView<'_>) -> Result<T>,
    ) -> Result<T> {
        let snap = self.mapped.snapshot();
        let view = snap.collection(collection)?;
        read(&view)
    }

    /// Rows for these keys, in the order asked; missing keys are left out.
    pub fn get(&self, collection: &str, ids: &[Pk], output: &OutputFields) -> Result<Vec<Row>> {
        self.read(collection, |view| view.get(ids, output))
    }

    /// Rows matching `filter` in primary-key order, after `offset`, at most `limit`.
    pub fn query<'f>(
        &self,
        collection: &str,
        filter: impl Into<Filter<'f>>,
        output: &OutputFields,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<Vec<Row>> {
        let filter = filter.into();
        self.read(collection, |view| {
            let f = compile_filter(filter, view.schema())?;
            view.query(f.as_deref(), output, limit, offset)
        })
    }

    pub fn count<'f>(&self, collection: &str, filter: impl Into<Filter<'f>>) -> Result<u64> {
        let filter = filter.into();
        self.read(collection, |view| {
            let f = compile_filter(filter, view.schema())?;
            Ok(view.count(f.as_deref()))
        })
    }

    /// One list of hits per query vector, best first.
    pub fn search(&self, collection: &str, request: &SearchRequest) -> Result<Vec<Vec<Hit>>> {
        self.read(collection, |view| {
            let f = compile_filter(request_filter(request), view.schema())?;
            let boosts = boost_filters(request.rerank.as_ref(), view.schema())?;
            view.search(request, f.as_deref(), &borrowed(&boosts))
        })
    }

    /// Each request searched on this generation, the routes merged by `request.rerank`: one list
    /// of hits per query vector, best first.
    pub fn hybrid_search(
        &self,
        collection: &str,
        request: &HybridRequest,
    ) -> Result<Vec<Vec<Hit>>> {
        self.read(collection, |view| {
            let filters = request
                .requests
                .iter()
                .map(|r| compile_filter(request_filter(r), view.schema()))
                .collect::<Result<Vec<_>>>()?;
            let boosts = boost_filters(Some(&request.rerank), view.schema())?;
            view.hybrid_search(request, &borrowed(&filters), &borrowed(&boosts))
        })
    }

    /// A search iterator over this generation: pages of `request`'s hits in order (one query vector).
    pub fn search_iter(&self, collection: &str, request: SearchRequest) -> Result<SearchIter> {
        let filter = self.read(collection, |view| {
            // Checked once here, so that a bad request fails at creation, not at the first page.
            let f = compile_filter(request_filter(&request), view.schema())?;
            view.search_page(&request, f.as_deref(), None, 1)?;
            Ok(f)
        })?;
        Ok(SearchIter {
            pinned: self.clone(),
            collection: collection.to_string(),
            request,
            filter,
            cursor: None,
        })
    }

    /// A query iterator over this generation: the rows matching `filter` in primary-key order, page
    /// by page, after the first `offset`.
    pub fn query_iter<'f>(
        &self,
        collection: &str,
        filter: impl Into<Filter<'f>>,
        output: OutputFields,
        offset: usize,
    ) -> Result<QueryIter> {
        let filter = filter.into();
        let order = self.read(collection, |view| {
            let f = compile_filter(filter, view.schema())?;
            view.matching_in_pk_order(f.as_deref())
        })?;
        Ok(QueryIter {
            pinned: self.clone(),
            collection: collection.to_string(),
            order,
            next: offset,
            output,
        })
    }
}

/// A search request's filter with its placeholders' values.
fn request_filter(request: &SearchRequest) -> Filter<'_> {
    Filter::new(&request.filter, &request.filter_params)
}

/// The compiled filters of `rerank`'s boosts, in order (None: the boost applies to every row).
fn boost_filters(
    rerank: Option<&crate::engine::Rerank>,
    schema: &CollectionSchema,
) -> Result<Vec<Option<Box<dyn RowFilter>>>> {
    rerank
        .map_or(&[][..], |r| &r.boosts[..])
        .iter()
        .map(|b| match &b.filter {
            Some(text) => compile_filter(text.into(), schema),
            None => Ok(None),
        })
        .collect()
}

/// Pages of one search's hits, best first, from the generation it was created on.
pub struct SearchIter {
    pinned: Pinned,
    collection: String,
    request: SearchRequest,
    filter: Option<Box<dyn RowFilter>>,
    cursor: Option<Cursor>,
}

impl SearchIter {
    /// The next `count` hits (fewer at the end; none past it).
    pub fn next_page(&mut self, count: usize) -> Result<Vec<Hit>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let (hits, cursor) = self.pinned.read(&self.collection, |view| {
            view.search_page(&self.request, self.filter.as_deref(), self.cursor, count)
        })?;
        self.cursor = cursor;
        Ok(hits)
    }

    /// The generation the pages come from.
    pub fn generation(&self) -> u64 {
        self.pinned.generation()
    }
}

/// Pages of one query's rows in primary-key order, from the generation it was created on.
pub struct QueryIter {
    pinned: Pinned,
    collection: String,
    /// The matching rows of the pinned generation, in primary-key order.
    order: Vec<RowId>,
    next: usize,
    output: OutputFields,
}

impl QueryIter {
    /// The next `count` rows (fewer at the end; none past it).
    pub fn next_page(&mut self, count: usize) -> Result<Vec<Row>> {
        let start = self.next.min(self.order.len());
        let end = start.saturating_add(count).min(self.order.len());
        let rows = self.pinned.read(&self.collection, |view| {
            view.rows(&self.order[start..end], &self.output)
        })?;
        self.next = end;
        Ok(rows)
    }

    /// The generation the pages come from.
    pub fn generation(&self) -> u64 {
        self.pinned.generation()
    }
}

impl std::fmt::Debug for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinned")
            .field("generation", &self.generation())
            .finish()
    }
}
