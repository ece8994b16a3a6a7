"""Copying collections between MilvusClient-API stores: covec dbs, Milvus Lite dbs and Milvus servers.

`covec import` and `covec export` are both `copy(source, target, ...)`. Everything is read and written through
the API both ends share: list_databases/use_database the databases, describe_collection a pymilvus
CollectionSchema (``construct_from_dict``, which carries every field parameter and function it describes),
list_indexes/describe_index IndexParams, list_partitions the partitions, query_iterator pages of rows in
primary-key order, and list_aliases the aliases. So a field type, index type or function that both ends know is
copied without code of its own here.

Rows are inserted in primary-key order, one batch per insert, so an interrupted copy leaves in the target the
rows up to some key: ``resume`` continues each collection (each partition) after the largest key it holds.

pymilvus is imported here, never by ``import covec``.
"""

from . import _remote
from .client import MilvusClient, _filter_literal

# describe_index keys that report an index's state rather than how it was built.
_INDEX_STATE_KEYS = frozenset(
    {"field_name", "index_name", "total_rows", "indexed_rows", "pending_index_rows", "state"}
)


class Refused(Exception):
    """The copy cannot start or go on; the message says why, and nothing of the refused collection was copied."""


def _pymilvus():
    try:
        import pymilvus
    except ImportError:
        raise Refused('copying to or from Milvus needs pymilvus: pip install "covec[milvus]"') from None
    return pymilvus


class _NoBar:
    """What a quiet copy updates instead of a progress bar (it needs no tqdm)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


def progress_bar(total, name, quiet):
    """tqdm's bar on stderr (a well-kept, dependency-free progress bar); none with ``quiet``."""
    if quiet:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        raise Refused('the progress bar needs tqdm: pip install "covec[milvus]" (or pass --quiet)') from None
    return tqdm(total=total, desc=name, unit=" rows")


def open_milvus(location, token=""):
    """A pymilvus client for a server URI (``http://``, ``https://``, ``tcp://``, ``unix:``) or a Milvus Lite db."""
    pymilvus = _pymilvus()
    if _remote.is_remote(location):
        return pymilvus.MilvusClient(location, token=token)
    try:
        import milvus_lite  # noqa: F401  (pymilvus opens local paths with it)
    except ImportError:
        raise Refused(f"{location} is a Milvus Lite db; reading it needs milvus-lite: pip install milvus-lite") from None
    return pymilvus.MilvusClient(location)


def open_covec(path):
    return MilvusClient(path)


def _primary_key(desc):
    return next(f["name"] for f in desc["fields"] if f.get("is_primary"))


def _field_signature(desc):
    """What a row must match to go into a collection: each field's name, type, element type and dimension."""
    return [
        (f["name"], int(f["type"]), bool(f.get("is_primary")), f.get("element_type"), (f.get("params") or {}).get("dim"))
        for f in desc["fields"]
    ]


def _index_params(client, name):
    """Every index of collection `name`, as pymilvus IndexParams, with the build parameters describe_index reports."""
    params = _pymilvus().MilvusClient.prepare_index_params()
    for index_name in client.list_indexes(name):
        info = client.describe_index(name, index_name)
        if not info:
            continue
        build = {k: v for k, v in info.items() if k not in _INDEX_STATE_KEYS}
        build.update(build.pop("params", None) or {})
        params.add_index(info["field_name"], build.pop("index_type", ""), info.get("index_name") or index_name, **build)
    return params


def _partitions(client, name, desc):
    """The partitions to copy one by one: [None] (the whole collection) when a partition key places the rows."""
    if any(f.get("is_partition_key") for f in desc["fields"]):
        return [None]
    return client.list_partitions(name)


def _partition_names(partition):
    return None if partition is None else [partition]


def _pages(client, name, filter, partition, batch, output_fields):
    """The rows `filter` matches in `partition`, in primary-key order, `batch` at a time."""
    it = client.query_iterator(
        name, batch_size=batch, filter=filter, output_fields=output_fields, partition_names=_partition_names(partition)
    )
    try:
        while page := it.next():
            yield page
    finally:
        it.close()


def _last_key(client, name, pk, partition, batch):
    """The largest primary key in `partition` of `name`, or None when it holds no row."""
    last = None
    for page in _pages(client, name, "", partition, batch, [pk]):
        last = page[-1][pk]
    return last


def _count(client, name, filter, partition):
    rows = client.query(
        name, filter=filter, output_fields=["count(*)"], partition_names=_partition_names(partition)
    )
    return int(rows[0]["count(*)"])


DEFAULT_DATABASE = "default"


def _qualified(database, name):
    """A collection's name as messages show it: bare in the default database, ``database.name`` elsewhere."""
    return name if database == DEFAULT_DATABASE else f"{database}.{name}"


def _aliases(client, collection=""):
    """{alias: collection} of the client's database, or of one collection's aliases."""
    names = client.list_aliases(collection)["aliases"]
    return {a: collection or client.describe_alias(a)["collection_name"] for a in names}


