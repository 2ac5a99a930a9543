//! One app per profile: the first launch owns a D-Bus name made from its data directory; a
//! second launch asks it to show its window and exits, so it never starts a second engine on
//! the same store. Another data directory (`MAILIY_DATA_DIR`) is another profile and runs
//! beside the first.

use std::path::Path;

use tokio::sync::mpsc::UnboundedSender;

use crate::Action;

const PATH: &str = "/app/mailiy/Desktop";
const INTERFACE: &str = "app.mailiy.Desktop";

/// The outcome of claiming the profile.
pub enum Claim {
    /// This is the first instance; the name is held as long as this lives.
    First(Option<zbus::blocking::Connection>),
    /// Another instance runs and was asked to show itself.
    HandedOver,
}

struct Activation {
    actions: UnboundedSender<Action>,
}

#[zbus::interface(name = "app.mailiy.Desktop")]
impl Activation {
    /// Shows the window: what a second launch asks for.
    fn show(&self) {
        let _ = self.actions.send(Action::Show(None));
    }
}

/// The bus name of the profile in `data_dir`.
pub fn bus_name(data_dir: &Path) -> String {
    let path = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    // FNV-1a: the same name from every build, unlike the std hasher.
    let hash = path
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("app.mailiy.Desktop.p{hash:016x}")
}

/// Claims the profile. Without a session bus nothing can be checked: the app runs (and says so).
pub fn claim(data_dir: &Path, actions: UnboundedSender<Action>) -> Claim {
    let name = bus_name(data_dir);
    let built = zbus::blocking::connection::Builder::session().and_then(|b| {
        b.name(name.as_str())?
            .replace_existing_names(false)
            .allow_name_replacements(false)
            .serve_at(PATH, Activation { actions })?
            .build()
    });
    match built {
        Ok(connection) => Claim::First(Some(connection)),
        Err(zbus::Error::NameTaken) => match hand_over(&name) {
            Ok(()) => Claim::HandedOver,
            Err(e) => {
                tracing::warn!(error = %e, "another instance holds this profile but did not answer; starting anyway");
                Claim::First(None)
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "no D-Bus session bus: a second launch cannot be detected");
            Claim::First(None)
        }
    }
}

fn hand_over(name: &str) -> zbus::Result<()> {
    let connection = zbus::blocking::Connection::session()?;
    connection.call_method(Some(name), PATH, Some(INTERFACE), "Show", &())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_data_directory_is_its_own_profile() {
        let a = bus_name(Path::new("/nonexistent/a"));
        assert_eq!(a, bus_name(Path::new("/nonexistent/a")));
        assert_ne!(a, bus_name(Path::new("/nonexistent/b")));
        // A valid well-known name: dot-separated elements not starting with a digit.
        assert!(
            zbus::names::WellKnownName::try_from(a.as_str()).is_ok(),
            "{a}"
        );
    }
}
