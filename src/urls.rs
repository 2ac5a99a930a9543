//! URLs the engine calls out to (webhooks, remote accounts): checked once, logged by host only.

use crate::error::{Error, Result};

/// Longest accepted URL.
pub const MAX_URL_LEN: usize = 2048;

/// Checks a URL to call: http or https, a host, no credentials, at most [`MAX_URL_LEN`].
/// Returns its normalized form, which is what gets called.
pub fn validate_url(s: &str) -> Result<String> {
    let s = s.trim();
    if s.len() > MAX_URL_LEN {
        return Err(Error::InvalidInput(format!(
            "url must be at most {MAX_URL_LEN} characters"
        )));
    }
    let u = url::Url::parse(s)
        .map_err(|e| Error::InvalidInput(format!("url is not a valid URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(Error::InvalidInput("url must be http or https".into()));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidInput("url must have a host".into()));
    }
    // Credentials in a URL end up in lists and logs; a receiver checks the signature instead.
    if !u.username().is_empty() || u.password().is_some() {
        return Err(Error::InvalidInput(
            "url must not carry a user name or password".into(),
        ));
    }
    Ok(u.to_string())
}

/// The host of a URL, for logs: paths and queries may carry tokens.
pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            validate_url(" http://127.0.0.1:9000 ").unwrap(),
            "http://127.0.0.1:9000/"
        );
        assert!(validate_url("https://example.test/hook?x=1").is_ok());
        let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN));
        for bad in [
            "",
            "ftp://h/x",
            "file:///etc/passwd",
            "http://",
            "http://u:p@h/",
            "http://u@h/",
            "not a url",
            long.as_str(),
        ] {
            assert!(validate_url(bad).is_err(), "{bad:?}");
        }
    }
}
