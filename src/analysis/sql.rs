//! What a statement does: its type, the tables it reads or writes, and the columns its WHERE,
//! JOIN and ORDER BY clauses use, read by sqlparser from one exemplar per fingerprint (never
//! from every event: a log of millions of executions costs one parse per distinct statement).
//!
//! The lexical fingerprint stays the join key; this shape only describes it, and is what a
//! missing-index suggestion is built from. A statement sqlparser cannot parse keeps its
//! fingerprint and is marked unparsed with the parser's message; its type is then the first
//! word of the fingerprint.
//!
//! Columns are named `table.column` once resolved: a qualifier is looked up among the aliases
//! and table names in scope (innermost query first, so a correlated subquery sees its outer
//! query); an unqualified column belongs to the only table in scope, and stays unqualified when
//! there are several. A predicate column is tested by *equality* (`=`, `IN`, `= ANY`,
//! `IS NULL`), by *range* (`<`, `>`, `BETWEEN`, `LIKE 'prefix%'`) or otherwise (`<>`, a function
//! of the column, `LIKE '%…'`): only the first two can use a plain B-tree index on the column.

use crate::model::fingerprint::Dialect;
use crate::model::shape::{Predicate, StatementShape, Test};
use sqlparser::ast::{
    CopySource, Expr, FromTable, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, InTarget,
    JoinConstraint, JoinOperator, ObjectName, OrderByExpr, OrderByKind, Query, Select, SetExpr,
    Statement, TableFactor, TableObject, TableWithJoins, UpdateTableFromKind, Value,
};
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};
use sqlparser::parser::Parser;

/// Whether a normalized statement is the database's or the session's housekeeping rather than
/// the application's work: transaction control, session settings, maintenance, statistics and
/// log administration. Such statements repeat by design or are run by operators; they are
/// listed apart, never ranked or judged.
pub fn is_housekeeping(fingerprint: &str) -> bool {
    const SESSION: [&str; 20] = [
        "begin",
        "commit",
        "rollback",
        "start",
        "end",
        "savepoint",
        "release",
        "abort",
        "set",
        "show",
        "reset",
        "discard",
        "deallocate",
        "listen",
        "unlisten",
        "checkpoint",
        "vacuum",
        "analyze",
        "use",
        "unlock",
    ];
    /// Administrative functions called alone in a `SELECT`.
    const ADMIN: [&str; 9] = [
        "pg_stat_statements_reset",
        "pg_stat_reset",
        "pg_stat_reset_shared",
        "pg_rotate_logfile",
        "pg_reload_conf",
        "pg_cancel_backend",
        "pg_terminate_backend",
        "set_config",
        "pg_stat_clear_snapshot",
    ];
    let mut words = fingerprint.split_whitespace();
    let first = words.next().unwrap_or("");
    if SESSION.contains(&first) {
        return true;
    }
    if first != "select" {
        return false;
    }
    let rest = fingerprint["select".len()..].trim();
    ADMIN.iter().any(|f| {
        rest.strip_prefix(f)
            .is_some_and(|call| call.starts_with('(') && !call.contains(" from "))
    })
}

/// Exemplars longer than this are not parsed (a statement with a 10 MB literal list says no
/// more about its columns than a short one).
const MAX_PARSED_BYTES: usize = 256 * 1024;

