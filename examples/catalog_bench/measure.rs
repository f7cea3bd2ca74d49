//! Timing whole processes (tenantctl and psql) with their peak memory, the console in a
//! pseudo-terminal, and keystroke-to-frame times in process.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tenantctl::catalog::TenantRow;
use tenantctl::cluster::Cluster;
use tenantctl::names::NamingPolicy;
use tenantctl::tui::app::{Action, App, Load};
use tenantctl::tui::theme::Theme;
use tenantctl::tui::view;

/// One run of a process: wall time (monotonic) and peak resident memory in kB.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub time: Duration,
    pub peak_kb: i64,
}

/// Medians of several runs.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub time: Duration,
    pub peak_kb: i64,
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median time and median peak RSS of `runs` runs.
pub fn sample(runs: usize, mut one: impl FnMut() -> Run) -> Sample {
    let all: Vec<Run> = (0..runs).map(|_| one()).collect();
    let mut kb: Vec<i64> = all.iter().map(|r| r.peak_kb).collect();
    kb.sort();
    Sample {
        time: median(all.iter().map(|r| r.time).collect()),
        peak_kb: kb[kb.len() / 2],
    }
}

/// Runs `cmd` to its end, output discarded, and reads its peak RSS from `wait4` (which
/// reaps the child, so std's `wait` is not used).
#[allow(clippy::zombie_processes)]
pub fn run(cmd: &mut Command) -> Run {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let t = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, and `pid` is our child, not yet reaped.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let time = t.elapsed();
    assert_eq!(r, pid, "wait4");
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        panic!("{cmd:?} failed: {err}");
    }
    Run {
        time,
        peak_kb: usage.ru_maxrss,
    }
}

/// Environment that points tenantctl and psql at the bench database as the superuser.
pub fn pg_env(cluster: &Cluster) -> Vec<(&'static str, String)> {
    let spec = cluster.superuser_spec("bench");
    vec![
        ("PGHOST", "127.0.0.1".into()),
        ("PGPORT", cluster.port().to_string()),
        ("PGUSER", "postgres".into()),
        ("PGDATABASE", "bench".into()),
        ("PGSSLMODE", "disable".into()),
        ("PGPASSWORD", spec.password.unwrap().expose().to_string()),
        ("TENANTCTL_CONFIG", "/dev/null".into()),
    ]
}

/// psql running `sql`, as an operator would: process, connection, query, output.
pub fn psql(cluster: &Cluster, sql: &str) -> Command {
    let beside = cluster.bindir().join("psql");
    let mut cmd = Command::new(if beside.is_file() {
        beside
    } else {
        "psql".into()
    });
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]);
    cmd.envs(pg_env(cluster));
    // The server settings tenantctl's own sessions run with (JIT off), so that both sides
    // do the same work: at 10,000 tenants the bare queries cross jit_above_cost too, and
    // compiling them would make the bare side slower than the query it stands for.
    cmd.env("PGOPTIONS", "-c jit=off");
    cmd
}

/// The tenantctl binary beside this example (`cargo build --release` first).
pub fn tenantctl_bin() -> std::path::PathBuf {
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("tenantctl")))
        .filter(|p| p.is_file());
    bin.expect("build the binary first: cargo build --release")
}

pub fn tenantctl(cluster: &Cluster, args: &[&str]) -> Command {
    let mut cmd = Command::new(tenantctl_bin());
    cmd.args(args).envs(pg_env(cluster));
    cmd
}

/// What the console did: first full frame, exact sizes done, peak memory.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleRun {
    /// The console is up and connected: "loading the registry" shows.
    pub connected: Duration,
    pub first_frame: Duration,
    pub sizes_done: Duration,
    pub peak_kb: i64,
}

