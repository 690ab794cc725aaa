//! What a schema dump says about the tables statements read: their indexes (to drop a
//! suggested index that already exists) and, from `pg_stat_user_tables`, their size and how
//! they were scanned (to leave tiny tables alone, and as evidence).

use std::collections::BTreeMap;

/// The tables of one or more schema dumps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// By [`table_key`].
    pub tables: BTreeMap<String, Table>,
}

/// One table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Its indexes, primary key and unique constraints included.
    pub indexes: Vec<Index>,
    /// Live rows (`n_live_tup`), when a statistics dump gave them.
    pub live_rows: Option<u64>,
    /// Sequential scans since the statistics were reset (`seq_scan`).
    pub seq_scans: Option<u64>,
    /// Index scans since the statistics were reset (`idx_scan`).
    pub index_scans: Option<u64>,
}

/// One index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    /// Its name (or the constraint's), empty when the dump gave none.
    pub name: String,
    /// Its key columns in order, lower case; an expression is kept as written.
    pub columns: Vec<String>,
}

impl Schema {
    /// The table a statement names (`public.Orders`, `"orders"`, `orders`).
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(&table_key(name))
    }

    /// The table `name`, created when new.
    pub fn table_mut(&mut self, name: &str) -> &mut Table {
        self.tables.entry(table_key(name)).or_default()
    }
}

/// How tables are matched between statements and dumps: the name without its schema or quotes,
/// in lower case (a statement may or may not qualify a table, and PostgreSQL folds unquoted
/// names).
pub fn table_key(name: &str) -> String {
    let last = name.rsplit('.').next().unwrap_or(name);
    last.trim_matches(|c| c == '"' || c == '`').to_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_match_with_or_without_their_schema() {
        assert_eq!(super::table_key("public.Orders"), "orders");
        assert_eq!(super::table_key("\"orders\""), "orders");
        assert_eq!(super::table_key("`shop`.`orders`"), "orders");
    }
}
