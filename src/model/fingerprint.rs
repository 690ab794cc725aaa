//! The one SQL normalization used for statements from every source (trace spans now; database
//! logs and pg_stat_statements next), so that the same statement gets the same fingerprint
//! wherever it was recorded.
//!
//! A byte-level lexer, not a parser: literals (quoted, `E'…'`, `X'…'`, `B'…'`, dollar-quoted),
//! numbers and parameters (`$1`, `?`, `:name`) become `?`; `IN (…)` lists and repeated `VALUES`
//! tuples fold to one; comments are removed; keywords and unquoted identifiers fold to lower
//! case; quoted identifiers keep their case; whitespace folds to the spacing the output rules
//! give. The id is FNV-1a 64 of the normalized text: stable across versions and platforms.

use super::{SpanId, TraceId};

/// A normalized statement and its stable 64-bit id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The normalized text.
    pub text: String,
    /// FNV-1a 64 of `text`.
    pub id: u64,
    /// The statement has parameter placeholders (`$1`, `?`, `:name`), so its text alone does not
    /// tell its arguments.
    pub has_placeholders: bool,
}

/// Fingerprints one SQL statement.
pub fn fingerprint(sql: &str) -> Fingerprint {
    let (tokens, has_placeholders) = lex(sql);
    let text = join(&fold_lists(tokens));
    let id = fnv1a64(text.as_bytes());
    Fingerprint {
        text,
        id,
        has_placeholders,
    }
}

/// The trace context of a sqlcommenter comment (`/*traceparent='00-<trace>-<span>-01'*/`), when
/// the statement carries one. The fingerprint drops it with the other comments.
pub fn trace_context(sql: &str) -> Option<(TraceId, SpanId)> {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"traceparent="));
    let at = FINDER.find(sql.as_bytes())?;
    let value = sql[at + "traceparent=".len()..].trim_start_matches(['\'', '"']);
    let value = value.strip_prefix("00-")?;
    let b = value.as_bytes();
    if b.len() < 49 || b[32] != b'-' {
        return None;
    }
    let mut trace = [0u8; 16];
    let mut span = [0u8; 8];
    hex_into(&b[..32], &mut trace)?;
    hex_into(&b[33..49], &mut span)?;
    (trace != [0; 16] && span != [0; 8]).then_some((TraceId(trace), SpanId(span)))
}

fn hex_into(hex: &[u8], out: &mut [u8]) -> Option<()> {
    fn nibble(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(())
}

/// FNV-1a, 64 bits.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_of(bytes.iter().copied())
}

