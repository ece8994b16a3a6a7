"""patch_pymilvus(): in this process, every pymilvus client made on a local path is covec's.

LangChain, LlamaIndex and Haystack build their clients themselves, from a reference to pymilvus's classes taken when
they were imported (``from pymilvus import MilvusClient``); rebinding ``pymilvus.MilvusClient`` would miss every
reference taken before. So the patch changes the classes themselves: while it is on, ``pymilvus.MilvusClient`` and
``pymilvus.AsyncMilvusClient`` have an ``__init__`` that, for a local path, turns the new object into covec's client
of that path (covec's classes have the same instance layout, so ``__class__`` can be reassigned) and, for a server URI,
is pymilvus's own ``__init__``. Every reference reaches it, whenever the framework was imported. Subclasses of
pymilvus's clients keep pymilvus's behaviour: covec's client would drop what they add.

``unpatch_pymilvus()`` puts pymilvus's own ``__init__`` back in each class, so the classes are as they were; clients
made meanwhile stay what they are.
"""

import functools
import threading

from . import _remote

# pymilvus's default uri: a client made without one connects to a local Milvus server.
_PYMILVUS_DEFAULT_URI = "http://localhost:19530"

_LOCK = threading.Lock()
# pymilvus class -> the __init__ in its own __dict__ before the patch (None: it had none), while patched.
_ORIGINAL_INITS = {}


def _covec_on_local_paths(theirs, ours):
    pymilvus_init = theirs.__init__

    @functools.wraps(pymilvus_init)
    def __init__(self, *args, **kwargs):
        uri = _remote.uri_argument(args, kwargs, _PYMILVUS_DEFAULT_URI)
        if type(self) is theirs and not _remote.is_remote(uri):
            self.__class__ = ours
            ours.__init__(self, *args, **kwargs)
        else:
            pymilvus_init(self, *args, **kwargs)

    return __init__


def _pairs():
    import pymilvus

    from ._async import AsyncMilvusClient
    from .client import MilvusClient

    return ((pymilvus.MilvusClient, MilvusClient), (pymilvus.AsyncMilvusClient, AsyncMilvusClient))


def patch_pymilvus():
    """From now on in this process, ``pymilvus.MilvusClient(path)`` and ``pymilvus.AsyncMilvusClient(path)`` on a
    local path are covec's clients, for code that imported pymilvus before or after this call. Server URIs
    (http://, https://, tcp://, unix:) still get pymilvus's clients. Calling it again changes nothing."""
    pairs = _pairs()
    with _LOCK:
        for theirs, ours in pairs:
            if theirs not in _ORIGINAL_INITS:
                _ORIGINAL_INITS[theirs] = theirs.__dict__.get("__init__")
                theirs.__init__ = _covec_on_local_paths(theirs, ours)


def unpatch_pymilvus():
    """Undoes patch_pymilvus: pymilvus's classes get their own ``__init__`` back. Without the patch, changes nothing."""
    with _LOCK:
        for theirs, original in _ORIGINAL_INITS.items():
            if original is None:
                del theirs.__init__
            else:
                theirs.__init__ = original
        _ORIGINAL_INITS.clear()
