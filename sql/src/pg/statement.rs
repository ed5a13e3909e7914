//! What a PostgreSQL client sent, sorted into what the hub does with it: queries go to
//! the [`SqlEngine`](crate::SqlEngine) (which refuses anything but a read-only query);
//! the session statements drivers and BI tools send around them (`BEGIN`, `COMMIT`,
//! `SET application_name …`, `SHOW search_path`, `DEALLOCATE`) are answered here, since the hub has
//! no transactions or per-session settings to change.
//!
//! Client SQL is first rewritten by `datafusion-pg-catalog`'s PostgreSQL compatibility
//! parser (`'t'::regclass`, `OPERATOR(pg_catalog.~)`, the catalog queries of psql,
//! DBeaver and Grafana) into SQL DataFusion plans.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use crate::SqlError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgStatement {
    /// A query for the engine, as rewritten SQL text.
    Query(String),
    Begin,
    Commit,
    Rollback,
    /// `SET`, `RESET`, `DISCARD`: accepted and ignored, reported with this tag.
    Ignored(&'static str),
    /// `SHOW <name>`: one of the fixed settings.
    Show(String),
}

/// Grafana's query builder keeps tables on the `search_path` unqualified with this
/// subquery (over `generate_series` and array subscripts DataFusion does not plan). The
/// hub's search path is `public`, so it is that one value (`IN ('public')`); the compatibility parser
/// would otherwise turn it into `''` and every table would show as `public.<name>`.
const GRAFANA_SEARCH_PATH: &str = r#"SELECT
    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM
    generate_series(
      array_lower(string_to_array(current_setting('search_path'),','),1),
      array_upper(string_to_array(current_setting('search_path'),','),1)
    ) as i,
    string_to_array(current_setting('search_path'),',') s"#;

/// Replaces every occurrence of `pattern` in `input`, comparing without whitespace.
fn replace_ignoring_whitespace(input: &str, pattern: &str, replacement: &str) -> String {
    let compact: Vec<(usize, char)> = input
        .char_indices()
        .filter(|(_, c)| !c.is_whitespace())
        .collect();
    let wanted: Vec<char> = pattern.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = String::with_capacity(input.len());
    let (mut copied, mut i) = (0, 0);
    while i + wanted.len() <= compact.len() {
        if compact[i..i + wanted.len()]
            .iter()
            .map(|(_, c)| *c)
            .eq(wanted.iter().copied())
        {
            let start = compact[i].0;
            let (last, c) = compact[i + wanted.len() - 1];
            out.push_str(&input[copied..start]);
            out.push_str(replacement);
            copied = last + c.len_utf8();
            i += wanted.len();
        } else {
            i += 1;
        }
    }
    out.push_str(&input[copied..]);
    out
}

/// Parses `sql` into statements (none for an empty string).
pub fn classify(
    parser: &PostgresCompatibilityParser,
    sql: &str,
) -> Result<Vec<PgStatement>, SqlError> {
    // A value list, not a subquery: Grafana also uses it in ORDER BY.
    let sql = replace_ignoring_whitespace(sql, GRAFANA_SEARCH_PATH, "'public'");
    let statements = parser
        .parse(&sql)
        .map_err(|e| SqlError::Invalid(format!("SQL syntax error: {e}")))?;
    statements.into_iter().map(|s| sort(&s)).collect()
}

fn sort(statement: &Statement) -> Result<PgStatement, SqlError> {
    Ok(match statement {
        Statement::StartTransaction { .. } => PgStatement::Begin,
        Statement::Commit { .. } => PgStatement::Commit,
        Statement::Rollback { .. } => PgStatement::Rollback,
        Statement::ShowVariable { variable } => PgStatement::Show(
            variable
                .iter()
                .map(|i| i.value.clone())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Statement::Set(_) => {
            let text = statement.to_string();
            // DataFusion's own settings would change how queries run (and their
            // limits): refused like every other write.
            if text.to_ascii_lowercase().contains("datafusion.") {
                return Err(SqlError::Refused(
                    "the SQL surface is read-only: SET of DataFusion settings is refused".into(),
                ));
            }
            PgStatement::Ignored("SET")
        }
        Statement::Reset(_) => PgStatement::Ignored("RESET"),
        Statement::Discard { .. } => PgStatement::Ignored("DISCARD ALL"),
        // Drivers (psycopg after a rollback) drop their prepared statements by SQL;
        // the statements live in the connection and are replaced when re-prepared.
        Statement::Deallocate { .. } => PgStatement::Ignored("DEALLOCATE"),
        other => PgStatement::Query(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> PgStatement {
        let parser = PostgresCompatibilityParser::new();
        let mut all = classify(&parser, sql).unwrap();
        assert_eq!(all.len(), 1, "{sql}");
        all.remove(0)
    }

    #[test]
    fn session_statements_are_answered_here() {
        assert_eq!(one("BEGIN"), PgStatement::Begin);
        assert_eq!(one("START TRANSACTION READ ONLY"), PgStatement::Begin);
        assert_eq!(one("commit"), PgStatement::Commit);
        assert_eq!(one("ROLLBACK"), PgStatement::Rollback);
        assert_eq!(
            one("SET extra_float_digits = 3"),
            PgStatement::Ignored("SET")
        );
        assert_eq!(
            one("SET application_name = 'DBeaver 24.1.0 - Main'"),
            PgStatement::Ignored("SET")
        );
        assert_eq!(
            one("SHOW search_path"),
            PgStatement::Show("search_path".into())
        );
        assert_eq!(one("DEALLOCATE ALL"), PgStatement::Ignored("DEALLOCATE"));
    }

    #[test]
    fn everything_else_goes_to_the_engine() {
        assert!(matches!(one("SELECT 1"), PgStatement::Query(_)));
        assert!(matches!(
            one("INSERT INTO kiosk_results VALUES (1)"),
            PgStatement::Query(q) if q.starts_with("INSERT")
        ));
        let parser = PostgresCompatibilityParser::new();
        assert_eq!(
            classify(&parser, "BEGIN; SELECT 1; COMMIT").unwrap().len(),
            3
        );
        assert!(classify(&parser, "").unwrap().is_empty());
    }

    #[test]
    fn grafanas_search_path_subquery_is_the_public_schema() {
        let sql = format!(
            "SELECT 1 WHERE quote_ident(table_schema) IN (\n          {}\n          ) AND x IN ({})",
            GRAFANA_SEARCH_PATH.replace('\n', "\n        "),
            GRAFANA_SEARCH_PATH
        );
        assert_eq!(
            replace_ignoring_whitespace(&sql, GRAFANA_SEARCH_PATH, "SELECT 'public'"),
            "SELECT 1 WHERE quote_ident(table_schema) IN (\n          SELECT 'public'\n          ) AND x IN (SELECT 'public')"
        );
        assert_eq!(
            replace_ignoring_whitespace("SELECT 1", "x", "y"),
            "SELECT 1"
        );
    }

    #[test]
    fn datafusion_settings_are_refused() {
        let parser = PostgresCompatibilityParser::new();
        let err = classify(&parser, "SET datafusion.execution.batch_size = 1").unwrap_err();
        assert!(matches!(err, SqlError::Refused(_)), "{err}");
        assert!(err.to_string().contains("read-only"));
    }
}
