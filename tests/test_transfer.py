"""`covec export` and `covec import` against a Milvus server: Milvus Lite's gRPC server in a child process on
127.0.0.1 (tests/milvus_server.py). covec -> server -> covec keeps every row, the schema and the indexes; a target
that has a collection is refused unless --resume, which continues after its last primary key; partitions are
copied one by one; the progress bar goes to stderr and --quiet silences everything but errors.

Milvus Lite's server keeps neither an index's build parameters (its HNSW is always M=16) nor a collection's
description, so those are checked on a copy between two covec dbs, which keep them.
"""

import subprocess
import sys

import numpy as np
import pytest

pymilvus = pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")
pytest.importorskip("tqdm")

from covec import DataType, MilvusClient, _transfer  # noqa: E402

ROWS = 2500  # three pages of --batch 1000


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "covec.cli", *args], capture_output=True, text=True, timeout=600
    )


def make_source(path, prefix, rows=ROWS):
    """A covec db with a quick-setup collection (dynamic fields) and one of every scalar kind, nullable and default
    values, a VARCHAR key and an HNSW index with build parameters. Returns the collection names."""
    client = MilvusClient(str(path))
    rng = np.random.default_rng(1)
    quick, custom = f"{prefix}_quick", f"{prefix}_custom"
    client.create_collection(quick, dimension=8, metric_type="COSINE")
    client.insert(
        quick, [{"id": i, "vector": rng.random(8).tolist(), "tag": f"t{i % 7}", "n": i} for i in range(rows)]
    )
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description="every scalar")
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=32)
    schema.add_field("emb", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("score", DataType.DOUBLE)
    schema.add_field("ratio", DataType.FLOAT)
    schema.add_field("small", DataType.INT8)
    schema.add_field("flag", DataType.BOOL, nullable=True)
    schema.add_field("meta", DataType.JSON)
    schema.add_field("cnt", DataType.INT32, default_value=7)
    schema.add_field("title", DataType.VARCHAR, max_length=64, nullable=True)
    index = MilvusClient.prepare_index_params()
    index.add_index("emb", index_type="HNSW", metric_type="L2", M=8, efConstruction=64)
    client.create_collection(custom, schema=schema, index_params=index)
    client.insert(
        custom,
        [
            {
                "pk": f"k{i:05d}",
                "emb": rng.random(4).tolist(),
                "score": i / 3,
                "ratio": i / 8,
                "small": i % 100 - 50,
                "flag": None if i % 3 == 0 else bool(i % 2),
                "meta": {"i": i, "tags": ["a", str(i)]},
                **({} if i % 4 == 0 else {"cnt": i}),
                "title": None if i % 5 == 0 else f"title {i}",
            }
            for i in range(rows // 2)
        ],
    )
    client.close()
    return [quick, custom]


def primary_key(desc):
    return next(f["name"] for f in desc["fields"] if f.get("is_primary"))


def covec_rows(client, name):
    pk = primary_key(client.describe_collection(name))
    return sorted(client.query(name, filter="", output_fields=["*"]), key=lambda r: r[pk])


def server_rows(server, name):
    it = server.query_iterator(name, batch_size=1000, filter="", output_fields=["*"])
    rows = []
    while page := it.next():
        rows.extend(dict(r) for r in page)
    it.close()
    pk = primary_key(server.describe_collection(name))
    return sorted(rows, key=lambda r: r[pk])


def server_count(server, name):
    return server.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]


def without_description(desc):
    return {k: v for k, v in desc.items() if k != "description"}


def index_shape(client, name):
    """What Milvus Lite's server keeps of each index: type, metric, field and name."""
    keep = ("index_type", "metric_type", "field_name", "index_name")
    return {i: {k: client.describe_index(name, i)[k] for k in keep} for i in client.list_indexes(name)}


@pytest.fixture(scope="module")
def server(milvus_server):
    client = pymilvus.MilvusClient(milvus_server["tcp"])
    yield milvus_server["tcp"], client
    client.close()


def test_round_trip_through_a_server_keeps_every_row_schema_and_index(tmp_path, shm_dir, server):
    uri, milvus = server
    names = make_source(tmp_path / "schemas.db", "trip")
    out = cli("export", str(tmp_path / "schemas.db"), uri, "--collections", *names, "--batch", "1000", "--quiet")
    assert out.returncode == 0, out.stderr
    back_path = tmp_path / "back.db"
    out = cli("import", uri, str(back_path), "--collections", *names, "--quiet")
    assert out.returncode == 0, out.stderr

    source, back = MilvusClient(str(tmp_path / "schemas.db")), MilvusClient(str(back_path))
    assert sorted(back.list_collections()) == sorted(names)
    for name in names:
        rows = covec_rows(source, name)
        assert len(rows) in (ROWS, ROWS // 2)
        assert server_rows(milvus, name) == rows
        assert covec_rows(back, name) == rows
        assert without_description(back.describe_collection(name)) == without_description(
            source.describe_collection(name)
        )
        assert index_shape(back, name) == index_shape(source, name) == index_shape(milvus, name)
    query = np.random.default_rng(9).random((3, 8)).tolist()
    expected = source.search(names[0], data=query, limit=10, output_fields=["tag"])
    got = back.search(names[0], data=query, limit=10, output_fields=["tag"])
    assert [[(h["id"], h["entity"]) for h in q] for q in got] == [[(h["id"], h["entity"]) for h in q] for q in expected]


def without_id(description):
    return {k: v for k, v in description.items() if k != "collection_id"}


def test_a_copy_between_covec_dbs_keeps_index_build_parameters_and_descriptions(tmp_path, shm_dir):
    names = make_source(tmp_path / "a.db", "params", rows=200)
    source, target = MilvusClient(str(tmp_path / "a.db")), MilvusClient(str(tmp_path / "b.db"))
    _transfer.copy(source, target, batch=64, quiet=True)
    for name in names:
        # Collection ids are the target db's own.
        assert without_id(target.describe_collection(name)) == without_id(source.describe_collection(name))
        for index in source.list_indexes(name):
            assert target.describe_index(name, index) == source.describe_index(name, index)
        assert covec_rows(target, name) == covec_rows(source, name)
    assert target.describe_index(names[1], "emb")["M"] == 8
    assert target.describe_collection(names[1])["description"] == "every scalar"


def test_a_collection_the_target_has_is_refused_and_resume_continues_after_its_last_key(tmp_path, shm_dir, server):
    uri, milvus = server
    db = str(tmp_path / "schemas.db")
    names = make_source(db, "resume")
    assert cli("export", db, uri, "--collections", *names, "--quiet").returncode == 0

    again = cli("export", db, uri, "--collections", *names, "--quiet")
    assert again.returncode == 1
    assert f"'{names[0]}'" in again.stderr and "--resume" in again.stderr and "nothing was copied" in again.stderr
    assert server_count(milvus, names[0]) == ROWS

    # What an interrupted export leaves: every row up to some key (rows go in key order, a batch per insert).
    milvus.delete(names[0], filter="id >= 1700")
    milvus.delete(names[1], filter='pk >= "k00400"')
    assert server_count(milvus, names[0]) == 1700
    resumed = cli("export", db, uri, "--collections", *names, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{names[0]}: 800 rows" in resumed.stdout and f"{names[1]}: 850 rows" in resumed.stdout
    source = MilvusClient(db)
    for name in names:
        assert server_rows(milvus, name) == covec_rows(source, name)

    # Importing the other way: the same refusal, the same resumption.
    back = str(tmp_path / "back.db")
    assert cli("import", uri, back, "--collections", names[0], "--quiet").returncode == 0
    refused = cli("import", uri, back, "--collections", names[0], "--quiet")
    assert refused.returncode == 1 and "--resume" in refused.stderr
    MilvusClient(back).delete(names[0], filter="id >= 2000")
    assert cli("import", uri, back, "--collections", names[0], "--resume", "--quiet").returncode == 0
    assert covec_rows(MilvusClient(back), names[0]) == covec_rows(source, names[0])


def test_resume_refuses_a_collection_of_the_same_name_with_other_fields(tmp_path, shm_dir, server):
    uri, milvus = server
    db = str(tmp_path / "schemas.db")
    name = make_source(db, "other", rows=20)[0]
    milvus.create_collection(name, dimension=3)
    out = cli("export", db, uri, "--collections", name, "--resume", "--quiet")
    assert out.returncode == 1
    assert f"cannot resume '{name}'" in out.stderr and "other fields" in out.stderr
    assert server_count(milvus, name) == 0


def test_a_missing_collection_or_target_is_refused_before_anything_is_copied(tmp_path, shm_dir, server):
    uri, milvus = server
    db = str(tmp_path / "schemas.db")
    names = make_source(db, "missing", rows=20)
    out = cli("export", db, uri, "--collections", names[0], "nope", "--quiet")
    assert out.returncode == 1 and "'nope'" in out.stderr
    assert not milvus.has_collection(names[0])
    assert "no such covec db" in cli("export", str(tmp_path / "absent.db"), uri).stderr
    assert "is not a Milvus server's URI" in cli("export", db, str(tmp_path / "elsewhere.db")).stderr
    assert "no such Milvus Lite db" in cli("import", str(tmp_path / "absent_lite.db"), db).stderr


def test_partitions_are_copied_one_by_one(tmp_path, shm_dir, server):
    uri, milvus = server
    name = "partitioned"
    milvus.create_collection(name, dimension=4)
    for p in ("north", "south"):
        milvus.create_partition(name, p)
    base = np.random.default_rng(4).random((90, 4)).tolist()
    for i, p in enumerate(("_default", "north", "south")):
        milvus.insert(name, [{"id": j, "vector": base[j], "part": p} for j in range(i * 30, i * 30 + 30)], partition_name=p)
    target = str(tmp_path / "back.db")
    out = cli("import", uri, target, "--collections", name, "--quiet")
    covec = MilvusClient(target)
    assert out.returncode == 0, out.stderr
    assert sorted(covec.list_partitions(name)) == sorted(milvus.list_partitions(name))
    for p in ("_default", "north", "south"):
        rows = covec.query(name, filter="", output_fields=["part"], partition_names=[p])
        assert sorted(r["id"] for r in rows) == sorted(
            r["id"] for r in milvus.query(name, filter="", output_fields=["part"], partition_names=[p])
        )
        assert {r["part"] for r in rows} == {p}


def test_progress_goes_to_stderr_and_quiet_prints_nothing(tmp_path, shm_dir, server):
    uri, _ = server
    db = str(tmp_path / "schemas.db")
    names = make_source(db, "progress", rows=300)
    shown = cli("export", db, uri, "--collections", names[0], "--batch", "100")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == f"{names[0]}: 300 rows\n"
    assert "300/300" in shown.stderr  # tqdm's bar, on stderr
    quiet = cli("import", uri, str(tmp_path / "back.db"), "--collections", names[0], "--quiet")
    assert quiet.returncode == 0
    assert (quiet.stdout, quiet.stderr) == ("", "")


# Field kinds beyond covec's first ones, as Milvus Lite's server has them: (extra fields, extra indexes, functions,
# a row's values for them). The copy knows none of them by name.
def _bm25():
    return [pymilvus.Function("bm25", pymilvus.FunctionType.BM25, ["text"], ["sparse"])]


KINDS = {
    "array_of_int64": (
        [("a", DataType.ARRAY, {"element_type": DataType.INT64, "max_capacity": 4})],
        [],
        list,
        lambda i: {"a": [i, i + 1, -i]},
    ),
    "array_of_varchar": (
        [("a", DataType.ARRAY, {"element_type": DataType.VARCHAR, "max_capacity": 4, "max_length": 16})],
        [],
        list,
        lambda i: {"a": ["x", f"s{i}"]},
    ),
    "geometry": (
        [("g", DataType.GEOMETRY, {})],
        [],
        list,
        lambda i: {"g": f"POINT ({i} {i % 7})"},
    ),
    "timestamptz": (
        [("ts", DataType.TIMESTAMPTZ, {})],
        [],
        list,
        lambda i: {"ts": f"2025-01-{1 + i % 28:02d}T08:{i % 60:02d}:00Z"},
    ),
    "sparse_vector": (
        [("sp", DataType.SPARSE_FLOAT_VECTOR, {})],
        [{"field_name": "sp", "index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP"}],
        list,
        lambda i: {"sp": {i % 50: 0.5, 100 + i: 1.25}},
    ),
    "bm25_function": (
        [
            ("text", DataType.VARCHAR, {"max_length": 200, "enable_analyzer": True}),
            ("sparse", DataType.SPARSE_FLOAT_VECTOR, {}),
        ],
        [{"field_name": "sparse", "index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25"}],
        _bm25,
        lambda i: {"text": f"table {i} holds the schema of number {i % 7}"},
    ),
}


def kind_collection(client, name, kind, rows=1200):
    """Creates `name` with the kind's fields on any MilvusClient-API client and fills it."""
    fields, indexes, functions, values = KINDS[kind]
    schema = pymilvus.MilvusClient.create_schema(enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    for field_name, data_type, params in fields:
        schema.add_field(field_name, data_type, **params)
    for function in functions():
        schema.add_function(function)
    index = pymilvus.MilvusClient.prepare_index_params()
    index.add_index("v", index_type="FLAT", metric_type="L2")
    for spec in indexes:
        index.add_index(**spec)
    client.create_collection(name, schema=schema, index_params=index)
    client.insert(name, [{"id": i, "v": [i / 7, 1.0, 0.5, -1.0], **values(i)} for i in range(rows)])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_copy_carries_field_kinds_it_has_no_code_for(kind, tmp_path, server):
    """Between two Milvus stores (the server and a Milvus Lite db), through the same code covec's import and export
    run: schema, functions, indexes and rows arrive as they were."""
    uri, milvus = server
    name = f"kind_{kind}"
    kind_collection(milvus, name, kind)
    lite_path = str(tmp_path / "milvus_demo.db")
    lite = pymilvus.MilvusClient(lite_path)
    try:
        _transfer.copy(milvus, lite, [name], batch=500, quiet=True)
        assert server_rows(lite, name) == server_rows(milvus, name)
        copied, original = lite.describe_collection(name), milvus.describe_collection(name)
        assert copied["fields"] == original["fields"] and copied["functions"] == original["functions"]
        assert index_shape(lite, name) == index_shape(milvus, name)
    finally:
        lite.close()
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(lite_path)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_field_kinds_round_trip_through_a_server(kind, tmp_path, shm_dir, server):
    uri, milvus = server
    name = f"covec_kind_{kind}"
    db = str(tmp_path / "schemas.db")
    source = MilvusClient(db)
    kind_collection(source, name, kind)
    assert cli("export", db, uri, "--collections", name, "--quiet").returncode == 0
    back = str(tmp_path / "back.db")
    out = cli("import", uri, back, "--collections", name, "--quiet")
    assert out.returncode == 0, out.stderr
    assert covec_rows(MilvusClient(back), name) == covec_rows(source, name)
    # Milvus Lite's server drops an ARRAY of VARCHAR's max_length (as it drops descriptions): compared are the
    # parameters it reports; a copy between covec dbs keeps them all.
    kept = {f["name"]: f["params"].keys() for f in milvus.describe_collection(name)["fields"]}
    assert as_kept(MilvusClient(back).describe_collection(name), kept) == as_kept(source.describe_collection(name), kept)
    direct = MilvusClient(str(tmp_path / "direct.db"))
    _transfer.copy(source, direct, [name], quiet=True)
    assert without_id(direct.describe_collection(name)) == without_id(source.describe_collection(name))
    assert covec_rows(direct, name) == covec_rows(source, name)


def as_kept(desc, kept):
    """`desc` without its description, each field's parameters limited to those in `kept` (by field name)."""
    fields = [{**f, "params": {k: v for k, v in f["params"].items() if k in kept[f["name"]]}} for f in desc["fields"]]
    return {**without_description(desc), "fields": fields}


def databases_with_aliases(client, prefix):
    """A collection in the default database and two in database `<prefix>_db`, each with aliases; returns
    {database: {collection: sorted aliases}}."""
    rng = np.random.default_rng(5)
    second = f"{prefix}_db"
    client.create_database(second)
    made = {}
    for database, names in (("default", [f"{prefix}_a"]), (second, [f"{prefix}_a", f"{prefix}_b"])):
        client.use_database(database)
        made[database] = {}
        for i, name in enumerate(names):
            client.create_collection(name, dimension=4)
            client.insert(name, [{"id": j, "vector": rng.random(4).tolist(), "db": database} for j in range(40 + i)])
            aliases = [f"{name}_alias{k}" for k in range(i + 1)]
            for alias in aliases:
                client.create_alias(name, alias)
            made[database][name] = aliases
    client.use_database("default")
    return made


def holdings(client, databases):
    """{database: {collection: (sorted aliases, sorted (id, db) rows)}} for the given databases' collections."""
    out = {}
    for database in databases:
        client.use_database(database)
        out[database] = {
            name: (
                sorted(client.list_aliases(name)["aliases"]),
                sorted((r["id"], r["db"]) for r in client.query(name, filter="", output_fields=["db"])),
            )
            for name in client.list_collections()
        }
    client.use_database("default")
    return out


def test_every_database_and_alias_is_copied_from_milvus_lite_and_back_through_a_server(tmp_path, shm_dir, server):
    lite_path = str(tmp_path / "milvus_demo.db")
    lite = pymilvus.MilvusClient(lite_path)
    made = databases_with_aliases(lite, "dbs")
    try:
        expected = holdings(lite, made)
    finally:
        lite.close()
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(lite_path)
    assert {d: {n: a for n, (a, _) in c.items()} for d, c in expected.items()} == made
    db = str(tmp_path / "schemas.db")
    out = cli("import", lite_path, db)
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.splitlines()) == ["dbs_a: 40 rows", "dbs_db.dbs_a: 40 rows", "dbs_db.dbs_b: 41 rows"]
    covec = MilvusClient(db)
    assert sorted(covec.list_databases()) == ["dbs_db", "default"]
    assert holdings(covec, made) == expected
    # covec -> server: the same databases and aliases arrive; --databases limits the copy.
    uri, milvus = server
    out = cli("export", db, uri, "--databases", "dbs_db", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "dbs_db" in milvus.list_databases()
    assert holdings(milvus, ["dbs_db"]) == {"dbs_db": expected["dbs_db"]}
    milvus.use_database("default")
    assert not milvus.has_collection("dbs_a")


def test_an_alias_that_names_another_collection_in_the_target_is_refused_before_anything_is_copied(tmp_path, shm_dir):
    source = MilvusClient(str(tmp_path / "source.db"))
    databases_with_aliases(source, "clash")
    target = MilvusClient(str(tmp_path / "target.db"))
    target.create_database("clash_db")
    target.use_database("clash_db")
    target.create_collection("other", dimension=4)
    target.create_alias("other", "clash_b_alias1")
    with pytest.raises(_transfer.Refused, match="alias 'clash_db.clash_b_alias1' names 'other', not 'clash_b'"):
        _transfer.copy(source, target, quiet=True)
    assert target.list_collections() == []  # the default database's collection was not copied either
    target.use_database("clash_db")
    assert target.list_collections() == ["other"]
    named = MilvusClient(str(tmp_path / "named.db"))
    named.create_collection("clash_a_alias0", dimension=4)
    with pytest.raises(_transfer.Refused, match="has a collection 'clash_a_alias0', an alias of 'clash_a'"):
        _transfer.copy(source, named, quiet=True)
    # Resuming a finished copy adds nothing and keeps the aliases it made.
    fresh = MilvusClient(str(tmp_path / "fresh.db"))
    _transfer.copy(source, fresh, quiet=True)
    _transfer.copy(source, fresh, resume=True, quiet=True)
    assert holdings(fresh, ["default", "clash_db"]) == holdings(source, ["default", "clash_db"])


def test_a_quiet_copy_needs_no_tqdm_and_a_shown_one_says_how_to_get_it(tmp_path, shm_dir):
    db = str(tmp_path / "schemas.db")
    names = make_source(db, "notqdm", rows=50)
    script = (
        "import sys; sys.modules['tqdm'] = None\n"  # as if tqdm were not installed
        "from covec import MilvusClient, _transfer\n"
        f"source, target = MilvusClient({db!r}), MilvusClient({str(tmp_path)!r} + '/' + sys.argv[1] + '.db')\n"
        f"_transfer.copy(source, target, [{names[0]!r}], quiet=sys.argv[1] == 'quiet')\n"
        f"print(target.query({names[0]!r}, filter='', output_fields=['count(*)'])[0]['count(*)'])\n"
    )
    quiet = subprocess.run([sys.executable, "-c", script, "quiet"], capture_output=True, text=True, timeout=300)
    assert (quiet.returncode, quiet.stdout) == (0, "50\n"), quiet.stderr
    shown = subprocess.run([sys.executable, "-c", script, "shown"], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 1
    assert 'the progress bar needs tqdm: pip install "covec[milvus]" (or pass --quiet)' in shown.stderr