def _plan_database(source, target, database, names, resume, target_has_database):
    available = source.list_collections()
    names = list(names) if names else sorted(available)
    missing = [_qualified(database, n) for n in names if n not in available]
    if missing:
        raise Refused(f"no collection {', '.join(map(repr, missing))} in the source; it has {sorted(available)}")
    if not target_has_database:
        return names
    present = [_qualified(database, n) for n in names if target.has_collection(n)]
    if present and not resume:
        raise Refused(
            f"the target already has {', '.join(map(repr, present))}; nothing was copied. Pass --resume to continue "
            "each after the last primary key it holds, or --collections to choose others"
        )
    held = _aliases(target)
    for name in names:
        for alias in _aliases(source, name):
            shown = repr(_qualified(database, alias))
            if held.get(alias, name) != name:
                raise Refused(f"the target's alias {shown} names {held[alias]!r}, not {name!r}; nothing was copied")
            if alias not in held and target.has_collection(alias):
                raise Refused(f"the target has a collection {shown}, an alias of {name!r}; nothing was copied")
    return names


def plan(source, target, databases, names, resume):
    """[(database, collections)] to copy, in order; refuses before anything is copied if a database or collection is
    missing from the source, if, without ``resume``, a collection is already in the target, or if an alias the copy
    would create already names something else there. Leaves both clients in the last database planned."""
    available = source.list_databases()
    missing = [d for d in databases if d not in available]
    if missing:
        raise Refused(f"no database {', '.join(map(repr, missing))} in the source; it has {sorted(available)}")
    in_target = set(target.list_databases())
    planned = []
    for database in databases:
        source.use_database(database)
        if database in in_target:
            target.use_database(database)
        planned.append((database, _plan_database(source, target, database, names, resume, database in in_target)))
    return planned


def copy_collection(source, target, name, batch, quiet, out, label):
    """Copies collection `name` of the clients' database (schema, indexes, partitions, rows), after the last key the
    target holds if it has the collection already; shows it as `label`; returns the number of rows copied."""
    pymilvus = _pymilvus()
    desc = source.describe_collection(name)
    pk = _primary_key(desc)
    partitions = _partitions(source, name, desc)
    named = [p for p in partitions if p not in (None, "_default")]
    exists = target.has_collection(name)
    if exists:
        if _field_signature(target.describe_collection(name)) != _field_signature(desc):
            raise Refused(f"cannot resume '{label}': the target's collection of that name has other fields")
    else:
        kwargs = {"properties": desc["properties"]} if desc.get("properties") else {}
        target.create_collection(
            name,
            schema=pymilvus.CollectionSchema.construct_from_dict(desc),
            index_params=_index_params(source, name),
            **kwargs,
        )
    # Function outputs (BM25's sparse vectors, ...) are computed by the target from their inputs.
    computed = {out for f in desc.get("functions") or [] for out in f["output_field_names"]}
    # A server, and Milvus Lite, reads only loaded collections (an indexed one reopened starts released).
    source.load_collection(name)
    copied = 0
    for partition in partitions:
        if partition in named and not target.has_partition(name, partition):
            target.create_partition(name, partition)
        after = _last_key(target, name, pk, partition, batch) if exists else None
        filter = "" if after is None else f"{pk} > {_filter_literal(after)}"
        into = {} if partition is None else {"partition_name": partition}
        shown = label if partition in (None, "_default") else f"{label}/{partition}"
        with progress_bar(_count(source, name, filter, partition), shown, quiet) as bar:
            for page in _pages(source, name, filter, partition, batch, ["*"]):
                target.insert(name, [{k: v for k, v in row.items() if k not in computed} for row in page], **into)
                copied += len(page)
                bar.update(len(page))
    target.flush(name)
    if not quiet:
        print(f"{label}: {copied} rows", file=out)
    return copied


def copy_aliases(source, target, name):
    """Gives the target's collection `name` the aliases the source's has (plan checked that none names another)."""
    held = _aliases(target, name)
    for alias in _aliases(source, name):
        if alias not in held:
            target.create_alias(name, alias)


def copy(source, target, names=None, batch=1000, resume=False, quiet=False, out=None, databases=None):
    """Copies, from `source` to `target` (two MilvusClient-API clients), the collections `names` (default: every
    collection) of each of `databases` with their aliases. `databases` defaults to every database of the source
    when no `names` are given, else to the default database. Leaves both clients in the default database."""
    if databases is None and names:
        databases = [DEFAULT_DATABASE]
    elif databases is None:
        databases = sorted(source.list_databases(), key=lambda d: d != DEFAULT_DATABASE)  # "default" first
    try:
        for database, collections in plan(source, target, databases, names, resume):
            source.use_database(database)
            if database not in target.list_databases():
                target.create_database(database)
            target.use_database(database)
            for name in collections:
                copy_collection(source, target, name, batch, quiet, out, _qualified(database, name))
                copy_aliases(source, target, name)
    finally:
        source.use_database(DEFAULT_DATABASE)
        target.use_database(DEFAULT_DATABASE)
