"""The covec demo: several worker processes share one database of real table schemas.

The user's case (text-to-SQL retrieval): find the table a plain-English question is about. This script
1. ingests 632 real CREATE TABLE statements (minus a few held back) into one covec db,
2. starts covecd, which loads the db into one shared-memory segment and keeps it warm (without it, the first
   worker would load it),
3. starts WORKERS worker processes that each open the same db with `MilvusClient(path)` and search
   concurrently, and beside them WORKERS workers of the per-process-copy workaround (each copies the db into
   /dev/shm at start-up and searches its own copy),
4. runs a separate writer process that adds the held-back schemas while the workers keep running,
5. asks the workers again: covec's find the new tables without restarting; the copies never see them,
6. measures the memory of both groups the same way and states the difference,
7. checks that nothing of the demo is left in shared memory once every process has exited.

The demo's segments go in a directory of its own inside /dev/shm (or $COVEC_SHM_DIR), so other covec programs
running on the machine neither disturb it nor are counted as its own.

Run it with `make demo` (or `python demo/run_demo.py` once covec is installed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
WORKERS = 4
COLLECTION = "table_schemas"
# Questions whose target tables the first ingest leaves out; the writer adds them later.
HELD_BACK_QUESTIONS = range(0, 53, 6)
MIB = 1 / (1 << 20)


def load_data():
    schemas = [json.loads(line) for line in open(DATA / "schemas.jsonl")]
    questions = [json.loads(line) for line in open(DATA / "questions.jsonl")]
    return (
        schemas,
        np.load(DATA / "schemas.f32.npy"),
        questions,
        np.load(DATA / "questions.f32.npy"),
    )


def rows(schemas, vectors, ids):
    return [
        {
            "id": i,
            "vector": vectors[i],
            "package": schemas[i]["package"],
            "table": schemas[i]["table"],
            "text": schemas[i]["text"],
        }
        for i in ids
    ]


# ----------------------------------------------------------------------------------------------------------
# Child processes: the same script, started with --worker N, --copy-worker N or --writer.


def private_copy_path(db_path: str) -> Path:
    """The workaround's copy: named after the worker's pid, as the user's workaround names it, in the demo's dir."""
    return Path(os.environ["COVEC_SHM_DIR"]) / f"pid-{os.getpid()}-{Path(db_path).name}"


def worker_main(db_path: str, worker: int, private_copy: bool) -> None:
    """Answers rounds of questions on stdin until 'quit'. Prints one JSON line per round.

    With `private_copy`, the workaround: the worker copies the db into shared memory at start-up and maps its own
    copy (no shared segment), and removes the copy when it quits."""
    t0 = time.perf_counter()
    from covec import MilvusClient

    copy = None
    if private_copy:
        copy = private_copy_path(db_path)
        shutil.copyfile(db_path, copy)
        client = MilvusClient(str(copy), use_segment=False)
    else:
        client = MilvusClient(db_path)
    _, _, questions, qvec = load_data()
    mine = [q["id"] for q in questions if q["id"] % WORKERS == worker]
    client.search(COLLECTION, data=[qvec[0]], limit=1)
    ready_ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({"ready_ms": ready_ms, "pid": os.getpid()}), flush=True)
    for command in sys.stdin:
        if command.strip() == "quit":
            break
        found = []
        t = time.perf_counter()
        results = client.search(
            COLLECTION, data=qvec[mine], limit=5, output_fields=["table", "package"]
        )
        search_ms = (time.perf_counter() - t) * 1000
        for qid, hits in zip(mine, results):
            found.append({"question": qid, "tables": [h["entity"]["table"] for h in hits]})
        count = client.query(COLLECTION, filter="", output_fields=["count(*)"])[0]["count(*)"]
        print(
            json.dumps({"found": found, "rows_seen": count, "search_ms": search_ms}),
            flush=True,
        )
    client.close()
    if copy is not None:
        copy.unlink()


def ingest_main(db_path: str) -> None:
    """Creates the collection and commits every schema but the held-back ones."""
    from covec import DataType, MilvusClient

    schemas, vectors, questions, _ = load_data()
    held_back = {questions[q]["target_id"] for q in HELD_BACK_QUESTIONS}
    client = MilvusClient(db_path)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=vectors.shape[1])
    schema.add_field("package", DataType.VARCHAR, max_length=64)
    schema.add_field("table", DataType.VARCHAR, max_length=128)
    schema.add_field("text", DataType.VARCHAR, max_length=65535)
    index_params = MilvusClient.prepare_index_params()
    index_params.add_index("vector", index_type="AUTOINDEX", metric_type="COSINE")
    client.create_collection(COLLECTION, schema=schema, index_params=index_params)
    result = client.insert(COLLECTION, rows(schemas, vectors, [i for i in range(len(schemas)) if i not in held_back]))
    print(json.dumps({"inserted": result["insert_count"], "held_back": len(held_back)}), flush=True)
    client.close()


def writer_main(db_path: str) -> None:
    """Adds the held-back schemas."""
    from covec import MilvusClient

    schemas, vectors, questions, _ = load_data()
    ids = [questions[q]["target_id"] for q in HELD_BACK_QUESTIONS]
    client = MilvusClient(db_path)
    result = client.insert(COLLECTION, rows(schemas, vectors, ids))
    print(json.dumps({"inserted": result["insert_count"]}), flush=True)
    client.close()


# ----------------------------------------------------------------------------------------------------------
# The parent: sets up, runs the children, reports.


def private_memory(pid: int) -> int:
    """A process's memory no other process shares and no file in shared memory holds: Pss - Pss_Shmem from
    /proc/<pid>/smaps_rollup, plus its page tables (VmPTE, which Pss leaves out). Pages of /dev/shm files are
    counted once, by the files' sizes (shm_bytes)."""
    fields = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            fields[parts[0][:-1]] = int(parts[1]) * 1024
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmPTE:"):
            fields["VmPTE"] = int(line.split()[1]) * 1024
    return fields.get("Pss", 0) - fields.get("Pss_Shmem", 0) + fields.get("VmPTE", 0)


