//! The `email` channel: one message per batch to a subscription's addresses through
//! the hub's SMTP relay (`delivery.smtp`).
//!
//! The message is `multipart/alternative` (text/plain and text/html, UTF-8), written
//! for the agency: a Chinese summary first, built from the alert's fields (rule names,
//! severities and agencies in the campaigns' own terms, times in Beijing time), then
//! the English one, led by the alert's own `summary`. Every piece of alert text in the
//! HTML is escaped: ids and names come from the feeds.
//!
//! The `Message-ID` derives from the notification id(s), so a message resent after a
//! lost answer carries the same id and mail systems can drop the duplicate.
//!
//! Verdicts: a permanent SMTP refusal (5xx, e.g. an unknown recipient or failed
//! authentication) and an address that does not parse are refused; transient
//! refusals (4xx), timeouts, connection and TLS failures are retried.

use hub_model::figures::{bar_pct, duration, pct};
use std::time::Duration;

use hub_model::alert::{Alert, Comparison, Severity};
use hub_model::Timestamp;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::channel::{error_chain, Attempt};
use crate::cloudevent::REMINDER;
use crate::notification::Notification;
use crate::DeliveryError;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP: only for a relay on the same host or a trusted network.
    #[default]
    None,
    /// Plain connection upgraded with STARTTLS (usually port 587); the send fails
    /// rather than continue unencrypted if the relay does not offer it.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// The SMTP relay (`delivery.smtp`). TLS uses rustls and trusts the system's CA
/// store (`SSL_CERT_FILE` / `SSL_CERT_DIR` point it elsewhere).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// The sender, `Name <address>` or a bare address.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: SmtpTls,
    /// For one message's whole exchange with the relay, connecting included.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: 25,
            from: "safety-hub <alerts@localhost>".into(),
            username: None,
            password: None,
            tls: SmtpTls::None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The password is never shown.
impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish()
    }
}

const FIELD: &str = "delivery.smtp";

fn invalid(field: &str, message: impl Into<String>) -> DeliveryError {
    DeliveryError::invalid(format!("{FIELD}.{field}"), message)
}

impl SmtpConfig {
    /// Checks every field; the error names the one to fix (`delivery.smtp.from`).
    pub fn validate(&self) -> Result<(), DeliveryError> {
        let host = self.host.trim();
        if host.is_empty() || host.contains(char::is_whitespace) || host.contains('/') {
            return Err(invalid(
                "host",
                format!("{:?} is not a host name or address", self.host),
            ));
        }
        if self.port == 0 {
            return Err(invalid("port", "must be 1–65535"));
        }
        if let Err(e) = self.from.parse::<Mailbox>() {
            return Err(invalid(
                "from",
                format!(
                    "{:?} is not an address (`Name <a@b>` or `a@b`): {e}",
                    self.from
                ),
            ));
        }
        match (&self.username, &self.password) {
            (Some(u), Some(_)) if u.trim().is_empty() => {
                return Err(invalid("username", "must not be empty"))
            }
            (Some(_), None) => {
                return Err(invalid("password", "a username needs a password"));
            }
            (None, Some(_)) => {
                return Err(invalid("username", "a password needs a username"));
            }
            _ => {}
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "must be more than 0s"));
        }
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if self.password.is_some() && matches!(self.tls, SmtpTls::None) && !loopback {
            return Err(invalid(
                "tls",
                "is `none` but a password is set: it would cross the network in clear text; \
                 use tls = \"starttls\" or \"tls\"",
            ));
        }
        Ok(())
    }
}

