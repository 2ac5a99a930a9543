//! The tray: an icon carrying the unread count, and a menu with New address, the newest
//! mailboxes (unread count and time left; a click opens one), Open inbox, Pause notifications,
//! Settings and Quit. On Linux it is an AppIndicator (StatusNotifierItem, with the XEmbed tray
//! as the library's fallback); the count is the indicator's label there (AppIndicator shows no
//! tooltip) and the tooltip elsewhere.
//!
//! The menu is computed on the async side ([`crate::tray_feed`]) and applied on the GTK thread
//! ([`Tray::apply`]), only when it changed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use mailiy::clock::{now_ms, Millis};
use mailiy::model::Mailbox;
use tray_icon::menu::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use crate::{Action, Shell};

const ICON: &[u8] = include_bytes!("../icons/tray.png");
const ICON_UNREAD: &[u8] = include_bytes!("../icons/tray-unread.png");

/// One mailbox line in the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub label: String,
}

/// What the tray shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub unread: u64,
    pub mailboxes: Vec<Entry>,
    pub paused: bool,
    /// SMTP intake paused (the engine's switch, `/v1/intake`).
    pub intake_paused: bool,
    pub notice: Option<String>,
}

impl Model {
    /// The tray's view of the live mailboxes (newest first, as the store lists them).
    pub fn new(mailboxes: &[Mailbox], now: Millis, newest: usize) -> Model {
        Model {
            unread: mailboxes.iter().map(|m| m.unread_count).sum(),
            mailboxes: mailboxes
                .iter()
                .take(newest)
                .map(|m| Entry {
                    id: m.id.clone(),
                    label: entry_label(m, now),
                })
                .collect(),
            paused: false,
            intake_paused: false,
            notice: None,
        }
    }

    /// The count beside (or on) the icon.
    pub fn badge(&self) -> Option<String> {
        match self.unread {
            0 => None,
            n if n > 999 => Some("999+".into()),
            n => Some(n.to_string()),
        }
    }
}

/// "quiet-otter-4821@mailiy.localhost · 2 unread · 43 min left"
pub fn entry_label(m: &Mailbox, now: Millis) -> String {
    let unread = match m.unread_count {
        0 => String::new(),
        n => format!(" · {n} unread"),
    };
    format!("{}{unread} · {}", m.address, time_left(m.expires_at - now))
}

/// Time left, as coarse as a glance needs.
pub fn time_left(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    match minutes {
        0 => "under a minute left".into(),
        1..=119 => format!("{minutes} min left"),
        120..=2879 => format!("{} h left", minutes / 60),
        _ => format!("{} days left", minutes / 1440),
    }
}

/// The tray icon; lives on the GTK thread.
pub struct Tray {
    icon: TrayIcon,
    had_unread: bool,
}

/// Builds the tray (on the GTK thread). `None` when there is no tray library: the app then
/// works windowed, and a second launch reopens a closed window.
pub fn install(shell: &Arc<Shell>) -> Option<Tray> {
    if let Err(why) = library_present() {
        tracing::warn!("no system tray: {why}");
        eprintln!(
            "mailiy-desktop: no system tray ({why}). Closing the window leaves Mailiy running; \
             start mailiy-desktop again to reopen it."
        );
        return None;
    }
    let handler = shell.clone();
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| on_menu(&handler, &event.id.0)));
    let mut model = Model::new(&[], now_ms(), 0);
    model.notice = shell.notices.first().cloned();
    let built = menu(&model).and_then(|m| {
        TrayIconBuilder::new()
            .with_icon(icon(ICON)?)
            .with_tooltip("Mailiy")
            .with_menu(Box::new(m))
            .with_menu_on_left_click(true)
            .build()
            .map_err(|e| e.to_string())
    });
    match built {
        Ok(icon) => Some(Tray {
            icon,
            had_unread: false,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "cannot create the tray icon; the app keeps working in its window");
            None
        }
    }
}

impl Tray {
    /// Shows `model` (on the GTK thread).
    pub fn apply(&mut self, model: &Model) {
        match menu(model) {
            Ok(m) => self.icon.set_menu(Some(Box::new(m))),
            Err(e) => tracing::warn!(error = %e, "tray: cannot build the menu"),
        }
        let has_unread = model.unread > 0;
        if has_unread != self.had_unread {
            let bytes = if has_unread { ICON_UNREAD } else { ICON };
            if let Err(e) =
                icon(bytes).and_then(|i| self.icon.set_icon(Some(i)).map_err(|e| e.to_string()))
            {
                tracing::warn!(error = %e, "tray: cannot change the icon");
            }
            self.had_unread = has_unread;
        }
        let tip = match model.unread {
            0 => "Mailiy".to_string(),
            n => format!("Mailiy — {n} unread"),
        };
        let _ = self.icon.set_tooltip(Some(tip));
        #[cfg(target_os = "linux")]
        self.icon.set_title(model.badge());
    }
}

/// The tray library is loaded at run time by the tray crate, which panics without it.
#[cfg(target_os = "linux")]
fn library_present() -> Result<(), String> {
    const NAMES: [&std::ffi::CStr; 2] =
        [c"libayatana-appindicator3.so.1", c"libappindicator3.so.1"];
    for name in NAMES {
        // SAFETY: dlopen with a valid C string; the handle is closed at once.
        unsafe {
            let handle = libc::dlopen(name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
            if !handle.is_null() {
                libc::dlclose(handle);
                return Ok(());
            }
        }
    }
    Err("libayatana-appindicator3 is not installed".into())
}

/// The tray runs on GTK's main loop, built for Linux so far.
#[cfg(not(target_os = "linux"))]
fn library_present() -> Result<(), String> {
    Err("the tray is built for Linux only so far".into())
}

fn icon(png_bytes: &[u8]) -> Result<Icon, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut rgba = vec![0; reader.output_buffer_size().ok_or("icon too large")?];
    let info = reader.next_frame(&mut rgba).map_err(|e| e.to_string())?;
    rgba.truncate(info.buffer_size());
    Icon::from_rgba(rgba, info.width, info.height).map_err(|e| e.to_string())
}

