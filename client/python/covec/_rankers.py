"""pymilvus's search-request and ranker classes, for ``from covec import AnnSearchRequest, RRFRanker,
WeightedRanker, FunctionScore`` without importing pymilvus. The client takes these and pymilvus's own
alike: it reads the same attributes from either (``dict()`` of a ranker; ``functions`` and ``params``
of a FunctionScore; ``data``, ``anns_field``, ``param``, ``limit``, ``expr`` of a request).
"""

from .exceptions import DataTypeNotMatchException, ParamError


class BaseRanker:
    """A hybrid search ranker: ``dict()`` is ``{"strategy": ..., "params": {...}}``, as pymilvus's."""

    def dict(self):
        return {}

    def __str__(self):
        return str(self.dict())


class RRFRanker(BaseRanker):
    """Reciprocal rank fusion: a row scores the sum over requests of ``1 / (k + rank)``."""

    def __init__(self, k=60):
        self._k = k

    def dict(self):
        return {"strategy": "rrf", "params": {"k": self._k}}


class WeightedRanker(BaseRanker):
    """A weighted sum of each request's score, one weight per request; with ``norm_score`` (the
    default, as in pymilvus) each score is first mapped into [0, 1] by its metric's normalisation."""

    def __init__(self, *nums, norm_score=True):
        for num in nums:
            if isinstance(num, bool) or not isinstance(num, (int, float)):
                raise TypeError(f"Weight must be a number, got {type(num)}")
        self._weights = list(nums)
        self._norm_score = norm_score

    def dict(self):
        return {"strategy": "weighted", "params": {"weights": self._weights, "norm_score": self._norm_score}}


class FunctionScore:
    """RERANK functions (boost, decay, rrf, weighted) applied together; ``params`` holds
    ``boost_mode`` and ``function_mode`` ('Multiply' or 'Sum')."""

    def __init__(self, functions, params=None):
        self._functions = functions if isinstance(functions, (list, tuple)) else [functions]
        self._params = params

    @property
    def functions(self):
        return self._functions

    @property
    def params(self):
        return self._params


class AnnSearchRequest:
    """One search of a hybrid search: query vectors of one field, its search parameters, its own
    limit and filter (``expr`` or ``filter``, with ``expr_params`` for a filter template)."""

    def __init__(self, data, anns_field, param, limit, expr=None, expr_params=None, filter=None):
        if expr is not None and filter is not None:
            raise ParamError(message="Provide either 'expr' or 'filter', not both.")
        resolved = filter if filter is not None else expr
        if resolved is not None and not isinstance(resolved, str):
            raise DataTypeNotMatchException(
                message=f"The type of expr must be string ,but {type(resolved)!r} is given."
            )
        self._data = data
        self._anns_field = anns_field
        self._param = param
        self._limit = limit
        self._expr = resolved
        self._expr_params = expr_params

    @property
    def data(self):
        return self._data

    @property
    def anns_field(self):
        return self._anns_field

    @property
    def param(self):
        return self._param

    @property
    def limit(self):
        return self._limit

    @property
    def expr(self):
        return self._expr

    @property
    def filter(self):
        return self._expr

    @property
    def expr_params(self):
        return self._expr_params

    def __str__(self):
        return str({"anns_field": self.anns_field, "param": self.param, "limit": self.limit, "expr": self.expr})
