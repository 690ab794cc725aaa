//! `--schema FILE`: a `pg_dump --schema-only` file (or any SQL file of table and index
//! definitions, mysqldump's included), a `pg_indexes` CSV dump, or a `pg_stat_user_tables` CSV
//! dump, told apart by their first line. Definitions are read with sqlparser: CREATE TABLE
//! (inline primary keys, unique and index constraints), CREATE `[UNIQUE]` INDEX, and ALTER TABLE
//! … ADD CONSTRAINT … PRIMARY KEY / UNIQUE, which is how pg_dump writes keys. Other statements
//! (SET, COMMENT, functions) are counted in a note and left; psql meta-commands (`\restrict`)
//! are skipped.

use super::decompress;
use super::rows::Row;
use crate::model::ledger::{InputLedger, SkipReason};
use crate::model::schema::{Index, Schema};
use crate::{Error, Result};
use sqlparser::ast::{
    AlterTableOperation, ColumnOption, Expr, IndexColumn, ObjectName, Statement, TableConstraint,
};
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};
use sqlparser::parser::Parser;
use std::path::Path;

/// Reads one schema file into `schema`, and says what it read.
pub fn read_schema(path: &Path, schema: &mut Schema) -> Result<InputLedger> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (_, mut reader, break_off) = decompress::open(file).map_err(|e| Error::io(path, e))?;
    let bytes = super::chunks::read_whole(path, &mut reader)?;
    break_off.check(path, "schema")?;
    parse_schema(path, &bytes, schema)
}

/// Reads a schema dump's bytes (decompressed) into `schema`: a `pg_indexes` or
/// `pg_stat_user_tables` CSV export, or SQL definitions (`pg_dump --schema-only`, `mysqldump
/// --no-data`, `SHOW CREATE TABLE` output).
pub fn parse_schema(path: &Path, bytes: &[u8], schema: &mut Schema) -> Result<InputLedger> {
    let text = String::from_utf8_lossy(bytes);
    let header = text.lines().next().unwrap_or("").to_ascii_lowercase();
    let columns: Vec<&str> = header.split(',').map(|c| c.trim_matches('"')).collect();
    let mut ledger = InputLedger {
        path: path.display().to_string(),
        ..InputLedger::default()
    };
    if columns.contains(&"indexdef") {
        ledger.format = "pg-indexes-csv".into();
        read_csv(&text, &mut ledger, |row, line, ledger| {
            match row.text("indexdef") {
                Some(def) => read_definition(&def, line, schema, ledger),
                None => ledger.skip_record(SkipReason::Malformed, || {
                    format!("line {line}: no indexdef")
                }),
            };
        });
    } else if columns.contains(&"relname") {
        ledger.format = "pg-stat-user-tables-csv".into();
        read_csv(&text, &mut ledger, |row, line, ledger| {
            let Some(name) = row.text("relname") else {
                return ledger
                    .skip_record(SkipReason::Malformed, || format!("line {line}: no relname"));
            };
            ledger.records += 1;
            let number = |c: &str| row.text(c).and_then(|v| v.parse::<u64>().ok());
            // pg_class's estimate, when the dump has it (-1: never analyzed).
            let estimate = row
                .text("reltuples")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v >= 0.0)
                .map(|v| v as u64);
            let table = schema.table_mut(&name);
            table.live_rows = number("n_live_tup").max(estimate);
            table.seq_scans = number("seq_scan");
            table.index_scans = number("idx_scan");
        });
    } else {
        ledger.format = "sql-schema".into();
        let mut other = 0u64;
        for (line, statement) in statements(&text) {
            let words: Vec<String> = statement
                .split_whitespace()
                .take(3)
                .map(str::to_ascii_lowercase)
                .collect();
            let definition = matches!(
                words.iter().map(String::as_str).collect::<Vec<_>>()[..],
                ["create", "table", ..]
                    | ["create", "index", ..]
                    | ["create", "unique", "index"]
                    | ["alter", "table", ..]
            );
            if definition {
                read_definition(statement, line, schema, &mut ledger);
            } else {
                other += 1;
            }
        }
        if other > 0 {
            ledger.notes.insert(
                "other_statements".into(),
                format!("{other} statements other than table and index definitions, not needed"),
            );
        }
    }
    if ledger.records == 0 {
        return Err(Error::Empty {
            path: path.into(),
            format: "schema",
            detail: ": no table or index definition, and no pg_indexes or \
                     pg_stat_user_tables rows"
                .into(),
        });
    }
    Ok(ledger)
}

