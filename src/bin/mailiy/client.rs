//! `mailiy new` and `mailiy wait`: the API from a shell, for tests written as scripts.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use serde_json::Value;

/// Where the API is and how to authenticate to it.
#[derive(Debug, Clone, clap::Args)]
pub struct Api {
    /// Base URL of the Mailiy API
    #[arg(long, env = "MAILIY_API", default_value = "http://127.0.0.1:8025")]
    pub api: String,
    /// API token, when the server requires one (`mailiy token` prints it)
    #[arg(long, env = "MAILIY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.trim_end_matches('/'))
    }

    fn request(&self, method: &str, path: &str, timeout: Duration) -> ureq::Request {
        let mut r = ureq::request(method, &self.url(path)).timeout(timeout);
        if let Some(t) = &self.token {
            r = r.set("Authorization", &format!("Bearer {t}"));
        }
        r
    }

    /// Sends a request; turns the API's JSON errors into readable ones.
    fn call(&self, r: ureq::Request, body: Option<Value>) -> anyhow::Result<Value> {
        let result = match body {
            Some(b) => r.send_json(b),
            None => r.call(),
        };
        match result {
            Ok(resp) => Ok(resp.into_json().unwrap_or(Value::Null)),
            Err(e) => Err(self.failure(e)),
        }
    }

    /// A failed request as one readable error: the API's own message, or why it was not reached.
    fn failure(&self, e: ureq::Error) -> anyhow::Error {
        match e {
            ureq::Error::Status(code, resp) => {
                let v: Value = resp.into_json().unwrap_or(Value::Null);
                let msg = v["error"]["message"].as_str().unwrap_or("request failed");
                anyhow!("{msg} (HTTP {code})")
            }
            e => anyhow!(e).context(format!("cannot reach the Mailiy API at {}", self.api)),
        }
    }
}

impl Api {
    /// The addresses of every live mailbox.
    pub fn mailbox_addresses(&self) -> anyhow::Result<Vec<String>> {
        let list = self.call(
            self.request("GET", "/v1/mailbox", Duration::from_secs(30)),
            None,
        )?;
        Ok(list
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["address"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A mailbox's mbox stream (`GET /v1/mailbox/{id}/mbox`).
    pub fn mbox(&self, mailbox: &str) -> anyhow::Result<impl std::io::Read + Send> {
        let path = format!("/v1/mailbox/{}/mbox", encode(mailbox));
        // A large mailbox takes a while: the bound is on the whole download.
        match self.request("GET", &path, Duration::from_secs(3600)).call() {
            Ok(r) => Ok(r.into_reader()),
            Err(e) => Err(self.failure(e).context(mailbox.to_string())),
        }
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `mailiy new`: creates a mailbox; prints its address (or the whole object).
pub fn new_mailbox(api: &Api, body: Value, json: bool) -> anyhow::Result<()> {
    let v = api.call(
        api.request("POST", "/v1/mailbox", Duration::from_secs(30)),
        Some(body),
    )?;
    if json {
        println!("{v}");
    } else {
        println!("{}", v["address"].as_str().unwrap_or_default());
    }
    Ok(())
}

/// What `mailiy wait` prints once the message is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    Message,
    Json,
    Code,
    Link,
}

pub struct WaitFor<'a> {
    pub address: &'a str,
    pub timeout: Duration,
    pub subject: Option<&'a str>,
    pub from: Option<&'a str>,
    pub query: Option<&'a str>,
    pub show: Show,
}

/// `mailiy wait`: blocks until a matching message is in the mailbox; exit code 1 on timeout.
pub fn wait(api: &Api, w: WaitFor<'_>) -> anyhow::Result<bool> {
    let deadline = Instant::now() + w.timeout;
    let mailbox = encode(w.address);
    let mut query = String::from("limit=1");
    for (key, value) in [("subject", w.subject), ("from", w.from), ("q", w.query)] {
        if let Some(v) = value {
            query.push_str(&format!("&{key}={}", encode(v)));
        }
    }
    let summary = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // The server holds each request up to 60 s and answers the instant mail commits.
        let secs = left.as_secs().min(60);
        let path = format!("/v1/mailbox/{mailbox}/messages?{query}&wait={secs}");
        let list = api.call(
            api.request("GET", &path, Duration::from_secs(secs + 10)),
            None,
        )?;
        if let Some(first) = list.as_array().and_then(|l| l.first()) {
            break first.clone();
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
    };
    let id = summary["id"].as_str().unwrap_or_default();
    let full = api.call(
        api.request(
            "GET",
            &format!("/v1/mailbox/{mailbox}/messages/{}", encode(id)),
            Duration::from_secs(30),
        ),
        None,
    )?;
    match w.show {
        Show::Json => println!("{full}"),
        Show::Code => match full["codes"].get(0).and_then(Value::as_str) {
            Some(code) => println!("{code}"),
            None => bail!("the message has no one-time code"),
        },
        Show::Link => match full["links"].get(0).and_then(Value::as_str) {
            Some(link) => println!("{link}"),
            None => bail!("the message has no link"),
        },
        Show::Message => {
            let from = &full["from"];
            println!(
                "From: {} <{}>\nSubject: {}\n\n{}",
                from["name"].as_str().unwrap_or_default(),
                from["address"].as_str().unwrap_or_default(),
                full["subject"].as_str().unwrap_or_default(),
                full["text"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(true)
}
