//! Tokens to the syntax tree. Precedence, loosest first: `or`/`||`, `and`/`&&`, prefix `not`/`!`,
//! comparisons (`== != < <= > >=`, `in`, `not in`, `like`, `is [not] null`; left-associative, so
//! `1 < a < 45` parses and then fails the type check), `+ -`, `* / %`, unary `-`, `[...]` access.
//!
//! Nesting is capped at `MAX_DEPTH` so hostile input cannot overflow the stack: every parenthesis,
//! prefix operator, call and list, and every link of an arithmetic or comparison chain counts one
//! level (`and`/`or` chains are flat lists and count once). 64 levels is far beyond hand-written
//! filters and keeps a parse within about 1 MiB of stack even in unoptimised builds (a parenthesis
//! costs a dozen recursive frames there), so it is safe on 2 MiB threads.

use crate::error::Result;

use super::lexer::{tokenize, Tok, Token};
use super::{error_at, template, ArithOp, CmpOp, Expr, ExprKind, Params, PathStep};

pub const MAX_DEPTH: usize = 64;

/// Parses `src`, its `{name}` placeholders replaced by the values in `params` (a filter template).
pub(super) fn parse(src: &str, params: &Params) -> Result<Expr> {
    let tokens = template::substitute(tokenize(src)?, params, src)?;
    if tokens.len() == 1 {
        return Err(error_at("empty filter expression".into(), 1, src));
    }
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
    };
    let expr = p.or()?;
    p.expect_end()?;
    Ok(expr)
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

