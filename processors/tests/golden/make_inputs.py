#!/usr/bin/env python3
"""Writes the golden scenarios' input files (`<scenario>/input.ndjson`).

Each line is `<feed> <JSON event>`. The inputs are generated (not hand-typed) so that
each scenario reads as the story in its docstring; re-run after editing:
    python3 processors/tests/golden/make_inputs.py
The expected transitions (`expected.txt`) are written by the test with
UPDATE_GOLDEN=1 and then read and checked by a person before they are committed.
"""
import json, os
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc)


def ts(hours):
    return (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_time(line):
    ev = json.loads(line.split(" ", 1)[1])
    t = ev.get("tested_at") or ev.get("period_end") or (ev.get("inspection") or {}).get("inspected_at") or ev.get("declared_at")
    return t


class Out:
    def __init__(self, name):
        self.name = name
        self.lines = []
        self.n = 0

    def add(self, feed, ev):
        self.lines.append(f"{feed} {json.dumps(ev, ensure_ascii=False)}")

    def kiosk(self, h, market, result, item="organophosphate_carbamate", region=None, kiosk=None):
        self.n += 1
        region = region or market.split("-")[1]
        self.add("kiosk", {
            "event_id": f"k-{self.name}-{self.n:05d}", "kiosk_id": kiosk or f"K-{market[2:]}",
            "market_id": market, "region_code": region, "tested_at": ts(h),
            "sample": {"category": "vegetable", "name": "spinach"}, "test_item": item,
            "result": result})

    def slaughter(self, h, plant, head, passed=None, designated=True, region=None, tested=0, positive=0, period=24):
        self.n += 1
        region = region or plant.split("-")[1]
        self.add("slaughter", {
            "event_id": f"s-{self.name}-{self.n:05d}", "plant_id": plant, "designated": designated,
            "region_code": region, "species": "pig", "period_start": ts(h - period), "period_end": ts(h),
            "head_count": head, "quarantine_passed": head if passed is None else passed, "condemned": 0,
            "beta_agonist_tested": tested, "beta_agonist_positive": positive})

    def export(self, h, decl, enterprise, status, version, marked=True, region="330102", inspected_h=None):
        self.n += 1
        insp = {"status": status}
        if status != "pending":
            insp["inspected_at"] = ts(inspected_h if inspected_h is not None else h)
            if status == "fail":
                insp["reasons"] = ["labelling"]
        self.add("export", {
            "event_id": f"x-{decl}-v{version}", "declaration_no": decl, "enterprise_id": enterprise,
            "region_code": region, "declared_at": ts(h), "hs_code": "020329",
            "product_category": "frozen_pork", "destination": "HK", "quantity_kg": 1000.0,
            "batch_marked": marked, "inspection": insp})

    def write(self, sort=True, keep_last_unsorted=0):
        """Lines in event-time order (as feeds mostly arrive), except the last
        `keep_last_unsorted`, which arrive late on purpose."""
        if sort:
            head = self.lines[: len(self.lines) - keep_last_unsorted]
            tail = self.lines[len(self.lines) - keep_last_unsorted:]
            head.sort(key=event_time)
            self.lines = head + tail
        d = os.path.join(HERE, self.name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "input.ndjson"), "w") as f:
            f.write("\n".join(self.lines) + "\n")


def kiosk_bars():
    """A market: 19 tests with 3 failures (below min samples: silent), the 20th fails
    (16/20 = 80 %: critical), passes lift it past the floor (warning: a severity
    change), more passes resolve it. A second market hovers at 95 % (94.x, 95.x, …):
    one warning, no flapping, because clearing needs 96 %."""
    o = Out("kiosk_bars")
    h = 1.0
    for i in range(19):
        o.kiosk(h, "M-330102-001", "fail" if i in (3, 9, 15) else "pass"); h += 0.1
    o.kiosk(h, "M-330102-001", "fail"); h += 0.1          # 16/20 = 80 %
    for i in range(5):
        o.kiosk(h, "M-330102-001", "pass"); h += 0.1      # 21/25 = 84 %: still critical (hysteresis)
    for i in range(10):
        o.kiosk(h, "M-330102-001", "pass"); h += 0.1      # 31/35 = 88.6 %: warning
    for i in range(70):
        o.kiosk(h, "M-330102-001", "pass"); h += 0.1      # 101/105 = 96.2 %: resolved
    o.kiosk(h, "M-330102-001", "invalid"); h += 0.1       # invalid tests do not count
    # The hovering market: 100 tests at 95 %, then alternate around the bar.
    h = 1.05
    for i in range(100):
        o.kiosk(h, "M-330102-002", "fail" if i % 20 == 7 else "pass"); h += 0.1
    for i in range(40):
        o.kiosk(h, "M-330102-002", "fail" if i % 2 == 0 and i % 8 == 0 else "pass"); h += 0.1
        o.kiosk(h, "M-330102-002", "fail" if i % 4 == 1 else "pass"); h += 0.1
    o.write()


