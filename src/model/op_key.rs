//! Operation keys: how spans aggregate across traces. A key is `(service, kind, system, label)`:
//! database spans by their SQL fingerprint, HTTP client spans by method and URL template (ids and
//! numbers in the path folded to `{id}`), RPC spans by method, everything else by span name.

use super::{Span, Sym};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// How spans aggregate across traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpKey {
    /// Service.
    pub service: Sym,
    /// Kind of operation.
    pub kind: OpKind,
    /// Database, RPC or messaging system.
    pub system: Sym,
    /// Fingerprint, URL template, RPC method or span name.
    pub label: Sym,
}

impl OpKey {
    /// The key of a span.
    pub fn of(span: &Span) -> OpKey {
        OpKey {
            service: span.service,
            kind: span.op_kind,
            system: span.op_system,
            label: span.op_label,
        }
    }
}

/// The kind of an operation, as the report names it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// A database call.
    Db,
    /// An HTTP call or an HTTP server endpoint.
    Http,
    /// An RPC call or an RPC server method.
    Rpc,
    /// Sending or receiving a message.
    Messaging,
    /// Anything else.
    #[default]
    Internal,
}

impl OpKind {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Db => "db",
            OpKind::Http => "http",
            OpKind::Rpc => "rpc",
            OpKind::Messaging => "messaging",
            OpKind::Internal => "internal",
        }
    }
}

/// The attributes of one span that decide its operation key (borrowed from the input).
#[derive(Debug, Default, Clone)]
pub struct OpAttrs<'a> {
    /// `db.system.name` / `db.system`.
    pub db_system: Option<Cow<'a, str>>,
    /// `db.query.text` / `db.statement`.
    pub db_statement: Option<Cow<'a, str>>,
    /// `db.operation.name` / `db.operation`.
    pub db_operation: Option<Cow<'a, str>>,
    /// `db.namespace` / `db.name`.
    pub db_namespace: Option<Cow<'a, str>>,
    /// `http.request.method` / `http.method`.
    pub http_method: Option<Cow<'a, str>>,
    /// `http.route`.
    pub http_route: Option<Cow<'a, str>>,
    /// `url.full` / `http.url`.
    pub url_full: Option<Cow<'a, str>>,
    /// `url.path` / `http.target`.
    pub url_path: Option<Cow<'a, str>>,
    /// `server.address` / `net.peer.name` / `peer.service`.
    pub server_address: Option<Cow<'a, str>>,
    /// `rpc.system`.
    pub rpc_system: Option<Cow<'a, str>>,
    /// `rpc.service`.
    pub rpc_service: Option<Cow<'a, str>>,
    /// `rpc.method`.
    pub rpc_method: Option<Cow<'a, str>>,
    /// `messaging.system`.
    pub messaging_system: Option<Cow<'a, str>>,
}

/// What the span's key is made of; `label` is computed by the caller's fingerprint cache for
/// database statements (see [`Classified::Statement`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Classified<'s> {
    /// A database span with a statement to fingerprint.
    Statement {
        /// Database system.
        system: &'s str,
        /// Raw statement text.
        statement: &'s str,
    },
    /// Any other span, with its final label.
    Other {
        /// Kind of the operation.
        kind: OpKind,
        /// System, may be empty.
        system: &'s str,
        /// Label.
        label: Cow<'s, str>,
    },
}

