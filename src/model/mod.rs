//! The data model that ingest produces and analysis reads: spans with interned strings and
//! integer-nanosecond times, plus the ingest ledger. Parsers never compute analysis results, and
//! analysis never sees a file format.

pub mod fingerprint;
pub mod intern;
pub mod ledger;
pub mod load;
pub mod op_key;
pub mod query;
pub mod schema;
pub mod settings;
pub mod shape;
pub mod trace;

pub use intern::{Interner, Sym};
use ledger::InputLedger;
pub use op_key::{OpKey, OpKind};

/// A 16-byte trace id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id; all zeros means "none" (as in OTLP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SpanId(pub [u8; 8]);

/// Ids order as their bytes do, compared as one big-endian integer rather than byte by byte
/// (the derived order calls `memcmp`; spans are sorted and searched by id a lot).
macro_rules! order_as_integer {
    ($id:ty, $int:ty) => {
        impl Ord for $id {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                <$int>::from_be_bytes(self.0).cmp(&<$int>::from_be_bytes(other.0))
            }
        }

        impl PartialOrd for $id {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
    };
}

order_as_integer!(TraceId, u128);
order_as_integer!(SpanId, u64);

impl SpanId {
    /// The absent id.
    pub const NONE: SpanId = SpanId([0; 8]);

    /// True for the absent id.
    pub fn is_none(self) -> bool {
        self == SpanId::NONE
    }
}

/// An id written as exactly `2N` hex digits (either case), as bytes; None otherwise.
pub fn hex_id<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    if hex.len() != 2 * N {
        return None;
    }
    // Each digit's value, 0x10 for a byte that is not one: looked up, not branched on.
    const NIBBLE: [u8; 256] = {
        let mut table = [0x10u8; 256];
        let mut c = 0;
        while c < 256 {
            table[c] = match c as u8 {
                d @ b'0'..=b'9' => d - b'0',
                d @ b'a'..=b'f' => d - b'a' + 10,
                d @ b'A'..=b'F' => d - b'A' + 10,
                _ => 0x10,
            };
            c += 1;
        }
        table
    };
    let mut out = [0u8; N];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (high, low) = (NIBBLE[usize::from(pair[0])], NIBBLE[usize::from(pair[1])]);
        invalid |= high | low;
        *byte = high << 4 | low;
    }
    (invalid & 0x10 == 0).then_some(out)
}

impl std::fmt::Display for TraceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::fmt::Display for SpanId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// OTLP span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SpanKind {
    /// Unspecified or internal.
    #[default]
    Internal,
    /// Server side of a synchronous remote call.
    Server,
    /// Client side of a synchronous remote call.
    Client,
    /// Sends a message.
    Producer,
    /// Processes a message.
    Consumer,
}

impl SpanKind {
    /// From the OTLP enum number (0 unspecified and 1 internal both map to `Internal`).
    pub fn from_otlp(n: i64) -> SpanKind {
        match n {
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Internal,
        }
    }
}

/// How a call's arguments were recorded, which decides whether two calls can be told to be
/// the same call made again.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Arguments {
    /// Not recorded: placeholders without parameter values, a request body, or no call text.
    #[default]
    Unrecorded,
    /// Literal values in the statement text.
    Literals,
    /// `db.query.parameter.*` attributes beside a statement with placeholders.
    Parameters,
    /// The full URL of a request without a body (GET, HEAD, OPTIONS, DELETE).
    Url,
    /// The database log's `DETAIL: parameters` of the execution whose sqlcommenter comment
    /// named the span.
    LogParameters,
}

impl Arguments {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Arguments::Unrecorded => "unrecorded",
            Arguments::Literals => "literals",
            Arguments::Parameters => "parameters",
            Arguments::Url => "url",
            Arguments::LogParameters => "log_parameters",
        }
    }
}

