//! Desktop tests: the real `mailiy-desktop` (and its window process) under Xvfb, with a D-Bus
//! session bus and a notification server of the test's own, real SMTP and HTTP on loopback,
//! X11 for closing windows and reading the clipboard, and WebDriver (tauri-driver and
//! WebKitWebDriver) inside the window. `./scripts/setup.sh` installs what they need.

mod support;

mod e2e;
mod launch;
mod notifications;
mod settings;
mod tray;
mod window;
