"""Each framework's tests run in that framework's own venv (`make frameworks-test`), since their pymilvus pins differ;
in any other environment there is nothing here to collect."""

import importlib.util

import pytest

FRAMEWORK_OF = {
    "test_langchain.py": "langchain_milvus",
    "test_llamaindex.py": "llama_index.vector_stores.milvus",
    "test_haystack.py": "milvus_haystack",
}


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package (llama_index)
        return False


collect_ignore = [test_file for test_file, module in FRAMEWORK_OF.items() if not _installed(module)]


@pytest.fixture(autouse=True)
def _private_segments(shm_dir):
    """Every covec db of these tests (and of their child processes) keeps its segments in the test's own directory."""
