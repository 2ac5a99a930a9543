//! A tray host on the test's session bus, as a desktop panel is one: it runs the
//! StatusNotifierWatcher that the app's AppIndicator registers with, reads the indicator's
//! label and its menu (com.canonical.dbusmenu), and clicks menu items.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::message::Header;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

const WATCHER_PATH: &str = "/StatusNotifierWatcher";
const WATCHER_NAME: &str = "org.kde.StatusNotifierWatcher";
const ITEM: &str = "org.kde.StatusNotifierItem";
const MENU: &str = "com.canonical.dbusmenu";

#[derive(Default)]
struct Watcher {
    /// (bus name, object path) of each registered item.
    items: Arc<Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(&self, service: String, #[zbus(header)] header: Header<'_>) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        // An item names either its object path (sender is the bus name) or its bus name.
        let item = if service.starts_with('/') {
            (sender, service)
        } else {
            (service, "/StatusNotifierItem".to_string())
        };
        self.items.lock().unwrap().push(item);
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .map(|(n, p)| format!("{n}{p}"))
            .collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// The running tray host.
pub struct TrayHost {
    items: Arc<Mutex<Vec<(String, String)>>>,
    connection: zbus::blocking::Connection,
}

/// One menu entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    /// For check items: whether it is checked.
    pub checked: Option<bool>,
}

impl TrayHost {
    pub fn serve(bus: &str) -> TrayHost {
        let items = Arc::new(Mutex::new(Vec::new()));
        let connection = zbus::blocking::connection::Builder::address(bus)
            .and_then(|b| b.name(WATCHER_NAME))
            .and_then(|b| {
                b.serve_at(
                    WATCHER_PATH,
                    Watcher {
                        items: items.clone(),
                    },
                )
            })
            .and_then(|b| b.build())
            .expect("the test tray host on the session bus");
        TrayHost { items, connection }
    }

    /// The item the process `pid` registered: (bus name, path).
    pub fn item(&self, pid: u32, timeout: Duration) -> (String, String) {
        super::eventually(timeout, "the app's tray item registered", || {
            let items = self.items.lock().unwrap().clone();
            items.into_iter().rev().find(|(name, _)| {
                self.connection
                    .call_method(
                        Some("org.freedesktop.DBus"),
                        "/org/freedesktop/DBus",
                        Some("org.freedesktop.DBus"),
                        "GetConnectionUnixProcessID",
                        &(name.as_str(),),
                    )
                    .ok()
                    .and_then(|r| r.body().deserialize::<u32>().ok())
                    == Some(pid)
            })
        })
    }

    fn property(&self, (name, path): &(String, String), prop: &str) -> OwnedValue {
        let reply = self
            .connection
            .call_method(
                Some(name.as_str()),
                path.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &(ITEM, prop),
            )
            .unwrap_or_else(|e| panic!("tray item property {prop}: {e}"));
        reply.body().deserialize::<OwnedValue>().expect("a variant")
    }

    /// The text beside the icon (AppIndicator's label: the unread count).
    pub fn label(&self, item: &(String, String)) -> String {
        String::try_from(self.property(item, "XAyatanaLabel")).unwrap_or_default()
    }

    fn menu_path(&self, item: &(String, String)) -> String {
        OwnedObjectPath::try_from(self.property(item, "Menu"))
            .expect("a menu path")
            .to_string()
    }

    /// The menu's top-level entries, separators left out.
    pub fn menu(&self, item: &(String, String)) -> Vec<Entry> {
        let path = self.menu_path(item);
        let reply = self
            .connection
            .call_method(
                Some(item.0.as_str()),
                path.as_str(),
                Some(MENU),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .expect("GetLayout");
        type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
        let (_revision, (_, _, children)): (u32, Layout) =
            reply.body().deserialize().expect("a layout");
        children
            .into_iter()
            .filter_map(|child| {
                let value: &Value = &child;
                let fields = match value {
                    Value::Structure(s) => s.fields(),
                    Value::Value(inner) => match inner.as_ref() {
                        Value::Structure(s) => s.fields(),
                        _ => return None,
                    },
                    _ => return None,
                };
                let Some(Value::I32(id)) = fields.first() else {
                    return None;
                };
                let props: HashMap<String, OwnedValue> = match fields.get(1) {
                    Some(v) => HashMap::try_from(v.try_clone().ok()?).ok()?,
                    None => HashMap::new(),
                };
                let text = |k: &str| {
                    props
                        .get(k)
                        .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
                };
                if text("type").as_deref() == Some("separator") {
                    return None;
                }
                let enabled = props
                    .get("enabled")
                    .and_then(|v| bool::try_from(v.try_clone().ok()?).ok())
                    .unwrap_or(true);
                let checked = text("toggle-type").filter(|t| t == "checkmark").map(|_| {
                    props
                        .get("toggle-state")
                        .and_then(|v| i32::try_from(v.try_clone().ok()?).ok())
                        == Some(1)
                });
                Some(Entry {
                    id: *id,
                    label: text("label").unwrap_or_default().replace('_', ""),
                    enabled,
                    checked,
                })
            })
            .collect()
    }

    /// Waits for the menu to have an entry whose label starts with `prefix`.
    pub fn entry(&self, item: &(String, String), prefix: &str, timeout: Duration) -> Entry {
        super::eventually(timeout, &format!("a menu entry {prefix:?}"), || {
            self.menu(item)
                .into_iter()
                .find(|e| e.label.starts_with(prefix))
        })
    }

    /// Clicks a menu entry, as a panel does.
    pub fn click(&self, item: &(String, String), entry: &Entry) {
        let path = self.menu_path(item);
        self.connection
            .call_method(
                Some(item.0.as_str()),
                path.as_str(),
                Some(MENU),
                "Event",
                &(entry.id, "clicked", Value::I32(0), 0u32),
            )
            .expect("menu Event");
    }
}
