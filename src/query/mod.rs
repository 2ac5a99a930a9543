//! The search language: one parser for every place that takes a query (`q=` on the message
//! lists, `wait`, `mailiy wait --query`, and Mailpit's `search` when it lands).
//!
//! Compatible with Mailpit's search syntax, so its users' queries work: free words and
//! `"quoted phrases"`, `from:` `to:` `cc:` `bcc:` `reply-to:` `addressed:` `subject:`
//! `message-id:` `tag:` `is:read|unread` `has:attachment` `larger:` `smaller:` `before:`
//! `after:`, each negated by a leading `!` or `-`; plus ours: `mailbox:`, `has:code`,
//! `has:link`. Every term must hold (AND).
//!
//! Parsing is pure: no SQL here. The store turns a [`Query`] into SQL (`store/search.rs`).

mod parse;

use crate::clock::Millis;

pub use parse::parse;

/// A parsed query: every term must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub terms: Vec<Term>,
}

impl Query {
    /// True when a term needs the message's text read back (has:code, has:link): the store
    /// cannot answer it in SQL alone.
    pub fn needs_content(&self) -> bool {
        self.terms
            .iter()
            .any(|t| matches!(t.kind, TermKind::HasCode | TermKind::HasLink))
    }
}

/// One term, possibly negated (`!from:x`, `-word`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub negated: bool,
    pub kind: TermKind,
}

/// What a term asks of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermKind {
    /// A free word or a quoted phrase, anywhere in the message.
    Text {
        value: String,
        phrase: bool,
    },
    /// A field's words (`from:`, `subject:`, …); `phrase` when the value was quoted.
    Field {
        field: Field,
        value: String,
        phrase: bool,
    },
    /// `message-id:` (angle brackets dropped), matched whole.
    MessageId(String),
    /// `tag:` a tag, whole (case-insensitive).
    Tag(String),
    /// `mailbox:` an address or a mailbox id.
    Mailbox(String),
    /// `is:read` (true) or `is:unread` (false).
    Read(bool),
    HasAttachment,
    HasCode,
    HasLink,
    /// `larger:` in bytes (the message is bigger than this).
    Larger(u64),
    /// `smaller:` in bytes.
    Smaller(u64),
    /// `before:` received before this instant.
    Before(Millis),
    /// `after:` received at or after this instant.
    After(Millis),
}

/// The address and subject fields a term can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Subject,
    From,
    To,
    Cc,
    /// Envelope recipients that no To or Cc header names.
    Bcc,
    ReplyTo,
    /// To, Cc or Bcc.
    Addressed,
}
