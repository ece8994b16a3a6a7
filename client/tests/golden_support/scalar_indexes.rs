//! What a golden file of catalog revision 4 or later holds beyond the data model (`golden_model`): scalar
//! indexes on `tenant.docs`, one named by the user with a parameter, one named after its field. `write` puts
//! them in, `check` reads them back.
//!
//! Compiled only against covec versions that keep scalar indexes (catalog revision 4 on).

use covec::{Db, ScalarIndexSpec, Scope};

use super::golden_model::{DOCS, TENANT};

pub fn expected() -> Vec<ScalarIndexSpec> {
    vec![
        ScalarIndexSpec {
            field: "tag".into(),
            index_name: "tag_inverted".into(),
            index_type: "INVERTED".into(),
            params: vec![("note".into(), "\"golden\"".into())],
        },
        ScalarIndexSpec {
            field: "level".into(),
            index_name: "level".into(),
            index_type: "STL_SORT".into(),
            params: Vec::new(),
        },
    ]
}

pub fn write(db: &Db) -> covec::Result<()> {
    for spec in expected() {
        db.create_scalar_index(Scope::new(TENANT, DOCS), spec)?;
    }
    Ok(())
}

pub fn check(db: &Db, file: &str) {
    let docs = db.describe_collection(Scope::new(TENANT, DOCS)).unwrap();
    assert_eq!(docs.scalar_indexes, expected(), "{file}");
    assert!(docs.indexes.is_empty(), "{file}");
}
