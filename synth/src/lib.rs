//! A seeded generator of realistic OTLP trace sets, for benchmarks, tests and the demo: a shop
//! of five services (frontend, cart, inventory, payments, and a worker consuming order messages)
//! over PostgreSQL, with HTTP client and server spans, database spans with parameterized
//! statements, a product-price lookup loop, a payments host whose clock runs slightly behind,
//! and occasional errors. The same seed always
//! gives the same bytes ([`Rng`]).
//!
//! A crate of its own, used by chokepoint's tests and benchmarks, sharing no parsing or
//! calendar code with chokepoint: a bug in a parser cannot cancel out in a round trip.

mod civil;
mod json;
mod logs;
mod other_formats;
mod rng;

pub use json::json_message;
pub use logs::{DbLog, write_db_log};
pub use rng::Rng;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, TracesData, span::SpanKind, status::StatusCode,
};
use prost::Message;
use std::collections::BTreeMap;
use std::io::Write;

pub use other_formats::{write_jaeger, write_zipkin};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Number of traces (without a profile).
    pub traces: u64,
    /// Seed.
    pub seed: u64,
    /// Requests per second (traces start at this rate).
    pub rps: u64,
    /// Traces per OTLP request (per JSON line or protobuf message).
    pub traces_per_message: u64,
    /// Start of the first trace, ns since the epoch.
    pub start_unix_ns: u64,
    /// A stepped load profile instead of `traces` at `rps`: each step's rate and length, with
    /// linear ramps between steps (see [`Profile`]).
    pub profile: Option<Profile>,
    /// Time added to every fraud check of the payments service: a dependency made slower (a
    /// regression for `chokepoint check` to catch), 0 by default.
    pub slower_fraud_check_ns: u64,
    /// Time added to the network path into the cart service (a congested link, a slow
    /// listener): its callers wait longer while its own spans do not change; 0 by default.
    pub slower_cart_network_ns: u64,
    /// Every span's start and end cut to a whole microsecond, the resolution of Jaeger and
    /// Zipkin, so that one set reads the same in every trace format; false by default.
    pub whole_microseconds: bool,
    /// The database logs take each statement from this many distinct shapes (long SELECTs of
    /// 8 to 47 columns from 97 tables, each with its own predicate column) instead of the
    /// shop's few, for benchmarks on high-cardinality logs; 0 (the default) keeps the shop's.
    pub distinct_statements: u64,
    /// With a load profile: the inventory stalls on a lock more often as load grows (not at
    /// 30 rps, one call in ten at 60, three in ten at 120), the frontend's client gives up on
    /// it after [`INVENTORY_TIMEOUT_NS`] and retries at once, twice at most, before falling
    /// back to its cache; false by default.
    pub inventory_timeouts: bool,
}

/// The frontend's timeout on its calls to the inventory (with `inventory_timeouts`).
pub const INVENTORY_TIMEOUT_NS: u64 = 50 * MS;

/// A stepped load profile: `rates_rps[k]` for `step_s` seconds each, with a linear ramp of
/// `ramp_s` seconds from one rate to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The rate of each step.
    pub rates_rps: Vec<u64>,
    /// Length of each step, s.
    pub step_s: u64,
    /// Length of each ramp between steps, s.
    pub ramp_s: u64,
}

impl Profile {
    /// The ground truth: each step's window (start and end, ns since the epoch) and rate.
    pub fn windows(&self, start_unix_ns: u64) -> Vec<(u64, u64, u64)> {
        let period = (self.step_s + self.ramp_s) * 1_000_000_000;
        (0..self.rates_rps.len() as u64)
            .map(|k| {
                let start = start_unix_ns + k * period;
                (
                    start,
                    start + self.step_s * 1_000_000_000,
                    self.rates_rps[k as usize],
                )
            })
            .collect()
    }

    /// The offered rate at `t`, requests per second: a step's rate, or during a ramp a linear
    /// change from one step's rate to the next.
    fn rate_at(windows: &[(u64, u64, u64)], t: u64) -> f64 {
        for (k, &(ws, we, rate)) in windows.iter().enumerate() {
            if t < ws {
                if k == 0 {
                    return rate as f64;
                }
                let (_, prev_end, prev) = windows[k - 1];
                let f = (t - prev_end) as f64 / (ws - prev_end) as f64;
                return prev as f64 + f * (rate as f64 - prev as f64);
            }
            if t < we {
                return rate as f64;
            }
        }
        windows.last().map_or(0.0, |w| w.2 as f64)
    }

