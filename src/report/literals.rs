//! Literals hidden: what a report shows of input text without `--show-literals`. Statements
//! are fingerprinted and URLs templated where they are keys, but input text also reaches a
//! report raw: span names (`GET /login?token=…`, an ORM's `SELECT … 'hunter2'`), the ledger's
//! examples of skipped records, the SQL parser's messages. Every string of the report passes
//! through [`hide`] here, in one place, so that no output (JSON, markdown, terminal, charts,
//! SARIF, the gate's summary; all render from the report) can show a literal: quoted strings
//! become `'?'`, a URL's query becomes `?…`, and the ids in a path (`/cards/4111111111111111`)
//! become `{id}`. Ids, trace ids and file paths are kept.

use super::Report;
use crate::model::op_key::path_template;
use serde_json::Value;

/// The report with its literals hidden; an error (never a report with them shown) should the
/// report not read back, which a number that is not a number would cause.
pub fn hide_in(report: &Report) -> Result<Report, String> {
    let mut value = serde_json::to_value(report).map_err(|e| e.to_string())?;
    walk(&mut value, "");
    serde_json::from_value(value).map_err(|e| format!("hiding the report's literals: {e}"))
}

/// Keys whose strings are not input text that may hold literals: ids, trace ids, file paths,
/// and the report's own prose (a suggestion, a rule).
fn kept(key: &str) -> bool {
    key.ends_with("id")
        || key.ends_with("ids")
        || ["path", "suggestion", "rule", "trace_url"].contains(&key)
}

fn walk(value: &mut Value, key: &str) {
    match value {
        Value::String(s) if !kept(key) => {
            if let std::borrow::Cow::Owned(hidden) = hide(s) {
                *s = hidden;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk(v, key)),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                walk(v, k);
            }
        }
        _ => {}
    }
}

/// `text` with its literals hidden: quoted strings, URL queries, ids in paths.
pub fn hide(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\'', '?', '/']) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['\'', '?', '/']) {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        // An apostrophe after a letter or digit is English (`the database's`), not a quote.
        let opens_quote = !out.ends_with(|c: char| c.is_alphanumeric());
        match rest.as_bytes()[i] {
            b'\'' if !opens_quote => {
                out.push('\'');
                rest = after;
            }
            // A quoted string, to its closing quote ('' inside is a quote), or to the end.
            b'\'' => {
                let mut end = after.len();
                let mut j = 0;
                while let Some(k) = after[j..].find('\'') {
                    let at = j + k;
                    if after[at + 1..].starts_with('\'') {
                        j = at + 2;
                    } else {
                        end = at + 1;
                        break;
                    }
                }
                out.push_str("'?'");
                rest = &after[end.min(after.len())..];
            }
            // A URL query: `?key=…` to the next space.
            b'?' if after
                .split([' ', '&'])
                .next()
                .is_some_and(|p| p.contains('=')) =>
            {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                out.push_str("?…");
                rest = &after[end..];
            }
            b'/' => {
                let end = after
                    .find(|c: char| c.is_whitespace() || c == '?' || c == '\'')
                    .unwrap_or(after.len());
                out.push_str(&path_template(&rest[i..i + 1 + end]));
                rest = &after[end..];
            }
            _ => {
                out.push('?');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if out == text {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_hidden_and_the_rest_kept() {
        for (text, hidden) in [
            (
                "SELECT * FROM users WHERE pw = 'hunter2'",
                "SELECT * FROM users WHERE pw = '?'",
            ),
            ("select 'it''s' as x, 'b'", "select '?' as x, '?'"),
            ("GET /login?token=SECRET&x=1", "GET /login?…"),
            (
                "GET /cards/4111111111111111/charge",
                "GET /cards/{id}/charge",
            ),
            (
                "select id from t where a = ? and b = ?",
                "select id from t where a = ? and b = ?",
            ),
            ("GET /cart/{user_id}", "GET /cart/{user_id}"),
            ("pg-pool.connect", "pg-pool.connect"),
            ("unterminated 'secret", "unterminated '?'"),
            ("line 12: duration: 1 ms", "line 12: duration: 1 ms"),
            (
                "the database's max_connections",
                "the database's max_connections",
            ),
            ("name='x'", "name='?'"),
        ] {
            assert_eq!(hide(text), hidden, "{text}");
        }
    }
}
