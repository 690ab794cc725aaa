//! The map of request flow at one level, laid out once for the PNG chart and the HTML report:
//! services as boxes, caller → callee edges as arrows. Services stand in ranks by call depth
//! (a service no traced caller calls is an entry, in the first rank; a callee stands one rank
//! after its deepest caller, so a database called from everywhere comes last), and within a
//! rank by their time, largest first. Ranks are columns, the flow left to right, up to four
//! deep; a deeper system flows top to bottom, where more ranks fit. The edges of the level's
//! most common critical-path route are highlighted. Positions are fractions of the drawing, so
//! that each renderer scales them to its own size; the same level always gives the same
//! layout.

use super::{EdgeRow, Level, ServiceRow};
use std::collections::BTreeMap;

/// A service placed on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct MapNode<'l> {
    /// The service.
    pub service: &'l ServiceRow,
    /// Its centre's distance from the left, as a fraction of the drawing's width.
    pub x: f64,
    /// Its centre's distance from the top, as a fraction of the drawing's height.
    pub y: f64,
    /// Its rank: its call depth.
    pub rank: usize,
}

/// An edge between two placed services.
#[derive(Debug, Clone, PartialEq)]
pub struct MapEdge<'l> {
    /// The caller, as an index into the nodes.
    pub from: usize,
    /// The callee, as an index into the nodes.
    pub to: usize,
    /// It goes around the boxes, in a lane of its own: a straight line would cross a box (it
    /// skips a rank where a service stands in its way) or run back.
    pub around: bool,
    /// The edge.
    pub edge: &'l EdgeRow,
}

/// A level's map.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceMap<'l> {
    /// The services, in the level's order.
    pub nodes: Vec<MapNode<'l>>,
    /// The edges between them, in the level's order.
    pub edges: Vec<MapEdge<'l>>,
    /// Ranks (call depths).
    pub ranks: usize,
    /// The most services in one rank.
    pub breadth: usize,
    /// The flow runs top to bottom (more than four ranks), else left to right.
    pub vertical: bool,
}

/// Ranks the flow holds left to right; a deeper map runs top to bottom.
const MAX_COLUMNS: usize = 4;

