//! The API token: made on first start, kept in the data directory (mode 0600).

use std::path::Path;

use rand::Rng;

use crate::error::{Error, Result};

/// The token file inside the data directory.
pub const TOKEN_FILE: &str = "token";

/// Reads the token, creating it (32 random bytes, hex) if there is none yet.
pub fn load_or_create(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(TOKEN_FILE);
    let io = |source| Error::DataDir {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let bytes: [u8; 32] = rand::rng().random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &token).map_err(io)?;
    Ok(token)
}

/// Reads the token without creating it (for `mailiy token`).
pub fn read(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(TOKEN_FILE);
    std::fs::read_to_string(&path)
        .map(|t| t.trim().to_string())
        .map_err(|source| Error::DataDir { path, source })
}

/// Writes a new file only its owner can read (the TLS key uses it too).
#[cfg(unix)]
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(load_or_create(dir.path()).unwrap(), a);
        assert_eq!(read(dir.path()).unwrap(), a);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