/// Each CSV row, with its line.
fn read_csv(
    text: &str,
    ledger: &mut InputLedger,
    mut each: impl FnMut(&dyn Row, u64, &mut InputLedger),
) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let Ok(headers) = reader.headers().cloned() else {
        return ledger.skip_record(SkipReason::Malformed, || "line 1: no header".into());
    };
    super::chunks::for_each_csv_row(reader, text.as_bytes(), |line, _, read| match read {
        Ok(record) => each(&(&headers, record), line, ledger),
        Err(e) => ledger.skip_record(SkipReason::Malformed, || format!("line {line}: {e}")),
    });
}

/// Definitions longer than this are not given to sqlparser, whose syntax tree costs many
/// times the text (a real table's definition is a few KiB).
const MAX_DEFINITION_BYTES: usize = 256 * 1024;

/// Reads one table or index definition, PostgreSQL's grammar first, then MySQL's.
fn read_definition(sql: &str, line: u64, schema: &mut Schema, ledger: &mut InputLedger) {
    ledger.records += 1;
    if sql.len() > MAX_DEFINITION_BYTES {
        return ledger.skip(SkipReason::TooLarge, 1, || {
            format!(
                "line {line}: a definition of {} bytes, over the {} KiB read",
                sql.len(),
                MAX_DEFINITION_BYTES >> 10
            )
        });
    }
    let parsed = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .or_else(|e| Parser::parse_sql(&MySqlDialect {}, sql).map_err(|_| e));
    let statement = match parsed {
        Ok(mut s) if !s.is_empty() => s.swap_remove(0),
        Ok(_) => return,
        Err(e) => {
            return ledger.skip(SkipReason::Malformed, 1, || format!("line {line}: {e}"));
        }
    };
    let index = |name: Option<String>, columns: &[IndexColumn]| Index {
        name: name.unwrap_or_default(),
        columns: columns.iter().map(|c| column(&c.column.expr)).collect(),
    };
    match statement {
        Statement::CreateTable(t) => {
            let mut indexes = Vec::new();
            for c in &t.columns {
                for option in &c.options {
                    if matches!(
                        option.option,
                        ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_)
                    ) {
                        indexes.push(Index {
                            name: String::new(),
                            columns: vec![c.name.value.to_lowercase()],
                        });
                    }
                }
            }
            indexes.extend(
                t.constraints
                    .iter()
                    .filter_map(|c| constraint_index(c, &index)),
            );
            schema.table_mut(&name(&t.name)).indexes.extend(indexes);
        }
        Statement::CreateIndex(i) => {
            let made = index(i.name.as_ref().map(name), &i.columns);
            schema.table_mut(&name(&i.table_name)).indexes.push(made);
        }
        Statement::AlterTable(a) => {
            let added: Vec<Index> = a
                .operations
                .iter()
                .filter_map(|op| match op {
                    AlterTableOperation::AddConstraint { constraint, .. } => {
                        constraint_index(constraint, &index)
                    }
                    _ => None,
                })
                .collect();
            if !added.is_empty() {
                schema.table_mut(&name(&a.name)).indexes.extend(added);
            }
        }
        _ => {}
    }
}

