// A release build on Windows is a GUI program: no console window behind it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    mailiy_desktop::run()
}
