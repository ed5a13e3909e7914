//! The read-only guard: exactly one statement, and it must be a query (or EXPLAIN of
//! one). DDL, DML, COPY, SET and everything else is refused before planning, with a
//! message that says so. DataFusion's own `SQLOptions` check the plan again.

use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;

use crate::SqlError;

pub fn check_read_only(sql: &str) -> Result<(), SqlError> {
    let statements = DFParser::parse_sql(sql)
        .map_err(|e| SqlError::Invalid(format!("SQL syntax error: {e}")))?;
    if statements.len() != 1 {
        return Err(SqlError::Refused(format!(
            "send exactly one statement per request ({} given)",
            statements.len()
        )));
    }
    let refused = |what: &str| {
        Err(SqlError::Refused(format!(
            "the SQL surface is read-only: {what} is refused; only SELECT, WITH … SELECT, VALUES and EXPLAIN are allowed"
        )))
    };
    match &statements[0] {
        DfStatement::Statement(s) => match s.as_ref() {
            Statement::Query(_) => Ok(()),
            Statement::Explain { statement, .. }
                if matches!(statement.as_ref(), Statement::Query(_)) =>
            {
                Ok(())
            }
            other => refused(&statement_kind(other)),
        },
        DfStatement::Explain(e) => match e.statement.as_ref() {
            DfStatement::Statement(s) if matches!(s.as_ref(), Statement::Query(_)) => Ok(()),
            _ => refused("EXPLAIN of a non-query"),
        },
        DfStatement::CreateExternalTable(_) => refused("CREATE EXTERNAL TABLE (reading files)"),
        DfStatement::CopyTo(_) => refused("COPY (writing files)"),
        _ => refused("this statement"),
    }
}

fn statement_kind(s: &Statement) -> String {
    let text = s.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    let kind = match words.as_slice() {
        [a, b]
            if matches!(
                a.to_ascii_uppercase().as_str(),
                "CREATE" | "DROP" | "ALTER" | "TRUNCATE"
            ) =>
        {
            format!("{} {}", a.to_ascii_uppercase(), b.to_ascii_uppercase())
        }
        [a, ..] => a.to_ascii_uppercase(),
        [] => "an empty statement".into(),
    };
    kind
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_pass() {
        for sql in [
            "SELECT 1",
            "select count(*) from kiosk_results where result = 'fail'",
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
            "EXPLAIN SELECT 1",
            "VALUES (1), (2)",
        ] {
            check_read_only(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    #[test]
    fn writes_and_file_access_are_refused_by_name() {
        for (sql, word) in [
            ("CREATE TABLE t (a INT)", "CREATE TABLE"),
            ("DROP TABLE kiosk_results", "DROP TABLE"),
            ("INSERT INTO kiosk_results VALUES (1)", "INSERT"),
            ("DELETE FROM kiosk_results", "DELETE"),
            ("UPDATE kiosk_results SET result = 'pass'", "UPDATE"),
            (
                "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc'",
                "CREATE EXTERNAL TABLE",
            ),
            ("COPY kiosk_results TO '/tmp/x.parquet'", "COPY"),
            ("SET datafusion.execution.batch_size = 1", "SET"),
            ("SELECT 1; SELECT 2", "exactly one statement"),
        ] {
            let err = check_read_only(sql).unwrap_err();
            assert!(matches!(err, SqlError::Refused(_)), "{sql}: {err}");
            assert!(err.to_string().contains(word), "{sql}: {err}");
        }
    }
}
