//! Pulls the two things a test suite wants out of a verification mail: the
//! links it can follow (sign-up / magic-login URLs) and the one-time codes it
//! can type. Both scans are linear and bounded so a hostile or huge message
//! cannot stall the inbox.
//!
//! Code detection is heuristic: numbers are only reported when they sit near a
//! keyword ("code", "verify", "OTP", "Bestätigungscode", "验证码", ...), sit on a
//! line of their own in a mail that mentions such a keyword, or have Google's
//! self-describing `G-123456` shape. Dates, times, phone numbers, prices,
//! postal addresses, URLs, colours, versions and percentages are filtered out
//! by shape and by the words around them.
//!
//! One file per stage: `links.rs` (hrefs in HTML, bare URLs in text; `entities.rs` decodes
//! the hrefs), and for codes `segment.rs` (the text cut into words with keyword positions),
//! `shape.rs` (what a word looks like), `words.rs` (the word lists) and `codes.rs` (scoring).

mod codes;
mod entities;
mod links;
mod segment;
mod shape;
mod words;

pub use codes::codes;
pub use links::links;
