#!/usr/bin/env python3
"""Checks dashboards/*.json against Grafana's dashboard schema, as published in
grafana-foundation-sdk (PyPI; Grafana's schemas generated into typed models): each
dashboard, and each panel's options for its panel type, is loaded into the schema's
model and written back; anything the schema does not know is dropped on the way, and
anything of the wrong shape fails to load. Prints what differs; exit status 1 if
anything does. Run by tests/dashboards.rs."""

import json
import pathlib
import sys

from grafana_foundation_sdk.cog import encoder
from grafana_foundation_sdk.models import dashboard, stat, table, timeseries

PANEL_OPTIONS = {"timeseries": timeseries.Options, "stat": stat.Options, "table": table.Options}


def round_trip(model, data):
    return json.loads(encoder.JSONEncoder(sort_keys=True).encode(model.from_json(data)))


def differences(a, b, path):
    if isinstance(a, dict):
        for k, v in a.items():
            if not isinstance(b, dict) or k not in b:
                yield f"{path}/{k}: not in the schema"
            else:
                yield from differences(v, b[k], f"{path}/{k}")
    elif isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            yield f"{path}: list changed"
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                yield from differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: {a!r} became {b!r}"


def main():
    problems = []
    files = sorted(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent).glob("*.json"))
    for f in files:
        d = json.loads(f.read_text())
        problems += [f"{f.name}{p}" for p in differences(d, round_trip(dashboard.Dashboard, d), "")]
        for i, panel in enumerate(d["panels"]):
            model = PANEL_OPTIONS.get(panel["type"])
            if model is None:
                problems.append(f"{f.name} panel {i}: no schema for panel type {panel['type']}")
                continue
            problems += [f"{f.name} panel {i} options{p}"
                         for p in differences(panel["options"], round_trip(model, panel["options"]), "")]
    for p in problems:
        print(p)
    print(f"{len(files)} dashboards checked, {len(problems)} problems")
    sys.exit(1 if problems or not files else 0)


if __name__ == "__main__":
    main()
