//! PNG charts of a report: the timeline of the run (throughput and latency over time, the
//! levels shaded), the critical path of the slowest request, and with two load levels or more
//! latency percentiles against throughput, each level's critical-path share stacked for the top
//! operations, and critical-path ms per request against throughput for the operations that
//! change most. The
//! series are prepared from the [`Report`] alone (and tested as data); drawing uses plotters into
//! an RGB buffer with DejaVu Sans embedded in the binary, so that no system font is needed and
//! two runs give the same bytes.

use super::service_map;
use super::units::tick;
use super::{Report, Waterfall, WaterfallSpan};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use rayon::iter::{IntoParallelIterator, ParallelIterator};

/// Width and height of every chart, pixels.
pub const SIZE: (u32, u32) = (1000, 560);
/// Operations drawn in the share and per-request charts; the rest are summed or left out.
const TOP: usize = 6;

/// A chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Throughput and latency over time, levels shaded.
    Timeline,
    /// The critical path of the slowest request.
    Waterfall,
    /// Latency percentiles against throughput.
    Latency,
    /// Stacked critical-path share per level.
    Share,
    /// Critical-path ms per request against throughput.
    PerRequest,
    /// The map of request flow at the last level.
    ServiceMap,
}

impl Chart {
    /// File name in the output folder.
    pub fn file(self) -> &'static str {
        match self {
            Chart::Timeline => "timeline.png",
            Chart::Waterfall => "waterfall.png",
            Chart::Latency => "latency.png",
            Chart::Share => "share.png",
            Chart::PerRequest => "cp_per_request.png",
            Chart::ServiceMap => "service_map.png",
        }
    }

    /// Caption, also the link text in report.md.
    pub fn title(self) -> &'static str {
        match self {
            Chart::Timeline => "Throughput and latency over time",
            Chart::Waterfall => "Critical path of the slowest request",
            Chart::Latency => "End-to-end latency by load level",
            Chart::Share => "Critical-path share per level, top operations",
            Chart::PerRequest => "Critical-path ms per request against throughput",
            Chart::ServiceMap => "Map of request flow at the last level",
        }
    }
}

/// The charts a report has: the timeline when it has two buckets or more, the waterfall of the
/// slowest request when there is one, the three across levels with two levels or more, and
/// the map of request flow when the last level has calls between services.
pub fn names(report: &Report) -> Vec<Chart> {
    let mut charts = Vec::new();
    if report
        .timeline
        .as_ref()
        .is_some_and(|t| t.buckets.len() >= 2)
    {
        charts.push(Chart::Timeline);
    }
    if slowest_request(report).is_some() {
        charts.push(Chart::Waterfall);
    }
    if report.levels.len() >= 2 {
        charts.extend([Chart::Latency, Chart::Share, Chart::PerRequest]);
    }
    if report.levels.last().and_then(service_map::layout).is_some() {
        charts.push(Chart::ServiceMap);
    }
    charts
}

/// The slowest of the requests drawn as their level's slowest (ties: the first drawn).
pub fn slowest_request(report: &Report) -> Option<&Waterfall> {
    report
        .waterfalls
        .iter()
        .filter(|w| w.slowest_at_level && !w.spans.is_empty())
        .reduce(|a, b| if b.duration_ns > a.duration_ns { b } else { a })
}

/// Rows of the waterfall chart at most.
const WATERFALL_ROWS: usize = 20;

/// The rows of the waterfall chart: the spans holding the critical path, in the waterfall's
/// order, and the services in the order they first appear (their colours).
pub fn waterfall_rows(w: &Waterfall) -> (Vec<&WaterfallSpan>, Vec<&str>) {
    let rows: Vec<&WaterfallSpan> = w
        .spans
        .iter()
        .filter(|s| s.holds_path)
        .take(WATERFALL_ROWS)
        .collect();
    let mut services: Vec<&str> = Vec::new();
    for s in &rows {
        if !services.contains(&s.service.as_str()) {
            services.push(&s.service);
        }
    }
    (rows, services)
}

/// One line or stack of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// One value per level.
    pub values: Vec<f64>,
}

