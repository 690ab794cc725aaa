//! auto_explain plans, in text and JSON format: the statement they explain and the plan facts
//! the missing-index rules read (node types, sequential scans with the rows their filter threw
//! away).

use crate::model::query::PlanFacts;

/// The query text and the facts of one logged plan (what follows `plan:`); None when the plan
/// names no query.
pub fn parse(plan: &str) -> Option<(String, PlanFacts)> {
    let body = plan.trim_start();
    if body.starts_with('{') {
        parse_json(body)
    } else {
        parse_text(body)
    }
}

fn is_node_line(line: &str) -> bool {
    line.contains("(cost=") || line.contains("(actual ")
}

/// `rows=N loops=M` of an `(actual …)` group.
fn actual_rows(line: &str) -> Option<(u64, u64)> {
    let actual = &line[line.find("(actual ")?..];
    let number = |key: &str| -> Option<u64> {
        let at = actual.find(key)? + key.len();
        let digits: String = actual[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        digits.parse::<f64>().ok().map(|v| v.round() as u64)
    };
    Some((number("rows=")?, number("loops=").unwrap_or(1)))
}

fn parse_text(body: &str) -> Option<(String, PlanFacts)> {
    let mut lines = body.lines().peekable();
    let mut query = String::new();
    let mut found = false;
    while let Some(line) = lines.peek() {
        let line = line.trim_start();
        if is_node_line(line) {
            break;
        }
        if let Some(q) = line.strip_prefix("Query Text: ") {
            query.push_str(q);
            found = true;
        } else if found {
            query.push('\n');
            query.push_str(line);
        }
        lines.next();
    }
    if !found {
        return None;
    }
    let mut facts = PlanFacts::default();
    // The sequential scan the next `Filter:` and `Rows Removed by Filter:` lines belong to.
    let mut scan: Option<(String, u64)> = None;
    for line in lines {
        let line = line.trim_start();
        let node = line.strip_prefix("->").map_or(line, str::trim_start);
        if is_node_line(node) {
            let name = node[..node.find("  (").unwrap_or(node.len())].trim();
            let (node_type, relation) = match name.split_once(" on ") {
                Some((t, r)) => (t, r.split_whitespace().next()),
                None => (name, None),
            };
            let node_type = node_type.split(" using ").next().unwrap_or(node_type);
            let node_type = node_type.strip_prefix("Parallel ").unwrap_or(node_type);
            *facts.node_types.entry(node_type.to_string()).or_default() += 1;
            scan = None;
            if node_type == "Seq Scan"
                && let Some(table) = relation
            {
                let (rows, loops) = actual_rows(node).unwrap_or((0, 1));
                let entry = facts.seq_scans.entry(table.to_string()).or_default();
                entry.plans += 1;
                entry.rows = entry.rows.saturating_add(rows.saturating_mul(loops));
                scan = Some((table.to_string(), loops));
            }
        } else if let Some((table, loops)) = &scan {
            let entry = facts.seq_scans.get_mut(table).expect("scan recorded above");
            if let Some(filter) = line.strip_prefix("Filter: ") {
                if entry.filter.is_empty() {
                    entry.filter = filter.to_string();
                }
            } else if let Some(n) = line.strip_prefix("Rows Removed by Filter: ") {
                let removed = n.trim().parse::<u64>().unwrap_or(0).saturating_mul(*loops);
                entry.rows_removed_by_filter = entry.rows_removed_by_filter.saturating_add(removed);
            }
        }
    }
    Some((query, facts))
}

fn parse_json(body: &str) -> Option<(String, PlanFacts)> {
    use serde_json::Value;
    let value: Value = serde_json::from_str(body).ok()?;
    let query = value.get("Query Text")?.as_str()?.to_string();
    let mut facts = PlanFacts::default();
    let mut stack: Vec<&Value> = value.get("Plan").into_iter().collect();
    while let Some(node) = stack.pop() {
        let node_type = node.get("Node Type").and_then(Value::as_str).unwrap_or("?");
        *facts.node_types.entry(node_type.to_string()).or_default() += 1;
        if node_type == "Seq Scan"
            && let Some(table) = node.get("Relation Name").and_then(Value::as_str)
        {
            let number =
                |key: &str| node.get(key).and_then(Value::as_f64).unwrap_or(0.0).round() as u64;
            let loops = number("Actual Loops").max(1);
            let entry = facts.seq_scans.entry(table.to_string()).or_default();
            entry.plans += 1;
            entry.rows = entry
                .rows
                .saturating_add(number("Actual Rows").saturating_mul(loops));
            entry.rows_removed_by_filter = entry
                .rows_removed_by_filter
                .saturating_add(number("Rows Removed by Filter").saturating_mul(loops));
            if entry.filter.is_empty()
                && let Some(filter) = node.get("Filter").and_then(Value::as_str)
            {
                entry.filter = filter.to_string();
            }
        }
        if let Some(children) = node.get("Plans").and_then(Value::as_array) {
            stack.extend(children.iter().rev());
        }
    }
    Some((query, facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_plans() {
        let plan = "
Query Text: select * from orders
  where customer_id = 42
Hash Join  (cost=1.0..2.0 rows=1 width=8) (actual time=0.1..9.0 rows=3 loops=1)
  ->  Seq Scan on orders o  (cost=0.00..1693.00 rows=1 width=8) (actual time=0.010..8.9 rows=3 loops=2)
        Filter: (customer_id = 42)
        Rows Removed by Filter: 99997
  ->  Index Scan using customers_pkey on customers  (cost=0.29..8.30 rows=1 width=4) (actual rows=1 loops=1)";
        let (query, facts) = parse(plan).unwrap();
        assert_eq!(query, "select * from orders\nwhere customer_id = 42");
        assert_eq!(facts.node_types["Hash Join"], 1);
        assert_eq!(facts.node_types["Index Scan"], 1);
        let scan = &facts.seq_scans["orders"];
        assert_eq!(
            (scan.plans, scan.rows, scan.rows_removed_by_filter),
            (1, 6, 199_994)
        );
        assert_eq!(scan.filter, "(customer_id = 42)");
    }

    #[test]
    fn json_plans() {
        let plan = r#"
{
  "Query Text": "select * from orders where customer_id = 42",
  "Plan": {
    "Node Type": "Gather", "Actual Rows": 3, "Actual Loops": 1,
    "Plans": [
      {"Node Type": "Seq Scan", "Relation Name": "orders", "Actual Rows": 1, "Actual Loops": 3,
       "Filter": "(customer_id = 42)", "Rows Removed by Filter": 33333}
    ]
  }
}"#;
        let (query, facts) = parse(plan).unwrap();
        assert_eq!(query, "select * from orders where customer_id = 42");
        let scan = &facts.seq_scans["orders"];
        assert_eq!((scan.rows, scan.rows_removed_by_filter), (3, 99_999));
        assert_eq!(facts.node_types["Gather"], 1);
        assert!(parse("Seq Scan on t  (cost=1..2)").is_none());
    }
}
