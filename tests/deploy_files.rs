//! The deployment files, validated as far as this machine allows (no Docker engine, no
//! cluster): the compose file's structure and every file it mounts, Prometheus's and
//! Alertmanager's configs by their own checkers (`promtool check config`, `amtool
//! check-config`), the Kubernetes manifests rendered by `kubectl kustomize` with their
//! probes, non-root security context, resources and Secret, the Dockerfile's stages
//! and user.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Every YAML document of `text`, as JSON (PyYAML: scripts/test installs it with moto).
fn yaml_docs(text: &str) -> Vec<Value> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, yaml, json; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None]))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 with PyYAML");
    assert!(
        out.status.success(),
        "not valid YAML: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// Runs a checker; its standard output, or a failure showing both of its outputs.
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed (scripts/test installs it)"
        );
        eprintln!("\n*** SKIPPED part of deploy_files: {name} is not installed ***\n");
    }
    found
}

#[test]
fn compose_file_runs_the_whole_stack_from_files_in_the_repository() {
    let dir = deploy().join("compose");
    let text = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
    let compose = &yaml_docs(&text)[0];
    let services = compose["services"].as_object().unwrap();
    for s in [
        "kafka",
        "safety-hub",
        "prometheus",
        "alertmanager",
        "grafana",
    ] {
        assert!(services.contains_key(s), "no {s} service");
    }
    // Kafka in KRaft mode: broker and controller, no ZooKeeper.
    let kafka = &services["kafka"]["environment"];
    assert_eq!(kafka["KAFKA_PROCESS_ROLES"], "broker,controller");
    assert!(!text.to_lowercase().contains("zookeeper"));
    // The hub: built from the Dockerfile, a token required, its state on a volume.
    let hub = &services["safety-hub"];
    let context = dir.join(hub["build"]["context"].as_str().unwrap());
    assert!(context
        .join(hub["build"]["dockerfile"].as_str().unwrap())
        .is_file());
    assert!(hub["environment"]["HUB__AUTH__TOKENS"]
        .as_str()
        .unwrap()
        .contains("SAFETY_HUB_TOKEN:?"));
    // Every file or directory mounted from the repository exists.
    let mut mounts = 0;
    for (name, service) in services {
        for v in service["volumes"].as_array().into_iter().flatten() {
            let source = v.as_str().unwrap().split(':').next().unwrap();
            if source.starts_with('.') {
                assert!(
                    dir.join(source).exists(),
                    "{name} mounts {source}, which is not in the repository"
                );
                mounts += 1;
            }
        }
    }
    assert!(mounts >= 6, "{mounts}");

    if tool("promtool") {
        // Prometheus's config with the rules at their repository path.
        let tmp = tempfile::tempdir().unwrap();
        let config = std::fs::read_to_string(dir.join("prometheus.yml"))
            .unwrap()
            .replace(
                "/etc/prometheus/safety-hub-rules.yml",
                &deploy()
                    .join("prometheus/safety-hub-rules.yml")
                    .display()
                    .to_string(),
            );
        std::fs::write(tmp.path().join("prometheus.yml"), config).unwrap();
        run_ok(
            Command::new("promtool")
                .args(["check", "config"])
                .arg(tmp.path().join("prometheus.yml")),
        );
    }
    if tool("amtool") {
        run_ok(
            Command::new("amtool")
                .arg("check-config")
                .arg(dir.join("alertmanager.yml")),
        );
    }
}

#[test]
fn kubernetes_manifests_render_with_probes_non_root_and_secrets() {
    if !tool("kubectl") {
        return;
    }
    let rendered = run_ok(
        Command::new("kubectl")
            .arg("kustomize")
            .arg(deploy().join("kubernetes")),
    );
    let docs = yaml_docs(&rendered);
    let of = |kind: &str| -> &Value {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let set = of("StatefulSet");
    let pod = &set["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert_eq!(c["envFrom"][0]["secretRef"]["name"], "safety-hub-secrets");
    assert!(
        set["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
            .is_string()
    );
    let secret = of("Secret");
    assert!(secret["stringData"]["HUB__AUTH__TOKENS"].is_string());
    // The ConfigMap holds the example production config as it is in the repository.
    let config = of("ConfigMap");
    assert_eq!(
        config["data"]["hub.toml"].as_str().unwrap(),
        std::fs::read_to_string(deploy().join("kubernetes/hub.production.toml")).unwrap()
    );
    let monitor = of("ServiceMonitor");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    // Everything in the namespace, selected by the same labels.
    for d in docs.iter().filter(|d| d["kind"] != "Namespace") {
        assert_eq!(d["metadata"]["namespace"], "safety-hub", "{}", d["kind"]);
        assert_eq!(
            d["metadata"]["labels"]["app.kubernetes.io/name"],
            "safety-hub"
        );
    }
}

#[test]
fn dockerfile_builds_in_one_stage_and_runs_as_non_root_in_another() {
    let text = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].contains(" AS build"));
    assert!(text.contains("COPY --from=build"));
    let user = text
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && !user.ends_with(" 0"), "{user}");
    assert!(text.contains("EXPOSE 8080 5433"));
}
