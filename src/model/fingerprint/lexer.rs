//! The fingerprint's byte-level lexer: where each token of a statement starts and ends, and
//! what kind it is (a word, a quoted identifier, a value, punctuation), under one dialect's
//! lexical rules. It allocates nothing but the token list it is given.

use super::{Dialect, is_spaced_keyword};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Keyword or unquoted identifier (written lower-cased).
    Word,
    /// A quoted identifier (written verbatim).
    Quoted,
    /// A literal or a parameter.
    Value,
    Open,
    Close,
    Comma,
    Dot,
    /// Any other operator or punctuation run.
    Op,
}

/// A token: its kind and where its text is in the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) kind: Kind,
    /// How many values a [`Kind::Value`] token stands for: a run `v, v, v` is lexed as one
    /// token (from the first value's start to the last one's end), so that a list of a million
    /// ids costs one token, not two million; the writer writes it out again where it does not
    /// fold. 1 for every other token.
    pub(super) values: u32,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Token {
    pub(super) fn new(kind: Kind, start: usize, end: usize) -> Token {
        Token {
            kind,
            values: 1,
            start,
            end,
        }
    }

    /// A token of punctuation the writer adds (its text is not read).
    pub(super) fn punct(kind: Kind) -> Token {
        Token::new(kind, 0, 0)
    }

    pub(super) fn text<'s>(&self, sql: &'s str) -> &'s str {
        &sql[self.start..self.end]
    }

    /// An unquoted word equal to `word` (lower case) in any case.
    pub(super) fn is_word(&self, sql: &str, word: &str) -> bool {
        self.kind == Kind::Word && self.text(sql).eq_ignore_ascii_case(word)
    }
}