/// Opens the console in a 120x36 pseudo-terminal and watches the screen (every 5 ms) for
/// the full tenant list, then for every size measured; reads VmHWM before quitting.
pub fn console(cluster: &Cluster, tenants: usize) -> ConsoleRun {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let mut cmd = CommandBuilder::new(tenantctl_bin());
    for (k, v) in pg_env(cluster) {
        cmd.env(k, v);
    }
    cmd.env("TERM", "xterm-256color");
    let size = PtySize {
        rows: 36,
        cols: 120,
        pixel_width: 0,
        pixel_height: 0,
    };
    let pair = native_pty_system().openpty(size).unwrap();
    let t = Instant::now();
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let pid = child.process_id().unwrap();
    let parser = Arc::new(Mutex::new(vt100::Parser::new(36, 120, 0)));
    let mut reader = pair.master.try_clone_reader().unwrap();
    let sink = parser.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().process(&buf[..n]);
        }
    });
    let mut writer = pair.master.take_writer().unwrap();
    let title = format!("Tenants {tenants}/{tenants}");
    let deadline = Duration::from_secs(120);
    let mut connected = None;
    let mut first_frame = None;
    let sizes_done;
    loop {
        let screen = parser.lock().unwrap().screen().contents();
        let now = t.elapsed();
        if connected.is_none() && screen.contains("loading the registry") {
            connected = Some(now);
        }
        if first_frame.is_none() && screen.contains(&title) {
            first_frame = Some(now);
        }
        // Measured sizes replace the `~` estimates and the `pending` cells (the first load
        // reads the registry without sizes); the footer shows the job meanwhile. `~` then a
        // digit in the list pane (the left 66 columns) marks an estimate.
        let estimate_shown = screen.lines().any(|l| {
            let pane: Vec<char> = l.chars().take(66).collect();
            pane.windows(2)
                .any(|w| w[0] == '~' && w[1].is_ascii_digit())
                || pane.iter().collect::<String>().contains("pending")
        });
        // The header's total reads "≥" while any size is pending, visible or not.
        let estimate_shown = estimate_shown || screen.contains('≥');
        if first_frame.is_some() && !screen.contains("measuring") && !estimate_shown {
            sizes_done = now;
            break;
        }
        assert!(now < deadline, "the console did not finish:\n{screen}");
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1);
    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    let _ = child.wait();
    ConsoleRun {
        // Polled every 5 ms: a fast load may skip the loading frame.
        connected: connected.or(first_frame).unwrap(),
        first_frame: first_frame.unwrap(),
        sizes_done,
        peak_kb,
    }
}

/// p99 and mean of keystroke + full draw: wall time (monotonic), and the thread's CPU time
/// (the work itself; on a loaded machine the wall p99 is mostly time spent preempted).
#[derive(Debug, Clone, Copy)]
pub struct Frames {
    pub mean: Duration,
    pub p99: Duration,
    pub cpu_mean: Duration,
    pub cpu_p99: Duration,
}

fn frames(v: Vec<(Duration, Duration)>) -> Frames {
    let stats = |mut v: Vec<Duration>| {
        v.sort();
        (
            v.iter().sum::<Duration>() / v.len() as u32,
            v[(v.len() * 99 / 100).min(v.len() - 1)],
        )
    };
    let (mean, p99) = stats(v.iter().map(|p| p.0).collect());
    let (cpu_mean, cpu_p99) = stats(v.iter().map(|p| p.1).collect());
    Frames {
        mean,
        p99,
        cpu_mean,
        cpu_p99,
    }
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`, monotonic per thread).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn key(c: KeyCode) -> Action {
    Action::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// Keystroke-to-frame times over the fixture's real rows at 120x36: scrolling, filtering,
/// sorting (cycling the sort key), and the first sort after a reload replaced the rows.
pub fn keystrokes(rows: &[TenantRow], iterations: usize) -> Vec<(&'static str, Frames)> {
    let mut app = App::new(
        "bench".into(),
        "postgres@127.0.0.1/bench".into(),
        false,
        NamingPolicy::default(),
        Theme::from_env(),
    );
    app.tenants = Load::Ready(());
    app.set_rows(rows.to_vec());
    let mut term = Terminal::new(TestBackend::new(120, 36)).unwrap();
    term.draw(|f| view::render(f, &app)).unwrap();
    let mut time = |app: &mut App, k: KeyCode| {
        let (t, c) = (Instant::now(), thread_cpu());
        app.update(key(k));
        term.draw(|f| view::render(f, app)).unwrap();
        (t.elapsed(), thread_cpu().saturating_sub(c))
    };
    let scroll = (0..iterations)
        .map(|i| {
            let k = match (i / 200) % 2 {
                0 => KeyCode::Down,
                _ => KeyCode::Up,
            };
            time(&mut app, k)
        })
        .collect();
    app.update(key(KeyCode::Char('/')));
    let filter = (0..iterations)
        .map(|i| {
            let k = if i % 2 == 0 {
                KeyCode::Char('9')
            } else {
                KeyCode::Backspace
            };
            time(&mut app, k)
        })
        .collect();
    app.update(key(KeyCode::Esc));
    let sort = (0..iterations / 4)
        .map(|_| time(&mut app, KeyCode::Char('s')))
        .collect();
    let reload = (0..iterations / 10)
        .map(|_| {
            // A reload (R, or the periodic refresh) hands over fresh rows.
            app.set_rows(rows.to_vec());
            time(&mut app, KeyCode::Char('s'))
        })
        .collect();
    vec![
        ("scroll ↓/↑", frames(scroll)),
        ("filter keystroke", frames(filter)),
        ("sort key", frames(sort)),
        ("first sort after a reload", frames(reload)),
    ]
}