/// Classifies a span from its kind, name and attributes.
pub fn classify<'s>(
    span_kind: crate::model::SpanKind,
    name: &'s str,
    a: &'s OpAttrs<'_>,
) -> Classified<'s> {
    use crate::model::SpanKind;
    let s = |v: &'s Option<Cow<'_, str>>| v.as_deref().filter(|v| !v.is_empty());
    if s(&a.db_system).is_some() || s(&a.db_statement).is_some() {
        let system = s(&a.db_system).unwrap_or("");
        if let Some(statement) = s(&a.db_statement) {
            return Classified::Statement { system, statement };
        }
        let label = match (s(&a.db_operation), s(&a.db_namespace)) {
            (Some(op), Some(ns)) => Cow::Owned(format!("{op} {ns}")),
            (Some(op), None) => Cow::Borrowed(op),
            _ => Cow::Borrowed(name),
        };
        return Classified::Other {
            kind: OpKind::Db,
            system,
            label,
        };
    }
    if let Some(system) = s(&a.rpc_system) {
        let label = match (s(&a.rpc_service), s(&a.rpc_method)) {
            (Some(svc), Some(m)) => Cow::Owned(format!("{svc}/{m}")),
            (None, Some(m)) => Cow::Borrowed(m),
            _ => Cow::Borrowed(name),
        };
        return Classified::Other {
            kind: OpKind::Rpc,
            system,
            label,
        };
    }
    if let Some(system) = s(&a.messaging_system) {
        return Classified::Other {
            kind: OpKind::Messaging,
            system,
            label: Cow::Borrowed(name),
        };
    }
    if let Some(method) = s(&a.http_method) {
        let label = if span_kind == SpanKind::Client {
            if let Some(route) = s(&a.http_route) {
                Cow::Owned(format!(
                    "{method} {}{route}",
                    s(&a.server_address).unwrap_or("")
                ))
            } else if let Some(url) = s(&a.url_full) {
                Cow::Owned(format!("{method} {}", url_template(url)))
            } else {
                let path = s(&a.url_path).map(|p| path_template(p.split('?').next().unwrap_or(p)));
                Cow::Owned(format!(
                    "{method} {}{}",
                    s(&a.server_address).unwrap_or(""),
                    path.as_deref().unwrap_or("")
                ))
            }
        } else if let Some(route) = s(&a.http_route) {
            Cow::Owned(format!("{method} {route}"))
        } else {
            Cow::Borrowed(name)
        };
        return Classified::Other {
            kind: OpKind::Http,
            system: "",
            label,
        };
    }
    Classified::Other {
        kind: OpKind::Internal,
        system: "",
        label: Cow::Borrowed(name),
    }
}

/// `https://inventory:8080/items/123?x=1` becomes `inventory:8080/items/{id}`: the scheme,
/// user info, query and fragment go, the path is templated.
pub fn url_template(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{host}{}", path_template(path))
}

/// Folds the path segments that are ids: all digits, UUIDs, long hex strings, and long tokens
/// mixing letters and digits.
pub fn path_template(path: &str) -> String {
    path.split('/')
        .map(|seg| if is_id_segment(seg) { "{id}" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

fn is_id_segment(seg: &str) -> bool {
    if seg.is_empty() {
        return false;
    }
    let digits = seg.bytes().filter(u8::is_ascii_digit).count();
    if digits == seg.len() {
        return true;
    }
    let is_uuid = seg.len() == 36
        && seg.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    let is_hex = seg.len() >= 12 && digits > 0 && seg.bytes().all(|b| b.is_ascii_hexdigit());
    let is_token = seg.len() >= 16
        && digits > 0
        && seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    is_uuid || is_hex || is_token
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpanKind;

    #[test]
    fn url_templates_fold_ids() {
        assert_eq!(
            url_template("http://inventory:8080/items/123?expand=1"),
            "inventory:8080/items/{id}"
        );
        assert_eq!(
            url_template(
                "https://u:p@api.example.com/v1/orders/3f2b8c1e-0d4a-4b7e-9a61-2c5d8e9f0a1b/lines"
            ),
            "api.example.com/v1/orders/{id}/lines"
        );
        assert_eq!(
            url_template("http://svc/users/deadbeef1234cafe"),
            "svc/users/{id}"
        );
        assert_eq!(url_template("http://svc/v2/health"), "svc/v2/health");
        assert_eq!(url_template("http://svc"), "svc");
    }

    #[test]
    fn classification_follows_semantic_conventions() {
        let db = OpAttrs {
            db_system: Some("postgresql".into()),
            db_statement: Some("SELECT 1".into()),
            ..Default::default()
        };
        assert_eq!(
            classify(SpanKind::Client, "SELECT", &db),
            Classified::Statement {
                system: "postgresql",
                statement: "SELECT 1"
            }
        );
        let http = OpAttrs {
            http_method: Some("GET".into()),
            url_full: Some("http://cart/cart/77".into()),
            ..Default::default()
        };
        assert_eq!(
            classify(SpanKind::Client, "GET", &http),
            Classified::Other {
                kind: OpKind::Http,
                system: "",
                label: "GET cart/cart/{id}".into()
            }
        );
        let server = OpAttrs {
            http_method: Some("GET".into()),
            http_route: Some("/cart/{id}".into()),
            ..Default::default()
        };
        assert_eq!(
            classify(SpanKind::Server, "GET /cart/{id}", &server),
            Classified::Other {
                kind: OpKind::Http,
                system: "",
                label: "GET /cart/{id}".into()
            }
        );
        assert_eq!(
            classify(SpanKind::Internal, "work", &OpAttrs::default()),
            Classified::Other {
                kind: OpKind::Internal,
                system: "",
                label: "work".into()
            }
        );
    }
}
