//! Errors crossing into Python: `Error` -> `covec.exceptions.MilvusException`, and the guard every
//! native call runs in (GIL released, panics caught).

use std::panic::AssertUnwindSafe;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::{Error, Result};

/// Builds `covec.exceptions.MilvusException(code=, message=)`; the class is imported at error time so
/// the native module has no import-order dependency on the Python package.
pub(crate) fn milvus_error(py: Python<'_>, code: i32, message: &str) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let class = py.import("covec.exceptions")?.getattr("MilvusException")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("code", code)?;
        kwargs.set_item("message", message)?;
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
    milvus_error(py, err.code(), &err.to_string())
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a Rust panic without a message".to_string()
    }
}

/// Runs `f` without the GIL, turning errors and panics into `MilvusException`.
pub(crate) fn run<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    match py.detach(move || std::panic::catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_py_err(py, err)),
        Err(payload) => Err(milvus_error(
            py,
            1,
            &format!("internal error: {}", panic_message(payload.as_ref())),
        )),
    }
}

/// A conversion error raised while the GIL is held (bad rows, bad JSON).
pub(crate) fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py_err(py, Error::invalid(message))
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string())
}
