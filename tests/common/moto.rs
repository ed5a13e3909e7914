//! moto's S3 server (`pip install 'moto[server]'`) as a real S3-compatible endpoint for
//! the object-store archive tests (`sql/tests/archive_s3.rs`, `tests/archive_object_store.rs`).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bucket `start_moto` creates.
pub const BUCKET: &str = "hub-archive";

/// moto's S3 server on a free port, stopped (killed by its pid) on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn moto_installed() -> bool {
    Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One unsigned HTTP request to the server (moto does not check signatures); the whole
/// answer, or `None` if the server is not answering.
fn http(port: u16, request_line: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{request_line} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .ok()?;
    s.write_all(body).ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    Some(answer)
}

fn status(answer: &[u8]) -> String {
    String::from_utf8_lossy(answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Starts moto and creates the bucket, polling until the server answers (30 s at most).
pub fn start_moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // S3 CreateBucket (moto does not check signatures).
        match http(port, &format!("PUT /{BUCKET}"), b"").map(|a| status(&a)) {
            Some(status) if status.contains(" 200") => return moto,
            Some(status) => panic!("moto refused to create the bucket: {status}"),
            None if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            None => panic!("moto_server did not answer on port {port} within 30 s"),
        }
    }
}

/// Whether the test can run: `false` (with a loud notice) when moto is missing outside
/// CI; a failure when it is missing in CI.
pub fn moto_or_skip(test: &str) -> bool {
    if moto_installed() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "moto_server is not installed (pip install 'moto[server]'): {test} cannot run"
    );
    eprintln!(
        "\n\n*** SKIPPED {test}: moto_server is not installed; run \
         `python3 -m pip install 'moto[server]'` to test the object-store archive ***\n\n"
    );
    false
}

/// Every S3 object under `prefix` in the bucket (moto's ListObjectsV2, unsigned): keys.
pub fn list_keys(port: u16, prefix: &str) -> Vec<String> {
    let answer = http(
        port,
        &format!("GET /{BUCKET}?list-type=2&prefix={prefix}"),
        b"",
    )
    .expect("moto answers");
    let text = String::from_utf8_lossy(&answer);
    text.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_string()))
        .collect()
}
