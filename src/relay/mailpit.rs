//! Mailpit's `POST /api/v1/message/{ID}/release` body (`{"To": [...]}`, as in its swagger) mapped
//! onto ours, for the Mailpit compatibility routes: the same release, its own field name.
//! Mailpit answers `200 ok` as text/plain; its handler writes that after [`super::release`].

use serde::Deserialize;

/// The body Mailpit's release route takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailpitRelease {
    #[serde(rename = "To")]
    pub to: Vec<String>,
}

impl MailpitRelease {
    /// The recipients, as [`super::release`] takes them.
    pub fn recipients(self) -> Vec<String> {
        self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailpits_body_gives_the_recipients() {
        let b: MailpitRelease = serde_json::from_str(r#"{"To":["a@x.test","b@y.test"]}"#).unwrap();
        assert_eq!(b.recipients(), ["a@x.test", "b@y.test"]);
        assert!(serde_json::from_str::<MailpitRelease>(r#"{"to":["a@x.test"]}"#).is_err());
    }
}