fn keyword(tok: &Tok, word: &str) -> bool {
    matches!(tok, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
}

const KEYWORDS: [&str; 9] = [
    "and", "or", "not", "in", "like", "is", "null", "exists", "between",
];

impl<'s> Parser<'s> {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `pos` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)].tok
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn err<T>(&self, message: String, column: usize) -> Result<T> {
        Err(error_at(message, column, self.src))
    }

    fn unexpected<T>(&self) -> Result<T> {
        let t = self.peek();
        self.err(format!("unexpected token '{}'", t.tok.describe()), t.column)
    }

    fn expect(&mut self, tok: Tok, context: &str) -> Result<()> {
        if self.peek().tok == tok {
            self.bump();
            Ok(())
        } else {
            let t = self.peek();
            self.err(
                format!(
                    "{context}: expected '{}', found '{}'",
                    tok.describe(),
                    t.tok.describe()
                ),
                t.column,
            )
        }
    }

    fn expect_end(&self) -> Result<()> {
        if self.peek().tok == Tok::Eof {
            Ok(())
        } else {
            self.unexpected()
        }
    }

    /// Takes one nesting level; the caller gives it back with `leave`.
    fn enter(&mut self, column: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(
                format!("expression nests deeper than {MAX_DEPTH} levels"),
                column,
            );
        }
        Ok(())
    }

    fn leave(&mut self, levels: usize) {
        self.depth -= levels;
    }

    fn or(&mut self) -> Result<Expr> {
        self.chain(true)
    }

    fn and(&mut self) -> Result<Expr> {
        self.chain(false)
    }

    /// `or` (when `is_or`) or `and` chains, flattened into one list.
    fn chain(&mut self, is_or: bool) -> Result<Expr> {
        let first = if is_or { self.and()? } else { self.not()? };
        let mut items = vec![first];
        let column = items[0].column;
        loop {
            let t = &self.peek().tok;
            let more = if is_or {
                *t == Tok::OrOr || keyword(t, "or")
            } else {
                *t == Tok::AndAnd || keyword(t, "and")
            };
            if !more {
                break;
            }
            self.bump();
            items.push(if is_or { self.and()? } else { self.not()? });
        }
        if items.len() == 1 {
            return Ok(items.remove(0));
        }
        let kind = if is_or {
            ExprKind::Or(items)
        } else {
            ExprKind::And(items)
        };
        Ok(Expr { kind, column })
    }

    fn not(&mut self) -> Result<Expr> {
        let t = self.peek().clone();
        if t.tok == Tok::Bang || keyword(&t.tok, "not") {
            self.bump();
            self.enter(t.column)?;
            let operand = self.not()?;
            self.leave(1);
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(operand)),
                column: t.column,
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr> {
        let mut lhs = self.additive()?;
        let mut levels = 0;
        loop {
            let t = self.peek().clone();
            let op = match &t.tok {
                Tok::Eq => Some(CmpOp::Eq),
                Tok::Ne => Some(CmpOp::Ne),
                Tok::Lt => Some(CmpOp::Lt),
                Tok::Le => Some(CmpOp::Le),
                Tok::Gt => Some(CmpOp::Gt),
                Tok::Ge => Some(CmpOp::Ge),
                _ => None,
            };
            let kind = if let Some(op) = op {
                self.bump();
                self.enter(t.column)?;
                levels += 1;
                let rhs = self.additive()?;
                ExprKind::Cmp(op, Box::new(lhs), Box::new(rhs))
            } else if keyword(&t.tok, "in")
                || (keyword(&t.tok, "not") && keyword(self.peek_at(1), "in"))
            {
                let negated = keyword(&t.tok, "not");
                self.bump();
                if negated {
                    self.bump();
                }
                self.enter(t.column)?;
                levels += 1;
                let list = self.list()?;
                ExprKind::In {
                    lhs: Box::new(lhs),
                    list,
                    negated,
                }
            } else if keyword(&t.tok, "like") {
                self.bump();
                self.enter(t.column)?;
                levels += 1;
                let pattern = match self.bump() {
                    Token {
                        tok: Tok::Str(s), ..
                    } => s,
                    other => {
                        return self.err(
                            format!(
                                "'like' needs a quoted pattern, found '{}'",
                                other.tok.describe()
                            ),
                            other.column,
                        )
                    }
                };
                ExprKind::Like {
                    lhs: Box::new(lhs),
                    pattern,
                }
            } else if keyword(&t.tok, "is") {
                self.bump();
                let negated = keyword(&self.peek().tok, "not");
                if negated {
                    self.bump();
                }
                if !keyword(&self.peek().tok, "null") {
                    let n = self.peek();
                    return self.err(
                        format!(
                            "expected 'null' after 'is{}', found '{}'",
                            if negated { " not" } else { "" },
                            n.tok.describe()
                        ),
                        n.column,
                    );
                }
                self.bump();
                self.enter(t.column)?;
                levels += 1;
                ExprKind::IsNull {
                    operand: Box::new(lhs),
                    negated,
                }
            } else {
                break;
            };
            lhs = Expr {
                kind,
                column: t.column,
            };
        }
        self.leave(levels);
        Ok(lhs)
    }

    fn additive(&mut self) -> Result<Expr> {
        self.arith(true)
    }

    /// `+ -` chains (when `additive`) or `* / %` chains, left-associative.
    fn arith(&mut self, additive: bool) -> Result<Expr> {
        let mut lhs = if additive {
            self.arith(false)?
        } else {
            self.unary()?
        };
        let mut levels = 0;
        loop {
            let t = self.peek().clone();
            let op = match (&t.tok, additive) {
                (Tok::Plus, true) => ArithOp::Add,
                (Tok::Minus, true) => ArithOp::Sub,
                (Tok::Star, false) => ArithOp::Mul,
                (Tok::Slash, false) => ArithOp::Div,
                (Tok::Percent, false) => ArithOp::Mod,
                _ => break,
            };
            self.bump();
            self.enter(t.column)?;
            levels += 1;
            let rhs = if additive {
                self.arith(false)?
            } else {
                self.unary()?
            };
            lhs = Expr {
                kind: ExprKind::Arith(op, Box::new(lhs), Box::new(rhs)),
                column: t.column,
            };
        }
        self.leave(levels);
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr> {
        let t = self.peek().clone();
        if t.tok != Tok::Minus {
            return self.postfix();
        }
        self.bump();
        self.enter(t.column)?;
        let operand = self.unary()?;
        self.leave(1);
        // Fold negative literals so lists such as [-1, 2] stay literal.
        let kind = match operand.kind {
            ExprKind::Int(i) => match i.checked_neg() {
                Some(n) => ExprKind::Int(n),
                None => return self.err(format!("integer -({i}) is out of range"), t.column),
            },
            ExprKind::Float(f) => ExprKind::Float(-f),
            other => ExprKind::Neg(Box::new(Expr {
                kind: other,
                column: operand.column,
            })),
        };
        Ok(Expr {
            kind,
            column: t.column,
        })
    }

    fn postfix(&mut self) -> Result<Expr> {
        let mut base = self.primary()?;
        let mut levels = 0;
        while self.peek().tok == Tok::LBracket {
            let open = self.bump();
            self.enter(open.column)?;
            levels += 1;
            let key = self.bump();
            let step = match key.tok {
                Tok::Str(s) => PathStep::Key(s),
                Tok::Int(i) => PathStep::Index(i),
                other => {
                    return self.err(
                        format!(
                            "expected a quoted key or an integer index inside [...], found '{}'",
                            other.describe()
                        ),
                        key.column,
                    )
                }
            };
            self.expect(Tok::RBracket, "index")?;
            base = Expr {
                kind: ExprKind::Index(Box::new(base), step),
                column: open.column,
            };
        }
        self.leave(levels);
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr> {
        let t = self.bump();
        let column = t.column;
        let kind = match t.tok {
            Tok::Int(i) => ExprKind::Int(i),
            Tok::Float(f) => ExprKind::Float(f),
            Tok::Str(s) => ExprKind::Str(s),
            Tok::LParen => {
                self.enter(column)?;
                let inner = self.or()?;
                self.expect(Tok::RParen, "parenthesis")?;
                self.leave(1);
                return Ok(inner);
            }
            Tok::Ident(name) => return self.name(name, column),
            other => return self.err(format!("unexpected token '{}'", other.describe()), column),
        };
        Ok(Expr { kind, column })
    }

    /// An identifier in operand position: a literal keyword, `exists`, a call, or a name.
    fn name(&mut self, name: String, column: usize) -> Result<Expr> {
        let lower = name.to_ascii_lowercase();
        if let ("iso" | "interval", Tok::Str(text)) = (lower.as_str(), &self.peek().tok) {
            let text = text.clone();
            self.bump();
            let kind = if lower == "iso" {
                ExprKind::Iso(text)
            } else {
                ExprKind::Interval(text)
            };
            return Ok(Expr { kind, column });
        }
        let kind = match lower.as_str() {
            "true" => ExprKind::Bool(true),
            "false" => ExprKind::Bool(false),
            "exists" => {
                self.enter(column)?;
                let operand = self.postfix()?;
                self.leave(1);
                ExprKind::Exists(Box::new(operand))
            }
            _ if self.peek().tok == Tok::LParen => {
                self.bump();
                self.enter(column)?;
                let args = self.args()?;
                self.leave(1);
                ExprKind::Call { name, args }
            }
            _ if KEYWORDS.contains(&lower.as_str()) => {
                return self.err(format!("unexpected token '{name}'"), column)
            }
            _ if name == "$meta" => ExprKind::Meta,
            _ if name.starts_with('$') => {
                return self.err(
                    format!("unknown name '{name}'; the only $-name is $meta"),
                    column,
                )
            }
            _ => ExprKind::Field(name),
        };
        Ok(Expr { kind, column })
    }

    /// Call arguments after '(': expressions or list literals, up to ')'.
    fn args(&mut self) -> Result<Vec<Expr>> {
        let mut args = Vec::new();
        if self.peek().tok == Tok::RParen {
            self.bump();
            return Ok(args);
        }
        loop {
            if self.peek().tok == Tok::LBracket {
                let column = self.peek().column;
                let items = self.list()?;
                args.push(Expr {
                    kind: ExprKind::List(items),
                    column,
                });
            } else {
                args.push(self.or()?);
            }
            match self.bump() {
                Token {
                    tok: Tok::Comma, ..
                } => continue,
                Token {
                    tok: Tok::RParen, ..
                } => return Ok(args),
                other => {
                    return self.err(
                        format!(
                            "function arguments: expected ',' or ')', found '{}'",
                            other.tok.describe()
                        ),
                        other.column,
                    )
                }
            }
        }
    }

    /// `[a, b, ...]` (a trailing comma is allowed).
    fn list(&mut self) -> Result<Vec<Expr>> {
        let open = self.peek().column;
        self.expect(Tok::LBracket, "list")?;
        self.enter(open)?;
        let mut items = Vec::new();
        loop {
            if self.peek().tok == Tok::RBracket {
                self.bump();
                break;
            }
            items.push(self.additive()?);
            match self.bump() {
                Token {
                    tok: Tok::Comma, ..
                } => {}
                Token {
                    tok: Tok::RBracket, ..
                } => break,
                other => {
                    return self.err(
                        format!(
                            "list: expected ',' or ']', found '{}'",
                            other.tok.describe()
                        ),
                        other.column,
                    )
                }
            }
        }
        self.leave(1);
        Ok(items)
    }
}
