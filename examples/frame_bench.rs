//! Frame time at 10,000 tenants: one keystroke's `update` plus a full `draw`, many times.
//!
//! Run: `cargo run --example frame_bench [-- TENANTS ITERATIONS]`
//! (add `--release` for optimised numbers; the default dev profile is the pessimistic case).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};
use tenantctl::catalog::{Drift, TenantRow, TenantStatus};
use tenantctl::names::NamingPolicy;
use tenantctl::tui::app::{Action, App, Load};
use tenantctl::tui::theme::Theme;
use tenantctl::tui::view;

fn rows(n: usize) -> Vec<TenantRow> {
    (0..n)
        .map(|i| TenantRow {
            id: format!("tenant{i:05}"),
            name: format!("Sample tenant number {i}"),
            schema: format!("tenant_tenant{i:05}"),
            status: if i % 17 == 0 {
                TenantStatus::Suspended
            } else {
                TenantStatus::Active
            },
            config: serde_json::json!({"plan": "team"}),
            template_version: 2,
            pinned_version: None,
            created_at: None,
            updated_at: None,
            size_bytes: Some(((i * 7919) % 100_000) as i64 * 1024),
            size_exact: i % 2 == 0,
            tables: 4,
            node: None,
            drift: if i % 1000 == 0 {
                Drift::MissingSchema
            } else {
                Drift::None
            },
        })
        .collect()
}

fn key(c: KeyCode) -> Action {
    Action::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    let max = samples[samples.len() - 1];
    println!(
        "{label:<34} mean {:>8.3} ms   p99 {:>8.3} ms   max {:>8.3} ms   (n={})",
        mean.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        samples.len()
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let tenants: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let iterations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let mut app = App::new(
        "bench".into(),
        "marvin@localhost:5432/bench".into(),
        false,
        NamingPolicy::default(),
        Theme::from_env(),
    );
    app.tenants = Load::Ready(());
    app.set_rows(rows(tenants));
    println!("{tenants} tenants, {iterations} iterations per case, 120x36");
    for (w, h) in [(120u16, 36u16), (80, 24)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| view::render(f, &app)).unwrap();

        // Moving the selection: the commonest keystroke.
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..iterations {
            let k = if (i / 200) % 2 == 0 {
                KeyCode::Down
            } else {
                KeyCode::Up
            };
            let t = Instant::now();
            app.update(key(k));
            terminal.draw(|f| view::render(f, &app)).unwrap();
            samples.push(t.elapsed());
        }
        report(&format!("{w}x{h} ↓/↑ + draw"), samples);

        // Paging to the far end and back.
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..iterations {
            let k = if i % 2 == 0 {
                KeyCode::Char('G')
            } else {
                KeyCode::Char('g')
            };
            let t = Instant::now();
            app.update(key(k));
            terminal.draw(|f| view::render(f, &app)).unwrap();
            samples.push(t.elapsed());
        }
        report(&format!("{w}x{h} G/g + draw"), samples);

        // A filter keystroke refilters and re-sorts all rows.
        app.update(key(KeyCode::Char('/')));
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..iterations {
            let k = if i % 2 == 0 {
                KeyCode::Char('9')
            } else {
                KeyCode::Backspace
            };
            let t = Instant::now();
            app.update(key(k));
            terminal.draw(|f| view::render(f, &app)).unwrap();
            samples.push(t.elapsed());
        }
        app.update(key(KeyCode::Esc));
        report(&format!("{w}x{h} filter key + draw"), samples);

        // Cycling the sort re-sorts all rows.
        let mut samples = Vec::with_capacity(iterations / 4);
        for _ in 0..iterations / 4 {
            let t = Instant::now();
            app.update(key(KeyCode::Char('s')));
            terminal.draw(|f| view::render(f, &app)).unwrap();
            samples.push(t.elapsed());
        }
        report(&format!("{w}x{h} sort key + draw"), samples);
    }
}