/// A label as menus show it: `&` would mark a mnemonic.
fn label(s: &str) -> String {
    s.replace('&', "&&")
}

fn menu(model: &Model) -> Result<Menu, String> {
    let mut items: Vec<Box<dyn IsMenuItem>> = Vec::new();
    if let Some(notice) = &model.notice {
        items.push(Box::new(MenuItem::with_id(
            "notice",
            label(notice),
            false,
            None,
        )));
        items.push(Box::new(PredefinedMenuItem::separator()));
    }
    items.push(Box::new(MenuItem::with_id(
        "new-address",
        "New address",
        true,
        None,
    )));
    items.push(Box::new(PredefinedMenuItem::separator()));
    if model.mailboxes.is_empty() {
        items.push(Box::new(MenuItem::with_id(
            "none",
            "No mailboxes yet",
            false,
            None,
        )));
    }
    for m in &model.mailboxes {
        items.push(Box::new(MenuItem::with_id(
            format!("mailbox:{}", m.id),
            label(&m.label),
            true,
            None,
        )));
    }
    items.push(Box::new(PredefinedMenuItem::separator()));
    let open = match model.unread {
        0 => "Open inbox".to_string(),
        n => format!("Open inbox ({n} unread)"),
    };
    items.push(Box::new(MenuItem::with_id("open", open, true, None)));
    items.push(Box::new(CheckMenuItem::with_id(
        "pause",
        "Pause notifications",
        true,
        model.paused,
        None,
    )));
    items.push(Box::new(CheckMenuItem::with_id(
        "intake",
        "Pause intake (SMTP answers 421)",
        true,
        model.intake_paused,
        None,
    )));
    items.push(Box::new(MenuItem::with_id(
        "settings",
        "Settings…",
        true,
        None,
    )));
    items.push(Box::new(PredefinedMenuItem::separator()));
    items.push(Box::new(MenuItem::with_id("quit", "Quit", true, None)));
    let refs: Vec<&dyn IsMenuItem> = items.iter().map(|i| i.as_ref()).collect();
    Menu::with_items(&refs).map_err(|e| e.to_string())
}

/// A menu click (on the GTK thread): handed to the app's action loop.
fn on_menu(shell: &Shell, id: &str) {
    match id {
        "new-address" => shell.act(Action::NewAddress),
        "open" => shell.act(Action::Show(None)),
        "settings" => shell.act(Action::Show(Some("#/settings".into()))),
        "pause" => {
            let was = shell.paused.fetch_xor(true, Ordering::Relaxed);
            tracing::info!(paused = !was, "notifications paused from the tray");
        }
        "intake" => {
            // The engine announces the change; the feed then redraws the menu.
            let paused = !shell.engine.intake().paused;
            let change = mailiy::engine::IntakeChange {
                paused: Some(paused),
                ..Default::default()
            };
            if let Err(e) = shell.engine.set_intake(change) {
                tracing::warn!(error = %e, "tray: cannot change intake");
            }
        }
        "quit" => shell.act(Action::Quit),
        other => {
            if let Some(mailbox) = other.strip_prefix("mailbox:") {
                shell.act(Action::Show(Some(format!("#/mailbox/{mailbox}"))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailiy::config::Tier;

    fn mailbox(n: u32, unread: u64, expires_in_min: i64) -> Mailbox {
        Mailbox {
            id: format!("mbx_{n}"),
            address: format!("box{n}@mailiy.localhost"),
            tier: Tier::Anon,
            created_at: 0,
            expires_at: 1_000_000 + expires_in_min * 60_000,
            origin: mailiy::model::Origin::Local,
            remote: None,
            smtp_user: None,
            message_count: unread,
            unread_count: unread,
            bytes_used: 0,
        }
    }

    #[test]
    fn the_model_counts_all_unread_and_lists_the_newest() {
        let all: Vec<Mailbox> = (0..8).map(|n| mailbox(n, u64::from(n % 3), 43)).collect();
        let m = Model::new(&all, 1_000_000, 5);
        assert_eq!(m.unread, 7);
        assert_eq!(
            m.mailboxes
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            ["mbx_0", "mbx_1", "mbx_2", "mbx_3", "mbx_4"]
        );
        assert_eq!(
            m.mailboxes[2].label,
            "box2@mailiy.localhost · 2 unread · 43 min left"
        );
        assert_eq!(m.mailboxes[0].label, "box0@mailiy.localhost · 43 min left");
        assert_eq!(m.badge().as_deref(), Some("7"));
        assert_eq!(Model::new(&[], 0, 5).badge(), None);
    }

    #[test]
    fn time_left_is_coarse() {
        assert_eq!(time_left(-5), "under a minute left");
        assert_eq!(time_left(59_999), "under a minute left");
        assert_eq!(time_left(60_000), "1 min left");
        assert_eq!(time_left(119 * 60_000), "119 min left");
        assert_eq!(time_left(5 * 3_600_000), "5 h left");
        assert_eq!(time_left(30 * 86_400_000), "30 days left");
    }

    #[test]
    fn the_icons_decode() {
        for bytes in [ICON, ICON_UNREAD] {
            assert!(icon(bytes).is_ok());
        }
    }

    #[test]
    fn ampersands_are_not_mnemonics() {
        assert_eq!(label("a&b@x.y"), "a&&b@x.y");
    }
}
