"""What README.md and the docs tell a user to run: the README's example runs twice in a row, and every file, make
target and command option the docs name exists under that name."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_readme_example_runs_twice_in_a_row(tmp_path, shm_dir, readme_example):
    for run in (1, 2):
        done = subprocess.run(
            [sys.executable, "-c", readme_example], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"run {run}: {done.stderr}"
        assert "'title': 'hello'" in done.stdout and "'distance': 1.0" in done.stdout, done.stdout
    assert (tmp_path / "schemas.db").is_file()


def mentions(pattern):
    """(doc, match) for every match of `pattern` in the docs."""
    return [(doc.relative_to(ROOT), m) for doc in DOCS for m in re.finditer(pattern, doc.read_text())]


def test_every_path_the_docs_name_exists():
    missing = []
    for doc, m in mentions(r"(?:\]\(|`)((?:\.\./)?(?:docs|demo|tests|client|bench|daemon|fuzz|\.ci)/[^`)\s#]*)"):
        path = m.group(1).rstrip(".,:;")
        if any(c in path for c in "*<{"):
            continue  # a pattern, not a file
        if not ((ROOT / path).exists() or (ROOT / doc.parent / path).exists()):
            missing.append(f"{doc}: {path}")
    assert missing == []


def test_every_make_target_the_docs_name_exists():
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    named = {m.group(1) for _, m in mentions(r"`make ([a-z][a-z-]*)")}
    assert named and named <= targets, named - targets


def test_every_covec_and_covecd_command_the_docs_name_is_in_their_help(tmp_path):
    covec_help = subprocess.run(
        [sys.executable, "-m", "covec.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    commands = set(re.search(r"\{([a-z,]+)\}", covec_help).group(1).split(","))
    named = {m.group(1) for _, m in mentions(r"`covec ([a-z]+)")}
    assert named and named <= commands, named - commands
    for command in named:
        usage = subprocess.run(
            [sys.executable, "-m", "covec.cli", command, "--help"], capture_output=True, text=True, check=True
        ).stdout
        for _, m in mentions(rf"`covec {command}( [^`]*)`"):
            for option in re.findall(r"--[a-z-]+", m.group(1)):
                assert option in usage, f"covec {command} has no {option}"
    daemon_usage = (ROOT / "daemon" / "src" / "args.rs").read_text()
    for _, m in mentions(r"`covecd( [^`]*)`"):
        for option in re.findall(r"--[a-z-]+", m.group(1)):
            assert option in daemon_usage, f"covecd has no {option}"


# The example files every text names: the covec db and the Milvus Lite db it is imported from.
EXAMPLE_DBS = {"schemas.db", "milvus_demo.db"}


def db_names(text):
    return {Path(name).name for name in re.findall(r"[\w./-]+\.db\b", text)}


def test_the_docs_and_help_texts_name_the_same_example_files():
    """Every covec and covecd command line in the docs, and every --help text, names its dbs schemas.db (covec) and
    milvus_demo.db (Milvus Lite), as the README's example does."""
    assert db_names(re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)) == {
        "schemas.db"
    }
    commands = [m.group(1) for _, m in mentions(r"`(covecd? [^`]*)`")]
    commands += [m.group(1) for _, m in mentions(r"(?m)^(covecd? .*)$")]  # lines of ```sh blocks
    named = set().union(*map(db_names, commands))
    assert named == EXAMPLE_DBS, named
    helps = [subprocess.run([sys.executable, "-m", "covec.cli", "--help"], capture_output=True, text=True).stdout]
    for command in ("import", "export", "status", "verify", "sweep"):
        helps.append(
            subprocess.run(
                [sys.executable, "-m", "covec.cli", command, "--help"], capture_output=True, text=True, check=True
            ).stdout
        )
    in_help = set().union(*map(db_names, helps))
    assert in_help == EXAMPLE_DBS, in_help