def kiosk_aging():
    """Failures age out of the 24 h window while the kiosk feed is quiet: slaughter
    reports move event time on, the alert resolves (no samples left) with no new test."""
    o = Out("kiosk_aging")
    for i in range(20):
        o.kiosk(1 + i * 0.05, "M-330102-001", "fail" if i < 4 else "pass")   # 80 %
    for d in range(3):
        o.slaughter(6 + 12 * d, "S-330102-001", 100)
    o.write()


def beta_agonist():
    """A county: one positive kiosk strip among 150 tests (warning: any positive; not
    critical below 200 tests), then slaughter tests bring the tests to 350 with one more
    positive (2/350 = 0.57 % > 0.5 %: critical)."""
    o = Out("beta_agonist")
    for i in range(150):
        o.kiosk(1 + i * 0.01, "M-330102-001", "fail" if i == 50 else "pass", item="beta_agonist")
    o.slaughter(6, "S-330102-001", 1000, tested=200, positive=1)
    o.write()


def slaughter_shares():
    """Designated share by head per county (non-designated head pull it below 95 %:
    critical; more designated head lift it to 96.2 %, past the floor by the 1-point
    hysteresis: warning) and quarantine pass rate per plant (99 %, then a bad report:
    94.1 %, critical)."""
    o = Out("slaughter_shares")
    o.slaughter(6, "S-330102-001", 900, passed=891)                     # designated, 99 %
    o.slaughter(7, "S-330102-009", 60, designated=False)                # 900/960 = 93.75 %
    o.slaughter(30, "S-330102-001", 600, passed=520)                    # plant: 1411/1500 = 94.1 %; share 1500/1560 = 96.2 %
    o.write()


def export_supersede():
    """An enterprise: 20 declarations, 4 fail inspection (80 %: critical), one pending
    version that does not count; then the 4 are re-inspected and pass: each new version
    supersedes the failed one and the alert resolves. A second enterprise has 2 of 20
    declarations without batch marks (90 %: critical for marking)."""
    o = Out("export_supersede")
    for i in range(20):
        o.export(1 + i * 0.1, f"D{i:03d}", "E-001", "pending", 1)
    for i in range(20):
        o.export(1 + i * 0.1, f"D{i:03d}", "E-001", "fail" if i < 4 else "pass", 2, inspected_h=5 + i * 0.1)
    for i in range(4):
        o.export(1 + i * 0.1, f"D{i:03d}", "E-001", "pass", 3, inspected_h=10 + i)
    for i in range(20):
        o.export(2 + i * 0.1, f"F{i:03d}", "E-002", "pass", 1, marked=i >= 2, region="440105", inspected_h=3 + i * 0.1)
    o.write()


def silence():
    """Kiosk K-1 reports, then stops; another kiosk keeps the clock moving: warning after
    6 h of silence, critical after 24 h, a reminder every 4 h in between, resolved
    when K-1 reports again."""
    o = Out("silence")
    o.kiosk(1, "M-330102-001", "pass", kiosk="K-1")
    h = 1.5
    while h < 30:
        o.kiosk(h, "M-330102-002", "pass", kiosk="K-2"); h += 0.5
    o.kiosk(30.25, "M-330102-001", "pass", kiosk="K-1")
    o.write()


def throughput():
    """A plant reporting ~1000 head a day for 20 days (sigma floored at 5 % of the mean,
    50 head), then 800 (a drop of 4 sigma: warning), then back to normal (resolved),
    then 2600 (a surge beyond 5 sigma: critical)."""
    o = Out("throughput")
    day = 24
    for d in range(20):
        o.slaughter(day * (d + 1), "S-330102-001", 1000 + (d % 5) * 20 - 40)
    o.slaughter(day * 21, "S-330102-001", 800)
    o.slaughter(day * 22, "S-330102-001", 1000)
    o.slaughter(day * 23, "S-330102-001", 2600)
    o.write()


def hold_and_late():
    """With a 1 h hold: a short dip goes pending and is withdrawn; a long one fires.
    An event older than the 24 h window arrives late and changes nothing."""
    o = Out("hold_and_late")
    h = 1
    for i in range(20):
        o.kiosk(h, "M-330102-001", "fail" if i < 2 else "pass"); h += 0.01   # 90 %: pending
    for i in range(20):
        o.kiosk(h, "M-330102-001", "pass"); h += 0.01                        # 95 %: withdrawn before 1 h
    for i in range(10):
        o.kiosk(h, "M-330102-001", "fail"); h += 0.01                        # 76 %
    for i in range(30):
        o.kiosk(h + 0.2 * i, "M-330102-001", "fail" if i % 3 == 0 else "pass")  # stays low for hours: fires
    o.kiosk(60, "M-330102-002", "pass")                                      # moves time on
    o.kiosk(2, "M-330102-001", "fail")                                       # too old: no effect
    o.write(keep_last_unsorted=1)


for f in [kiosk_bars, kiosk_aging, beta_agonist, slaughter_shares, export_supersede, silence, throughput, hold_and_late]:
    f()