/// One span, as the analyses need it. Times are integer nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id, `SpanId::NONE` for a root.
    pub parent_span_id: SpanId,
    /// Start time, ns since the epoch (at most `i64::MAX`, checked at ingest).
    pub start_unix_ns: i64,
    /// End time, ns since the epoch; never before the start (checked at ingest).
    pub end_unix_ns: i64,
    /// Span name.
    pub name: Sym,
    /// `service.name` of the span's resource.
    pub service: Sym,
    /// `host.name` of the span's resource, empty when absent.
    pub host: Sym,
    /// Span kind.
    pub kind: SpanKind,
    /// The call failed: status ERROR, or a response that says so (see `SpanDraft::failed`).
    pub is_error: bool,
    /// Its response says it timed out: HTTP 408 or 504, gRPC DEADLINE_EXCEEDED, or an
    /// `error.type` that names a timeout or a deadline.
    pub timed_out: bool,
    /// Its response says the load was shed: HTTP 429 or 503, gRPC RESOURCE_EXHAUSTED.
    pub shed: bool,
    /// Number of links to other spans.
    pub link_count: u32,
    /// What kind of operation the span is, for the operation key.
    pub op_kind: OpKind,
    /// The system of the operation (`db.system`, `rpc.system`, `messaging.system`), may be empty.
    pub op_system: Sym,
    /// The operation label: SQL fingerprint, URL template, RPC method or span name.
    pub op_label: Sym,
    /// The database of a database span (`db.namespace`, formerly `db.name`), may be empty.
    pub db_namespace: Sym,
    /// Code location (`code.function` at `code.filepath:code.lineno`), may be empty.
    pub code_location: Sym,
    /// Hash of the call's arguments as recorded (statement text with its literals and any
    /// `db.query.parameter.*` values, or the full URL); 0 when they were not recorded. Equal
    /// non-zero values mean the same call made again.
    pub call_args: u64,
    /// How the call's arguments were recorded: what `call_args` hashes.
    pub arguments: Arguments,
    /// A database span that carries its statement's text.
    pub is_statement: bool,
    /// A database span that ran no statement and no named operation: opening or checking out
    /// a connection (`pg-pool.connect`). It is an operation with its time, never a call that
    /// could be batched or run concurrently with the query it precedes.
    pub is_connection: bool,
    /// The value of the `--levels attr:KEY` attribute, the span's own or else its resource's;
    /// empty without one.
    pub level_value: Sym,
    /// Index of the input file the span came from.
    pub input: u32,
}

impl Span {
    /// Every interned string of the span, for moving it to another interner: a field added to
    /// the span is added here.
    pub fn symbols_mut(&mut self) -> [&mut Sym; 8] {
        [
            &mut self.name,
            &mut self.service,
            &mut self.host,
            &mut self.op_system,
            &mut self.op_label,
            &mut self.db_namespace,
            &mut self.code_location,
            &mut self.level_value,
        ]
    }

    /// Duration in nanoseconds.
    pub fn duration_ns(&self) -> i64 {
        self.end_unix_ns - self.start_unix_ns
    }
}

/// Everything ingest hands to analysis.
#[derive(Debug, Default)]
pub struct Dataset {
    /// All spans read; sorted and finished by [`Dataset::finish`] once ingest is done.
    pub spans: Vec<Span>,
    /// The strings the spans' symbols refer to.
    pub strings: Interner,
    /// One ledger per input file, indexed by `Span::input`.
    pub inputs: Vec<InputLedger>,
    /// Database statements, one per (fingerprint, database, input file).
    pub statements: Vec<query::StatementStats>,
    /// Database sessions per second, from PostgreSQL logs whose lines name the process.
    pub sessions: Vec<query::SessionSecond>,
    /// `pg_stat_activity` samples.
    pub activity: Vec<query::ActivitySample>,
    /// What `--schema` files said about the tables.
    pub schema: schema::Schema,
}

impl Dataset {
    /// Makes the spans ready for analysis, once ingest is done: sorted, each statement's
    /// execution named by its statement, and the arguments the database log recorded given to
    /// the spans it names.
    pub fn finish(&mut self) {
        self.sort_spans();
        self.inherit_statements();
        self.arguments_from_logs();
    }

