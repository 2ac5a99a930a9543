//! One client connection, in the clear or over TLS, with the few operations a session needs.
//!
//! Reading is split in two, as with a bare socket's `readable` and `try_read_buf`: the session
//! waits for bytes without a buffer, and makes room only once there is something to read. Over
//! TLS, "something to read" is plaintext rustls already holds, or else new bytes on the socket.

use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A connection as the session loop uses it.
pub(super) enum Conn {
    Plain(TcpStream),
    /// Boxed: rustls's state is large, and a plain connection should not carry its size.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    /// Does the server side of a TLS handshake over a plain connection, within `within`.
    /// Anything else (a garbage or stalled handshake) closes this connection only.
    pub(super) async fn handshake(
        tcp: TcpStream,
        acceptor: &TlsAcceptor,
        within: Duration,
    ) -> Option<Conn> {
        let peer = tcp.peer_addr().ok();
        // Boxed: a handshake in progress holds rustls's whole state, which a session's task
        // should not carry (in its size) while it waits for commands.
        let accept = Box::pin(acceptor.accept(tcp));
        match tokio::time::timeout(within, accept).await {
            Ok(Ok(tls)) => Some(Conn::Tls(Box::new(tls))),
            Ok(Err(e)) => {
                tracing::debug!(?peer, error = %e, "smtp: TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(?peer, "smtp: TLS handshake timed out");
                None
            }
        }
    }

    /// The protocol version and cipher suite negotiated, over TLS.
    pub(super) fn tls_info(&self) -> Option<crate::model::TlsInfo> {
        let Conn::Tls(tls) = self else {
            return None;
        };
        let state = tls.get_ref().1;
        let version = match state.protocol_version()? {
            tokio_rustls::rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
            tokio_rustls::rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
            other => format!("{other:?}"),
        };
        let suite = state.negotiated_cipher_suite()?.suite();
        let cipher = suite
            .as_str()
            .map_or_else(|| format!("{suite:?}"), str::to_string);
        Some(crate::model::TlsInfo { version, cipher })
    }

    /// Resolves once a read may find bytes, holding no buffer meanwhile.
    pub(super) async fn readable(&self) -> io::Result<()> {
        match self {
            Conn::Plain(tcp) => tcp.readable().await,
            Conn::Tls(tls) => {
                let (tcp, state) = tls.get_ref();
                // Not wanting to read means rustls holds plaintext (or the peer closed).
                if state.wants_read() {
                    tcp.readable().await?;
                }
                Ok(())
            }
        }
    }

    /// Reads what is there into `buf`'s spare room without waiting: 0 when the client closed,
    /// `WouldBlock` when the readiness was spurious (or only part of a TLS record came).
    pub(super) async fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Conn::Plain(tcp) => tcp.try_read_buf(buf),
            Conn::Tls(tls) => {
                std::future::poll_fn(|cx| {
                    let spare = buf.spare_capacity_mut();
                    let mut rb = ReadBuf::uninit(spare);
                    match Pin::new(&mut **tls).poll_read(cx, &mut rb) {
                        Poll::Pending => Poll::Ready(Err(io::ErrorKind::WouldBlock.into())),
                        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                        Poll::Ready(Ok(())) => {
                            let n = rb.filled().len();
                            // SAFETY: poll_read initialized the first `n` spare bytes.
                            unsafe { buf.set_len(buf.len() + n) };
                            Poll::Ready(Ok(n))
                        }
                    }
                })
                .await
            }
        }
    }

    /// Writes all of `bytes` and pushes them to the socket (TLS buffers a record otherwise).
    pub(super) async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Conn::Plain(tcp) => tcp.write_all(bytes).await,
            Conn::Tls(tls) => {
                tls.write_all(bytes).await?;
                tls.flush().await
            }
        }
    }

    /// A last line for a client that may not be reading: never waits long.
    pub(super) async fn send_now(&mut self, bytes: &[u8]) {
        match self {
            Conn::Plain(tcp) => {
                let _ = tcp.try_write(bytes);
            }
            Conn::Tls(_) => {
                let _ = tokio::time::timeout(Duration::from_millis(100), self.send(bytes)).await;
            }
        }
    }

    /// Closes the sending side (with a TLS close_notify first).
    pub(super) async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(tcp) => tcp.shutdown().await,
            Conn::Tls(tls) => tls.shutdown().await,
        }
    }

    /// Reads into `buf`, waiting (for draining a client after a cut).
    pub(super) async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        match self {
            Conn::Plain(tcp) => tcp.read(buf).await,
            Conn::Tls(tls) => tls.read(buf).await,
        }
    }
}
