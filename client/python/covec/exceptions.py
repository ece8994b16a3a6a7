"""covec's exceptions, shaped like pymilvus's so `except MilvusException` and `.code` keep working.

Each class here is also a subclass of the pymilvus class of the same name whenever pymilvus is loaded,
so code written against pymilvus (``except pymilvus.exceptions.ParamError``) catches covec's errors too.
covec never imports pymilvus itself (that costs half a second and 100 MB per process, most of it
pandas): if pymilvus is already loaded, the classes adopt its bases now; otherwise a one-shot import
hook adopts them the moment pymilvus.exceptions is imported. No exception can be caught as a pymilvus
class before pymilvus is loaded, so the two ways are equivalent.
"""

import sys
from importlib.machinery import PathFinder


class _Exception(Exception):
    """Stands where pymilvus's MilvusException goes once it is loaded: a plain Python subclass of
    Exception has the same instance layout as pymilvus's, which `__bases__` assignment requires."""


class MilvusException(_Exception):
    """Every covec error: ``.code`` is the pymilvus error code, ``.message`` the text."""

    def __init__(self, code=1, message="", *args, **kwargs):
        Exception.__init__(self)  # pymilvus's __init__ only sets the attributes set here
        self._code = code
        self._message = message

    @property
    def code(self):
        return self._code

    @property
    def message(self):
        return self._message

    def __str__(self):
        return f"<{type(self).__name__}: (code={self.code}, message={self.message})>"


class ParamError(MilvusException):
    """A bad argument, detected before the engine is called."""


class DataNotMatchException(MilvusException):
    """Rows that do not fit the collection's schema (missing or unexpected fields)."""


class DataTypeNotMatchException(MilvusException):
    """An argument of the wrong type."""


class PrimaryKeyException(MilvusException):
    """No primary key field, more than one, or one of a type Milvus does not allow."""


class DescribeCollectionException(MilvusException):
    """An insert or describe on a collection that does not exist."""


_SUBCLASSES = (
    ParamError,
    DataNotMatchException,
    DataTypeNotMatchException,
    PrimaryKeyException,
    DescribeCollectionException,
)


def _adopt(pymilvus_exceptions) -> None:
    """Makes every class here a subclass of pymilvus's class of the same name."""
    MilvusException.__bases__ = (pymilvus_exceptions.MilvusException,)
    for cls in _SUBCLASSES:
        twin = getattr(pymilvus_exceptions, cls.__name__, None)
        if twin is not None:
            cls.__bases__ = (MilvusException, twin)


class _AdoptWhenImported:
    """A meta-path finder that waits for pymilvus.exceptions, lets the normal finder load it, then
    adopts its classes; it removes itself after that one import."""

    def find_spec(self, name, path, target=None):
        if name != "pymilvus.exceptions":
            return None
        sys.meta_path.remove(self)
        spec = PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            _adopt(module)

        spec.loader.exec_module = exec_module
        return spec


if "pymilvus.exceptions" in sys.modules:
    _adopt(sys.modules["pymilvus.exceptions"])
else:
    sys.meta_path.insert(0, _AdoptWhenImported())


__all__ = [
    "MilvusException",
    "ParamError",
    "DataNotMatchException",
    "DataTypeNotMatchException",
    "PrimaryKeyException",
    "DescribeCollectionException",
]
