//! The 62 expressions of the Milvus Lite probe (reference §4), over the same four rows, plus errors,
//! precedence, null logic, nesting limits and a never-panics property.
//!
//! covec has no ARRAY, TEXT, TIMESTAMPTZ or GEOMETRY types, so `tags` and `nums` are JSON fields
//! holding arrays, and the ISO/INTERVAL and ST_* rows must fail with a clear message.

use std::collections::HashMap;

use covec::internals::filter::{compile, parse, ExprKind, MAX_DEPTH};
use covec::internals::rowview::{RowFilter, RowView, ValueRef};
use covec::internals::text::Analyzer;
use covec::{CollectionSchema, DataType, Error, FieldSchema, Filter};
use proptest::prelude::*;

#[derive(Clone)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'static str),
    Json(&'static str),
}

#[derive(Clone)]
struct TestRow {
    cells: HashMap<&'static str, Cell>,
    dynamic: Option<&'static str>,
    /// The answers to the filter's text queries for this row (the engine reads them from match indexes).
    text: Vec<bool>,
}

impl RowView for TestRow {
    fn value(&self, field: &str) -> ValueRef<'_> {
        match self.cells.get(field) {
            None | Some(Cell::Null) => ValueRef::Null,
            Some(Cell::Bool(b)) => ValueRef::Bool(*b),
            Some(Cell::Int(i)) => ValueRef::Int(*i),
            Some(Cell::Float(f)) => ValueRef::Float(*f),
            Some(Cell::Str(s)) => ValueRef::Str(s),
            Some(Cell::Json(j)) => ValueRef::Json(j),
        }
    }

    fn dynamic(&self) -> Option<&str> {
        self.dynamic
    }

    fn text_match(&self, i: usize) -> bool {
        self.text[i]
    }
}

fn field(name: &str, dtype: DataType, nullable: bool) -> FieldSchema {
    let mut f = FieldSchema::new(name, dtype);
    f.is_primary = name == "id";
    f.dim = (dtype == DataType::FloatVector).then_some(2);
    f.nullable = nullable;
    if dtype == DataType::VarChar {
        f.type_params = vec![
            ("enable_analyzer".into(), "true".into()),
            ("enable_match".into(), "true".into()),
        ];
    }
    f
}

fn schema(dynamic: bool) -> CollectionSchema {
    use DataType::*;
    CollectionSchema::new(
        vec![
            field("id", Int64, false),
            field("age", Int64, false),
            field("name", VarChar, false),
            field("flag", Bool, false),
            field("score", Double, false),
            field("meta", Json, true),
            field("tags", Json, false),
            field("nums", Json, false),
            field("opt", Int64, true),
            field("text", VarChar, false),
            field("v", FloatVector, false),
        ],
        "",
        dynamic,
    )
}

