//! Every search's entry (`CollectionView::search`: a search without a ranker is search.rs's) and the
//! rerankers: boosts applied to one route's candidates (Milvus's L0 stage), the merge of a hybrid
//! search's routes (RRF, weighted, decay: its L2 stage), then the grouping or page cut of the merged
//! list. Scores are Milvus's reported distances, computed in f64 and reported as f32, as
//! Milvus's function chain computes them (docs/compatibility.md, "Hybrid search and rerankers").

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::f64::consts::PI;

use super::read::RowRef;
use super::search::{Grouping, VectorSearch};
use super::{
    corrupt, CollectionView, Combine, Decay, DecayFunction, Hit, HybridRequest, Merge, Rerank,
    RowId, ScoreMode, SearchRequest,
};
use crate::error::{Error, Result};
use crate::rowview::{RowFilter, ValueRef};
use crate::schema::{DataType, Metric};

/// Candidates a reranked search takes per wanted hit before reranking (as Milvus Lite: 10).
const RERANK_FETCH: usize = 10;
/// Candidates per wanted row of each group a grouped hybrid search takes from each route (Lite: 3).
const GROUP_FETCH: usize = 3;
/// Milvus's bound on RRF's k (exclusive both ways).
const MAX_RRF_K: f64 = 16384.0;
/// The merge of a hybrid search whose ranker has only boosts (as Milvus Lite: RRF with its default k).
const DEFAULT_MERGE: Merge = Merge::Rrf { k: 60.0 };

/// One route's candidates for one query vector: rows with their score, best first.
struct Route {
    metric: Metric,
    hits: Vec<(f64, RowId)>,
}

