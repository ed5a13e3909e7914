#!/usr/bin/env python3
"""Writes the Grafana dashboards (dashboards/*.json) from the panel lists below.

The JSON files are checked in (Grafana provisions them as they are); edit this file and
run `python3 dashboards/generate.py`, and tests/dashboards.rs checks the files match it
and runs every panel's query against a real Prometheus and the hub's PostgreSQL
endpoint. Grafana 11/12, dashboard schemaVersion 39.
"""

import json
import os
import pathlib

PROM = {"type": "prometheus", "uid": "prometheus"}
SQL = {"type": "grafana-postgresql-datasource", "uid": "safety-hub-sql"}
# DASHBOARDS_OUT: write elsewhere (the test compares that output with the files here).
OUT = pathlib.Path(os.environ.get("DASHBOARDS_OUT") or pathlib.Path(__file__).resolve().parent)

# Template variables: `region` (a province code, or all) and `feed`.
REGION = {
    "name": "region", "label": "Region", "type": "query", "datasource": PROM,
    "query": {"query": "label_values(hub_rule_value, region)", "refId": "region"},
    "includeAll": True, "allValue": "", "multi": False, "refresh": 2, "sort": 1,
    "current": {"text": "All", "value": "$__all"},
}
FEED = {
    "name": "feed", "label": "Feed", "type": "query", "datasource": PROM,
    "query": {"query": "label_values(hub_ingest_records_total, feed)", "refId": "feed"},
    "includeAll": True, "allValue": ".*", "multi": False, "refresh": 2, "sort": 1,
    "current": {"text": "All", "value": "$__all"},
}


def bars(warning, critical, higher_is_better=True):
    """Threshold lines at a rule's bars (standard → warning, floor → critical)."""
    if higher_is_better:
        steps = [{"color": "red", "value": None}, {"color": "orange", "value": critical},
                 {"color": "green", "value": warning}]
    else:
        steps = [{"color": "green", "value": None}, {"color": "orange", "value": warning},
                 {"color": "red", "value": critical}]
    return {"mode": "absolute", "steps": steps}


def prom(title, exprs, unit="short", thresholds=None, kind="timeseries", w=12, h=8,
         description=""):
    """A Prometheus panel; `exprs` is a list of (PromQL, legend)."""
    defaults = {"unit": unit, "custom": {}}
    if thresholds:
        defaults["thresholds"] = thresholds
        if kind == "timeseries":
            defaults["custom"]["thresholdsStyle"] = {"mode": "line+area"}
    if unit == "percentunit":
        defaults["min"] = 0
        defaults["max"] = 1
    return {
        "type": kind, "title": title, "description": description, "datasource": PROM,
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": PROM, "expr": e,
             "legendFormat": legend, "range": kind == "timeseries", "instant": kind != "timeseries"}
            for i, (e, legend) in enumerate(exprs)
        ],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]}}
        if kind == "timeseries" else {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}},
        "_w": w, "_h": h,
    }


def sql(title, query, w=12, h=8, description=""):
    """A table panel over the hub's PostgreSQL endpoint."""
    return {
        "type": "table", "title": title, "description": description, "datasource": SQL,
        "targets": [{"refId": "A", "datasource": SQL, "rawSql": " ".join(query.split()),
                     "format": "table", "rawQuery": True, "editorMode": "code"}],
        "fieldConfig": {"defaults": {}, "overrides": []}, "options": {"showHeader": True},
        "_w": w, "_h": h,
    }


def rule_value(rule, legend="{{region}}"):
    return (f'hub_rule_value{{rule="{rule}", region=~"$region.*"}}', legend)


RATE = "$__rate_interval"

