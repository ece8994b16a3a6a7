"""covec's exceptions, shaped like pymilvus's so `except MilvusException` and `.code` keep working.

When pymilvus is importable, every class here also subclasses the pymilvus class of the same name, so
code written against pymilvus (``except pymilvus.exceptions.ParamError``) catches covec's errors too.
Set ``COVEC_NO_PYMILVUS=1`` to skip importing pymilvus (it costs about a second at import time).
"""

import os

_pm = None
if os.environ.get("COVEC_NO_PYMILVUS") != "1":
    try:
        import pymilvus.exceptions as _pm
    except ImportError:
        _pm = None


if _pm is not None:

    class MilvusException(_pm.MilvusException):
        """Every covec error: ``.code`` is the pymilvus error code, ``.message`` the text."""

        def __init__(self, code=1, message="", *args, **kwargs):
            super().__init__(code, message, *args, **kwargs)

    class ParamError(_pm.ParamError, MilvusException):
        """A bad argument, detected before the engine is called."""

    class DataNotMatchException(_pm.DataNotMatchException, MilvusException):
        """Rows that do not fit the collection's schema (missing or unexpected fields)."""

    class DataTypeNotMatchException(_pm.DataTypeNotMatchException, MilvusException):
        """An argument of the wrong type."""

    class PrimaryKeyException(_pm.PrimaryKeyException, MilvusException):
        """A primary key field of a type Milvus does not allow."""

    class DescribeCollectionException(_pm.DescribeCollectionException, MilvusException):
        """An insert or describe on a collection that does not exist."""

else:

    class MilvusException(Exception):
        """Every covec error: ``.code`` is the pymilvus error code, ``.message`` the text."""

        def __init__(self, code=1, message="", *args, **kwargs):
            super().__init__()
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
        """A primary key field of a type Milvus does not allow."""

    class DescribeCollectionException(MilvusException):
        """An insert or describe on a collection that does not exist."""


__all__ = [
    "MilvusException",
    "ParamError",
    "DataNotMatchException",
    "DataTypeNotMatchException",
    "PrimaryKeyException",
    "DescribeCollectionException",
]