/// FNV-1a, 64 bits, of bytes that need not be in one buffer.
pub fn fnv1a64_of(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Keyword or unquoted identifier, lower-cased; or a quoted identifier, verbatim.
    Word(String),
    /// A literal or a parameter.
    Value,
    Open,
    Close,
    Comma,
    Dot,
    /// Any other operator or punctuation run.
    Op(String),
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The tokens, and whether any was a parameter placeholder.
fn lex(sql: &str) -> (Vec<Token>, bool) {
    let s = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut placeholders = false;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        let next = s.get(i + 1).copied();
        match b {
            _ if b.is_ascii_whitespace() => i += 1,
            b'-' if next == Some(b'-') => {
                i = memchr::memchr(b'\n', &s[i..]).map_or(s.len(), |n| i + n)
            }
            b'/' if next == Some(b'*') => i = skip_block_comment(s, i),
            b'\'' => {
                i = skip_quoted(s, i, b'\'', false);
                tokens.push(Token::Value);
            }
            b'"' | b'`' => {
                let end = skip_quoted(s, i, b, false);
                tokens.push(Token::Word(sql[i..end].to_string()));
                i = end;
            }
            b'$' if next.is_some_and(|n| n.is_ascii_digit()) => {
                i += 1;
                while i < s.len() && s[i].is_ascii_digit() {
                    i += 1;
                }
                tokens.push(Token::Value);
                placeholders = true;
            }
            b'$' => match dollar_quote_end(s, i) {
                Some(end) => {
                    i = end;
                    tokens.push(Token::Value);
                }
                None => {
                    tokens.push(Token::Op("$".into()));
                    i += 1;
                }
            },
            b'?' => {
                tokens.push(Token::Value);
                placeholders = true;
                i += 1;
            }
            b':' if next == Some(b':') => {
                tokens.push(Token::Op("::".into()));
                i += 2;
            }
            b':' if next.is_some_and(|n| n.is_ascii_alphabetic() || n == b'_') => {
                i += 1;
                while i < s.len() && is_word_byte(s[i]) {
                    i += 1;
                }
                tokens.push(Token::Value);
                placeholders = true;
            }
            b'0'..=b'9' => {
                i = skip_number(s, i);
                tokens.push(Token::Value);
            }
            // A sign, not a subtraction: `+ -4121`, `= -1`, `(-2`, `, -3` fold with the number.
            b'-' if next.is_some_and(|n| n.is_ascii_digit())
                && match tokens.last() {
                    None | Some(Token::Op(_) | Token::Open | Token::Comma) => true,
                    Some(Token::Word(w)) => is_spaced_keyword(w),
                    _ => false,
                } =>
            {
                i = skip_number(s, i + 1);
                tokens.push(Token::Value);
            }
            b'.' if next.is_some_and(|n| n.is_ascii_digit()) => {
                i = skip_number(s, i);
                tokens.push(Token::Value);
            }
            b'(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            b',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            b'.' => {
                tokens.push(Token::Dot);
                i += 1;
            }
            b';' => i += 1,
            _ if is_word_byte(b) => {
                let start = i;
                while i < s.len() && is_word_byte(s[i]) {
                    i += 1;
                }
                let word = &sql[start..i];
                // Prefixed string literals: E'…' (backslash escapes), X'…', B'…', N'…', U&'…'.
                if s.get(i) == Some(&b'\'')
                    && matches!(word.to_ascii_lowercase().as_str(), "e" | "x" | "b" | "n")
                {
                    i = skip_quoted(s, i, b'\'', word.eq_ignore_ascii_case("e"));
                    tokens.push(Token::Value);
                } else if word.eq_ignore_ascii_case("u")
                    && s.get(i) == Some(&b'&')
                    && s.get(i + 1) == Some(&b'\'')
                {
                    i = skip_quoted(s, i + 1, b'\'', false);
                    tokens.push(Token::Value);
                } else if word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false") {
                    // Constants, as pg_stat_statements normalizes them.
                    tokens.push(Token::Value);
                } else {
                    tokens.push(Token::Word(word.to_ascii_lowercase()));
                }
            }
            _ => {
                let start = i;
                i += 1;
                while i < s.len()
                    && b"+-*/<>=~!@#%^&|".contains(&s[i])
                    && !(s[i] == b'-' && s.get(i + 1) == Some(&b'-'))
                    && !(s[i] == b'/' && s.get(i + 1) == Some(&b'*'))
                {
                    i += 1;
                }
                tokens.push(Token::Op(sql[start..i].to_string()));
            }
        }
    }
    (tokens, placeholders)
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

/// `IN (?, ?, …)` becomes `IN (?)`; `VALUES (…), (…), …` keeps its first tuple.
fn fold_lists(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        out.push(t.clone());
        i += 1;
        let Token::Word(w) = t else { continue };
        if w == "in" && tokens.get(i) == Some(&Token::Open) {
            let mut j = i + 1;
            while tokens.get(j) == Some(&Token::Value)
                && matches!(tokens.get(j + 1), Some(Token::Comma) | Some(Token::Close))
            {
                j += 1;
                if tokens.get(j) == Some(&Token::Close) {
                    out.extend([Token::Open, Token::Value, Token::Close]);
                    i = j + 1;
                    break;
                }
                j += 1;
            }
        } else if w == "values" {
            let Some(first_end) = tuple_end(&tokens, i) else {
                continue;
            };
            out.extend_from_slice(&tokens[i..first_end]);
            i = first_end;
            while tokens.get(i) == Some(&Token::Comma) {
                match tuple_end(&tokens, i + 1) {
                    Some(end) => i = end,
                    None => break,
                }
            }
        }
    }
    out
}

