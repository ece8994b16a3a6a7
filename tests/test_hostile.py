"""Hostile files, planted segments and a small /dev/shm: always a MilvusException naming the file (or a
refusal of the planted file), never a crash, a hang or trusted garbage."""

from __future__ import annotations

import gc
import os
import random
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import covec
from covec import MilvusClient, MilvusException

DIM = 8
ROWS = 300
NOBODY = 65534
IS_ROOT = os.geteuid() == 0


def vectors(n: int = ROWS) -> np.ndarray:
    return (np.arange(n * DIM, dtype=np.float32).reshape(n, DIM) + 0.25) / 7


def make_db(path: Path) -> None:
    c = MilvusClient(str(path), use_segment=False)
    c.create_collection("docs", dimension=DIM, metric_type="L2")
    v = vectors()
    c.insert("docs", [{"id": i, "vector": v[i], "tag": f"t{i % 5}", "n": i} for i in range(ROWS)])
    c.close()


def slots(data: bytes) -> list[tuple]:
    """(generation, commit_id, catalog_offset, catalog_len, catalog_xxh3, committed_len, live) per meta slot."""
    return [struct.unpack_from("<7Q", data, at) for at in (1024, 2048)]


def newest(data: bytes) -> tuple:
    return max(slots(data), key=lambda s: s[0])


def use(path: Path) -> None:
    """Everything a reader does, on the file mapped directly (no segment churn)."""
    c = MilvusClient(str(path), use_segment=False)
    try:
        c.list_collections()
        c.query("docs", filter="n >= 0", output_fields=["*"], limit=5)
        c.search("docs", data=vectors(1), limit=3, filter='tag == "t1"')
    finally:
        c.close()
        gc.collect()


def refused(path: Path, what) -> MilvusException:
    with pytest.raises(MilvusException) as info:
        what()
    assert str(path) in info.value.message, info.value.message
    return info.value


@pytest.fixture
def good(tmp_path, shm_dir) -> Path:
    path = tmp_path / "good.db"
    make_db(path)
    return path


def variant(good: Path, name: str, data: bytes) -> Path:
    # A new name per variant: one process keeps one state per path.
    path = good.with_name(name)
    path.write_bytes(data)
    return path


def test_truncated_files_are_refused_naming_the_file(good):
    data = good.read_bytes()
    cuts = sorted({0, 1, 47, 4095, 4096, 4097, len(data) - 1, *random.Random(1).sample(range(4096, len(data)), 12)})
    for cut in cuts:
        path = variant(good, f"cut{cut}.db", data[:cut])
        e = refused(path, lambda: use(path))
        assert e.code == 1


def test_a_truncated_newest_generation_is_not_silently_rolled_back(good):
    # A complete newer meta slot pointing past the end: the older slot is intact, but falling back to it
    # would drop a commit that returned (and the next writer would cut the rest away).
    data = good.read_bytes()
    path = variant(good, "short.db", data[:-10])
    e = refused(path, lambda: MilvusClient(str(path), use_segment=False).list_collections())
    assert "truncated" in e.message
    refused(path, lambda: covec.verify(str(path)))
    assert path.stat().st_size == len(data) - 10, "nobody wrote to the damaged file"


def test_random_bytes_and_foreign_files_are_not_covec(good):
    rng = random.Random(2)
    data = good.read_bytes()
    cases = {
        "random.db": rng.randbytes(20_000),
        "magic_then_random.db": data[:8] + rng.randbytes(20_000),
        "zeros.db": bytes(8192),
        "sqlite.db": b"SQLite format 3\0" + bytes(8192),
    }
    for name, content in cases.items():
        path = variant(good, name, content)
        refused(path, lambda: use(path))


def test_newer_format_version_asks_for_an_upgrade(good):
    data = bytearray(good.read_bytes())
    struct.pack_into("<I", data, 8, 2)
    path = variant(good, "newer.db", bytes(data))
    e = refused(path, lambda: use(path))
    assert "newer covec" in e.message and "upgrade" in e.message


