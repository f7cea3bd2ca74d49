//! Snapshots of every pane and dialog at 120×36 and 80×24, from state built in memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tui_fixture;

use crossterm::event::KeyCode;
use std::time::Duration;
use tenantctl::tui::app::{Action, Conn, JobKind, Landed, Load, Pane, Screen};
use tui_fixture::*;

const SIZES: [(u16, u16); 2] = [(120, 36), (80, 24)];

fn snap(name: &str, app: &tenantctl::tui::app::App) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), draw(app, w, h));
    }
}

#[test]
fn tenants_schema_and_grants_panes() {
    snap("main", &app());
}

#[test]
fn grants_pane_when_focused_on_a_narrow_terminal() {
    let mut app = app();
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Grants);
    snap("grants_focused", &app);
}

#[test]
fn tenant_detail_screen() {
    let mut app = app();
    app.update(key(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Detail);
    snap("detail", &app);
}

#[test]
fn filter_while_typing() {
    let mut app = app();
    app.update(ch('/'));
    typed(&mut app, "co");
    snap("filter", &app);
}

#[test]
fn sorted_by_size() {
    let mut app = app();
    app.update(ch('s'));
    app.update(ch('s'));
    snap("sort_size", &app);
}

#[test]
fn activity_view() {
    let mut app = app();
    app.screen = Screen::Activity;
    app.activity.entries = Load::Ready(vec![
        log_entry(3, "create", "hooli", "ok"),
        log_entry(2, "suspend", "initech", "ok"),
        log_entry(
            1,
            "create",
            "acme",
            "failed: tenant \"acme\" already exists",
        ),
    ]);
    snap("activity", &app);
}

#[test]
fn help_overlay() {
    let mut app = app();
    app.update(ch('?'));
    snap("help", &app);
}

/// At 80×24 the overlay holds more than fits: its columns stay wide enough to read and the
/// move keys scroll it to the end (the last section is the help's own).
#[test]
fn help_overlay_scrolls_at_80x24_instead_of_cutting_every_line() {
    let mut app = app();
    app.update(ch('?'));
    let top = draw(&app, 80, 24);
    assert!(top.contains("↓ more"), "{top}");
    assert!(top.contains("this help"), "{top}");
    app.update(key(KeyCode::End));
    let bottom = draw(&app, 80, 24);
    assert!(
        bottom.contains("↑ more") && !bottom.contains("↓ more"),
        "{bottom}"
    );
    assert!(bottom.contains("Help"), "{bottom}");
    insta::assert_snapshot!("help_scrolled_80x24", bottom);
    // Back to the top with the same keys.
    app.update(key(KeyCode::Home));
    assert_eq!(draw(&app, 80, 24), top);
}

#[test]
fn help_overlay_read_only_hides_write_keys() {
    let mut app = app_with(rows(), true);
    app.update(ch('?'));
    snap("help_read_only", &app);
}

#[test]
fn command_palette_with_completion() {
    let mut app = app();
    app.update(ch(':'));
    typed(&mut app, "so");
    snap("palette", &app);
}

#[test]
fn new_tenant_dialog_with_a_bad_id() {
    let mut app = app();
    app.update(ch('n'));
    typed(&mut app, "9lives");
    snap("provision_bad_id", &app);
}

#[test]
fn new_tenant_dialog_with_a_good_id_and_a_core_error() {
    let mut app = app();
    app.update(ch('n'));
    typed(&mut app, "newco");
    app.update(key(KeyCode::Tab));
    typed(&mut app, "New Co");
    app.update(key(KeyCode::Tab));
    typed(&mut app, "plan=team");
    app.update(key(KeyCode::Enter));
    app.update(Action::Saved {
        command: tenantctl::tui::keymap::CommandId::New,
        result: Err(tenantctl::tui::app::ErrorText {
            message: "create newco: tenant \"newco\" already exists".into(),
            hint: None,
            connection: false,
        }),
    });
    snap("provision_core_error", &app);
}

#[test]
fn edit_dialog() {
    let mut app = app();
    app.update(ch('e'));
    snap("edit", &app);
}

#[test]
fn pin_dialog() {
    let mut app = app();
    app.update(ch('p'));
    snap("pin", &app);
}

#[test]
fn adopt_dialog_and_its_dry_run_in_the_confirmation() {
    let mut app = app();
    app.update(ch('/'));
    typed(&mut app, "soylent");
    app.update(key(KeyCode::Enter));
    app.update(ch('a'));
    snap("adopt", &app);
    app.update(key(KeyCode::Enter));
    let plan = tenantctl::tenant::AdoptPlan {
        tenant: "soylent".into(),
        schema: "tenant_soylent".into(),
        at_version: None,
        readonly_role: "tenant_soylent_ro".into(),
        owner_changes: [
            "SCHEMA tenant_soylent",
            "TABLE tenant_soylent.green",
            "SEQUENCE tenant_soylent.batch_no",
            "VIEW tenant_soylent.menu",
            "FUNCTION tenant_soylent.ration(integer)",
        ]
        .iter()
        .map(|o| {
            let (kind, object) = o.split_once(' ').unwrap();
            tenantctl::tenant::OwnerChange {
                kind: kind.into(),
                object: object.into(),
                owner: "legacy_app".into(),
            }
        })
        .collect(),
        tables: vec!["green".into()],
    };
    app.update(Action::AdoptPlan {
        adoption: tenantctl::tenant::Adoption {
            schema: "tenant_soylent".into(),
            id: Some("soylent".into()),
            at_version: None,
        },
        result: Ok(plan),
    });
    snap("adopt_confirm", &app);
}

#[test]
fn confirm_dialog() {
    let mut app = app();
    app.update(ch('S'));
    snap("confirm_suspend", &app);
}

#[test]
fn read_only_console() {
    let mut app = app_with(rows(), true);
    app.update(ch('n'));
    snap("read_only_refusal", &app);
}

#[test]
fn header_gives_way_by_priority_on_a_narrow_terminal() {
    // The profile goes first, then "PostgreSQL" shortens to "PG"; the read-only badge,
    // the target and the server version stay whole at 80 columns.
    let mut app = app_with(rows(), true);
    app.profile = "production-eu-west".into();
    if let Load::Ready(s) = &mut app.server {
        s.server_version = "15.18 (Ubuntu 15.18-1.pgdg22.04+1)".into();
        s.in_recovery = true;
    }
    snap("header_priority", &app);
}

#[test]
fn connection_lost_header() {
    let mut app = app();
    app.conn = Conn::Down {
        error: "reading the registry: connection lost (broken pipe)".into(),
        attempt: 3,
        retry_at: app.now + Duration::from_secs(8),
    };
    snap("connection_lost", &app);
}

#[test]
fn progress_of_size_measurement() {
    let mut app = app();
    let id = app.jobs.add(JobKind::Sizes, 1200);
    app.update(Action::JobProgress {
        id,
        done: 500,
        total: 1200,
        current: "tenant_x".into(),
        failed: 0,
        landed: Landed::Sizes(Vec::new()),
    });
    snap("sizes_progress", &app);
}

#[test]
fn sizes_pending_until_measured() {
    // The registry read without sizes, the measurement running, acme measured so far.
    let mut app = app_with(Vec::new(), false);
    app.update(Action::Unsized(Ok(unsized_rows())));
    let id = app.jobs.of_kind(JobKind::Sizes).unwrap().id;
    app.update(Action::JobProgress {
        id,
        done: 1,
        total: 11,
        current: "tenant_acme".into(),
        failed: 0,
        landed: Landed::Sizes(vec![tenantctl::catalog::Measured {
            schema: "tenant_acme".into(),
            bytes: 48 << 20,
            tables: 4,
        }]),
    });
    snap("sizes_pending", &app);
}

#[test]
fn loading_registry() {
    let mut app = app_with(Vec::new(), false);
    app.tenants = Load::Loading;
    app.detail = None;
    snap("loading", &app);
}

#[test]
fn too_small_terminal() {
    let app = app();
    insta::assert_snapshot!("too_small_20x5", draw(&app, 20, 5));
    insta::assert_snapshot!("too_small_59x24", draw(&app, 59, 24));
}

#[test]
fn no_size_panics() {
    let mut app = app();
    for (w, h) in [(0, 0), (1, 1), (20, 5), (60, 16), (61, 17), (300, 100)] {
        draw_only(&app, w, h);
    }
    for _ in 0..3 {
        app.update(key(KeyCode::Tab));
        for (w, h) in [(60, 16), (80, 24), (200, 10)] {
            draw_only(&app, w, h);
        }
    }
    app.update(ch('n'));
    for (w, h) in [(60, 16), (10, 3), (0, 0)] {
        draw_only(&app, w, h);
    }
}

#[test]
fn monochrome_theme_uses_no_colours() {
    use tenantctl::tui::theme::Theme;
    let t = Theme::mono();
    for style in [
        t.bad(),
        t.warn(),
        t.good(),
        t.key(),
        t.title(),
        t.bar(),
        t.badge(),
        t.dim(),
    ] {
        assert!(style.fg.is_none() && style.bg.is_none(), "{style:?}");
    }
    // Meaning survives without colour: findings and drift carry a `!` marker.
    let screen = draw(&app(), 120, 36);
    assert!(screen.contains("! PUBLIC"));
    assert!(screen.contains("! no schema"));
    assert!(screen.contains("! unregistered"));
}

#[test]
fn progress_of_a_dump() {
    let mut app = app();
    let id = app.jobs.add(JobKind::Dump, 1);
    app.update(Action::JobProgress {
        id,
        done: 2,
        total: 4,
        current: "acme: dumping orders".into(),
        failed: 0,
        landed: Landed::Dump(Vec::new()),
    });
    snap("dump_progress", &app);
}

/// The console after `A` with the fixture's audit report landed.
fn audited(read_only: bool) -> tenantctl::tui::app::App {
    let mut app = app_with(rows(), read_only);
    app.update(ch('A'));
    let id = app.jobs.running[0].id;
    app.update(Action::JobProgress {
        id,
        done: 2,
        total: 2,
        current: "judged".into(),
        failed: 0,
        landed: Landed::Audit(vec![audit_report()]),
    });
    app.update(Action::JobDone {
        id,
        result: Ok(tenantctl::tui::app::JobEnd {
            summary: "1 critical, 1 high, 2 medium".into(),
            shortfall: None,
        }),
    });
    app
}

#[test]
fn audit_view_groups_findings_and_shows_the_selected_one() {
    snap("audit", &audited(false));
}

#[test]
fn audit_view_in_a_read_only_console_shows_fixes_it_will_not_apply() {
    let app = audited(true);
    let screen = draw(&app, 80, 24);
    assert!(
        screen.contains("read-only console: shown, never applied"),
        "{screen}"
    );
    insta::assert_snapshot!("audit_read_only_80x24", screen);
}

#[test]
fn audit_fix_confirmation_shows_the_sql() {
    let mut app = audited(false);
    app.update(ch('f'));
    snap("audit_fix_confirm", &app);
}

#[test]
fn grants_pane_marks_the_tenants_audit_findings() {
    let mut app = audited(false);
    app.update(key(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Tenants);
    let screen = draw(&app, 120, 36);
    assert!(
        screen.contains("audit: 1 critical, 1 high, 2 medium"),
        "{screen}"
    );
    snap("grants_with_audit", &app);
}

#[test]
fn grants_pane_shows_a_finding_in_both_audits_once() {
    let mut app = audited(false);
    app.update(key(KeyCode::Esc));
    let screen = draw(&app, 240, 100);
    let line = "user_tenant_owner has TRUNCATE on table";
    assert_eq!(screen.matches(line).count(), 1, "{screen}");
    // Acme's own findings and the full audit's (the membership reaching acme's role is
    // globex's, so only the view's finding is added): PUBLIC, the read-only role, the
    // service role's TRUNCATE, the view.
    assert!(screen.contains("Grants · ! 4 findings"), "{screen}");
}

#[test]
fn backups_view_of_one_tenant_and_of_every_tenant() {
    let mut app = app_on_backups(false);
    snap("backups_view_acme", &app);
    app.update(ch('B'));
    app.update(Action::Backups(Ok(backups_data())));
    snap("backups_view_all", &app);
}

#[test]
fn restore_dialog_beside_and_in_place() {
    let mut app = app_on_backups(false);
    app.update(ch('r'));
    typed(&mut app, "acme_copy");
    snap("restore_dialog_beside", &app);
    app.update(key(KeyCode::Tab));
    typed(&mut app, "acm");
    app.update(key(KeyCode::Enter));
    snap("restore_dialog_in_place_mistyped", &app);
}

#[test]
fn drop_and_release_dialogs() {
    let mut app = app();
    app.update(ch('X'));
    snap("drop_dialog", &app);
    let mut app = app_on_backups(false);
    app.update(ch('G'));
    app.update(ch('D'));
    snap("release_dialog", &app);
}

#[test]
fn backups_view_and_dialogs_at_tiny_sizes_do_not_panic() {
    let mut app = app_on_backups(false);
    for (w, h) in [(20, 5), (0, 0), (1, 1), (60, 16)] {
        draw_only(&app, w, h);
    }
    insta::assert_snapshot!("backups_view_20x5", draw(&app, 20, 5));
    app.update(ch('r'));
    for (w, h) in [(20, 5), (0, 0), (10, 3)] {
        draw_only(&app, w, h);
    }
}

/// A console on a Citus coordinator whose tenants live where `node_map()` says.
fn app_on_citus() -> tenantctl::tui::app::App {
    let map = node_map();
    let mut rows = rows();
    for r in &mut rows {
        r.node = map
            .placements
            .iter()
            .find(|p| p.tenant == r.id && p.distributed)
            .and_then(|p| p.group_id)
            .and_then(|g| map.node_of_group(g))
            .map(|n| n.addr.to_string());
    }
    let mut app = app_with(rows, false);
    if let Load::Ready(s) = &mut app.server {
        s.citus = Some(tenantctl::citus::CitusInfo {
            version: map.citus_version.clone(),
            nodes: map.nodes.clone(),
        });
    }
    app
}

#[test]
fn tenants_list_shows_each_tenants_node_on_citus_where_there_is_room() {
    let app = app_on_citus();
    // 80 columns: the list spans the screen; the node before the version.
    let list = draw(&app, 80, 24);
    let lines: Vec<&str> = list.lines().take(12).collect();
    assert!(lines.iter().any(|l| l.contains("tables node")), "{list}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("hooli") && l.contains("10.0.0.1:5434")),
        "{list}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("aperture") && l.contains("local")),
        "{list}"
    );
    // 120 columns: the list shares the screen and the column gives way to the names;
    // the schema pane names the selected tenant's node.
    let beside = draw(&app, 120, 36);
    assert!(!beside.contains("10.0.0.1:5434"), "{beside}");
    assert!(beside.contains("node 10.0.0.1:5433"), "{beside}");
    // Wide: both columns.
    let wide = draw(&app, 180, 36);
    assert!(wide.contains("ver   node"), "{wide}");
    // Without Citus there is no node column.
    let plain = draw(&app_with(rows(), false), 80, 24);
    assert!(!plain.contains(" node"), "{plain}");
    snap("tenants_citus", &app);
}

#[test]
fn nodes_view_shows_nodes_balance_and_the_selected_nodes_tenants() {
    let mut app = app_on_nodes(false);
    assert_eq!(app.screen, Screen::Nodes);
    // The first worker (the heaviest) and its tenants, the cursor in them.
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Tab));
    let screen = draw(&app, 120, 36);
    assert!(screen.contains("Tenants on 10.0.0.1:5433 · 3"), "{screen}");
    assert!(screen.contains("tenant counts differ by 2"), "{screen}");
    snap("nodes", &app);
    insta::assert_snapshot!("nodes_20x5", draw(&app, 20, 5));
}