/// The timeline as seconds since its start: each bucket's middle with its throughput, p50 and
/// p95 (ms, None without requests); and each level's window (start, end, name).
pub type TimelinePoints = (
    Vec<(f64, f64, Option<f64>, Option<f64>)>,
    Vec<(f64, f64, String)>,
);

/// The timeline's points and the levels' windows, in seconds since the timeline's start.
pub fn timeline_points(report: &Report) -> TimelinePoints {
    let Some(t) = &report.timeline else {
        return Default::default();
    };
    let width = t.bucket_ns as f64 / 1e9;
    let points = t
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| ((i as f64 + 0.5) * width, b.rps, b.p50_ms, b.p95_ms))
        .collect();
    let levels = report
        .levels
        .iter()
        .filter(|l| l.requests > 0)
        .map(|l| {
            let start = (l.start_unix_ns - t.start_unix_ns) as f64 / 1e9;
            (start, start + l.window_ns as f64 / 1e9, l.name.clone())
        })
        .collect();
    (points, levels)
}

/// p50, p95 and p99 latency of each level, ms.
pub fn latency_series(report: &Report) -> Vec<Series> {
    let pick = |label: &str, f: fn(&super::Percentiles) -> f64| Series {
        label: label.into(),
        values: report.levels.iter().map(|l| f(&l.latency_ms)).collect(),
    };
    vec![
        pick("p50", |p| p.p50),
        pick("p95", |p| p.p95),
        pick("p99", |p| p.p99),
    ]
}

/// Each level's share of latency (percent) for the operations with the largest share at the
/// last level, and the rest as `other`: each level's stack adds up to 100. From the scaling
/// rows, which hold every operation at every level, not only the ones a level lists.
pub fn share_series(report: &Report) -> Vec<Series> {
    let mut rows: Vec<&super::ScalingRow> = report.scaling.iter().collect();
    let last = |r: &super::ScalingRow| r.share_by_level.last().copied().unwrap_or(0.0);
    rows.sort_by(|a, b| {
        last(b)
            .total_cmp(&last(a))
            .then_with(|| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)))
    });
    let mut series: Vec<Series> = rows
        .iter()
        .take(TOP)
        .map(|r| Series {
            label: format!("{} {}", r.service, r.operation),
            values: r.share_by_level.iter().map(|s| s * 100.0).collect(),
        })
        .collect();
    let other: Vec<f64> = (0..report.levels.len())
        .map(|i| {
            let shown: f64 = series.iter().filter_map(|s| s.values.get(i)).sum();
            (100.0 - shown).max(0.0)
        })
        .collect();
    series.push(Series {
        label: "other".into(),
        values: other,
    });
    series
}

/// Critical-path ms per request of each level for the operations whose time changes most.
pub fn per_request_series(report: &Report) -> Vec<Series> {
    report
        .scaling
        .iter()
        .take(TOP)
        .map(|r| Series {
            label: format!("{}: {} {}", r.verdict.as_str(), r.service, r.operation),
            values: r.cp_ms_per_request_by_level.clone(),
        })
        .collect()
}

/// The colours of series and services (Tableau 10), grey last for `other`; the HTML report
/// uses the same.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(160, 160, 160),
];

/// The colour of the `i`th series or service; grey for `other`.
fn color_at(i: usize, label: &str) -> RGBColor {
    if label == "other" {
        COLORS[COLORS.len() - 1]
    } else {
        COLORS[i % (COLORS.len() - 1)]
    }
}

/// The same as CSS: `#1f77b4`.
pub fn css_color(i: usize, label: &str) -> String {
    let RGBColor(r, g, b) = color_at(i, label);
    format!("#{r:02x}{g:02x}{b:02x}")
}

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans is a valid font"));
    });
}