impl ServiceMap<'_> {
    /// The size of a service's box in a drawing `w` by `h`: room for its name and figures,
    /// less where the ranks or the services across one are many.
    pub fn box_size(&self, w: f64, h: f64) -> (f64, f64) {
        if self.vertical {
            (
                (w / self.breadth as f64 - 16.0).min(200.0),
                (h / self.ranks as f64 - 30.0).clamp(20.0, 46.0),
            )
        } else {
            ((w / self.ranks as f64 - 50.0).min(200.0), 46.0)
        }
    }

    /// The room the lanes of the edges around the boxes take past them (below, or right when
    /// the flow runs down), in the units of [`ServiceMap::path`].
    pub fn lanes_room(&self) -> f64 {
        let lanes = self.edges.iter().filter(|e| e.around).count();
        if lanes == 0 {
            0.0
        } else {
            14.0 + 16.0 * lanes as f64
        }
    }

    /// The points edge `index` is drawn through, in a drawing `w` by `h` with boxes of `size`
    /// centred at `centres` (one per node): from the caller's side facing the flow straight to
    /// the callee's side facing back; or, for an edge that goes around, out of the same side
    /// into the room after the caller's rank, along a lane of its own past the boxes of the
    /// ranks it spans (below them, or right of them when the flow runs down), and back through
    /// the room before the callee's rank into the same side of the callee: through the rooms
    /// between ranks, where no box stands.
    pub fn path(
        &self,
        index: usize,
        centres: &[(f64, f64)],
        (w, h): (f64, f64),
        (box_w, box_h): (f64, f64),
    ) -> Vec<(f64, f64)> {
        // In the flow's own terms, (along, across), turned back at the end.
        let turn = |p: (f64, f64)| if self.vertical { (p.1, p.0) } else { p };
        let (box_along, box_across) = turn((box_w, box_h));
        let room = turn((w, h)).0 / self.ranks as f64 - box_along;
        let e = &self.edges[index];
        let (from, to) = (turn(centres[e.from]), turn(centres[e.to]));
        let start = (from.0 + box_along / 2.0, from.1);
        let end = (to.0 - box_along / 2.0, to.1);
        if !e.around {
            return vec![turn(start), turn(end)];
        }
        let lane = self.edges[..index].iter().filter(|e| e.around).count();
        let ranks = {
            let (a, b) = (self.nodes[e.from].rank, self.nodes[e.to].rank);
            a.min(b)..=a.max(b)
        };
        let beyond = self
            .nodes
            .iter()
            .zip(centres)
            .filter(|(n, _)| ranks.contains(&n.rank))
            .map(|(_, &c)| turn(c).1)
            .fold(f64::MIN, f64::max);
        let across = beyond + box_across / 2.0 + 14.0 + 16.0 * lane as f64;
        // Each lane's turns a little apart in the rooms, within a third of them.
        let step = (room / 3.0).min(6.0 + 6.0 * (lane % 4) as f64);
        let (out, back) = (start.0 + step, end.0 - step);
        [
            start,
            (out, start.1),
            (out, across),
            (back, across),
            (back, end.1),
            end,
        ]
        .into_iter()
        .map(turn)
        .collect()
    }

    /// Where an edge's label goes, on its `path` in a drawing `w` by `h` with boxes of `size`:
    /// on a straight edge, in the middle of the room between the caller's rank and the next,
    /// so that the labels of a caller's edges stand apart as their lines fan out; on an edge
    /// around the boxes, in the middle of its lane.
    pub fn label_at(
        &self,
        path: &[(f64, f64)],
        (w, h): (f64, f64),
        (box_w, box_h): (f64, f64),
    ) -> (f64, f64) {
        if let [_, _, a, b, _, _] = path {
            return ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        }
        let (start, end) = (path[0], path[path.len() - 1]);
        let swap = |p: (f64, f64)| (p.1, p.0);
        if self.vertical {
            let gap = h / self.ranks as f64 - box_h;
            swap(label_along(swap(start), swap(end), gap))
        } else {
            label_along(start, end, w / self.ranks as f64 - box_w)
        }
    }
}

/// A label's place on a line running left to right: `gap` / 2 from its start, or its middle
/// when shorter or running back.
fn label_along(start: (f64, f64), end: (f64, f64), gap: f64) -> (f64, f64) {
    let dx = end.0 - start.0;
    if dx <= 0.0 {
        return ((start.0 + end.0) / 2.0, (start.1 + end.1) / 2.0);
    }
    let x = start.0 + (gap / 2.0).min(dx / 2.0);
    (x, start.1 + (x - start.0) * (end.1 - start.1) / dx)
}

impl MapEdge<'_> {
    /// What the arrow says: calls per request and their own critical-path ms per request, and
    /// the failed calls' share and the retries where there are any.
    pub fn label(&self) -> String {
        let e = self.edge;
        let mut label = format!(
            "{:.2}/req · {} ms",
            e.calls_per_request,
            super::units::ms(e.cp_ms_per_request)
        );
        if e.failed_calls > 0 {
            let share = e.failed_calls as f64 / e.calls.max(1) as f64;
            label += &format!(" · {} failed", super::units::percent(share));
        }
        if e.retries > 0 {
            label += &format!(" · {} retries", e.retries);
        }
        label
    }
}

impl MapNode<'_> {
    /// What the box says under the service's name: its own time per request (for a peer
    /// without spans, the time its callers wait on it) and its requests in flight.
    pub fn figures(&self) -> String {
        let s = self.service;
        let (what, ms) = if s.instrumented {
            ("own", s.own_ms_per_request)
        } else {
            ("waited", s.inbound_ms_per_request)
        };
        format!(
            "{what} {} ms/req · {:.1} in flight",
            super::units::ms(ms),
            s.in_flight
        )
    }
}

/// The three corners of an arrowhead at `end` of a line from `start`: its tip and its base,
/// 10 units back along the line and 5 either side.
pub fn arrowhead(start: (f64, f64), end: (f64, f64)) -> [(f64, f64); 3] {
    let (dx, dy) = (end.0 - start.0, end.1 - start.1);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let back = (end.0 - 10.0 * ux, end.1 - 10.0 * uy);
    [
        end,
        (back.0 - 5.0 * uy, back.1 + 5.0 * ux),
        (back.0 + 5.0 * uy, back.1 - 5.0 * ux),
    ]
}

