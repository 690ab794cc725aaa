//! SARIF 2.1.0 for code-scanning views (GitHub's among them): one result per finding whose spans
//! carry a code location (`code.filepath`, `code.lineno`), at that file and line, with the
//! finding's stable id as its fingerprint so that the same finding is the same alert from run
//! to run. Findings without a location have nowhere to be shown and are left to the summary.

use crate::report::units::ms_or_unknown;
use crate::report::{Finding, Report};
use serde_json::{Value, json};

/// The file and line of a finding's `code_location` (`function (path:line)` or `(path)`).
pub fn file_and_line(code_location: &str) -> Option<(&str, Option<u64>)> {
    let inner = code_location.strip_suffix(')')?;
    let inner = &inner[inner.rfind('(')? + 1..];
    match inner.rsplit_once(':') {
        Some((file, line)) if line.parse::<u64>().is_ok_and(|l| l > 0) => {
            Some((file, line.parse().ok()))
        }
        _ => Some((inner, None)),
    }
    .filter(|(file, _)| !file.is_empty())
}

fn result(f: &Finding) -> Option<Value> {
    let (file, line) = file_and_line(&f.code_location)?;
    let mut location = json!({"physicalLocation": {"artifactLocation": {"uri": file}}});
    if let Some(line) = line {
        location["physicalLocation"]["region"] = json!({"startLine": line});
    }
    Some(json!({
        "ruleId": f.kind.as_str(),
        "level": "warning",
        "message": {"text": format!(
            "{} in {} ({}): {} — {} ms per request on the critical path, {} ms to save. {}",
            f.kind.as_str(), f.operation, f.service, f.fingerprint,
            ms_or_unknown(f.cp_ms_per_request), ms_or_unknown(f.saving_ms_per_request), f.suggestion
        )},
        "locations": [location],
        "partialFingerprints": {"chokepointFindingId/v1": f.id},
    }))
}

/// The SARIF log of `report`'s findings that carry code locations.
pub fn sarif(report: &Report) -> Value {
    let results: Vec<Value> = report.findings.iter().filter_map(result).collect();
    let mut kinds: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| file_and_line(&f.code_location).is_some())
        .map(|f| f.kind.as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "rules": kinds.iter().map(|k| json!({"id": k, "shortDescription": {"text": k.replace('_', " ")}})).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn code_locations_give_file_and_line() {
        use super::file_and_line;
        assert_eq!(
            file_and_line("OrderService.load (src/orders.js:42)"),
            Some(("src/orders.js", Some(42)))
        );
        assert_eq!(file_and_line("(src/a.py)"), Some(("src/a.py", None)));
        assert_eq!(file_and_line("load_orders"), None);
        assert_eq!(file_and_line("f ()"), None);
    }
}