/// `text` cut to `max` characters, an ellipsis marking the cut: what fits a label's room.
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// Characters of a legend label that fit the legend column at its font size.
const LEGEND_CHARS: usize = 36;

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws the report's charts, in the order of [`names`], as PNG bytes.
pub fn render(report: &Report) -> Result<Vec<(Chart, Vec<u8>)>, String> {
    register_font();
    let rps: Vec<f64> = report.levels.iter().map(|l| l.rps).collect();
    let levels: Vec<String> = report.levels.iter().map(|l| l.name.clone()).collect();
    names(report)
        .into_par_iter()
        .map(|name| {
            let title = name.title();
            let png = match name {
                Chart::Timeline => draw(|a| timeline(a, title, report)),
                Chart::Waterfall => draw(|a| waterfall(a, title, report)),
                Chart::Latency => {
                    draw(|a| lines(a, title, &rps, &latency_series(report), "latency"))
                }
                Chart::Share => draw(|a| stacks(a, title, &levels, &share_series(report))),
                Chart::PerRequest => draw(|a| {
                    let y = "critical path per request";
                    lines(a, title, &rps, &per_request_series(report), y)
                }),
                Chart::ServiceMap => draw(|a| service_map(a, title, report)),
            }
            .map_err(|e| format!("{}: {e}", name.file()))?;
            Ok((name, png))
        })
        .collect()
}

fn draw(f: impl FnOnce(&Area) -> DrawResult) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        area.fill(&WHITE)?;
        f(&area)?;
        area.present()?;
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(png)
}

/// Width of the legend column right of the plot, pixels.
const LEGEND_W: u32 = 330;

fn color_of(i: usize, s: &Series) -> RGBColor {
    color_at(i, &s.label)
}

/// Titles the chart and fills the legend column right of the plot (a swatch and the label of
/// each series, top down); returns the plot's area.
fn with_legend<'a>(
    area: &Area<'a>,
    title: &str,
    series: &[Series],
) -> Result<Area<'a>, Box<dyn std::error::Error>> {
    let area = area.margin(10, 0, 0, 0).titled(title, (FONT, 24))?;
    let (plot, legend) = area.split_horizontally(SIZE.0 - LEGEND_W);
    for (i, s) in series.iter().enumerate() {
        let y = 40 + 26 * i as i32;
        legend.draw(&Rectangle::new(
            [(8, y - 7), (26, y + 7)],
            color_of(i, s).filled(),
        ))?;
        legend.draw(&Text::new(
            short(&s.label, LEGEND_CHARS),
            (34, y - 8),
            (FONT, 14),
        ))?;
    }
    Ok(plot)
}

/// Lines of `series` against throughput `x`, with a marker at each level.
fn lines(area: &Area, title: &str, x: &[f64], series: &[Series], y_desc: &str) -> DrawResult {
    let area = with_legend(area, title, series)?;
    let (x_lo, x_hi) = x
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let pad = ((x_hi - x_lo) * 0.05).max(1.0);
    let y_hi = series
        .iter()
        .flat_map(|s| &s.values)
        .cloned()
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.15;
    let mut chart = ChartBuilder::on(&area)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .build_cartesian_2d((x_lo - pad)..(x_hi + pad), 0f64..y_hi)?;
    chart
        .configure_mesh()
        .x_desc("throughput")
        .y_desc(y_desc)
        .x_label_formatter(&|v| format!("{} rps", tick(*v)))
        .y_label_formatter(&|v| format!("{} ms", tick(*v)))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = color_of(i, s);
        let points: Vec<(f64, f64)> = x.iter().copied().zip(s.values.iter().copied()).collect();
        chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    Ok(())
}

/// One stacked bar per level.
fn stacks(area: &Area, title: &str, levels: &[String], series: &[Series]) -> DrawResult {
    let area = with_legend(area, title, series)?;
    let n = levels.len();
    // A segmented range a..b has a segment for each of a..=b.
    let mut chart = ChartBuilder::on(&area)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..100f64)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("load level")
        .y_desc("share of end-to-end latency")
        .y_label_formatter(&|v| format!("{}%", tick(*v)))
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => levels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let mut base = vec![0f64; n];
    for (i, s) in series.iter().enumerate() {
        let color = color_of(i, s);
        let bars: Vec<Rectangle<(SegmentValue<usize>, f64)>> = (0..n)
            .map(|l| {
                let (lo, hi) = (base[l], base[l] + s.values.get(l).copied().unwrap_or(0.0));
                base[l] = hi;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(l), lo),
                        (SegmentValue::Exact(l + 1), hi),
                    ],
                    color.filled(),
                );
                bar.set_margin(0, 0, 24, 24);
                bar
            })
            .collect();
        chart.draw_series(bars)?;
    }
    Ok(())
}

