//! `demo` comes up with its sample tenants and removes everything on exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn demo_comes_up_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .args(["demo", "--tenants", "3"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut ready = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("demo ready") {
            ready = true;
            break;
        }
        assert!(!line.starts_with("error"), "{line}");
    }
    assert!(ready, "demo never said it was ready");
    assert!(started.elapsed() < Duration::from_secs(60));
    // Without a terminal the demo prints the registry and waits for a signal.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut registry = String::new();
    while !registry.contains("press Ctrl-C") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        registry.push_str(&line);
    }
    for id in ["acme", "globex", "initech"] {
        assert!(registry.contains(id), "{registry}");
    }
    let clusters = || {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("tenantctl-cluster-")
            })
            .count()
    };
    assert_eq!(
        clusters(),
        1,
        "the cluster lives under TMPDIR while the demo runs"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(clusters(), 0, "the demo removed its cluster");
}