    /// Arrival times and the rate in force at each: evenly spaced at that rate, each moved by
    /// up to half an interval at random.
    fn arrivals(&self, start_unix_ns: u64, rng: &mut Rng) -> Vec<(u64, f64)> {
        let windows = self.windows(start_unix_ns);
        let Some(&(_, end, _)) = windows.last() else {
            return Vec::new();
        };
        let mut at = start_unix_ns;
        let mut out = Vec::new();
        while at < end {
            let rate = Self::rate_at(&windows, at);
            let interval = (1e9 / rate.max(0.1)) as u64;
            out.push((at + rng.range(0, interval / 2), rate));
            at += interval;
        }
        out
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            traces: 1000,
            seed: 1,
            rps: 200,
            traces_per_message: 50,
            start_unix_ns: 1_767_225_600_000_000_000,
            profile: None,
            slower_fraud_check_ns: 0,
            slower_cart_network_ns: 0,
            whole_microseconds: false,
            distinct_statements: 0,
            inventory_timeouts: false,
        }
    }
}

const SERVICES: [&str; 5] = ["frontend", "cart", "inventory", "payments", "worker"];
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
/// The payments host's clock runs this far behind.
const PAYMENTS_SKEW_NS: u64 = 300 * US;

struct TraceBuilder<'r> {
    rng: &'r mut Rng,
    trace_id: Vec<u8>,
    next_span: u64,
    /// Spans per service index.
    spans: [Vec<Span>; 5],
    /// Time added to the network path into the cart service.
    slower_cart_network_ns: u64,
}

