"""Copying collections between MilvusClient-API stores: covec dbs, Milvus Lite dbs and Milvus servers.

`covec import` and `covec export` are both `copy(source, target, ...)`. Everything is read and written through
the API both ends share: describe_collection becomes a pymilvus CollectionSchema (``construct_from_dict``, which
carries every field parameter and function it describes), list_indexes/describe_index become IndexParams,
list_partitions the partitions, and query_iterator pages of rows in primary-key order. So a field type, index
type or function that both ends know is copied without code of its own here.

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


def progress_bar(total, name, quiet):
    """tqdm's bar on stderr (a well-kept, dependency-free progress bar); none with ``quiet``."""
    try:
        from tqdm import tqdm
    except ImportError:
        raise Refused('the progress bar needs tqdm: pip install "covec[milvus]" (or pass --quiet)') from None
    return tqdm(total=total, desc=name, unit=" rows", disable=quiet)


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
    if any(f.get("is_partition_key") for f in desc["fields"]) or not hasattr(client, "list_partitions"):
        return [None]
    return client.list_partitions(name)


def _partition_names(partition):
    return None if partition is None else [partition]


def _pages(client, name, pk, filter, partition, batch, output_fields):
    """The rows `filter` matches in `partition`, in primary-key order, `batch` at a time."""
    if hasattr(client, "query_iterator"):
        it = client.query_iterator(
            name,
            batch_size=batch,
            filter=filter,
            output_fields=output_fields,
            partition_names=_partition_names(partition),
        )
        try:
            while True:
                page = it.next()
                if not page:
                    return
                yield page
        finally:
            it.close()
    # covec's MilvusClient has no query_iterator yet: its keys, sorted, then the rows by key.
    partitions = _partition_names(partition)
    keys = sorted(r[pk] for r in client.query(name, filter=filter, output_fields=[pk], partition_names=partitions))
    for start in range(0, len(keys), batch):
        rows = client.get(name, ids=keys[start : start + batch], output_fields=output_fields, partition_names=partitions)
        yield sorted(rows, key=lambda r: r[pk])


def _last_key(client, name, pk, partition, batch):
    """The largest primary key in `partition` of `name`, or None when it holds no row."""
    last = None
    for page in _pages(client, name, pk, "", partition, batch, [pk]):
        last = page[-1][pk]
    return last


def _count(client, name, filter, partition):
    rows = client.query(
        name, filter=filter, output_fields=["count(*)"], partition_names=_partition_names(partition)
    )
    return int(rows[0]["count(*)"])


def plan(source, target, names, resume):
    """The collections to copy, in order; refuses before anything is copied if one is missing from the source or,
    without ``resume``, already in the target."""
    available = source.list_collections()
    names = list(names) if names else sorted(available)
    missing = [n for n in names if n not in available]
    if missing:
        raise Refused(f"no collection {', '.join(map(repr, missing))} in the source; it has {sorted(available)}")
    present = [n for n in names if target.has_collection(n)]
    if present and not resume:
        raise Refused(
            f"the target already has {', '.join(map(repr, present))}; nothing was copied. Pass --resume to continue "
            "each after the last primary key it holds, or --collections to choose others"
        )
    return names


def copy_collection(source, target, name, batch, quiet, out):
    """Copies collection `name` (schema, indexes, partitions, rows), after the last key the target holds if it has
    the collection already; returns the number of rows copied."""
    pymilvus = _pymilvus()
    desc = source.describe_collection(name)
    pk = _primary_key(desc)
    partitions = _partitions(source, name, desc)
    named = [p for p in partitions if p not in (None, "_default")]
    if named and not hasattr(target, "create_partition"):
        raise Refused(f"'{name}' has partitions {named}; the target has no partitions but '_default'")
    exists = target.has_collection(name)
    if exists:
        if _field_signature(target.describe_collection(name)) != _field_signature(desc):
            raise Refused(f"cannot resume '{name}': the target's collection of that name has other fields")
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
        label = name if partition in (None, "_default") else f"{name}/{partition}"
        with progress_bar(_count(source, name, filter, partition), label, quiet) as bar:
            for page in _pages(source, name, pk, filter, partition, batch, ["*"]):
                target.insert(name, [{k: v for k, v in row.items() if k not in computed} for row in page], **into)
                copied += len(page)
                bar.update(len(page))
    target.flush(name)
    if not quiet:
        print(f"{name}: {copied} rows", file=out)
    return copied


def copy(source, target, names=None, batch=1000, resume=False, quiet=False, out=None):
    """Copies `names` (default: every collection) from `source` to `target`, two MilvusClient-API clients."""
    for name in plan(source, target, names, resume):
        copy_collection(source, target, name, batch, quiet, out)
