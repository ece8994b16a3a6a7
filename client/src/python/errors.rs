//! Errors crossing into Python, and the guard every native call runs in (GIL released, panics caught).
//!
//! Each `Error` becomes the pymilvus exception class a pymilvus user would catch for it, from
//! `covec.exceptions` (subclasses of pymilvus's own once pymilvus is loaded), with Milvus's code:
//!
//! | `Error`                                   | class                                          |
//! |-------------------------------------------|------------------------------------------------|
//! | `ClientSide { check: Param }`             | `ParamError`                                   |
//! | `ClientSide { check: DataNotMatch }`      | `DataNotMatchException`                        |
//! | `ClientSide { check: DataTypeNotMatch }`  | `DataTypeNotMatchException`                    |
//! | `ClientSide { check: PrimaryKey }`        | `PrimaryKeyException`                          |
//! | `CollectionNotFound` in a `Call::Describing` or `Call::Writing` | `DescribeCollectionException` |
//! | everything else                           | `MilvusException`                              |

use std::panic::AssertUnwindSafe;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

use crate::error::{ClientCheck, Error, Result};

/// What pymilvus does on the client in the call an error answers, which decides its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Plain,
    /// describe_collection: a missing collection is `DescribeCollectionException`.
    Describing,
    /// insert and upsert: pymilvus describes the collection before it checks and sends the rows, so a
    /// missing collection is `DescribeCollectionException`.
    Writing,
}

/// The exception classes of covec.exceptions, imported at the first error and kept: the native module
/// has no import-order dependency on the Python package.
struct Classes {
    milvus: Py<PyType>,
    param: Py<PyType>,
    data_not_match: Py<PyType>,
    data_type_not_match: Py<PyType>,
    primary_key: Py<PyType>,
    describe_collection: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let module = py.import("covec.exceptions")?;
        let class = |name: &str| -> PyResult<Py<PyType>> {
            Ok(module.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        Ok(Classes {
            milvus: class("MilvusException")?,
            param: class("ParamError")?,
            data_not_match: class("DataNotMatchException")?,
            data_type_not_match: class("DataTypeNotMatchException")?,
            primary_key: class("PrimaryKeyException")?,
            describe_collection: class("DescribeCollectionException")?,
        })
    })
}

fn class_of<'c>(classes: &'c Classes, err: &Error, call: Call) -> &'c Py<PyType> {
    match err {
        Error::ClientSide { check, .. } => match check {
            ClientCheck::Param => &classes.param,
            ClientCheck::DataNotMatch => &classes.data_not_match,
            ClientCheck::DataTypeNotMatch => &classes.data_type_not_match,
            ClientCheck::PrimaryKey => &classes.primary_key,
        },
        Error::CollectionNotFound { .. } if call != Call::Plain => &classes.describe_collection,
        _ => &classes.milvus,
    }
}

/// `err` as the pymilvus exception a pymilvus user would catch, `(code=, message=)` set.
pub(crate) fn to_py_err_in(py: Python<'_>, err: Error, call: Call) -> PyErr {
    let code = err.code();
    let message = err.to_string();
    let build = || -> PyResult<PyErr> {
        let class = class_of(classes(py)?, &err, call).bind(py);
        let kwargs = PyDict::new(py);
        kwargs.set_item("code", code)?;
        kwargs.set_item("message", &message)?;
        Ok(PyErr::from_value(class.call((), Some(&kwargs))?))
    };
    // If the package itself is broken, still raise something that carries the message.
    build().unwrap_or_else(|e| {
        PyRuntimeError::new_err(format!(
            "(code={code}, message={message}) [covec.exceptions unavailable: {e}]"
        ))
    })
}

pub(crate) fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    to_py_err_in(py, err, Call::Plain)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a Rust panic without a message".to_string()
    }
}

/// Runs `f` without the GIL, turning errors and panics into pymilvus exceptions.
pub(crate) fn run_in<T, F>(py: Python<'_>, call: Call, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    let result = match py.detach(move || std::panic::catch_unwind(AssertUnwindSafe(f))) {
        Ok(result) => result,
        Err(payload) => Err(Error::Internal(format!(
            "panic: {}",
            panic_message(payload.as_ref())
        ))),
    };
    result.map_err(|err| to_py_err_in(py, err, call))
}

pub(crate) fn run<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    run_in(py, Call::Plain, f)
}

/// A conversion error raised while the GIL is held (bad rows, bad values): `MilvusException(code=6)`.
pub(crate) fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py_err(py, Error::invalid(message))
}

/// A bad or unsupported argument: `ParamError`.
pub(crate) fn param_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py_err(py, Error::param(message))
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string())
}
