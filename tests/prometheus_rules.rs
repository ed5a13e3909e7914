//! The Prometheus alerting rules for the hub's own health
//! (`deploy/prometheus/safety-hub-rules.yml`): valid for Prometheus (`promtool check
//! rules`), each alert firing on the series that should trigger it and silent on a
//! healthy hub's (`promtool test rules`), and every metric they use one the hub exports.

use std::path::Path;
use std::process::Command;

fn rules_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus"))
}

fn promtool_installed() -> bool {
    Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(rules_dir())
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn health_rules_pass_promtool_check_and_unit_tests() {
    if !promtool_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is not installed (apt-get install prometheus): the rules cannot be checked"
        );
        eprintln!("\n\n*** SKIPPED prometheus_rules: promtool is not installed (apt-get install prometheus) ***\n\n");
        return;
    }
    let checked = promtool(&["check", "rules", "safety-hub-rules.yml"]);
    assert!(checked.contains("SUCCESS: 7 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "safety-hub-rules.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// Every `hub_…` name in the rules is one the hub exports (named in the metric modules),
/// so no alert silently watches a series that never exists.
#[test]
fn health_rules_use_only_exported_metrics() {
    let rules = std::fs::read_to_string(rules_dir().join("safety-hub-rules.yml")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut exported = String::new();
    for module in [
        "ingest/src/metrics.rs",
        "processors/src/metrics.rs",
        "delivery/src/metrics.rs",
        "sql/src/metrics.rs",
        "api/src/metrics.rs",
    ] {
        let path = root.join(module);
        exported +=
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("hub_"))
        .collect();
    used.sort();
    used.dedup();
    assert!(used.len() >= 7, "{used:?}");
    for name in used {
        assert!(
            exported.contains(&format!("\"{name}\"")),
            "the rules use {name}, which no metrics module defines"
        );
    }
}
