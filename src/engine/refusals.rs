//! Recent refused SMTP attempts, kept in memory only: bounded in count, aged out, and forgotten
//! with the mailbox whose address they name (deleted or expired), like its mail.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::Engine;
use crate::clock::Millis;
use crate::model::Refusal;

pub(crate) struct Refusals {
    list: Mutex<VecDeque<Refusal>>,
    max: usize,
    max_age: Duration,
}

impl Refusals {
    pub(crate) fn new(max: usize, max_age: Duration) -> Refusals {
        Refusals {
            list: Mutex::new(VecDeque::new()),
            max,
            max_age,
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Refusal>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn age_out(&self, list: &mut VecDeque<Refusal>, now: Millis) {
        let oldest = now - self.max_age.as_millis() as Millis;
        while list.front().is_some_and(|r| r.at <= oldest) {
            list.pop_front();
        }
    }
}

impl Engine {
    /// Keeps a refusal (the oldest goes past the count bound).
    pub fn record_refusal(&self, refusal: Refusal) {
        let r = &self.inner.refusals;
        if r.max == 0 {
            return;
        }
        let mut list = r.lock();
        r.age_out(&mut list, refusal.at);
        if list.len() >= r.max {
            list.pop_front();
        }
        list.push_back(refusal);
    }

    /// The latest refusals, newest first; only those refusing `mailbox` when given.
    pub fn refusals(&self, mailbox: Option<&str>, limit: usize, now: Millis) -> Vec<Refusal> {
        let r = &self.inner.refusals;
        let mut list = r.lock();
        r.age_out(&mut list, now);
        let mailbox = mailbox.map(str::to_lowercase);
        list.iter()
            .rev()
            .filter(|x| mailbox.as_ref().is_none_or(|m| x.recipients.contains(m)))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Drops every refusal that names `address`: its mailbox is gone.
    pub(crate) fn forget_refusals(&self, address: &str) {
        let address = address.to_lowercase();
        self.inner.refusals.lock().retain(|x| !x.names(&address));
    }
}
