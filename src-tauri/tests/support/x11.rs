//! X11 as a window manager and a user see it: which windows are shown and their titles, closing
//! one the way a close button does (`WM_DELETE_WINDOW`), and reading the clipboard.

use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt, CreateWindowAux, EventMask, MapState,
    Window, WindowClass,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::CURRENT_TIME;

pub struct X11 {
    conn: RustConnection,
    root: Window,
}

/// A top-level window.
#[derive(Debug, Clone)]
pub struct TopLevel {
    pub id: Window,
    pub title: String,
    pub shown: bool,
}

impl X11 {
    pub fn connect(display: &str) -> X11 {
        let (conn, screen) = x11rb::connect(Some(display)).expect("X11 connection");
        let root = conn.setup().roots[screen].root;
        X11 { conn, root }
    }

    fn atom(&self, name: &str) -> Atom {
        self.conn
            .intern_atom(false, name.as_bytes())
            .expect("intern")
            .reply()
            .expect("atom")
            .atom
    }

    fn text_property(&self, w: Window, name: Atom) -> Option<String> {
        let reply = self
            .conn
            .get_property(false, w, name, AtomEnum::ANY, 0, 4096)
            .ok()?
            .reply()
            .ok()?;
        (!reply.value.is_empty()).then(|| String::from_utf8_lossy(&reply.value).into_owned())
    }

    /// Top-level windows whose title starts with `prefix`.
    pub fn windows(&self, prefix: &str) -> Vec<TopLevel> {
        let net_wm_name = self.atom("_NET_WM_NAME");
        let tree = self
            .conn
            .query_tree(self.root)
            .expect("query_tree")
            .reply()
            .expect("tree");
        tree.children
            .into_iter()
            .filter_map(|id| {
                let title = self
                    .text_property(id, net_wm_name)
                    .or_else(|| self.text_property(id, AtomEnum::WM_NAME.into()))?;
                let shown = self
                    .conn
                    .get_window_attributes(id)
                    .ok()?
                    .reply()
                    .ok()?
                    .map_state
                    == MapState::VIEWABLE;
                title
                    .starts_with(prefix)
                    .then_some(TopLevel { id, title, shown })
            })
            .collect()
    }

    /// The shown windows titled `prefix…`.
    pub fn shown(&self, prefix: &str) -> Vec<TopLevel> {
        self.windows(prefix)
            .into_iter()
            .filter(|w| w.shown)
            .collect()
    }

    /// What a window manager sends when the close button is pressed.
    pub fn close(&self, w: Window) {
        let protocols = self.atom("WM_PROTOCOLS");
        let delete = self.atom("WM_DELETE_WINDOW");
        let event = ClientMessageEvent::new(32, w, protocols, [delete, CURRENT_TIME, 0, 0, 0]);
        self.conn
            .send_event(false, w, EventMask::NO_EVENT, event)
            .expect("send_event");
        self.conn.flush().expect("flush");
    }

    /// The clipboard's text, as any application pasting would get it.
    pub fn clipboard(&self) -> Option<String> {
        let w = self.conn.generate_id().expect("id");
        self.conn
            .create_window(
                0,
                w,
                self.root,
                0,
                0,
                1,
                1,
                0,
                WindowClass::INPUT_OUTPUT,
                0,
                &CreateWindowAux::new().event_mask(EventMask::PROPERTY_CHANGE),
            )
            .expect("create_window");
        let (clipboard, utf8, target) = (
            self.atom("CLIPBOARD"),
            self.atom("UTF8_STRING"),
            self.atom("MAILIY_TEST_PASTE"),
        );
        self.conn
            .convert_selection(w, clipboard, utf8, target, CURRENT_TIME)
            .expect("convert_selection");
        self.conn.flush().expect("flush");
        let deadline = Instant::now() + Duration::from_secs(5);
        let text = loop {
            match self.conn.poll_for_event().expect("event") {
                Some(Event::SelectionNotify(e)) if e.requestor == w => {
                    break (e.property != u32::from(AtomEnum::NONE))
                        .then(|| self.text_property(w, target))
                        .flatten();
                }
                Some(_) => {}
                None if Instant::now() > deadline => break None,
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let _ = self.conn.destroy_window(w);
        let _ = self.conn.flush();
        text
    }
}
