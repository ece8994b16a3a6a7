"""The README's main job, run as a user runs it: the demo must pass, say what it measured and checked, leave nothing
behind, and do so while other covec programs use shared memory on the same machine."""

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAEMON = os.environ.get("COVEC_DAEMON", str(ROOT / "target" / "release" / "covecd"))
CHECKS = [
    "every covec worker sees the new schemas without restarting",
    "more questions find their table once the writer committed",
    "covec's total memory is below the workaround's for the same workers",
    "nothing of the demo is left in shared memory",
]


def run_demo(shm_dir):
    assert Path(DAEMON).exists(), "build covecd first (make daemon)"
    env = dict(os.environ, COVEC_SHM_DIR=str(shm_dir), COVEC_DAEMON=DAEMON)
    return subprocess.run(
        [sys.executable, str(ROOT / "demo" / "run_demo.py")], env=env, capture_output=True, text=True, timeout=300
    )


def assert_passed(run):
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "covecd (pid" in out and DAEMON in out  # the daemon loaded the segment, not a worker
    assert "now see [632, 632, 632, 632] rows" in out
    assert "see [623, 623, 623, 623] rows" in out  # the workaround's copies, made before the write
    for check in CHECKS:
        assert f"ok     {check}" in out, out
    # Both totals are stated, and the difference is theirs.
    covec = float(re.search(r"memory, measured: covec ([\d.]+) MiB", out).group(1))
    copies = float(re.search(r"the workaround ([\d.]+) MiB", out).group(1))
    less = float(re.search(r"covec uses ([\d.-]+) MiB less", out).group(1))
    assert abs((copies - covec) - less) <= 0.11, out
    assert out.rstrip().endswith("demo passed")


def test_demo_passes_with_the_daemon_and_leaves_the_shm_dir_empty(shm_dir):
    assert_passed(run_demo(shm_dir))
    # Segments, reference files and the demo's own directory: nothing of covec survives the run.
    assert list(shm_dir.iterdir()) == []


def test_demo_passes_while_another_program_uses_covec_in_the_same_shm_dir(shm_dir, tmp_path):
    """Another application's db stays open in another process for the whole run: the demo neither counts its
    segment as its own nor disturbs it."""
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from covec import MilvusClient
                client = MilvusClient({str(tmp_path / "other.db")!r})
                client.create_collection("other", dimension=4)
                client.insert("other", [{{"id": i, "vector": [float(i), 1.0, 0.0, 0.0]}} for i in range(100)])
                print(client.query("other", filter="", output_fields=["count(*)"])[0]["count(*)"], flush=True)
                sys.stdin.read()
                print(client.query("other", filter="", output_fields=["count(*)"])[0]["count(*)"], flush=True)
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, COVEC_SHM_DIR=str(shm_dir)),
    )
    try:
        assert other.stdout.readline().strip() == "100"
        others = sorted(p.name for p in shm_dir.iterdir())
        assert others, "the other program holds a segment in the shared dir"
        assert_passed(run_demo(shm_dir))
        assert sorted(p.name for p in shm_dir.iterdir()) == others  # its files, untouched; none of the demo's
        other.stdin.close()
        assert other.stdout.readline().strip() == "100"
    finally:
        if other.poll() is None:
            other.kill()
        other.wait(timeout=30)


def test_a_failed_check_is_named_and_fails_the_run(capsys):
    spec = importlib.util.spec_from_file_location("run_demo", ROOT / "demo" / "run_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    assert demo.report({CHECKS[0]: True, CHECKS[3]: False}) == 1
    out = capsys.readouterr().out
    assert f"ok     {CHECKS[0]}" in out and f"FAILED {CHECKS[3]}" in out
    assert out.rstrip().endswith(f"demo FAILED: {CHECKS[3]}")
    assert demo.report({name: True for name in CHECKS}) == 0
    assert capsys.readouterr().out.rstrip().endswith("demo passed")
