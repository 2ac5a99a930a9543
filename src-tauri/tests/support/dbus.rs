//! A notification server on the test's session bus (org.freedesktop.Notifications, the
//! freedesktop spec's methods and signals): it records every `Notify` call and can play the
//! user clicking an action.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::zvariant::OwnedValue;

const PATH: &str = "/org/freedesktop/Notifications";
const INTERFACE: &str = "org.freedesktop.Notifications";

/// One `Notify` call, as the server received it.
#[derive(Debug, Clone)]
pub struct Notify {
    /// The id the server answered with.
    pub id: u32,
    pub app_name: String,
    pub icon: String,
    pub summary: String,
    pub body: String,
    /// Action keys and labels, alternating, as on the wire.
    pub actions: Vec<String>,
}

impl Notify {
    pub fn has_action(&self, key: &str) -> bool {
        self.actions.chunks(2).any(|pair| pair[0] == key)
    }

    /// Every string the call carried.
    pub fn all_text(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.app_name,
            self.icon,
            self.summary,
            self.body,
            self.actions.join(" ")
        )
    }
}

#[derive(Default)]
struct Server {
    calls: Arc<Mutex<Vec<Notify>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut calls = self.calls.lock().unwrap();
        let id = calls.len() as u32 + 1;
        calls.push(Notify {
            id,
            app_name,
            icon: app_icon,
            summary,
            body,
            actions,
        });
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "mailiy-test".into(),
            "mailiy".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// The running server.
pub struct Notifications {
    calls: Arc<Mutex<Vec<Notify>>>,
    connection: zbus::blocking::Connection,
}

impl Notifications {
    pub fn serve(bus: &str) -> Notifications {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let connection = zbus::blocking::connection::Builder::address(bus)
            .and_then(|b| b.name(INTERFACE))
            .and_then(|b| {
                b.serve_at(
                    PATH,
                    Server {
                        calls: calls.clone(),
                    },
                )
            })
            .and_then(|b| b.build())
            .expect("the test notification server on the session bus");
        Notifications { calls, connection }
    }

    /// Every `Notify` call so far.
    pub fn calls(&self) -> Vec<Notify> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until at least `n` calls came; returns them all.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Notify> {
        super::eventually(timeout, &format!("{n} notifications"), || {
            let calls = self.calls();
            (calls.len() >= n).then_some(calls)
        })
    }

    /// Plays the user choosing `action` on notification `id` (the spec's `ActionInvoked`).
    pub fn invoke(&self, id: u32, action: &str) {
        self.connection
            .emit_signal(
                None::<&str>,
                PATH,
                INTERFACE,
                "ActionInvoked",
                &(id, action),
            )
            .expect("ActionInvoked");
    }
}
