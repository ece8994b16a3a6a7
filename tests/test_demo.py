"""The README's main job, run as a user runs it: the demo must pass and leave nothing behind."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_passes_with_the_daemon_and_leaves_the_shm_dir_empty(shm_dir):
    daemon = os.environ.get("COVEC_DAEMON", str(ROOT / "target" / "release" / "covecd"))
    assert Path(daemon).exists(), "build covecd first (make daemon)"
    env = dict(os.environ, COVEC_SHM_DIR=str(shm_dir), COVEC_DAEMON=daemon)
    run = subprocess.run(
        [sys.executable, str(ROOT / "demo" / "run_demo.py")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "covecd (pid" in out  # the segment was loaded by the daemon, not a worker
    assert "now see [632, 632, 632, 632] rows" in out
    assert "0 bytes of covec left" in out
    assert out.rstrip().endswith("demo passed")
    # Reference-count files too, not only segments: nothing of covec survives the run.
    assert list(shm_dir.iterdir()) == []