/// The index a table constraint creates, if any.
fn constraint_index(
    constraint: &TableConstraint,
    index: &impl Fn(Option<String>, &[IndexColumn]) -> Index,
) -> Option<Index> {
    let ident = |i: &Option<sqlparser::ast::Ident>| i.as_ref().map(|i| i.value.clone());
    match constraint {
        TableConstraint::PrimaryKey(c) => Some(index(ident(&c.name), &c.columns)),
        TableConstraint::Unique(c) => Some(index(ident(&c.name), &c.columns)),
        TableConstraint::Index(c) => Some(index(ident(&c.name), &c.columns)),
        _ => None,
    }
}

fn name(object: &ObjectName) -> String {
    object.to_string()
}

/// An index key column: a column's name in lower case, or an expression as written.
fn column(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(i) => i.value.to_lowercase(),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .map_or(String::new(), |i| i.value.to_lowercase()),
        other => other.to_string(),
    }
}

/// The statements of a SQL file, each with the line it starts on: split at semicolons outside
/// quotes, dollar quotes and comments; psql meta-command lines (`\connect`) are left out.
fn statements(text: &str) -> Vec<(u64, &str)> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut line_start = true;
    while i < bytes.len() {
        let b = bytes[i];
        let skip_to = |from: usize, pattern: &str| {
            text[from..]
                .find(pattern)
                .map_or(bytes.len(), |n| from + n + pattern.len())
        };
        let next = match b {
            // A psql meta-command runs to the end of its line.
            b'\\' if line_start => {
                pieces.push((start, i));
                let end = skip_to(i, "\n");
                start = end;
                end
            }
            b'\'' => skip_to(i + 1, "'"),
            b'"' => skip_to(i + 1, "\""),
            b'-' if bytes.get(i + 1) == Some(&b'-') => skip_to(i, "\n"),
            b'/' if bytes.get(i + 1) == Some(&b'*') => skip_to(i + 2, "*/"),
            b'$' => match text[i + 1..].find('$') {
                Some(n)
                    if text[i + 1..i + 1 + n]
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_') =>
                {
                    let tag = &text[i..i + n + 2];
                    skip_to(i + tag.len(), tag)
                }
                _ => i + 1,
            },
            b';' => {
                pieces.push((start, i));
                start = i + 1;
                i + 1
            }
            _ => i + 1,
        };
        line_start = bytes[next - 1] == b'\n' || (line_start && b.is_ascii_whitespace());
        i = next;
    }
    pieces.push((start, bytes.len()));
    // Lines counted once, front to back.
    let (mut counted_to, mut line) = (0, 1u64);
    let mut out = Vec::new();
    for (from, to) in pieces {
        // A statement starts after the comments before it.
        let mut piece = &text[from..to];
        loop {
            let rest = piece.trim_start();
            let skipped = if rest.starts_with("--") {
                rest.find('\n').map_or("", |n| &rest[n + 1..])
            } else if rest.starts_with("/*") {
                rest.find("*/").map_or("", |n| &rest[n + 2..])
            } else {
                break;
            };
            piece = skipped;
        }
        let trimmed = piece.trim();
        if trimmed.is_empty() {
            continue;
        }
        let at = to - piece.len() + (piece.len() - piece.trim_start().len());
        line += bytes[counted_to..at]
            .iter()
            .filter(|&&c| c == b'\n')
            .count() as u64;
        counted_to = at;
        out.push((line, trimmed));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Schema, InputLedger) {
        let mut schema = Schema::default();
        let ledger = parse_schema(Path::new("schema.sql"), text.as_bytes(), &mut schema).unwrap();
        (schema, ledger)
    }

    #[test]
    fn a_definition_too_long_to_parse_is_counted_and_the_rest_read() {
        let long = format!(
            "CREATE TABLE big (a int DEFAULT {});\nCREATE INDEX i ON t (c);\n",
            "1+".repeat(MAX_DEFINITION_BYTES) + "1"
        );
        let (schema, ledger) = read(&long);
        assert_eq!(ledger.skip_reasons.get(&SkipReason::TooLarge), Some(&1));
        assert_eq!(columns(&schema, "t"), [["c"]]);
    }

    fn columns(schema: &Schema, table: &str) -> Vec<Vec<String>> {
        schema
            .table(table)
            .unwrap()
            .indexes
            .iter()
            .map(|i| i.columns.clone())
            .collect()
    }

    #[test]
    fn a_pg_dump_gives_keys_and_indexes() {
        let dump = "\\restrict abc\n-- a comment; with a semicolon\nSET x = 0;\n\
            CREATE FUNCTION f() RETURNS int AS $$ select 1; $$ LANGUAGE sql;\n\
            CREATE TABLE public.orders (\n    id integer NOT NULL,\n    customer_id integer,\n    note text DEFAULT 'a;b'\n);\n\
            ALTER TABLE ONLY public.orders\n    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);\n\
            CREATE INDEX orders_customer ON public.orders USING btree (customer_id, lower(note));\n\
            CREATE TABLE t2 (a int PRIMARY KEY, b int UNIQUE, c int);\n\\unrestrict abc\n";
        let (schema, ledger) = read(dump);
        assert_eq!(ledger.format, "sql-schema");
        assert_eq!(ledger.records, 4);
        assert_eq!(ledger.skipped, 0, "{ledger:?}");
        assert_eq!(
            columns(&schema, "orders"),
            [
                vec!["id".to_string()],
                vec!["customer_id".into(), "lower(note)".into()]
            ]
        );
        assert_eq!(
            columns(&schema, "public.t2"),
            [vec!["a".to_string()], vec!["b".into()]]
        );
        assert_eq!(
            ledger.notes["other_statements"].split(' ').next(),
            Some("2")
        );
    }

    #[test]
    fn a_mysqldump_table_gives_its_keys() {
        let (schema, _) = read(
            "CREATE TABLE `orders` (\n  `id` int NOT NULL,\n  `customer_id` int,\n  PRIMARY KEY (`id`),\n  KEY `by_customer` (`customer_id`)\n) ENGINE=InnoDB;\n",
        );
        assert_eq!(
            columns(&schema, "orders"),
            [vec!["id".to_string()], vec!["customer_id".into()]]
        );
    }

    #[test]
    fn pg_indexes_and_pg_stat_user_tables_dumps() {
        let (schema, ledger) = read(
            "schemaname,tablename,indexname,tablespace,indexdef\n\
             public,orders,orders_pkey,,CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)\n\
             public,orders,broken,,CREATE INDEX broken ON\n",
        );
        assert_eq!(ledger.format, "pg-indexes-csv");
        assert_eq!((ledger.records, ledger.skipped), (2, 1));
        assert!(ledger.skip_examples[&SkipReason::Malformed].starts_with("line 3"));
        assert_eq!(columns(&schema, "orders"), [vec!["id".to_string()]]);
        let (schema, _) = read(
            "relid,schemaname,relname,seq_scan,idx_scan,n_live_tup\n1,public,orders,12,,200000\n",
        );
        let t = schema.table("orders").unwrap();
        assert_eq!(
            (t.live_rows, t.seq_scans, t.index_scans),
            (Some(200_000), Some(12), None)
        );
        // pg_class's estimate: the larger of it and the live rows; -1 is no estimate.
        let (schema, _) =
            read("relname,reltuples,n_live_tup\norders,1.5e+06,0\nitems,-1,30\nlines,2000,\n");
        let rows = |t: &str| schema.table(t).unwrap().live_rows;
        assert_eq!(
            (rows("orders"), rows("items"), rows("lines")),
            (Some(1_500_000), Some(30), Some(2000))
        );
    }

    #[test]
    fn statements_start_on_their_line() {
        let s = statements("select 1;\n\n-- c\nselect\n 2;");
        assert_eq!(s[0], (1, "select 1"));
        assert_eq!(s[1], (4, "select\n 2"));
    }
}
