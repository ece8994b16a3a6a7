"""The `covec` command: import a Milvus Lite database, show a db's status.

    covec import <milvus_lite.db dir> <covec db> [--batch N]
    covec status <covec db>
    covec verify <covec db>
    covec sweep
"""

import argparse
import json
import os
import sys

from . import _schema
from .client import MilvusClient
from .exceptions import MilvusException


def _schema_from_describe(desc):
    """A pymilvus describe_collection dict -> our CollectionSchema."""
    schema = _schema.CollectionSchema(
        [],
        description=desc.get("description", ""),
        enable_dynamic_field=desc.get("enable_dynamic_field", False),
    )
    for f in desc["fields"]:
        params = dict(f.get("params") or {})
        kwargs = {k: params[k] for k in ("dim", "max_length", "max_capacity") if k in params}
        if f.get("default_value") is not None:
            kwargs["default_value"] = f["default_value"]
        for flag in ("is_partition_key", "is_clustering_key"):
            if f.get(flag):
                kwargs[flag] = True
        if f.get("element_type"):
            kwargs["element_type"] = f["element_type"]
        schema.add_field(
            f["name"],
            f["type"],
            is_primary=bool(f.get("is_primary", False)),
            auto_id=bool(f.get("auto_id", False)),
            nullable=bool(f.get("nullable", False)),
            description=f.get("description", ""),
            **kwargs,
        )
    return schema


def _index_params(lite, name):
    params = _schema.IndexParams()
    for index_name in lite.list_indexes(name):
        info = lite.describe_index(name, index_name)
        if not info or not info.get("metric_type"):
            continue  # scalar indexes: covec filters scan, nothing to carry over
        build = {
            k: v
            for k, v in info.items()
            if k
            not in (
                "index_type",
                "metric_type",
                "field_name",
                "index_name",
                "total_rows",
                "indexed_rows",
                "pending_index_rows",
                "state",
            )
        }
        params.add_index(
            info["field_name"], info["index_type"], info.get("index_name") or index_name,
            metric_type=info["metric_type"], **build,
        )
    return params


def _copy_rows(lite, dest, name, batch, partition):
    """Copies the rows of one partition (None: all of a partition-key collection, whose buckets covec
    makes itself); returns how many."""
    names = None if partition is None else [partition]
    it = lite.query_iterator(name, batch_size=batch, output_fields=["*"], partition_names=names)
    copied = 0
    try:
        while True:
            page = it.next()
            if not page:
                return copied
            dest.insert(name, [dict(r) for r in page], partition_name=partition or "")
            copied += len(page)
    finally:
        it.close()


def _copy_collection(lite, dest, name, batch):
    """One collection: schema, indexes, properties, partitions with their rows, aliases; returns its rows."""
    desc = lite.describe_collection(name)
    has_key = any(f.get("is_partition_key") for f in desc["fields"])
    dest.create_collection(
        name,
        schema=_schema_from_describe(desc),
        index_params=_index_params(lite, name),
        properties=desc.get("properties") or None,
    )
    partitions = [None] if has_key else lite.list_partitions(name)
    for p in partitions:
        if p not in (None, "_default"):
            dest.create_partition(name, p)
    # An indexed collection reopened by Lite starts released; reading needs it loaded.
    lite.load_collection(name)
    copied = sum(_copy_rows(lite, dest, name, batch, p) for p in partitions)
    for alias in lite.list_aliases(name)["aliases"]:
        dest.create_alias(name, alias)
    return copied


def import_lite(source, target, batch=1000, out=None):
    """Copies every database of the Milvus Lite db `source` (properties, collections with their schemas,
    indexes, properties, partitions, rows and aliases) into the covec db `target`."""
    out = out or sys.stdout  # looked up per call: tests and callers may swap sys.stdout
    try:
        from pymilvus import MilvusClient as LiteClient
    except ImportError:
        raise SystemExit("covec import needs pymilvus and milvus-lite: pip install pymilvus milvus-lite") from None
    if not os.path.isdir(source):
        raise SystemExit(f"{source} is not a Milvus Lite database directory")
    lite = LiteClient(source)
    dest = MilvusClient(target)
    try:
        for db_name in lite.list_databases():
            lite.use_database(db_name)
            if db_name not in dest.list_databases():
                properties = {k: v for k, v in lite.describe_database(db_name).items() if k != "name"}
                dest.create_database(db_name, properties=properties)
            dest.use_database(db_name)
            for name in lite.list_collections():
                if dest.has_collection(name):
                    raise SystemExit(f"{target} already has a collection '{name}'; import into a new db")
                copied = _copy_collection(lite, dest, name, batch)
                where = name if db_name == "default" else f"{db_name}.{name}"
                print(f"{where}: {copied} rows", file=out)
    finally:
        dest.close()
        lite.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="covec", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="copy a Milvus Lite database into a covec db")
    imp.add_argument("source", help="the Milvus Lite database (a directory ending in .db)")
    imp.add_argument("target", help="the covec db file to create")
    imp.add_argument("--batch", type=int, default=1000, help="rows per page (default 1000)")
    st = sub.add_parser("status", help="which generation and segment a db is read from")
    st.add_argument("db")
    ver = sub.add_parser("verify", help="check every checksum of a db file")
    ver.add_argument("db")
    sub.add_parser("sweep", help="free what dead processes left in the shm dir")
    args = parser.parse_args(argv)
    try:
        if args.command == "import":
            import_lite(args.source, args.target, args.batch)
        elif args.command == "verify":
            from . import _covec

            generation = _covec.verify(args.db)
            print(f"{args.db}: ok (generation {generation}, every checksum verified)")
        elif args.command == "sweep":
            from . import _covec

            print(json.dumps(_covec.sweep()))
        else:
            if not os.path.isfile(args.db):
                raise SystemExit(f"{args.db}: no such covec db")
            from . import _covec

            status = _covec.Database(args.db).status()
            print(json.dumps({k: str(v) if isinstance(v, os.PathLike) else v for k, v in status.items()}, indent=2))
    except MilvusException as e:
        print(f"covec: {e.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