/// Throughput above, p50 and p95 latency below, against time; the levels' windows shaded and
/// named in both.
fn timeline(area: &Area, title: &str, report: &Report) -> DrawResult {
    let (points, levels) = timeline_points(report);
    let area = area.margin(10, 0, 0, 0).titled(title, (FONT, 24))?;
    let (top, bottom) = area.split_vertically(SIZE.1 * 2 / 5);
    // The last bucket's middle plus half a bucket.
    let x_hi = match points.as_slice() {
        [first, .., last] => last.0 + first.0,
        _ => 1.0,
    };
    let rps_hi = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let mut chart = timeline_panel(&top, x_hi, (rps_hi, "rps"), "throughput", "", &levels)?;
    chart.draw_series(LineSeries::new(
        points.iter().map(|p| (p.0, p.1)),
        COLORS[0].stroke_width(2),
    ))?;
    let ms_hi = points.iter().filter_map(|p| p.3).fold(0.0, f64::max);
    let x_desc = "time since the run started";
    let mut chart = timeline_panel(&bottom, x_hi, (ms_hi, "ms"), "latency", x_desc, &levels)?;
    type Pick = fn(&(f64, f64, Option<f64>, Option<f64>)) -> Option<f64>;
    let percentiles: [(&str, Pick); 2] = [("p50", |p| p.2), ("p95", |p| p.3)];
    for (i, (label, pick)) in percentiles.into_iter().enumerate() {
        let color = COLORS[i + 1];
        // A bucket without requests breaks the line.
        for run in points.split(|p| pick(p).is_none()) {
            chart.draw_series(LineSeries::new(
                run.iter().filter_map(|p| Some((p.0, pick(p)?))),
                color.stroke_width(2),
            ))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            label,
            (x_hi * (0.88 + 0.06 * i as f64), ms_hi * 1.02),
            (FONT, 14).into_font().color(&color),
        )))?;
    }
    Ok(())
}

type TimeChart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One panel of the timeline: axes from 0 to `x_hi` s and to `y_hi` of `y_unit`, the levels
/// shaded.
fn timeline_panel<'a, 'b>(
    on: &'a Area<'b>,
    x_hi: f64,
    (y_hi, y_unit): (f64, &str),
    y_desc: &str,
    x_desc: &str,
    levels: &[(f64, f64, String)],
) -> Result<TimeChart<'a, 'b>, Box<dyn std::error::Error>> {
    let top = y_hi.max(1e-3) * 1.15;
    let mut chart = ChartBuilder::on(on)
        .margin(12)
        .margin_right(28)
        .x_label_area_size(if x_desc.is_empty() { 20 } else { 44 })
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..x_hi, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| format!("{} s", tick(*v)))
        .y_label_formatter(&|v| format!("{} {y_unit}", tick(*v)))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()?;
    let shade = RGBColor(225, 236, 247);
    chart.draw_series(
        levels
            .iter()
            .map(|(a, b, _)| Rectangle::new([(*a, 0.0), (*b, top)], shade.filled())),
    )?;
    chart.draw_series(
        levels
            .iter()
            .map(|(a, _, name)| Text::new(short(name, 24), (*a, top * 0.97), (FONT, 13))),
    )?;
    Ok(chart)
}

