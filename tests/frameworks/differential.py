"""Runs a framework scenario on Milvus Lite (pymilvus as installed: the oracle) and on covec (pymilvus patched), and
compares what the framework returned.

Also a child-process runner: ``python differential.py TEST_FILE FUNCTION BACKEND ARGS_JSON`` patches pymilvus if
BACKEND is "covec", then imports the test file (and so the framework), calls FUNCTION(*ARGS) and prints its result as
JSON, for the scenarios that reopen a store in a new process or search it from a second one. So those scenarios
import the framework after the patch, and the ones run in the test process import it before.
"""

import contextlib
import hashlib
import importlib.util
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from pymilvus import MilvusException

import covec

BACKENDS = ("lite", "covec")

# The corpus every framework's scenarios store: note i on one of six topics, with typed metadata, and three queries.
DIM = 16
TOPICS = ["rust", "python", "vectors", "shared memory", "search", "filters"]
QUERIES = ["note 3 on vectors", "shared memory search", "python filters"]


def note(i, text="note {i} on {topic}"):
    return text.format(i=i, topic=TOPICS[i % len(TOPICS)])


def metadata(i):
    return {"n": i, "tag": "even" if i % 2 == 0 else "odd", "weight": i / 4}


@contextlib.contextmanager
def backend(name):
    """Within it, the framework's pymilvus clients on local paths are Milvus Lite's ("lite") or covec's ("covec")."""
    if name == "covec":
        covec.patch_pymilvus()
    try:
        yield
    finally:
        covec.unpatch_pymilvus()


def assert_made_by(path, name):
    """The store at `path` is the backend's own: Milvus Lite keeps a directory there, covec one db file. So a
    scenario that reached Milvus Lite while pymilvus was patched cannot pass as covec's."""
    if name == "covec":
        assert os.path.isfile(path), f"{path} is not a covec db"
        covec.verify(path)  # raises unless it is one
    else:
        assert os.path.isdir(path), f"{path} is not a Milvus Lite db"


def run_both(scenario, tmp_path, *args):
    """{backend: scenario(db path, *args)} with each backend on its own fresh path."""
    results = {}
    for name in BACKENDS:
        os.makedirs(tmp_path / name, exist_ok=True)
        path = str(tmp_path / name / "store.db")
        with backend(name):
            results[name] = scenario(path, *args)
        assert_made_by(path, name)
    return results


def assert_same(found, expected, where="result", rel=1e-4):
    """Equal structures; floats (distances, scores, vectors) equal within `rel`, as float32 arithmetic allows."""
    if isinstance(expected, float) or isinstance(found, float):
        assert isinstance(found, (int, float)) and isinstance(
            expected, (int, float)
        ), f"{where}: {found!r} != {expected!r}"
        assert math.isclose(found, expected, rel_tol=rel, abs_tol=1e-6), f"{where}: {found!r} != {expected!r}"
    elif isinstance(expected, dict):
        assert isinstance(found, dict) and found.keys() == expected.keys(), f"{where}: {found!r} != {expected!r}"
        for key in expected:
            assert_same(found[key], expected[key], f"{where}[{key!r}]", rel)
    elif isinstance(expected, (list, tuple)):
        assert isinstance(found, (list, tuple)) and len(found) == len(expected), f"{where}: {found!r} != {expected!r}"
        for i, (f, e) in enumerate(zip(found, expected)):
            assert_same(f, e, f"{where}[{i}]", rel)
    else:
        assert found == expected, f"{where}: {found!r} != {expected!r}"


def assert_both_same(results):
    """Both backends ran the scenario and covec's answer is Lite's; returns it (for checks of its own)."""
    assert_same(results["covec"], results["lite"], "covec vs Milvus Lite")
    return results["covec"]


def hash_vector(text, dim):
    """A deterministic embedding: a normal vector seeded by the text's SHA-256."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).tolist()


def in_child(test_file, function, backend_name, *args):
    """FUNCTION(*args) of TEST_FILE in a new process with the given backend: (returncode, result or stderr)."""
    proc = subprocess.run(
        [sys.executable, __file__, test_file, function, backend_name, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        return proc.returncode, proc.stderr
    return 0, json.loads(proc.stdout.strip().splitlines()[-1])


def reopened_in_new_processes(test_file, tmp_path):
    """On each backend, the test file's build(path) in one new process, then its search_reopened(path) in another:
    their answer, which must be the same on both."""
    results = {}
    for name in BACKENDS:
        path = str(tmp_path / f"{name}.db")
        assert in_child(test_file, "build", name, path) == (0, None)
        code, results[name] = in_child(test_file, "search_reopened", name, path)
        assert code == 0, results[name]
        assert_made_by(path, name)
    return assert_both_same(results)


def searched_from_a_second_process(test_file, tmp_path, fill, write_later, search, search_later):
    """On covec, with the store fill(path) made open in this process, a second process's search(path) answers as this
    one's, and so does its search_later(path) after write_later(store) here; on Milvus Lite the second process cannot
    open the store, which the first one locks. Returns the second process's answer after the write."""
    path = str(tmp_path / "covec.db")
    with backend("covec"):
        store = fill(path)
        code, seen = in_child(test_file, search.__name__, "covec", path)
        assert code == 0, seen
        assert_same(seen, search(path))
        write_later(store)
        code, later = in_child(test_file, search_later.__name__, "covec", path)
        assert code == 0, later
        assert_same(later, search_later(path))
    assert_made_by(path, "covec")
    lite_path = str(tmp_path / "lite.db")
    with backend("lite"):
        fill(lite_path)
        code, error = in_child(test_file, search.__name__, "lite", lite_path)
    assert code != 0 and "Open local milvus failed" in error
    return later


def lite_answers_covec_raises(tmp_path, scenario, covec_error):
    """A feature covec does not have yet: scenario(path) answers on Milvus Lite (so the scenario is sound) and raises a
    MilvusException matching `covec_error` on covec, rather than answering wrongly."""
    with backend("lite"):
        assert scenario(str(tmp_path / "lite.db"))
    assert_made_by(str(tmp_path / "lite.db"), "lite")
    with backend("covec"), pytest.raises(MilvusException, match=covec_error):
        scenario(str(tmp_path / "covec.db"))
    assert_made_by(str(tmp_path / "covec.db"), "covec")


def run_docs_example(module, db_file, tmp_path):
    """Runs the example of docs/frameworks.md that imports `module`, in a new process in `tmp_path`, and checks that it
    made its store `db_file` on covec: its output."""
    docs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "frameworks.md")
    blocks = re.findall(r"```python\n(.*?)```", open(docs).read(), re.S)
    (code,) = [b for b in blocks if f"from {module} import" in b and "patch_pymilvus()" in b]
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert_made_by(str(tmp_path / db_file), "covec")
    return proc.stdout


def _child_main(test_file, function, backend_name, args_json):
    with backend(backend_name):
        spec = importlib.util.spec_from_file_location("scenarios", test_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        result = getattr(module, function)(*json.loads(args_json))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    _child_main(*sys.argv[1:])
