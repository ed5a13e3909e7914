//! Decoding and validating one raw message into an [`Event`], or refusing it.

use std::time::Duration;

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::export::ExportDeclaration;
use crate::feed::Feed;
use crate::kiosk::KioskResult;
use crate::rejection::{ReasonClass, Rejection};
use crate::slaughter::SlaughterReport;
use crate::time::Timestamp;
use crate::validate::CheckContext;

/// One accepted message, borrowing from the raw payload where it can.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Kiosk(KioskResult<'a>),
    Slaughter(SlaughterReport<'a>),
    Export(ExportDeclaration<'a>),
}

impl Event<'_> {
    pub fn feed(&self) -> Feed {
        match self {
            Event::Kiosk(_) => Feed::Kiosk,
            Event::Slaughter(_) => Feed::Slaughter,
            Event::Export(_) => Feed::Export,
        }
    }

    pub fn event_id(&self) -> &str {
        match self {
            Event::Kiosk(e) => &e.event_id,
            Event::Slaughter(e) => &e.event_id,
            Event::Export(e) => &e.event_id,
        }
    }

    pub fn event_time(&self) -> Timestamp {
        match self {
            Event::Kiosk(e) => e.event_time(),
            Event::Slaughter(e) => e.event_time(),
            Event::Export(e) => e.event_time(),
        }
    }

    pub fn region_code(&self) -> &str {
        match self {
            Event::Kiosk(e) => &e.region_code,
            Event::Slaughter(e) => &e.region_code,
            Event::Export(e) => &e.region_code,
        }
    }
}

/// Decodes raw feed messages and checks every rule of the feed schemas.
#[derive(Debug, Clone, Copy)]
pub struct Validator {
    /// Messages above this size are refused as `too large` (default 1 MiB).
    pub max_message_bytes: usize,
    /// How far ahead of the hub's clock a timestamp may be (default 10 minutes).
    pub max_future: Duration,
}

impl Default for Validator {
    fn default() -> Self {
        Validator {
            max_message_bytes: 1 << 20,
            max_future: Duration::from_secs(600),
        }
    }
}

impl Validator {
    /// Decodes `payload` as an event of `feed`, validated against the clock `now`.
    pub fn decode<'a>(
        &self,
        feed: Feed,
        payload: &'a [u8],
        now: Timestamp,
    ) -> Result<Event<'a>, Rejection> {
        if payload.is_empty() {
            return Err(Rejection::new(
                ReasonClass::Empty,
                None,
                "the message has 0 bytes",
            ));
        }
        if payload.len() > self.max_message_bytes {
            return Err(Rejection::new(
                ReasonClass::TooLarge,
                None,
                format!(
                    "{} bytes, the limit is {} (ingest.max_message_bytes)",
                    payload.len(),
                    self.max_message_bytes
                ),
            ));
        }
        if let Err(e) = std::str::from_utf8(payload) {
            return Err(Rejection::new(
                ReasonClass::NotJson,
                None,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            ));
        }
        // A derived struct also deserializes from a JSON array: refuse non-objects first.
        let first = payload.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if first != Some(b'{') {
            return Err(match serde_json::from_slice::<IgnoredAny>(payload) {
                Ok(_) => Rejection::new(
                    ReasonClass::NotObject,
                    None,
                    format!("the message is JSON {}, not an object", json_kind(first)),
                ),
                Err(e) => not_json(&e),
            });
        }
        let ctx = CheckContext {
            now,
            max_future_micros: self.max_future.as_micros() as i64,
        };
        match feed {
            Feed::Kiosk => {
                let e: KioskResult = parse(payload)?;
                e.check(&ctx)?;
                Ok(Event::Kiosk(e))
            }
            Feed::Slaughter => {
                let e: SlaughterReport = parse(payload)?;
                e.check(&ctx)?;
                Ok(Event::Slaughter(e))
            }
            Feed::Export => {
                let e: ExportDeclaration = parse(payload)?;
                e.check(&ctx)?;
                Ok(Event::Export(e))
            }
        }
    }
}

fn json_kind(first: Option<u8>) -> &'static str {
    match first {
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    }
}

fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, Rejection> {
    let mut de = serde_json::Deserializer::from_slice(payload);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| classify(&e))?;
    de.end().map_err(|e| not_json(&e))?;
    Ok(value)
}

fn not_json(e: &serde_json::Error) -> Rejection {
    Rejection::new(ReasonClass::NotJson, None, e.to_string())
}

/// Maps a serde error to a reason class, naming the field by its dotted path.
fn classify(e: &serde_path_to_error::Error<serde_json::Error>) -> Rejection {
    let inner = e.inner();
    if !inner.is_data() {
        return not_json(inner);
    }
    let message = strip_position(&inner.to_string());
    let path = e.path().to_string();
    let parent = if path == "." {
        None
    } else {
        Some(path.as_str())
    };
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let field = match parent {
            Some(p) => format!("{p}.{name}"),
            None => name.to_string(),
        };
        return Rejection::new(ReasonClass::MissingField, Some(&field), String::new());
    }
    Rejection::new(ReasonClass::BadValue, parent, message)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
