//! The format-neutral span builder: what every trace format's decoder fills (a resource, then
//! its spans, attribute by attribute, with the semantic conventions' old and new names), and
//! the batch that validates, classifies and interns them, counting what it cannot use in the
//! chunk's ledger.

use crate::model::fingerprint::{Dialect, fingerprint, fnv1a64, fnv1a64_of};
use crate::model::ledger::{InputLedger, SkipReason};
use crate::model::op_key::{Classified, OpAttrs, classify};
use crate::model::{Arguments, Interner, Span, SpanId, SpanKind, Sym, TraceId};
use foldhash::HashMap;
use std::borrow::Cow;

/// Service name of spans whose resource has no `service.name` (the SDKs' default prefix).
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// The longest span accepted, 2^53 ns (about 104 days): longer ones are corrupt, and the bound
/// keeps sums of durations far from overflow.
pub const MAX_SPAN_NS: i64 = 1 << 53;

/// One attribute value, as far as the model cares.
#[derive(Clone)]
pub enum AttrValue<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// An integer.
    Int(i64),
    /// Anything else (ignored).
    Other,
}

impl<'a> AttrValue<'a> {
    /// A string or an integer as text (a level named `3` or `"3"` is the same level).
    fn text(&self) -> Option<Cow<'a, str>> {
        match self {
            AttrValue::Str(s) => Some(s.clone()),
            AttrValue::Int(n) => Some(Cow::Owned(n.to_string())),
            AttrValue::Other => None,
        }
    }
}

/// The resource attributes the model keeps.
#[derive(Debug, Default)]
pub struct ResourceDraft<'a> {
    service: Option<Cow<'a, str>>,
    host: Option<Cow<'a, str>>,
    level_key: Option<&'a str>,
    level: Option<Cow<'a, str>>,
}

