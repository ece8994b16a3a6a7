#!/usr/bin/env bash
# Writes a golden db file with the covec of an old commit, through client/tests/golden_support/mod.rs (the same
# `golden::write` the test checks against), so each format version's file is what that version really wrote.
#   client/tests/data/golden/write-with-old-covec.sh <commit> <file name> <flat|ann>
# `flat`: the commit's covec predates approximate indexes (IndexKind has only Flat); `ann`: it has HNSW and HNSW_SQ.
# Both build schemas by struct literal, as every covec before catalog revision 3 defines them.
# The file of the current version is written by `COVEC_WRITE_GOLDEN=<file> cargo test -p covec --test golden -- --ignored`.
set -euo pipefail
commit=$1 file=$2 kinds=$3
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$work/covec" >/dev/null 2>&1; rm -rf "$work"' EXIT
git -C "$repo" worktree add -q --detach "$work/covec" "$commit"
mkdir -p "$work/gen/src"
cat > "$work/gen/Cargo.toml" <<TOML
[package]
name = "golden-gen"
version = "0.1.0"
edition = "2021"
[features]
ann = []
[dependencies]
covec = { path = "$work/covec/client" }
serde_json = "1"
[workspace]
TOML
cat > "$work/gen/src/main.rs" <<RUST
#[path = "$repo/client/tests/golden_support/mod.rs"]
mod golden;
use covec::{CollectionSchema, DataType, FieldSchema, IndexKind};
fn field(name: &str, dtype: DataType) -> FieldSchema {
    FieldSchema { name: name.into(), dtype, description: String::new(), is_primary: false, auto_id: false,
                  max_length: None, dim: None, nullable: false, default_value: None }
}
fn schema(fields: Vec<FieldSchema>, description: &str, enable_dynamic_field: bool) -> CollectionSchema {
    CollectionSchema { fields, description: description.into(), enable_dynamic_field }
}
#[cfg(feature = "ann")]
const KINDS: (IndexKind, IndexKind) = (IndexKind::Hnsw, IndexKind::HnswSq8);
#[cfg(not(feature = "ann"))]
const KINDS: (IndexKind, IndexKind) = (IndexKind::Flat, IndexKind::Flat);
fn main() {
    let path = std::env::args().nth(1).expect("path");
    let version = golden::Version { hnsw: KINDS.0, hnsw_sq8: KINDS.1, field, schema };
    golden::write(std::path::Path::new(&path), &version).unwrap();
}
RUST
features=()
[ "$kinds" = ann ] && features=(--features ann)
[ -e "$here/$file" ] && { echo "$here/$file exists; golden files never change" >&2; exit 1; }
(cd "$work/gen" && cargo run -q --release "${features[@]}" -- "$here/$file")
echo "wrote $here/$file with covec at $(git -C "$repo" rev-parse --short "$commit")"
