"""The covec demo: several worker processes share one database of real table schemas.

The user's case (text-to-SQL retrieval): find the table a plain-English question is about. This script
1. ingests 632 real CREATE TABLE statements (minus a few held back) into one covec db,
2. starts covecd, which loads the db into one shared-memory segment and keeps it warm (without it, the first
   worker would load it),
3. starts WORKERS worker processes that each open the same db with `MilvusClient(path)` and search
   concurrently,
4. runs a separate writer process that adds the held-back schemas while the workers keep running,
5. asks the workers again: they find the new tables without restarting,
6. prints the memory the workers use against the per-process-copy workaround.

Run it with `make demo` (or `python demo/run_demo.py` once covec is installed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
WORKERS = 4
COLLECTION = "table_schemas"
# Questions whose target tables the first ingest leaves out; the writer adds them later.
HELD_BACK_QUESTIONS = range(0, 53, 6)


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
# Child processes: the same script, started with --worker N or --writer.


def worker_main(db_path: str, worker: int) -> None:
    """Answers rounds of questions on stdin until 'quit'. Prints one JSON line per round."""
    t0 = time.perf_counter()
    from covec import MilvusClient

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


def writer_main(db_path: str) -> None:
    from covec import MilvusClient

    schemas, vectors, questions, _ = load_data()
    ids = [questions[q]["target_id"] for q in HELD_BACK_QUESTIONS]
    client = MilvusClient(db_path)
    result = client.insert(COLLECTION, rows(schemas, vectors, ids))
    print(json.dumps({"inserted": result["insert_count"]}), flush=True)
    client.close()


# ----------------------------------------------------------------------------------------------------------
# The parent: sets up, runs the children, reports.


def memory_of(pid: int) -> tuple[int, int]:
    """(Pss, Pss_Shmem) in bytes from /proc/<pid>/smaps_rollup."""
    fields = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            fields[parts[0][:-1]] = int(parts[1]) * 1024
    return fields.get("Pss", 0), fields.get("Pss_Shmem", 0)


def covec_segments_bytes() -> int:
    shm = Path(os.environ.get("COVEC_SHM_DIR", "/dev/shm"))
    return sum(p.stat().st_size for p in shm.glob("covec.*") if not p.name.endswith(".ref"))


def find_daemon() -> str | None:
    here = Path(__file__).resolve().parent.parent
    for candidate in (
        os.environ.get("COVEC_DAEMON"),
        here / "target" / "release" / "covecd",
        shutil.which("covecd"),
    ):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


def main() -> int:
    from covec import DataType, MilvusClient

    schemas, vectors, questions, _ = load_data()
    held_back = {questions[q]["target_id"] for q in HELD_BACK_QUESTIONS}
    workdir = Path(tempfile.mkdtemp(prefix="covec-demo-"))
    db_path = str(workdir / "schemas.db")
    print(f"covec demo: {len(schemas)} table schemas, {len(questions)} questions, {WORKERS} workers")
    print(f"db: {db_path}\n")

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
    first = [i for i in range(len(schemas)) if i not in held_back]
    client.insert(COLLECTION, rows(schemas, vectors, first))
    client.close()
    print(f"1. ingest: {len(first)} schemas committed ({len(held_back)} held back for later)")

    daemon = None
    daemon_path = find_daemon()
    if daemon_path:
        daemon = subprocess.Popen(
            [daemon_path, "--db", db_path, "--socket", str(workdir / "covecd.sock")],
            stdout=subprocess.PIPE,
            text=True,
        )
        daemon.stdout.readline()  # "ready" once the segment is loaded
        print(f"2. covecd (pid {daemon.pid}) loaded the db into one shared-memory segment")
    else:
        print("2. covecd not built; the first worker loads the segment")

    script = os.path.abspath(__file__)
    workers = [
        subprocess.Popen(
            [sys.executable, script, "--worker", str(w), db_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(WORKERS)
    ]
    ready = [json.loads(w.stdout.readline()) for w in workers]
    print(
        f"3. {WORKERS} workers attached; open + first search took "
        + ", ".join(f"{r['ready_ms']:.0f} ms" for r in ready)
    )

    def ask_all():
        for w in workers:
            w.stdin.write("go\n")
            w.stdin.flush()
        return [json.loads(w.stdout.readline()) for w in workers]

    target = {q["id"]: schemas[q["target_id"]]["table"] for q in questions}
    text = {q["id"]: q["text"] for q in questions}
    before = ask_all()
    print("\n   what each worker found (question -> top 5 tables; * = the described table):")
    for w, answer in enumerate(before):
        for item in answer["found"][:3]:
            tables = ", ".join(
                ("*" + t if t == target[item["question"]] else t) for t in item["tables"]
            )
            print(f"   worker {w} | {text[item['question']][:58]:58} -> {tables}")
    hits_before = sum(
        target[i["question"]] in i["tables"] for a in before for i in a["found"]
    )
    print(f"   described table in the top 5: {hits_before}/{len(questions)} questions")

    mem = [memory_of(r["pid"]) for r in ready]
    segment_bytes = covec_segments_bytes()

    writer = subprocess.run(
        [sys.executable, script, "--writer", db_path], capture_output=True, text=True, check=True
    )
    inserted = json.loads(writer.stdout)["inserted"]
    print(f"\n4. a writer process added {inserted} schemas and committed")

    after = ask_all()
    fresh = [a["rows_seen"] for a in after]
    print(f"5. the same workers, not restarted, now see {fresh} rows")
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
    every_worker_fresh = all(n == len(schemas) for n in fresh)

    for w in workers:
        w.stdin.write("quit\n")
        w.stdin.flush()
        w.wait(timeout=30)
    if daemon:
        daemon.terminate()
        daemon.wait(timeout=30)

    private = sum(p - s for p, s in mem)
    total = private + segment_bytes
    mib = 1 / (1 << 20)
    print(
        f"\n6. memory: {WORKERS} workers' private memory {private * mib:.1f} MiB + one shared segment "
        f"{segment_bytes * mib:.1f} MiB = {total * mib:.1f} MiB in all"
    )
    print(
        f"   the per-process-copy workaround holds {WORKERS} copies of the db in /dev/shm, at least "
        f"{WORKERS * segment_bytes * mib:.1f} MiB, plus each worker's own loaded copy, and a copy made before "
        f"step 4 never sees the new schemas"
    )
    leftover = covec_segments_bytes()
    print(f"   after every process exited: {leftover} bytes of covec left in /dev/shm")
    shutil.rmtree(workdir, ignore_errors=True)
    ok = every_worker_fresh and hits_after > hits_before and leftover == 0
    print("\ndemo " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[3], int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--writer":
        writer_main(sys.argv[2])
    else:
        sys.exit(main())
