//! A real HTTP/1.1 server on 127.0.0.1 for the fetch tests, scripted per
//! path: each request to a path takes the next reply of its script (the last
//! one repeats), and requests are counted.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with the body, an ETag, and `Content-Type: text/csv`; answers a
    /// matching If-None-Match with 304.
    Ok { body: Vec<u8>, etag: &'static str },
    /// A bare status with a short body.
    Status(u16),
    /// 200 with an HTML page, sent as text/html or disguised as CSV.
    Html { as_csv: bool },
    /// Promises the full length, sends half, then closes cleanly.
    Truncated(Vec<u8>),
    /// Promises the full length, sends half, then resets the connection.
    Reset(Vec<u8>),
    /// Sends headers and the first bytes, then stalls this long.
    Stall(Vec<u8>, Duration),
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, Vec<Reply>>,
    hits: HashMap<String, usize>,
}

pub struct Server {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &st);
                });
            }
        });
        Server { base, state }
    }

    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .insert(path.to_string(), replies);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn hits(&self, path: &str) -> usize {
        *self.state.lock().unwrap().hits.get(path).unwrap_or(&0)
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let mut if_none_match = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(v.trim().to_string());
            }
        }
    }
    let reply = {
        let mut s = state.lock().unwrap();
        let n = {
            let h = s.hits.entry(path.clone()).or_insert(0);
            *h += 1;
            *h
        };
        let script = s.scripts.get(&path).cloned().unwrap_or_default();
        script.get(n - 1).or(script.last()).cloned()
    };
    let head = |status: &str, ctype: &str, len: usize, extra: &str| {
        format!("HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\nConnection: close\r\n{extra}\r\n")
    };
    match reply {
        None => stream
            .write_all(head("404 Not Found", "text/plain", 9, "").as_bytes())
            .and_then(|_| stream.write_all(b"not found")),
        Some(Reply::Ok { body, etag }) => {
            if if_none_match.as_deref() == Some(etag) {
                stream.write_all(
                    format!(
                        "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
                    )
                    .as_bytes(),
                )
            } else {
                stream.write_all(
                    head(
                        "200 OK",
                        "text/csv",
                        body.len(),
                        &format!(
                            "ETag: {etag}\r\nLast-Modified: Thu, 30 Oct 2025 09:30:00 GMT\r\n"
                        ),
                    )
                    .as_bytes(),
                )?;
                stream.write_all(&body)
            }
        }
        Some(Reply::Status(code)) => {
            let body = format!("status {code}");
            stream.write_all(
                head(&format!("{code} Scripted"), "text/plain", body.len(), "").as_bytes(),
            )?;
            stream.write_all(body.as_bytes())
        }
        Some(Reply::Html { as_csv }) => {
            let body = "<!DOCTYPE html>\n<html><head><title>Service unavailable</title></head><body>Try later</body></html>";
            let ctype = if as_csv {
                "text/csv"
            } else {
                "text/html; charset=utf-8"
            };
            stream.write_all(head("200 OK", ctype, body.len(), "").as_bytes())?;
            stream.write_all(body.as_bytes())
        }
        Some(Reply::Truncated(body)) => {
            stream.write_all(head("200 OK", "text/csv", body.len(), "").as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            stream.shutdown(std::net::Shutdown::Both)
        }
        Some(Reply::Reset(body)) => {
            stream.write_all(head("200 OK", "text/csv", body.len(), "").as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            std::thread::sleep(Duration::from_millis(50));
            socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
            drop(stream);
            Ok(())
        }
        Some(Reply::Stall(body, d)) => {
            stream.write_all(head("200 OK", "text/csv", body.len(), "").as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            std::thread::sleep(d);
            Ok(())
        }
    }
}
