//! `Pinned`: one generation held for reads. Everything read through it comes from that generation,
//! whatever is committed meanwhile, and holding it keeps the generation mapped (its segment attached).
//! `Db`'s reads each pin the current generation for the length of the call; the iterators
//! (`SearchIter`, `QueryIter`) keep theirs from the first page to the last, so pages never mix
//! generations (docs/compatibility.md, "Iterators"). Every read is confined to its `Scope`'s
//! partitions.

use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::{
    self, CollectionView, Cursor, Hit, HybridRequest, OutputFields, RequestTime, RowId, Scope,
    SearchRequest,
};
use crate::error::Result;
use crate::filter::{self, Filter};
use crate::follow::Mapped;
use crate::rowview::RowFilter;
use crate::schema::CollectionSchema;
use crate::value::{Pk, Row};

/// The compiled filter of `view`'s collection (ISO literals without an offset in its zone), or None when
/// it accepts every row (so the engine can skip evaluating it).
pub(crate) fn compile_filter(
    filter: Filter<'_>,
    view: &CollectionView<'_>,
) -> Result<Option<Box<dyn RowFilter>>> {
    let predicate = filter::compile_in(filter, view.schema(), &view.zone()?)?;
    Ok((!predicate.matches_everything()).then(|| Box::new(predicate) as Box<dyn RowFilter>))
}

/// The view and its compiled filter; on a partition-key collection whose filter pins the key to some
/// values, the view confined to those values' partitions (the rows of the others cannot match).
fn filtered<'a>(
    view: CollectionView<'a>,
    filter: Filter<'_>,
) -> Result<(CollectionView<'a>, Option<Box<dyn RowFilter>>)> {
    let predicate = filter::compile_in(filter, view.schema(), &view.zone()?)?;
    let view = match view.schema().partition_key() {
        Some((_, key)) => match predicate.pinned_values(&key.name) {
            Some(values) => view.confined_to_keys(&values),
            None => view,
        },
        None => view,
    };
    let compiled =
        (!predicate.matches_everything()).then(|| Box::new(predicate) as Box<dyn RowFilter>);
    Ok((view, compiled))
}

/// Compiled filters borrowed as the engine takes them.
fn borrowed(filters: &[Option<Box<dyn RowFilter>>]) -> Vec<Option<&dyn RowFilter>> {
    filters.iter().map(|f| f.as_deref()).collect()
}

/// One generation, held (see the module doc). Cheap to clone: clones share the mapping.
#[derive(Clone)]
pub struct Pinned {
    mapped: Arc<Mapped>,
    /// The db file, named by the errors of damaged sections.
    path: Arc<PathBuf>,
}

impl Pinned {
    pub(crate) fn new(mapped: Arc<Mapped>, path: PathBuf) -> Pinned {
        Pinned {
            mapped,
            path: Arc::new(path),
        }
    }

    /// The generation held.
    pub fn generation(&self) -> u64 {
        self.mapped.meta.generation
    }

    /// Runs `read` on the target collection of this generation, confined to the target's partitions;
    /// its errors name the file.
    fn read<T>(
        &self,
        target: Scope<'_>,
        read: impl FnOnce(CollectionView<'_>) -> Result<T>,
    ) -> Result<T> {
        let snap = self.mapped.snapshot();
        snap.scoped(target)
            .and_then(read)
            .map_err(|e| engine::on_file(e, &self.path))
    }

    /// The target collection's schema in this generation.
    pub fn schema<'a>(&self, target: impl Into<Scope<'a>>) -> Result<&CollectionSchema> {
        let t = target.into();
        Ok(&engine::entry(&self.mapped.catalog, t.db, t.collection)?.schema)
    }

