//! The lines the app and its window process exchange: the app writes to the window's standard
//! input, the window answers on its standard output. One command per line; the window quits
//! when its input closes (the app is gone).
//!
//! A window process starts without a window (standby: GTK up, no WebKit yet) and builds its
//! webview at the first `show`, from the origin, title and place it was told before.

use url::Url;

/// Size and position of the window in logical pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Geometry {
    /// `x,y,width,height`, as on the window's command line.
    pub fn to_arg(self) -> String {
        format!("{},{},{},{}", self.x, self.y, self.width, self.height)
    }

    pub fn parse_arg(s: &str) -> Option<Geometry> {
        let n: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .ok()?;
        match n[..] {
            [x, y, width, height]
                if n.iter().all(|v| v.is_finite()) && width >= 1.0 && height >= 1.0 =>
            {
                Some(Geometry {
                    x,
                    y,
                    width,
                    height,
                })
            }
            _ => None,
        }
    }
}

/// From the app to the window.
#[derive(Debug, Clone, PartialEq)]
pub enum ToWindow {
    /// Where the UI is served. Before the window is built: where it will load from; after: the
    /// HTTP listener moved, load the UI from here.
    Origin(Url),
    /// The window title (before or after the window is built).
    Title(String),
    /// Where the window opens: its last size and position. Ignored once it is built.
    Place(Geometry),
    /// Build the window if there is none yet, raise and focus it, and go to a UI route
    /// (`#/mailbox/ID`) if one is given.
    Show { route: Option<String> },
}

/// From the window to the app.
#[derive(Debug, Clone, PartialEq)]
pub enum FromWindow {
    /// The window moved or was resized.
    Geometry(Geometry),
}

impl ToWindow {
    pub fn to_line(&self) -> String {
        match self {
            ToWindow::Show { route: None } => "show\n".into(),
            ToWindow::Show { route: Some(r) } => format!("show {}\n", one_line(r)),
            ToWindow::Origin(url) => format!("origin {url}\n"),
            ToWindow::Title(t) => format!("title {}\n", one_line(t)),
            ToWindow::Place(g) => format!("place {}\n", g.to_arg()),
        }
    }

    pub fn parse(line: &str) -> Option<ToWindow> {
        let (cmd, rest) = split(line);
        match cmd {
            "show" => Some(ToWindow::Show {
                route: (!rest.is_empty()).then(|| rest.to_string()),
            }),
            "origin" => Url::parse(rest).ok().map(ToWindow::Origin),
            "title" => Some(ToWindow::Title(rest.to_string())),
            "place" => Geometry::parse_arg(rest).map(ToWindow::Place),
            _ => None,
        }
    }
}

impl FromWindow {
    pub fn to_line(&self) -> String {
        match self {
            FromWindow::Geometry(g) => format!("geometry {}\n", g.to_arg()),
        }
    }

    pub fn parse(line: &str) -> Option<FromWindow> {
        match split(line) {
            ("geometry", g) => Geometry::parse_arg(g).map(FromWindow::Geometry),
            _ => None,
        }
    }
}

fn split(line: &str) -> (&str, &str) {
    let line = line.trim_end_matches(['\r', '\n']);
    match line.split_once(' ') {
        Some((cmd, rest)) => (cmd, rest.trim()),
        None => (line, ""),
    }
}

/// A route never spans lines (it would be read as a second command).
fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_survive_the_line_protocol() {
        for cmd in [
            ToWindow::Show { route: None },
            ToWindow::Show {
                route: Some("#/mailbox/mbx_1/message/msg_2".into()),
            },
            ToWindow::Origin(Url::parse("http://127.0.0.1:8026/").unwrap()),
            ToWindow::Title("Mailiy — SMTP port 1025 was taken; using 1026".into()),
            ToWindow::Place(Geometry {
                x: 0.0,
                y: 24.0,
                width: 800.0,
                height: 600.0,
            }),
        ] {
            assert_eq!(
                ToWindow::parse(&cmd.to_line()),
                Some(cmd.clone()),
                "{cmd:?}"
            );
        }
        let g = FromWindow::Geometry(Geometry {
            x: 10.0,
            y: -20.5,
            width: 1100.0,
            height: 720.0,
        });
        assert_eq!(FromWindow::parse(&g.to_line()), Some(g));
    }

    #[test]
    fn a_route_or_title_cannot_smuggle_a_second_command() {
        for cmd in [
            ToWindow::Show {
                route: Some("#/x\norigin http://evil.example/".into()),
            },
            ToWindow::Title("Mailiy\norigin http://evil.example/".into()),
        ] {
            let line = cmd.to_line();
            assert_eq!(line.matches('\n').count(), 1, "{line:?}");
            assert_eq!(
                std::mem::discriminant(&ToWindow::parse(&line).unwrap()),
                std::mem::discriminant(&cmd)
            );
        }
    }

    #[test]
    fn bad_lines_and_geometries_are_ignored() {
        assert_eq!(ToWindow::parse("explode"), None);
        assert_eq!(ToWindow::parse("origin not a url"), None);
        assert_eq!(ToWindow::parse("place 1,2,3"), None);
        assert_eq!(FromWindow::parse("geometry 1,2,3"), None);
        assert_eq!(FromWindow::parse("geometry 1,2,0,4"), None);
        assert_eq!(FromWindow::parse("geometry 1,2,NaN,4"), None);
        assert_eq!(Geometry::parse_arg("1,2,3,4").map(|g| g.width), Some(3.0));
    }
}