impl<'a> ResourceDraft<'a> {
    /// A resource whose `level_key` attribute names its spans' load level.
    pub fn new(level_key: Option<&'a str>) -> ResourceDraft<'a> {
        ResourceDraft {
            level_key,
            ..ResourceDraft::default()
        }
    }
}

/// What one message decodes to, held until all of it decoded (a message is taken whole or not
/// at all): its resources, and each span's draft with the index of its resource. A decoder
/// reuses one from message to message, so that its vectors are allocated once.
pub struct Drafts<'a> {
    /// The attribute that names the load level, for the drafts made.
    pub level_key: Option<&'a str>,
    /// The message's resources.
    pub resources: Vec<ResourceDraft<'a>>,
    /// Its spans, each with the index of its resource.
    pub spans: Vec<(SpanDraft<'a>, usize)>,
}

impl<'a> Drafts<'a> {
    /// No drafts yet; they will read the `level_key` attribute.
    pub fn new(level_key: Option<&'a str>) -> Drafts<'a> {
        Drafts {
            level_key,
            resources: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// A resource's draft, added; returns its index.
    pub fn add_resource(&mut self) -> usize {
        self.resources.push(ResourceDraft::new(self.level_key));
        self.resources.len() - 1
    }

    /// A span's draft, empty: no ids, a root until a parent id is read.
    pub fn new_span(&self) -> SpanDraft<'a> {
        SpanDraft {
            parent_span_id: Some(SpanId::NONE),
            level_key: self.level_key,
            ..SpanDraft::default()
        }
    }

    /// Drops what a message that failed to decode left.
    pub fn clear(&mut self) {
        self.resources.clear();
        self.spans.clear();
    }

    /// Validates and interns the spans decoded, and empties itself for the next message.
    pub fn push_into(&mut self, batch: &mut SpanBatch, location: &str) {
        for (draft, resource) in self.spans.drain(..) {
            batch.push(draft, &self.resources[resource], || location.to_string());
        }
        self.resources.clear();
    }
}

/// Where a decoder hands the attributes it reads, one by one.
pub trait Attributes<'a> {
    /// True when the attribute `key` is read: a decoder may skip the value of any other (and
    /// need not check that its key is text).
    fn wants(&self, key: &[u8]) -> bool;
    /// Records one attribute; unknown keys are ignored.
    fn set(&mut self, key: &str, value: AttrValue<'a>);
}

impl<'a> Attributes<'a> for ResourceDraft<'a> {
    fn wants(&self, key: &[u8]) -> bool {
        self.level_key.map(str::as_bytes) == Some(key)
            || matches!(key, b"service.name" | b"host.name")
    }

    fn set(&mut self, key: &str, value: AttrValue<'a>) {
        if self.level_key == Some(key) {
            self.level = value.text();
        }
        let AttrValue::Str(v) = value else { return };
        match key {
            "service.name" => self.service = Some(v),
            "host.name" => self.host = Some(v),
            _ => {}
        }
    }
}

/// A span as decoded, before validation and interning.
#[derive(Debug, Default)]
pub struct SpanDraft<'a> {
    /// Trace id, None when missing or invalid.
    pub trace_id: Option<TraceId>,
    /// Span id, None when missing or invalid.
    pub span_id: Option<SpanId>,
    /// Parent id; `Some(NONE)` for a root, None when present but invalid.
    pub parent_span_id: Option<SpanId>,
    /// Start, ns since the epoch.
    pub start_unix_ns: u64,
    /// End, ns since the epoch.
    pub end_unix_ns: u64,
    /// Span name.
    pub name: Cow<'a, str>,
    /// Kind.
    pub kind: SpanKind,
    /// Whether its status is an error.
    pub is_error: bool,
    /// The HTTP response status (`http.response.status_code`, or the older
    /// `http.status_code`, which the newer wins over), and whether it came from the older name.
    pub http_status: Option<(i64, bool)>,
    /// The gRPC status (`rpc.grpc.status_code`).
    pub grpc_status: Option<i64>,
    /// An `error.type` that names a timeout or a deadline (`java.net.SocketTimeoutException`,
    /// `TimeoutError`, `context deadline exceeded`).
    pub error_type_timeout: bool,
    /// Number of links.
    pub link_count: u32,
    /// Attributes for the operation key.
    pub op: OpAttrs<'a>,
    /// `code.function` (or its newer name).
    pub code_function: Option<Cow<'a, str>>,
    /// `code.filepath` (or its newer name).
    pub code_filepath: Option<Cow<'a, str>>,
    /// `code.lineno` (or its newer name).
    pub code_lineno: Option<i64>,
    /// Order-independent hash of the `db.query.parameter.*` attributes, 0 without any.
    pub parameters: u64,
    /// The attribute that names the load level (`--levels attr:KEY`).
    pub level_key: Option<&'a str>,
    /// That attribute's value.
    pub level: Option<Cow<'a, str>>,
}

/// The prefix of the attributes that hold a statement's parameters, one each.
const PARAMETER_PREFIX: &str = "db.query.parameter.";

/// A span field an attribute fills.
#[derive(Debug, Clone, Copy)]
enum SpanField {
    DbSystem,
    DbStatement,
    DbOperation,
    DbNamespace,
    HttpMethod,
    HttpRoute,
    UrlFull,
    UrlPath,
    ServerAddress,
    RpcSystem,
    RpcService,
    RpcMethod,
    MessagingSystem,
    CodeFunction,
    CodeFilepath,
    CodeLineno,
}

/// The field the span attribute `key` fills, and whether `key` is an older semantic-convention
/// name: the newer name wins over the older one, whatever their order.
fn span_field(key: &[u8]) -> Option<(SpanField, bool)> {
    use SpanField::*;
    Some(match key {
        b"db.system.name" => (DbSystem, false),
        b"db.system" => (DbSystem, true),
        b"db.query.text" => (DbStatement, false),
        b"db.statement" => (DbStatement, true),
        b"db.operation.name" => (DbOperation, false),
        b"db.operation" => (DbOperation, true),
        b"db.namespace" => (DbNamespace, false),
        b"db.name" => (DbNamespace, true),
        b"http.request.method" => (HttpMethod, false),
        b"http.method" => (HttpMethod, true),
        b"http.route" => (HttpRoute, false),
        b"url.full" => (UrlFull, false),
        b"http.url" => (UrlFull, true),
        b"url.path" => (UrlPath, false),
        b"http.target" => (UrlPath, true),
        b"server.address" => (ServerAddress, false),
        b"net.peer.name" | b"peer.service" => (ServerAddress, true),
        b"rpc.system" => (RpcSystem, false),
        b"rpc.service" => (RpcService, false),
        b"rpc.method" => (RpcMethod, false),
        b"messaging.system" => (MessagingSystem, false),
        b"code.function.name" => (CodeFunction, false),
        b"code.function" => (CodeFunction, true),
        b"code.file.path" => (CodeFilepath, false),
        b"code.filepath" => (CodeFilepath, true),
        b"code.line.number" => (CodeLineno, false),
        b"code.lineno" => (CodeLineno, true),
        _ => return None,
    })
}

/// gRPC codes a server fails with, by the semantic conventions: UNKNOWN, DEADLINE_EXCEEDED,
/// UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS (the others are the caller's doing).
const GRPC_SERVER_FAILURES: [i64; 6] = [2, 4, 12, 13, 14, 15];

impl<'a> SpanDraft<'a> {
    /// Whether the span failed: its status is an error, or, for a span whose instrumentation
    /// left the status unset, its response says so as the semantic conventions read it: a
    /// server's HTTP 5xx or failing gRPC code, a client's HTTP 4xx or 5xx or gRPC code other
    /// than OK.
    fn failed(&self) -> bool {
        let http = self.http_status.map(|(status, _)| status);
        self.is_error
            || match self.kind {
                SpanKind::Server => {
                    http.is_some_and(|s| (500..600).contains(&s))
                        || self
                            .grpc_status
                            .is_some_and(|c| GRPC_SERVER_FAILURES.contains(&c))
                }
                SpanKind::Client => {
                    http.is_some_and(|s| (400..600).contains(&s))
                        || self.grpc_status.is_some_and(|c| c != 0)
                }
                _ => false,
            }
    }

