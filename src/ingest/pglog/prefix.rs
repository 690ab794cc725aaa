//! PostgreSQL's `log_line_prefix`: compiled from its `%` escapes into a matcher that takes the
//! session fields out of a line's prefix, and inferred from sample lines when the user did not
//! give it, so that "0 queries because the prefix did not match" cannot happen silently.

use crate::ingest::time::parse_pg_timestamp;

/// The session fields a prefix can carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields<'a> {
    /// `%t`, `%m` or `%n`, ns since the epoch.
    pub time_unix_ns: Option<i64>,
    /// `%p`.
    pub pid: Option<u64>,
    /// `%u`.
    pub user: &'a str,
    /// `%d`.
    pub database: &'a str,
    /// `%a`.
    pub application: &'a str,
    /// `%h` or `%r`.
    pub client: &'a str,
    /// `%Q`.
    pub queryid: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Time,
    EpochMs,
    Pid,
    Number,
    User,
    Database,
    Application,
    Client,
    QueryId,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Literal(String),
    Field(Field),
    /// `%q`: non-session processes stop the prefix here.
    StopIfNoSession,
}

/// A compiled `log_line_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// The prefix as given or inferred.
    pub text: String,
    items: Vec<Item>,
}

impl Prefix {
    /// Compiles a `log_line_prefix` value; errors name an escape it does not know.
    pub fn compile(text: &str) -> Result<Prefix, String> {
        let mut items = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            // Padding such as `%-10u` or `%5p`.
            while chars
                .peek()
                .is_some_and(|c| *c == '-' || c.is_ascii_digit())
            {
                chars.next();
            }
            let Some(escape) = chars.next() else {
                return Err("the prefix ends with a lone %".into());
            };
            let field = match escape {
                '%' => {
                    literal.push('%');
                    continue;
                }
                't' | 'm' => Field::Time,
                'n' => Field::EpochMs,
                'p' => Field::Pid,
                'l' | 'x' | 'P' => Field::Number,
                'u' => Field::User,
                'd' => Field::Database,
                'a' => Field::Application,
                'h' | 'r' | 'L' => Field::Client,
                'Q' => Field::QueryId,
                // `%s`, the session start, is shaped like a time but is not the line's.
                's' | 'c' | 'v' | 'i' | 'e' | 'b' => Field::Other,
                'q' => {
                    if !literal.is_empty() {
                        items.push(Item::Literal(std::mem::take(&mut literal)));
                    }
                    items.push(Item::StopIfNoSession);
                    continue;
                }
                other => return Err(format!("unknown escape %{other}")),
            };
            if !literal.is_empty() {
                items.push(Item::Literal(std::mem::take(&mut literal)));
            }
            items.push(Item::Field(field));
        }
        if !literal.is_empty() {
            items.push(Item::Literal(literal));
        }
        Ok(Prefix {
            text: text.to_string(),
            items,
        })
    }

    /// The fields of `prefix` (the part of a line before its severity), or None when it does
    /// not have this shape. Trailing spaces on either side are ignored.
    pub fn parse<'a>(&self, prefix: &'a str) -> Option<Fields<'a>> {
        let text = prefix;
        let mut fields = Fields::default();
        let mut pos = 0;
        let last = self.items.len();
        for (k, item) in self.items.iter().enumerate() {
            let rest = &text[pos..];
            match item {
                Item::Literal(lit) => {
                    if rest.starts_with(lit.as_str()) {
                        pos += lit.len();
                    } else if rest.trim_end() == lit.trim_end() {
                        pos = text.len();
                    } else {
                        return None;
                    }
                }
                Item::StopIfNoSession => {
                    if rest.trim().is_empty() {
                        return Some(fields);
                    }
                }
                Item::Field(field) => {
                    let len = match field {
                        Field::Time | Field::Other if looks_like_timestamp(rest) => {
                            timestamp_len(rest)
                        }
                        Field::Pid | Field::Number | Field::QueryId => rest
                            .bytes()
                            .enumerate()
                            .take_while(|&(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
                            .count(),
                        Field::EpochMs => rest
                            .bytes()
                            .take_while(|b| b.is_ascii_digit() || *b == b'.')
                            .count(),
                        _ => match self.items.get(k + 1) {
                            Some(Item::Literal(lit)) => {
                                let lit = if k + 2 == last { lit.trim_end() } else { lit };
                                if lit.is_empty() {
                                    rest.trim_end().len()
                                } else {
                                    rest.find(lit)?
                                }
                            }
                            Some(_) => rest.find(' ').unwrap_or(rest.len()),
                            None => rest.trim_end().len(),
                        },
                    };
                    let value = &rest[..len];
                    match field {
                        Field::Time => fields.time_unix_ns = Some(parse_pg_timestamp(value)?),
                        Field::EpochMs => {
                            let ms: f64 = value.parse().ok()?;
                            fields.time_unix_ns = Some((ms * 1e6).round() as i64);
                        }
                        Field::Pid => fields.pid = Some(value.parse().ok()?),
                        Field::Number => {
                            if !value.is_empty() {
                                value.parse::<i64>().ok()?;
                            }
                        }
                        Field::QueryId => fields.queryid = value.parse().ok(),
                        Field::User => fields.user = value,
                        Field::Database => fields.database = value,
                        Field::Application => fields.application = value,
                        Field::Client => fields.client = value,
                        Field::Other => {}
                    }
                    pos += len;
                }
            }
        }
        text[pos..].trim().is_empty().then_some(fields)
    }

    /// A prefix that fits `sample` (the part of a line before its severity), built from the
    /// shapes PostgreSQL prints: timestamps, `[pid]`, `[%l-1]`, `key=value` pairs, `user@db`.
    /// None when some part is not recognized.
    pub fn infer(sample: &str) -> Option<String> {
        let s = sample;
        let mut out = String::new();
        let mut i = 0;
        let mut have_pid = false;
        while i < s.len() {
            let rest = &s[i..];
            if looks_like_timestamp(rest) {
                let len = timestamp_len(rest);
                out.push_str(if rest[..len].contains('.') {
                    "%m"
                } else {
                    "%t"
                });
                i += len;
                continue;
            }
            let b = rest.as_bytes()[0];
            if b.is_ascii_digit()
                || b == b'-' && rest[1..].starts_with(|c: char| c.is_ascii_digit())
            {
                let len = 1 + rest[1..].bytes().take_while(u8::is_ascii_digit).count();
                let after = &rest[len..];
                if after.starts_with('.') {
                    // An IPv4 address, maybe with `(port)`: the client.
                    let n = after
                        .bytes()
                        .take_while(|b| b.is_ascii_digit() || matches!(b, b'.' | b'(' | b')'))
                        .count();
                    out.push_str("%r");
                    i += len + n;
                } else if after.starts_with('-')
                    && after[1..].starts_with(|c: char| c.is_ascii_digit())
                    && out.ends_with('[')
                {
                    let n = 1 + after[1..].bytes().take_while(u8::is_ascii_digit).count();
                    out.push_str("%l");
                    out.push_str(&after[..n]);
                    i += len + n;
                } else if out.ends_with('[') && !have_pid {
                    out.push_str("%p");
                    have_pid = true;
                    i += len;
                } else if out.ends_with('[') {
                    out.push_str("%x");
                    i += len;
                } else {
                    return None;
                }
                continue;
            }
            if rest.starts_with("[local]") {
                out.push_str("%r");
                i += "[local]".len();
                continue;
            }
            if b.is_ascii_alphabetic() || b == b'_' || b == b'@' {
                let word_len = rest
                    .bytes()
                    .take_while(|b| !matches!(b, b' ' | b',' | b']' | b'[' | b'=' | b':' | b'@'))
                    .count();
                let after = &rest[word_len..];
                if let Some(value) = after.strip_prefix('=') {
                    let key = &rest[..word_len];
                    let escape = match key.to_ascii_lowercase().as_str() {
                        "user" | "usr" | "u" => "%u",
                        "db" | "database" | "dbname" | "d" => "%d",
                        "app" | "appli" | "application" | "application_name" | "a" => "%a",
                        "client" | "host" | "remote" | "h" | "r" => "%r",
                        "queryid" | "query_id" | "qid" => "%Q",
                        "session" | "sid" => "%c",
                        "xid" | "txid" | "tx" => "%x",
                        "vxid" => "%v",
                        "pid" => "%p",
                        _ => return None,
                    };
                    out.push_str(key);
                    out.push('=');
                    out.push_str(escape);
                    let value_len = value
                        .bytes()
                        .take_while(|b| !matches!(b, b' ' | b',' | b']'))
                        .count();
                    i += word_len + 1 + value_len;
                    continue;
                }
                if rest.contains('@') {
                    let at = rest.find('@')?;
                    let end = rest[at..]
                        .find([' ', ':', ']', ','])
                        .map_or(rest.len(), |n| at + n);
                    if !rest[..at].contains([' ', ':', '[', ']']) {
                        out.push_str("%u@%d");
                        i += end;
                        continue;
                    }
                }
                // A host or address: letters, digits, dots, colons of IPv6 and `(port)`.
                let len = rest
                    .bytes()
                    .take_while(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'(' | b')' | b'-')
                    })
                    .count();
                if rest[..len].contains('(')
                    || rest[..len].chars().filter(|c| *c == '.').count() == 3
                {
                    out.push_str("%r");
                    i += len;
                    continue;
                }
                return None;
            }
            let c = rest.chars().next()?;
            out.push(c);
            i += c.len_utf8();
        }
        Some(out)
    }
}