def test_flipped_catalog_or_preamble_bytes_are_corrupt(good):
    data = good.read_bytes()
    _, _, cat_off, cat_len, *_ = newest(data)
    rng = random.Random(3)
    offsets = [0, 9, 20, 41] + rng.sample(range(cat_off, cat_off + cat_len), min(cat_len, 40))
    for at in offsets:
        damaged = bytearray(data)
        damaged[at] ^= 1 << rng.randrange(8)
        path = variant(good, f"flip{at}.db", bytes(damaged))
        e = refused(path, lambda: use(path))
        assert "covec verify" in e.message or "not a covec database" in e.message or "newer" in e.message


def test_flipped_vector_bytes_are_found_by_verify(good):
    data = good.read_bytes()
    start = data.find(vectors().tobytes())
    assert start >= 4096, "vector section not found in the file"
    rng = random.Random(4)
    for at in rng.sample(range(start, start + ROWS * DIM * 4), 20):
        damaged = bytearray(data)
        damaged[at] ^= 0x40
        path = variant(good, f"vec{at}.db", bytes(damaged))
        use(path)  # opening checks bounds and the catalog, not every section: reads still work
        e = refused(path, lambda: covec.verify(str(path)))
        assert "checksum" in e.message
    assert covec.verify(str(good)) >= 1


def test_every_single_byte_flip_is_an_exception_or_a_valid_read(good):
    # Never a crash or a hang, wherever the damage is (both meta slots, padding, sections, catalog).
    data = good.read_bytes()
    rng = random.Random(5)
    for at in rng.sample(range(len(data)), 150):
        damaged = bytearray(data)
        damaged[at] ^= 1 << rng.randrange(8)
        path = variant(good, f"any{at}.db", bytes(damaged))
        try:
            use(path)
        except MilvusException as e:
            assert str(path) in e.message
        try:
            covec.verify(str(path))
        except MilvusException as e:
            assert str(path) in e.message
        path.unlink()


def test_damaged_partition_lists_and_columns_are_never_trusted(tmp_path, shm_dir):
    # A part mixing partitions carries a partition id per row; damage anywhere (catalog, partition column,
    # other sections) gives an exception naming the file or valid answers, to confined reads and to a write
    # that merges the damaged part.
    good = tmp_path / "parts.db"
    c = MilvusClient(str(good), use_segment=False)
    c.create_database("db2")
    c.create_collection("docs", dimension=DIM, metric_type="L2", db_name="db2")
    c.create_partition("docs", "p1", db_name="db2")
    v = vectors(40)
    c.insert("docs", [{"id": i, "vector": v[i]} for i in range(20)], db_name="db2")
    c.insert("docs", [{"id": i, "vector": v[i]} for i in range(20, 40)], partition_name="p1", db_name="db2")
    c.create_alias("docs", "al", db_name="db2")
    c.close()
    data = good.read_bytes()
    rng = random.Random(6)
    for at in rng.sample(range(4096, len(data)), 120):
        damaged = bytearray(data)
        damaged[at] ^= 1 << rng.randrange(8)
        path = variant(good, f"part{at}.db", bytes(damaged))
        client = None
        try:
            client = MilvusClient(str(path), use_segment=False, db_name="db2")
            for partitions in (None, ["p1"], ["_default"]):
                client.query("al", filter="id >= 0", output_fields=["id"], partition_names=partitions)
                client.search("docs", data=vectors(1), limit=3, partition_names=partitions)
            client.insert("docs", [{"id": 100, "vector": v[0]}], partition_name="p1")
            covec.verify(str(path))
        except MilvusException as e:
            assert str(path) in e.message, e.message
        finally:
            if client is not None:
                client.close()
            gc.collect()
        path.unlink()


def test_crafted_catalog_length_does_not_allocate_it(good, tmp_path):
    # A child process with a 1 GiB address-space cap reads a db whose catalog claims a 2^60-element
    # vector: decoding must fail on the input's length, not try to allocate.
    data = bytearray(good.read_bytes())
    gen, commit, cat_off, cat_len, cat_xxh3, committed, live = newest(bytes(data))
    # bincode varint: 0xFD marks a u64 follows. The catalog starts with the collection count.
    data[cat_off:cat_off + 9] = b"\xfd" + struct.pack("<Q", 1 << 60)
    path = variant(good, "huge.db", bytes(data))
    code = (
        "import resource, sys, covec\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "try:\n"
        f"    covec.MilvusClient({str(path)!r}, use_segment=False).list_collections()\n"
        "except covec.MilvusException as e:\n"
        "    print('refused', e.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused"), out.stdout


