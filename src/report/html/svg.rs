//! The charts of report.html as inline SVG, drawn from the same series as the PNG charts
//! ([`charts`]): every point, bar and stretch of time carries a `<title>`, which a browser shows
//! on hover. The legends are HTML beside the SVG, so that a long label wraps instead of being
//! cut off.

use super::esc;
use crate::report::charts::{self, Series, css_color};
use crate::report::units::tick;
use std::fmt::Write;

/// The drawing's size in its own units (it scales to the page's width).
const W: f64 = 720.0;
const H: f64 = 300.0;
/// Room for the axes' labels.
const LEFT: f64 = 76.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 44.0;

/// Maps values to the drawing: x from `x_lo` to `x_hi`, y from 0 to `y_hi`, inside `top..bottom`.
struct Frame {
    x_lo: f64,
    x_hi: f64,
    y_hi: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        LEFT + (v - self.x_lo) / (self.x_hi - self.x_lo).max(1e-9) * (W - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        self.bottom - v / self.y_hi.max(1e-9) * (self.bottom - self.top)
    }

    /// Gridlines and labels of the y axis, the x axis' ticks (value, label), and the axes'
    /// descriptions.
    fn axes(&self, out: &mut String, x_ticks: &[(f64, String)], y_unit: &str, y_desc: &str) {
        for v in nice_ticks(self.y_hi) {
            let y = self.y(v);
            let _ = write!(
                out,
                r##"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{} {}</text>"##,
                W - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                tick(v),
                esc(y_unit)
            );
        }
        for (v, label) in x_ticks {
            let x = self.x(*v);
            let _ = write!(
                out,
                r##"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                self.bottom,
                self.bottom + 5.0,
                self.bottom + 18.0,
                esc(label)
            );
        }
        let _ = write!(
            out,
            r##"<line class="axis" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text class="desc" x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text>"##,
            W - RIGHT,
            self.bottom,
            self.bottom,
            (self.top + self.bottom) / 2.0,
            (self.top + self.bottom) / 2.0,
            esc(y_desc)
        );
    }
}

/// Ticks from 0 to about `hi` at a step of 1, 2 or 5 times a power of ten, five or so.
fn nice_ticks(hi: f64) -> Vec<f64> {
    if !(hi > 0.0 && hi.is_finite()) {
        return vec![0.0];
    }
    let raw = hi / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= hi * 1.0001)
        .collect()
}

/// The opening tag of a chart.
fn open(out: &mut String, label: &str) {
    let _ = write!(
        out,
        r##"<figure class="chart"><svg viewBox="0 0 {W} {H}" role="img" aria-label="{}">"##,
        esc(label)
    );
}

/// Closes the SVG and adds the legend: a swatch and the label of each series.
fn close(out: &mut String, series: &[Series]) {
    out.push_str("</svg>");
    if !series.is_empty() {
        out.push_str(r#"<ul class="legend">"#);
        for (i, s) in series.iter().enumerate() {
            let _ = write!(
                out,
                r#"<li><span class="swatch" style="background:{}"></span>{}</li>"#,
                css_color(i, &s.label),
                esc(&s.label)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</figure>");
}

/// The top of a y axis: the largest value and some room above it.
fn y_top(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, f64::max).max(1e-3) * 1.12
}

/// Lines of `series` (ms) against the levels' throughput, a dot at each level with its values
/// on hover.
pub fn lines(label: &str, rps: &[f64], levels: &[String], series: &[Series]) -> String {
    let mut out = String::new();
    open(&mut out, label);
    let (lo, hi) = rps
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let pad = ((hi - lo) * 0.06).max(1.0);
    let frame = Frame {
        x_lo: (lo - pad).max(0.0),
        x_hi: hi + pad,
        y_hi: y_top(series.iter().flat_map(|s| s.values.iter().copied())),
        top: TOP,
        bottom: H - BOTTOM,
    };
    let x_ticks: Vec<(f64, String)> = rps
        .iter()
        .map(|&v| (v, format!("{} rps", tick(v.round()))))
        .collect();
    frame.axes(&mut out, &x_ticks, "ms", "ms per request");
    for (i, s) in series.iter().enumerate() {
        let color = css_color(i, &s.label);
        let points: Vec<String> = rps
            .iter()
            .zip(&s.values)
            .map(|(&x, &y)| format!("{:.1},{:.1}", frame.x(x), frame.y(y)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="line" points="{}" stroke="{color}"/>"#,
            points.join(" ")
        );
        for ((&x, &y), level) in rps.iter().zip(&s.values).zip(levels) {
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4.5" fill="{color}"><title>{}: {} at {} ({} rps)</title></circle>"#,
                frame.x(x),
                frame.y(y),
                esc(&s.label),
                crate::report::units::ms(y) + " ms",
                esc(level),
                crate::report::units::rate(x)
            );
        }
    }
    close(&mut out, series);
    out
}

/// One stacked bar of percentages per level, each part's value on hover.
pub fn stacks(label: &str, levels: &[String], series: &[Series]) -> String {
    let mut out = String::new();
    open(&mut out, label);
    let n = levels.len().max(1) as f64;
    let frame = Frame {
        x_lo: 0.0,
        x_hi: n,
        y_hi: 100.0,
        top: TOP,
        bottom: H - BOTTOM,
    };
    let x_ticks: Vec<(f64, String)> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64 + 0.5, l.clone()))
        .collect();
    frame.axes(&mut out, &x_ticks, "%", "share of latency");
    let bar = (frame.x(1.0) - frame.x(0.0)) * 0.6;
    for (l, level) in levels.iter().enumerate() {
        let mut base = 0.0;
        for (i, s) in series.iter().enumerate() {
            let v = s.values.get(l).copied().unwrap_or(0.0);
            let (y0, y1) = (frame.y(base), frame.y(base + v));
            base += v;
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{y1:.1}" width="{bar:.1}" height="{:.1}" fill="{}"><title>{} at {}: {}%</title></rect>"#,
                frame.x(l as f64 + 0.5) - bar / 2.0,
                (y0 - y1).max(0.0),
                css_color(i, &s.label),
                esc(&s.label),
                esc(level),
                format_args!("{v:.1}")
            );
        }
    }
    close(&mut out, series);
    out
}