/// The map of `level`; None without edges.
pub fn layout(level: &Level) -> Option<ServiceMap<'_>> {
    if level.edges.is_empty() {
        return None;
    }
    let index: BTreeMap<&str, usize> = level
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.service.as_str(), i))
        .collect();
    let edges: Vec<MapEdge<'_>> = level
        .edges
        .iter()
        .filter_map(|e| {
            Some(MapEdge {
                from: *index.get(e.caller.as_str())?,
                to: *index.get(e.callee.as_str())?,
                around: false,
                edge: e,
            })
        })
        .collect();
    // Longest call depth from the entries, relaxed at most once per service (a cycle stops
    // there instead of pushing its services right for ever).
    let n = level.services.len();
    let mut column = vec![0usize; n];
    for _ in 0..n {
        let mut moved = false;
        for e in edges.iter().filter(|e| e.from != e.to) {
            if column[e.to] < column[e.from] + 1 && column[e.from] + 1 < n {
                column[e.to] = column[e.from] + 1;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    let ranks = column.iter().max().map_or(1, |&c| c + 1);
    let vertical = ranks > MAX_COLUMNS;
    // Services are ranked by their time already: each rank keeps that order.
    let mut in_rank: Vec<Vec<usize>> = vec![Vec::new(); ranks];
    for (i, &c) in column.iter().enumerate() {
        in_rank[c].push(i);
    }
    let breadth = in_rank.iter().map(Vec::len).max().unwrap_or(1);
    let mut nodes: Vec<Option<MapNode<'_>>> = vec![None; n];
    for (rank, members) in in_rank.iter().enumerate() {
        for (place, &i) in members.iter().enumerate() {
            let along = (rank as f64 + 0.5) / ranks as f64;
            let across = (place as f64 + 0.5) / members.len() as f64;
            let (x, y) = if vertical {
                (across, along)
            } else {
                (along, across)
            };
            nodes[i] = Some(MapNode {
                service: &level.services[i],
                x,
                y,
                rank,
            });
        }
    }
    let nodes: Vec<MapNode<'_>> = nodes.into_iter().flatten().collect();
    let mut edges = edges;
    for e in &mut edges {
        e.around = blocked(&nodes, e.from, e.to, vertical);
    }
    Some(ServiceMap {
        nodes,
        edges,
        ranks,
        breadth,
        vertical,
    })
}

/// Half a box across the flow, as a fraction of the drawing, with a margin: what a straight
/// edge must stay clear of.
const BOX_ACROSS: f64 = 0.07;

/// Whether a straight edge from node `from` to `to` would run back (to its own rank or an
/// earlier one) or cross a box of a rank it skips.
fn blocked(nodes: &[MapNode<'_>], from: usize, to: usize, vertical: bool) -> bool {
    let (a, b) = (&nodes[from], &nodes[to]);
    if b.rank <= a.rank {
        return true;
    }
    let across = |n: &MapNode<'_>| if vertical { n.x } else { n.y };
    nodes.iter().any(|n| {
        n.rank > a.rank && n.rank < b.rank && {
            let t = (n.rank - a.rank) as f64 / (b.rank - a.rank) as f64;
            let line = across(a) + t * (across(b) - across(a));
            (line - across(n)).abs() < BOX_ACROSS
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str) -> ServiceRow {
        ServiceRow {
            service: name.into(),
            instrumented: true,
            own_ns_total: 0,
            own_ms_per_request: 0.0,
            own_share: 0.0,
            own_ms_per_request_se: None,
            inbound_ns_total: 0,
            inbound_ms_per_request: 0.0,
            inbound_share: 0.0,
            inbound_ms_per_request_se: None,
            inbound_calls: 0,
            callers: Vec::new(),
            outbound_ms_per_request: 0.0,
            in_flight: 0.0,
        }
    }

    fn edge(caller: &str, callee: &str) -> EdgeRow {
        EdgeRow {
            caller: caller.into(),
            callee: callee.into(),
            calls: 10,
            calls_per_request: 1.0,
            failed_calls: 0,
            attempts: 10,
            retries: 0,
            amplification: 1.0,
            on_common_route: false,
            cp_ms_per_request: 1.0,
            share: 0.1,
            cp_ms_per_request_se: None,
        }
    }

    fn level(services: &[&str], edges: &[(&str, &str)]) -> Level {
        let mut level: Level = serde_json::from_value(serde_json::json!({
            "name": "l", "requests": 1, "rps": 1.0, "window_ns": 1,
            "latency_ms": {"mean": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0},
            "error_rate": 0.0, "latency_ns_total": 0, "bottlenecks": [],
            "other": {"operations": 0, "cp_ns_total": 0, "share": 0.0, "cp_ms_per_request": 0.0},
            "queries": [], "endpoints": []
        }))
        .unwrap();
        level.services = services.iter().map(|s| service(s)).collect();
        level.edges = edges.iter().map(|(a, b)| edge(a, b)).collect();
        level
    }

    fn ranks(map: &ServiceMap) -> Vec<(String, usize)> {
        map.nodes
            .iter()
            .map(|n| {
                let along = if map.vertical { n.y } else { n.x };
                let rank = (along * map.ranks as f64 - 0.5).round() as usize;
                (n.service.service.clone(), rank)
            })
            .collect()
    }

    #[test]
    fn a_callee_stands_right_of_its_deepest_caller_and_cycles_end() {
        let l = level(
            &["db", "web", "cart", "pay"],
            &[
                ("web", "cart"),
                ("web", "pay"),
                ("cart", "db"),
                ("pay", "db"),
                ("web", "db"),
            ],
        );
        let map = layout(&l).unwrap();
        assert_eq!(
            ranks(&map),
            [
                ("db".into(), 2),
                ("web".into(), 0),
                ("cart".into(), 1),
                ("pay".into(), 1)
            ]
        );
        assert_eq!((map.ranks, map.breadth, map.vertical), (3, 2, false));
        assert_eq!(layout(&l), Some(map), "the same level, the same map");
        // A cycle: each service at most as far right as there are services.
        let cycle = level(&["a", "b"], &[("a", "b"), ("b", "a")]);
        let map = layout(&cycle).unwrap();
        assert!(map.nodes.iter().all(|n| n.x < 1.0));
        assert_eq!(layout(&level(&["a"], &[])), None);
        // Five deep: the flow runs top to bottom.
        let names = ["a", "b", "c", "d", "e"];
        let chain: Vec<(&str, &str)> = names.windows(2).map(|w| (w[0], w[1])).collect();
        let l = level(&names, &chain);
        let map = layout(&l).unwrap();
        assert!(map.vertical);
        assert_eq!(
            ranks(&map).iter().map(|r| r.1).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert!(map.nodes.iter().all(|n| n.x == 0.5));
        let centres = [(50.0, 10.0), (50.0, 110.0), (50.0, 210.0)];
        let (drawing, size) = ((100.0, 500.0), (40.0, 20.0));
        assert_eq!(
            map.path(0, &centres, drawing, size),
            [(50.0, 20.0), (50.0, 100.0)]
        );
        // An edge over a rank goes around: into the room below its caller, right past the
        // boxes, and back through the room above its callee.
        let mut l = l.clone();
        l.edges.push(edge("a", "c"));
        let map = layout(&l).unwrap();
        assert!(map.edges[4].around && !map.edges[0].around);
        assert_eq!(
            map.path(4, &centres, drawing, size),
            [
                (50.0, 20.0),
                (50.0, 26.0),
                (84.0, 26.0),
                (84.0, 194.0),
                (50.0, 194.0),
                (50.0, 200.0)
            ]
        );
    }

    #[test]
    fn an_edge_says_its_failures_and_retries_only_when_it_has_some() {
        let mut l = level(&["a", "b"], &[("a", "b")]);
        let map = layout(&l).unwrap();
        assert_eq!(map.edges[0].label(), "1.00/req · 1.000 ms");
        l.edges[0].failed_calls = 2;
        l.edges[0].retries = 1;
        let map = layout(&l).unwrap();
        assert_eq!(
            map.edges[0].label(),
            "1.00/req · 1.000 ms · 20.0% failed · 1 retries"
        );
    }
}