# --- planted segments and reference files ---------------------------------------------------------
# Segment names are random and published in the reference file (docs/protocol.md), so nothing can be
# planted where the next generation will go. What can be planted: files at names an earlier covec used
# (`covec.<id>.<generation>`, its temps and ref file), guesses, our reference file's name while no process
# uses the db, or (by our own uid) a file in place of a published segment.


def db_id_of(path: Path) -> str:
    """The db id in this db's segment names (opens it once with segments, then detaches)."""
    c = MilvusClient(str(path))
    name = c._db.status()["segment"]
    c.close()
    gc.collect()
    return name.split(".")[1]


def attach_fresh(path: Path) -> str:
    """Opens the db in a new process and searches it: 'ok <hits> <segment or None>', or 'refused <message>'."""
    code = (
        "import sys, covec, numpy as np\n"
        "try:\n"
        f"    c = covec.MilvusClient({str(path)!r})\n"
        "    hits = c.search('docs', data=np.zeros((1, 8), np.float32), limit=3)\n"
        "    print('ok', len(hits[0]), c._db.status()['segment'])\n"
        "except covec.MilvusException as e:\n"
        "    print('refused', e.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


class Holder:
    """A process that opens the db with its segment and holds it until closed."""

    def __init__(self, path: Path):
        code = (
            "import sys, covec\n"
            f"c = covec.MilvusClient({str(path)!r})\n"
            "print(c._db.status()['segment'], flush=True)\n"
            "sys.stdin.read()\n"
        )
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.segment = self.proc.stdout.readline().strip()
        assert self.segment.startswith("covec."), self.segment

    def close(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0


def plant(path: Path, content: bytes, mode: int, owner: int | None = None) -> None:
    path.write_bytes(content)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner, owner)


def test_files_at_names_an_earlier_covec_used_are_never_opened_nor_removed_unless_ours(good, shm_dir):
    db_id = db_id_of(good)
    forged = b"COVECSEG" + bytes(8192)
    planted = {}
    for g in range(1, 40):
        planted[f"covec.{db_id}.{g}"] = 0o644
        planted[f"covec.{db_id}.{g}.tmp-1"] = 0o600
    for name, mode in planted.items():
        plant(shm_dir / name, forged, mode, NOBODY if IS_ROOT else None)
    (shm_dir / f"covec.{db_id}.seg.0000000000000001").symlink_to("/etc/passwd")
    for _ in range(3):
        out = attach_fresh(good)
        assert out.startswith("ok 3 covec."), out
        c = MilvusClient(str(good))
        c.insert("docs", [{"id": 10_000, "vector": np.ones(8, np.float32)}])
        c.close()
        gc.collect()
    for name in planted:
        assert (shm_dir / name).read_bytes() == forged, f"{name} was changed"
    report = covec.sweep(str(shm_dir))
    left = {p.name for p in shm_dir.iterdir()}
    if IS_ROOT:
        # Another user's files: the sweep neither trusts nor removes them, and does not fail on them.
        assert set(planted) <= left, report
    else:
        assert not set(planted) & left, report
    (shm_dir / f"covec.{db_id}.seg.0000000000000001").unlink(missing_ok=True)


@pytest.mark.parametrize("replacement", ["0644", "0640", "0604", "0660", "symlink", "nobody"])
def test_a_published_segment_replaced_by_an_untrusted_file_is_not_used(good, shm_dir, tmp_path, replacement):
    if replacement == "nobody" and not IS_ROOT:
        pytest.skip("chown to another user needs root")
    holder = Holder(good)
    planted = shm_dir / holder.segment
    content = planted.read_bytes()
    planted.unlink()
    if replacement == "symlink":
        target = tmp_path / "elsewhere"
        plant(target, content, 0o600)
        planted.symlink_to(target)
    elif replacement == "nobody":
        plant(planted, content, 0o600, NOBODY)
    else:
        plant(planted, content, int(replacement, 8))
    # Refused, never mapped: the new process reads this generation from the db file instead.
    assert attach_fresh(good) == "ok 3 None"
    holder.close()
    if replacement == "symlink":
        assert (tmp_path / "elsewhere").read_bytes() == content, "the link's target was not written"
    covec.sweep(str(shm_dir))
    left = [p.name for p in shm_dir.iterdir()]
    assert left == ([holder.segment] if replacement == "nobody" else []), left
    planted.unlink(missing_ok=True)


@pytest.mark.parametrize("planted_as", ["symlink", "0666", "0620", "nobody"])
def test_a_planted_reference_file_makes_readers_use_the_db_file(good, shm_dir, tmp_path, planted_as):
    if planted_as == "nobody" and not IS_ROOT:
        pytest.skip("chown to another user needs root")
    db_id = db_id_of(good)
    ref = shm_dir / f"covec.{db_id}.refs"
    target = tmp_path / "elsewhere"
    plant(target, bytes(64), 0o600)
    if planted_as == "symlink":
        ref.symlink_to(target)
    else:
        plant(ref, bytes(64), 0o600 if planted_as == "nobody" else int(planted_as, 8),
              NOBODY if planted_as == "nobody" else None)
    assert attach_fresh(good) == "ok 3 None"
    c = MilvusClient(str(good))
    c.insert("docs", [{"id": 10_000, "vector": np.zeros(8, np.float32)}])
    assert c.search("docs", data=np.zeros((1, 8), np.float32), limit=1)[0][0]["id"] == 10_000
    assert c._db.status()["segment"] is None
    c.close()
    assert target.read_bytes() == bytes(64), "the link's target was not written"
    # The sweep skips this db instead of failing for every db in the dir.
    assert covec.sweep(str(shm_dir))["untrusted"] == 1
    ref.unlink()


def test_garbage_ref_file_records_are_swept_not_trusted(good, shm_dir):
    db_id = db_id_of(good)
    ref = shm_dir / f"covec.{db_id}.refs"
    ref.write_bytes(random.Random(6).randbytes(64 * 20))
    os.chmod(ref, 0o600)
    out = attach_fresh(good)
    assert out.startswith("ok 3 covec."), out
    covec.sweep(str(shm_dir))
    assert not any(p.name.startswith("covec.") for p in shm_dir.iterdir())


def test_a_published_segment_with_a_damaged_header_is_never_trusted(good, shm_dir):
    holder = Holder(good)
    planted = shm_dir / holder.segment
    content = planted.read_bytes()
    lies = {"magic": 0, "version": 8, "db id": 16, "segment id": 32, "creator pid": 40, "checksum": 48,
            "image byte": 4096 + 100}
    for what, at in lies.items():
        forged = bytearray(content)
        forged[at] ^= 0x01
        planted.unlink()
        plant(planted, bytes(forged), 0o600)
        out = attach_fresh(good)
        # Every header change is refused (the checksum covers it all). A changed image byte is not:
        # attach does not hash the image (it must stay O(1)); only our own uid can write an owner-only
        # file, which is the trust boundary (docs/reliability.md).
        assert out.startswith("refused") != (what == "image byte"), (what, out)
        if out.startswith("refused"):
            assert str(planted) in out, out
    holder.close()
    covec.sweep(str(shm_dir))
    assert not any(p.name.startswith("covec.") for p in shm_dir.iterdir())


# --- a small /dev/shm --------------------------------------------------------------------------------


@pytest.fixture
def small_shm(tmp_path, monkeypatch):
    d = tmp_path / "small"
    d.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=1777", "tmpfs", str(d)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount an 8 MiB tmpfs here ({out.stderr.strip()}); needs root")
    monkeypatch.setenv("COVEC_SHM_DIR", str(d))
    yield d
    gc.collect()
    subprocess.run(["umount", "-l", str(d)], check=False)