/// Sends the `email` channel's messages through one relay.
#[derive(Clone)]
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for error messages.
    relay: String,
    timeout: Duration,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender")
            .field("relay", &self.relay)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl EmailSender {
    /// Checks `config` and prepares the transport (TLS settings included); connects
    /// only when sending.
    pub fn new(config: &SmtpConfig) -> Result<Self, DeliveryError> {
        config.validate()?;
        let host = config.host.trim();
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| invalid("from", format!("{e}")))?;
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls | SmtpTls::Tls => {
                let params = TlsParameters::builder(host.to_string())
                    .build_rustls()
                    .map_err(|e| invalid("tls", format!("cannot set up TLS: {e}")))?;
                if config.tls == SmtpTls::Starttls {
                    Tls::Required(params)
                } else {
                    Tls::Wrapper(params)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(config.port)
            .timeout(Some(config.timeout))
            .tls(tls);
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(EmailSender {
            transport: builder.build(),
            from,
            relay: format!("{host}:{}", config.port),
            timeout: config.timeout,
        })
    }

    /// One message for `batch` to every address in `to`.
    pub async fn send(&self, to: &[String], batch: &[Notification]) -> Attempt {
        if batch.is_empty() {
            return Attempt::delivered();
        }
        if to.is_empty() {
            return Attempt::refused("no recipient addresses");
        }
        let rendered = render(batch);
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(rendered.subject)
            .message_id(Some(message_id(batch)));
        for addr in to {
            match addr.parse::<Mailbox>() {
                Ok(mbox) => message = message.to(mbox),
                Err(e) => return Attempt::refused(format!("not an email address: {addr:?}: {e}")),
            }
        }
        let message = match message.multipart(MultiPart::alternative_plain_html(
            rendered.text,
            rendered.html,
        )) {
            Ok(m) => m,
            Err(e) => return Attempt::refused(format!("cannot build the message: {e}")),
        };
        // lettre's own timeout covers connecting only: a relay that stops answering
        // mid-conversation would hold the send for good.
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Err(_) => Attempt::retry(format!(
                "SMTP relay {}: no answer within {}",
                self.relay,
                humantime_serde::re::humantime::format_duration(self.timeout)
            )),
            Ok(Ok(_)) => Attempt::delivered(),
            Ok(Err(e)) => {
                let why = format!("SMTP relay {}: {}", self.relay, error_chain(&e));
                // 530/534/535: the hub's credentials, not the message, are at fault;
                // keep the notifications until the configuration is fixed.
                let auth = e
                    .status()
                    .is_some_and(|c| matches!(c.to_string().as_str(), "530" | "534" | "535"));
                if e.is_permanent() && !auth {
                    Attempt::refused(why)
                } else {
                    Attempt::retry(why)
                }
            }
        }
    }
}

/// `<ntf-…@safety-hub>`: stable for the same batch, so a resend is recognisable.
fn message_id(batch: &[Notification]) -> String {
    let local = if let [one] = batch {
        one.id.clone()
    } else {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for n in batch {
            for b in n.id.bytes().chain([0]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("ntf-batch-{h:016x}-{}", batch.len())
    };
    let local: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("<{local}@safety-hub>")
}

/// A message's subject and its two bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What the notification says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Firing,
    Reminder,
    Resolved,
}

fn kind(n: &Notification) -> Kind {
    if n.is_resolved() {
        Kind::Resolved
    } else if n.event_type == REMINDER {
        Kind::Reminder
    } else {
        Kind::Firing
    }
}

/// The built-in rules (processors/src/rules/defaults.toml) by their Chinese names.
fn rule_zh(rule: &str) -> Option<String> {
    let (base, early) = match rule.strip_suffix(".early_warning") {
        Some(base) => (base, true),
        None => (rule, false),
    };
    let name = match base {
        "kiosk_pass_rate" => "农贸市场快检合格率",
        "kiosk_region_pass_rate" => "地区快检合格率",
        "beta_agonist_positive_rate" => "瘦肉精阳性率",
        "designated_slaughter_share" => "定点屠宰率",
        "quarantine_pass_rate" => "屠宰检疫合格率",
        "export_inspection_pass_rate" => "出口检验合格率",
        "export_batch_marking_rate" => "出口批次管理及检验检疫标志加施率",
        "feed_silence" => "数据上报中断",
        "plant_throughput_anomaly" => "屠宰量异常",
        _ => return None,
    };
    Some(if early {
        format!("{name}趋势预警")
    } else {
        name.to_string()
    })
}

fn severity_zh(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "严重",
        Severity::Warning => "警告",
        Severity::EarlyWarning => "预警",
    }
}

