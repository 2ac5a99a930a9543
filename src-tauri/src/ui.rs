//! The GTK main thread: it owns the tray and the clipboard. The async side hands it work as
//! [`UiCommand`]s; it runs until Quit.

use tokio::sync::mpsc::UnboundedReceiver;

use crate::tray::{Model, Tray};

/// Work for the GTK thread.
#[derive(Debug)]
pub enum UiCommand {
    /// Show this in the tray.
    Tray(Model),
    /// Put this text on the clipboard (an address, a one-time code).
    Copy(String),
    /// Leave the main loop: the app is quitting.
    Quit,
}

/// Runs GTK's main loop on this (the main) thread until [`UiCommand::Quit`].
#[cfg(target_os = "linux")]
pub fn run(mut tray: Option<Tray>, mut commands: UnboundedReceiver<UiCommand>) {
    gtk::glib::MainContext::default().spawn_local(async move {
        while let Some(cmd) = commands.recv().await {
            match cmd {
                UiCommand::Tray(model) => {
                    if let Some(tray) = tray.as_mut() {
                        tray.apply(&model);
                    }
                }
                UiCommand::Copy(text) => copy(&text),
                UiCommand::Quit => break,
            }
        }
        drop(tray);
        gtk::main_quit();
    });
    gtk::main();
}

/// GTK owns the clipboard while this app runs (it keeps running after its window closes), and
/// hands the text to a clipboard manager, if one runs, for after.
#[cfg(target_os = "linux")]
fn copy(text: &str) {
    let clipboard = gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD);
    clipboard.set_text(text);
    clipboard.store();
}

/// Without GTK there is no tray and no clipboard yet; the loop only waits for Quit.
#[cfg(not(target_os = "linux"))]
pub fn run(tray: Option<Tray>, mut commands: UnboundedReceiver<UiCommand>) {
    drop(tray);
    while let Some(cmd) = commands.blocking_recv() {
        if matches!(cmd, UiCommand::Quit) {
            break;
        }
    }
}