def fill(d: Path) -> Path:
    """Writes a file into tmpfs `d` until it has no free byte left; returns the file."""
    filler = d / "filler"
    with open(filler, "wb") as f:
        try:
            f.write(bytes(16 << 20))
        except OSError:
            pass
    return filler


def big_db(path: Path, rows: int, dim: int = 128) -> None:
    c = MilvusClient(str(path), use_segment=False)
    c.create_collection("docs", dimension=dim)
    data = np.random.default_rng(0).random((rows, dim), dtype=np.float32)
    for start in range(0, rows, 5000):
        c.insert("docs", [{"id": i, "vector": data[i]} for i in range(start, min(rows, start + 5000))])
    c.close()


def test_small_shm_fails_clearly_and_the_file_fallback_works(tmp_path, small_shm):
    path = tmp_path / "big.db"
    big_db(path, 20_000)  # about 10.3 MB: more than the 8 MiB tmpfs
    with pytest.raises(MilvusException) as info:
        MilvusClient(str(path), shm_dir=str(small_shm))
    message = info.value.message
    assert str(small_shm) in message and "needs" in message and "COVEC_NO_SHM=1" in message, message
    assert "--shm-size" in message
    assert not any(small_shm.iterdir()), "a failed load left files behind"
    # The documented fallbacks: use_segment=False, or COVEC_NO_SHM=1 (here in a child, env is read at open).
    c = MilvusClient(str(path), shm_dir=str(small_shm), use_segment=False)
    assert c.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"] == 20_000
    assert c._db.status()["segment"] is None
    c.close()
    code = (
        "import covec\n"
        f"c = covec.MilvusClient({str(path)!r})\n"
        "print(c._db.status()['segment'], c.query('docs', filter='', output_fields=['count(*)'])[0]['count(*)'])\n"
    )
    env = dict(os.environ, COVEC_NO_SHM="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.split() == ["None", "20000"], out.stderr


def test_segment_pages_are_reserved_before_anyone_maps_them(tmp_path, small_shm):
    # The loader writes every byte a generation uses, so a reader can never fault on a page tmpfs cannot
    # supply (SIGBUS): the pages are allocated at the load, not at a reader's first touch.
    path = tmp_path / "fits.db"
    big_db(path, 6_000)  # about 3.1 MB
    c = MilvusClient(str(path), shm_dir=str(small_shm))
    seg = small_shm / c._db.status()["segment"]
    assert seg.stat().st_blocks * 512 >= 6_000 * 128 * 4, "the vectors' pages are allocated"
    # Fill the rest of the tmpfs: reads of every vector of the mapped segment keep working.
    filler = fill(small_shm)
    hits = c.search("docs", data=np.ones((2, 128), np.float32), limit=5)
    assert [len(h) for h in hits] == [5, 5]
    rows = c.query("docs", filter="", output_fields=["vector"], limit=6_000)
    assert len(rows) == 6_000
    c.close()
    filler.unlink()
    gc.collect()
    covec.sweep(str(small_shm))
    assert not any(p.name.startswith("covec.") for p in small_shm.iterdir())


def test_shm_filled_by_another_process_during_the_load_fails_clearly(tmp_path, small_shm):
    # The free-space check passes, then the tmpfs fills while the loader is still writing (here: in the
    # test pause halfway through its copy). Its next write fails with ENOSPC: the loader must say so as
    # the same clear error and leave nothing behind.
    path = tmp_path / "fits.db"
    big_db(path, 6_000)  # about 3.1 MB of the 8 MiB
    code = (
        "import covec\n"
        "try:\n"
        f"    covec.MilvusClient({str(path)!r})\n"
        "    print('loaded')\n"
        "except covec.MilvusException as e:\n"
        "    print(e.message)\n"
    )
    env = dict(os.environ, COVEC_TEST_SLOW_LOAD_MS="3000")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
    deadline = time.monotonic() + 60
    while not any(".seg." in p.name for p in small_shm.iterdir()):
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.01)
    time.sleep(0.5)  # well inside the pause: the first half is written
    filler = fill(small_shm)
    out, err = child.communicate(timeout=60)
    filler.unlink()
    assert "needs" in out and "COVEC_NO_SHM=1" in out, (out, err)
    assert not any(small_shm.iterdir()), "a failed load left files behind"


