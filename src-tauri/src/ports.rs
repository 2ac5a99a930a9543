//! Starting the engine for a double-clicked app: when a configured port is taken, the app takes
//! the next free one and says so (which port, who holds it if that can be seen, how to change
//! it) instead of dying. `mailiy serve` keeps failing loudly: scripts want that.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use mailiy::config::Config;
use mailiy::server::Running;
use mailiy::Error;

/// A listener that could not have its port and took another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMove {
    /// "SMTP" or "HTTP".
    pub what: &'static str,
    pub wanted: SocketAddr,
    pub got: SocketAddr,
    /// The process holding the wanted port, when this user may see it.
    pub holder: Option<String>,
}

impl PortMove {
    /// The sentence the window, the tray and the notification show.
    pub fn message(&self) -> String {
        let by = self
            .holder
            .as_deref()
            .map(|h| format!(" (by {h})"))
            .unwrap_or_default();
        format!(
            "{what} port {wanted} is taken{by}, so Mailiy uses {got} for now. \
             Free the port or pick another in Settings (or MAILIY_{what}).",
            what = self.what,
            wanted = self.wanted.port(),
            got = self.got.port(),
        )
    }
}

/// The started engine and the ports that moved.
pub struct Started {
    pub running: Running,
    pub moved: Vec<PortMove>,
}

/// Starts the engine; a taken SMTP or HTTP port moves to the next free one within `tries`.
/// Only this run moves: the stored settings keep the port the user chose.
pub async fn start_engine(config: Config, tries: u16) -> mailiy::Result<Started> {
    let moved = Arc::new(Mutex::new(Vec::new()));
    let record = moved.clone();
    let running = mailiy::server::start_binding(config, move |what, addr| {
        let record = record.clone();
        async move {
            let taken = match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => return Ok(listener),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && addr.port() != 0 => e,
                Err(source) => return Err(Error::Bind { what, addr, source }),
            };
            let next = next_free(addr, tries).ok_or(Error::Bind {
                what,
                addr,
                source: taken,
            })?;
            let listener = tokio::net::TcpListener::bind(next)
                .await
                .map_err(|source| Error::Bind {
                    what,
                    addr: next,
                    source,
                })?;
            crate::lock(&record).push(PortMove {
                what,
                wanted: addr,
                got: listener.local_addr()?,
                holder: holder_of(addr.port()),
            });
            Ok(listener)
        }
    })
    .await?;
    let moved = std::mem::take(&mut *crate::lock(&moved));
    Ok(Started { running, moved })
}

/// The first port after `addr`'s, at most `tries` on, that can be bound on the same address.
pub fn next_free(addr: SocketAddr, tries: u16) -> Option<SocketAddr> {
    (1..=tries)
        .filter_map(|step| addr.port().checked_add(step))
        .map(|port| SocketAddr::new(addr.ip(), port))
        .find(|candidate| TcpListener::bind(candidate).is_ok())
}

/// Who listens on `port` ("python3, pid 4242"), from /proc; `None` when another user's process
/// holds it (its file descriptors are not readable) or elsewhere than Linux.
#[cfg(target_os = "linux")]
pub fn holder_of(port: u16) -> Option<String> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|table| listening_inodes(&table, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                inodes
                    .iter()
                    .any(|i| target.as_os_str() == format!("socket:[{i}]").as_str())
            })
        });
        if holds {
            let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            return Some(format!("{}, pid {pid}", name.trim()));
        }
    }
    None
}

#[cfg(not(target_os = "linux"))]
pub fn holder_of(_port: u16) -> Option<String> {
    None
}

/// Inodes of sockets listening on `port` in a /proc/net/tcp table.
#[cfg(target_os = "linux")]
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local_port = cols.get(1)?.rsplit(':').next()?;
            let listening = *cols.get(3)? == LISTEN;
            (listening && u16::from_str_radix(local_port, 16).ok()? == port)
                .then(|| cols.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_free_port_skips_taken_ones() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let got = next_free(addr, 50).expect("a free port nearby");
        assert!(got.port() > addr.port() && got.port() <= addr.port() + 50);
        assert_eq!(got.ip(), addr.ip());
        assert!(TcpListener::bind(got).is_ok(), "the port offered is free");
    }

    #[test]
    fn no_port_is_offered_past_the_end_of_the_range() {
        let addr: SocketAddr = "127.0.0.1:65535".parse().unwrap();
        assert_eq!(next_free(addr, 5), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_holder_of_a_port_is_this_process() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let holder = holder_of(port).expect("our own socket is visible");
        assert!(
            holder.ends_with(&format!("pid {}", std::process::id())),
            "{holder}"
        );
        drop(taken);
        assert_eq!(holder_of(port), None);
    }

    #[test]
    fn the_message_names_the_port_the_holder_and_the_way_out() {
        let m = PortMove {
            what: "SMTP",
            wanted: "127.0.0.1:1025".parse().unwrap(),
            got: "127.0.0.1:1026".parse().unwrap(),
            holder: Some("python3, pid 42".into()),
        };
        let text = m.message();
        for needle in [
            "SMTP port 1025 is taken",
            "python3, pid 42",
            "1026",
            "Settings",
            "MAILIY_SMTP",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from {text:?}");
        }
    }
}