/// One row per span holding the critical path of the slowest request: its extent in grey, the
/// stretches of the path it holds itself in its service's colour, the services in the legend.
fn waterfall(area: &Area, title: &str, report: &Report) -> DrawResult {
    let Some(w) = slowest_request(report) else {
        return Ok(());
    };
    let (rows, services) = waterfall_rows(w);
    let legend: Vec<Series> = services
        .iter()
        .map(|s| Series {
            label: s.to_string(),
            values: Vec::new(),
        })
        .collect();
    let duration_ms = w.duration_ns as f64 / 1e6;
    let caption = format!("{title} ({} ms)", tick(duration_ms));
    let area = with_legend(area, &caption, &legend)?;
    let labels: Vec<String> = rows.iter().map(|s| short(&s.operation, 34)).collect();
    let n = rows.len();
    let mut chart = ChartBuilder::on(&area)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(250)
        .build_cartesian_2d(0f64..duration_ms.max(1e-3), (n as f64 - 0.5)..-0.5f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_label_formatter(&|v| format!("{} ms", tick(*v)))
        .x_desc(format!(
            "time since the request started; trace {}",
            w.trace_id
        ))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let ms = |ns: i64| ns as f64 / 1e6;
    for (row, s) in rows.iter().enumerate() {
        let y = row as f64;
        let i = services.iter().position(|&x| x == s.service).unwrap_or(0);
        let color = color_at(i, &s.service);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(ms(s.start_ns), y - 0.3), (ms(s.end_ns), y + 0.3)],
            RGBColor(215, 215, 215).filled(),
        )))?;
        chart.draw_series(
            s.path_ns.iter().map(|&(a, b)| {
                Rectangle::new([(ms(a), y - 0.3), (ms(b), y + 0.3)], color.filled())
            }),
        )?;
    }
    Ok(())
}

