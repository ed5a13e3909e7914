//! The golden SQL files' format (`tests/sql/*.slt`): blocks separated by blank lines;
//! `# …` lines are comments; a block is `query <name>`, the SQL, `----`, then the
//! expected rows. Used by `tests/sql_golden.rs` and `benches/analyst_vs_duckdb.rs`.

#![allow(dead_code)]

pub struct Query {
    pub name: String,
    pub sql: String,
    pub expected: Vec<String>,
}

pub fn parse(text: &str) -> Vec<Query> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().filter(|l| !l.starts_with('#')).collect();
        let Some(first) = lines.first() else { continue };
        let name = first
            .strip_prefix("query ")
            .unwrap_or_else(|| panic!("a block starts with `query <name>`: {first}"))
            .trim()
            .to_string();
        let sep = lines
            .iter()
            .position(|l| *l == "----")
            .unwrap_or_else(|| panic!("{name}: no `----` line"));
        out.push(Query {
            name,
            sql: lines[1..sep].join("\n"),
            expected: lines[sep + 1..].iter().map(|l| l.to_string()).collect(),
        });
    }
    out
}
