//! `multi_analyzer_params`: several analyzers for one text field, chosen per row by the value of another VARCHAR
//! field (`by_field`), and per search by `analyzer_name`.
//!
//! ```json
//! {"analyzers": {"english": {"type": "english"}, "chinese": {"type": "chinese"}, "default": {}},
//!  "by_field": "language",
//!  "alias": {"en": "english", "cn": "chinese"}}
//! ```

use std::collections::HashMap;

use serde_json::Value;

use super::params::{check_keys, describe, object, parse_json};
use super::Analyzer;
use crate::error::{Error, Result};

const DEFAULT: &str = "default";

#[derive(Clone, Debug)]
pub struct MultiAnalyzer {
    by_field: String,
    analyzers: HashMap<String, Analyzer>,
    alias: HashMap<String, String>,
}

impl MultiAnalyzer {
    /// Reads `multi_analyzer_params`. `analyzers` (each an `analyzer_params`, one named `default`) and `by_field`
    /// are required; `alias` maps other names onto analyzer names, each of which must exist. Whether `by_field`
    /// names a VARCHAR field of the collection is the schema's check, not this one.
    pub fn from_params(params: &Value) -> Result<MultiAnalyzer> {
        let map = object(params, "multi_analyzer_params")?;
        check_keys(
            map,
            &["analyzers", "by_field", "alias"],
            "multi_analyzer_params",
        )?;
        let by_field = match map.get("by_field") {
            Some(Value::String(field)) => field.clone(),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "multi_analyzer_params \"by_field\" must be a field name, got {}",
                    describe(other)
                )))
            }
            None => {
                return Err(Error::invalid(
                    "multi_analyzer_params needs \"by_field\", the VARCHAR field whose value names each row's analyzer",
                ))
            }
        };
        let listed = map.get("analyzers").ok_or_else(|| {
            Error::invalid(
                "multi_analyzer_params needs \"analyzers\": {name: analyzer_params, ...}",
            )
        })?;
        let mut analyzers = HashMap::new();
        for (name, params) in object(listed, "multi_analyzer_params \"analyzers\"")? {
            let analyzer = Analyzer::from_params(params).map_err(|e| {
                Error::invalid(format!("multi_analyzer_params analyzer {name:?}: {e}"))
            })?;
            analyzers.insert(name.clone(), analyzer);
        }
        if !analyzers.contains_key(DEFAULT) {
            return Err(Error::invalid(
                "multi_analyzer_params \"analyzers\" needs one named \"default\", for rows whose language names no \
                 analyzer",
            ));
        }
        let mut alias = HashMap::new();
        if let Some(listed) = map.get("alias") {
            for (name, target) in object(listed, "multi_analyzer_params \"alias\"")? {
                let target = target.as_str().ok_or_else(|| {
                    Error::invalid(format!(
                        "multi_analyzer_params alias {name:?} must name an analyzer, got {}",
                        describe(target)
                    ))
                })?;
                if !analyzers.contains_key(target) {
                    let mut names: Vec<&str> = analyzers.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    return Err(Error::invalid(format!(
                        "multi_analyzer_params alias {name:?} names analyzer {target:?}, which is not in \
                         \"analyzers\" ({})",
                        names.join(", ")
                    )));
                }
                alias.insert(name.clone(), target.to_owned());
            }
        }
        Ok(MultiAnalyzer {
            by_field,
            analyzers,
            alias,
        })
    }

    /// [`MultiAnalyzer::from_params`] over JSON text.
    pub fn from_json(params: &str) -> Result<MultiAnalyzer> {
        MultiAnalyzer::from_params(&parse_json(params, "multi_analyzer_params")?)
    }

    /// The field whose value picks each row's analyzer.
    pub fn by_field(&self) -> &str {
        &self.by_field
    }

    /// The analyzer for a row whose `by_field` holds `language` (or a search's `analyzer_name`): an alias is
    /// resolved first, then the analyzer of that name; a missing value or an unknown name gets `default`.
    pub fn analyzer(&self, language: Option<&str>) -> &Analyzer {
        language
            .map(|name| self.alias.get(name).map_or(name, String::as_str))
            .and_then(|name| self.analyzers.get(name))
            // from_params made sure `default` exists.
            .unwrap_or_else(|| &self.analyzers[DEFAULT])
    }
}