/// The index after the balanced parenthesized group starting at `start`.
fn tuple_end(tokens: &[Token], start: usize) -> Option<usize> {
    if tokens.get(start) != Some(&Token::Open) {
        return None;
    }
    let mut depth = 0usize;
    for (k, t) in tokens.iter().enumerate().skip(start) {
        match t {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    return Some(k + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn join(tokens: &[Token]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Token> = None;
    for (i, t) in tokens.iter().enumerate() {
        let names_table = i >= 2
            && matches!(&tokens[i - 2], Token::Word(w) if matches!(w.as_str(), "into" | "table" | "update"));
        let tight = match (prev, t) {
            (None, _) => true,
            (Some(Token::Open | Token::Dot), _) => true,
            (_, Token::Close | Token::Comma | Token::Dot) => true,
            (Some(Token::Op(op)), _) if op == "::" => true,
            (_, Token::Op(op)) if op == "::" => true,
            // A function call or a typed column list: `count(*)`, `t (a, b)` stays `t (a, b)`.
            (Some(Token::Word(w)), Token::Open) => !is_spaced_keyword(w) && !names_table,
            _ => false,
        };
        if !tight {
            out.push(' ');
        }
        match t {
            Token::Word(w) | Token::Op(w) => out.push_str(w),
            Token::Value => out.push('?'),
            Token::Open => out.push('('),
            Token::Close => out.push(')'),
            Token::Comma => out.push(','),
            Token::Dot => out.push('.'),
        }
        prev = Some(t);
    }
    out
}

/// Keywords after which `(` opens a list or subquery rather than a call.
fn is_spaced_keyword(w: &str) -> bool {
    matches!(
        w,
        "in" | "values"
            | "copy"
            | "from"
            | "join"
            | "where"
            | "and"
            | "or"
            | "not"
            | "exists"
            | "as"
            | "on"
            | "select"
            | "into"
            | "set"
            | "using"
            | "any"
            | "all"
            | "union"
            | "when"
            | "then"
            | "else"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(s: &str) -> String {
        fingerprint(s).text
    }

    #[test]
    fn literals_numbers_and_parameters_fold() {
        assert_eq!(
            fp("SELECT * FROM users WHERE id = 42 AND name = 'bob'"),
            "select * from users where id = ? and name = ?"
        );
        assert_eq!(
            fp("select * from users where id = $1"),
            "select * from users where id = ?"
        );
        assert_eq!(
            fp("select * from users where id = ?"),
            "select * from users where id = ?"
        );
        assert_eq!(
            fp("select * from t where a = :name and b = 1.5e-3"),
            "select * from t where a = ? and b = ?"
        );
        assert_eq!(
            fp("select E'it\\'s', X'ff', B'0101', $$body$$, $q$x$q$"),
            "select ?, ?, ?, ?, ?"
        );
        assert_eq!(fp("select 'it''s'"), "select ?");
        assert_eq!(
            fp("update t set b = b + -4121 where id = -1 and x in (-1, 2)"),
            fp("update t set b = b + 4121 where id = 1 and x in (1)")
        );
        assert_eq!(fp("select a-1, a - 2"), "select a - ?, a - ?");
        assert_eq!(
            fp("select f(true) where x = FALSE"),
            "select f(?) where x = ?"
        );
        assert_eq!(fp("copy (select 1) to stdout"), "copy (select ?) to stdout");
        assert_eq!(fp("select 0x1F"), "select ?");
    }

    #[test]
    fn identifiers_keep_digits_and_quoted_case() {
        assert_eq!(
            fp("SELECT t1.col2 FROM \"MyTable\" t1"),
            "select t1.col2 from \"MyTable\" t1"
        );
        assert_eq!(fp("select `Order` from db2.t"), "select `Order` from db2.t");
        assert_eq!(fp("select a::text"), "select a::text");
    }

    #[test]
    fn lists_fold_to_one() {
        let one = fp("select * from t where id in (1)");
        assert_eq!(one, "select * from t where id in (?)");
        assert_eq!(fp("select * from t where id IN (1, 2, 3)"), one);
        assert_eq!(fp("select * from t where id in ($1, $2)"), one);
        // PostgreSQL 18 squashes lists in pg_stat_statements as `IN ($1 /*, ... */)`.
        assert_eq!(fp("select * from t where id in ($1 /*, ... */)"), one);
        assert_eq!(
            fp("insert into t (a, b) values (1, 'x'), (2, 'y'), (3, 'z')"),
            fp("insert into t (a, b) values ($1, $2)")
        );
        assert_eq!(
            fp("insert into t (a, b) values ($1, $2)"),
            "insert into t (a, b) values (?, ?)"
        );
    }

    #[test]
    fn comments_and_whitespace_go() {
        assert_eq!(
            fp("select /* a /* nested */ c */ 1 -- tail\n from   t;"),
            "select ? from t"
        );
        assert_eq!(fp("SELECT\n\tcount(*)\nFROM t"), "select count(*) from t");
    }

    #[test]
    fn unterminated_input_does_not_panic() {
        for s in [
            "select 'abc",
            "select $$abc",
            "select /* abc",
            "select \"abc",
            "select E'\\",
            "$",
            ":",
            "x'",
        ] {
            let _ = fingerprint(s);
        }
    }

    #[test]
    fn placeholders_are_told_from_literals() {
        assert!(fingerprint("select * from t where id = $1").has_placeholders);
        assert!(fingerprint("select * from t where id = :id").has_placeholders);
        assert!(!fingerprint("select * from t where id = 42 and s = 'x'").has_placeholders);
        assert!(!fingerprint("select now()::text").has_placeholders);
    }

    #[test]
    fn sqlcommenter_trace_context_is_read_and_dropped() {
        let sql = "select * from t where id = 1 /*controller='cart',traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/";
        let (trace, span) = trace_context(sql).unwrap();
        assert_eq!(trace.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.to_string(), "00f067aa0ba902b7");
        assert_eq!(fp(sql), "select * from t where id = ?");
        assert_eq!(trace_context("select 1 /*traceparent='00-zz'*/"), None);
        assert_eq!(trace_context("select 1"), None);
    }

    #[test]
    fn id_is_stable() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
