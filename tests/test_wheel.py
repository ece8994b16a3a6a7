"""The wheel as users get it (`pip install covec`): one abi3 file carrying the library and both commands; installed
alone (with only its own dependencies) into a fresh venv, on a PATH without cargo or rustc, the README's example
runs twice, the demo passes and `covecd --help` answers, without the checkout's build.

COVEC_WHEEL names the wheel: `make py-test` builds it and sets it. Without it these tests skip.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WHEEL = os.environ.get("COVEC_WHEEL")
pytestmark = pytest.mark.skipif(not WHEEL, reason="COVEC_WHEEL is not set: `make py-test` builds the wheel and sets it")


def without_rust(path):
    """`path` less the directories that hold cargo or rustc: a machine without a Rust toolchain."""
    return os.pathsep.join(
        d for d in path.split(os.pathsep) if d and not any(os.path.exists(os.path.join(d, t)) for t in ("cargo", "rustc"))
    )


def user_env(venv, shm_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "COVEC_DAEMON", "PYO3_PYTHON")}
    env.update(PATH=without_rust(f"{venv}/bin{os.pathsep}{os.environ['PATH']}"), COVEC_SHM_DIR=str(shm_dir))
    return env


def install_alone(python, venv):
    """A fresh venv of `python` with the wheel and its own dependencies, nothing else."""
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", WHEEL],
        check=True,
        env=user_env(venv, "/nonexistent"),
    )
    return venv


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    return install_alone(sys.executable, tmp_path_factory.mktemp("user") / "venv")


def test_the_wheel_is_one_abi3_file_with_the_library_and_both_commands():
    name = Path(WHEEL).name
    assert re.fullmatch(r"covec-[\d.]+-cp39-abi3-(manylinux|linux)_[\w.]+\.whl", name), name
    with zipfile.ZipFile(WHEEL) as wheel:
        files = wheel.namelist()
        assert "covec/_covec.abi3.so" in files
        daemon = next(f for f in files if re.fullmatch(r"covec-[\d.]+\.data/scripts/covecd", f))
        assert wheel.getinfo(daemon).external_attr >> 16 & 0o111, "covecd is executable"
        entry_points = wheel.read(next(f for f in files if f.endswith(".dist-info/entry_points.txt"))).decode()
        metadata = wheel.read(next(f for f in files if f.endswith(".dist-info/METADATA"))).decode()
    assert "covec=covec.cli:main" in entry_points.replace(" ", "")
    glibc = re.search(r"manylinux_(\d+)_(\d+)_x86_64", name)
    readme = re.search(r"pip install covec .*glibc (\d+)\.(\d+)\+", (ROOT / "README.md").read_text())
    assert glibc and readme and glibc.groups() == readme.groups(), "README's install line names the wheel's glibc"
    assert "Requires-Python: >=3.9" in metadata
    assert "Requires-Dist: numpy" in metadata


def test_the_venv_has_no_rust_and_only_the_wheel_and_its_dependencies(venv, shm_dir):
    env = user_env(venv, shm_dir)
    assert shutil.which("cargo", path=env["PATH"]) is None and shutil.which("rustc", path=env["PATH"]) is None
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout.lower()
    installed = {line.split("==")[0] for line in listed.split()}
    assert {"covec", "numpy"} <= installed and "pymilvus" not in installed, installed
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import covec._covec as c; print(c.__file__)"],
        capture_output=True, text=True, check=True, env=env, cwd="/",
    ).stdout
    assert where.startswith(str(venv)), where  # the wheel's extension, not the checkout's


def test_readme_example_runs_twice_from_the_wheel(venv, shm_dir, tmp_path, readme_example):
    for run in (1, 2):
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-c", readme_example],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=user_env(venv, shm_dir),
        )
        assert done.returncode == 0, f"run {run}: {done.stderr}"
        assert "'title': 'hello'" in done.stdout


def test_the_demo_passes_with_the_wheels_covecd(venv, shm_dir):
    done = subprocess.run(
        [str(venv / "bin" / "python"), str(ROOT / "demo" / "run_demo.py")],
        capture_output=True, text=True, timeout=300, env=user_env(venv, shm_dir),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "covecd (pid" in done.stdout and str(venv / "bin" / "covecd") in done.stdout
    assert done.stdout.rstrip().endswith("demo passed")
    assert list(shm_dir.iterdir()) == []


def test_both_commands_answer_help(venv, shm_dir):
    env = user_env(venv, shm_dir)
    daemon = subprocess.run([str(venv / "bin" / "covecd"), "--help"], capture_output=True, text=True, env=env)
    assert daemon.returncode == 0 and "covecd --db PATH" in daemon.stdout
    cli = subprocess.run([str(venv / "bin" / "covec"), "--help"], capture_output=True, text=True, env=env)
    assert cli.returncode == 0 and "import" in cli.stdout and "export" in cli.stdout


def other_cpythons():
    """CPython 3.9 and the newest one this machine has beside the running one (pyenv's too), to install the same
    file into."""
    found = {}
    for minor in (9, 13):
        if minor == sys.version_info[1]:
            continue
        candidates = [shutil.which(f"python3.{minor}")]
        candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3.{minor}")))
        for candidate in filter(None, candidates):
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[1])"], capture_output=True)
            if probe.returncode == 0 and probe.stdout.strip() == str(minor).encode():
                found[f"3.{minor}"] = candidate
                break
    return found


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_the_same_file_installs_and_runs_on_other_cpythons(version, tmp_path, shm_dir, readme_example):
    python = other_cpythons().get(version)
    if python is None:
        pytest.skip(f"no CPython {version} on this machine")
    venv = install_alone(python, tmp_path / "venv")
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", readme_example],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=user_env(venv, shm_dir),
    )
    assert done.returncode == 0, done.stderr
    assert "'title': 'hello'" in done.stdout