impl CollectionView<'_> {
    /// The best `limit` hits after `offset` per query vector, best first (grouped when the request
    /// groups; reranked by its ranker or its function chain). `request.filter` is not read: the caller
    /// compiles it into `filter`; `boosts` are the compiled filters of `request.rerank`'s boosts, in
    /// order.
    pub fn search(
        &self,
        request: &SearchRequest,
        filter: Option<&dyn RowFilter>,
        boosts: &[Option<&dyn RowFilter>],
    ) -> Result<Vec<Vec<Hit>>> {
        let search = VectorSearch::new(self, request, filter)?;
        match &request.rerank {
            None => self.ranked_search(&search, request),
            Some(_) if request.chain.is_some() => Err(Error::param(
                "function_chains and ranker cannot be used together",
            )),
            Some(rerank) => self.reranked_search(&search, request, rerank, boosts),
        }
    }

    /// Searches each of `request.requests` on this generation (with the compiled `filters`, one per
    /// request), boosts each route with `request.rerank`'s boosts (compiled `boosts`), merges the routes
    /// per query vector and returns the best `limit` after `offset` (groups, when grouping).
    pub fn hybrid_search(
        &self,
        request: &HybridRequest,
        filters: &[Option<&dyn RowFilter>],
        boosts: &[Option<&dyn RowFilter>],
    ) -> Result<Vec<Vec<Hit>>> {
        let Some(first) = request.requests.first() else {
            return Err(Error::param(
                "hybrid_search needs at least one AnnSearchRequest in reqs",
            ));
        };
        if request.limit == 0 {
            return Err(Error::invalid("search limit must be at least 1"));
        }
        if filters.len() != request.requests.len() {
            return Err(Error::Internal("one compiled filter per request".into()));
        }
        let searches = request
            .requests
            .iter()
            .zip(filters)
            .map(|(r, f)| VectorSearch::new(self, r, *f))
            .collect::<Result<Vec<_>>>()?;
        if let Some(r) = request.requests.iter().find(|r| r.nq != first.nq) {
            return Err(Error::invalid(format!(
                "every AnnSearchRequest of a hybrid search needs the same number of query vectors; got {} and {}",
                first.nq, r.nq
            )));
        }
        let merge = request.rerank.merge.as_ref().unwrap_or(&DEFAULT_MERGE);
        let metrics: Vec<Metric> = searches.iter().map(|s| s.metric).collect();
        merge.check(self, &metrics)?;
        let grouping = Grouping::of(self, request.group_by.as_ref())?;
        let wanted = request.limit.saturating_add(request.offset);
        let fetch = |sub_limit: usize| {
            let mut k = sub_limit;
            if let Some(g) = &request.group_by {
                k = k.max(wanted.saturating_mul(g.size).saturating_mul(GROUP_FETCH));
            }
            if !request.rerank.boosts.is_empty() {
                k = k.max(wanted.saturating_mul(RERANK_FETCH));
            }
            k
        };
        let mut queries: Vec<_> = searches.iter().map(|s| s.queries.iter()).collect();
        let page = Page {
            offset: request.offset,
            limit: request.limit,
            output: &request.output,
            with_pk: self.names_pk(&request.output),
        };
        let mut results = Vec::with_capacity(first.nq);
        for _ in 0..first.nq {
            let mut routes = Vec::with_capacity(searches.len());
            for ((search, sub), queries) in searches.iter().zip(&request.requests).zip(&mut queries)
            {
                let q = queries
                    .next()
                    .ok_or_else(|| Error::Internal("query vectors counted".into()))?;
                let hits = search.scored(search.top(q, fetch(sub.limit), None)?.hits);
                routes.push(Route {
                    metric: search.metric,
                    hits: self.boosted(hits, search.metric, &request.rerank, boosts)?,
                });
            }
            let merged = merge.merge(self, &routes)?;
            results.push(self.page(merged, grouping.as_ref(), &page)?);
        }
        Ok(results)
    }

    /// A search with `ranker=`: candidates boosted, then merged alone by the rerank's merge (decay,
    /// RRF or weighted over one route) when it has one, then grouped or cut.
    fn reranked_search(
        &self,
        search: &VectorSearch<'_>,
        request: &SearchRequest,
        rerank: &Rerank,
        boosts: &[Option<&dyn RowFilter>],
    ) -> Result<Vec<Vec<Hit>>> {
        if let Some(merge) = &rerank.merge {
            merge.check(self, &[search.metric])?;
        }
        let grouping = Grouping::of(self, request.group_by.as_ref())?;
        let wanted = request.limit.saturating_add(request.offset);
        let mut fetch = wanted.saturating_mul(RERANK_FETCH);
        if let Some(g) = &request.group_by {
            fetch = fetch.max(wanted.saturating_mul(g.size).saturating_mul(GROUP_FETCH));
        }
        let page = Page {
            offset: request.offset,
            limit: request.limit,
            output: &request.output,
            with_pk: self.names_pk(&request.output),
        };
        let mut results = Vec::with_capacity(request.nq);
        for q in &search.queries {
            let hits = search.scored(search.top(q, fetch, None)?.hits);
            let boosted = self.boosted(hits, search.metric, rerank, boosts)?;
            let merged = match &rerank.merge {
                None => boosted,
                Some(merge) => merge.merge(
                    self,
                    &[Route {
                        metric: search.metric,
                        hits: boosted,
                    }],
                )?,
            };
            results.push(self.page(merged, grouping.as_ref(), &page)?);
        }
        Ok(results)
    }

    /// `hits` (best first for `metric`) with each boost applied to the rows its filter accepts, sorted
    /// again. `boosts` are the compiled filters of `rerank.boosts`, in order (None: every row).
    fn boosted(
        &self,
        mut hits: Vec<(f64, RowId)>,
        metric: Metric,
        rerank: &Rerank,
        boosts: &[Option<&dyn RowFilter>],
    ) -> Result<Vec<(f64, RowId)>> {
        if rerank.boosts.is_empty() {
            return Ok(hits);
        }
        if boosts.len() != rerank.boosts.len() {
            return Err(Error::Internal("one compiled filter per boost".into()));
        }
        // Each boost filter's text-match answers for the parts the hits lie in, computed once a part.
        let mut text: HashMap<(usize, usize), Vec<Vec<u64>>> = HashMap::new();
        for (score, id) in &mut hits {
            let mut weights = Vec::new();
            for (i, (boost, filter)) in rerank.boosts.iter().zip(boosts).enumerate() {
                let accepts = match filter {
                    None => true,
                    Some(f) => {
                        let answers = match text.entry((i, id.part)) {
                            Entry::Occupied(e) => e.into_mut(),
                            Entry::Vacant(e) => e.insert(self.text_answers(id.part, *f)?),
                        };
                        f.matches(&RowRef {
                            view: self,
                            id: *id,
                            text: answers,
                        })
                    }
                };
                if accepts {
                    weights.push(boost.weight);
                }
            }
            if let Some(weight) = combine(rerank.function_mode, weights) {
                *score = combine(rerank.boost_mode, [*score, weight]).unwrap_or(*score);
            }
        }
        sort_scores(self, &mut hits, metric.higher_is_better())?;
        Ok(hits)
    }

    /// Row `id`'s value of numeric field `col` (None when null).
    fn number(&self, col: usize, id: RowId) -> Result<Option<f64>> {
        match self.parts[id.part].cols[col].get(id.row) {
            Some(ValueRef::Int(i)) => Ok(Some(i as f64)),
            Some(ValueRef::Float(f)) => Ok(Some(f)),
            Some(ValueRef::Null) => Ok(None),
            _ => Err(corrupt("decay input field unreadable")),
        }
    }
}

