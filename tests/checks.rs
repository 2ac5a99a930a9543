//! The message checks through the real server: the HTML check on corpus messages (golden
//! files) and on the sanitizer bombs (bounded time), the link check against HTTP servers this
//! test starts on loopback, and the spam check against a real `spamd`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{code, enc, stuff_raw, Server};

/// Delivers `raw` to a new mailbox; returns (address, message id).
fn deliver(s: &Server, raw: &[u8]) -> (String, String) {
    let addr = s.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    let mut c = s.smtp();
    c.cmd("EHLO checks.test");
    assert_eq!(code(&c.cmd("MAIL FROM:<a@b.test>")), 250);
    assert_eq!(code(&c.cmd(&format!("RCPT TO:<{addr}>"))), 250);
    assert_eq!(code(&c.cmd("DATA")), 354);
    c.send(&stuff_raw(raw));
    let r = c.reply();
    assert_eq!(code(&r), 250, "{r}");
    let mid = r.trim().rsplit(' ').next().unwrap().to_string();
    (addr, mid)
}

fn check(s: &Server, addr: &str, mid: &str, which: &str) -> Value {
    let (st, v) = s.get(&format!("/v1/mailbox/{}/messages/{mid}/{which}", enc(addr)));
    assert_eq!(st, 200, "{which}: {v}");
    v
}

fn html_mail(html: &str) -> String {
    format!(
        "From: a@b.test\r\nTo: c@d.test\r\nSubject: check\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    )
}

// ---------------------------------------------------------------------------------------------
// HTML check
// ---------------------------------------------------------------------------------------------

fn corpus(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What a golden file keeps of a check: the findings (slug, uses, lines) and the score; the
/// client tables are caniemail's, checked by the unit tests.
fn summary(v: &Value) -> Value {
    let findings: Vec<Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let lines: Vec<&Value> = f["places"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| &p["line"])
                .collect();
            json!({"slug": f["slug"], "found": f["found"], "lines": lines, "score": f["score"]})
        })
        .collect();
    json!({"hasHtml": v["hasHtml"], "nodes": v["nodes"], "total": v["total"], "findings": findings})
}

#[test]
fn html_check_findings_on_corpus_messages_match_their_golden_files() {
    let s = Server::start(&[]);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/html-check");
    let cases = [
        "real/thunderbird/message-reader_dark_mode_test.eml",
        "real/thunderbird/mailnews-data_html-entities-and-styles.eml",
        "real/mimekit/messages_issue358.eml",
        "real/dovecot/thirdparty_014.eml",
    ];
    let mut ran = 0;
    for case in cases {
        let (addr, mid) = deliver(&s, &corpus(case));
        let got = summary(&check(&s, &addr, &mid, "html-check"));
        let name = Path::new(case)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let file = golden.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
        if std::env::var_os("MAILIY_UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&file, &text).unwrap();
        }
        let want = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!("{}: {e} (MAILIY_UPDATE_GOLDEN=1 writes it)", file.display())
        });
        if want != text {
            let failed = file.with_extension("json.failed");
            std::fs::write(&failed, &text).unwrap();
            panic!(
                "{case}: findings differ from {}; got {}",
                file.display(),
                failed.display()
            );
        }
        assert!(
            got["findings"].as_array().unwrap().len() > 3,
            "{case}: too few findings to mean much"
        );
        ran += 1;
    }
    assert_eq!(ran, cases.len());
}

#[test]
fn html_check_names_where_each_feature_is_used_and_scores_it() {
    let s = Server::start(&[]);
    let html = "<html><head><style>\n@media (prefers-color-scheme: dark) { .x { color: red } }\n</style></head>\n<body>\n<div style=\"display: grid\">a</div>\n<p>b</p>\n</body></html>";
    let (addr, mid) = deliver(&s, html_mail(html).as_bytes());
    let v = check(&s, &addr, &mid, "html-check");
    assert_eq!(v["hasHtml"], true);
    let grid = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["slug"] == "css-display-grid")
        .expect("grid found");
    assert_eq!(grid["places"][0]["line"], 5);
    assert!(grid["places"][0]["snippet"]
        .as_str()
        .unwrap()
        .starts_with("display: grid"));
    let outlook = grid["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["family"] == "outlook" && c["platform"] == "windows")
        .unwrap();
    assert_eq!(outlook["support"], "no");
    assert!(v["total"]["unsupported"].as_f64().unwrap() > 0.0);
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["slug"] == "css-at-media-prefers-color-scheme"));

    let (addr, mid) = deliver(&s, b"From: a@b.test\r\nSubject: plain\r\n\r\nonly text\r\n");
    let v = check(&s, &addr, &mid, "html-check");
    assert_eq!(v["hasHtml"], false);
    assert_eq!(v["findings"], json!([]));
    let (st, _) = s.get(&format!(
        "/v1/mailbox/{}/messages/nope/html-check",
        enc(&addr)
    ));
    assert_eq!(st, 404);
}

