//! The `email` channel against a real SMTP server (`tests/smtp_receiver.py`, PyPI
//! `aiosmtpd`), which parses every message with Python's `email` package: what
//! arrives is read back as the server decoded it, not as the hub meant it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hub_delivery::channel::email::{render, EmailSender, SmtpConfig, SmtpTls};
use hub_delivery::cloudevent;
use hub_delivery::notification::Notification;
use hub_delivery::outbox::Verdict;
use hub_model::alert::{Alert, AlertState, AlertTransition, TransitionKind, WindowSpan};
use hub_model::Timestamp;
use serde_json::Value;

struct SmtpServer {
    child: Child,
    port: u16,
    out: PathBuf,
    log: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `smtp_receiver.py` with `args` (`--starttls CERT KEY`, `--auth U P`, …),
/// writing into a fresh directory under `dir`; waits until it accepts connections.
fn smtp_server(dir: &Path, args: &[&str]) -> SmtpServer {
    let check = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .expect("the email tests need python3");
    assert!(
        check.status.success(),
        "the email tests need python3 with aiosmtpd: `python3 -m pip install aiosmtpd` \
         (scripts/test installs it)\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let port = free_port();
    let out = dir.join(format!("smtp-{port}"));
    std::fs::create_dir(&out).unwrap();
    let log = dir.join(format!("smtp-{port}.log"));
    let log_file = std::fs::File::create(&log).unwrap();
    let child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_receiver.py"))
        .arg(port.to_string())
        .arg(&out)
        .args(args)
        .stdout(Stdio::from(log_file.try_clone().unwrap()))
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("python3");
    let mut server = SmtpServer {
        child,
        port,
        out,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "smtp_receiver.py exited ({status}):\n{}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "the SMTP server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

impl SmtpServer {
    fn config(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            from: "safety-hub <alerts@hub.example>".into(),
            timeout: Duration::from_secs(5),
            ..SmtpConfig::default()
        }
    }

    /// The messages received so far, in order.
    fn messages(&self) -> Vec<Value> {
        let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(&self.out)
            .unwrap()
            .filter_map(|e| {
                let path = e.unwrap().path();
                let n = path
                    .file_name()?
                    .to_str()?
                    .strip_prefix("message-")?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()?;
                Some((n, path))
            })
            .collect();
        files.sort();
        files
            .iter()
            .map(|(_, p)| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits (with a deadline) until `n` messages have arrived.
    fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} messages arrived:\n{}",
                got.len(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn market() -> Alert {
    let mut a = Alert::sample();
    a.summary = "Market M-330102-003 (330102): kiosk pass rate 80.0% over 24h (30 tests) is below the 85% floor".into();
    a.evidence = vec!["kq-330102-017-000002".into(), "kq-<017>&000019".into()];
    a.window = Some(WindowSpan {
        length: "24h".into(),
        start: Timestamp(a.started_at.0 - 86_400_000_000),
        end: a.started_at,
    });
    a
}

fn notification(alert: &Alert, kind: TransitionKind, sequence: u32) -> Notification {
    let t = AlertTransition {
        notification_id: AlertTransition::notification_id(alert, sequence),
        kind,
        at: alert.started_at,
        sequence,
        alert: alert.clone(),
    };
    let body = cloudevent::to_json(&t, "safety-hub/test", Timestamp::now()).unwrap();
    Notification::parse(&body).unwrap()
}

fn batch() -> Vec<Notification> {
    let mut fixed = market();
    fixed.alert_id = "beta_agonist_positive_rate/region_code=3301".into();
    fixed.rule = "beta_agonist_positive_rate".into();
    fixed.agency = "agriculture".into();
    fixed.state = AlertState::Resolved;
    fixed.resolved_at = Some(Timestamp(fixed.started_at.0 + 3_600_000_000));
    fixed.summary = "Region 3301: positive rate back within the bars (resolved)".into();
    vec![
        notification(&market(), TransitionKind::Firing, 1),
        notification(&fixed, TransitionKind::Resolved, 2),
    ]
}

fn part<'a>(message: &'a Value, content_type: &str) -> &'a Value {
    message["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in {message}"))
}

#[tokio::test]
async fn a_batch_arrives_as_one_bilingual_multipart_alternative_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = smtp_server(dir.path(), &[]);
    let sender = EmailSender::new(&server.config()).unwrap();
    let batch = batch();
    let to = [
        "duty@market.example".to_string(),
        "王科长 <wang@agri.example>".to_string(),
    ];
    let a = sender.send(&to, &batch).await;
    assert_eq!(a.verdict, Verdict::Delivered, "{:?}", a.error);

    let got = server.wait_for(1);
    assert_eq!(got.len(), 1, "one message per batch");
    let m = &got[0];
    assert_eq!(m["mail_from"], "alerts@hub.example");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["duty@market.example", "wang@agri.example"])
    );
    assert_eq!(m["content_type"], "multipart/alternative");
    assert_eq!(m["subject"], render(&batch).subject.as_str());
    assert!(
        m["subject"].as_str().unwrap().starts_with(
            "[safety-hub] 2 条通知 2 notifications | 严重 Critical: kiosk_pass_rate M-330102-003"
        ),
        "{m}"
    );
    assert!(m["message_id"].as_str().unwrap().starts_with("<ntf-batch-"));
    assert_eq!(m["to"], "duty@market.example, 王科长 <wang@agri.example>");