/// The shape of `exemplar`, whose normalized form is `fingerprint`.
pub fn shape(exemplar: &str, fingerprint: &str, dialect: Dialect) -> StatementShape {
    let first_word = || {
        fingerprint
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .find(|w| !w.is_empty())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let unparsed = |why: String| StatementShape {
        statement_type: first_word(),
        parse_error: Some(why),
        ..StatementShape::default()
    };
    if exemplar.len() > MAX_PARSED_BYTES {
        return unparsed(format!(
            "not parsed: {} bytes, over {MAX_PARSED_BYTES}",
            exemplar.len()
        ));
    }
    let parsed = match dialect {
        Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, exemplar),
        Dialect::Mysql => Parser::parse_sql(&MySqlDialect {}, exemplar),
    };
    let statement = match parsed {
        Ok(statements) => match statements.into_iter().next() {
            Some(s) => s,
            None => return unparsed("no statement".into()),
        },
        Err(e) => return unparsed(e.to_string()),
    };
    let mut walker = Walker {
        fold_case: dialect == Dialect::Postgres,
        ..Walker::default()
    };
    let statement_type = match &statement {
        Statement::Query(q) => {
            walker.query(q);
            match &*q.body {
                SetExpr::Insert(_) => "insert",
                SetExpr::Update(_) => "update",
                SetExpr::Delete(_) => "delete",
                _ => "select",
            }
            .to_string()
        }
        other => match walker.statement(other) {
            Some(kind) => kind.to_string(),
            None => first_word(),
        },
    };
    let mut tables: Vec<String> = walker
        .tables
        .into_iter()
        .filter(|t| !walker.ctes.contains(t))
        .collect();
    tables.sort();
    tables.dedup();
    StatementShape {
        statement_type,
        parsed: true,
        parse_error: None,
        tables,
        where_columns: walker.where_columns,
        join_columns: walker.join_columns,
        order_by_columns: walker.order_by_columns,
    }
}

/// One query level's tables: (name or alias it is referred to by, table name).
type Scope = Vec<(String, String)>;

#[derive(Default)]
struct Walker {
    tables: Vec<String>,
    ctes: Vec<String>,
    where_columns: Vec<Predicate>,
    join_columns: Vec<String>,
    order_by_columns: Vec<String>,
    /// Innermost last.
    scopes: Vec<Scope>,
    fold_case: bool,
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

impl Walker {
    /// A name as the database resolves it: PostgreSQL folds unquoted names to lower case; MySQL
    /// keeps table names as written (case-sensitive on Linux).
    fn ident(&self, i: &Ident) -> String {
        if i.quote_style.is_some() || !self.fold_case {
            i.value.clone()
        } else {
            i.value.to_lowercase()
        }
    }

    fn object_name(&self, name: &ObjectName) -> String {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident().map(|i| self.ident(i)))
            .collect();
        parts.join(".")
    }

