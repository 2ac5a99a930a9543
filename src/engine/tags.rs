//! Tags: set on a selection of messages, listed, renamed and deleted, in one mailbox or every
//! live one. Names are cleaned and bounded here ([`crate::tags`]), as on arrival.

use super::Engine;
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::model::Mailbox;
use crate::store::{BulkScope, Selection};

/// One mailbox's messages, or every live mailbox's.
pub(super) fn scope_of(mailbox: Option<&Mailbox>) -> BulkScope {
    match mailbox {
        Some(m) => BulkScope::Mailbox(m.id.clone()),
        None => BulkScope::Live { now: now_ms() },
    }
}

impl Engine {
    /// Replaces the tags of the selected messages; returns the tags as kept and the messages
    /// tagged (`(mailbox_id, message_id)`).
    pub async fn set_tags(
        &self,
        mailbox: Option<&Mailbox>,
        selection: Selection,
        tags: &[String],
    ) -> Result<(Vec<String>, Vec<(String, String)>)> {
        let tags = crate::tags::normalize(tags.iter().map(String::as_str), self.config().tags);
        let tagged = self
            .store()
            .set_tags(scope_of(mailbox), selection, tags.clone())
            .await?;
        Ok((tags, tagged))
    }

    /// The tags in use, sorted.
    pub async fn tags(&self, mailbox: Option<&Mailbox>) -> Result<Vec<String>> {
        self.store().tags(scope_of(mailbox)).await
    }

    /// Renames a tag; returns how many messages carry the new name because of it.
    pub async fn rename_tag(&self, mailbox: Option<&Mailbox>, from: &str, to: &str) -> Result<u64> {
        let to = crate::tags::clean(to, self.config().tags)
            .ok_or_else(|| Error::InvalidInput("the new tag name is empty".into()))?;
        self.store()
            .rename_tag(scope_of(mailbox), from.to_string(), to)
            .await
    }

    /// Takes a tag off every message; returns how many carried it.
    pub async fn delete_tag(&self, mailbox: Option<&Mailbox>, name: &str) -> Result<u64> {
        self.store()
            .delete_tag(scope_of(mailbox), name.to_string())
            .await
    }
}