DASHBOARDS = {
    "overview": ("safety-hub — Overview", ["region", "feed"], [
        prom("Alerts open by severity", [("sum by (severity) (hub_alerts_open)", "{{severity}}")],
             kind="stat", w=6, h=6, thresholds=bars(1, 1, higher_is_better=False)),
        sql("Alerts open by agency", """
            SELECT agency, severity, count(*) AS open FROM (
              SELECT alert_id, agency, severity, state,
                     row_number() OVER (PARTITION BY alert_id ORDER BY sequence DESC) AS newest
              FROM alerts) WHERE newest = 1 AND state = 'firing'
            GROUP BY agency, severity ORDER BY open DESC""", w=6, h=6),
        prom("Ingest by feed (messages/s)",
             [(f'sum by (feed) (rate(hub_ingest_records_total{{feed=~"$feed", outcome="accepted"}}[{RATE}]))', "{{feed}}")],
             unit="reqps", w=12, h=6),
        prom("Market pass rate by province (bars 95 % / 85 %)", [rule_value("kiosk_region_pass_rate")],
             unit="percentunit", thresholds=bars(0.95, 0.85)),
        prom("Designated slaughter share by province (bars 100 % / 95 %)", [rule_value("designated_slaughter_share")],
             unit="percentunit", thresholds=bars(1.0, 0.95)),
        prom("Dead letters by feed and reason (messages/s)",
             [(f'sum by (feed, reason_class) (rate(hub_dead_letters_total{{feed=~"$feed"}}[{RATE}]))', "{{feed}} {{reason_class}}")],
             unit="reqps", w=8),
        prom("Consumer lag by topic (messages)",
             [("sum by (topic) (hub_consumer_lag_messages)", "{{topic}}")], w=8),
        prom("End-to-end latency p95 (s)", [
            (f"histogram_quantile(0.95, sum by (le) (rate(hub_ingest_batch_latency_seconds_bucket[{RATE}])))", "received → queryable"),
            (f"histogram_quantile(0.95, sum by (le) (rate(hub_rule_evaluation_latency_seconds_bucket[{RATE}])))", "received → rates updated"),
            (f"histogram_quantile(0.95, sum by (le) (rate(hub_delivery_latency_seconds_bucket[{RATE}])))", "queued → delivered"),
        ], unit="s", w=8),
    ]),
    "kiosk": ("safety-hub — Kiosk testing", ["region"], [
        prom("Market pass rate by province (bars 95 % / 85 %)", [rule_value("kiosk_region_pass_rate")],
             unit="percentunit", thresholds=bars(0.95, 0.85), w=12),
        prom("Kiosk results (messages/s)",
             [(f'sum by (outcome) (rate(hub_ingest_records_total{{feed="kiosk"}}[{RATE}]))', "{{outcome}}")],
             unit="reqps", w=12),
        sql("Pass rate by city, category and test item", """
            SELECT substr(region_code, 1, 4) AS city, sample_category, test_item,
                   count(*) FILTER (WHERE result <> 'invalid') AS tests,
                   round(avg(CASE WHEN result = 'pass' THEN 1.0 WHEN result = 'fail' THEN 0.0 END), 4) AS pass_rate
            FROM kiosk_results
            WHERE $__timeFilter(tested_at) AND region_code LIKE '${region}%'
            GROUP BY 1, 2, 3 ORDER BY pass_rate, tests DESC LIMIT 50""", w=12, h=10),
        sql("Worst markets (24 h window, Wilson 95 % interval)", """
            SELECT group_key AS market, round(value, 4) AS pass_rate, samples,
                   round(interval_low, 4) AS low, round(interval_high, 4) AS high, state, severity
            FROM rates
            WHERE rule = 'kiosk_pass_rate' AND region_code LIKE '${region}%' AND value IS NOT NULL
            ORDER BY value, samples DESC LIMIT 10""", w=12, h=10),
    ]),
    "slaughter": ("safety-hub — Slaughter", ["region"], [
        sql("Head slaughtered by region", """
            SELECT region_code, count(DISTINCT plant_id) AS plants, sum(head_count) AS head,
                   round(sum(CASE WHEN designated THEN head_count ELSE 0 END) * 1.0 / sum(head_count), 4) AS designated_share
            FROM slaughter_reports
            WHERE $__timeFilter(period_end) AND region_code LIKE '${region}%'
            GROUP BY region_code ORDER BY head DESC""", w=12),
        prom("Designated slaughter share (bars 100 % / 95 %)", [rule_value("designated_slaughter_share")],
             unit="percentunit", thresholds=bars(1.0, 0.95)),
        prom("Quarantine pass rate (bars 99 % / 95 %)", [rule_value("quarantine_pass_rate")],
             unit="percentunit", thresholds=bars(0.99, 0.95)),
        prom("Beta-agonist positive rate (bar 0.5 %)", [rule_value("beta_agonist_positive_rate")],
             unit="percentunit", thresholds=bars(0.0, 0.005, higher_is_better=False)),
        sql("Silent plants (no report for 6 h → warning, 24 h → critical)", """
            SELECT group_key AS plant, region_code, last_seen, state, severity
            FROM rates
            WHERE rule = 'feed_silence' AND group_key LIKE 'plant_id=%' AND region_code LIKE '${region}%'
            ORDER BY last_seen LIMIT 20""", w=24),
    ]),
    "export": ("safety-hub — Export", ["region"], [
        prom("Inspection pass rate (bars 95 % / 85 %)", [rule_value("export_inspection_pass_rate")],
             unit="percentunit", thresholds=bars(0.95, 0.85), w=8),
        prom("Batch marking rate (bars 100 % / 95 %)", [rule_value("export_batch_marking_rate")],
             unit="percentunit", thresholds=bars(1.0, 0.95), w=8),
        prom("Declarations tracked", [("sum(hub_export_declarations_tracked)", "declarations")],
             kind="stat", w=8),
        sql("Inspection and marking rates by enterprise (latest versions)", """
            SELECT enterprise_id, count(*) AS declarations,
                   round(avg(CASE WHEN inspection_status = 'pass' THEN 1.0 ELSE 0.0 END), 4) AS inspection_pass_rate,
                   round(avg(CASE WHEN batch_marked THEN 1.0 ELSE 0.0 END), 4) AS marking_rate
            FROM export_declarations_latest
            WHERE $__timeFilter(declared_at) AND region_code LIKE '${region}%'
            GROUP BY enterprise_id ORDER BY marking_rate, inspection_pass_rate LIMIT 20""", w=12, h=10),
        sql("Failed declarations", """
            SELECT declared_at, declaration_no, enterprise_id, destination, product_category, inspected_at
            FROM export_declarations_latest
            WHERE $__timeFilter(declared_at) AND region_code LIKE '${region}%' AND inspection_status = 'fail'
            ORDER BY declared_at DESC LIMIT 50""", w=12, h=10),
    ]),
    "pipeline": ("safety-hub — Pipeline health", ["feed"], [
        prom("Throughput by feed and outcome (messages/s)",
             [(f'sum by (feed, outcome) (rate(hub_ingest_records_total{{feed=~"$feed"}}[{RATE}]))', "{{feed}} {{outcome}}")],
             unit="reqps"),
        prom("Consumer lag by partition (messages)",
             [("hub_consumer_lag_messages", "{{topic}}/{{partition}}")]),
        prom("Checkpoint age (s)", [("max(hub_checkpoint_age_seconds)", "age")], unit="s", w=8,
             thresholds=bars(60, 300, higher_is_better=False)),
        prom("Ready", [("min(hub_ready)", "ready")], kind="stat", w=8,
             thresholds=bars(1, 1)),
        prom("Delivery outbox depth", [("sum(hub_outbox_depth)", "notifications waiting")], w=8),
        prom("Deliveries by channel and outcome (per s)",
             [(f"sum by (channel, outcome) (rate(hub_deliveries_total[{RATE}]))", "{{channel}} {{outcome}}")],
             unit="reqps"),
        prom("SQL queries: p95 latency and outcomes", [
            (f"histogram_quantile(0.95, sum by (le) (rate(hub_sql_query_duration_seconds_bucket[{RATE}])))", "p95 (s)"),
            (f"sum by (outcome) (rate(hub_sql_queries_total[{RATE}]))", "{{outcome}} /s"),
        ]),
        prom("Checkpoints and archive (per s)", [
            (f"sum by (outcome) (rate(hub_checkpoints_total[{RATE}]))", "checkpoints {{outcome}}"),
            (f"sum(rate(hub_archive_bytes_written_total[{RATE}]))", "archive bytes"),
        ]),
        prom("Rule evaluation: pending observations and late events", [
            ("sum(hub_rule_pending_observations)", "pending"),
            # Zero, not "no data", until the first such event (the counter has no series before).
            (f"sum by (feed) (rate(hub_events_outside_windows_total[{RATE}])) or on() vector(0)", "outside windows {{feed}}"),
        ]),
    ]),
}


def dashboard(uid, title, variables, panels):
    x = y = row_h = 0
    laid_out = []
    for i, p in enumerate(panels, start=1):
        w, h = p.pop("_w"), p.pop("_h")
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p = {"id": i, "gridPos": {"x": x, "y": y, "w": w, "h": h}, **p}
        x += w
        row_h = max(row_h, h)
        laid_out.append(p)
    return {
        "uid": f"safety-hub-{uid}", "title": title, "tags": ["safety-hub"],
        "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "timezone": "browser",
        "templating": {"list": [{"region": REGION, "feed": FEED}[v] for v in variables]},
        "annotations": {"list": []},
        "links": [{"type": "dashboards", "tags": ["safety-hub"], "asDropdown": True, "title": "safety-hub"}],
        "panels": laid_out,
    }


def main():
    for uid, (title, variables, panels) in DASHBOARDS.items():
        text = json.dumps(dashboard(uid, title, variables, panels), indent=2, ensure_ascii=False)
        (OUT / f"{uid}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
