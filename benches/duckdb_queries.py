#!/usr/bin/env python3
"""DuckDB side of benchmark (g) (`benches/analyst_vs_duckdb.rs` spawns it).

A line protocol on stdin/stdout, one JSON object per line, so the Rust bench can
interleave the two engines run by run:

  {"op": "setup", "archive": DIR, "threads": 2, "latest_view": SQL}
      -> {"version": "..."}       views over read_parquet(DIR/<table>/*/*.parquet)
  {"op": "run", "sql": SQL}       -> {"ms": float, "rows": int}
  {"op": "rows", "sql": SQL}      -> {"rows": [[str|null, ...], ...]}   (for checking)
  {"op": "explain", "sql": SQL}   -> {"text": str}                      (EXPLAIN ANALYZE)

A run executes the query to completion into a temporary table (the result stays
inside DuckDB: converting TIMESTAMPTZ values to Python would need pytz and would time
Python, not DuckDB); the hub's side likewise materialises its result as Arrow batches.
"""

import json
import sys
import time

import duckdb

TABLES = ["kiosk_results", "slaughter_reports", "export_declarations", "dead_letters", "alerts"]

con = None


def setup(msg):
    global con
    con = duckdb.connect()
    con.execute(f"SET threads = {int(msg['threads'])}")
    con.execute("SET TimeZone = 'UTC'")
    archive = msg["archive"].replace("'", "''")
    for t in TABLES:
        con.execute(
            f"CREATE VIEW {t} AS SELECT * FROM "
            f"read_parquet('{archive}/{t}/*/*.parquet', hive_partitioning = false)"
        )
    # The hub's view text runs unchanged in DuckDB (SELECT * EXCLUDE, window, QUALIFY-free).
    con.execute(msg["latest_view"])
    # DataFusion's to_unixtime: whole seconds since the epoch, as a BIGINT.
    con.execute("CREATE MACRO to_unixtime(t) AS CAST(floor(epoch(t)) AS BIGINT)")
    return {"version": duckdb.__version__}


def run(msg):
    sql = msg["sql"]
    started = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TEMP TABLE bench_result AS {sql}")
    ms = (time.perf_counter() - started) * 1000.0
    rows = con.execute("SELECT count(*) FROM bench_result").fetchone()[0]
    return {"ms": ms, "rows": rows}


def rows(msg):
    con.execute(f"CREATE OR REPLACE TEMP TABLE bench_result AS {msg['sql']}")
    out = con.execute("SELECT COLUMNS(*)::VARCHAR FROM bench_result").fetchall()
    return {"rows": [list(r) for r in out]}


def explain(msg):
    out = con.execute(f"EXPLAIN ANALYZE {msg['sql']}").fetchall()
    return {"text": "\n".join(str(r[-1]) for r in out)}


OPS = {"setup": setup, "run": run, "rows": rows, "explain": explain}

for line in sys.stdin:
    if not line.strip():
        continue
    msg = json.loads(line)
    try:
        reply = OPS[msg["op"]](msg)
    except Exception as e:  # reported to the bench, which prints it
        reply = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