def shm_bytes(paths) -> int:
    """Memory the files hold in shared memory (allocated blocks: a sparse file holds only what was written)."""
    return sum(p.stat().st_blocks * 512 for p in paths)


def find_daemon() -> str | None:
    """covecd: $COVEC_DAEMON, else the one installed beside this Python (pip puts the wheel's there), else on PATH,
    else the one `make daemon` builds in this checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (
        os.environ.get("COVEC_DAEMON"),
        Path(sysconfig.get_path("scripts")) / "covecd",
        shutil.which("covecd"),
        here / "target" / "release" / "covecd",
    ):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


class Group:
    """WORKERS worker processes of one kind, asked the same questions at the same time."""

    def __init__(self, script: str, db_path: str, private_copy: bool):
        flag = "--copy-worker" if private_copy else "--worker"
        self.procs = [
            subprocess.Popen(
                [sys.executable, script, flag, str(w), db_path],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for w in range(WORKERS)
        ]
        self.ready = [json.loads(p.stdout.readline()) for p in self.procs]

    def ask(self) -> list[dict]:
        for p in self.procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        return [json.loads(p.stdout.readline()) for p in self.procs]

    def private_memory(self) -> int:
        return sum(private_memory(p.pid) for p in self.procs)

    def quit(self) -> None:
        for p in self.procs:
            p.stdin.write("quit\n")
            p.stdin.flush()
        for p in self.procs:
            p.wait(timeout=30)


def run_child(script: str, role: str, db_path: str) -> dict:
    """The ingest and the writer run in processes of their own, as an application's would; the parent never opens
    the db, so it holds no segment."""
    done = subprocess.run([sys.executable, script, role, db_path], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> int:
    schemas, _, questions, _ = load_data()
    script = os.path.abspath(__file__)
    workdir = Path(tempfile.mkdtemp(prefix="covec-demo-"))
    db_path = str(workdir / "schemas.db")
    # The demo's own segment directory, in /dev/shm like any other: what is in it is the demo's.
    shm_dir = Path(tempfile.mkdtemp(prefix="covec-demo-", dir=os.environ.get("COVEC_SHM_DIR", "/dev/shm")))
    os.environ["COVEC_SHM_DIR"] = str(shm_dir)
    print(f"covec demo: {len(schemas)} table schemas, {len(questions)} questions, {WORKERS} workers")
    print(f"db: {db_path}")
    print(f"shared memory: {shm_dir} (the demo's own directory: other covec programs' segments are not in it)\n")

    ingested = run_child(script, "--ingest", db_path)
    print(f"1. ingest: {ingested['inserted']} schemas committed ({ingested['held_back']} held back for later)")

    daemon = None
    daemon_path = find_daemon()
    if daemon_path:
        daemon = subprocess.Popen(
            [daemon_path, "--db", db_path, "--socket", str(workdir / "covecd.sock")],
            stdout=subprocess.PIPE,
            text=True,
        )
        daemon.stdout.readline()  # "ready" once the segment is loaded
        print(f"2. covecd (pid {daemon.pid}, {daemon_path}) loaded the db into one shared-memory segment")
    else:
        print("2. covecd not found; the first worker loads the segment")

    covec_workers = Group(script, db_path, private_copy=False)
    copy_workers = Group(script, db_path, private_copy=True)
    print(
        f"3. {WORKERS} covec workers attached; open + first search took "
        + ", ".join(f"{r['ready_ms']:.0f} ms" for r in covec_workers.ready)
    )
    print(
        f"   {WORKERS} workaround workers each copied the db into shared memory; copy + open + first search took "
        + ", ".join(f"{r['ready_ms']:.0f} ms" for r in copy_workers.ready)
    )

    target = {q["id"]: schemas[q["target_id"]]["table"] for q in questions}
    text = {q["id"]: q["text"] for q in questions}
    before = covec_workers.ask()
    copy_workers.ask()
    print("\n   what each covec worker found (question -> top 5 tables; * = the described table):")
    for w, answer in enumerate(before):
        for item in answer["found"][:3]:
            tables = ", ".join(
                ("*" + t if t == target[item["question"]] else t) for t in item["tables"]
            )
            print(f"   worker {w} | {text[item['question']][:58]:58} -> {tables}")
    hits_before = sum(target[i["question"]] in i["tables"] for a in before for i in a["found"])
    print(f"   described table in the top 5: {hits_before}/{len(questions)} questions")

    inserted = run_child(script, "--writer", db_path)["inserted"]
    print(f"\n4. a writer process added {inserted} schemas and committed")

    after = covec_workers.ask()
    stale = copy_workers.ask()
    fresh = [a["rows_seen"] for a in after]
    print(f"5. the same covec workers, not restarted, now see {fresh} rows")
    held_questions = set(HELD_BACK_QUESTIONS)
    for w, answer in enumerate(after):
        now_found = [
            i for i in answer["found"]
            if i["question"] in held_questions and target[i["question"]] in i["tables"]
        ]
        for item in now_found[:2]:
            print(
                f"   worker {w} | {text[item['question']][:58]:58} -> finds new table "
                f"'{target[item['question']]}'"
            )
    hits_after = sum(target[i["question"]] in i["tables"] for a in after for i in a["found"])
    print(f"   described table in the top 5: {hits_after}/{len(questions)} questions")
    print(f"   the workaround's workers, searching copies made at start-up, see {[a['rows_seen'] for a in stale]} rows")

    # Both groups measured the same way, at the same moment: their processes' private memory, plus the shared
    # memory their files hold (covec: the segment and its reference file; the workaround: its copies).
    copies = sorted(shm_dir.glob("pid-*"))
    covec_files = [p for p in shm_dir.iterdir() if p not in copies]
    covec_processes = covec_workers.private_memory() + (private_memory(daemon.pid) if daemon else 0)
    covec_total = covec_processes + shm_bytes(covec_files)
    copies_total = copy_workers.private_memory() + shm_bytes(copies)
    print(
        f"\n6. memory, measured: covec {covec_total * MIB:.1f} MiB ({WORKERS} workers"
        + (" and covecd" if daemon else "")
        + f" {covec_processes * MIB:.1f} MiB + {len(covec_files)} shared-memory files {shm_bytes(covec_files) * MIB:.1f} MiB)"
    )
    print(
        f"   the workaround {copies_total * MIB:.1f} MiB ({WORKERS} workers "
        f"{copy_workers.private_memory() * MIB:.1f} MiB + {len(copies)} copies {shm_bytes(copies) * MIB:.1f} MiB)"
    )
    print(
        f"   covec uses {(copies_total - covec_total) * MIB:.1f} MiB less for the same {WORKERS} workers "
        f"({copies_total / covec_total:.2f}x); the gap grows by one copy of the db per worker (docs/benchmarks.md)"
    )

    covec_workers.quit()
    copy_workers.quit()
    if daemon:
        daemon.terminate()
        daemon.wait(timeout=30)

    leftover = sorted(p.name for p in shm_dir.iterdir())
    print(f"7. after every process exited, left in {shm_dir}: {leftover or 'nothing'}")
    shutil.rmtree(workdir, ignore_errors=True)
    if not leftover:
        shm_dir.rmdir()

    checks = {
        "every covec worker sees the new schemas without restarting": all(n == len(schemas) for n in fresh),
        "more questions find their table once the writer committed": hits_after > hits_before,
        "covec's total memory is below the workaround's for the same workers": covec_total < copies_total,
        "nothing of the demo is left in shared memory": not leftover,
    }
    return report(checks)


def report(checks: dict[str, bool]) -> int:
    """Prints each check as ok or FAILED, then the verdict naming the failed ones; the exit status."""
    print()
    for name, ok in checks.items():
        print(f"   {'ok    ' if ok else 'FAILED'} {name}")
    failed = [name for name, ok in checks.items() if not ok]
    print("\ndemo " + ("passed" if not failed else "FAILED: " + "; ".join(failed)))
    return 0 if not failed else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("--worker", "--copy-worker"):
        worker_main(sys.argv[3], int(sys.argv[2]), private_copy=sys.argv[1] == "--copy-worker")
    elif len(sys.argv) > 1 and sys.argv[1] == "--ingest":
        ingest_main(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "--writer":
        writer_main(sys.argv[2])
    else:
        sys.exit(main())