impl TraceBuilder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn span(
        &mut self,
        service: usize,
        parent: &[u8],
        name: &str,
        kind: SpanKind,
        start: u64,
        end: u64,
        attrs: Vec<KeyValue>,
    ) -> Vec<u8> {
        self.next_span += 1;
        let id = (self.rng.next_u64() & !0xffff | self.next_span)
            .to_be_bytes()
            .to_vec();
        self.spans[service].push(Span {
            trace_id: self.trace_id.clone(),
            span_id: id.clone(),
            parent_span_id: parent.to_vec(),
            name: name.into(),
            kind: kind as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: attrs,
            ..Default::default()
        });
        id
    }

    fn mark_error(&mut self, service: usize, id: &[u8], message: &str) {
        if let Some(s) = self.spans[service].iter_mut().find(|s| s.span_id == id) {
            s.status = Some(Status {
                code: StatusCode::Error as i32,
                message: message.into(),
            });
        }
    }

    /// An HTTP call from `from` to `to`: CLIENT span, SERVER span inside it (`work` fills the
    /// server from its start and returns its end). Returns the client's end and whether the
    /// call failed. With a `timeout`, a client waiting longer gives up at it (a little late,
    /// as timers fire): its span ends there in error, without a response, while the server
    /// answers after.
    #[allow(clippy::too_many_arguments)]
    fn http_call(
        &mut self,
        from: usize,
        parent: &[u8],
        to: usize,
        method: &str,
        route: &str,
        path: &str,
        start: u64,
        timeout: Option<u64>,
        work: impl FnOnce(&mut Self, &[u8], u64) -> (u64, bool),
    ) -> (u64, bool) {
        let mut net_out = self.rng.range(150 * US, 600 * US);
        if SERVICES[to] == "cart" {
            net_out += self.slower_cart_network_ns;
        }
        let net_back = self.rng.range(100 * US, 400 * US);
        let host = SERVICES[to];
        let url = format!("http://{host}:8080{path}");
        let client_name = method.to_string();
        let client = self.span(
            from,
            parent,
            &client_name,
            SpanKind::Client,
            start,
            0,
            vec![
                kv("http.request.method", method),
                kv("url.full", &url),
                kv("server.address", host),
            ],
        );
        let server_start = start + net_out;
        let server = self.span(
            to,
            &client,
            &format!("{method} {route}"),
            SpanKind::Server,
            server_start,
            0,
            vec![
                kv("http.request.method", method),
                kv("http.route", route),
                kv("url.path", path),
            ],
        );
        let (server_end, failed) = work(self, &server, server_start);
        let gives_up = timeout.filter(|&t| server_end + net_back > start + t);
        let client_end = match gives_up {
            Some(t) => start + t + self.rng.range(0, 300 * US),
            None => server_end + net_back,
        };
        let status = if failed { 500 } else { 200 };
        for (service, id, end) in [(to, &server, server_end), (from, &client, client_end)] {
            let s = self.spans[service]
                .iter_mut()
                .find(|s| &s.span_id == id)
                .expect("span just added");
            s.end_time_unix_nano = end;
            if service == to || gives_up.is_none() {
                s.attributes
                    .push(kv_int("http.response.status_code", status));
            }
        }
        if failed {
            self.mark_error(to, &server, "payment declined");
        }
        if gives_up.is_some() {
            self.mark_error(from, &client, "request timed out");
        }
        (client_end, failed || gives_up.is_some())
    }

    fn query(
        &mut self,
        service: usize,
        parent: &[u8],
        statement: &str,
        start: u64,
        micros: (u64, u64),
        function: &str,
    ) -> u64 {
        let end = start + self.rng.range(micros.0 * US, micros.1 * US);
        let op = statement
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_uppercase();
        self.span(
            service,
            parent,
            &format!("{op} shop"),
            SpanKind::Client,
            start,
            end,
            vec![
                kv("db.system.name", "postgresql"),
                kv("db.namespace", "shop"),
                kv("db.query.text", statement),
                kv("db.operation.name", &op),
                kv("code.function.name", function),
                kv(
                    "code.file.path",
                    &format!("{}/handlers.py", SERVICES[service]),
                ),
                kv_int("code.line.number", 40 + service as i64),
            ],
        );
        end
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// The cart's wait for a database connection at an offered load of `rps`: it grows with the
/// square of the load (a pool that saturates), about 0.2 ms at 30 rps and 2.9 ms at 120.
fn pool_wait_ns(rng: &mut Rng, rps: f64) -> u64 {
    ((50_000.0 + 200.0 * rps * rps) * rng.range(90, 110) as f64 / 100.0) as u64
}

/// Generates one trace starting at `start`; returns its spans per service. With a load
/// profile, `load_rps` is the offered rate at `start` and the cart waits for a connection
/// (a `pg-pool.connect` span) as long as [`pool_wait_ns`] says.
fn trace(rng: &mut Rng, start: u64, load_rps: Option<f64>, options: &Options) -> [Vec<Span>; 5] {
    let mut trace_id = rng.next_u64().to_be_bytes().to_vec();
    trace_id.extend(rng.next_u64().to_be_bytes());
    let mut t = TraceBuilder {
        rng,
        trace_id,
        next_span: 0,
        spans: Default::default(),
        slower_cart_network_ns: options.slower_cart_network_ns,
    };
    let user = t.rng.range(1, 5000);
    if t.rng.chance(55) {
        let root = t.span(
            0,
            &[],
            "GET /checkout",
            SpanKind::Server,
            start,
            0,
            vec![
                kv("http.request.method", "GET"),
                kv("http.route", "/checkout"),
            ],
        );
        let at = start + t.rng.range(100 * US, 300 * US);
        let (at, _) = t.http_call(
            0,
            &root,
            1,
            "GET",
            "/cart/{user_id}",
            &format!("/cart/{user}"),
            at,
            None,
            |t, server, s| {
                let mut s = s;
                if let Some(rps) = load_rps {
                    let wait = pool_wait_ns(t.rng, rps);
                    t.span(
                        1,
                        server,
                        "pg-pool.connect",
                        SpanKind::Internal,
                        s + 20 * US,
                        s + 20 * US + wait,
                        vec![],
                    );
                    s += 20 * US + wait;
                }
                let e = t.query(
                    1,
                    server,
                    "SELECT product_id, quantity FROM cart_items WHERE user_id = $1",
                    s + 50 * US,
                    // The cart is assembled from its lines and their offers: long enough that
                    // fetching it before the charge, not beside it, costs the request time.
                    (8_000, 14_000),
                    "load_cart",
                );
                (e + 80 * US, false)
            },
        );
        let mut at = at + 50 * US;
        for _ in 0..t.rng.range(3, 5) {
            at = t.query(
                0,
                &root,
                "SELECT price FROM products WHERE id = $1",
                at + 20 * US,
                (200, 900),
                "price_lines",
            ) + 30 * US;
        }
        let declined = t.rng.chance(1);
        let (at, failed) = t.http_call(
            0,
            &root,
            3,
            "POST",
            "/charge",
            "/charge",
            at,
            None,
            |t, server, s| {
                let fraud_end = s + t.rng.range(10 * MS, 16 * MS) + options.slower_fraud_check_ns;
                t.span(
                    3,
                    server,
                    "fraud-check",
                    SpanKind::Internal,
                    s + 40 * US,
                    fraud_end,
                    vec![],
                );
                let e = t.query(
                    3,
                    server,
                    "INSERT INTO charges (user_id, amount, created_at) VALUES ($1, $2, now())",
                    fraud_end + 30 * US,
                    (800, 3000),
                    "record_charge",
                );
                (e + 60 * US, declined)
            },
        );
        let mut end = at + t.rng.range(200 * US, 500 * US);
        if t.rng.chance(50) {
            // Orders that need fulfilment are published to the worker, which processes them later.
            let publish_end = at + t.rng.range(150 * US, 400 * US);
            let message = [
                kv("messaging.system", "kafka"),
                kv("messaging.destination.name", "orders"),
            ];
            let publish = t.span(
                0,
                &root,
                "publish orders",
                SpanKind::Producer,
                at + 20 * US,
                publish_end,
                message.to_vec(),
            );
            end = publish_end + t.rng.range(200 * US, 500 * US);
            let consume_start = end + t.rng.range(MS, 5 * MS);
            let consume_end = consume_start + t.rng.range(3 * MS, 12 * MS);
            let consume = t.span(
                4,
                &publish,
                "process orders",
                SpanKind::Consumer,
                consume_start,
                consume_end,
                message.to_vec(),
            );
            t.query(
                4,
                &consume,
                "UPDATE orders SET status = 'paid' WHERE id = $1",
                consume_start + 100 * US,
                (500, 2000),
                "mark_paid",
            );
        }
        let s = t.spans[0]
            .iter_mut()
            .find(|s| s.span_id == root)
            .expect("root added");
        s.end_time_unix_nano = end;
        s.attributes.push(kv_int(
            "http.response.status_code",
            if failed { 502 } else { 200 },
        ));
        if failed {
            t.mark_error(0, &root, "payment declined");
        }
    } else {
        let item = t.rng.range(1, 200_000);
        let root = t.span(
            0,
            &[],
            "GET /product/{id}",
            SpanKind::Server,
            start,
            0,
            vec![
                kv("http.request.method", "GET"),
                kv("http.route", "/product/{id}"),
            ],
        );
        let cache_end = start + t.rng.range(100 * US, 400 * US);
        t.span(
            0,
            &root,
            "cache.get",
            SpanKind::Internal,
            start + 50 * US,
            cache_end,
            vec![],
        );
        // Percent of inventory calls that stall on a lock at this load.
        let stalls = match (options.inventory_timeouts, load_rps) {
            (true, Some(rps)) => ((rps - 30.0) / 3.0).clamp(0.0, 40.0) as u64,
            _ => 0,
        };
        let mut at = cache_end + 30 * US;
        for _attempt in 0..3 {
            let stalled = stalls > 0 && t.rng.chance(stalls);
            let (end, failed) = t.http_call(
                0,
                &root,
                2,
                "GET",
                "/items/{id}",
                &format!("/items/{item}"),
                at,
                options.inventory_timeouts.then_some(INVENTORY_TIMEOUT_NS),
                |t, server, s| {
                    let micros = if stalled {
                        (60_000, 120_000)
                    } else {
                        (300, 2500)
                    };
                    let e = t.query(
                        2,
                        server,
                        "SELECT id, name, stock FROM items WHERE id = $1",
                        s + 40 * US,
                        micros,
                        "get_item",
                    );
                    (e + 50 * US, false)
                },
            );
            at = end;
            if !failed {
                break;
            }
        }
        let end = at + t.rng.range(100 * US, 300 * US);
        let s = t.spans[0]
            .iter_mut()
            .find(|s| s.span_id == root)
            .expect("root added");
        s.end_time_unix_nano = end;
        s.attributes.push(kv_int("http.response.status_code", 200));
    }
    for s in &mut t.spans[3] {
        s.start_time_unix_nano -= PAYMENTS_SKEW_NS;
        s.end_time_unix_nano -= PAYMENTS_SKEW_NS;
    }
    t.spans
}

/// The OTLP requests of a generated trace set, `traces_per_message` traces each.
pub fn messages(options: &Options) -> impl Iterator<Item = TracesData> + '_ {
    let mut rng = Rng::new(options.seed);
    let per = options.traces_per_message.max(1);
    let interval = 1_000_000_000 / options.rps.max(1);
    let arrivals = options.profile.as_ref().map(|p| {
        p.arrivals(
            options.start_unix_ns,
            &mut Rng::new(options.seed ^ 0xa551_7a1e),
        )
    });
    let traces = arrivals.as_ref().map_or(options.traces, |a| a.len() as u64);
    (0..traces.div_ceil(per)).map(move |m| {
        let mut by_service: [Vec<Span>; 5] = Default::default();
        for i in m * per..((m + 1) * per).min(traces) {
            let (start, load) = match &arrivals {
                Some(a) => (a[i as usize].0, Some(a[i as usize].1)),
                None => (
                    options.start_unix_ns + i * interval + rng.range(0, interval / 2),
                    None,
                ),
            };
            for (all, mut spans) in by_service
                .iter_mut()
                .zip(trace(&mut rng, start, load, options))
            {
                if options.whole_microseconds {
                    for s in &mut spans {
                        s.start_time_unix_nano -= s.start_time_unix_nano % US;
                        s.end_time_unix_nano -= s.end_time_unix_nano % US;
                    }
                }
                all.extend(spans);
            }
        }
        TracesData {
            resource_spans: by_service
                .into_iter()
                .enumerate()
                .filter(|(_, spans)| !spans.is_empty())
                .map(|(i, spans)| ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![
                            kv("service.name", SERVICES[i]),
                            kv("host.name", &format!("{}-1", SERVICES[i])),
                        ],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    })
}

/// Writes the trace set as OTLP/JSON lines (the Collector file exporter's layout); returns its
/// ground truth.
pub fn write_json(options: &Options, out: &mut impl Write) -> std::io::Result<Truth> {
    let mut truth = options.truth();
    for message in messages(options) {
        account(&message, &mut truth);
        let mut line = String::new();
        json_message(&message, &mut line);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(truth)
}

/// Writes the trace set as length-prefixed OTLP protobuf (the Collector file exporter's `proto`
/// format); returns its ground truth.
pub fn write_proto(options: &Options, out: &mut impl Write) -> std::io::Result<Truth> {
    let mut truth = options.truth();
    for message in messages(options) {
        account(&message, &mut truth);
        let bytes = message.encode_to_vec();
        out.write_all(
            &u32::try_from(bytes.len())
                .expect("a message under 4 GiB")
                .to_be_bytes(),
        )?;
        out.write_all(&bytes)?;
    }
    Ok(truth)
}

/// What a generated set holds, written beside it (`FILE.truth.json`) for tests and benchmarks
/// to compare a reading against.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Truth {
    /// The steps of the load profile (empty without one).
    pub levels: Vec<TruthLevel>,
    /// The design problems the shop has, by finding kind.
    pub planted: Vec<Planted>,
    /// The (service, span name) whose time per request grows with the square of the load,
    /// present with a load profile.
    pub grows_with_load: Option<(String, String)>,
    /// For a trace set: per statement as the services issue it (`$n` placeholders), the
    /// executions on the requests' critical path (all but the worker's, which runs after the
    /// response) and their exact total time, ns.
    pub on_path_statements: BTreeMap<String, StatementTruth>,
    /// For a database log: per statement, the executions logged (one entry each) and their
    /// total time as logged.
    pub statements: BTreeMap<String, StatementTruth>,
    /// Where every failed request's failure starts: (service, operation). A declined payment
    /// fails the charge (its server span in error, its client span without a status) and with
    /// it the checkout.
    #[serde(default)]
    pub failure_origin: Option<(String, String)>,
    /// With `inventory_timeouts`: the client operation that times out, its caller and its
    /// ceiling, ns (the calls end at it or up to 0.3 ms after).
    #[serde(default)]
    pub timeout: Option<(String, String, u64)>,
    /// With `inventory_timeouts`: the caller → callee edge whose retries grow with load.
    #[serde(default)]
    pub retries: Option<(String, String)>,
    /// With `inventory_timeouts`: the operations whose time per request grows with load
    /// besides `grows_with_load` (the inventory's, whose stalls grow more frequent).
    #[serde(default)]
    pub also_grow_with_load: Vec<(String, String)>,
}

/// One step of the load profile.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TruthLevel {
    /// Start, ns since the epoch.
    pub start_unix_ns: u64,
    /// End, ns since the epoch.
    pub end_unix_ns: u64,
    /// Offered rate, requests per second.
    pub rps: u64,
}

/// A planted design problem.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Planted {
    /// Finding kind (`n_plus_one_db`, `sequential_fanout`).
    pub kind: String,
    /// Service.
    pub service: String,
    /// The parent operation.
    pub operation: String,
}

