"""Milvus servers: a client for a server URI is pymilvus's own, so moving past one machine changes a path to a URI.

pymilvus is imported only here, and only when a server URI is opened: ``import covec`` never loads it.
"""

# The URI forms pymilvus connects to a server with (pymilvus.client.connection_manager.ConnectionConfig).
REMOTE_PREFIXES = ("http://", "https://", "tcp://", "unix:")


def uri_argument(args, kwargs, default):
    """The ``uri`` a client constructor was given, positionally or by name."""
    return args[0] if args else kwargs.get("uri", default)


def is_remote(uri):
    return isinstance(uri, str) and uri.lower().startswith(REMOTE_PREFIXES)


def pymilvus_client(class_name, args, kwargs):
    """``pymilvus.<class_name>(*args, **kwargs)``: the client of a Milvus standalone or cluster."""
    try:
        import pymilvus
    except ImportError:
        from .exceptions import ParamError

        uri = uri_argument(args, kwargs, "")
        raise ParamError(
            message=f"uri '{uri}' names a Milvus server; its client is pymilvus's: pip install pymilvus"
        ) from None
    return getattr(pymilvus, class_name)(*args, **kwargs)