# --- columns of the newer field types ------------------------------------------------------------


TYPED_ROWS = 24
TS0 = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z in microseconds


def make_typed_db(path: Path) -> None:
    from covec import DataType

    c = MilvusClient(str(path), use_segment=False)
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("h", DataType.FLOAT16_VECTOR, dim=4)
    schema.add_field("b", DataType.BINARY_VECTOR, dim=16)
    schema.add_field("sp", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=8)
    schema.add_field("ts", DataType.TIMESTAMPTZ)
    schema.add_field("geo", DataType.GEOMETRY)
    index = c.prepare_index_params()
    index.add_index("h", index_type="FLAT", metric_type="L2")
    index.add_index("b", index_type="BIN_FLAT", metric_type="HAMMING")
    index.add_index("sp", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    c.create_collection("typed", schema=schema, index_params=index)
    c.insert(
        "typed",
        [
            {
                "id": i,
                "h": np.array([i, 1, 2, 3], dtype=np.float16),
                "b": bytes([i, 0xA5]),
                "sp": {i: 0.5, 100 + i: 1.0},
                "tags": [f"t{k}" for k in range(i % 4)],
                "ts": TS0 + i,
                "geo": f"POINT({i}.5 -2)",
            }
            for i in range(TYPED_ROWS)
        ],
    )
    c.close()


def use_typed(path: Path) -> None:
    """Every read of the typed collection: all rows, filters on each newer type, each vector field searched."""
    c = MilvusClient(str(path), use_segment=False)
    try:
        c.query("typed", filter="id >= 0", output_fields=["*"])
        for flt in ["array_length(tags) > 1", "ts > ISO '2025-01-01T00:00:00Z'", "ST_WITHIN(geo, 'POLYGON((0 -3, 9 -3, 9 0, 0 0, 0 -3))')"]:
            c.query("typed", filter=flt, output_fields=["id"])
        c.search("typed", data=[np.array([1, 1, 1, 1], dtype=np.float16)], anns_field="h", limit=3, output_fields=["*"])
        c.search("typed", data=[bytes([3, 0xA5])], anns_field="b", limit=3)
        c.search("typed", data=[{3: 1.0, 103: 0.5}], anns_field="sp", limit=3)
    finally:
        c.close()
        gc.collect()


@pytest.fixture
def typed(tmp_path, shm_dir) -> Path:
    path = tmp_path / "typed.db"
    make_typed_db(path)
    return path


def test_typed_db_reads_back(typed):
    c = MilvusClient(str(typed), use_segment=False)
    row = c.get("typed", ids=[3], output_fields=["*"])[0]
    c.close()
    assert row["tags"] == ["t0", "t1", "t2"] and row["geo"] == "POINT(3.5 -2)"
    assert row["ts"] == "2025-01-01T00:00:00.000003Z" and row["sp"] == {3: 0.5, 103: 1.0}
    use_typed(typed)


def test_damaged_wkb_and_timestamps_are_corrupt_naming_the_file(typed):
    data = typed.read_bytes()
    wkb = b"\x01\x01\x00\x00\x00" + struct.pack("<dd", 3.5, -2.0)
    ts = struct.pack("<q", TS0 + 5)
    assert data.count(wkb) == 1 and data.count(ts) == 1
    damages = {
        "wkb-order": (data.find(wkb), b"\x00"),  # big-endian: not the WKB covec writes
        "wkb-type": (data.find(wkb) + 1, b"\x63"),
        "ts-max": (data.find(ts), struct.pack("<q", 2**63 - 1)),
        "ts-year-0": (data.find(ts), struct.pack("<q", -62_135_596_800_000_001)),
    }
    for name, (at, new) in damages.items():
        damaged = bytearray(data)
        damaged[at : at + len(new)] = new
        path = variant(typed, f"{name}.db", bytes(damaged))
        c = MilvusClient(str(path), use_segment=False)
        try:
            with pytest.raises(MilvusException) as info:
                c.get("typed", ids=[3, 5], output_fields=["geo", "ts"])
            assert "is damaged" in info.value.message, info.value.message
            assert c.query("typed", filter="id == 7", output_fields=["geo", "ts"])  # other rows still read
        finally:
            c.close()
            gc.collect()
        e = refused(path, lambda: covec.verify(str(path)))
        assert "checksum" in e.message


def test_every_single_byte_flip_of_a_typed_db_is_an_exception_or_a_valid_read(typed):
    data = typed.read_bytes()
    rng = random.Random(6)
    for at in rng.sample(range(4096, len(data)), 150):
        damaged = bytearray(data)
        damaged[at] ^= 1 << rng.randrange(8)
        path = variant(typed, f"typed{at}.db", bytes(damaged))
        try:
            use_typed(path)
        except MilvusException as e:
            # Opening names the file; a read names the damage (the image it read).
            assert str(path) in e.message or "is damaged" in e.message, e.message
        path.unlink()