/// `values` combined by `mode`; None when there are none.
fn combine(mode: Combine, values: impl IntoIterator<Item = f64>) -> Option<f64> {
    values.into_iter().reduce(|a, b| match mode {
        Combine::Multiply => a * b,
        Combine::Sum => a + b,
    })
}

/// Sorts best first (descending or ascending), NaN last, equal scores by primary key ascending, as
/// Milvus's sort operator.
fn sort_scores(
    view: &CollectionView<'_>,
    hits: &mut Vec<(f64, RowId)>,
    descending: bool,
) -> Result<()> {
    let mut keyed = hits
        .iter()
        .map(|&(score, id)| Ok((score, view.pk(id)?, id)))
        .collect::<Result<Vec<_>>>()?;
    keyed.sort_by(|a, b| order_scores(a.0, b.0, descending).then_with(|| a.1.cmp(&b.1)));
    *hits = keyed
        .into_iter()
        .map(|(score, _, id)| (score, id))
        .collect();
    Ok(())
}

/// Best first: larger first when `descending`, NaN last either way.
fn order_scores(a: f64, b: f64, descending: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) if descending => b.total_cmp(&a),
        (false, false) => a.total_cmp(&b),
    }
}

/// Which hits of a merged list a search returns, and how.
struct Page<'r> {
    offset: usize,
    limit: usize,
    output: &'r super::OutputFields,
    with_pk: bool,
}

impl CollectionView<'_> {
    /// The hits of `merged` (best first) on `page`: groups `offset..offset + limit` flattened, or
    /// hits `offset..offset + limit`.
    fn page(
        &self,
        merged: Vec<(f64, RowId)>,
        grouping: Option<&Grouping>,
        page: &Page<'_>,
    ) -> Result<Vec<Hit>> {
        let cut = match grouping {
            None => merged
                .into_iter()
                .skip(page.offset)
                .take(page.limit)
                .collect(),
            Some(g) => g
                .group(self, &merged, page.offset.saturating_add(page.limit))?
                .0
                .into_iter()
                .skip(page.offset)
                .flatten()
                .collect(),
        };
        self.scored_hits(cut, page.output, page.with_pk)
    }
}

/// A score mapped into [0, 1], larger better, as Milvus normalises each metric for `norm_score`.
fn normalised(metric: Metric, score: f64) -> f64 {
    match metric {
        Metric::Cosine => (1.0 + score) * 0.5,
        Metric::Ip => 0.5 + score.atan() / PI,
        Metric::Bm25 => 2.0 * score.atan() / PI,
        Metric::L2 | Metric::Hamming | Metric::Jaccard => 1.0 - 2.0 * score.atan() / PI,
    }
}

/// A score made larger-better without normalising, as Milvus does when routes of both directions
/// meet: distances map into (0, 1] by arctan, similarities stay as they are.
fn larger_better(metric: Metric, score: f64) -> f64 {
    if metric.higher_is_better() {
        score
    } else {
        1.0 - 2.0 * score.atan() / PI
    }
}