    /// Walks a statement other than a query; its type when it is a DML statement.
    fn statement(&mut self, statement: &Statement) -> Option<&'static str> {
        match statement {
            Statement::Insert(insert) => {
                if let TableObject::TableName(name) = &insert.table {
                    self.tables.push(self.object_name(name));
                }
                if let Some(source) = &insert.source {
                    self.query(source);
                }
                Some(if insert.replace_into {
                    "replace"
                } else {
                    "insert"
                })
            }
            Statement::Copy { source, to, .. } => {
                match source {
                    CopySource::Table { table_name, .. } => {
                        self.tables.push(self.object_name(table_name))
                    }
                    CopySource::Query(q) => self.query(q),
                }
                Some(if *to { "copy_to" } else { "copy_from" })
            }
            Statement::Update(update) => {
                let mut scope = Scope::new();
                self.walk_from(&update.table, &mut scope);
                if let Some(
                    UpdateTableFromKind::BeforeSet(from) | UpdateTableFromKind::AfterSet(from),
                ) = &update.from
                {
                    for t in from {
                        self.walk_from(t, &mut scope);
                    }
                }
                self.scoped(scope, |w| {
                    if let Some(e) = &update.selection {
                        w.predicate(e);
                    }
                    w.order_by(&update.order_by);
                });
                Some("update")
            }
            Statement::Delete(delete) => {
                let mut scope = Scope::new();
                let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) =
                    &delete.from;
                for t in from.iter().chain(delete.using.iter().flatten()) {
                    self.walk_from(t, &mut scope);
                }
                for name in &delete.tables {
                    self.tables.push(self.object_name(name));
                }
                self.scoped(scope, |w| {
                    if let Some(e) = &delete.selection {
                        w.predicate(e);
                    }
                    w.order_by(&delete.order_by);
                });
                Some("delete")
            }
            _ => None,
        }
    }

    fn scoped(&mut self, scope: Scope, f: impl FnOnce(&mut Walker)) {
        self.scopes.push(scope);
        f(self);
        self.scopes.pop();
    }

    fn query(&mut self, query: &Query) {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.push(self.ident(&cte.alias.name));
                self.query(&cte.query);
            }
        }
        let order_by: &[OrderByExpr] = match query.order_by.as_ref().map(|o| &o.kind) {
            Some(OrderByKind::Expressions(exprs)) => exprs,
            _ => &[],
        };
        self.set_expr(&query.body, order_by);
    }

    /// A query body; `order_by` is the enclosing query's, resolved in a plain SELECT's scope.
    fn set_expr(&mut self, body: &SetExpr, order_by: &[OrderByExpr]) {
        match body {
            SetExpr::Select(select) => self.select(select, order_by),
            SetExpr::Query(q) => self.query(q),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left, &[]);
                self.set_expr(right, &[]);
            }
            SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
                self.statement(s);
            }
            SetExpr::Table(t) => {
                if let Some(name) = &t.table_name {
                    self.tables.push(match &t.schema_name {
                        Some(schema) => format!("{}.{}", self.ident(schema), self.ident(name)),
                        None => self.ident(name),
                    });
                }
            }
            SetExpr::Values(_) => {}
        }
    }

    fn select(&mut self, select: &Select, order_by: &[OrderByExpr]) {
        let mut scope = Scope::new();
        for item in &select.from {
            self.walk_from(item, &mut scope);
        }
        self.scoped(scope, |w| {
            for item in &select.from {
                w.join_conditions(item);
            }
            if let Some(e) = &select.selection {
                w.predicate(e);
            }
            w.order_by(order_by);
        });
    }

    /// Records a FROM item's tables in `scope` (and walks derived tables).
    fn walk_from(&mut self, item: &TableWithJoins, scope: &mut Scope) {
        self.table_factor(&item.relation, scope);
        for join in &item.joins {
            self.table_factor(&join.relation, scope);
        }
    }

    fn table_factor(&mut self, factor: &TableFactor, scope: &mut Scope) {
        match factor {
            TableFactor::Table { name, alias, .. } => {
                let table = self.object_name(name);
                let referred = match alias {
                    Some(a) => self.ident(&a.name),
                    None => table.rsplit('.').next().unwrap_or(&table).to_string(),
                };
                self.tables.push(table.clone());
                scope.push((referred, table));
            }
            TableFactor::Derived { subquery, .. } => self.query(subquery),
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.walk_from(table_with_joins, scope),
            _ => {}
        }
    }

    fn join_conditions(&mut self, item: &TableWithJoins) {
        for join in &item.joins {
            let constraint = match &join.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c)
                | JoinOperator::CrossJoin(c)
                | JoinOperator::Semi(c)
                | JoinOperator::LeftSemi(c)
                | JoinOperator::RightSemi(c)
                | JoinOperator::Anti(c)
                | JoinOperator::LeftAnti(c)
                | JoinOperator::RightAnti(c)
                | JoinOperator::StraightJoin(c) => c,
                _ => continue,
            };
            match constraint {
                JoinConstraint::On(e) => {
                    let mut columns = Vec::new();
                    self.columns_in(e, &mut columns);
                    for c in columns {
                        push_unique(&mut self.join_columns, c);
                    }
                }
                JoinConstraint::Using(names) => {
                    let joined = match &join.relation {
                        TableFactor::Table { name, .. } => Some(self.object_name(name)),
                        _ => None,
                    };
                    for n in names {
                        let column = self.object_name(n);
                        let column = match &joined {
                            Some(t) => format!("{t}.{column}"),
                            None => column,
                        };
                        push_unique(&mut self.join_columns, column);
                    }
                }
                _ => {}
            }
        }
    }

    fn order_by(&mut self, order_by: &[OrderByExpr]) {
        for o in order_by {
            if let Some(c) = self.column(&o.expr) {
                push_unique(&mut self.order_by_columns, c);
            }
        }
    }

    /// The `table.column` an expression names, when it is a column.
    fn column(&self, expr: &Expr) -> Option<String> {
        let (qualifier, column) = match expr {
            Expr::Identifier(i) => (None, self.ident(i)),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let n = parts.len();
                (Some(self.ident(&parts[n - 2])), self.ident(&parts[n - 1]))
            }
            Expr::Nested(e) => return self.column(e),
            _ => return None,
        };
        let table = match &qualifier {
            Some(q) => self
                .scopes
                .iter()
                .rev()
                .find_map(|s| s.iter().find(|(name, _)| name == q))
                .map_or_else(|| q.clone(), |(_, t)| t.clone()),
            None => match self.scopes.last().map(Vec::as_slice) {
                Some([(_, only)]) => only.clone(),
                _ => return Some(column),
            },
        };
        Some(format!("{table}.{column}"))
    }

    /// Every column an expression mentions (for join conditions), walking subqueries too.
    fn columns_in(&mut self, expr: &Expr, out: &mut Vec<String>) {
        if let Some(c) = self.column(expr) {
            out.push(c);
            return;
        }
        match expr {
            Expr::BinaryOp { left, right, .. } => {
                self.columns_in(left, out);
                self.columns_in(right, out);
            }
            Expr::Nested(e)
            | Expr::UnaryOp { expr: e, .. }
            | Expr::IsNull(e)
            | Expr::IsNotNull(e) => self.columns_in(e, out),
            Expr::Cast { expr: e, .. } | Expr::Collate { expr: e, .. } => self.columns_in(e, out),
            Expr::Function(f) => {
                if let FunctionArguments::List(list) = &f.args {
                    for arg in &list.args {
                        let (FunctionArg::Unnamed(arg)
                        | FunctionArg::Named { arg, .. }
                        | FunctionArg::ExprNamed { arg, .. }) = arg;
                        if let FunctionArgExpr::Expr(e) = arg {
                            self.columns_in(e, out);
                        }
                    }
                }
            }
            Expr::Subquery(q) | Expr::Exists { subquery: q, .. } => self.query(q),
            _ => {}
        }
    }

    fn test(&mut self, expr: &Expr, test: Test) {
        match self.column(expr) {
            Some(column) => push_unique(&mut self.where_columns, Predicate { column, test }),
            None => {
                // A function of columns or another expression: its columns, tested otherwise.
                let mut columns = Vec::new();
                self.columns_in(expr, &mut columns);
                for column in columns {
                    push_unique(
                        &mut self.where_columns,
                        Predicate {
                            column,
                            test: Test::Other,
                        },
                    );
                }
            }
        }
    }

    /// Walks a WHERE condition.
    fn predicate(&mut self, expr: &Expr) {
        use sqlparser::ast::BinaryOperator as Op;
        match expr {
            Expr::BinaryOp { left, op, right } => match op {
                Op::And | Op::Or => {
                    self.predicate(left);
                    self.predicate(right);
                }
                Op::Eq | Op::Lt | Op::LtEq | Op::Gt | Op::GtEq | Op::NotEq | Op::Spaceship => {
                    let (l, r) = (self.column(left), self.column(right));
                    if let (Some(l), Some(r)) = (&l, &r) {
                        // Two columns compared: a join written in WHERE.
                        push_unique(&mut self.join_columns, l.clone());
                        push_unique(&mut self.join_columns, r.clone());
                        return;
                    }
                    let test = match op {
                        Op::Eq | Op::Spaceship => Test::Equality,
                        Op::NotEq => Test::Other,
                        _ => Test::Range,
                    };
                    match (l.is_some(), r.is_some()) {
                        (true, _) => {
                            self.test(left, test);
                            self.value(right);
                        }
                        (false, true) => {
                            self.test(right, test);
                            self.value(left);
                        }
                        // Expressions on both sides (`lower(email) = $1`): no plain index.
                        (false, false) => {
                            self.test(left, Test::Other);
                            self.test(right, Test::Other);
                        }
                    }
                }
                _ => {
                    self.test(left, Test::Other);
                    self.test(right, Test::Other);
                }
            },
            Expr::Nested(e) => self.predicate(e),
            Expr::UnaryOp { expr, .. } => self.test(expr, Test::Other),
            Expr::IsNull(e) | Expr::IsNotDistinctFrom(e, _) => self.test(e, Test::Equality),
            Expr::IsNotNull(e)
            | Expr::IsTrue(e)
            | Expr::IsFalse(e)
            | Expr::IsNotTrue(e)
            | Expr::IsNotFalse(e) => self.test(e, Test::Other),
            Expr::In {
                expr,
                target,
                negated,
                ..
            } => {
                let test = if *negated {
                    Test::Other
                } else {
                    Test::Equality
                };
                self.test(expr, test);
                if let InTarget::Subquery(q) = target {
                    self.query(q);
                }
            }
            Expr::AnyOp {
                left, compare_op, ..
            } => {
                let test = if *compare_op == Op::Eq {
                    Test::Equality
                } else {
                    Test::Other
                };
                self.test(left, test);
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                self.test(expr, if *negated { Test::Other } else { Test::Range });
                self.value(low);
                self.value(high);
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                ..
            } => {
                let prefix = matches!(&**pattern, Expr::Value(v)
                    if matches!(&v.value, Value::SingleQuotedString(s) if !s.is_empty() && !s.starts_with(['%', '_'])));
                let test = if prefix && !negated {
                    Test::Range
                } else {
                    Test::Other
                };
                self.test(expr, test);
            }
            Expr::ILike { expr, .. } | Expr::SimilarTo { expr, .. } | Expr::RLike { expr, .. } => {
                self.test(expr, Test::Other)
            }
            Expr::Exists { subquery, .. } | Expr::Subquery(subquery) => self.query(subquery),
            _ => self.test(expr, Test::Other),
        }
    }

    /// The value side of a comparison: only its subqueries matter.
    fn value(&mut self, expr: &Expr) {
        if let Expr::Subquery(q) = expr {
            self.query(q);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn housekeeping_is_told_from_the_application_s_work() {
        use crate::model::fingerprint::{Dialect, fingerprint};
        let fp = |s: &str| fingerprint(s, Dialect::Postgres).text;
        for admin in [
            "SELECT pg_stat_statements_reset()",
            "select pg_stat_reset();",
            "SELECT pg_rotate_logfile()",
            "BEGIN",
            "COMMIT",
            "SET search_path TO shop",
            "SHOW work_mem",
            "VACUUM ANALYZE orders",
            "select set_config('a', 'b', false)",
        ] {
            assert!(is_housekeeping(&fp(admin)), "{admin}: {}", fp(admin));
        }
        for work in [
            "SELECT * FROM orders WHERE id = 1",
            "select count(*) from movements where sku = 3",
            "UPDATE stock SET quantity = 1",
            "select pg_stat_reset_x from t",
            "select set_config_value from settings",
            "with t as (select 1) select * from t",
            "SELECT 1",
        ] {
            assert!(!is_housekeeping(&fp(work)), "{work}: {}", fp(work));
        }
    }

    fn pg(sql: &str) -> StatementShape {
        shape(sql, sql, Dialect::Postgres)
    }

    fn preds(s: &StatementShape) -> Vec<(String, Test)> {
        s.where_columns
            .iter()
            .map(|p| (p.column.clone(), p.test))
            .collect()
    }

    #[test]
    fn select_with_alias_join_and_order() {
        let s = pg(
            "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id \
             WHERE o.status = 'paid' AND o.created_at > now() - interval '1 day' \
             ORDER BY o.created_at DESC LIMIT 10",
        );
        assert!(s.parsed);
        assert_eq!(s.statement_type, "select");
        assert_eq!(s.tables, ["customers", "orders"]);
        assert_eq!(
            preds(&s),
            [
                ("orders.status".into(), Test::Equality),
                ("orders.created_at".into(), Test::Range)
            ]
        );
        assert_eq!(s.join_columns, ["customers.id", "orders.customer_id"]);
        assert_eq!(s.order_by_columns, ["orders.created_at"]);
    }

    #[test]
    fn unqualified_columns_resolve_to_the_only_table() {
        let s = pg(
            "select * from public.users where lower(email) = $1 and id in ($2, $3) \
             and deleted_at is null and name like 'ab%' and note not like '%x'",
        );
        assert_eq!(s.tables, ["public.users"]);
        assert_eq!(
            preds(&s),
            [
                ("public.users.email".into(), Test::Other),
                ("public.users.id".into(), Test::Equality),
                ("public.users.deleted_at".into(), Test::Equality),
                ("public.users.name".into(), Test::Range),
                ("public.users.note".into(), Test::Other),
            ]
        );
    }

    #[test]
    fn ambiguous_columns_stay_unqualified_and_where_joins_are_joins() {
        let s = pg("select * from a, b where a.x = b.y and z = 1");
        assert_eq!(s.join_columns, ["a.x", "b.y"]);
        assert_eq!(preds(&s), [("z".into(), Test::Equality)]);
    }

    #[test]
    fn subqueries_ctes_and_dml() {
        let s = pg("with recent as (select * from events where ts >= $1) \
             select * from recent r where r.user_id in (select id from users where org = $2)");
        assert_eq!(s.tables, ["events", "users"]);
        assert_eq!(
            preds(&s),
            [
                ("events.ts".into(), Test::Range),
                ("recent.user_id".into(), Test::Equality),
                ("users.org".into(), Test::Equality),
            ]
        );
        let u = pg("UPDATE accounts SET balance = balance - 1 WHERE id = 7");
        assert_eq!(u.statement_type, "update");
        assert_eq!(preds(&u), [("accounts.id".into(), Test::Equality)]);
        let d = pg("DELETE FROM sessions WHERE expires_at < now()");
        assert_eq!(
            (d.statement_type.as_str(), d.tables.as_slice()),
            ("delete", &["sessions".to_string()][..])
        );
        let i = pg("INSERT INTO t (a, b) VALUES ($1, $2)");
        assert_eq!(
            (i.statement_type.as_str(), i.tables.as_slice()),
            ("insert", &["t".to_string()][..])
        );
    }

    #[test]
    fn mysql_dialect_and_any() {
        let s = shape(
            "SELECT * FROM `Orders` WHERE `status` = \"x\" AND amount BETWEEN 1 AND 5",
            "",
            Dialect::Mysql,
        );
        assert_eq!(s.tables, ["Orders"]);
        assert_eq!(
            preds(&s),
            [
                ("Orders.status".into(), Test::Equality),
                ("Orders.amount".into(), Test::Range)
            ]
        );
        let a = pg("select * from t where id = any($1)");
        assert_eq!(preds(&a), [("t.id".into(), Test::Equality)]);
    }

    #[test]
    fn unparsable_statements_are_marked_with_their_first_word() {
        let s = shape(
            "vacuum analyze frobnicate(",
            "vacuum analyze frobnicate(",
            Dialect::Postgres,
        );
        assert!(!s.parsed);
        assert_eq!(s.statement_type, "vacuum");
        assert!(s.parse_error.is_some());
        let begin = pg("BEGIN");
        assert!(begin.parsed);
        assert_eq!(begin.statement_type, "begin");
        let long = format!("select {}", "1,".repeat(MAX_PARSED_BYTES));
        assert!(!shape(&long, "select", Dialect::Postgres).parsed);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let sql = format!("select {}1{}", "(".repeat(5000), ")".repeat(5000));
        let s = pg(&sql);
        assert!(!s.parsed);
    }
}
