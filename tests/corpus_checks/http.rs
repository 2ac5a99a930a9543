//! HTTP to the server under test: one keep-alive agent, headers kept.

use crate::common::*;
use std::io::Read;
use std::time::Duration;

pub(super) struct Http {
    agent: ureq::Agent,
    base: String,
}

pub(super) struct Resp {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Resp {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
            )
        })
    }
}

impl Http {
    pub(super) fn new(s: &Server) -> Http {
        Http {
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(120))
                .build(),
            base: format!("http://{}", s.http),
        }
    }

    pub(super) fn get(&self, path: &str) -> Result<Resp, String> {
        match self.agent.get(&format!("{}{path}", self.base)).call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                let status = r.status();
                let headers = r
                    .headers_names()
                    .into_iter()
                    .map(|n| {
                        let v = r.header(&n).unwrap_or_default().to_string();
                        (n, v)
                    })
                    .collect();
                let mut body = Vec::new();
                r.into_reader()
                    .read_to_end(&mut body)
                    .map_err(|e| format!("GET {path}: reading the body: {e}"))?;
                Ok(Resp {
                    status,
                    headers,
                    body,
                })
            }
            Err(e) => Err(format!("GET {path}: {e}")),
        }
    }

    /// GET that must answer 200 with JSON.
    pub(super) fn json(&self, path: &str) -> Result<Value, String> {
        let r = self.get(path)?;
        if r.status != 200 {
            return Err(format!(
                "GET {path} -> {} {}",
                r.status,
                String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
            ));
        }
        r.json().map_err(|e| format!("GET {path}: {e}"))
    }
}

/// `GET /v1/messages`: the total count of stored messages and the newest of them.
pub(super) fn global_messages(http: &Http) -> Result<(u64, Vec<Value>), String> {
    let v = http.json("/v1/messages?limit=1000")?;
    let n = v["count"]
        .as_u64()
        .ok_or_else(|| format!("/v1/messages has no count: {v}"))?;
    Ok((n, v["messages"].as_array().cloned().unwrap_or_default()))
}