    /// Whether its response says it timed out: HTTP 408 or 504, gRPC DEADLINE_EXCEEDED, or an
    /// `error.type` naming a timeout.
    fn timed_out(&self) -> bool {
        self.error_type_timeout
            || self
                .http_status
                .is_some_and(|(status, _)| status == 408 || status == 504)
            || self.grpc_status == Some(4)
    }

    /// Whether its response says the load was shed: HTTP 429 or 503, gRPC RESOURCE_EXHAUSTED.
    fn shed(&self) -> bool {
        self.http_status
            .is_some_and(|(status, _)| status == 429 || status == 503)
            || self.grpc_status == Some(8)
    }

    /// The text slot of `field`; None for the line number.
    fn text_slot(&mut self, field: SpanField) -> Option<&mut Option<Cow<'a, str>>> {
        use SpanField::*;
        let op = &mut self.op;
        Some(match field {
            DbSystem => &mut op.db_system,
            DbStatement => &mut op.db_statement,
            DbOperation => &mut op.db_operation,
            DbNamespace => &mut op.db_namespace,
            HttpMethod => &mut op.http_method,
            HttpRoute => &mut op.http_route,
            UrlFull => &mut op.url_full,
            UrlPath => &mut op.url_path,
            ServerAddress => &mut op.server_address,
            RpcSystem => &mut op.rpc_system,
            RpcService => &mut op.rpc_service,
            RpcMethod => &mut op.rpc_method,
            MessagingSystem => &mut op.messaging_system,
            CodeFunction => &mut self.code_function,
            CodeFilepath => &mut self.code_filepath,
            CodeLineno => return None,
        })
    }
}

