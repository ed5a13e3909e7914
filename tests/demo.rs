//! The README's first command: `safety-hub demo` shows ingest, dead letters and alerts
//! within 30 s with nothing else running (embedded broker, simulator, pipeline, HTTP).

use crate::common;

use std::path::Path;
use std::process::Command;

#[test]
fn demo_shows_ingest_and_dead_letters_within_30_seconds() {
    let port = common::free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_safety-hub"))
        .args([
            "demo",
            "--duration",
            "25s",
            "--http",
            &format!("127.0.0.1:{port}"),
            "--pg",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{port}/metrics")),
        "{stdout}"
    );
    let status: Vec<&str> = stdout.lines().filter(|l| l.contains("ingested:")).collect();
    let last = status
        .last()
        .unwrap_or_else(|| panic!("no status line:\n{stdout}"));
    // Some rows in every feed table, and dead letters of at least three classes.
    for table in [
        "kiosk_results",
        "slaughter_reports",
        "export_declarations",
        "dead_letters",
    ] {
        let n: i64 = last
            .split(table)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.trim_end_matches(',').parse().ok())
            .unwrap_or_else(|| panic!("no count for {table} in `{last}`"));
        assert!(n > 0, "{table} is empty: {last}");
    }
    let reasons = last.split("dead letters by reason:").nth(1).unwrap();
    assert!(reasons.matches(',').count() >= 2, "{last}");
    // Alerts: printed as they fire, and counted in the status line.
    assert!(
        stdout.contains("  ALERT firing"),
        "no alert printed:\n{stdout}"
    );
    let firing = last.split("alerts firing:").nth(1).unwrap_or("");
    assert!(
        firing.contains("critical") || firing.contains("warning"),
        "{last}"
    );
    assert!(stdout.contains("safety-hub demo: stopped"));
}

/// `demo --webhook URL`: the alerts arrive at a real receiver as signed CloudEvents that
/// the Standard Webhooks reference implementation verifies.
#[test]
fn demo_delivers_to_a_webhook_given_on_the_command_line() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let dir = tempfile::tempdir().unwrap();
    let (port, hook_port) = (common::free_port(), common::free_port());
    let received = dir.path().join("received.jsonl");
    let mut receiver = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("delivery/tests/receiver.py"))
        .args([
            hook_port.to_string(),
            SECRET.to_string(),
            received.display().to_string(),
        ])
        .spawn()
        .expect("python3 with standardwebhooks (scripts/test installs it)");
    let out = Command::new(env!("CARGO_BIN_EXE_safety-hub"))
        .args([
            "demo",
            "--duration",
            "25s",
            "--http",
            &format!("127.0.0.1:{port}"),
            "--pg",
            "127.0.0.1:0",
            "--webhook",
            &format!("http://127.0.0.1:{hook_port}/hook"),
            "--webhook-secret",
            SECRET,
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let _ = receiver.kill();
    let _ = receiver.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("signed with --webhook-secret"), "{stdout}");
    assert!(
        !stdout.contains("MfKQ9r8"),
        "the given secret is not printed"
    );
    let requests: Vec<serde_json::Value> = std::fs::read_to_string(&received)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        !requests.is_empty(),
        "nothing reached the webhook:\n{stdout}"
    );
    assert!(
        requests.iter().all(|r| r["verified"] == true),
        "{requests:?}"
    );
    assert!(requests
        .iter()
        .any(|r| r["type"] == "safety_hub.alert.firing"));
    let last = stdout
        .lines()
        .rfind(|l| l.contains("notifications:"))
        .unwrap_or("");
    assert!(last.contains("delivered"), "status line: {last}\n{stdout}");
}