    /// The name of the target collection's primary key in this generation.
    pub fn primary_field<'a>(&self, target: impl Into<Scope<'a>>) -> Result<String> {
        Ok(self.schema(target)?.primary().name.clone())
    }

    /// Rows for these keys, in the order asked; missing keys are left out.
    pub fn get<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        ids: &[Pk],
        output: &OutputFields,
    ) -> Result<Vec<Row>> {
        self.read(target.into(), |view| view.get(ids, output))
    }

    /// Rows matching `filter` in primary-key order, after `offset`, at most `limit`.
    pub fn query<'a, 'f>(
        &self,
        target: impl Into<Scope<'a>>,
        filter: impl Into<Filter<'f>>,
        output: &OutputFields,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<Vec<Row>> {
        let filter = filter.into();
        self.read(target.into(), |view| {
            let (view, f) = filtered(view, filter)?;
            view.query(f.as_deref(), output, limit, offset)
        })
    }

    pub fn count<'a, 'f>(
        &self,
        target: impl Into<Scope<'a>>,
        filter: impl Into<Filter<'f>>,
    ) -> Result<u64> {
        let filter = filter.into();
        self.read(target.into(), |view| {
            let (view, f) = filtered(view, filter)?;
            view.count(f.as_deref())
        })
    }

    /// One list of hits per query vector, best first.
    pub fn search<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        request: &SearchRequest,
    ) -> Result<Vec<Vec<Hit>>> {
        self.read(target.into(), |view| {
            let (view, f) = filtered(view, request_filter(request))?;
            let boosts = boost_filters(request.rerank.as_ref(), &view)?;
            view.search(request, f.as_deref(), &borrowed(&boosts))
        })
    }

    /// Each request searched on this generation, the routes merged by `request.rerank`: one list
    /// of hits per query vector, best first. The routes share one view, so none is confined to the
    /// partitions its filter pins (a pruning that never changes the answer).
    pub fn hybrid_search<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        request: &HybridRequest,
    ) -> Result<Vec<Vec<Hit>>> {
        self.read(target.into(), |view| {
            let filters = request
                .requests
                .iter()
                .map(|r| compile_filter(request_filter(r), &view))
                .collect::<Result<Vec<_>>>()?;
            let boosts = boost_filters(Some(&request.rerank), &view)?;
            view.hybrid_search(request, &borrowed(&filters), &borrowed(&boosts))
        })
    }

    /// A search iterator over this generation: pages of `request`'s hits in order (one query vector).
    pub fn search_iter<'a>(
        &self,
        target: impl Into<Scope<'a>>,
        request: SearchRequest,
    ) -> Result<SearchIter> {
        let target = target.into();
        let filter = self.read(target, |view| {
            // Checked once here, so that a bad request fails at creation, not at the first page.
            let f = compile_filter(request_filter(&request), &view)?;
            view.search_page(&request, f.as_deref(), None, 1)?;
            Ok(f)
        })?;
        Ok(SearchIter {
            pinned: self.clone(),
            target: OwnedScope::of(target),
            request,
            filter,
            cursor: None,
        })
    }

    /// A query iterator over this generation: the rows matching `filter` in primary-key order, page
    /// by page, after the first `offset`.
    pub fn query_iter<'a, 'f>(
        &self,
        target: impl Into<Scope<'a>>,
        filter: impl Into<Filter<'f>>,
        output: OutputFields,
        offset: usize,
    ) -> Result<QueryIter> {
        let (target, filter) = (target.into(), filter.into());
        let order = self.read(target, |view| {
            let (view, f) = filtered(view, filter)?;
            view.matching_in_pk_order(f.as_deref())
        })?;
        Ok(QueryIter {
            pinned: self.clone(),
            target: OwnedScope::of(target),
            order,
            next: offset,
            output,
        })
    }
}

/// A `Scope` an iterator keeps between pages.
struct OwnedScope {
    db: String,
    collection: String,
    partitions: Vec<String>,
    time: Option<RequestTime>,
}

impl OwnedScope {
    fn of(scope: Scope<'_>) -> OwnedScope {
        OwnedScope {
            db: scope.db.to_string(),
            collection: scope.collection.to_string(),
            partitions: scope.partitions.to_vec(),
            time: scope.time.cloned(),
        }
    }

    fn scope(&self) -> Scope<'_> {
        let scope = Scope::new(&self.db, &self.collection).partitions(&self.partitions);
        match &self.time {
            Some(time) => scope.time(time),
            None => scope,
        }
    }
}

/// A search request's filter with its placeholders' values.
fn request_filter(request: &SearchRequest) -> Filter<'_> {
    Filter::new(&request.filter, &request.filter_params)
}

/// The compiled filters of `rerank`'s boosts, in order (None: the boost applies to every row).
fn boost_filters(
    rerank: Option<&crate::engine::Rerank>,
    view: &CollectionView<'_>,
) -> Result<Vec<Option<Box<dyn RowFilter>>>> {
    rerank
        .map_or(&[][..], |r| &r.boosts[..])
        .iter()
        .map(|b| match &b.filter {
            Some(text) => compile_filter(text.into(), view),
            None => Ok(None),
        })
        .collect()
}

/// Pages of one search's hits, best first, from the generation it was created on.
pub struct SearchIter {
    pinned: Pinned,
    target: OwnedScope,
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
        let (hits, cursor) = self.pinned.read(self.target.scope(), |view| {
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
    target: OwnedScope,
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
        let rows = self.pinned.read(self.target.scope(), |view| {
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
