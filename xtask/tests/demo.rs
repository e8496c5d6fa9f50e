//! `cargo xtask demo` as a user runs it: it prints the URL, the dashboard answers, and Ctrl-C
//! (SIGINT to the terminal's whole process group) leaves no process behind.
//!
//! These tests use the server that `cargo xtask test` (or `cargo xtask build`) built.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[allow(unsafe_code)]
fn signal_group(pgid: u32, signal: i32) -> bool {
    // SAFETY: signalling a process group we created; `0` only checks for existence.
    unsafe { libc::kill(-(pgid as libc::pid_t), signal) == 0 }
}

#[allow(unsafe_code)]
fn process_exists(pid: u32) -> bool {
    // SAFETY: signal 0 checks for existence and delivers nothing.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[test]
fn ctrl_c_stops_the_server_and_azurite() {
    let addr = free_addr();
    let data = tempfile::tempdir().unwrap();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["demo", "--no-build", "--azurite-port-base", "0"])
        .env("SCALEBOARD_ADDR", addr.to_string())
        .env("SCALEBOARD_DATA_DIR", data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own process group, like a job started from a terminal.
        .process_group(0)
        .spawn()
        .unwrap();
    let group = demo.id();

    // Read the demo's output on a thread so a hung demo fails the test instead of hanging it.
    let (lines_tx, lines_rx) = mpsc::channel();
    let stdout = demo.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut azurite_pids = Vec::new();
    let url_line = loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the demo prints its URL");
        if let Some(rest) = line.split("(pids ").nth(1) {
            azurite_pids = rest
                .split(')')
                .next()
                .unwrap_or_default()
                .split(", ")
                .filter_map(|p| p.parse::<u32>().ok())
                .collect();
        }
        if line.contains("Scaleboard is running at") {
            break line;
        }
    };
    assert!(url_line.contains(&format!("http://{addr}")), "{url_line}");
    assert_eq!(
        azurite_pids.len(),
        2,
        "the demo prints the pids of Azurite's blob and queue services"
    );
    assert!(azurite_pids.iter().all(|&pid| process_exists(pid)));

    let page = http_get(addr, "/");
    assert!(
        page.starts_with("HTTP/1.1 200"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains("data-testid=\"queue-length\""));
    let ready = http_get(addr, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    // Ctrl-C in a terminal: SIGINT to every process of the foreground group.
    assert!(signal_group(group, libc::SIGINT));
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(demo.wait());
    });
    let status = done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the demo exits within 30 s of Ctrl-C")
        .unwrap();
    assert!(status.success(), "{status}");
    for pid in azurite_pids {
        assert!(
            !process_exists(pid),
            "Azurite (pid {pid}) outlived the demo"
        );
    }
    assert!(
        !signal_group(group, 0),
        "a process of the demo is still running"
    );
    assert!(
        TcpListener::bind(addr).is_ok(),
        "the dashboard's port is still taken"
    );
}

#[test]
fn a_taken_port_is_a_clear_error_not_a_panic() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["demo", "--no-build", "--azurite-port-base", "0"])
        .env("SCALEBOARD_ADDR", addr.to_string())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("address {addr} is already in use")),
        "{stderr}"
    );
    assert!(stderr.contains("SCALEBOARD_ADDR"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
