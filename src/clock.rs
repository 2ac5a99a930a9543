//! Wall-clock time as Unix milliseconds, and its RFC 3339 form for the API.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Now, in Unix milliseconds.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Sleeps `d`, or forever when `None` (a worker with nothing due waits for a signal only).
pub async fn sleep_or_never(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// The pause after the `attempts`-th failed attempt (1-based): `base`, twice that, four times …
/// up to `max` (the retry schedule of the webhook and relay queues).
pub fn doubling_backoff(base: Duration, attempts: u32, max: Duration) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    base.saturating_mul(1 << exp).min(max)
}

/// `2026-11-27T19:00:00.000Z`: UTC with exactly three fraction digits, as API.md fixes.
pub fn to_rfc3339(ms: Millis) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses an RFC 3339 time (any offset) into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_in_utc() {
        assert_eq!(to_rfc3339(1_795_806_000_123), "2026-11-27T19:00:00.123Z");
        assert_eq!(to_rfc3339(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_offsets() {
        let ms = parse_rfc3339("2026-11-27T14:00:00.123+01:00").unwrap();
        assert_eq!(to_rfc3339(ms), "2026-11-27T13:00:00.123Z");
        assert!(parse_rfc3339("yesterday").is_none());
    }
}