/// The last level's map: services as boxes with their figures, calls as arrows labelled with
/// theirs, the most common critical-path route thick and coloured.
fn service_map(area: &Area, title: &str, report: &Report) -> DrawResult {
    let Some(level) = report.levels.last() else {
        return Ok(());
    };
    let Some(map) = service_map::layout(level) else {
        return Ok(());
    };
    let caption = format!(
        "{title} ({}; thick: the most common critical-path route, {} of requests)",
        short(&level.name, 24),
        super::units::percent(level.common_route_share)
    );
    let area = area.margin(10, 10, 10, 10).titled(&caption, (FONT, 20))?;
    let (w, h) = area.dim_in_pixel();
    // The boxes stand in what the lanes around them leave.
    let (w, h) = (f64::from(w), f64::from(h));
    let (boxes_w, boxes_h) = if map.vertical {
        (w - map.lanes_room(), h)
    } else {
        (w, h - map.lanes_room())
    };
    let size = map.box_size(boxes_w, boxes_h);
    let (box_w, box_h) = (size.0 as i32, size.1 as i32);
    let centres: Vec<(f64, f64)> = map
        .nodes
        .iter()
        .map(|n| (n.x * boxes_w, n.y * boxes_h))
        .collect();
    let route = RGBColor(230, 120, 20);
    // Highlighted edges last, over the others; labels after the boxes, on white.
    let mut order: Vec<usize> = (0..map.edges.len()).collect();
    order.sort_by_key(|&i| map.edges[i].edge.on_common_route);
    let mut labels: Vec<(String, (i32, i32))> = Vec::new();
    let point = |p: (f64, f64)| (p.0 as i32, p.1 as i32);
    for i in order {
        let e = &map.edges[i];
        let path = map.path(i, &centres, (boxes_w, boxes_h), size);
        let (color, width) = if e.edge.on_common_route {
            (route, 3)
        } else {
            (RGBColor(150, 150, 150), 1)
        };
        area.draw(&PathElement::new(
            path.iter().copied().map(point).collect::<Vec<_>>(),
            color.stroke_width(width),
        ))?;
        let (before, end) = (path[path.len() - 2], path[path.len() - 1]);
        area.draw(&Polygon::new(
            service_map::arrowhead(before, end).map(point).to_vec(),
            color.filled(),
        ))?;
        labels.push((
            e.label(),
            point(map.label_at(&path, (boxes_w, boxes_h), size)),
        ));
    }
    for (n, &(x, y)) in map.nodes.iter().zip(&centres) {
        let (x, y) = (x as i32, y as i32);
        let corner = (x - box_w / 2, y - box_h / 2);
        area.draw(&Rectangle::new(
            [corner, (x + box_w / 2, y + box_h / 2)],
            RGBColor(240, 244, 250).filled(),
        ))?;
        area.draw(&Rectangle::new(
            [corner, (x + box_w / 2, y + box_h / 2)],
            RGBColor(90, 110, 140).stroke_width(1),
        ))?;
        let name = if n.service.instrumented {
            short(&n.service.service, 24)
        } else {
            short(&format!("{} (no spans)", n.service.service), 24)
        };
        area.draw(&Text::new(name, (corner.0 + 6, corner.1 + 6), (FONT, 14)))?;
        area.draw(&Text::new(
            n.figures(),
            (corner.0 + 6, corner.1 + 26),
            (FONT, 11),
        ))?;
    }
    // Centred on their place, about 6 pixels a character.
    for (label, (x, y)) in labels {
        let width = 6 * label.chars().count() as i32;
        let (x, y) = (x - width / 2, y - 7);
        area.draw(&Rectangle::new(
            [(x - 2, y - 1), (x + width + 2, y + 14)],
            WHITE.mix(0.85).filled(),
        ))?;
        area.draw(&Text::new(label, (x, y), (FONT, 12)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_levels() -> Report {
        let report: Report = serde_json::from_str(
            include_str!("../../tests/it/snapshots/it__reports__demo_report_json.snap")
                .split("---\n")
                .nth(2)
                .unwrap(),
        )
        .unwrap();
        let mut report = report;
        report.levels.truncate(1);
        let mut high = report.levels[0].clone();
        high.name = "high".into();
        high.rps *= 2.0;
        high.latency_ms.p95 *= 1.5;
        report.levels.push(high);
        // Every operation at the same share at both levels.
        for row in &mut report.scaling {
            let first = row.share_by_level[0];
            row.share_by_level = vec![first, first];
        }
        report
    }

    #[test]
    fn one_level_has_only_the_timeline_and_the_waterfall() {
        let mut report = two_levels();
        report.levels.truncate(1);
        let files: Vec<&str> = names(&report).iter().map(|n| n.file()).collect();
        assert_eq!(files, ["timeline.png", "waterfall.png", "service_map.png"]);
        report.waterfalls.clear();
        report.timeline = None;
        report.levels[0].edges.clear();
        assert!(render(&report).unwrap().is_empty());
    }

    #[test]
    fn the_timeline_is_in_seconds_from_its_start_with_the_levels_windows() {
        let report = two_levels();
        let (points, levels) = timeline_points(&report);
        let t = report.timeline.as_ref().unwrap();
        assert_eq!(points.len(), t.buckets.len());
        let width = t.bucket_ns as f64 / 1e9;
        assert_eq!(points[0].0, width / 2.0);
        assert_eq!(points[3].1, t.buckets[3].rps);
        let first = &report.levels[0];
        assert_eq!(
            levels[0].0,
            (first.start_unix_ns - t.start_unix_ns) as f64 / 1e9
        );
        assert!(levels[0].1 > levels[0].0);
    }

    #[test]
    fn each_level_stack_adds_up_to_100_percent() {
        let series = share_series(&two_levels());
        assert_eq!(series.last().unwrap().label, "other");
        for level in 0..2 {
            let total: f64 = series.iter().map(|s| s.values[level]).sum();
            assert!((total - 100.0).abs() < 1e-9, "{total}");
        }
        let latency = latency_series(&two_levels());
        assert_eq!(latency[1].label, "p95");
        assert_eq!(latency[1].values[1], latency[1].values[0] * 1.5);
    }

    #[test]
    fn charts_decode_as_png_of_the_size_and_are_the_same_bytes_twice() {
        let report = two_levels();
        let first = render(&report).unwrap();
        let second = render(&report).unwrap();
        assert_eq!(
            first.len(),
            6,
            "the timeline, the waterfall, the three across levels and the map"
        );
        for ((name, png), (_, again)) in first.iter().zip(&second) {
            assert_eq!(png, again, "{}", name.file());
            let decoder = png::Decoder::new(std::io::Cursor::new(png.as_slice()));
            let reader = decoder.read_info().expect("a PNG");
            let info = reader.info();
            assert_eq!((info.width, info.height), SIZE, "{}", name.file());
        }
    }
}