fn severity_en(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::Warning => "Warning",
        Severity::EarlyWarning => "Early warning",
    }
}

fn kind_zh(k: Kind) -> &'static str {
    match k {
        Kind::Firing => "触发",
        Kind::Reminder => "提醒",
        Kind::Resolved => "已恢复",
    }
}

fn kind_en(k: Kind) -> &'static str {
    match k {
        Kind::Firing => "Firing",
        Kind::Reminder => "Reminder",
        Kind::Resolved => "Resolved",
    }
}

fn agency_zh(agency: &str) -> Option<&'static str> {
    Some(match agency {
        "market_supervision" => "市场监管部门",
        "agriculture" => "农业农村部门",
        "commerce" => "商务部门",
        "customs" => "海关",
        _ => return None,
    })
}

fn feed_zh(feed: &str) -> Option<&'static str> {
    Some(match feed {
        "kiosk" => "农贸市场快检",
        "slaughter" => "生猪定点屠宰",
        "export" => "出口检验检疫",
        _ => return None,
    })
}

fn key_zh(key: &str) -> Option<&'static str> {
    Some(match key {
        "market_id" => "市场",
        "kiosk_id" => "快检室",
        "plant_id" => "屠宰厂",
        "enterprise_id" => "企业",
        "declaration_no" => "报关单",
        "region_code" => "行政区划",
        _ => return None,
    })
}

/// `中文名（id）`, or the id alone when there is no Chinese name.
fn zh_with_id(zh: Option<impl AsRef<str>>, id: &str) -> String {
    match zh {
        Some(zh) => format!("{}（{id}）", zh.as_ref()),
        None => id.to_string(),
    }
}

/// How a value of `metric` reads: rates in percent, silences in hours and minutes,
/// throughput in head per day; anything else as a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Rate,
    Seconds,
    Number,
}

fn unit(a: &Alert) -> Unit {
    let m = a.metric.as_str();
    if m.starts_with("seconds") {
        Unit::Seconds
    } else if m.ends_with("rate") || m.ends_with("share") {
        Unit::Rate
    } else {
        Unit::Number
    }
}

fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{v:.2}")
    }
}

fn value_text(a: &Alert) -> String {
    if !a.value.is_finite() {
        return "n/a".into();
    }
    match unit(a) {
        Unit::Rate => pct(a.value),
        Unit::Seconds => duration(a.value),
        Unit::Number => number(a.value),
    }
}

fn threshold_text(a: &Alert) -> String {
    match unit(a) {
        Unit::Rate => bar_pct(a.threshold),
        Unit::Seconds => duration(a.threshold),
        // The throughput rule's bars are distances from the plant's baseline.
        Unit::Number if a.metric == "head_per_day" => format!("{}σ", number(a.threshold)),
        Unit::Number => number(a.threshold),
    }
}

fn interval_text(a: &Alert) -> Option<String> {
    let i = a.interval?;
    let f = |v: f64| match unit(a) {
        Unit::Rate => pct(v),
        _ => number(v),
    };
    Some(format!("{}–{}", f(i.low), f(i.high)))
}

/// The identity values of the group (`M-330102-003`), from the alert id.
fn who(a: &Alert) -> String {
    let from_id = a.group_values();
    if !from_id.is_empty() {
        return from_id.join(",");
    }
    let values: Vec<&str> = a
        .group
        .iter()
        .filter(|(k, _)| k.as_str() != "region_code")
        .map(|(_, v)| v.as_str())
        .collect();
    if values.is_empty() {
        a.group.get("region_code").cloned().unwrap_or_default()
    } else {
        values.join(",")
    }
}

/// `YYYY-MM-DD hh:mm:ss` in Beijing time (UTC+8, no daylight saving).
fn beijing(t: Timestamp) -> String {
    let s = Timestamp(t.0.saturating_add(8 * 3_600_000_000)).to_rfc3339();
    match s.get(..19) {
        Some(head) => format!("{}（北京时间）", head.replace('T', " ")),
        None => s,
    }
}

