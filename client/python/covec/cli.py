"""The `covec` command: copy collections from and to Milvus, check and show covec dbs.

    covec import <milvus_demo.db | server uri> <schemas.db> [--databases NAME ...] [--collections NAME ...]
                 [--batch N] [--resume] [--quiet]
    covec export <schemas.db> <server uri> [--databases NAME ...] [--collections NAME ...] [--batch N] [--resume]
                 [--quiet]
    covec status <schemas.db>
    covec verify <schemas.db>
    covec sweep
"""

import argparse
import json
import logging
import os
import sys

from . import _remote
from .exceptions import MilvusException

SERVER_URI = "a Milvus server's URI: http://host:19530, https://..., tcp://..., unix:/path"
COPY_EPILOG = """\
Each collection is copied with its aliases, into a database of the same name (created if missing). If the target
already has one of the collections, nothing is copied unless --resume is given: each collection
then continues after the largest primary key the target holds (rows are copied in primary-key order, one batch
per insert, so an interrupted copy holds every row up to some key). Copying to or from Milvus needs
pymilvus and tqdm (pip install "covec[milvus]"); a Milvus Lite db also needs milvus-lite.
"""


def _copy_arguments(parser):
    parser.add_argument(
        "--databases",
        nargs="+",
        metavar="NAME",
        help="the databases to copy (default: every database, or only 'default' when --collections is given)",
    )
    parser.add_argument(
        "--collections",
        nargs="+",
        metavar="NAME",
        help="the collections to copy, in each database copied (default: every collection)",
    )
    parser.add_argument("--batch", type=int, default=1000, help="rows per read and per insert (default 1000)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue collections the target already has after its largest primary key, instead of refusing",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors (no progress bar)")
    parser.add_argument("--token", default="", help="the server's token: user:password or an API key")


def parser():
    top = argparse.ArgumentParser(prog="covec", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    imp = sub.add_parser(
        "import",
        help="copy collections of a Milvus Lite db or a Milvus server into a covec db",
        description="Copies databases and collections (schema, indexes, partitions, every row, aliases) of a Milvus "
        "Lite db or a Milvus server into a covec db.",
        epilog=COPY_EPILOG,
    )
    imp.add_argument("source", help=f"a Milvus Lite db (a directory such as milvus_demo.db) or {SERVER_URI}")
    imp.add_argument("target", help="the covec db to copy into, such as schemas.db (created if missing)")
    _copy_arguments(imp)
    exp = sub.add_parser(
        "export",
        help="copy collections of a covec db into a Milvus server",
        description="Copies databases and collections (schema, indexes, partitions, every row, aliases) of a covec "
        "db into a Milvus server.",
        epilog=COPY_EPILOG,
    )
    exp.add_argument("source", help="the covec db to copy from, such as schemas.db")
    exp.add_argument("target", help=SERVER_URI)
    _copy_arguments(exp)
    st = sub.add_parser("status", help="which generation and segment a db is read from")
    st.add_argument("db", help="a covec db, such as schemas.db")
    ver = sub.add_parser("verify", help="check every checksum of a db file")
    ver.add_argument("db", help="a covec db, such as schemas.db")
    sub.add_parser("sweep", help="free what dead processes left in the shm dir")
    return top


def _covec_db(path):
    if not os.path.isfile(path):
        raise SystemExit(f"covec: {path}: no such covec db")
    return path


def _copy(args, out):
    from . import _transfer

    if args.quiet:
        logging.disable(logging.WARNING)  # pymilvus's warnings about the server (it configures its loggers on import)
    if args.batch < 1 or args.batch > 16384:
        raise SystemExit("covec: --batch must be between 1 and 16384 (the largest page a Milvus server returns)")
    try:
        if args.command == "import":
            if not _remote.is_remote(args.source) and not os.path.exists(args.source):
                raise SystemExit(f"covec: {args.source}: no such Milvus Lite db")
            source = _transfer.open_milvus(args.source, args.token)
            target = _transfer.open_covec(args.target)
        else:
            if not _remote.is_remote(args.target):
                raise SystemExit(f"covec: {args.target} is not {SERVER_URI}")
            source = _transfer.open_covec(_covec_db(args.source))
            target = _transfer.open_milvus(args.target, args.token)
        try:
            _transfer.copy(
                source, target, args.collections, args.batch, args.resume, args.quiet, out, args.databases
            )
        finally:
            target.close()
            source.close()
    except _transfer.Refused as e:
        raise SystemExit(f"covec {args.command}: {e}") from None
    except Exception as e:
        # pymilvus's errors (covec's are their subclasses once pymilvus is loaded): the server's or covec's refusal.
        pymilvus = sys.modules.get("pymilvus")
        if pymilvus is None or not isinstance(e, pymilvus.exceptions.MilvusException):
            raise
        raise SystemExit(f"covec {args.command}: {e.message} (code {e.code})") from None


def main(argv=None, out=None):
    out = out or sys.stdout  # looked up per call: tests and callers may swap sys.stdout
    args = parser().parse_args(argv)
    try:
        if args.command in ("import", "export"):
            _copy(args, out)
        elif args.command == "verify":
            from . import _covec

            generation = _covec.verify(args.db)
            print(f"{args.db}: ok (generation {generation}, every checksum verified)", file=out)
        elif args.command == "sweep":
            from . import _covec

            print(json.dumps(_covec.sweep()), file=out)
        else:
            from . import _covec

            status = _covec.Database(_covec_db(args.db)).status()
            print(
                json.dumps({k: str(v) if isinstance(v, os.PathLike) else v for k, v in status.items()}, indent=2),
                file=out,
            )
    except MilvusException as e:
        print(f"covec: {e.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
