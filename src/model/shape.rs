//! What a statement does, as the analysis read it from one exemplar (`analysis::sql` parses
//! it): its type, tables, and the columns its WHERE, JOIN and ORDER BY clauses use. A fact of
//! the model, so that the report can hold it without knowing how it was parsed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a predicate tests its column.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// `=`, `IN (…)`, `= ANY (…)`, `IS NULL`.
    Equality,
    /// `<`, `<=`, `>`, `>=`, `BETWEEN`, `LIKE 'prefix%'`.
    Range,
    /// Anything a plain index on the column cannot serve.
    Other,
}

/// A column a WHERE clause tests.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct Predicate {
    /// `table.column`, or `column` when its table is ambiguous.
    pub column: String,
    /// How it is tested.
    pub test: Test,
}

/// What sqlparser read from a statement's exemplar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatementShape {
    /// `select`, `insert`, `update`, `delete`, or the statement's first keyword.
    pub statement_type: String,
    /// Whether sqlparser parsed the exemplar; when not, the lists below are empty.
    pub parsed: bool,
    /// Why it was not parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
    /// Tables read or written, CTE names left out, sorted.
    pub tables: Vec<String>,
    /// Columns the WHERE clauses test, in the order they appear, each column and test once.
    pub where_columns: Vec<Predicate>,
    /// Columns of JOIN conditions (and of WHERE conditions that compare two tables' columns).
    pub join_columns: Vec<String>,
    /// Columns of ORDER BY, in order.
    pub order_by_columns: Vec<String>,
}