    /// A span whose statement's placeholders left its arguments unrecorded takes them from the
    /// log entry whose sqlcommenter comment named it.
    fn arguments_from_logs(&mut self) {
        let logged: rustc_hash::FxHashMap<(TraceId, SpanId), u64> = self
            .statements
            .iter()
            .flat_map(|s| &s.span_arguments)
            .map(|&(trace, span, hash)| ((trace, span), hash))
            .collect();
        if logged.is_empty() {
            return;
        }
        for span in &mut self.spans {
            if span.op_kind == OpKind::Db
                && span.arguments == Arguments::Unrecorded
                && let Some(&hash) = logged.get(&(span.trace_id, span.span_id))
            {
                let label = fingerprint::fnv1a64(self.strings.get(span.op_label).as_bytes());
                span.call_args = label.wrapping_add(hash) | 1;
                span.arguments = Arguments::LogParameters;
            }
        }
    }

    /// Where a driver records a statement's text on one span and runs it in a child without
    /// the text (Doctrine and PDO, some JDBC wrappers), the child is the same statement: it takes
    /// its parent's statement, so that the execution's time lands on it.
    fn inherit_statements(&mut self) {
        use rayon::prelude::*;
        let spans = &self.spans;
        let fixes: Vec<(usize, usize)> = spans
            .par_iter()
            .enumerate()
            .filter(|(_, s)| {
                s.op_kind == OpKind::Db && !s.is_statement && !s.parent_span_id.is_none()
            })
            .filter_map(|(i, s)| {
                let parent = spans
                    .binary_search_by(|p| {
                        (p.trace_id, p.span_id).cmp(&(s.trace_id, s.parent_span_id))
                    })
                    .ok()?;
                (spans[parent].op_kind == OpKind::Db && spans[parent].is_statement)
                    .then_some((i, parent))
            })
            .collect();
        for (child, parent) in fixes {
            let p = self.spans[parent].clone();
            let c = &mut self.spans[child];
            c.op_system = p.op_system;
            c.op_label = p.op_label;
            if c.db_namespace.is_empty() {
                c.db_namespace = p.db_namespace;
            }
            c.call_args = p.call_args;
            c.arguments = p.arguments;
            c.is_statement = true;
            c.is_connection = false;
        }
    }

    /// Sorts spans the way analysis expects them: by trace id, span id, start, end; exact ties
    /// by the remaining fields and strings, so that which duplicate is kept never depends on the
    /// input order.
    fn sort_spans(&mut self) {
        use rayon::slice::ParallelSliceMut;
        let strings = &self.strings;
        self.spans.par_sort_unstable_by(|a, b| {
            (
                a.trace_id,
                a.span_id,
                a.start_unix_ns,
                a.end_unix_ns,
                a.kind,
                a.is_error,
                a.parent_span_id,
            )
                .cmp(&(
                    b.trace_id,
                    b.span_id,
                    b.start_unix_ns,
                    b.end_unix_ns,
                    b.kind,
                    b.is_error,
                    b.parent_span_id,
                ))
                .then_with(|| strings.get(a.name).cmp(strings.get(b.name)))
                .then_with(|| strings.get(a.service).cmp(strings.get(b.service)))
                .then_with(|| strings.get(a.op_label).cmp(strings.get(b.op_label)))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn hex_ids_decode_as_the_standard_library_reads_hex(hex in "[0-9a-fA-FxyG ]{16}") {
            let expected: Option<Vec<u8>> = (0..8)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                .collect();
            prop_assert_eq!(hex_id::<8>(hex.as_bytes()).map(Vec::from), expected);
        }

        #[test]
        fn ids_order_as_their_bytes(a: [u8; 16], b: [u8; 16]) {
            prop_assert_eq!(TraceId(a).cmp(&TraceId(b)), a.cmp(&b));
            let (x, y) = (a[..8].try_into().unwrap(), b[8..].try_into().unwrap());
            prop_assert_eq!(SpanId(x).cmp(&SpanId(y)), x.cmp(&y));
        }
    }
}