/// Throughput above, p50 and p95 latency below, against time; the levels' windows shaded and
/// named; each bucket's values on hover.
pub fn timeline(report: &crate::report::Report) -> String {
    let (points, levels) = charts::timeline_points(report);
    let mut out = String::new();
    open(&mut out, "Throughput and latency over time");
    let x_hi = match points.as_slice() {
        [first, .., last] => last.0 + first.0,
        _ => 1.0,
    };
    let mid = H * 0.42;
    let top_panel = Frame {
        x_lo: 0.0,
        x_hi,
        y_hi: y_top(points.iter().map(|p| p.1)),
        top: TOP,
        bottom: mid - 12.0,
    };
    let bottom_panel = Frame {
        top: mid + 8.0,
        bottom: H - BOTTOM,
        y_hi: y_top(points.iter().filter_map(|p| p.3)),
        ..top_panel
    };
    for (a, b, name) in &levels {
        let (x0, x1) = (top_panel.x(*a), top_panel.x(*b));
        let _ = write!(
            out,
            r#"<rect class="level" x="{x0:.1}" y="{TOP}" width="{:.1}" height="{:.1}"><title>level {}</title></rect><text class="level-name" x="{:.1}" y="{:.1}">{}</text>"#,
            (x1 - x0).max(0.0),
            H - BOTTOM - TOP,
            esc(name),
            x0 + 3.0,
            TOP + 11.0,
            esc(name)
        );
    }
    let x_ticks: Vec<(f64, String)> = nice_ticks(x_hi)
        .into_iter()
        .map(|v| (v, format!("{} s", tick(v))))
        .collect();
    top_panel.axes(&mut out, &[], "rps", "throughput");
    bottom_panel.axes(&mut out, &x_ticks, "ms", "latency");
    let line = |out: &mut String, frame: &Frame, class: &str, values: &[(f64, Option<f64>)]| {
        // A bucket without requests breaks the line.
        for run in values.split(|(_, v)| v.is_none()) {
            let points: Vec<String> = run
                .iter()
                .filter_map(|&(x, v)| Some(format!("{:.1},{:.1}", frame.x(x), frame.y(v?))))
                .collect();
            if !points.is_empty() {
                let _ = write!(
                    out,
                    r#"<polyline class="line {class}" points="{}"/>"#,
                    points.join(" ")
                );
            }
        }
    };
    let rps: Vec<(f64, Option<f64>)> = points.iter().map(|p| (p.0, Some(p.1))).collect();
    line(&mut out, &top_panel, "rps", &rps);
    let p50: Vec<(f64, Option<f64>)> = points.iter().map(|p| (p.0, p.2)).collect();
    line(&mut out, &bottom_panel, "p50", &p50);
    let p95: Vec<(f64, Option<f64>)> = points.iter().map(|p| (p.0, p.3)).collect();
    line(&mut out, &bottom_panel, "p95", &p95);
    // A column per bucket, invisible, holding its values for hover.
    let width = match points.as_slice() {
        [first, ..] => top_panel.x(2.0 * first.0) - top_panel.x(0.0),
        [] => 0.0,
    };
    for p in &points {
        let ms = |v: Option<f64>| v.map_or("–".into(), |v| crate::report::units::ms(v) + " ms");
        let _ = write!(
            out,
            r#"<rect class="hover" x="{:.1}" y="{TOP}" width="{width:.1}" height="{:.1}"><title>{} s: {} rps, p50 {}, p95 {}</title></rect>"#,
            top_panel.x(p.0) - width / 2.0,
            H - BOTTOM - TOP,
            tick(p.0),
            crate::report::units::rate(p.1),
            ms(p.2),
            ms(p.3)
        );
    }
    out.push_str("</svg>");
    out.push_str(r#"<ul class="legend"><li><span class="swatch rps"></span>throughput</li><li><span class="swatch p50"></span>p50 latency</li><li><span class="swatch p95"></span>p95 latency</li></ul></figure>"#);
    out
}

/// A level's map of request flow ([`service_map::layout`]): services as boxes with their
/// figures, calls as arrows labelled with theirs, the most common critical-path route
/// highlighted; each box and arrow names itself on hover. Empty without calls.
pub fn service_map(level: &crate::report::Level) -> String {
    use crate::report::service_map;
    let Some(map) = service_map::layout(level) else {
        return String::new();
    };
    // Wider than the other charts: boxes and labels need the room.
    const MAP_W: f64 = 1000.0;
    // The boxes stand in what the lanes around them leave.
    let boxes_h = 80.0 * if map.vertical { map.ranks } else { map.breadth } as f64;
    let boxes_w = MAP_W - if map.vertical { map.lanes_room() } else { 0.0 };
    let h = 20.0 + boxes_h + if map.vertical { 0.0 } else { map.lanes_room() };
    let size = map.box_size(boxes_w, boxes_h);
    let (box_w, box_h) = size;
    let at = |x: f64, y: f64| (x * boxes_w, 10.0 + y * boxes_h);
    let centres: Vec<(f64, f64)> = map.nodes.iter().map(|n| at(n.x, n.y)).collect();
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<figure class="chart map"><svg viewBox="0 0 {MAP_W} {h}" role="img" aria-label="Map of request flow at level {}">"##,
        esc(&level.name)
    );
    let mut labels = String::new();
    for (i, e) in map.edges.iter().enumerate() {
        let path = map.path(i, &centres, (boxes_w, boxes_h), size);
        let title = format!("{} → {}: {}", e.edge.caller, e.edge.callee, e.label());
        let points: Vec<String> = path
            .iter()
            .map(|p| format!("{:.1},{:.1}", p.0, p.1))
            .collect();
        let head: Vec<String> = service_map::arrowhead(path[path.len() - 2], path[path.len() - 1])
            .iter()
            .map(|p| format!("{:.1},{:.1}", p.0, p.1))
            .collect();
        let _ = write!(
            out,
            r#"<g class="edge{}"><title>{}</title><polyline points="{}"/><polygon points="{}"/></g>"#,
            if e.edge.on_common_route { " route" } else { "" },
            esc(&title),
            points.join(" "),
            head.join(" ")
        );
        let (x, y) = map.label_at(&path, (boxes_w, boxes_h), size);
        let _ = write!(
            labels,
            r#"<text class="edge-label" x="{x:.1}" y="{:.1}">{}<title>{}</title></text>"#,
            y + 4.0,
            esc(&e.label()),
            esc(&title)
        );
    }
    for n in &map.nodes {
        let (x, y) = at(n.x, n.y);
        let s = n.service;
        let name = if s.instrumented {
            s.service.clone()
        } else {
            format!("{} (no spans)", s.service)
        };
        let _ = write!(
            out,
            r#"<g class="service"><title>{}: {}</title><rect x="{:.1}" y="{:.1}" width="{box_w:.1}" height="{box_h:.1}" rx="4"/><text class="name" x="{:.1}" y="{:.1}">{}</text><text class="figures" x="{:.1}" y="{:.1}">{}</text></g>"#,
            esc(&name),
            esc(&n.figures()),
            x - box_w / 2.0,
            y - box_h / 2.0,
            x - box_w / 2.0 + 6.0,
            y - 4.0,
            esc(&name),
            x - box_w / 2.0 + 6.0,
            y + 12.0,
            esc(&n.figures())
        );
    }
    out.push_str(&labels);
    let _ = write!(
        out,
        "</svg><figcaption>Thick: the most common critical-path route ({} of the level's requests). Boxes: own critical-path time per request and requests in flight (Little's law); arrows: calls per request, their own critical-path time per request, failed calls and retries.</figcaption></figure>",
        crate::report::units::percent(level.common_route_share)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::nice_ticks;

    #[test]
    fn ticks_step_by_one_two_or_five() {
        assert_eq!(nice_ticks(100.0), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(nice_ticks(9.0), [0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(nice_ticks(0.0), [0.0]);
        assert_eq!(nice_ticks(f64::NAN), [0.0]);
    }
}
