//! Start at login: an XDG autostart entry (`~/.config/autostart/mailiy-desktop.desktop`),
//! written or removed when the setting changes. It starts the app hidden in the tray, with
//! this profile's data directory.

use std::io;
use std::path::{Path, PathBuf};

use crate::Shell;

const FILE_NAME: &str = "mailiy-desktop.desktop";

/// Brings the entry in line with the `startAtLogin` setting.
pub fn apply(shell: &Shell) -> io::Result<()> {
    let Some(dir) = autostart_dir() else {
        return Ok(());
    };
    let enabled = shell.engine.settings().start_at_login;
    let exe = std::env::current_exe()?;
    write_or_remove(&dir, enabled, &exe, &shell.engine.config().data_dir)
}

/// `$XDG_CONFIG_HOME/autostart`, or `~/.config/autostart`.
#[cfg(target_os = "linux")]
fn autostart_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("autostart"))
}

/// Other platforms register login items differently; not built yet.
#[cfg(not(target_os = "linux"))]
fn autostart_dir() -> Option<PathBuf> {
    None
}

/// Writes the entry into `dir` when `enabled`, removes it otherwise.
pub fn write_or_remove(dir: &Path, enabled: bool, exe: &Path, data_dir: &Path) -> io::Result<()> {
    let path = dir.join(FILE_NAME);
    if enabled {
        std::fs::create_dir_all(dir)?;
        std::fs::write(&path, entry(exe, data_dir))?;
        tracing::info!(path = %path.display(), "start at login: on");
    } else {
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "start at login: off"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The desktop entry: this binary, hidden in the tray, on this profile's data directory.
pub fn entry(exe: &Path, data_dir: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=Mailiy\n\
         Comment=Local disposable-mail inbox\nIcon=mailiy-desktop\n\
         Exec={} --hidden --data-dir {}\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        quote(&exe.to_string_lossy()),
        quote(&data_dir.to_string_lossy())
    )
}

/// Quotes one argument of an `Exec` line (Desktop Entry Specification, "The Exec key"): in
/// double quotes, with `"`, `` ` ``, `$` and `\` escaped, and `%` doubled (field codes).
fn quote(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    // A desktop file is parsed once more for escapes: every backslash doubles again.
    out.replace('\\', "\\\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_starts_this_binary_hidden_on_this_profile() {
        let e = entry(
            Path::new("/opt/Mailiy/mailiy-desktop"),
            Path::new("/home/u/My Mail"),
        );
        assert!(e.starts_with("[Desktop Entry]\nType=Application\n"));
        assert!(e.contains(
            "\nExec=\"/opt/Mailiy/mailiy-desktop\" --hidden --data-dir \"/home/u/My Mail\"\n"
        ));
    }

    #[test]
    fn exec_arguments_are_escaped() {
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("100%"), "\"100%%\"");
        assert_eq!(quote("$HOME"), "\"\\\\$HOME\"");
        assert_eq!(quote("a\"b"), "\"a\\\\\"b\"");
        assert_eq!(quote("a\\b"), "\"a\\\\\\\\b\"");
    }

    #[test]
    fn the_entry_is_written_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let autostart = dir.path().join("autostart");
        let exe = Path::new("/usr/bin/mailiy-desktop");
        let data = Path::new("/data");
        write_or_remove(&autostart, true, exe, data).unwrap();
        let written = std::fs::read_to_string(autostart.join(FILE_NAME)).unwrap();
        assert_eq!(written, entry(exe, data));
        write_or_remove(&autostart, false, exe, data).unwrap();
        assert!(!autostart.join(FILE_NAME).exists());
        // Removing what is not there is fine.
        write_or_remove(&autostart, false, exe, data).unwrap();
    }
}