    let text = part(m, "text/plain");
    let html = part(m, "text/html");
    for p in [text, html] {
        assert_eq!(p["charset"], "utf-8", "{p}");
        let body = p["text"].as_str().unwrap();
        let zh = body
            .find("【严重·触发】农贸市场快检合格率（kiosk_pass_rate）")
            .unwrap_or_else(|| panic!("no Chinese heading in {body}"));
        let en = body
            .find("kiosk pass rate 80.0% over 24h (30 tests) is below the 85% floor")
            .unwrap_or_else(|| panic!("no English summary in {body}"));
        assert!(zh < en, "Chinese first: {body}");
        for s in [
            "瘦肉精阳性率（beta_agonist_positive_rate）",
            "已恢复",
            "农业农村部门（agriculture）",
            "80.0%，低于阈值 85%",
            "[Critical · Resolved] beta_agonist_positive_rate",
            batch[0].id.as_str(),
            batch[1].id.as_str(),
        ] {
            assert!(body.contains(s), "{s} missing from {body}");
        }
    }
    // Evidence ids from the feeds are escaped in the HTML, kept in the text.
    assert!(text["text"].as_str().unwrap().contains("kq-<017>&000019"));
    assert!(html["text"]
        .as_str()
        .unwrap()
        .contains("kq-&lt;017&gt;&amp;000019"));
    assert!(!html["text"].as_str().unwrap().contains("<017>"));
}

#[tokio::test]
async fn smtp_refusals_are_refused_or_retried_by_their_code() {
    let dir = tempfile::tempdir().unwrap();
    let server = smtp_server(dir.path(), &[]);
    let sender = EmailSender::new(&server.config()).unwrap();
    let batch = &batch()[..1];

    let a = sender.send(&["reject@market.example".into()], batch).await;
    assert_eq!(a.verdict, Verdict::Refused, "{:?}", a.error);
    assert!(a.error.as_deref().unwrap().contains("550"), "{:?}", a.error);

    let a = sender.send(&["busy@market.example".into()], batch).await;
    assert_eq!(a.verdict, Verdict::Retry, "{:?}", a.error);
    assert!(a.error.as_deref().unwrap().contains("451"), "{:?}", a.error);

    let a = sender.send(&["no address".into()], batch).await;
    assert_eq!(a.verdict, Verdict::Refused, "{:?}", a.error);

    // The server still works, and none of the refused ones reached it.
    let a = sender.send(&["ok@market.example".into()], batch).await;
    assert_eq!(a.verdict, Verdict::Delivered, "{:?}", a.error);
    let got = server.wait_for(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["rcpt_tos"], serde_json::json!(["ok@market.example"]));
}

