"""Result containers shaped like pymilvus's: plain lists and dicts with the same extra attributes."""


class OmitZeroDict(dict):
    """insert/upsert results: prints without zero-valued keys, as pymilvus does (``cost`` is 0)."""

    def __str__(self):
        return str({k: v for k, v in self.items() if v or k in ("insert_count", "upsert_count", "delete_count", "ids")})

    def __repr__(self):
        return str(dict(self))


class _Extra:
    """An ``extra`` dict (always empty in covec), made on first use: no __init__ keeps building a
    result as cheap as building a list, which a search pays on every call."""

    @property
    def extra(self):
        return self.__dict__.setdefault("extra", OmitZeroDict())


class ExtraList(_Extra, list):
    """get/query results: a list of row dicts with an ``extra`` dict."""


class Hit(dict):
    """One search hit: ``{pk_name: id, "distance": d, "entity": {...}}``.

    As in pymilvus, ``hit.id`` and ``hit.distance`` are properties, ``hit.entity`` is the hit itself and
    ``hit["field"]``/``hit.get("field")`` fall back to the entity's fields.
    """

    # The primary key's name; an instance attribute shadows it for other names. No __init__: dict's own
    # is several times cheaper, and a search makes one Hit per result.
    _pk_name = "id"

    def __getattr__(self, item):
        if item == "entity":
            return self
        try:
            return self[item]
        except KeyError as exc:
            raise AttributeError(item) from exc

    def __missing__(self, key):
        # dict's own lookup answers the hit's keys (hit["id"]) at C speed; only other names reach here.
        entity = dict.get(self, "entity")
        if entity is None:
            raise KeyError(key)
        return entity[key]

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    @property
    def id(self):
        return super().get(self._pk_name)

    @property
    def pk(self):
        return self.id

    @property
    def distance(self):
        return super().get("distance")

    @property
    def score(self):
        return self.distance

    @property
    def fields(self):
        return super().get("entity")

    def to_dict(self):
        return self


class HybridHits(list):
    """The hits of one query vector, best first.

    As in pymilvus 3, the hits' vectors and JSON values (JSON fields, dynamic keys) are converted on the
    first read of the list: ``hits[i]``, slices, iteration (``for``, ``list()``, ``json.dumps``, ``copy``,
    pickling) and ``str``/``repr`` call ``materialize()``, which puts them into the entities after the
    keys already there. Until then ``len`` and list methods that bypass those (``list.__getitem__``,
    ``==``, ``in``, ``copy()``, ``reversed``, ``sort``) see the hits without them, exactly as pymilvus's.
    """

    # The binding sets ``_lazy`` (a native ``LazyFields``) on hits with values to convert.
    _lazy = None
    has_materialized = False

    @property
    def ids(self):
        """The hits' primary keys, best first, read without materializing (pymilvus's ``HybridHits.ids``)."""
        return [dict.__getitem__(h, h._pk_name) for h in list.__iter__(self)]

    @property
    def distances(self):
        """The hits' distances, best first, read without materializing (pymilvus's ``HybridHits.distances``)."""
        return [dict.__getitem__(h, "distance") for h in list.__iter__(self)]

    def materialize(self):
        if not self.has_materialized:
            if self._lazy is not None:
                self._lazy.fill()
                self._lazy = None
            self.has_materialized = True

    def __getitem__(self, key):
        self.materialize()
        return list.__getitem__(self, key)

    def __iter__(self):
        self.materialize()
        return list.__iter__(self)

    def __reduce_ex__(self, protocol):
        # Copies and pickles carry the converted values, never the native buffer.
        self.materialize()
        return list.__reduce_ex__(self, protocol)

    def __repr__(self):
        self.materialize()
        return list.__repr__(self)

    __str__ = __repr__


class SearchResult(_Extra, list):
    """One HybridHits per query vector, with ``extra`` (empty) and ``recalls`` (None) as in pymilvus."""

    recalls = None

    def materialize(self):
        """Converts every query's lazy values now (pymilvus 3's ``SearchResult.materialize``)."""
        for hits in list.__iter__(self):
            hits.materialize()


class AnalyzeToken:
    """One token of ``run_analyzer(..., with_detail= or with_hash=True)``, as pymilvus's: ``token["token"]``,
    ``token.start_offset`` (byte offsets into the text, as the Milvus server gives them), ``position``,
    ``position_length``, ``hash`` (the BM25 term id)."""

    def __init__(self, token, with_hash, with_detail):
        text, start, end, position, position_length, term_hash = token
        self.dict = {"token": text}
        if with_detail:
            self.dict.update(
                start_offset=start, end_offset=end, position=position, position_length=position_length
            )
        if with_hash:
            self.dict["hash"] = term_hash

    def __getitem__(self, key):
        return self.dict[key]

    def __getattr__(self, item):
        try:
            return self.__dict__["dict"][item]
        except KeyError as exc:
            raise AttributeError(item) from exc

    def __str__(self):
        return str(self.dict)

    __repr__ = __str__


class AnalyzeResult:
    """One text's ``run_analyzer`` result: ``.tokens``, the token strings, or ``AnalyzeToken``s with details
    or hashes."""

    def __init__(self, tokens, with_hash=False, with_detail=False):
        if with_hash or with_detail:
            self.tokens = [AnalyzeToken(t, with_hash, with_detail) for t in tokens]
        else:
            self.tokens = [t[0] for t in tokens]

    def __str__(self):
        return str(self.tokens)

    __repr__ = __str__
