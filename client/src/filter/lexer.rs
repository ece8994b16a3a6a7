//! Characters to tokens. Columns are 1-based and counted in characters, as error messages show them.

use crate::error::Result;

use super::error_at;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    /// A name or keyword (keywords are recognised case-insensitively by the parser); `$meta` too.
    Ident(String),
    /// `{name}`: a filter template's placeholder, replaced by its value before parsing.
    Placeholder(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Eof,
}

impl Tok {
    /// How the token reads in "unexpected token '...'".
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Int(i) => i.to_string(),
            Tok::Float(f) => f.to_string(),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Ident(s) => s.clone(),
            Tok::Placeholder(s) => format!("{{{s}}}"),
            Tok::Eof => "end of expression".to_string(),
            other => other.symbol().to_string(),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Eq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
            _ => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    pub column: usize,
}

pub(super) fn tokenize(src: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let next = chars.get(i + 1).copied();
        let err = |message: String| error_at(message, column, src);
        let (tok, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            ',' => (Tok::Comma, 1),
            '+' => (Tok::Plus, 1),
            '-' => (Tok::Minus, 1),
            '*' => (Tok::Star, 1),
            '/' => (Tok::Slash, 1),
            '%' => (Tok::Percent, 1),
            '=' if next == Some('=') => (Tok::Eq, 2),
            '=' => return Err(err("unexpected character '='; did you mean '=='?".into())),
            '!' if next == Some('=') => (Tok::Ne, 2),
            '!' => (Tok::Bang, 1),
            '<' if next == Some('=') => (Tok::Le, 2),
            '<' if next == Some('>') => {
                return Err(err("unexpected '<>'; did you mean '!='?".into()))
            }
            '<' => (Tok::Lt, 1),
            '>' if next == Some('=') => (Tok::Ge, 2),
            '>' => (Tok::Gt, 1),
            '&' if next == Some('&') => (Tok::AndAnd, 2),
            '|' if next == Some('|') => (Tok::OrOr, 2),
            '&' | '|' => {
                return Err(err(format!(
                    "unexpected character '{c}'; did you mean '{c}{c}'?"
                )))
            }
            '"' | '\'' => string(&chars, i, src)?,
            '{' => placeholder(&chars, i, src)?,
            c if c.is_ascii_digit() => number(&chars, i, src)?,
            '$' | '_' => ident(&chars, i),
            c if c.is_alphabetic() => ident(&chars, i),
            c => return Err(err(format!("unexpected character '{c}'"))),
        };
        out.push(Token { tok, column });
        i += len;
    }
    out.push(Token {
        tok: Tok::Eof,
        column: chars.len() + 1,
    });
    Ok(out)
}

/// `{name}`, a name of letters, digits and `_`.
fn placeholder(chars: &[char], start: usize, src: &str) -> Result<(Tok, usize)> {
    let mut end = start + 1;
    while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
        end += 1;
    }
    if end == start + 1 || chars.get(end) != Some(&'}') {
        return Err(error_at(
            "a template placeholder is {name}, a name of letters, digits and _ in braces".into(),
            start + 1,
            src,
        ));
    }
    let name = chars[start + 1..end].iter().collect();
    Ok((Tok::Placeholder(name), end + 1 - start))
}

fn ident(chars: &[char], start: usize) -> (Tok, usize) {
    let mut end = start + 1;
    while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
        end += 1;
    }
    (Tok::Ident(chars[start..end].iter().collect()), end - start)
}

/// `123`, `1.5`, `1e3`, `2.5E-2`. A letter right after digits starts a new token, so `0xFF` reads as
/// `0` then `xFF` and fails in the parser, as Milvus reports it.
fn number(chars: &[char], start: usize, src: &str) -> Result<(Tok, usize)> {
    let digits = |mut i: usize| {
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut end = digits(start);
    let mut float = false;
    if end + 1 < chars.len() && chars[end] == '.' && chars[end + 1].is_ascii_digit() {
        end = digits(end + 1);
        float = true;
    }
    if end < chars.len() && matches!(chars[end], 'e' | 'E') {
        let mut exp = end + 1;
        if exp < chars.len() && matches!(chars[exp], '+' | '-') {
            exp += 1;
        }
        if exp < chars.len() && chars[exp].is_ascii_digit() {
            end = digits(exp);
            float = true;
        }
    }
    let text: String = chars[start..end].iter().collect();
    let tok = if float {
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Tok::Float(f),
            _ => {
                return Err(error_at(
                    format!("number {text} is out of range"),
                    start + 1,
                    src,
                ))
            }
        }
    } else {
        match text.parse::<i64>() {
            Ok(i) => Tok::Int(i),
            Err(_) => {
                return Err(error_at(
                    format!("integer {text} is out of range for int64"),
                    start + 1,
                    src,
                ))
            }
        }
    };
    Ok((tok, end - start))
}

/// A quoted string with escapes `\" \' \\ \n \r \t`. `\%` and `\_` are kept as written (backslash
/// included) so that `like` can read them as literal `%` and `_` (a covec extension).
fn string(chars: &[char], start: usize, src: &str) -> Result<(Tok, usize)> {
    let quote = chars[start];
    let mut value = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(error_at(
                    "unterminated string literal".to_string(),
                    start + 1,
                    src,
                ))
            }
            Some(&c) if c == quote => return Ok((Tok::Str(value), i + 1 - start)),
            Some('\\') => {
                let escaped = match chars.get(i + 1) {
                    Some('"') => "\"",
                    Some('\'') => "'",
                    Some('\\') => "\\",
                    Some('n') => "\n",
                    Some('r') => "\r",
                    Some('t') => "\t",
                    Some('%') => "\\%",
                    Some('_') => "\\_",
                    Some(other) => {
                        return Err(error_at(
                            format!("unknown escape sequence \\{other}"),
                            i + 1,
                            src,
                        ))
                    }
                    None => {
                        return Err(error_at(
                            "unterminated string literal".to_string(),
                            start + 1,
                            src,
                        ))
                    }
                };
                value.push_str(escaped);
                i += 2;
            }
            Some(&c) => {
                value.push(c);
                i += 1;
            }
        }
    }
}