#[tokio::test]
async fn a_relay_that_stops_answering_is_retried_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = smtp_server(dir.path(), &[]);
    let config = SmtpConfig {
        timeout: Duration::from_secs(1),
        ..server.config()
    };
    let started = Instant::now();
    let a = EmailSender::new(&config)
        .unwrap()
        .send(&["stall@market.example".into()], &batch()[..1])
        .await;
    assert_eq!(a.verdict, Verdict::Retry, "{:?}", a.error);
    assert!(a.error.unwrap().contains("no answer within 1s"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn no_smtp_server_means_retry() {
    let config = SmtpConfig {
        port: free_port(),
        timeout: Duration::from_secs(2),
        ..SmtpConfig::default()
    };
    let sender = EmailSender::new(&config).unwrap();
    let a = sender
        .send(&["duty@market.example".into()], &batch()[..1])
        .await;
    assert_eq!(a.verdict, Verdict::Retry, "{:?}", a.error);
    assert!(
        a.error
            .as_deref()
            .unwrap()
            .contains(&format!("127.0.0.1:{}", config.port)),
        "{:?}",
        a.error
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the TLS test makes its certificates with the openssl command");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A CA (`<name>-ca.pem`) and a certificate it signed for 127.0.0.1
/// (`<name>.pem`, `<name>.key`).
fn certificates(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let ca = format!("{name}-ca.pem");
    let ca_key = format!("{name}-ca.key");
    let (cert, key, csr) = (
        format!("{name}.pem"),
        format!("{name}.key"),
        format!("{name}.csr"),
    );
    let subject = format!("/CN=safety-hub test CA {name}");
    let mut args = vec!["req", "-x509", "-nodes", "-days", "2"];
    args.extend(ec);
    args.extend(["-keyout", &ca_key, "-out", &ca, "-subj", &subject]);
    openssl(dir, &args);
    let mut args = vec!["req", "-nodes"];
    args.extend(ec);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-set_serial",
            "1",
            "-days",
            "2",
            "-out",
            &cert,
            "-extfile",
            "server.ext",
        ],
    );
    (dir.join(ca), dir.join(cert), dir.join(key))
}

/// STARTTLS with a password and TLS from the first byte, both verifying the server's
/// certificate against the trusted CAs (`SSL_CERT_FILE`, read when the sender is
/// made); never falling back to plain text. The only test here that uses TLS, so
/// the only one that reads `SSL_CERT_FILE`.
#[tokio::test]
async fn starttls_and_tls_verify_the_server_and_protect_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path(), "good");
    let (other_ca, _, _) = certificates(dir.path(), "other");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let batch = &batch()[..1];
    let to = ["duty@market.example".to_string()];
    let secret = "s3cret-pw-Ω";

    std::env::set_var("SSL_CERT_FILE", &ca);
    let server = smtp_server(
        dir.path(),
        &["--starttls", cert, key, "--auth", "hub", secret],
    );
    let config = SmtpConfig {
        tls: SmtpTls::Starttls,
        username: Some("hub".into()),
        password: Some(secret.into()),
        ..server.config()
    };
    let a = EmailSender::new(&config).unwrap().send(&to, batch).await;
    assert_eq!(a.verdict, Verdict::Delivered, "{:?}", a.error);
    let got = server.wait_for(1);
    assert_eq!(
        (&got[0]["tls"], &got[0]["auth"]),
        (&Value::Bool(true), &Value::from("hub"))
    );
    assert!(part(&got[0], "text/plain")["text"]
        .as_str()
        .unwrap()
        .contains("农贸市场快检合格率"));

    // A wrong password (535): the hub's configuration is at fault, so the notification
    // waits (retried) until it is fixed; the password is in no message.
    let wrong = SmtpConfig {
        password: Some("wrong-pw-123".into()),
        ..config.clone()
    };
    let a = EmailSender::new(&wrong).unwrap().send(&to, batch).await;
    assert_eq!(a.verdict, Verdict::Retry, "{:?}", a.error);
    let why = a.error.unwrap();
    assert!(why.contains("535"), "{why}");
    assert!(
        !why.contains("wrong-pw-123") && !why.contains(secret),
        "{why}"
    );

    // A server certificate from a CA that is not trusted: no delivery, retried.
    std::env::set_var("SSL_CERT_FILE", &other_ca);
    let a = EmailSender::new(&config).unwrap().send(&to, batch).await;
    assert_eq!(a.verdict, Verdict::Retry, "{:?}", a.error);
    assert_eq!(server.messages().len(), 1);
    std::env::set_var("SSL_CERT_FILE", &ca);

    // TLS from the first byte.
    let tls_server = smtp_server(dir.path(), &["--tls", cert, key]);
    let config = SmtpConfig {
        tls: SmtpTls::Tls,
        ..tls_server.config()
    };
    let a = EmailSender::new(&config).unwrap().send(&to, batch).await;
    assert_eq!(a.verdict, Verdict::Delivered, "{:?}", a.error);
    assert_eq!(tls_server.wait_for(1)[0]["tls"], true);

    // STARTTLS required but not offered: nothing is sent in plain text.
    let plain = smtp_server(dir.path(), &[]);
    let config = SmtpConfig {
        tls: SmtpTls::Starttls,
        ..plain.config()
    };
    let a = EmailSender::new(&config).unwrap().send(&to, batch).await;
    assert_eq!(a.verdict, Verdict::Retry, "{:?}", a.error);
    assert!(plain.messages().is_empty());
}