#[test]
fn html_check_stays_within_its_bounds_on_the_sanitizer_bombs() {
    let s = Server::start(&[
        "--html-check-max-nodes",
        "20000",
        "--html-check-timeout-ms",
        "1500",
    ]);
    let nested = html_mail(&"<div style=\"margin:1px\">".repeat(50_000));
    let bombs: Vec<(String, Vec<u8>)> = vec![
        (
            "html-attributes-50k".into(),
            corpus("mime/bombs/html-attributes-50k.eml"),
        ),
        (
            "html-entities-50k".into(),
            corpus("mime/bombs/html-entities-50k.eml"),
        ),
        ("50k nested divs".into(), nested.into_bytes()),
    ];
    for (name, raw) in bombs {
        let (addr, mid) = deliver(&s, &raw);
        let t = Instant::now();
        let v = check(&s, &addr, &mid, "html-check");
        let took = t.elapsed();
        // The check's own bound, plus parsing the MIME and a loaded machine's slack.
        assert!(took < Duration::from_secs(5), "{name}: {took:?}");
        assert!(
            v["nodes"].as_u64().unwrap() <= 20_000,
            "{name}: {}",
            v["nodes"]
        );
        if name == "50k nested divs" {
            assert!(
                v["limited"]
                    .as_str()
                    .unwrap()
                    .contains("--html-check-max-nodes"),
                "{name}: {}",
                v["limited"]
            );
        }
        eprintln!(
            "[checks] {name}: {} nodes, {} findings in {took:?}",
            v["nodes"],
            v["findings"].as_array().unwrap().len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Link check
// ---------------------------------------------------------------------------------------------

/// An HTTP/1.1 server on loopback with the routes the link check is tried on; it records the
/// headers of every request. Stopped (its thread ends) when dropped.
pub(crate) struct Site {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// Requests being answered now, and the most at once.
    load: Arc<Load>,
}

#[derive(Default)]
struct Load {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Site {
    pub(crate) fn start() -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let load = Arc::new(Load::default());
        let (seen2, stop2, load2) = (seen.clone(), stop.clone(), load.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (seen, load) = (seen2.clone(), load2.clone());
                std::thread::spawn(move || {
                    let n = load.now.fetch_add(1, Ordering::SeqCst) + 1;
                    load.peak.fetch_max(n, Ordering::SeqCst);
                    answer(conn, seen);
                    load.now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Site {
            addr,
            seen,
            stop,
            load,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn answer(mut conn: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    seen.lock().unwrap().push(head.clone());
    let first = head.lines().next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let reply = |conn: &mut TcpStream, status: &str, extra: &str| {
        let _ = write!(
            conn,
            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n"
        );
    };
    let path_only = path.split('?').next().unwrap_or("");
    match path_only {
        "/ok" => reply(&mut conn, "200 OK", "Set-Cookie: session=secret\r\n"),
        "/missing" => reply(&mut conn, "404 Not Found", ""),
        "/chain1" => reply(&mut conn, "301 Moved Permanently", "Location: /chain2\r\n"),
        "/chain2" => reply(&mut conn, "302 Found", "Location: /ok\r\n"),
        "/loop-a" => reply(&mut conn, "302 Found", "Location: /loop-b\r\n"),
        "/loop-b" => reply(&mut conn, "302 Found", "Location: /loop-a\r\n"),
        "/to-file" => reply(&mut conn, "302 Found", "Location: file:///etc/passwd\r\n"),
        p if p.starts_with("/hops/") => {
            let n: u32 = p[6..].parse().unwrap_or(0);
            reply(
                &mut conn,
                "302 Found",
                &format!("Location: /hops/{}\r\n", n + 1),
            );
        }
        "/get-only" if method == "HEAD" => reply(&mut conn, "405 Method Not Allowed", ""),
        "/get-only" => reply(&mut conn, "200 OK", ""),
        "/slow" => std::thread::sleep(Duration::from_secs(10)),
        "/pause" => {
            std::thread::sleep(Duration::from_millis(500));
            reply(&mut conn, "200 OK", "");
        }
        "/huge" if method == "HEAD" => reply(&mut conn, "501 Not Implemented", ""),
        "/huge" => {
            // An endless body: the check must take the status and hang up.
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n"
            );
            let chunk = vec![b'x'; 64 * 1024];
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(20) && conn.write_all(&chunk).is_ok() {}
        }
        _ => reply(&mut conn, "404 Not Found", ""),
    }
    let _ = conn.flush();
    let mut sink = [0u8; 1];
    let _ = conn.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = conn.read(&mut sink);
}

fn link_of<'a>(v: &'a Value, url: &str) -> &'a Value {
    v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["url"] == url)
        .unwrap_or_else(|| panic!("{url} not in {v}"))
}

#[test]
fn link_check_answers_every_case_within_its_limits() {
    let site = Site::start();
    // A port nothing listens on: bound, then closed.
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let s = Server::start(&[
        "--link-check-allow",
        "loopback",
        "--link-check-timeout",
        "1",
        "--link-check-max-redirects",
        "3",
    ]);
    let u = |p: &str| site.url(p);
    let creds = format!("http://user:pw@{}/ok?creds", site.addr);
    let html = format!(
        "<p><a href=\"{}\">ok</a> <a href=\"{}\">404</a> <a href=\"{}\">chain</a> <a href=\"{}\">loop</a>
         <a href=\"{}\">file</a> <a href=\"{}\">hops</a> <a href=\"{}\">get</a> <a href=\"{}\">slow</a>
         <a href=\"{}\">huge</a> <a href=\"http://{refused}/\">refused</a> <a href=\"{creds}\">creds</a>
         <img src=\"{}\"></p><table><tr><td background=\"{}\">bg</td></tr></table>",
        u("/ok"), u("/missing"), u("/chain1"), u("/loop-a"), u("/to-file"), u("/hops/0"),
        u("/get-only"), u("/slow"), u("/huge"), u("/ok?img"), u("/ok?bg"),
    );
    let (addr, mid) = deliver(&s, html_mail(&html).as_bytes());
    let t = Instant::now();
    let v = check(&s, &addr, &mid, "link-check");
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the whole check took {took:?}"
    );
    assert_eq!(v["allow"], "loopback");

    let ok = link_of(&v, &u("/ok"));
    assert_eq!(
        (ok["ok"].clone(), ok["status"].clone(), ok["method"].clone()),
        (json!(true), json!(200), json!("HEAD"))
    );
    assert_eq!(link_of(&v, &u("/missing"))["status"], 404);
    assert_eq!(link_of(&v, &u("/missing"))["ok"], false);
    let chain = link_of(&v, &u("/chain1"));
    assert_eq!(chain["ok"], true);
    assert_eq!(chain["redirects"].as_array().unwrap().len(), 2);
    assert_eq!(chain["finalUrl"], u("/ok"));
    assert!(link_of(&v, &u("/loop-a"))["error"]
        .as_str()
        .unwrap()
        .contains("loop"));
    assert!(link_of(&v, &u("/to-file"))["error"]
        .as_str()
        .unwrap()
        .contains("http to file"));
    assert!(link_of(&v, &u("/hops/0"))["error"]
        .as_str()
        .unwrap()
        .contains("more than 3 redirects"));
    let get = link_of(&v, &u("/get-only"));
    assert_eq!(
        (get["status"].clone(), get["method"].clone()),
        (json!(200), json!("GET"))
    );
    let slow = link_of(&v, &u("/slow"));
    assert!(
        slow["error"].as_str().unwrap().contains("in time"),
        "{slow}"
    );
    assert!(slow["ms"].as_u64().unwrap() < 3000, "{slow}");
    let huge = link_of(&v, &u("/huge"));
    assert_eq!(
        (huge["status"].clone(), huge["method"].clone()),
        (json!(200), json!("GET")),
        "{huge}"
    );
    assert!(huge["ms"].as_u64().unwrap() < 3000, "{huge}");
    assert!(link_of(&v, &format!("http://{refused}/"))["error"]
        .as_str()
        .is_some());
    let c = link_of(&v, &creds);
    assert_eq!(
        (c["ok"].clone(), c["credentialsRemoved"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(link_of(&v, &u("/ok?img"))["kind"], "image");
    assert_eq!(link_of(&v, &u("/ok?bg"))["kind"], "image");
    // No credentials and no cookie ever reached the site (it set one on every /ok).
    let seen = site.seen.lock().unwrap().join("\n").to_ascii_lowercase();
    assert!(seen.contains("/ok?creds"), "the credentials link was asked");
    assert!(
        !seen.contains("authorization:") && !seen.contains("cookie:"),
        "{seen}"
    );
    // 404, loop, file, too many hops, slow, refused.
    assert_eq!(v["errors"], 6, "{v}");
}

#[test]
fn link_check_reaches_only_the_addresses_it_is_allowed() {
    let site = Site::start();
    let s = Server::start(&[]);
    let html = format!(
        "<a href=\"{}\">local</a> <a href=\"http://0.0.0.0:{}/ok\">any</a>",
        site.url("/ok"),
        site.addr.port()
    );
    let (addr, mid) = deliver(&s, html_mail(&html).as_bytes());
    let v = check(&s, &addr, &mid, "link-check");
    assert_eq!(v["allow"], "public");
    let local = link_of(&v, &site.url("/ok"));
    assert!(
        local["error"]
            .as_str()
            .unwrap()
            .contains("--link-check-allow loopback"),
        "{local}"
    );
    assert!(
        link_of(&v, &format!("http://0.0.0.0:{}/ok", site.addr.port()))["error"]
            .as_str()
            .unwrap()
            .contains("not allowed")
    );
    assert!(
        site.seen.lock().unwrap().is_empty(),
        "the default reached loopback"
    );
}

#[test]
fn link_check_of_thousands_of_links_asks_only_its_cap_in_bounded_time() {
    let site = Site::start();
    let s = Server::start(&[
        "--link-check-allow",
        "loopback",
        "--link-check-max-links",
        "50",
    ]);
    let html: String = (0..3000)
        .map(|i| format!("<a href=\"{}\">{i}</a>\n", site.url(&format!("/ok?n={i}"))))
        .collect();
    let (addr, mid) = deliver(&s, html_mail(&html).as_bytes());
    let t = Instant::now();
    let v = check(&s, &addr, &mid, "link-check");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(v["checked"], 50);
    assert!(v["found"].as_u64().unwrap() >= 1000, "{}", v["found"]);
    assert!(v["limited"]
        .as_str()
        .unwrap()
        .contains("--link-check-max-links"));
    assert_eq!(site.seen.lock().unwrap().len(), 50, "asked exactly the cap");
    let asked = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["ok"] == true)
        .count();
    assert_eq!(asked, 50);
}

#[test]
fn link_check_keeps_to_its_concurrency_and_its_total_time() {
    let site = Site::start();
    let s = Server::start(&[
        "--link-check-allow",
        "loopback",
        "--link-check-concurrency",
        "2",
        "--link-check-total-timeout",
        "2",
        "--link-check-timeout",
        "1",
    ]);
    // Twelve links of half a second each, two at a time: about six in the two seconds, the
    // rest not asked.
    let html: String = (0..12)
        .map(|i| {
            format!(
                "<a href=\"{}\">{i}</a>\n",
                site.url(&format!("/pause?n={i}"))
            )
        })
        .collect();
    let (addr, mid) = deliver(&s, html_mail(&html).as_bytes());
    let t = Instant::now();
    let v = check(&s, &addr, &mid, "link-check");
    let took = t.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        site.load.peak.load(Ordering::SeqCst) <= 2,
        "at most 2 at once, saw {}",
        site.load.peak.load(Ordering::SeqCst)
    );
    let links = v["links"].as_array().unwrap();
    let answered = links.iter().filter(|l| l["ok"] == true).count();
    let late: Vec<&Value> = links
        .iter()
        .filter(|l| {
            l["error"]
                .as_str()
                .is_some_and(|e| e.contains("--link-check-total-timeout"))
        })
        .collect();
    assert!((2..=8).contains(&answered), "answered {answered}: {v}");
    assert_eq!(answered + late.len(), 12, "{v}");
    assert_eq!(
        site.seen.lock().unwrap().len(),
        answered,
        "links past the deadline were not asked"
    );
}

// ---------------------------------------------------------------------------------------------
// Spam check
// ---------------------------------------------------------------------------------------------

/// A `spamd` on a free loopback port, as this user, local tests only; killed when dropped.
pub(crate) struct Spamd {
    child: Child,
    pub(crate) addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Spamd {
    pub(crate) fn start() -> Spamd {
        let spamd = ["/usr/sbin/spamd", "/usr/bin/spamd"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("spamd is not installed: install Debian's spamassassin package (scripts/setup.sh test does)"));
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(spamd)
            .args([
                "--listen",
                &addr.to_string(),
                "--allowed-ips",
                "127.0.0.1",
                "--nouser-config",
                "-x",
                "-L",
            ])
            .arg("--pidfile")
            .arg(dir.path().join("spamd.pid"))
            .args(["-s", "stderr", "--max-children", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start spamd");
        let d = Spamd {
            child,
            addr,
            _dir: dir,
        };
        let t = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "spamd did not listen on {addr} in 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        d
    }
}

impl Drop for Spamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn spam_check_asks_a_real_spamd_gtube_is_spam_and_a_clean_mail_is_not() {
    let spamd = Spamd::start();
    let s = Server::start(&["--spamassassin", &spamd.addr.to_string()]);
    let gtube = "From: a@b.test\r\nTo: c@d.test\r\nSubject: test\r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\n\
                 Message-ID: <gtube@b.test>\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n";
    let (addr, mid) = deliver(&s, gtube.as_bytes());
    let v = check(&s, &addr, &mid, "spam-check");
    assert_eq!(v["enabled"], true, "{v}");
    assert!(v["error"].is_null(), "{v}");
    assert_eq!(v["isSpam"], true, "{v}");
    assert!(v["score"].as_f64().unwrap() >= 1000.0, "{v}");
    assert_eq!(v["threshold"], 5.0);
    let gt = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "GTUBE")
        .expect("the GTUBE rule");
    assert!(
        gt["description"]
            .as_str()
            .unwrap()
            .contains("Unsolicited Bulk Email"),
        "{gt}"
    );

    let clean = "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Lunch on Thursday\r\n\
                 Date: Thu, 3 Dec 2026 10:00:00 +0000\r\nMessage-ID: <lunch-1@example.org>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\nHi Bob,\r\n\r\nShall we have lunch on Thursday at noon?\r\n\r\nAlice\r\n";
    let (addr, mid) = deliver(&s, clean.as_bytes());
    let v = check(&s, &addr, &mid, "spam-check");
    assert!(v["error"].is_null(), "{v}");
    assert_eq!(v["isSpam"], false, "{v}");
    assert!(v["score"].as_f64().unwrap() < 5.0, "{v}");
}

#[test]
fn spam_check_without_spamassassin_says_it_is_off() {
    let s = Server::start(&[]);
    let (addr, mid) = deliver(&s, b"From: a@b.test\r\nSubject: x\r\n\r\nhello\r\n");
    let v = check(&s, &addr, &mid, "spam-check");
    assert_eq!(v["enabled"], false);
    assert_eq!(v["isSpam"], false);
    // A spamd that is set but gone is an error in the answer, not a hang.
    let gone = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = Server::start(&[
        "--spamassassin",
        &gone.to_string(),
        "--spamassassin-timeout",
        "2",
    ]);
    let (addr, mid) = deliver(&s, b"From: a@b.test\r\nSubject: x\r\n\r\nhello\r\n");
    let v = check(&s, &addr, &mid, "spam-check");
    assert_eq!(v["enabled"], true);
    assert!(
        v["error"].as_str().unwrap().contains(&gone.to_string()),
        "{v}"
    );
}
