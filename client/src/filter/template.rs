//! Filter templates (Milvus's `filter_params`): each `{name}` placeholder token is replaced by the
//! tokens of its value before parsing, so `city in {cities}` with `["a", "b"]` parses as
//! `city in ["a", "b"]`. A number, a string, a bool or a list of them (nested lists too) is a value;
//! a placeholder without one is an error naming it.

use serde_json::Value as Json;

use super::lexer::{Tok, Token};
use super::{error_at, Params};
use crate::error::Result;

/// `tokens` with every placeholder replaced by its value's tokens (at the placeholder's column).
pub(super) fn substitute(tokens: Vec<Token>, params: &Params, src: &str) -> Result<Vec<Token>> {
    if !tokens.iter().any(|t| matches!(t.tok, Tok::Placeholder(_))) {
        return Ok(tokens);
    }
    let mut out = Vec::with_capacity(tokens.len());
    for token in tokens {
        let Tok::Placeholder(name) = &token.tok else {
            out.push(token);
            continue;
        };
        let value = params.get(name).ok_or_else(|| {
            error_at(
                format!("placeholder {{{name}}} has no value; give it in filter_params, e.g. filter_params={{\"{name}\": ...}}"),
                token.column,
                src,
            )
        })?;
        push_value(&mut out, value, name, token.column, src)?;
    }
    Ok(out)
}

fn push_value(
    out: &mut Vec<Token>,
    value: &Json,
    name: &str,
    column: usize,
    src: &str,
) -> Result<()> {
    let mut push = |tok| out.push(Token { tok, column });
    match value {
        Json::Bool(b) => push(Tok::Ident(b.to_string())),
        Json::Number(n) => match n.as_i64() {
            Some(i) => push(Tok::Int(i)),
            None => push(Tok::Float(n.as_f64().ok_or_else(|| {
                error_at(format!("the value of {{{name}}} is out of range"), column, src)
            })?)),
        },
        Json::String(s) => push(Tok::Str(s.clone())),
        Json::Array(items) => {
            out.push(Token {
                tok: Tok::LBracket,
                column,
            });
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(Token {
                        tok: Tok::Comma,
                        column,
                    });
                }
                push_value(out, item, name, column, src)?;
            }
            out.push(Token {
                tok: Tok::RBracket,
                column,
            });
        }
        Json::Null | Json::Object(_) => {
            return Err(error_at(
                format!("the value of {{{name}}} must be a number, a string, a bool or a list of them, got {value}"),
                column,
                src,
            ))
        }
    }
    Ok(())
}