impl Merge {
    /// Checks the merge against the routes' metrics and the collection's schema.
    fn check(&self, view: &CollectionView<'_>, metrics: &[Metric]) -> Result<()> {
        match self {
            Merge::Rrf { k } => {
                if !(*k > 0.0 && *k < MAX_RRF_K) {
                    return Err(Error::invalid(format!(
                        "The rank params k should be in range (0, {MAX_RRF_K}), got {k}"
                    )));
                }
            }
            Merge::Weighted { weights, .. } => {
                if weights.len() != metrics.len() {
                    return Err(Error::invalid_code(
                        1,
                        format!(
                            "weighted merge requires {} weights, got {}; give WeightedRanker one weight per AnnSearchRequest",
                            metrics.len(),
                            weights.len()
                        ),
                    ));
                }
                if let Some(w) = weights.iter().find(|w| !(0.0..=1.0).contains(*w)) {
                    return Err(Error::invalid(format!(
                        "rank param weight should be in range [0, 1], got {w}"
                    )));
                }
            }
            Merge::Decay { field, .. } => {
                let col = view.field_index(field).ok_or_else(|| {
                    Error::invalid(format!(
                        "input field {field} not found in collection schema; a decay reranker reads a numeric field"
                    ))
                })?;
                let dtype = view.entry.schema.fields[col].dtype;
                if !(dtype.is_integer() || matches!(dtype, DataType::Float | DataType::Double)) {
                    return Err(Error::invalid(format!(
                        "decay input field {field} must be numeric, got {}",
                        dtype.name()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The routes merged into one list, best first.
    fn merge(&self, view: &CollectionView<'_>, routes: &[Route]) -> Result<Vec<(f64, RowId)>> {
        // Rows in the order first seen (route by route, best first).
        let mut index: HashMap<RowId, usize> = HashMap::new();
        let mut rows: Vec<(RowId, Vec<Option<f64>>, Vec<usize>)> = Vec::new();
        for (r, route) in routes.iter().enumerate() {
            for (rank, &(score, id)) in route.hits.iter().enumerate() {
                let i = *index.entry(id).or_insert_with(|| {
                    rows.push((id, vec![None; routes.len()], vec![usize::MAX; routes.len()]));
                    rows.len() - 1
                });
                if rows[i].1[r].is_none() {
                    rows[i].1[r] = Some(score);
                    rows[i].2[r] = rank;
                }
            }
        }
        let metrics: Vec<Metric> = routes.iter().map(|r| r.metric).collect();
        let mixed = metrics.iter().any(|m| m.higher_is_better())
            && metrics.iter().any(|m| !m.higher_is_better());
        let (mut merged, descending) = match self {
            Merge::Rrf { k } => {
                let merged = rows
                    .iter()
                    .map(|(id, _, ranks)| {
                        let score = ranks
                            .iter()
                            .filter(|&&r| r != usize::MAX)
                            .map(|&r| 1.0 / (k + r as f64 + 1.0))
                            .sum();
                        (score, *id)
                    })
                    .collect();
                (merged, true)
            }
            Merge::Weighted {
                weights,
                norm_score,
            } => {
                let map = |m: Metric, s: f64| {
                    if *norm_score {
                        normalised(m, s)
                    } else if mixed {
                        larger_better(m, s)
                    } else {
                        s
                    }
                };
                let merged = rows
                    .iter()
                    .map(|(id, scores, _)| {
                        let score = scores
                            .iter()
                            .zip(weights.iter().zip(&metrics))
                            .filter_map(|(s, (w, m))| s.map(|s| w * map(*m, s)))
                            .sum();
                        (score, *id)
                    })
                    .collect();
                // Unnormalised distances of one direction keep it: smaller is better.
                let descending =
                    *norm_score || mixed || metrics.iter().all(|m| m.higher_is_better());
                (merged, descending)
            }
            Merge::Decay {
                field,
                decay,
                mode,
                norm_score,
            } => {
                let col = view
                    .field_index(field)
                    .ok_or_else(|| Error::Internal("decay field checked".into()))?;
                let mut merged = Vec::with_capacity(rows.len());
                for (id, scores, _) in &rows {
                    let mapped: Vec<f64> = scores
                        .iter()
                        .zip(&metrics)
                        .filter_map(|(s, m)| {
                            s.map(|s| {
                                if *norm_score {
                                    normalised(*m, s)
                                } else {
                                    larger_better(*m, s)
                                }
                            })
                        })
                        .collect();
                    let score = match mode {
                        ScoreMode::Max => mapped.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        ScoreMode::Sum => mapped.iter().sum(),
                        ScoreMode::Avg => mapped.iter().sum::<f64>() / mapped.len().max(1) as f64,
                    };
                    let factor = view.number(col, *id)?.map_or(0.0, |x| decay.factor(x));
                    merged.push((score * factor, *id));
                }
                (merged, true)
            }
        };
        sort_scores(view, &mut merged, descending)?;
        Ok(merged)
    }
}

impl Decay {
    /// The decay factor of value `x`: 1 within `offset` of `origin`, `decay` at `scale` past it.
    pub fn factor(&self, x: f64) -> f64 {
        let d = ((x - self.origin).abs() - self.offset).max(0.0);
        if d == 0.0 {
            return 1.0;
        }
        let ln_decay = self.decay.ln();
        match self.function {
            DecayFunction::Gauss => (d * d * ln_decay / (self.scale * self.scale)).exp(),
            DecayFunction::Exp => (ln_decay * d / self.scale).exp(),
            DecayFunction::Linear => (1.0 - (1.0 - self.decay) * d / self.scale).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decay(function: DecayFunction) -> Decay {
        Decay {
            function,
            origin: 100.0,
            scale: 10.0,
            offset: 2.0,
            decay: 0.5,
        }
    }

    #[test]
    fn decay_is_one_within_offset_and_decay_at_scale() {
        for f in [
            DecayFunction::Gauss,
            DecayFunction::Exp,
            DecayFunction::Linear,
        ] {
            let d = decay(f);
            assert_eq!(d.factor(101.5), 1.0);
            assert_eq!(d.factor(98.0), 1.0);
            assert!((d.factor(112.0) - 0.5).abs() < 1e-12, "{f:?}");
            assert!((d.factor(88.0) - 0.5).abs() < 1e-12, "{f:?}");
            assert!(d.factor(130.0) < 0.5);
        }
        // Linear reaches 0 at scale / (1 - decay) past the offset, and stays there.
        assert_eq!(decay(DecayFunction::Linear).factor(122.0), 0.0);
        assert_eq!(decay(DecayFunction::Linear).factor(1e9), 0.0);
        // Gauss at twice the scale: decay^4; exp: decay^2.
        assert!((decay(DecayFunction::Gauss).factor(122.0) - 0.0625).abs() < 1e-12);
        assert!((decay(DecayFunction::Exp).factor(122.0) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn normalisation_maps_each_metric_into_unit_range_larger_better() {
        assert_eq!(normalised(Metric::Cosine, 1.0), 1.0);
        assert_eq!(normalised(Metric::Cosine, -1.0), 0.0);
        assert_eq!(normalised(Metric::Ip, 0.0), 0.5);
        assert_eq!(normalised(Metric::L2, 0.0), 1.0);
        assert!(normalised(Metric::L2, 1.0) < normalised(Metric::L2, 0.5));
        assert!(normalised(Metric::Ip, 1e9) <= 1.0);
        assert_eq!(larger_better(Metric::Ip, -3.0), -3.0);
        assert_eq!(larger_better(Metric::L2, 0.0), 1.0);
    }

    #[test]
    fn scores_order_best_first_with_nan_last() {
        let mut scores = [1.0, f64::NAN, 2.0, 0.5];
        scores.sort_by(|a, b| order_scores(*a, *b, true));
        assert_eq!(&scores[..3], [2.0, 1.0, 0.5]);
        assert!(scores[3].is_nan());
        scores.sort_by(|a, b| order_scores(*a, *b, false));
        assert_eq!(&scores[..3], [0.5, 1.0, 2.0]);
        assert!(scores[3].is_nan());
    }
}