/// Header text without line breaks or other control characters.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn subject_of(n: &Notification) -> String {
    let a = &n.data;
    let k = kind(n);
    let head = match k {
        Kind::Firing => format!("{} {}", severity_zh(a.severity), severity_en(a.severity)),
        Kind::Reminder => format!(
            "{} {} · {} {}",
            kind_zh(k),
            kind_en(k),
            severity_zh(a.severity),
            severity_en(a.severity)
        ),
        Kind::Resolved => format!("{} {}", kind_zh(k), kind_en(k)),
    };
    let figures = match k {
        Kind::Resolved => format!("{} (bar {})", value_text(a), threshold_text(a)),
        _ if !breaching(a) => format!("{} toward {}", value_text(a), threshold_text(a)),
        _ => format!(
            "{} {} {}",
            value_text(a),
            a.comparison.as_str(),
            threshold_text(a)
        ),
    };
    format!("{head}: {} {} — {figures}", a.rule, who(a))
}

/// Beyond the threshold; an early warning (a drift toward it) or an alert not yet
/// clear of the hysteresis margin is not.
fn breaching(a: &Alert) -> bool {
    a.comparison.breaches(a.value, a.threshold)
}

/// One notification, as a heading, an optional lead sentence and labelled rows.
struct Section {
    heading: String,
    lead: Option<String>,
    rows: Vec<(&'static str, String)>,
}

fn section_zh(n: &Notification) -> Section {
    let a = &n.data;
    let k = kind(n);
    let mut rows = Vec::new();
    let target: Vec<String> = a
        .group
        .iter()
        .map(|(key, v)| format!("{} {v}", key_zh(key).unwrap_or(key.as_str())))
        .collect();
    rows.push(("对象", target.join("，")));
    let side = match a.comparison {
        Comparison::Below => "低于",
        Comparison::Above => "高于",
    };
    rows.push((
        "数值",
        match k {
            Kind::Resolved => format!(
                "{}（阈值 {}，已回到正常范围）",
                value_text(a),
                threshold_text(a)
            ),
            _ if !breaching(a) => {
                format!("{}，趋近阈值 {}", value_text(a), threshold_text(a))
            }
            _ => format!("{}，{side}阈值 {}", value_text(a), threshold_text(a)),
        },
    ));
    let mut basis = format!("{} 个", a.samples);
    if let Some(w) = &a.window {
        basis.push_str(&format!("，统计窗口 {}", w.length));
    }
    if let (Some(i), Some(range)) = (a.interval, interval_text(a)) {
        basis.push_str(&format!("，{} 置信区间 {range}", bar_pct(i.level)));
    }
    rows.push(("样本", basis));
    rows.push(("数据来源", zh_with_id(feed_zh(&a.feed), &a.feed)));
    rows.push(("负责机构", zh_with_id(agency_zh(&a.agency), &a.agency)));
    rows.push(("开始时间", beijing(a.started_at)));
    if let Some(t) = a.fired_at {
        rows.push(("触发时间", beijing(t)));
    }
    if let Some(t) = a.resolved_at {
        rows.push(("恢复时间", beijing(t)));
    }
    if !a.evidence.is_empty() {
        rows.push(("证据事件", a.evidence.join(", ")));
    }
    rows.push(("告警编号", a.alert_id.clone()));
    rows.push(("通知编号", n.id.clone()));
    let state = match k {
        Kind::Reminder => "提醒：仍在触发".to_string(),
        _ => kind_zh(k).to_string(),
    };
    Section {
        heading: format!(
            "【{}·{state}】{}",
            severity_zh(a.severity),
            zh_with_id(rule_zh(&a.rule), &a.rule)
        ),
        lead: None,
        rows,
    }
}

fn section_en(n: &Notification) -> Section {
    let a = &n.data;
    let k = kind(n);
    let mut rows = Vec::new();
    let group: Vec<String> = a.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
    rows.push(("Group", group.join(", ")));
    rows.push((
        "Value",
        match k {
            Kind::Resolved => format!(
                "{} (threshold {}, back within bounds)",
                value_text(a),
                threshold_text(a)
            ),
            _ if !breaching(a) => format!(
                "{}, trending toward the threshold {}",
                value_text(a),
                threshold_text(a)
            ),
            _ => format!(
                "{}, {} the threshold {}",
                value_text(a),
                a.comparison.as_str(),
                threshold_text(a)
            ),
        },
    ));
    let mut basis = a.samples.to_string();
    if let Some(w) = &a.window {
        basis.push_str(&format!(" over {}", w.length));
    }
    if let (Some(i), Some(range)) = (a.interval, interval_text(a)) {
        basis.push_str(&format!(", {} interval {range}", bar_pct(i.level)));
    }
    rows.push(("Samples", basis));
    rows.push(("Feed", a.feed.clone()));
    rows.push(("Agency", a.agency.clone()));
    rows.push(("Started", a.started_at.to_rfc3339()));
    if let Some(t) = a.fired_at {
        rows.push(("Fired", t.to_rfc3339()));
    }
    if let Some(t) = a.resolved_at {
        rows.push(("Resolved", t.to_rfc3339()));
    }
    if !a.evidence.is_empty() {
        rows.push(("Evidence", a.evidence.join(", ")));
    }
    rows.push(("Alert", a.alert_id.clone()));
    rows.push(("Notification", n.id.clone()));
    let state = match k {
        Kind::Reminder => "Reminder: still firing",
        _ => kind_en(k),
    };
    Section {
        heading: format!("[{} · {state}] {}", severity_en(a.severity), a.rule),
        lead: Some(a.summary.clone()).filter(|s| !s.is_empty()),
        rows,
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn text_block(out: &mut String, title: &str, sections: &[Section], colon: &str) {
    out.push_str(title);
    out.push('\n');
    // CJK characters take two columns in a monospace font.
    let width: usize = title
        .chars()
        .map(|c| if c >= '\u{2E80}' { 2 } else { 1 })
        .sum();
    out.push_str(&"=".repeat(width.min(72)));
    out.push('\n');
    for s in sections {
        out.push('\n');
        out.push_str(&s.heading);
        out.push('\n');
        if let Some(lead) = &s.lead {
            out.push_str(lead);
            out.push('\n');
        }
        for (label, value) in &s.rows {
            out.push_str(&format!("  {label}{colon}{value}\n"));
        }
    }
}

fn html_block(out: &mut String, lang: &str, title: &str, sections: &[Section]) {
    out.push_str(&format!(
        "<div lang=\"{lang}\">\n<h2>{}</h2>\n",
        escape_html(title)
    ));
    for s in sections {
        out.push_str(&format!("<h3>{}</h3>\n", escape_html(&s.heading)));
        if let Some(lead) = &s.lead {
            out.push_str(&format!("<p>{}</p>\n", escape_html(lead)));
        }
        out.push_str("<table cellpadding=\"3\">\n");
        for (label, value) in &s.rows {
            out.push_str(&format!(
                "<tr><th align=\"left\" valign=\"top\">{}</th><td>{}</td></tr>\n",
                escape_html(label),
                escape_html(value)
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str("</div>\n");
}

/// The subject and the Chinese-then-English bodies for `batch`.
pub fn render(batch: &[Notification]) -> Rendered {
    let n = batch.len();
    let subject = match batch {
        [] => "[safety-hub] 无通知 No notifications".to_string(),
        [one] => format!("[safety-hub] {}", subject_of(one)),
        [first, ..] => format!(
            "[safety-hub] {n} 条通知 {n} notifications | {}",
            subject_of(first)
        ),
    };
    let subject = one_line(&subject);
    let zh: Vec<Section> = batch.iter().map(section_zh).collect();
    let en: Vec<Section> = batch.iter().map(section_en).collect();
    let title_zh = format!("safety-hub 食品安全预警通知（共 {n} 条）");
    let title_en = format!(
        "safety-hub alert notification{} ({n})",
        if n == 1 { "" } else { "s" }
    );

    let mut text = String::new();
    text_block(&mut text, &title_zh, &zh, "：");
    text.push_str("\n----------------------------------------\n\n");
    text_block(&mut text, &title_en, &en, ": ");

    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n",
        escape_html(&subject)
    );
    html_block(&mut html, "zh-CN", &title_zh, &zh);
    html.push_str("<hr>\n");
    html_block(&mut html, "en", &title_en, &en);
    html.push_str("</body></html>\n");

    Rendered {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudevent::{FIRING, REMINDER, RESOLVED};
    use hub_model::alert::{AlertState, WindowSpan};

    fn alert() -> Alert {
        let mut a = Alert::sample();
        a.summary = "Market M-330102-003 (330102): kiosk pass rate 80.0% over 24h (30 tests) is below the 85% floor".into();
        a.evidence = vec!["kq-330102-017-000002".into(), "kq-330102-017-000019".into()];
        a.window = Some(WindowSpan {
            length: "24h".into(),
            start: Timestamp(a.started_at.0 - 86_400_000_000),
            end: a.started_at,
        });
        a
    }

    fn notification(event_type: &str, alert: Alert) -> Notification {
        Notification {
            event_type: event_type.into(),
            id: "ntf-7c1e2b40-kiosk_pass_rate-M-330102-003-1".into(),
            time: Timestamp(1_795_000_000_000_000),
            data: alert,
        }
    }

    fn resolved() -> Notification {
        let mut a = alert();
        a.state = AlertState::Resolved;
        a.value = 0.96;
        a.resolved_at = Some(Timestamp(a.started_at.0 + 3_600_000_000));
        let mut n = notification(RESOLVED, a);
        n.id = "ntf-7c1e2b40-kiosk_pass_rate-M-330102-003-2".into();
        n
    }

    #[test]
    fn the_subject_names_severity_rule_site_and_figures_in_both_languages() {
        let r = render(&[notification(FIRING, alert())]);
        assert_eq!(
            r.subject,
            "[safety-hub] 严重 Critical: kiosk_pass_rate M-330102-003 — 80.0% below 85%"
        );
        let r = render(&[notification(REMINDER, alert())]);
        assert!(
            r.subject
                .starts_with("[safety-hub] 提醒 Reminder · 严重 Critical: "),
            "{}",
            r.subject
        );
        let r = render(&[resolved()]);
        assert_eq!(
            r.subject,
            "[safety-hub] 已恢复 Resolved: kiosk_pass_rate M-330102-003 — 96.0% (bar 85%)"
        );
        let r = render(&[notification(FIRING, alert()), resolved(), resolved()]);
        assert!(
            r.subject.starts_with("[safety-hub] 3 条通知 3 notifications | 严重 Critical: kiosk_pass_rate M-330102-003"),
            "{}",
            r.subject
        );
    }

    #[test]
    fn chinese_comes_first_then_the_english_summary() {
        let r = render(&[notification(FIRING, alert())]);
        for body in [&r.text, &r.html] {
            let zh = body
                .find("【严重·触发】农贸市场快检合格率（kiosk_pass_rate）")
                .expect(body);
            let en = body
                .find("Market M-330102-003 (330102): kiosk pass rate 80.0%")
                .expect(body);
            assert!(zh < en, "{body}");
            for part in [
                "市场 M-330102-003",
                "行政区划 330102",
                "80.0%，低于阈值 85%",
                "30 个，统计窗口 24h，95% 置信区间 62.7%–90.5%",
                "市场监管部门（market_supervision）",
                "2025-11-21 16:31:01（北京时间）",
                "kq-330102-017-000002, kq-330102-017-000019",
                "ntf-7c1e2b40-kiosk_pass_rate-M-330102-003-1",
                "[Critical · Firing] kiosk_pass_rate",
                "80.0%, below the threshold 85%",
                "2025-11-21T08:31:01.950Z",
            ] {
                assert!(body.contains(part), "{part} missing from {body}");
            }
        }
        assert!(r.text.contains("通知编号：ntf-"), "{}", r.text);
        assert!(r.html.contains("<div lang=\"zh-CN\">"));
    }

    #[test]
    fn resolved_and_reminders_say_so() {
        let r = render(&[resolved()]);
        assert!(r.text.contains("【严重·已恢复】"), "{}", r.text);
        assert!(
            r.text.contains("96.0%（阈值 85%，已回到正常范围）"),
            "{}",
            r.text
        );
        assert!(
            r.text.contains("恢复时间：2025-11-21 17:31:01（北京时间）"),
            "{}",
            r.text
        );
        assert!(r.text.contains("[Critical · Resolved]"));
        assert!(r.text.contains("back within bounds"));
        assert!(!r.text.contains("触发】"));
        assert!(!r.text.contains("低于阈值"));
        let r = render(&[notification(REMINDER, alert())]);
        assert!(r.text.contains("【严重·提醒：仍在触发】"), "{}", r.text);
        assert!(r.text.contains("Reminder: still firing"));
        let firing = render(&[notification(FIRING, alert())]);
        assert!(!firing.text.contains("已恢复"));
        assert!(!firing.text.contains("Resolved"));
    }

    #[test]
    fn the_html_escapes_alert_text_from_the_feeds() {
        let mut a = alert();
        a.evidence = vec!["<script>alert(1)</script>".into()];
        a.summary = "Market \"A&B\" <b>".into();
        a.group.insert("market_id".into(), "M-<1>".into());
        let r = render(&[notification(FIRING, a)]);
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(!r.html.contains("<b>"));
        assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(r.html.contains("Market &quot;A&amp;B&quot; &lt;b&gt;"));
        assert!(r.html.contains("M-&lt;1&gt;"));
        // The plain text keeps them as they are.
        assert!(r.text.contains("<script>alert(1)</script>"));
    }

    #[test]
    fn other_rules_units_and_unknown_names_fall_back_sensibly() {
        let mut a = alert();
        a.rule = "feed_silence".into();
        a.alert_id = "feed_silence/kiosk_id=K-1".into();
        a.metric = "seconds_since_last_report".into();
        a.value = 7.5 * 3600.0;
        a.threshold = 6.0 * 3600.0;
        a.comparison = Comparison::Above;
        a.severity = Severity::Warning;
        a.interval = None;
        let r = render(&[notification(FIRING, a.clone())]);
        assert!(
            r.subject
                .ends_with("警告 Warning: feed_silence K-1 — 7h 30m above 6h 00m"),
            "{}",
            r.subject
        );
        assert!(r.text.contains("数据上报中断（feed_silence）"));

        a.rule = "beta_agonist_positive_rate.early_warning".into();
        a.metric = "positive_rate".into();
        a.value = 0.004;
        a.threshold = 0.005;
        a.severity = Severity::EarlyWarning;
        let r = render(&[notification(FIRING, a.clone())]);
        assert!(
            r.text.contains(
                "【预警·触发】瘦肉精阳性率趋势预警（beta_agonist_positive_rate.early_warning）"
            ),
            "{}",
            r.text
        );
        // A drift toward the bar is not said to be beyond it.
        assert!(r.subject.ends_with("— 0.40% toward 0.5%"), "{}", r.subject);
        assert!(r.text.contains("0.40%，趋近阈值 0.5%"), "{}", r.text);
        assert!(r.text.contains("0.40%, trending toward the threshold 0.5%"));
        assert!(!r.text.contains("above the threshold"));
        a.value = 0.006;
        let r = render(&[notification(FIRING, a.clone())]);
        assert!(r.subject.contains("0.60% above 0.5%"), "{}", r.subject);

        a.rule = "my_rule".into();
        a.agency = "health".into();
        a.metric = "head_per_day".into();
        a.value = 1234.0;
        a.threshold = 3.0;
        let r = render(&[notification(FIRING, a)]);
        assert!(r.text.contains("】my_rule\n"), "{}", r.text);
        assert!(r.text.contains("负责机构：health\n"));
        assert!(r.subject.contains("1234 above 3σ"), "{}", r.subject);
    }

    #[test]
    fn subjects_stay_on_one_line_and_message_ids_are_stable() {
        let mut a = alert();
        a.alert_id = "kiosk_pass_rate/market_id=M-1\r\nBcc: x@y".into();
        let r = render(&[notification(FIRING, a)]);
        assert!(!r.subject.contains(['\r', '\n']), "{}", r.subject);
        let one = [notification(FIRING, alert())];
        assert_eq!(
            message_id(&one),
            "<ntf-7c1e2b40-kiosk_pass_rate-M-330102-003-1@safety-hub>"
        );
        let two = [notification(FIRING, alert()), resolved()];
        assert_eq!(message_id(&two), message_id(&two.clone()));
        assert!(message_id(&two).starts_with("<ntf-batch-"));
        assert_ne!(message_id(&two), message_id(&one));
    }

    #[test]
    fn config_defaults_validation_and_a_hidden_password() {
        let c: SmtpConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 25);
        assert_eq!(c.tls, SmtpTls::None);
        assert_eq!(c.timeout, Duration::from_secs(10));
        c.validate().unwrap();
        let c: SmtpConfig = serde_json::from_str(
            r#"{"host": "smtp.example.gov.cn", "port": 465, "tls": "tls", "timeout": "30s",
                "username": "hub", "password": "hunter2-secret"}"#,
        )
        .unwrap();
        assert_eq!((c.tls, c.timeout), (SmtpTls::Tls, Duration::from_secs(30)));
        c.validate().unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
        let sender = EmailSender::new(&c).unwrap();
        assert!(!format!("{sender:?}").contains("hunter2"));

        assert!(serde_json::from_str::<SmtpConfig>(r#"{"tls": "ssl"}"#).is_err());
        assert!(serde_json::from_str::<SmtpConfig>(r#"{"hots": "x"}"#).is_err());
        let field = |json: &str| match serde_json::from_str::<SmtpConfig>(json).unwrap().validate()
        {
            Err(DeliveryError::Invalid { field, message }) => {
                assert!(!message.contains("hunter2"), "{message}");
                field
            }
            other => panic!("{json}: {other:?}"),
        };
        assert_eq!(field(r#"{"from": "not an address"}"#), "delivery.smtp.from");
        assert_eq!(field(r#"{"host": ""}"#), "delivery.smtp.host");
        assert_eq!(field(r#"{"port": 0}"#), "delivery.smtp.port");
        assert_eq!(field(r#"{"timeout": "0s"}"#), "delivery.smtp.timeout");
        assert_eq!(field(r#"{"username": "hub"}"#), "delivery.smtp.password");
        assert_eq!(
            field(r#"{"password": "hunter2"}"#),
            "delivery.smtp.username"
        );
        assert_eq!(
            field(r#"{"host": "smtp.example.gov.cn", "username": "hub", "password": "hunter2"}"#),
            "delivery.smtp.tls",
            "no password in clear text over the network"
        );
        field_ok(r#"{"host": "localhost", "username": "hub", "password": "hunter2"}"#);
        assert!(EmailSender::new(&serde_json::from_str(r#"{"from": "x"}"#).unwrap()).is_err());
    }

    fn field_ok(json: &str) {
        serde_json::from_str::<SmtpConfig>(json)
            .unwrap()
            .validate()
            .unwrap();
    }

    #[tokio::test]
    async fn bad_addresses_are_refused_before_connecting() {
        // Nothing listens on port 1; the address check comes first.
        let c = SmtpConfig {
            port: 1,
            ..SmtpConfig::default()
        };
        let sender = EmailSender::new(&c).unwrap();
        let batch = [notification(FIRING, alert())];
        let a = sender.send(&["not an address".into()], &batch).await;
        assert_eq!(a.verdict, crate::outbox::Verdict::Refused, "{a:?}");
        assert!(a.error.unwrap().contains("not an address"));
        let a = sender.send(&[], &batch).await;
        assert_eq!(a.verdict, crate::outbox::Verdict::Refused);
    }
}