#[test]
fn nodes_move_dialog_lists_the_target_nodes_and_moves_to_the_one_picked() {
    let mut app = app_on_nodes(false);
    // A third worker, empty: the one chosen first.
    if let Load::Ready(m) = &mut app.nodes.map {
        let mut third = m.nodes[2].clone();
        third.node_id = 4;
        third.group_id = 3;
        third.addr.port = 5435;
        third.tenants = 0;
        third.bytes = 0;
        m.nodes.push(third);
    }
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Tab));
    app.update(ch('m'));
    let screen = draw(&app, 120, 36);
    assert!(screen.contains("Move tenant acme"), "{screen}");
    assert!(screen.contains("from 10.0.0.1:5433"), "{screen}");
    assert!(screen.contains("› 10.0.0.1:5435"), "{screen}");
    assert!(screen.contains("  10.0.0.1:5434"), "{screen}");
    assert!(screen.contains("to 10.0.0.1:5435, then"), "{screen}");
    assert!(screen.contains("logical replication"), "{screen}");
    // Up picks the other worker; the text follows.
    app.update(key(KeyCode::Up));
    let screen = draw(&app, 120, 36);
    assert!(screen.contains("› 10.0.0.1:5434"), "{screen}");
    assert!(screen.contains("to 10.0.0.1:5434, then"), "{screen}");
    snap("nodes_move_confirm", &app);
    let effects = app.update(key(KeyCode::Enter));
    let plan = effects
        .iter()
        .find_map(|e| match e {
            tenantctl::tui::app::Effect::StartJob {
                job: tenantctl::tui::app::LongJob::MoveTenant(plan),
                ..
            } => Some(plan.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{effects:?}"));
    assert_eq!((plan.tenant.as_str(), plan.to.port), ("acme", 5434));
    assert!(app.dialog.is_none());
}

#[test]
fn nodes_view_while_loading_and_without_citus() {
    let mut app = app_with(rows(), false);
    app.update(ch('N'));
    assert_eq!(app.nodes.map, Load::Loading);
    insta::assert_snapshot!("nodes_loading_80x24", draw(&app, 80, 24));
    let id = app
        .jobs
        .running
        .iter()
        .find(|j| j.kind == JobKind::Nodes)
        .unwrap()
        .id;
    app.update(Action::JobDone {
        id,
        result: Err(tenantctl::tui::app::ErrorText::from_error(
            &tenantctl::error::Error::Invalid(
                "the database has no citus extension: nodes, moves, distribute and rebalance are for a Citus coordinator".into(),
            ),
        )),
    });
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("no citus extension"), "{screen}");
}