/// One statement's executions.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatementTruth {
    /// Executions.
    pub calls: u64,
    /// Their total time, ns (for a log, each duration cut to the microsecond it prints).
    pub total_ns: u64,
}

/// The database spans of a message, with their statement, and whether the request waited for
/// them (every service's but the worker's).
fn database_spans(message: &TracesData) -> impl Iterator<Item = (&Span, &str, bool)> {
    message.resource_spans.iter().flat_map(|rs| {
        let service = rs
            .resource
            .as_ref()
            .and_then(|r| string_attribute(&r.attributes, "service.name"));
        let on_path = service != Some(SERVICES[4]);
        rs.scope_spans.iter().flat_map(move |ss| {
            ss.spans.iter().filter_map(move |span| {
                Some((
                    span,
                    string_attribute(&span.attributes, "db.query.text")?,
                    on_path,
                ))
            })
        })
    })
}

/// Adds a message's on-path statements to the truth.
fn account(message: &TracesData, truth: &mut Truth) {
    for (span, statement, on_path) in database_spans(message) {
        if on_path {
            let s = truth
                .on_path_statements
                .entry(statement.to_string())
                .or_default();
            s.calls += 1;
            s.total_ns += span.end_time_unix_nano - span.start_time_unix_nano;
        }
    }
}

