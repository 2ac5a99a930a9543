//! The SMTP listener's TLS identity: the user's own certificate (`--smtp-tls-cert` /
//! `--smtp-tls-key`), or one made on first start and kept in the data directory
//! (`tls-cert.pem`, `tls-key.pem` with mode 0600), self-signed for every name a local client
//! may connect by. [`TlsIdentity`] holds the PEM a client is told to trust, its fingerprint,
//! and the rustls server config that STARTTLS and `--smtps` share.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

use crate::error::{Error, Result};

/// The made certificate, inside the data directory.
pub const CERT_FILE: &str = "tls-cert.pem";
/// Its private key, inside the data directory (mode 0600).
pub const KEY_FILE: &str = "tls-key.pem";

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// Made on first start in the data directory, for these names (and kept after).
    Generated {
        data_dir: PathBuf,
        names: Vec<String>,
    },
    /// The user's own PEM files.
    Files { cert: PathBuf, key: PathBuf },
}

/// A loaded certificate and the server config built on it. Cheap to clone.
#[derive(Clone)]
pub struct TlsIdentity {
    cert_path: PathBuf,
    cert_pem: String,
    fingerprint: String,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_path", &self.cert_path)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Loads the certificate, making it first when it is ours and not there yet.
    pub fn load(source: &CertSource) -> Result<TlsIdentity> {
        let (cert, key) = match source {
            CertSource::Generated { data_dir, names } => {
                let files = (data_dir.join(CERT_FILE), data_dir.join(KEY_FILE));
                create_if_missing(&files.0, &files.1, names)?;
                files
            }
            CertSource::Files { cert, key } => (cert.clone(), key.clone()),
        };
        let bad = |path: &Path, reason: String| Error::Tls {
            path: path.to_path_buf(),
            reason,
        };
        let cert_pem = std::fs::read_to_string(&cert).map_err(|e| bad(&cert, e.to_string()))?;
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(&cert, format!("not a PEM certificate ({e})")))?;
        let Some(leaf) = chain.first() else {
            return Err(bad(&cert, "no certificate in the file".into()));
        };
        let fingerprint = fingerprint(leaf);
        let key_der = PrivateKeyDer::from_pem_file(&key)
            .map_err(|e| bad(&key, format!("not a PEM private key ({e})")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key_der))
            .map_err(|e| bad(&key, format!("does not fit the certificate ({e})")))?;
        Ok(TlsIdentity {
            cert_path: cert,
            cert_pem,
            fingerprint,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The certificate file a client is told to trust.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The certificate (chain) as PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// SHA-256 of the leaf certificate, as `AB:CD:…` (what `openssl x509 -fingerprint` prints).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Does the server side of a handshake.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// The names a made certificate covers: the loopback names, the SMTP hostname and this
/// machine's name (duplicates and empty names left out).
pub fn local_names(smtp_hostname: &str) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
    for n in [Some(smtp_hostname.to_string()), machine_hostname()]
        .into_iter()
        .flatten()
    {
        let n = n.trim().trim_end_matches('.').to_ascii_lowercase();
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// Makes a self-signed certificate for `names` unless both files exist. The key is written
/// first, private, so a certificate on disk always has its key beside it.
fn create_if_missing(cert: &Path, key: &Path, names: &[String]) -> Result<()> {
    match (cert.exists(), key.exists()) {
        (true, true) => return Ok(()),
        (false, false) => {}
        (has_cert, _) => {
            let (there, missing) = if has_cert { (cert, key) } else { (key, cert) };
            return Err(Error::Tls {
                path: missing.to_path_buf(),
                reason: format!(
                    "missing beside {}; delete both to have a new pair made",
                    there.display()
                ),
            });
        }
    }
    let failed = |e: rcgen::Error| Error::Tls {
        path: cert.to_path_buf(),
        reason: format!("cannot make a certificate ({e})"),
    };
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(failed)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Mailiy local SMTP");
    let pair = rcgen::KeyPair::generate().map_err(failed)?;
    let made = params.self_signed(&pair).map_err(failed)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::DataDir { path, source }
    };
    crate::token::write_private(key, &pair.serialize_pem()).map_err(io(key))?;
    // The certificate is public: clients running as other users (a PHP pool) must read it.
    write_new(cert, &made.pem()).map_err(io(cert))?;
    tracing::info!(cert = %cert.display(), "made a TLS certificate for the SMTP listener");
    Ok(())
}

fn write_new(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

/// This machine's host name, if it has a usable one.
#[cfg(unix)]
fn machine_hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer it is given.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?;
    let valid = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (valid && !name.is_empty()).then(|| name.to_string())
}

#[cfg(not(unix))]
fn machine_hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_made_once_with_a_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let source = CertSource::Generated {
            data_dir: dir.path().to_path_buf(),
            names: local_names("smtp.example.test"),
        };
        let a = TlsIdentity::load(&source).unwrap();
        let b = TlsIdentity::load(&source).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint(), "kept, not made again");
        assert_eq!(a.fingerprint().len(), 32 * 3 - 1);
        assert!(a.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        #[cfg(unix)]
        for (file, private) in [(KEY_FILE, true), (CERT_FILE, false)] {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(dir.path().join(file)).unwrap();
            // The certificate follows the umask; the key is never readable by others.
            let (mask, want) = if private { (0o077, 0) } else { (0o400, 0o400) };
            assert_eq!(meta.permissions().mode() & mask, want, "{file}");
        }
    }

    #[test]
    fn names_cover_loopback_and_the_smtp_hostname_once() {
        let names = local_names("LocalHost.");
        assert_eq!(&names[..3], ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(names.iter().filter(|n| *n == "localhost").count(), 1);
        assert!(local_names("mail.test").contains(&"mail.test".to_string()));
    }

    #[test]
    fn bad_files_are_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(&cert, "not pem").unwrap();
        std::fs::write(&key, "not pem").unwrap();
        let err = TlsIdentity::load(&CertSource::Files {
            cert: cert.clone(),
            key,
        })
        .unwrap_err();
        assert!(err.to_string().contains("c.pem"), "{err}");
        let missing = TlsIdentity::load(&CertSource::Files {
            cert: dir.path().join("none.pem"),
            key: cert,
        })
        .unwrap_err();
        assert!(missing.to_string().contains("none.pem"), "{missing}");
    }
}