pub(super) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Appends the tokens of `sql` to `tokens`; true when any was a parameter placeholder.
pub(super) fn lex(sql: &str, dialect: Dialect, tokens: &mut Vec<Token>) -> bool {
    let mysql = dialect == Dialect::Mysql;
    let s = sql.as_bytes();
    let mut placeholders = false;
    let mut i = 0;
    while i < s.len() {
        let start = i;
        // Where the token's text is, when not all of what was read (a backquoted name).
        let mut name = None;
        let b = s[i];
        let next = s.get(i + 1).copied();
        let kind = match b {
            _ if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if next == Some(b'-') => {
                i = memchr::memchr(b'\n', &s[i..]).map_or(s.len(), |n| i + n);
                continue;
            }
            b'#' if mysql => {
                i = memchr::memchr(b'\n', &s[i..]).map_or(s.len(), |n| i + n);
                continue;
            }
            b'/' if next == Some(b'*') => {
                i = skip_block_comment(s, i);
                continue;
            }
            b';' => {
                i += 1;
                continue;
            }
            b'\'' => {
                i = skip_quoted(s, i, b'\'', mysql);
                Kind::Value
            }
            b'"' if mysql => {
                i = skip_quoted(s, i, b'"', true);
                Kind::Value
            }
            b'`' if mysql => {
                i = skip_quoted(s, i, b'`', false);
                // A backquoted plain name is the name (MySQL's digests quote every name).
                let closed = i >= start + 2 && s[i - 1] == b'`';
                let inside = if closed {
                    &s[start + 1..i - 1]
                } else {
                    &[][..]
                };
                if !inside.is_empty() && inside.iter().all(|&c| is_word_byte(c)) {
                    name = Some((start + 1, i - 1));
                    Kind::Word
                } else {
                    Kind::Quoted
                }
            }
            b'"' | b'`' => {
                i = skip_quoted(s, i, b, false);
                Kind::Quoted
            }
            b'$' if next.is_some_and(|n| n.is_ascii_digit()) => {
                i += 1;
                while i < s.len() && s[i].is_ascii_digit() {
                    i += 1;
                }
                placeholders = true;
                Kind::Value
            }
            b'$' => match dollar_quote_end(s, i) {
                Some(end) => {
                    i = end;
                    Kind::Value
                }
                None => {
                    i += 1;
                    Kind::Op
                }
            },
            b'?' => {
                i += 1;
                placeholders = true;
                Kind::Value
            }
            b':' if next == Some(b':') => {
                i += 2;
                Kind::Op
            }
            // `:name`, and `:1` where a value may stand (not an array slice's `1:2`).
            b':' if next.is_some_and(|n| n.is_ascii_alphabetic() || n == b'_')
                || next.is_some_and(|n| n.is_ascii_digit()) && value_may_follow(tokens, sql) =>
            {
                i += 1;
                while i < s.len() && is_word_byte(s[i]) {
                    i += 1;
                }
                placeholders = true;
                Kind::Value
            }
            // SQL Server's `@p1` and `@name` (never MySQL's `@@system_variable`).
            b'@' if next.is_some_and(|n| n.is_ascii_alphabetic() || n == b'_') => {
                i += 1;
                while i < s.len() && is_word_byte(s[i]) {
                    i += 1;
                }
                placeholders = true;
                Kind::Value
            }
            // Python DB-API's `%s` and `%(name)s` (psycopg's `%b` and `%t` too) where a value
            // may stand, never the modulo operator (`a %s` is `a` modulo `s`).
            b'%' if value_may_follow(tokens, sql)
                && let Some(end) = pyformat_end(s, i) =>
            {
                i = end;
                placeholders = true;
                Kind::Value
            }
            b'0'..=b'9' => {
                i = skip_number(s, i);
                Kind::Value
            }
            b'.' if next.is_some_and(|n| n.is_ascii_digit()) => {
                i = skip_number(s, i);
                Kind::Value
            }
            // A sign, not an addition or a subtraction: `+ -4121`, `= -1`, `(-2`, `, +3` fold
            // with the number.
            b'-' | b'+'
                if next.is_some_and(|n| n.is_ascii_digit() || n == b'.')
                    && value_may_follow(tokens, sql) =>
            {
                i = skip_number(s, i + 1);
                Kind::Value
            }
            b'(' => {
                i += 1;
                Kind::Open
            }
            b')' => {
                i += 1;
                Kind::Close
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            // MySQL's digests write a folded list as `(...)`.
            b'.' if s[i..].starts_with(b"...") => {
                i += 3;
                Kind::Value
            }
            b'.' => {
                i += 1;
                Kind::Dot
            }
            _ if is_word_byte(b) => {
                while i < s.len() && is_word_byte(s[i]) {
                    i += 1;
                }
                let word = &s[start..i];
                let is = |w: &str| word.eq_ignore_ascii_case(w.as_bytes());
                // Prefixed string literals: E'…' (backslash escapes), X'…', B'…', N'…', U&'…'.
                if s.get(i) == Some(&b'\'') && (is("e") || is("x") || is("b") || is("n")) {
                    i = skip_quoted(s, i, b'\'', mysql || is("e"));
                    Kind::Value
                } else if is("u") && s.get(i) == Some(&b'&') && s.get(i + 1) == Some(&b'\'') {
                    i = skip_quoted(s, i + 1, b'\'', false);
                    Kind::Value
                } else if is("true") || is("false") {
                    // Constants, as pg_stat_statements normalizes them.
                    Kind::Value
                } else if is("null")
                    && !tokens
                        .last()
                        .is_some_and(|t| t.is_word(sql, "is") || t.is_word(sql, "not"))
                {
                    Kind::Value
                } else if is("asc") {
                    continue;
                } else {
                    Kind::Word
                }
            }
            _ => {
                i += 1;
                while i < s.len()
                    && b"+-*/<>=~!@#%^&|".contains(&s[i])
                    && !(s[i] == b'-' && s.get(i + 1) == Some(&b'-'))
                    && !(s[i] == b'/' && s.get(i + 1) == Some(&b'*'))
                    && !(mysql && s[i] == b'#')
                {
                    i += 1;
                }
                Kind::Op
            }
        };
        match tokens.as_mut_slice() {
            [.., run, comma]
                if kind == Kind::Value
                    && run.kind == Kind::Value
                    && comma.kind == Kind::Comma
                    && run.values < u32::MAX =>
            {
                run.values += 1;
                run.end = i;
                tokens.pop();
            }
            _ => {
                let (from, to) = name.unwrap_or((start, i));
                tokens.push(Token::new(kind, from, to));
            }
        }
    }
    placeholders
}

/// Where a parameter may stand: after an operator, an opening parenthesis, a comma or a
/// keyword, or at the start.
fn value_may_follow(tokens: &[Token], sql: &str) -> bool {
    tokens.last().is_none_or(|t| match t.kind {
        Kind::Op | Kind::Open | Kind::Comma => true,
        Kind::Word => {
            is_spaced_keyword(t.text(sql)) || t.is_word(sql, "limit") || t.is_word(sql, "offset")
        }
        _ => false,
    })
}

/// The end of a pyformat placeholder at `start` (a `%`): `%s`, `%b`, `%t` or `%(name)s`, not
/// followed by a word character.
fn pyformat_end(s: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if s.get(i) == Some(&b'(') {
        i += 1 + s[i + 1..].iter().position(|&b| b == b')')?;
        i += 1;
    }
    if !matches!(s.get(i), Some(b's' | b'b' | b't')) {
        return None;
    }
    i += 1;
    (!s.get(i).copied().is_some_and(is_word_byte)).then_some(i)
}

/// End of a quoted run starting at `start` (the opening quote); a doubled quote is an escaped
/// quote, and with `backslash` so is `\'`. An unterminated run ends the input.
fn skip_quoted(s: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < s.len() {
        if backslash && s[i] == b'\\' {
            i += 2;
        } else if s[i] == quote {
            if s.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    s.len()
}

/// Block comments nest in PostgreSQL.
fn skip_block_comment(s: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < s.len() {
        if s[i] == b'/' && s[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if s[i] == b'*' && s[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    s.len()
}

/// `$tag$ … $tag$`: the end of the literal, or None when `$` does not open one.
fn dollar_quote_end(s: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
        i += 1;
    }
    if s.get(i) != Some(&b'$') {
        return None;
    }
    let tag = &s[start..=i];
    let body = i + 1;
    let close = memchr::memmem::find(&s[body..], tag).map_or(s.len(), |n| body + n + tag.len());
    Some(close)
}

fn skip_number(s: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < s.len() {
        let b = s[i];
        let exponent_sign = (b == b'+' || b == b'-')
            && matches!(s[i - 1], b'e' | b'E')
            && !s[start..i].starts_with(b"0x");
        if !(b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || exponent_sign) {
            break;
        }
        i += 1;
    }
    i
}