fn rows() -> Vec<TestRow> {
    #[allow(clippy::type_complexity)]
    let data: [(
        i64,
        &str,
        bool,
        f64,
        Option<&str>,
        &str,
        &str,
        Option<i64>,
        &str,
        &str,
    ); 4] = [
        (
            20,
            "Alice",
            true,
            1.5,
            Some(r#"{"k":1,"sub":{"z":5},"arr":[1,2],"s":"xy"}"#),
            r#"["a","b"]"#,
            "[1,2,3]",
            Some(10),
            "machine learning",
            r#"{"color":"red"}"#,
        ),
        (
            30,
            "Bob",
            false,
            2.5,
            Some(r#"{"k":2,"arr":[3]}"#),
            r#"["b"]"#,
            "[4]",
            None,
            "deep nets",
            r#"{"color":"blue","size":3}"#,
        ),
        (
            40,
            "Carol",
            true,
            3.5,
            None,
            "[]",
            "[]",
            Some(7),
            "cooking",
            r#"{"color":"red","size":9}"#,
        ),
        (
            50,
            "al_x%",
            false,
            0.5,
            Some(r#"{"k":null,"s":"y"}"#),
            r#"["c","a"]"#,
            "[5,6]",
            None,
            "Machine vision",
            "{}",
        ),
    ];
    data.iter()
        .enumerate()
        .map(
            |(i, &(age, name, flag, score, meta, tags, nums, opt, text, dynamic))| {
                let mut cells = HashMap::new();
                cells.insert("id", Cell::Int(i as i64 + 1));
                cells.insert("age", Cell::Int(age));
                cells.insert("name", Cell::Str(name));
                cells.insert("flag", Cell::Bool(flag));
                cells.insert("score", Cell::Float(score));
                cells.insert("meta", meta.map_or(Cell::Null, Cell::Json));
                cells.insert("tags", Cell::Json(tags));
                cells.insert("nums", Cell::Json(nums));
                cells.insert("opt", opt.map_or(Cell::Null, Cell::Int));
                cells.insert("text", Cell::Str(text));
                TestRow {
                    cells,
                    dynamic: Some(dynamic),
                    text: Vec::new(),
                }
            },
        )
        .collect()
}

fn ids(expr: &str) -> Vec<i64> {
    let schema = schema(true);
    let p = compile(expr, &schema).unwrap_or_else(|e| panic!("{expr}: {e}"));
    rows()
        .into_iter()
        .enumerate()
        .filter(|(_, r)| {
            // What the engine's match indexes answer: the query judged against the row's analyzed text.
            let text = p
                .text_queries()
                .iter()
                .map(
                    |q| match r.cells.get(schema.fields[q.field].name.as_str()) {
                        Some(Cell::Str(s)) => {
                            q.query.matches_tokens(&Analyzer::standard().tokens(s))
                        }
                        _ => false,
                    },
                )
                .collect();
            p.matches(&TestRow { text, ..r.clone() })
        })
        .map(|(i, _)| i as i64 + 1)
        .collect()
}

/// The error's message and column, for an expression that must fail.
fn fails(expr: &str, schema: &CollectionSchema) -> (String, usize) {
    match compile(expr, schema) {
        Err(Error::Filter {
            message,
            column,
            expr: text,
        }) => {
            assert_eq!(text, expr);
            (message, column)
        }
        Err(other) => panic!("{expr}: wrong error kind {other:?}"),
        Ok(_) => panic!("{expr}: compiled, expected an error"),
    }
}

fn fails_with(expr: &str, needle: &str) -> usize {
    let (message, column) = fails(expr, &schema(true));
    assert!(
        message.contains(needle),
        "{expr}: message {message:?} lacks {needle:?}"
    );
    column
}

#[test]
fn reference_rows_1_to_16_comparisons_logic_lists_like_arithmetic() {
    assert_eq!(ids("id == 1"), [1]);
    assert_eq!(ids("id != 1"), [2, 3, 4]);
    assert_eq!(ids("age >= 30 and age <= 40"), [2, 3]);
    assert_eq!(ids("age < 30 or age > 45"), [1, 4]);
    assert_eq!(ids("not (age > 25)"), [1]);
    assert_eq!(ids("!(age > 25)"), [1]);
    assert_eq!(ids("age > 25 && flag == true"), [3]);
    assert_eq!(ids("id in [1, 3]"), [1, 3]);
    assert_eq!(ids("id not in [1, 3]"), [2, 4]);
    assert_eq!(ids(r#"name in ["Alice", "Bob"]"#), [1, 2]);
    assert_eq!(ids(r#"name like "Al%""#), [1]);
    assert_eq!(ids(r#"name like "%o%""#), [2, 3]);
    assert_eq!(ids(r#"name like "_ob""#), [2]);
    // Row 12: Milvus Lite rejects escapes; covec reads \_ and \% as literal characters.
    assert_eq!(ids(r#"name like "al\_x\%""#), [4]);
    assert_eq!(ids(r#"name like "al_x_""#), [4]);
    assert_eq!(ids("flag"), [1, 3]);
    assert_eq!(ids("score == 1.5"), [1]);
    assert_eq!(ids("score > 1e0"), [1, 2, 3]);
    assert_eq!(ids("age + 5 > 40"), [3, 4]);
    assert_eq!(ids("age * 2 == 80"), [3]);
    assert_eq!(ids("age / 2 == 10"), [1]);
    // `/` divides as floats, as Milvus Lite does: 30 / 4 is 7.5, not 7.
    assert_eq!(ids("age / 4 == 7.5"), [2]);
    assert_eq!(ids("age / 4 == 7"), Vec::<i64>::new());
    assert_eq!(ids("age / 0 == 1"), Vec::<i64>::new());
    assert_eq!(ids("age - 1 == 19"), [1]);
    assert_eq!(ids("-age < -30"), [3, 4]);
}

#[test]
fn reference_rows_17_to_20_modulo_power_chains_field_pairs() {
    // Row 17: `%` is a covec extension (Milvus Lite: unexpected character).
    assert_eq!(ids("age % 20 == 0"), [1, 3]);
    assert_eq!(fails_with("age ** 2 > 100", "unexpected token '*'"), 6);
    let col = fails_with(
        "1 < age < 45",
        "comparison '<' between incompatible types: left side is bool, right side is int",
    );
    assert_eq!(col, 9);
    assert_eq!(ids("age > score"), [1, 2, 3, 4]);
}

#[test]
fn reference_rows_21_to_31_json() {
    assert_eq!(ids(r#"meta["k"] == 1"#), [1]);
    assert_eq!(ids(r#"meta["k"] > 0"#), [1, 2]);
    assert_eq!(ids(r#"meta["sub"]["z"] == 5"#), [1]);
    assert_eq!(ids(r#"meta["arr"][0] == 1"#), [1]);
    assert_eq!(ids(r#"meta["k"] is null"#), [3, 4]);
    assert_eq!(ids("meta is null"), [3]);
    assert_eq!(ids("meta is not null"), [1, 2, 4]);
    assert_eq!(ids(r#"exists meta["sub"]"#), [1]);
    assert_eq!(ids(r#"meta["s"] like "x%""#), [1]);
    // Row 27: Milvus Lite rejects a JSON path before `in`; the Milvus server (and covec) accept it.
    assert_eq!(ids(r#"meta["s"] in ["x", "y"]"#), [4]);
    assert_eq!(ids(r#"meta["k"] == "1""#), Vec::<i64>::new());
    assert_eq!(ids(r#"meta["k"] + 1 == 2"#), [1]);
    assert_eq!(ids(r#"json_contains(meta["arr"], 3)"#), [2]);
    assert_eq!(ids(r#"JSON_CONTAINS(meta["arr"], 1)"#), [1]);
    assert_eq!(ids(r#"json_contains_all(meta["arr"], [1,2])"#), [1]);
    assert_eq!(ids(r#"json_contains_any(meta["arr"], [2,3])"#), [1, 2]);
}

#[test]
fn reference_rows_32_to_37_arrays() {
    assert_eq!(ids(r#"array_contains(tags, "a")"#), [1, 4]);
    assert_eq!(ids("ARRAY_CONTAINS(nums, 4)"), [2]);
    assert_eq!(ids(r#"array_contains_all(tags, ["a","b"])"#), [1]);
    assert_eq!(ids(r#"array_contains_any(tags, ["c","z"])"#), [4]);
    assert_eq!(ids("array_length(tags) == 0"), [3]);
    assert_eq!(ids("array_length(nums) >= 2"), [1, 4]);
    // Row 35: accepted by covec (Milvus Lite: expected ')').
    assert_eq!(ids(r#"array_length(meta["arr"]) == 2"#), [1]);
    assert_eq!(ids(r#"tags[0] == "a""#), [1]);
    assert_eq!(ids("nums[1] > 1"), [1, 4]);
    assert_eq!(fails_with("nums == [1,2,3]", "unexpected token '['"), 9);
    assert_eq!(fails_with(r#"tags == ["b"]"#, "unexpected token '['"), 9);
    // No object literals: a brace opens a template placeholder (covec follows the server here).
    assert_eq!(
        fails_with(r#"meta == {"k":1}"#, "a template placeholder is {name}"),
        9
    );
}

#[test]
fn reference_rows_38_to_44_nulls_and_dynamic_fields() {
    assert_eq!(ids("opt is null"), [2, 4]);
    assert_eq!(ids("opt IS NULL"), [2, 4]);
    assert_eq!(ids("opt is not null"), [1, 3]);
    assert_eq!(ids("opt > 5"), [1, 3]);
    assert_eq!(ids("opt != 10"), [3]);
    assert_eq!(fails_with("opt == null", "unexpected token 'null'"), 8);
    assert_eq!(ids(r#"color == "red""#), [1, 3]);
    assert_eq!(ids(r#"$meta["color"] == "red""#), [1, 3]);
    assert_eq!(ids("size > 5"), [3]);
    assert_eq!(ids(r#"exists $meta["size"]"#), [2, 3]);
    assert_eq!(ids("exists color"), [1, 2, 3]);
    assert_eq!(ids("color is null"), [4]);
    assert_eq!(ids("unknown_field == 1"), Vec::<i64>::new());
    assert_eq!(ids("AGE > 1"), Vec::<i64>::new());
    assert_eq!(ids("name == Alice"), Vec::<i64>::new());
    let (message, column) = fails("zzz == 1", &schema(false));
    assert_eq!(column, 1);
    assert!(message.starts_with("unknown field 'zzz'"), "{message}");
    assert!(message.contains("'age', 'flag', 'id'"), "{message}");
}

#[test]
fn reference_rows_45_to_51_text_time_geometry() {
    assert_eq!(ids("text_match(text, 'machine')"), [1, 4]);
    assert_eq!(ids("text_match(text, 'machine deep')"), [1, 2, 4]);
    assert_eq!(ids("text_match(name, 'Alice')"), [1]);
    assert_eq!(ids("phrase_match(text, 'machine learning')"), [1]);
    assert_eq!(
        ids("phrase_match(text, 'learning machine', 3)"),
        Vec::<i64>::new()
    );
    assert_eq!(ids("phrase_match(text, 'MACHINE')"), [1, 4]);
    fails_with("text_match(age, 'x')", "must be a VARCHAR field");
    fails_with("phrase_match(text, 'a b', -1)", "slop");
    // `ts` is a dynamic key in this schema: an ISO literal compares only with a TIMESTAMPTZ field.
    fails_with(
        r#"ts > ISO "2025-03-01T00:00:00Z""#,
        "right side is timestamptz",
    );
    fails_with(
        r#"ts < ISO "2025-03-01T00:00:00Z" + INTERVAL "P1D""#,
        "timestamptz",
    );
    fails_with(
        "ST_WITHIN(geo, 'POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))')",
        "GEOMETRY",
    );
    fails_with("ST_ISVALID(geo)", "GEOMETRY");
}

#[test]
fn reference_rows_52_to_62_edges_and_errors() {
    assert_eq!(ids("id in []"), Vec::<i64>::new());
    assert_eq!(ids(""), [1, 2, 3, 4]);
    assert_eq!(ids("   "), [1, 2, 3, 4]);
    // Lite has no templates; covec has the server's (filter_params), so the placeholder wants a value.
    assert_eq!(fails_with("age > {a}", "placeholder {a} has no value"), 7);
    assert_eq!(fails_with("age = 20", "did you mean '=='?"), 5);
    assert_eq!(fails_with("age <> 20", "did you mean '!='?"), 5);
    for expr in [r#"age == "20""#, "name > 5", "flag == 1"] {
        fails_with(expr, "between incompatible types");
    }
    assert_eq!(
        fails("age == \"20\"", &schema(true)).0,
        "comparison '==' between incompatible types: left side is int (field 'age'), right side is string"
    );
    fails_with("age between 1 and 5", "unexpected token 'between'");
    assert_eq!(
        fails_with(
            r#"age in [1, "x"]"#,
            "list elements must be of compatible types, got int and string"
        ),
        12
    );
    assert_eq!(fails_with("score < 0xFF", "unexpected token 'xFF'"), 10);
    fails_with("random_sample(0.5)", "unknown function 'random_sample'");
    assert_eq!(ids("id == 1.0"), [1]);
    assert_eq!(ids("NOT id == 1"), [2, 3, 4]);
    assert_eq!(ids(r#"name != "Alice" and not flag"#), [2, 4]);
}

#[test]
fn null_is_unknown_and_not_unknown_stays_unknown() {
    // opt is null in rows 2 and 4: neither the comparison nor its negation matches them.
    assert_eq!(ids("not (opt > 5)"), Vec::<i64>::new());
    assert_eq!(ids("opt > 5 or id == 2"), [1, 2, 3]);
    // Row 4: unknown and false is false, so its negation is true; row 2: unknown and true is unknown.
    assert_eq!(ids("not (opt > 5 and id == 2)"), [1, 3, 4]);
    assert_eq!(ids("opt not in [10]"), [3]);
    assert_eq!(ids(r#"not (meta["k"] == 1)"#), [2]);
    // Division by zero is unknown, not an error or a crash.
    assert_eq!(ids("age / 0 == 1"), Vec::<i64>::new());
    assert_eq!(ids("not (age / 0 == 1)"), Vec::<i64>::new());
}

#[test]
fn precedence_and_associativity() {
    // and binds tighter than or; not tighter than and; arithmetic tighter than comparison.
    assert_eq!(ids("id == 1 or id == 2 and flag"), [1]);
    assert_eq!(ids("(id == 1 or id == 2) and flag"), [1]);
    assert_eq!(ids("not flag and age > 40"), [4]);
    assert_eq!(ids("age - 10 - 10 == 0"), [1]);
    assert_eq!(ids("age + 10 * 2 == 40"), [1]);
    assert_eq!(ids("(age + 10) * 2 == 100"), [3]);
    assert_eq!(ids("age / 4 * 4 == 20"), [1]);
    assert_eq!(ids("- -age == 20"), [1]);
    assert_eq!(ids("flag == TRUE"), [1, 3]);
    assert_eq!(ids("flag == False"), [2, 4]);
    // Field names are case-sensitive: FLAG is a (missing) dynamic key, as in Milvus.
    assert_eq!(ids("FLAG == true"), Vec::<i64>::new());
    match parse("a or b or c and d").map(|e| e.kind) {
        Ok(ExprKind::Or(items)) => {
            assert_eq!(items.len(), 3);
            assert!(matches!(items[2].kind, ExprKind::And(_)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn literals_and_escapes() {
    assert_eq!(ids(r#"name == 'Bob'"#), [2]);
    assert_eq!(ids(r#"name == "Bo\x""#.replace("\\x", "b").as_str()), [2]);
    assert_eq!(
        ids(r#"text == "deep\tnets" or name == "Al\"ice""#),
        Vec::<i64>::new()
    );
    assert_eq!(ids("score == 15e-1"), [1]);
    assert_eq!(ids("score > 2.5E0"), [3]);
    fails_with(r#"name == "a\q""#, "unknown escape sequence \\q");
    assert_eq!(fails_with("name == 'abc", "unterminated string literal"), 9);
    fails_with("id == 99999999999999999999", "out of range");
}

#[test]
fn type_errors_name_the_operands() {
    fails_with(
        "age",
        "a filter must be a boolean expression, got int (field 'age')",
    );
    fails_with(
        "age like 'a%'",
        "'like' needs a string, got int (field 'age')",
    );
    fails_with("name + 1 > 2", "arithmetic '+' needs numbers");
    fails_with("flag < true", "incompatible types");
    fails_with(
        "age[0] == 1",
        "only ARRAY and JSON fields, dynamic keys and $meta can be indexed",
    );
    fails_with("exists age", "'exists' needs a JSON path");
    fails_with("v is null", "FLOAT_VECTOR");
    fails_with(
        "array_contains(age, 1)",
        "needs an ARRAY field or a JSON array",
    );
    fails_with("json_contains_all(tags, 1)", "must be a list");
    fails_with("age in ['x']", "'in' between incompatible types");
    fails_with("id in [age]", "only literals");
    let (message, column) = fails("$meta['k'] == 1", &schema(false));
    assert!(message.contains("enable_dynamic_field"), "{message}");
    assert_eq!(column, 1);
}

#[test]
fn nesting_is_capped_without_overflowing_the_stack() {
    let deep = format!("{}id == 1{}", "(".repeat(10_000), ")".repeat(10_000));
    fails_with(&deep, "nests deeper than");
    fails_with(
        &format!("{}flag", "not ".repeat(10_000)),
        "nests deeper than",
    );
    fails_with(
        &format!("{}age > 0", "-".repeat(10_000)),
        "nests deeper than",
    );
    fails_with(
        &format!("age{} > 0", " + 1".repeat(10_000)),
        "nests deeper than",
    );
    // Within the cap, deep expressions work.
    let ok = MAX_DEPTH - 10;
    let nested = format!("{}id == 1{}", "(".repeat(ok), ")".repeat(ok));
    assert_eq!(ids(&nested), [1]);
    // Long and/or chains are flat, so they are not limited by the cap.
    let wide = vec!["id == 3"; 5_000].join(" or ");
    assert_eq!(ids(&wide), [3]);
}

#[test]
fn deep_filters_fit_a_small_thread_stack_even_in_debug_builds() {
    let run = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for n in [MAX_DEPTH, MAX_DEPTH + 1, 10_000] {
                let expr = format!("{}id == 1{}", "(".repeat(n), ")".repeat(n));
                let _ = parse(&expr);
                if let Ok(p) = compile(&expr, &schema(true)) {
                    assert!(p.matches(&rows()[0]));
                }
            }
        })
        .map(|h| h.join().is_ok());
    assert!(matches!(run, Ok(true)));
}

/// Rows `filter` with its template values matches (1-based).
fn ids_with(expr: &str, params: serde_json::Value) -> Vec<i64> {
    let params = params.as_object().cloned().unwrap_or_default();
    let p = compile(Filter::new(expr, &params), &schema(true))
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    rows()
        .iter()
        .enumerate()
        .filter(|(_, r)| p.matches(*r))
        .map(|(i, _)| i as i64 + 1)
        .collect()
}

#[test]
fn templates_match_as_the_literals_written_in_place() {
    use serde_json::json;
    for (template, params, literal) in [
        ("age > {a}", json!({"a": 25}), "age > 25"),
        ("score <= {s}", json!({"s": 2.5}), "score <= 2.5"),
        (
            "name in {names} and flag == {f}",
            json!({"names": ["alice", "bob"], "f": true}),
            r#"name in ["alice", "bob"] and flag == true"#,
        ),
        ("name like {p}", json!({"p": "a%"}), r#"name like "a%""#),
        (
            "json_contains_any(tags, {t})",
            json!({"t": ["x", "y"]}),
            r#"json_contains_any(tags, ["x", "y"])"#,
        ),
        (
            "id == {a} or id == {a} + 1",
            json!({"a": 2}),
            "id == 2 or id == 2 + 1",
        ),
    ] {
        assert_eq!(ids_with(template, params), ids(literal), "{template}");
    }
    // Extra values are allowed (Milvus ignores them too).
    assert_eq!(
        ids_with("age > {a}", json!({"a": 25, "b": 1})),
        ids("age > 25")
    );
}

#[test]
fn a_placeholder_without_a_usable_value_is_refused_at_its_column() {
    use serde_json::json;
    let refused = |expr: &str, params: serde_json::Value| {
        let params = params.as_object().cloned().unwrap_or_default();
        match compile(Filter::new(expr, &params), &schema(true)) {
            Err(Error::Filter {
                message, column, ..
            }) => (message, column),
            other => panic!("{expr}: {other:?}"),
        }
    };
    let (m, c) = refused("age > 1 and name == {who}", json!({}));
    assert!(
        m.contains("placeholder {who} has no value; give it in filter_params"),
        "{m}"
    );
    assert_eq!(c, 21);
    let (m, _) = refused("age in {a}", json!({"a": {"x": 1}}));
    assert!(
        m.contains("must be a number, a string, a bool or a list"),
        "{m}"
    );
    let (m, _) = refused("age == {a}", json!({"a": null}));
    assert!(m.contains("got null"), "{m}");
    let (m, c) = refused("age > {a b}", json!({"a": 1}));
    assert!(m.contains("a template placeholder is {name}"), "{m}");
    assert_eq!(c, 7);
    // A value is a value: text never becomes syntax.
    assert_eq!(
        ids_with("name == {n}", json!({"n": "x\" or 1 == 1 or \"y"})),
        Vec::<i64>::new()
    );
}

#[test]
fn error_display_points_at_the_column() {
    let e = compile("age = 1", &schema(true))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("unexpected character '='; did you mean '=='? at column 5\n  age = 1\n      ^")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_and_compile_never_panic_on_arbitrary_text(s in "\\PC{0,80}") {
        let _ = parse(&s);
        let _ = compile(&s, &schema(true));
    }

    #[test]
    fn parse_and_compile_never_panic_on_filter_like_text(
        s in r#"([a-z_$\[\]()"'0-9.%<>=!&|+*/ -]|and |or |not |in |like |is |null |exists ){0,40}"#
    ) {
        let _ = parse(&s);
        if let Ok(p) = compile(&s, &schema(true)) {
            for row in rows() {
                let _ = p.matches(&row);
            }
        }
    }
}

/// Counts how often the row's JSON sources are fetched.
struct CountingRow {
    inner: TestRow,
    fetches: std::cell::Cell<usize>,
}

impl RowView for CountingRow {
    fn value(&self, field: &str) -> ValueRef<'_> {
        let v = self.inner.value(field);
        if matches!(v, ValueRef::Json(_)) {
            self.fetches.set(self.fetches.get() + 1);
        }
        v
    }

    fn dynamic(&self) -> Option<&str> {
        self.fetches.set(self.fetches.get() + 1);
        self.inner.dynamic()
    }

    fn text_match(&self, i: usize) -> bool {
        self.inner.text_match(i)
    }
}

#[test]
fn json_is_fetched_only_when_needed_and_once_per_row() {
    let count = |expr: &str| {
        let p = compile(expr, &schema(true)).expect("compiles");
        let row = CountingRow {
            inner: rows().remove(0),
            fetches: std::cell::Cell::new(0),
        };
        p.matches(&row);
        row.fetches.get()
    };
    assert_eq!(count("age > 1 and name like 'A%'"), 0);
    assert_eq!(
        count(r#"meta["k"] == 2 or meta["arr"][1] == 2 or meta["s"] == "q""#),
        1
    );
    assert_eq!(count(r#"color == "blue" or size > 1 or meta["k"] == 0"#), 2);
}