/// `YYYY-MM-DD HH:MM:SS[.fff][ ZONE]` at the start of `s`.
/// `YYYY-MM-DD HH:MM:SS` at the start, every digit a digit: so the 19 bytes are ASCII, and
/// slicing after them never cuts a character.
fn looks_like_timestamp(s: &str) -> bool {
    const SHAPE: &[u8; 19] = b"dddd-dd-dd dd:dd:dd";
    s.len() >= SHAPE.len()
        && SHAPE
            .iter()
            .zip(s.as_bytes())
            .all(|(&want, &b)| match want {
                b'd' => b.is_ascii_digit(),
                sep => b == sep,
            })
}

fn timestamp_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    // The zone: ` UTC`, ` CEST`, ` +05`, ` -03:30`.
    if b.get(i) == Some(&b' ') {
        let z = &b[i + 1..];
        let zone = match z.first() {
            Some(c) if c.is_ascii_uppercase() => {
                z.iter().take_while(|c| c.is_ascii_alphabetic()).count()
            }
            Some(b'+' | b'-') => {
                let mut n = 1 + z[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if n > 1 && z.get(n) == Some(&b':') && z.get(n + 1).is_some_and(u8::is_ascii_digit)
                {
                    n += 1 + z[n + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                }
                if n > 1 { n } else { 0 }
            }
            _ => 0,
        };
        if zone > 0 {
            i += 1 + zone;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multibyte_character_in_a_timestamp_is_no_timestamp() {
        // Found by fuzzing (and in issue 19): inference sliced inside the character.
        assert!(!looks_like_timestamp(
            "2026-12-07 00:17:\u{fffd}3.212 UTC [1] "
        ));
        assert_eq!(
            Prefix::infer("2026-12-07 00:17:\u{fffd}3.212 UTC [21752] postgres@shop "),
            None
        );
    }

    #[test]
    fn common_prefixes_parse() {
        let p = Prefix::compile("%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ").unwrap();
        let f = p
            .parse("2017-09-06 08:41:41 UTC [36]: [121-1] user=postgres,db=postgres,app=pgbench,client=172.23.0.1 ")
            .unwrap();
        assert_eq!(f.pid, Some(36));
        assert_eq!(f.user, "postgres");
        assert_eq!(f.database, "postgres");
        assert_eq!(f.application, "pgbench");
        assert_eq!(f.client, "172.23.0.1");
        assert_eq!(f.time_unix_ns, Some(1_504_687_301_000_000_000));

        let rds = Prefix::compile("%t:%r:%u@%d:[%p]:").unwrap();
        let f = rds
            .parse("2020-03-11 20:40:44 CET:[local]:postgres@template1:[12774]:")
            .unwrap();
        assert_eq!(
            (f.user, f.database, f.pid),
            ("postgres", "template1", Some(12774))
        );
        let f = rds.parse("2020-03-11 20:40:43 CET::@:[12760]:").unwrap();
        assert_eq!((f.user, f.database), ("", ""));

        let q = Prefix::compile("%m [%p] %q%u@%d ").unwrap();
        assert_eq!(
            q.parse("2025-01-21 18:32:48.288 CET [77898] ").unwrap().pid,
            Some(77898)
        );
        assert_eq!(
            q.parse("2025-01-21 18:38:06.453 CET [78798] gilles@gilles ")
                .unwrap()
                .database,
            "gilles"
        );
        assert!(q.parse("garbage").is_none());
        assert!(Prefix::compile("%k").is_err());
    }

    #[test]
    fn prefixes_are_inferred_from_lines() {
        for (sample, expected) in [
            (
                "2017-09-06 08:41:41 UTC [36]: [121-1] user=postgres,db=postgres,app=pgbench,client=172.23.0.1 ",
                "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%r ",
            ),
            (
                "2021-12-03 07:14:48.591 UTC [4913] user=user1,db=mydb ",
                "%m [%p] user=%u,db=%d ",
            ),
            (
                "2021-05-27 17:00:00 UTC:10.1.91.65:user@my_db:[24743]:",
                "%t:%r:%u@%d:[%p]:",
            ),
            (
                "2020-03-11 20:40:44 CET:[local]:postgres@template1:[12774]:",
                "%t:%r:%u@%d:[%p]:",
            ),
            (
                "2022-02-17 14:45:10.440 UTC [691] [queryid=-1081270519976314062] postgres@stackoverflow ",
                "%m [%p] [queryid=%Q] %u@%d ",
            ),
            (
                "2023-03-07 09:06:08 CET [130096]: [247-1] [0] usr=usr6,db=progdb,appli=76ae131687c458a8 ",
                "%t [%p]: [%l-1] [%x] usr=%u,db=%d,appli=%a ",
            ),
        ] {
            let inferred = Prefix::infer(sample).unwrap();
            assert_eq!(inferred, expected);
            assert!(
                Prefix::compile(&inferred).unwrap().parse(sample).is_some(),
                "{sample}"
            );
        }
        assert_eq!(Prefix::infer("<weird> thing "), None);
    }
}