impl<'a> Attributes<'a> for SpanDraft<'a> {
    fn wants(&self, key: &[u8]) -> bool {
        self.level_key.map(str::as_bytes) == Some(key)
            || key.starts_with(PARAMETER_PREFIX.as_bytes())
            || span_field(key).is_some()
            || matches!(
                key,
                b"http.response.status_code"
                    | b"http.status_code"
                    | b"rpc.grpc.status_code"
                    | b"error.type"
            )
    }

    fn set(&mut self, key: &str, value: AttrValue<'a>) {
        if self.level_key == Some(key) {
            self.level = value.text();
        }
        if let Some(name) = key.strip_prefix(PARAMETER_PREFIX) {
            // Hashed as `name \0 value` in decimal text, so that "7" and 7 are the same value.
            let int;
            let text: &[u8] = match &value {
                AttrValue::Str(v) => v.as_bytes(),
                AttrValue::Int(n) => {
                    int = n.to_string();
                    int.as_bytes()
                }
                AttrValue::Other => b"",
            };
            let entry = fnv1a64_of(name.bytes().chain([0]).chain(text.iter().copied()));
            self.parameters = self.parameters.wrapping_add(entry) | 1;
            return;
        }
        let number = || match &value {
            AttrValue::Int(n) => Some(*n),
            AttrValue::Str(s) => s.trim().parse().ok(),
            AttrValue::Other => None,
        };
        match key {
            "http.response.status_code" | "http.status_code" => {
                let older = key == "http.status_code";
                if let Some(status) = number()
                    && (!older || self.http_status.is_none())
                {
                    self.http_status = Some((status, older));
                }
                return;
            }
            "rpc.grpc.status_code" => {
                self.grpc_status = number();
                return;
            }
            "error.type" => {
                if let AttrValue::Str(v) = &value {
                    let lower = v.to_ascii_lowercase();
                    self.error_type_timeout = ["timeout", "timed out", "timedout", "deadline"]
                        .iter()
                        .any(|word| lower.contains(word));
                }
                return;
            }
            _ => {}
        }
        let Some((field, older)) = span_field(key.as_bytes()) else {
            return;
        };
        let lineno_free = !older || self.code_lineno.is_none();
        match (self.text_slot(field), value) {
            (Some(slot), AttrValue::Str(v)) if !older || slot.is_none() => *slot = Some(v),
            (None, AttrValue::Int(n)) if lineno_free => self.code_lineno = Some(n),
            _ => {}
        }
    }
}

/// Decodes an OTLP/JSON id: lowercase or uppercase hex (the OTLP/JSON rule) or base64 (the
/// protobuf JSON mapping's rule for bytes). None when it does not decode to exactly `N` bytes
/// (an empty string included).
pub fn decode_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    use base64::Engine;
    if let Some(id) = crate::model::hex_id(text.as_bytes()) {
        return Some(id);
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?
        .try_into()
        .ok()
}

/// An id of up to `2N` hex digits, padded with the leading zeros Jaeger leaves out and that a
/// 64-bit Zipkin trace id lacks.
pub fn padded_hex_id<const N: usize>(hex: &str) -> Option<[u8; N]> {
    if hex.is_empty() || hex.len() > 2 * N || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    decode_id(&format!("{hex:0>width$}", width = 2 * N))
}

/// Spans of one chunk of one file, with their chunk-local strings and ledger.
#[derive(Debug, Default)]
pub struct SpanBatch {
    /// Spans, with symbols of `strings`.
    pub spans: Vec<Span>,
    /// This chunk's strings.
    pub strings: Interner,
    /// Records read and skipped in this chunk.
    pub ledger: InputLedger,
    /// Per dialect, raw statement text to fingerprint label and whether it has placeholders,
    /// so each distinct statement is lexed once.
    fingerprints: [HashMap<Box<str>, (Sym, bool)>; 2],
    /// The attribute that names each span's load level, when levels come from one.
    pub level_key: Option<Box<str>>,
}

impl SpanBatch {
    /// An empty batch that reads the `level_key` attribute of its spans and resources.
    pub fn new(level_key: Option<&str>) -> SpanBatch {
        SpanBatch {
            level_key: level_key.map(Box::from),
            ..SpanBatch::default()
        }
    }

