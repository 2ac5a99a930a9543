//! WebDriver into the app's window: tauri-driver in front of Debian's WebKitWebDriver, attached
//! to the window's automation endpoint. The app is started by the test (not by the driver), with
//! `WEBKIT_INSPECTOR_SERVER` and `TAURI_WEBVIEW_AUTOMATION` set, so the driver can come and go
//! while the app keeps running, and it finds each new window process at the same address.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{free_port, spawn, Desktop};

/// The environment that lets WebDriver into the app's windows at `port`.
pub fn automation_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("TAURI_WEBVIEW_AUTOMATION", "true".into()),
        ("WEBKIT_INSPECTOR_SERVER", format!("127.0.0.1:{port}")),
    ]
}

/// A running tauri-driver, attached to the windows at the inspector `port`.
pub struct Driver {
    child: Child,
    base: String,
    inspector: u16,
}

fn tauri_driver() -> PathBuf {
    let in_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("tauri-driver"))
        .find(|p| p.is_file());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    in_path
        .or_else(|| {
            cargo_home
                .map(|c| c.join("bin/tauri-driver"))
                .filter(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

impl Driver {
    pub fn start(desktop: &Desktop, inspector_port: u16) -> Driver {
        let (port, native) = (free_port(), free_port());
        let child = spawn(
            Command::new(tauri_driver())
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native.to_string(),
                ])
                .env("DISPLAY", &desktop.display)
                .env(
                    "WEBDRIVER_TARGET_ADDR",
                    format!("127.0.0.1:{inspector_port}"),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "tauri-driver",
        );
        Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            inspector: inspector_port,
        }
    }

    /// A session on the app's current window, once the window listens for automation (a
    /// session asked for earlier hangs in WebKitWebDriver and spoils the next one).
    pub fn session(&self) -> Session {
        super::eventually(
            Duration::from_secs(60),
            "the window's automation endpoint",
            || std::net::TcpStream::connect(("127.0.0.1", self.inspector)).ok(),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = ureq::post(&format!("{}/session", self.base))
                .timeout(Duration::from_secs(60))
                .send_json(json!({"capabilities": {"alwaysMatch": {}}}));
            match answer.map(|r| r.into_json::<Value>()) {
                Ok(Ok(v)) if v["value"]["sessionId"].is_string() => {
                    return Session {
                        base: format!(
                            "{}/session/{}",
                            self.base,
                            v["value"]["sessionId"].as_str().unwrap_or_default()
                        ),
                    };
                }
                // tauri-driver itself may still be starting.
                other => assert!(Instant::now() < deadline, "no WebDriver session: {other:?}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SIGTERM: tauri-driver then stops WebKitWebDriver too.
        super::signal(self.child.id(), libc::SIGTERM);
        let _ = self.child.wait();
    }
}

/// One WebDriver session.
pub struct Session {
    base: String,
}

impl Session {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let req =
            ureq::request(method, &format!("{}{path}", self.base)).timeout(Duration::from_secs(30));
        let answer = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match answer {
            Ok(r) => r
                .into_json::<Value>()
                .map(|v| v["value"].clone())
                .map_err(|e| e.to_string()),
            Err(ureq::Error::Status(code, r)) => {
                Err(format!("{code}: {}", r.into_string().unwrap_or_default()))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the window's page.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns something truthy; returns it.
    pub fn wait_for(&self, script: &str, timeout: Duration, what: &str) -> Value {
        super::eventually(timeout, what, || {
            let v = self
                .call(
                    "POST",
                    "/execute/sync",
                    Some(json!({"script": script, "args": []})),
                )
                .ok()?;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            truthy.then_some(v)
        })
    }

    pub fn url(&self) -> String {
        self.call("GET", "/url", None)
            .expect("url")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// A PNG of the window's page.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        // WebKit answers a screenshot after the page's next paint, and with compositing off
        // (the window's memory-saving mode) an idle page never paints again: move a
        // transparent pixel for a moment so there is a paint to wait for.
        self.exec(
            "const d = document.createElement('div');
             d.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;opacity:0.01';
             document.body.appendChild(d);
             let i = 0;
             const t = setInterval(() => { d.style.left = (i++ % 2) + 'px';
               if (i > 60) { clearInterval(t); d.remove(); } }, 50);
             return true",
            json!([]),
        );
        let b64 = self.call("GET", "/screenshot", None).expect("screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64 string"))
            .expect("base64")
    }

    /// The WebDriver id of the first element matching `css` (in the current frame).
    fn element(&self, css: &str) -> String {
        let found = self
            .call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element id in {found}"))
            .to_string()
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})))
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Goes into the frame element matching `css`: later calls act inside it.
    pub fn enter_frame(&self, css: &str) {
        let id = self.element(css);
        let reference = json!({ "element-6066-11e4-a52e-4f735466cecf": id });
        self.call("POST", "/frame", Some(json!({ "id": reference })))
            .unwrap_or_else(|e| panic!("enter frame {css}: {e}"));
    }

    /// Back from a frame to the page around it.
    pub fn leave_frame(&self) {
        self.call("POST", "/frame/parent", Some(json!({})))
            .expect("leave the frame");
    }

    /// The window's position and size.
    pub fn window_rect(&self) -> Value {
        self.call("GET", "/window/rect", None).expect("window rect")
    }

    pub fn set_window_rect(&self, rect: Value) {
        self.call("POST", "/window/rect", Some(rect))
            .expect("set window rect");
    }

    /// Ends the session (the app and its window stay).
    pub fn end(self) {
        let _ = self.call("DELETE", "", None);
    }
}

/// Width and height from a PNG's header.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&png[16..20]), be(&png[20..24])))
}