impl Options {
    /// The ground truth of the trace set these options generate (without a log's statements).
    pub fn truth(&self) -> Truth {
        let timeouts = self.inventory_timeouts && self.profile.is_some();
        let planted = |kind: &str| Planted {
            kind: kind.into(),
            service: "frontend".into(),
            operation: "GET /checkout".into(),
        };
        Truth {
            levels: self.profile.as_ref().map_or_else(Vec::new, |p| {
                p.windows(self.start_unix_ns)
                    .into_iter()
                    .map(|(start_unix_ns, end_unix_ns, rps)| TruthLevel {
                        start_unix_ns,
                        end_unix_ns,
                        rps,
                    })
                    .collect()
            }),
            planted: {
                let mut planted = vec![planted("n_plus_one_db"), planted("sequential_fanout")];
                if timeouts {
                    planted.push(Planted {
                        kind: "timeout".into(),
                        service: SERVICES[0].into(),
                        operation: "GET inventory:8080/items/{id}".into(),
                    });
                    planted.push(Planted {
                        kind: "retry_amplification".into(),
                        service: SERVICES[0].into(),
                        operation: "calls to inventory".into(),
                    });
                }
                // With a load profile, the cart's pool saturates (see `pool_wait_ns`).
                if self.profile.is_some() {
                    planted.push(Planted {
                        kind: "saturation".into(),
                        service: "cart".into(),
                        operation: "GET /cart/{user_id}".into(),
                    });
                }
                planted
            },
            grows_with_load: self
                .profile
                .as_ref()
                .map(|_| ("cart".to_string(), "pg-pool.connect".to_string())),
            failure_origin: Some((SERVICES[3].to_string(), "POST /charge".to_string())),
            timeout: timeouts.then(|| {
                (
                    SERVICES[0].to_string(),
                    "GET inventory:8080/items/{id}".to_string(),
                    INVENTORY_TIMEOUT_NS,
                )
            }),
            retries: timeouts.then(|| (SERVICES[0].to_string(), SERVICES[2].to_string())),
            // The stalls lengthen the inventory's own spans as load grows.
            also_grow_with_load: if timeouts {
                vec![(SERVICES[2].to_string(), "GET /items/{id}".to_string())]
            } else {
                Vec::new()
            },
            ..Truth::default()
        }
    }
}

/// The string value of the attribute `key`.
fn string_attribute<'s>(attributes: &'s [KeyValue], key: &str) -> Option<&'s str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// Bytes as lowercase hex, as OTLP/JSON and traceparent write ids.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_and_about_ten_spans_a_trace() {
        let options = Options {
            traces: 200,
            ..Options::default()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_proto(&options, &mut a).unwrap();
        write_proto(&options, &mut b).unwrap();
        assert_eq!(a, b);
        let spans: usize = messages(&options)
            .flat_map(|m| m.resource_spans)
            .flat_map(|r| r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        let per_trace = spans as f64 / 200.0;
        assert!(
            (9.0..11.0).contains(&per_trace),
            "{per_trace} spans per trace"
        );
    }
}
