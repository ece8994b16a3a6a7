"""Regenerates jieba_python.jsonl: Python jieba's segmentation (the jieba Milvus Lite runs) of real Chinese text,
which tests/text_oracles.rs compares with covec's jieba tokenizer.

The text: Chinese translations of PostgreSQL's messages (tables, columns, schemas, connections: the vocabulary of
the schema comments covec is asked to search) and of shared-mime-info, psql and apt, from the zh_CN gettext
catalogues Debian installs with postgresql-15, postgresql-client-15, shared-mime-info and libapt-pkg; plus the
Debian package descriptions in ../shared/data that contain Han characters and a few that do not.

Run: python3 -m venv .venv && .venv/bin/pip install jieba==0.42.1 && .venv/bin/python client/tests/data/text/gen_jieba.py
"""

import gettext
import json
import re
import subprocess
import sys
from pathlib import Path

import jieba

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CATALOGUES = [  # (file, how many messages)
    ("/usr/share/locale/zh_CN/LC_MESSAGES/postgres-15.mo", 260),
    ("/usr/share/locale/zh_CN/LC_MESSAGES/psql-15.mo", 60),
    ("/usr/share/locale/zh_CN/LC_MESSAGES/shared-mime-info.mo", 60),
    ("/usr/share/locale/zh_CN/LC_MESSAGES/libapt-pkg6.0.mo", 40),
]
HAN = re.compile("[\u4e00-\u9fff]")


def catalogue_texts(path, count):
    with open(path, "rb") as f:
        catalog = gettext.GNUTranslations(f)._catalog
    keys = sorted((k for k in catalog if isinstance(k, str) and k), key=str)
    texts = [catalog[k] for k in keys if HAN.search(catalog[k])]
    # Every n-th message, so the sample spans the catalogue rather than its first letters.
    step = max(1, len(texts) // count)
    return texts[::step][:count]


def shared_data():
    """../shared/data beside the repository root; from a git worktree, beside the main checkout."""
    common = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--path-format=absolute", "--git-common-dir"],
                            capture_output=True, text=True, check=True).stdout.strip()
    for candidate in (ROOT.parent / "shared" / "data", Path(common).parent.parent / "shared" / "data"):
        if candidate.exists():
            return candidate
    sys.exit("../shared/data not found")


def shared_texts():
    shared = shared_data()
    rows = []
    for name in ("A_base.jsonl", "A_query.jsonl"):
        with open(shared / name, encoding="utf-8") as f:
            rows += [json.loads(line)["text"] for line in f]
    # The few descriptions of tens of thousands of characters would make most of the file; leave them out.
    return [t for t in rows if HAN.search(t) and len(t) <= 2000] + rows[:8]


def tokens(text, mode):
    return [[w, s, e] for w, s, e in jieba.tokenize(text, mode=mode)]


def main():
    jieba.setLogLevel(60)
    out = HERE / "jieba_python.jsonl"
    texts = []
    for path, count in CATALOGUES:
        texts += [(Path(path).stem, t) for t in catalogue_texts(path, count)]
    texts += [("debian-descriptions", t) for t in shared_texts()]
    with open(out, "w", encoding="utf-8") as f:
        meta = {"generator": "gen_jieba.py", "jieba": jieba.__version__, "rows": len(texts)}
        f.write(json.dumps(meta, ensure_ascii=False) + "\n")
        for source, text in texts:
            row = {
                "source": source,
                "text": text,
                "search": tokens(text, "search"),
                "exact": tokens(text, "default"),
            }
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {len(texts)} rows to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