    /// Validates and interns one span, or counts it as skipped. `location` names the record for
    /// the ledger's example.
    pub fn push(
        &mut self,
        d: SpanDraft<'_>,
        resource: &ResourceDraft<'_>,
        location: impl Fn() -> String,
    ) {
        self.ledger.records += 1;
        let (Some(trace_id), Some(span_id), Some(parent)) =
            (d.trace_id, d.span_id, d.parent_span_id)
        else {
            return self.ledger.skip(SkipReason::InvalidId, 1, || {
                format!(
                    "{}: span {:?} has a missing or invalid id",
                    location(),
                    d.name
                )
            });
        };
        if trace_id.0 == [0; 16] || span_id.is_none() {
            return self.ledger.skip(SkipReason::InvalidId, 1, || {
                format!("{}: span {:?} has an all-zero id", location(), d.name)
            });
        }
        let (Ok(start), Ok(end)) = (i64::try_from(d.start_unix_ns), i64::try_from(d.end_unix_ns))
        else {
            return self.ledger.skip(SkipReason::TimeOutOfRange, 1, || {
                format!(
                    "{}: span {:?} has a time beyond year 2262",
                    location(),
                    d.name
                )
            });
        };
        if end - start > MAX_SPAN_NS {
            return self.ledger.skip(SkipReason::TimeOutOfRange, 1, || {
                format!(
                    "{}: span {:?} lasts {} ns, more than {MAX_SPAN_NS} (104 days)",
                    location(),
                    d.name,
                    end - start
                )
            });
        }
        if end < start {
            return self.ledger.skip(SkipReason::EndBeforeStart, 1, || {
                format!(
                    "{}: span {:?} ends {} ns before it starts",
                    location(),
                    d.name,
                    start - end
                )
            });
        }
        let kind = d.kind;
        let strings = &mut self.strings;
        let (op_kind, op_system, op_label, (call_args, arguments)) =
            match classify(kind, &d.name, &d.op) {
                Classified::Statement { system, statement } => {
                    let dialect = Dialect::of_system(system);
                    let fingerprints = &mut self.fingerprints[dialect as usize];
                    let (label, has_placeholders) = match fingerprints.get(statement) {
                        Some(&known) => known,
                        None => {
                            let fp = fingerprint(statement, dialect);
                            let known = (strings.intern(&fp.text), fp.has_placeholders);
                            fingerprints.insert(statement.into(), known);
                            known
                        }
                    };
                    // The text tells the arguments unless placeholders stand for values that were
                    // not recorded as parameters.
                    let arguments = match (has_placeholders, d.parameters) {
                        (true, 0) => Arguments::Unrecorded,
                        (true, _) => Arguments::Parameters,
                        (false, _) => Arguments::Literals,
                    };
                    let call_args = match arguments {
                        Arguments::Unrecorded => 0,
                        _ => fnv1a64(statement.as_bytes()).wrapping_add(d.parameters) | 1,
                    };
                    let system = strings.intern(system);
                    (
                        crate::model::OpKind::Db,
                        system,
                        label,
                        (call_args, arguments),
                    )
                }
                Classified::Other {
                    kind: op_kind,
                    system,
                    label,
                } => {
                    // A request's full URL is all its arguments only when it sends no body.
                    let bodiless = d.op.http_method.as_deref().is_some_and(|m| {
                        ["GET", "HEAD", "OPTIONS", "DELETE"]
                            .iter()
                            .any(|b| m.eq_ignore_ascii_case(b))
                    });
                    let call_args = match (kind, d.op.url_full.as_deref()) {
                        (SpanKind::Client, Some(url)) if bodiless && !url.is_empty() => {
                            (fnv1a64(url.as_bytes()) | 1, Arguments::Url)
                        }
                        _ => (0, Arguments::Unrecorded),
                    };
                    (
                        op_kind,
                        strings.intern(system),
                        strings.intern(&label),
                        call_args,
                    )
                }
            };
        let code_location = match (&d.code_function, &d.code_filepath, d.code_lineno) {
            (None, None, _) => Sym::EMPTY,
            (f, file, line) => {
                let mut s = f.as_deref().unwrap_or("").to_string();
                if let Some(file) = file {
                    let sep = if s.is_empty() { "" } else { " " };
                    s += &match line {
                        Some(line) => format!("{sep}({file}:{line})"),
                        None => format!("{sep}({file})"),
                    };
                }
                strings.intern(&s)
            }
        };
        self.spans.push(Span {
            trace_id,
            span_id,
            parent_span_id: parent,
            start_unix_ns: start,
            end_unix_ns: end,
            name: strings.intern(&d.name),
            service: strings.intern(resource.service.as_deref().unwrap_or(UNKNOWN_SERVICE)),
            host: resource
                .host
                .as_deref()
                .map_or(Sym::EMPTY, |h| strings.intern(h)),
            kind,
            is_error: d.failed(),
            timed_out: d.timed_out(),
            shed: d.shed(),
            link_count: d.link_count,
            op_kind,
            op_system,
            op_label,
            db_namespace: match op_kind {
                crate::model::OpKind::Db => {
                    d.op.db_namespace
                        .as_deref()
                        .map_or(Sym::EMPTY, |n| strings.intern(n))
                }
                _ => Sym::EMPTY,
            },
            code_location,
            call_args,
            arguments,
            level_value: d
                .level
                .as_deref()
                .or(resource.level.as_deref())
                .map_or(Sym::EMPTY, |v| strings.intern(v)),
            is_statement: op_kind == crate::model::OpKind::Db
                && d.op.db_statement.as_deref().is_some_and(|t| !t.is_empty()),
            is_connection: op_kind == crate::model::OpKind::Db
                && d.op.db_statement.as_deref().is_none_or(str::is_empty)
                && d.op.db_operation.as_deref().is_none_or(str::is_empty),
            input: 0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameters<const N: usize>(params: [(&str, AttrValue<'static>); N]) -> u64 {
        let mut d = SpanDraft::default();
        for (key, value) in params {
            d.set(key, value);
        }
        d.parameters
    }

    #[test]
    fn recorded_parameters_hash_by_name_and_value_in_any_order() {
        let s = |v: &'static str| AttrValue::Str(Cow::Borrowed(v));
        let a = parameters([
            ("db.query.parameter.0", s("7")),
            ("db.query.parameter.1", s("x")),
        ]);
        let b = parameters([
            ("db.query.parameter.1", s("x")),
            ("db.query.parameter.0", AttrValue::Int(7)),
        ]);
        assert_eq!(a, b, "order and \"7\" against 7 do not matter");
        assert_ne!(
            a,
            parameters([
                ("db.query.parameter.0", s("8")),
                ("db.query.parameter.1", s("x"))
            ])
        );
        assert_ne!(
            a,
            parameters([
                ("db.query.parameter.1", s("7")),
                ("db.query.parameter.0", s("x"))
            ])
        );
        assert_ne!(a, 0);
        assert_eq!(
            parameters([("db.system", s("postgresql"))]),
            0,
            "no parameter recorded"
        );
    }

    /// How one client span's arguments come out of its attributes.
    fn arguments_of(attributes: &[(&'static str, &'static str)]) -> (Arguments, u64) {
        let mut d = SpanDraft {
            trace_id: Some(TraceId([1; 16])),
            span_id: Some(SpanId([1; 8])),
            parent_span_id: Some(SpanId::NONE),
            start_unix_ns: 1,
            end_unix_ns: 2,
            kind: SpanKind::Client,
            ..SpanDraft::default()
        };
        for &(key, value) in attributes {
            d.set(key, AttrValue::Str(Cow::Borrowed(value)));
        }
        let mut batch = SpanBatch::new(None);
        batch.push(d, &ResourceDraft::new(None), String::new);
        (batch.spans[0].arguments, batch.spans[0].call_args)
    }

    #[test]
    fn arguments_are_recorded_only_where_the_span_holds_them_all() {
        let url = ("url.full", "http://orders/audit/events?x=1");
        let (args, hash) = arguments_of(&[("http.request.method", "GET"), url]);
        assert_eq!(args, Arguments::Url);
        assert_ne!(hash, 0);
        for method in ["POST", "PUT", "PATCH"] {
            let (args, hash) = arguments_of(&[("http.request.method", method), url]);
            assert_eq!((args, hash), (Arguments::Unrecorded, 0), "{method}: a body");
        }
        let db = ("db.system.name", "postgresql");
        let (args, _) = arguments_of(&[db, ("db.query.text", "select * from t where id = 7")]);
        assert_eq!(args, Arguments::Literals);
        let placeholders = ("db.query.text", "select * from t where id = %s");
        assert_eq!(
            arguments_of(&[db, placeholders]),
            (Arguments::Unrecorded, 0)
        );
        let (args, _) = arguments_of(&[db, placeholders, ("db.query.parameter.0", "7")]);
        assert_eq!(args, Arguments::Parameters);
    }

    #[test]
    fn ids_decode_from_hex_and_base64() {
        assert_eq!(
            decode_id::<8>("00f067aa0ba902b7"),
            Some([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7])
        );
        assert_eq!(
            decode_id::<8>("00F067AA0BA902B7"),
            decode_id::<8>("00f067aa0ba902b7")
        );
        assert_eq!(
            decode_id::<8>("APBnqgupArc="),
            decode_id::<8>("00f067aa0ba902b7")
        );
        assert_eq!(decode_id::<16>(""), None);
        assert_eq!(decode_id::<8>("xyz"), None);
        assert_eq!(decode_id::<8>("00f067aa0ba902"), None);
    }

    #[test]
    fn new_attribute_names_win_over_old_ones_in_any_order() {
        for order in [
            ["db.system", "db.system.name"],
            ["db.system.name", "db.system"],
        ] {
            let mut d = SpanDraft::default();
            for key in order {
                let value = if key == "db.system" { "old" } else { "new" };
                d.set(key, AttrValue::Str(value.into()));
            }
            assert_eq!(d.op.db_system.as_deref(), Some("new"));
        }
    }

    #[test]
    fn a_span_fails_by_its_status_or_else_by_its_response_code() {
        let failed = |kind, attributes: &[(&'static str, AttrValue<'static>)]| {
            let mut d = SpanDraft {
                kind,
                ..SpanDraft::default()
            };
            for (key, value) in attributes {
                d.set(key, value.clone());
            }
            d.failed()
        };
        let http = |code| ("http.response.status_code", AttrValue::Int(code));
        let grpc = |code| ("rpc.grpc.status_code", AttrValue::Int(code));
        use SpanKind::{Client, Internal, Server};
        assert!(failed(Server, &[http(503)]));
        assert!(!failed(Server, &[http(404)]), "the caller's doing");
        assert!(failed(Client, &[http(404)]));
        assert!(!failed(Client, &[http(200)]));
        assert!(!failed(Internal, &[http(500)]));
        assert!(failed(Server, &[grpc(14)]), "UNAVAILABLE");
        assert!(!failed(Server, &[grpc(5)]), "NOT_FOUND");
        assert!(failed(Client, &[grpc(5)]));
        assert!(failed(
            Server,
            &[("http.status_code", AttrValue::Str("500".into()))]
        ));
        // The newer name wins, in either order.
        let old = ("http.status_code", AttrValue::Int(500));
        assert!(!failed(Server, &[old.clone(), http(200)]));
        assert!(!failed(Server, &[http(200), old]));
        let errored = SpanDraft {
            is_error: true,
            ..SpanDraft::default()
        };
        assert!(errored.failed(), "a status of error is enough");
    }

    #[test]
    fn a_response_says_when_a_call_timed_out_or_was_shed() {
        let draft = |attributes: &[(&'static str, AttrValue<'static>)]| {
            let mut d = SpanDraft::default();
            for (key, value) in attributes {
                d.set(key, value.clone());
            }
            (d.timed_out(), d.shed())
        };
        let http = |code| ("http.response.status_code", AttrValue::Int(code));
        let grpc = |code| ("rpc.grpc.status_code", AttrValue::Int(code));
        let error_type = |t: &'static str| ("error.type", AttrValue::Str(t.into()));
        assert_eq!(draft(&[http(504)]), (true, false));
        assert_eq!(draft(&[http(408)]), (true, false));
        assert_eq!(draft(&[grpc(4)]), (true, false), "DEADLINE_EXCEEDED");
        assert_eq!(
            draft(&[error_type("java.net.SocketTimeoutException")]),
            (true, false)
        );
        assert_eq!(
            draft(&[error_type("context deadline exceeded")]),
            (true, false)
        );
        assert_eq!(draft(&[error_type("500")]), (false, false));
        assert_eq!(draft(&[http(429)]), (false, true));
        assert_eq!(draft(&[http(503)]), (false, true));
        assert_eq!(draft(&[grpc(8)]), (false, true), "RESOURCE_EXHAUSTED");
        assert_eq!(draft(&[http(500)]), (false, false));
        assert_eq!(
            draft(&[grpc(14)]),
            (false, false),
            "UNAVAILABLE is not only shedding"
        );
    }
}
