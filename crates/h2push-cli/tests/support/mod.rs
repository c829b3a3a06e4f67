//! Starting the `h2push` binary for a test: a serving subcommand on free ports, its stdout
//! read up to the SPKI pin line (the last line of its announcement), killed by PID on drop.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_h2push");

/// A running `h2push` server, killed (by PID) when dropped.
pub struct Running {
    pub child: Child,
    /// Its first HTTPS address.
    pub tls: SocketAddr,
    /// Its first plaintext address, if any.
    pub h2c: Option<SocketAddr>,
    /// What it printed, up to and including the pin line.
    pub stdout: Vec<String>,
    /// The certificate's SPKI pin, as printed.
    pub pin: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `h2push ARGS…` and waits (at most 20 s) until it has announced its addresses.
pub fn spawn<I, S>(args: I) -> Running
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    spawn_with_env(args, &[])
}

/// As [`spawn`], with `env` added to the child's environment.
pub fn spawn_with_env<I, S>(args: I, env: &[(&str, &str)]) -> Running
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start h2push");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads stdout to its end, long after the announcement has been taken: a pipe closed
    // early would make the server's next println! fail (EPIPE) and panic it.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    let (mut tls, mut h2c, mut pin) = (None, None, None);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("h2push exited early: {status}; said {lines:?}");
            }
            continue;
        };
        let addr = |prefix: &str| -> Option<SocketAddr> {
            line.trim()
                .strip_prefix(prefix)?
                .split('/')
                .next()?
                .parse()
                .ok()
        };
        tls = tls.or_else(|| addr("https://"));
        h2c = h2c.or_else(|| addr("http://"));
        if let Some(p) = line.trim().strip_prefix("SPKI pin: ") {
            pin = Some(p.to_owned());
        }
        lines.push(line);
        if pin.is_some() {
            break;
        }
    }
    Running {
        child,
        tls: tls.unwrap_or_else(|| panic!("no https URL printed: {lines:?}")),
        h2c,
        pin: pin.unwrap_or_else(|| panic!("no SPKI pin printed: {lines:?}")),
        stdout: lines,
    }
}
