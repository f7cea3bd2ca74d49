//! `update`: key sequences and job results → state and effects. No database, no terminal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tui_fixture;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::Duration;
use tenantctl::citus::ops::TransferMode;
use tenantctl::tenant::NewTenant;
use tenantctl::tui::app::{
    Action, App, Conn, Effect, ErrorText, JobEnd, JobId, JobKind, Landed, Load, LongJob, Screen,
    SortKey, Write,
};
use tenantctl::tui::dialog::Dialog;
use tenantctl::tui::keymap::{self, CommandId, Context};
use tui_fixture::*;

fn selected_id(app: &tenantctl::tui::app::App) -> String {
    app.selected_row().unwrap().id.clone()
}

fn ids(app: &tenantctl::tui::app::App) -> Vec<String> {
    app.list
        .visible
        .iter()
        .map(|&i| app.list.rows[i].id.clone())
        .collect()
}

#[test]
fn filter_narrows_as_you_type_and_esc_clears_it() {
    let mut app = app();
    app.update(ch('/'));
    assert_eq!(app.context(), Context::Filter);
    typed(&mut app, "CORP");
    assert_eq!(
        ids(&app),
        ["acme", "tyrell"],
        "id or name, case-insensitive"
    );
    app.update(key(KeyCode::Enter));
    assert_eq!(app.context(), Context::Tenants);
    assert_eq!(ids(&app).len(), 2, "Enter keeps the filter");
    app.update(key(KeyCode::Esc));
    assert_eq!(ids(&app).len(), 12, "Esc on the list clears it");
    app.update(ch('/'));
    typed(&mut app, "zzz");
    assert!(app.list.visible.is_empty());
    app.update(key(KeyCode::Esc));
    assert_eq!(ids(&app).len(), 12);
    assert!(!app.list.filtering);
}

#[test]
fn filter_does_not_clone_rows() {
    let mut app = app();
    let before = app.list.rows.as_ptr();
    app.update(ch('/'));
    typed(&mut app, "a");
    assert_eq!(app.list.rows.as_ptr(), before);
    assert_eq!(app.list.rows.len(), 12);
}

#[test]
fn sort_cycles_id_name_size_status_and_keeps_the_selection() {
    let mut app = app();
    app.update(ch('j'));
    assert_eq!(selected_id(&app), "aperture");
    app.update(ch('s'));
    assert_eq!(app.list.sort, SortKey::Name);
    assert_eq!(ids(&app)[0], "soylent", "empty name sorts first");
    app.update(ch('s'));
    assert_eq!(app.list.sort, SortKey::Size);
    assert_eq!(&ids(&app)[..3], ["cyberdyne", "umbrella", "acme"]);
    assert_eq!(ids(&app).last().unwrap(), "tyrell", "no size sorts last");
    assert_eq!(selected_id(&app), "aperture");
    app.update(ch('s'));
    assert_eq!(app.list.sort, SortKey::Status);
    assert_eq!(&ids(&app)[..2], ["tyrell", "soylent"], "drift first");
    app.update(ch('s'));
    assert_eq!(app.list.sort, SortKey::Id);
}

#[test]
fn movement_keys() {
    let mut app = app();
    app.list.page.set(5);
    app.update(ch('G'));
    assert_eq!(selected_id(&app), "wonka");
    app.update(ch('g'));
    assert_eq!(selected_id(&app), "acme");
    app.update(key(KeyCode::PageDown));
    assert_eq!(app.list.selected, 5);
    app.update(key(KeyCode::Down));
    app.update(ch('k'));
    app.update(ch('k'));
    assert_eq!(app.list.selected, 4);
    app.update(key(KeyCode::PageUp));
    app.update(key(KeyCode::Up));
    assert_eq!(app.list.selected, 0);
}

#[test]
fn selection_loads_the_detail_once_it_rests() {
    let mut app = app();
    let start = app.now;
    app.update(ch('j'));
    app.update(ch('j'));
    assert!(app.update(Action::Tick(start)).is_empty(), "debounced");
    let effects = app.update(Action::Tick(start + Duration::from_millis(200)));
    assert_eq!(
        effects,
        [Effect::LoadDetail {
            id: "cyberdyne".into(),
            schema: "tenant_cyberdyne".into(),
        }]
    );
}

#[test]
fn new_tenant_dialog_shows_the_rule_for_a_bad_id_and_stays_open() {
    let mut app = app();
    app.update(ch('n'));
    let Some(Dialog::Provision(d)) = &app.dialog else {
        panic!("no dialog")
    };
    assert!(
        d.check
            .as_ref()
            .unwrap_err()
            .contains("lowercase letter first")
    );
    typed(&mut app, "Bad-Id");
    let Some(Dialog::Provision(d)) = &app.dialog else {
        panic!("no dialog")
    };
    let rule = d.check.clone().unwrap_err();
    assert!(rule.contains("\"Bad-Id\" is not valid"), "{rule}");
    assert!(rule.contains("a lowercase letter first"), "{rule}");
    let effects = app.update(key(KeyCode::Enter));
    assert!(effects.is_empty(), "nothing submitted");
    let Some(Dialog::Provision(d)) = &app.dialog else {
        panic!("the dialog closed")
    };
    assert_eq!(d.inputs[0].value(), "Bad-Id", "input intact");
    assert!(d.error.as_ref().unwrap().message.contains("not valid"));
    let screen = draw(&app, 120, 36);
    assert!(
        screen.contains("✗ tenant id \"Bad-Id\" is not valid"),
        "{screen}"
    );
}

#[test]
fn new_tenant_dialog_submits_and_a_core_error_keeps_it_open() {
    let mut app = app();
    app.update(ch('n'));
    typed(&mut app, "newco");
    app.update(key(KeyCode::Tab));
    typed(&mut app, "New Co");
    app.update(key(KeyCode::Tab));
    typed(&mut app, "plan=team seats=5");
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::Write(Write::Create(NewTenant {
            id: "newco".into(),
            name: Some("New Co".into()),
            config: vec![("plan".into(), "team".into()), ("seats".into(), "5".into())],
        }))]
    );
    assert!(app.dialog.as_ref().unwrap().busy());
    typed(&mut app, "xyz");
    app.update(Action::Saved {
        command: CommandId::New,
        result: Err(ErrorText::plain("tenant \"newco\" already exists".into())),
    });
    let Some(Dialog::Provision(d)) = &app.dialog else {
        panic!("the dialog closed on error")
    };
    assert!(!d.busy);
    assert_eq!(d.inputs[0].value(), "newco", "keys while busy are ignored");
    assert_eq!(d.inputs[1].value(), "New Co");
    assert!(d.error.as_ref().unwrap().message.contains("already exists"));

    // A retry that succeeds closes the dialog and selects the new row.
    app.update(key(KeyCode::Enter));
    let created = row(
        "newco",
        "New Co",
        tenantctl::catalog::TenantStatus::Active,
        Some(8192),
        4,
    );
    let effects = app.update(Action::Saved {
        command: CommandId::New,
        result: Ok(created),
    });
    assert!(app.dialog.is_none());
    assert_eq!(selected_id(&app), "newco");
    assert_eq!(app.list.rows.len(), 13);
    assert!(matches!(effects.as_slice(), [Effect::LoadDetail { .. }]));
}

#[test]
fn bad_config_pair_is_refused_in_the_dialog() {
    let mut app = app();
    app.update(ch('n'));
    typed(&mut app, "okid");
    app.update(key(KeyCode::BackTab));
    typed(&mut app, "novalue");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    let Some(Dialog::Provision(d)) = &app.dialog else {
        panic!()
    };
    assert_eq!(d.focus, 2);
    assert!(d.error.as_ref().unwrap().message.contains("KEY=VALUE"));
}

#[test]
fn esc_cancels_a_dialog_and_n_types_into_it() {
    let mut app = app();
    app.update(ch('n'));
    typed(&mut app, "nn");
    let Some(Dialog::Provision(d)) = &app.dialog else {
        panic!("n closed the dialog")
    };
    assert_eq!(d.inputs[0].value(), "nn");
    app.update(key(KeyCode::Esc));
    assert!(app.dialog.is_none());
}

#[test]
fn read_only_refuses_n_with_a_message() {
    let mut app = app_with(rows(), true);
    for k in ['n', 'e', 'S', 'm'] {
        // Each key must raise its own message, not pass on the previous key's.
        app.flash = None;
        let effects = app.update(ch(k));
        assert!(effects.is_empty());
        assert!(app.dialog.is_none(), "{k} opened a dialog");
        let flash = app.flash.clone().unwrap();
        assert!(flash.error && flash.text.contains("read-only"), "{flash:?}");
    }
    let footer: Vec<_> = app
        .keymap
        .footer(Context::Tenants, true)
        .into_iter()
        .map(|(_, keys, _)| keys)
        .collect();
    assert!(!footer.contains(&"n".to_string()), "{footer:?}");
    assert!(footer.contains(&"/".to_string()));
    let screen = draw(&app, 120, 36);
    assert!(screen.contains("READ-ONLY"));
    assert!(!screen.contains("n new"));
    // The palette is no back door.
    app.update(ch(':'));
    typed(&mut app, "migrate all");
    app.update(key(KeyCode::Enter));
    assert!(app.dialog.is_none());
}

#[test]
fn suspend_goes_through_the_confirmation() {
    let mut app = app();
    app.update(ch('S'));
    let Some(Dialog::Confirm(c)) = &app.dialog else {
        panic!()
    };
    assert_eq!(c.pending, Write::Suspend("acme".into()));
    assert!(app.update(ch('x')).is_empty());
    assert_eq!(
        app.update(ch('y')),
        [Effect::Write(Write::Suspend("acme".into()))]
    );
    // A suspended tenant offers resume.
    let mut app = tui_fixture::app();
    app.update(ch('/'));
    typed(&mut app, "initech");
    app.update(key(KeyCode::Enter));
    app.update(ch('S'));
    let Some(Dialog::Confirm(c)) = &app.dialog else {
        panic!()
    };
    assert_eq!(c.pending, Write::Resume("initech".into()));
    app.update(ch('n'));
    assert!(app.dialog.is_none(), "n declines");
}

#[test]
fn migrate_shows_progress_and_esc_cancels() {
    let mut app = app();
    app.update(ch('m'));
    let effects = app.update(key(KeyCode::Enter));
    let [Effect::StartJob { id, job }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(job, &LongJob::Migrate(Some(vec!["acme".into()])));
    let id = *id;
    assert!(app.dialog.is_none());
    assert_eq!(app.jobs.focused().unwrap().kind, JobKind::Migrate);
    app.update(Action::JobProgress {
        id,
        done: 1,
        total: 2,
        current: "acme".into(),
        failed: 0,
        landed: Landed::Migrate(Vec::new()),
    });
    assert_eq!(app.jobs.focused().unwrap().done, 1);
    assert!(draw(&app, 120, 36).contains("migrating 1/2"));
    assert!(
        draw(&app, 120, 36).contains("░ acme"),
        "the tenant just migrated is named"
    );
    assert_eq!(app.update(key(KeyCode::Esc)), [Effect::CancelJob(id)]);
    let effects = app.update(Action::JobDone {
        id,
        result: Ok(JobEnd {
            summary: "1 migrated".into(),
            shortfall: Some("1 tenant(s) not tried (globex)".into()),
        }),
    });
    assert!(app.jobs.running.is_empty());
    assert!(reloads_registry(&effects));
    let flash = app.flash.clone().unwrap();
    assert!(
        flash.error,
        "a cancelled migration is no success: {flash:?}"
    );
    assert!(flash.text.contains("not tried (globex)"), "{flash:?}");
}

#[test]
fn palette_completes_and_runs() {
    let mut app = app();
    app.update(ch(':'));
    typed(&mut app, "ac");
    app.update(key(KeyCode::Tab));
    assert_eq!(app.palette.as_ref().unwrap().input.value(), "activity");
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(effects, [Effect::LoadActivity]);
    assert_eq!(app.screen, Screen::Activity);
    app.update(key(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Tenants);

    app.update(ch(':'));
    typed(&mut app, "so");
    app.update(key(KeyCode::Tab));
    assert_eq!(app.palette.as_ref().unwrap().input.value(), "sort ");
    typed(&mut app, "si");
    app.update(key(KeyCode::Enter));
    assert_eq!(app.list.sort, SortKey::Size);

    app.update(ch(':'));
    typed(&mut app, "bogus");
    app.update(key(KeyCode::Enter));
    assert!(app.palette.as_ref().unwrap().error.is_some());
}

#[test]
fn exact_sizes_update_rows_in_place() {
    let mut app = app();
    let id = app.jobs.add(JobKind::Sizes, 2);
    app.update(sizes(id, vec![("tenant_globex".into(), 999)], 1, 2));
    let globex = app.list.rows.iter().find(|r| r.id == "globex").unwrap();
    assert_eq!(globex.size_bytes, Some(999));
    assert!(globex.size_exact);
    assert!(app.jobs.of_kind(JobKind::Sizes).is_some());
    app.update(done(id));
    assert!(app.jobs.running.is_empty());
}

/// A chunk of measured sizes from job `id`.
fn sizes(id: JobId, sizes: Vec<(String, i64)>, done: usize, total: usize) -> Action {
    Action::JobProgress {
        id,
        done,
        total,
        current: String::new(),
        failed: 0,
        landed: Landed::Sizes(
            sizes
                .into_iter()
                .map(|(schema, bytes)| tenantctl::catalog::Measured {
                    schema,
                    bytes,
                    tables: 0,
                })
                .collect(),
        ),
    }
}

/// Job `id` finished every item.
fn done(id: JobId) -> Action {
    Action::JobDone {
        id,
        result: Ok(JobEnd {
            summary: "done".into(),
            shortfall: None,
        }),
    }
}

/// A migration registered and finished: the console reloads.
fn migrate_done(app: &mut tenantctl::tui::app::App) -> Vec<Effect> {
    let id = app.jobs.add(JobKind::Migrate, 1);
    app.update(done(id))
}

fn sizes_job(app: &tenantctl::tui::app::App) -> JobId {
    app.jobs
        .of_kind(JobKind::Sizes)
        .expect("a measurement runs")
        .id
}

#[test]
fn registry_load_starts_streaming_exact_sizes() {
    let mut app = app_with(Vec::new(), false);
    let effects = app.update(Action::Tenants(Ok(rows())));
    let Some(schemas) = exact_sizes(&effects) else {
        panic!("{effects:?}")
    };
    assert_eq!(schemas.len(), 11, "not the missing schema");
    assert!(matches!(app.tenants, Load::Ready(())));
}

#[test]
fn a_lost_connection_is_retried_with_backoff() {
    let mut app = app();
    let t0 = app.now;
    let lost = ErrorText {
        message: "connection lost".into(),
        hint: None,
        connection: true,
    };
    app.update(Action::Tenants(Err(lost.clone())));
    let Conn::Down {
        attempt, retry_at, ..
    } = app.conn.clone()
    else {
        panic!("{:?}", app.conn)
    };
    assert_eq!(attempt, 1);
    assert!(
        app.update(Action::Tick(t0 + Duration::from_millis(500)))
            .is_empty()
    );
    assert_eq!(app.update(Action::Tick(retry_at)), [Effect::LoadServer]);
    app.update(Action::Server(Err(lost)));
    let Conn::Down {
        attempt,
        retry_at: next,
        ..
    } = app.conn.clone()
    else {
        panic!()
    };
    assert_eq!(attempt, 2);
    assert!(next - retry_at >= Duration::from_secs(4), "backoff grows");
    let effects = app.update(Action::Server(Ok(tenantctl::catalog::ServerSummary {
        server_version: "17".into(),
        role: "marvin".into(),
        database: "saas".into(),
        in_recovery: false,
        citus: None,
    })));
    assert_eq!(app.conn, Conn::Up);
    assert!(reloads_registry(&effects), "reloads once back");
    assert!(!app.quit, "the console does not exit");
}

#[test]
fn ctrl_c_and_q_quit_from_anywhere() {
    let mut app = app();
    app.update(ch('n'));
    app.update(Action::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(app.quit);
    let mut app = tui_fixture::app();
    app.update(ch('q'));
    assert!(app.quit);
    let mut app = tui_fixture::app();
    app.update(Action::Quit);
    assert!(app.quit);
}

#[test]
fn tab_cycles_panes_and_enter_opens_detail() {
    use tenantctl::tui::app::Pane;
    let mut app = app();
    app.update(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Schema);
    app.update(ch('j'));
    assert_eq!(
        app.list.selected, 0,
        "arrows scroll the focused pane, not the list"
    );
    assert_eq!(app.schema_scroll, 1);
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Tenants);
    app.update(key(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Detail);
    app.update(key(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Tenants);
}

#[test]
fn help_is_generated_from_the_keymap() {
    let mut app = app();
    app.update(ch('?'));
    assert_eq!(app.context(), Context::Help);
    let screen = draw(&app, 160, 60);
    // Every row the keymap gives the overlay: its keys, then its help, on one line.
    for (_, rows) in app.keymap.help(false) {
        for (keys, help) in rows {
            let shown = screen.lines().any(|l| {
                l.find(&format!(" {keys} "))
                    .is_some_and(|at| l[at..].contains(help))
            });
            assert!(shown, "{keys:?} {help:?} missing from help:\n{screen}");
        }
    }
    app.update(key(KeyCode::Esc));
    assert!(!app.help);
}

/// The registry is read again, with estimates or (when every size is to be measured,
/// as in these apps that never had a registry load) without.
fn reloads_registry(effects: &[Effect]) -> bool {
    effects.contains(&Effect::LoadTenants) || effects.contains(&Effect::LoadUnsized)
}

fn load_details(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::LoadDetail { .. }))
        .count()
}

fn exact_sizes(effects: &[Effect]) -> Option<&Vec<String>> {
    effects.iter().find_map(|e| match e {
        Effect::StartJob {
            job: LongJob::Sizes(s),
            ..
        } => Some(s),
        _ => None,
    })
}

/// Rows as the registry query returns them: estimated sizes.
fn estimated_rows() -> Vec<tenantctl::catalog::TenantRow> {
    let mut rows = rows();
    for r in &mut rows {
        r.size_exact = false;
        r.size_bytes = r.size_bytes.map(|b| b + 1);
    }
    rows
}

#[test]
fn exact_sizes_are_measured_on_first_load_and_refresh_only() {
    let mut app = app_with(Vec::new(), false);
    let effects = app.update(Action::Tenants(Ok(estimated_rows())));
    let schemas = exact_sizes(&effects)
        .expect("the first load measures")
        .clone();
    let id = sizes_job(&app);
    let n = schemas.len();
    app.update(sizes(
        id,
        schemas.iter().map(|s| (s.clone(), 7)).collect(),
        n,
        n,
    ));
    app.update(done(id));

    // A reload that is not a refresh (migrate done) carries the measured sizes over.
    let mut rows = estimated_rows();
    rows.push(row(
        "newco",
        "New Co",
        tenantctl::catalog::TenantStatus::Active,
        Some(4096),
        4,
    ));
    rows.last_mut().unwrap().size_exact = false;
    let effects = migrate_done(&mut app);
    assert!(effects.contains(&Effect::LoadTenants));
    let effects = app.update(Action::Tenants(Ok(rows.clone())));
    assert_eq!(exact_sizes(&effects), None, "{effects:?}");
    assert!(
        app.jobs.running.is_empty(),
        "no progress bar without a measurement"
    );
    let acme = app.list.rows.iter().find(|r| r.id == "acme").unwrap();
    assert_eq!((acme.size_bytes, acme.size_exact), (Some(7), true));
    let newco = app.list.rows.iter().find(|r| r.id == "newco").unwrap();
    assert_eq!((newco.size_bytes, newco.size_exact), (Some(4096), false));

    // Reconnecting reloads without measuring.
    app.update(Action::Server(Err(ErrorText {
        message: "connection lost".into(),
        hint: None,
        connection: true,
    })));
    let effects = app.update(Action::Server(Ok(tenantctl::catalog::ServerSummary {
        server_version: "17".into(),
        role: "marvin".into(),
        database: "saas".into(),
        in_recovery: false,
        citus: None,
    })));
    assert!(effects.contains(&Effect::LoadTenants));
    let effects = app.update(Action::Tenants(Ok(rows.clone())));
    assert_eq!(exact_sizes(&effects), None);
    assert!(
        app.list
            .rows
            .iter()
            .find(|r| r.id == "acme")
            .unwrap()
            .size_exact
    );

    // `R` measures again, everything.
    app.update(ch('R'));
    let effects = app.update(Action::Tenants(Ok(rows.clone())));
    assert_eq!(exact_sizes(&effects).map(Vec::len), Some(12), "with newco");

    // And so does `:refresh`.
    app.update(ch(':'));
    typed(&mut app, "refresh");
    app.update(key(KeyCode::Enter));
    let effects = app.update(Action::Tenants(Ok(rows)));
    assert_eq!(exact_sizes(&effects).map(Vec::len), Some(12), "with newco");
}

#[test]
fn a_registry_load_loads_the_detail_once() {
    let mut app = app_with(Vec::new(), false);
    app.detail = None;
    let t = app.now;
    let mut n = load_details(&app.update(Action::Tenants(Ok(rows()))));
    n += load_details(&app.update(Action::Tick(t + Duration::from_secs(1))));
    assert_eq!(n, 1, "first load");

    let mut n = load_details(&app.update(ch('R')));
    n += load_details(&app.update(Action::Tenants(Ok(rows()))));
    n += load_details(&app.update(Action::Tick(t + Duration::from_secs(2))));
    assert_eq!(n, 1, "R reloads the detail once");

    let mut n = load_details(&migrate_done(&mut app));
    n += load_details(&app.update(Action::Tenants(Ok(rows()))));
    n += load_details(&app.update(Action::Tick(t + Duration::from_secs(3))));
    assert_eq!(n, 1, "a migration may have changed the schema");
}

#[test]
fn filtering_without_changing_the_selection_does_not_reload_the_detail() {
    let mut app = app();
    let t = app.now;
    let mut effects = Vec::new();
    app.update(ch('/'));
    typed(&mut app, "acme");
    effects.extend(app.update(Action::Tick(t + Duration::from_secs(1))));
    app.update(key(KeyCode::Esc));
    effects.extend(app.update(Action::Tick(t + Duration::from_secs(2))));
    // Esc on the list clears a kept filter.
    app.update(ch('/'));
    typed(&mut app, "acm");
    app.update(key(KeyCode::Enter));
    effects.extend(app.update(key(KeyCode::Esc)));
    effects.extend(app.update(Action::Tick(t + Duration::from_secs(3))));
    assert_eq!(selected_id(&app), "acme");
    assert_eq!(load_details(&effects), 0, "{effects:?}");

    // Moving away and back within the debounce does not reload either.
    app.update(ch('j'));
    app.update(ch('k'));
    let effects = app.update(Action::Tick(t + Duration::from_secs(4)));
    assert_eq!(load_details(&effects), 0, "{effects:?}");
    // But a new selection does, once.
    app.update(ch('j'));
    let effects = app.update(Action::Tick(t + Duration::from_secs(5)));
    assert_eq!(load_details(&effects), 1);
    assert!(
        app.update(Action::Tick(t + Duration::from_secs(6)))
            .is_empty()
    );
}

#[test]
fn palette_suspend_and_resume_refuse_the_wrong_state() {
    // acme is active: `:resume` is refused, `:suspend` asks.
    let mut app = app();
    app.update(ch(':'));
    typed(&mut app, "resume");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(app.dialog.is_none(), "resume suspended: {:?}", app.dialog);
    let flash = app.flash.clone().unwrap();
    assert!(
        flash.error && flash.text.contains("not suspended"),
        "{flash:?}"
    );
    app.update(ch(':'));
    typed(&mut app, "suspend");
    app.update(key(KeyCode::Enter));
    let Some(Dialog::Confirm(c)) = &app.dialog else {
        panic!("{:?}", app.dialog)
    };
    assert_eq!(c.pending, Write::Suspend("acme".into()));

    // initech is suspended: `:suspend` (like `S`) offers to resume it, and so does `:resume`.
    let mut app = tui_fixture::app();
    app.update(ch('/'));
    typed(&mut app, "initech");
    app.update(key(KeyCode::Enter));
    app.update(ch(':'));
    typed(&mut app, "suspend");
    app.update(key(KeyCode::Enter));
    let Some(Dialog::Confirm(c)) = &app.dialog else {
        panic!("{:?}", app.dialog)
    };
    assert_eq!(c.pending, Write::Resume("initech".into()));
    app.update(key(KeyCode::Esc));
    app.update(ch(':'));
    typed(&mut app, "resume");
    app.update(key(KeyCode::Enter));
    let Some(Dialog::Confirm(c)) = &app.dialog else {
        panic!("{:?}", app.dialog)
    };
    assert_eq!(c.pending, Write::Resume("initech".into()));

    // Read-only refuses both.
    let mut app = app_with(rows(), true);
    app.update(ch(':'));
    typed(&mut app, "suspend");
    app.update(key(KeyCode::Enter));
    assert!(app.dialog.is_none());
    assert!(app.flash.clone().unwrap().text.contains("read-only"));
}

#[test]
fn m_without_a_registered_tenant_does_not_migrate_everything() {
    let mut app = app();
    app.update(ch('/'));
    typed(&mut app, "soylent");
    app.update(key(KeyCode::Enter));
    assert_eq!(
        app.selected_row().unwrap().status,
        tenantctl::catalog::TenantStatus::Unregistered
    );
    assert!(app.update(ch('m')).is_empty());
    assert!(app.dialog.is_none(), "{:?}", app.dialog);
    let flash = app.flash.clone().unwrap();
    assert!(flash.error, "{flash:?}");
    assert_eq!(
        flash.text,
        "no registered tenant selected; use :migrate all"
    );

    // An empty list.
    let mut app = tui_fixture::app();
    app.update(ch('/'));
    typed(&mut app, "zzz");
    app.update(key(KeyCode::Enter));
    assert!(app.update(ch('m')).is_empty());
    assert!(app.dialog.is_none(), "{:?}", app.dialog);

    // `:migrate all` still asks to migrate everything.
    app.update(ch(':'));
    typed(&mut app, "migrate all");
    app.update(key(KeyCode::Enter));
    let Some(Dialog::Confirm(c)) = &app.dialog else {
        panic!()
    };
    assert_eq!(c.pending, Write::Migrate(None));
}

#[test]
fn a_connection_lost_during_a_write_is_a_connection_loss() {
    use tenantctl::error::Error;
    let lost = || Error::Db {
        during: "suspend tenant".into(),
        source: sqlx::Error::PoolClosed,
    };
    assert!(ErrorText::from_error(&lost()).connection);
    let unlogged = Error::Unlogged {
        error: Box::new(lost()),
        log_error: "connection closed".into(),
    };
    assert!(ErrorText::from_error(&unlogged).connection);
    let twice = Error::Unlogged {
        error: Box::new(unlogged),
        log_error: "again".into(),
    };
    assert!(ErrorText::from_error(&twice).connection);
    // Committed, then the read-back lost the connection: reconnect (and reload) too.
    let committed = Error::Committed {
        done: "tenant acme suspended".into(),
        cause: Box::new(lost()),
    };
    assert!(ErrorText::from_error(&committed).connection);
    let not_lost = Error::Unlogged {
        error: Box::new(Error::Conflict("tenant exists".into())),
        log_error: "connection closed".into(),
    };
    assert!(!ErrorText::from_error(&not_lost).connection);
}

#[test]
fn a_very_long_palette_input_does_not_overflow_the_cursor() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use tenantctl::tui::dialog::Palette;
    for len in [65_535, 70_000] {
        let mut app = app();
        let mut palette = Palette::new(Context::Tenants, false);
        palette.input = tui_input::Input::new("x".repeat(len));
        app.palette = Some(palette);
        let mut terminal = Terminal::new(TestBackend::new(120, 36)).unwrap();
        terminal
            .draw(|f| tenantctl::tui::view::render(f, &app))
            .unwrap();
        let at = terminal.get_cursor_position().unwrap();
        assert!(at.x < 120 && at.y < 36, "{at:?}");
    }
}

#[test]
fn a_very_long_dialog_field_keeps_the_cursor_inside() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let mut app = app();
    app.update(ch('n'));
    if let Some(Dialog::Provision(d)) = app.dialog.as_mut() {
        d.inputs[0] = tui_input::Input::new("x".repeat(70_000));
    }
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|f| tenantctl::tui::view::render(f, &app))
        .unwrap();
    let at = terminal.get_cursor_position().unwrap();
    assert!(at.x < 80 && at.y < 24, "{at:?}");
}

#[test]
fn a_measurement_cut_short_by_a_reload_is_finished_not_restarted() {
    let mut app = app_with(Vec::new(), false);
    let effects = app.update(Action::Tenants(Ok(estimated_rows())));
    let schemas = exact_sizes(&effects).unwrap().clone();
    assert_eq!(schemas.len(), 11);
    let id = sizes_job(&app);
    app.update(sizes(
        id,
        schemas[..3].iter().map(|s| (s.clone(), 7)).collect(),
        3,
        11,
    ));
    let effects = migrate_done(&mut app);
    assert!(effects.contains(&Effect::CancelJob(id)));
    assert!(
        app.jobs.of_kind(JobKind::Sizes).is_none(),
        "the cancelled measurement's bar goes"
    );
    let effects = app.update(Action::Tenants(Ok(estimated_rows())));
    let rest = exact_sizes(&effects).expect("the rest is measured");
    assert_eq!(rest.as_slice(), &schemas[3..]);
    let id = sizes_job(&app);
    app.update(sizes(
        id,
        rest.iter().map(|s| (s.clone(), 9)).collect(),
        8,
        8,
    ));
    app.update(done(id));
    let effects = migrate_done(&mut app);
    assert!(effects.contains(&Effect::LoadTenants));
    let effects = app.update(Action::Tenants(Ok(estimated_rows())));
    assert_eq!(exact_sizes(&effects), None, "all measured: nothing to do");
    assert!(
        app.list
            .rows
            .iter()
            .filter(|r| r.size_bytes.is_some())
            .all(|r| r.size_exact)
    );
}

/// The keymap from a config file's text.
fn keymap_of(text: &str) -> Result<tenantctl::tui::keymap::Keymap, String> {
    let path = std::path::Path::new("/home/op/.config/tenantctl/config.toml");
    let config = tenantctl::config::Config::parse(text, path).map_err(|e| e.to_string())?;
    let keys = tenantctl::config::KeyConfig {
        path: path.display().to_string(),
        entries: config.key_entries,
    };
    tenantctl::tui::keymap::Keymap::from_config(&keys).map_err(|e| e.to_string())
}

#[test]
fn a_remapped_key_works_and_the_old_one_does_not() {
    let mut app = app();
    app.keymap = keymap_of("[keys]\nsuspend = \"ctrl-s\"\nhelp = [\"F1\", \"?\"]\n").unwrap();
    assert!(app.update(ch('S')).is_empty());
    assert!(app.dialog.is_none(), "the old key still suspends");
    app.update(Action::Key(KeyEvent::new(
        KeyCode::Char('s'),
        KeyModifiers::CONTROL,
    )));
    let Some(Dialog::Confirm(c)) = &app.dialog else {
        panic!("ctrl-s did not ask to suspend: {:?}", app.dialog)
    };
    assert_eq!(c.pending, Write::Suspend("acme".into()));
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::F(1)));
    assert!(app.help, "F1 opens the help");
    // Footer and help show the keys in force.
    let screen = draw(&app, 120, 36);
    assert!(screen.contains("C-s "), "{screen}");
    assert!(screen.contains("F1/?"), "{screen}");
    app.update(key(KeyCode::Esc));
    let screen = draw(&app, 120, 36);
    assert!(screen.contains("C-s suspend"), "{screen}");
    assert!(!screen.contains("S suspend"), "{screen}");
}

#[test]
fn bad_key_remapping_is_refused_with_file_and_line() {
    let err = keymap_of("[keys]\nhelp = \"F1\"\nsuspnd = \"x\"\n").unwrap_err();
    assert!(
        err.contains("config.toml, line 3") && err.contains("\"suspnd\" is not a console command"),
        "{err}"
    );
    let err = keymap_of("[keys]\n\nmigrate = \"ctrl-foo\"\n").unwrap_err();
    assert!(err.contains("line 3") && err.contains("not a key"), "{err}");
    let err = keymap_of("[keys]\nmigrate = \"hyper-x\"\n").unwrap_err();
    assert!(err.contains("line 2") && err.contains("not a key"), "{err}");
    // Two commands on one key where both apply: `n` is new's key on the tenant list.
    let err = keymap_of("[keys]\nrefresh = \"F5\"\nsuspend = \"n\"\n").unwrap_err();
    assert!(
        err.contains("line 3") && err.contains("new") && err.contains("suspend"),
        "{err}"
    );
    // A swap is fine, and so is the same key in contexts that never meet.
    keymap_of("[keys]\nnew = \"S\"\nsuspend = \"n\"\n").unwrap();
    keymap_of("[keys]\nconfirm = \"ctrl-y\"\nnew = \"ctrl-y\"\n").unwrap();
    // A command that works while typing needs a key that does not type.
    let err = keymap_of("[keys]\ncancel = \"x\"\n").unwrap_err();
    assert!(err.contains("line 2") && err.contains("typed"), "{err}");
    keymap_of("[keys]\ncancel = [\"esc\", \"n\"]\nquit = [\"x\", \"ctrl-q\"]\n").unwrap();
}

#[test]
fn the_default_keys_never_conflict() {
    keymap_of("").unwrap();
    // Every command can be named in [keys], by a name of its own.
    let mut names: Vec<&str> = keymap::COMMANDS.iter().map(|c| c.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "two commands share a [keys] name");
}

/// One sample change per writing command: a new writing command without a sample fails
/// `every_write_is_unreachable_when_read_only` below.
fn sample_writes() -> Vec<Write> {
    vec![
        Write::Create(NewTenant {
            id: "newco".into(),
            name: None,
            config: Vec::new(),
        }),
        Write::Set {
            id: "acme".into(),
            change: tenantctl::tenant::TenantChange {
                name: Some("A".into()),
                ..Default::default()
            },
        },
        Write::Suspend("acme".into()),
        Write::Resume("initech".into()),
        Write::Migrate(Some(vec!["acme".into()])),
        Write::Migrate(None),
        Write::AuditFix {
            id: "table_privilege-0a1b2c3d".into(),
            sql: "REVOKE SELECT ON TABLE \"tenant_acme\".\"orders\" FROM PUBLIC;".into(),
        },
        Write::MoveTenant(move_plan(TransferMode::Auto)),
        Write::MoveTenant(move_plan(TransferMode::BlockWrites)),
        Write::Distribute(vec!["umbrella".into()]),
        Write::Rebalance(TransferMode::Auto),
        Write::Pin {
            id: "acme".into(),
            pin: Some(1),
        },
        Write::Pin {
            id: "acme".into(),
            pin: None,
        },
        Write::Adopt {
            adoption: adoption(),
            plan: None,
        },
        Write::Adopt {
            adoption: adoption(),
            plan: Some(adopt_plan()),
        },
        Write::Restore {
            id: "acme".into(),
            backup: "/b/acme.20261129T010101000Z.dump".into(),
            as_id: None,
        },
        Write::Restore {
            id: "acme".into(),
            backup: "/b/acme.20261129T010101000Z.dump".into(),
            as_id: Some("acme_copy".into()),
        },
        Write::Drop("acme".into()),
        Write::Release("_kept_acme_261129010101000".into()),
    ]
}

fn move_plan(mode: TransferMode) -> tenantctl::citus::ops::MovePlan {
    let addr = |port| tenantctl::citus::nodes::NodeAddr {
        host: "10.0.0.1".into(),
        port,
    };
    tenantctl::citus::ops::MovePlan {
        tenant: "acme".into(),
        schema: "tenant_acme".into(),
        from: addr(5433),
        to: addr(5434),
        bytes: 64 << 20,
        mode,
    }
}

fn adoption() -> tenantctl::tenant::Adoption {
    tenantctl::tenant::Adoption {
        schema: "tenant_soylent".into(),
        id: Some("soylent".into()),
        at_version: None,
    }
}

fn adopt_plan() -> tenantctl::tenant::AdoptPlan {
    tenantctl::tenant::AdoptPlan {
        tenant: "soylent".into(),
        schema: "tenant_soylent".into(),
        at_version: None,
        readonly_role: "tenant_soylent_ro".into(),
        owner_changes: vec![
            tenantctl::tenant::OwnerChange {
                kind: "SCHEMA".into(),
                object: "tenant_soylent".into(),
                owner: "legacy_app".into(),
            },
            tenantctl::tenant::OwnerChange {
                kind: "TABLE".into(),
                object: "tenant_soylent.green".into(),
                owner: "legacy_app".into(),
            },
        ],
        tables: vec!["green".into()],
    }
}

#[test]
fn pin_asks_the_version_and_the_list_and_header_show_it() {
    let mut app = app();
    assert!(draw(&app, 120, 36).contains("v2: 11"), "distribution");
    app.update(ch('p'));
    let Some(Dialog::Pin(d)) = &app.dialog else {
        panic!("{:?}", app.dialog)
    };
    assert_eq!(d.inputs[0].value(), "2", "prefilled with its version");
    app.update(key(KeyCode::Backspace));
    typed(&mut app, "x");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    let Some(Dialog::Pin(d)) = &app.dialog else {
        panic!()
    };
    assert!(d.error.as_ref().unwrap().message.contains("not a version"));
    app.update(key(KeyCode::Backspace));
    typed(&mut app, "1");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        [Effect::Write(Write::Pin {
            id: "acme".into(),
            pin: Some(1)
        })]
    );
    let mut pinned = rows()[0].clone();
    pinned.pinned_version = Some(1);
    app.update(Action::Saved {
        command: CommandId::Pin,
        result: Ok(pinned),
    });
    assert!(app.dialog.is_none());
    let screen = draw(&app, 120, 36);
    assert!(screen.contains("v2: 11 (1 pinned)"), "{screen}");
    assert!(screen.contains("pinned at 1"), "the schema pane: {screen}");
    let screen = draw(&app, 80, 24);
    assert!(
        screen.contains("v2p1"),
        "the list's version column: {screen}"
    );
    // An unregistered schema has nothing to pin.
    app.update(ch('/'));
    typed(&mut app, "soylent");
    app.update(key(KeyCode::Enter));
    app.update(ch('p'));
    assert!(app.dialog.is_none());
    assert!(app.flash.clone().unwrap().text.contains("adopt it first"));
}

#[test]
fn adopt_shows_the_dry_run_asks_the_id_and_runs_as_a_job() {
    let mut app = app();
    // Only a schema without a registry row is adopted.
    app.update(ch('a'));
    assert!(app.dialog.is_none());
    app.update(ch('/'));
    typed(&mut app, "soylent");
    app.update(key(KeyCode::Enter));
    app.update(ch('a'));
    let Some(Dialog::Adopt(d)) = &app.dialog else {
        panic!("{:?}", app.dialog)
    };
    assert_eq!(
        d.inputs[0].value(),
        "soylent",
        "the id from the schema name"
    );
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        [Effect::PlanAdopt(adoption())]
    );
    // A refused dry run (the naming rule, say) stays in the dialog.
    app.update(Action::AdoptPlan {
        adoption: adoption(),
        result: Err(ErrorText::plain("does not fit the naming policy".into())),
    });
    let Some(Dialog::Adopt(d)) = &app.dialog else {
        panic!("{:?}", app.dialog)
    };
    assert!(!d.busy);
    app.update(key(KeyCode::Enter));
    app.update(Action::AdoptPlan {
        adoption: adoption(),
        result: Ok(adopt_plan()),
    });
    let Some(Dialog::Confirm(c)) = &app.dialog else {
        panic!("{:?}", app.dialog)
    };
    assert_eq!(
        c.pending,
        Write::Adopt {
            adoption: adoption(),
            plan: Some(adopt_plan())
        }
    );
    let screen = draw(&app, 120, 36);
    assert!(
        screen.contains("owner legacy_app → admin: TABLE tenant_soylent.green"),
        "{screen}"
    );
    let effects = app.update(ch('y'));
    let [Effect::StartJob { id, job }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(job, &LongJob::Adopt(adoption()));
    let id = *id;
    assert_eq!(app.jobs.focused().unwrap().kind, JobKind::Adopt);
    let effects = app.update(Action::JobDone {
        id,
        result: Ok(JobEnd {
            summary: "adopted tenant_soylent as tenant soylent".into(),
            shortfall: None,
        }),
    });
    assert!(reloads_registry(&effects));
    assert!(
        app.flash
            .clone()
            .unwrap()
            .text
            .contains("adopted tenant_soylent")
    );
}

fn is_write(e: &Effect) -> bool {
    matches!(
        e,
        Effect::Write(_)
            | Effect::PlanAdopt(_)
            | Effect::StartJob {
                job: LongJob::Migrate(_)
                    | LongJob::AuditFix(_)
                    | LongJob::Adopt(_)
                    | LongJob::Restore { .. }
                    | LongJob::Drop { .. }
                    | LongJob::Release(_)
                    | LongJob::MoveTenant(_)
                    | LongJob::Distribute(_)
                    | LongJob::Rebalance(_),
                ..
            }
    )
}

/// A read-only console showing `ctx` (the Audit view with a report loaded).
fn read_only_app_in(ctx: Context) -> App {
    if ctx == Context::Backups {
        return app_on_backups(true);
    }
    if ctx == Context::Nodes {
        return app_on_nodes(true);
    }
    let mut app = app_with(rows(), true);
    if ctx == Context::Detail {
        app.update(key(KeyCode::Enter));
    }
    if ctx == Context::Audit {
        app.update(ch('A'));
        app.update(Action::JobProgress {
            id: app.jobs.running[0].id,
            done: 2,
            total: 2,
            current: String::new(),
            failed: 0,
            landed: Landed::Audit(vec![audit_report()]),
        });
    }
    app
}

#[test]
fn every_write_is_unreachable_when_read_only() {
    let writes: Vec<_> = keymap::COMMANDS.iter().filter(|c| c.writes).collect();
    assert!(writes.len() >= 6, "the table lost its writes");
    for spec in writes {
        // From a key, in every context the command applies in.
        for ctx in spec.contexts {
            for k in app().keymap.keys(spec.id).to_vec() {
                let mut app = read_only_app_in(*ctx);
                assert_eq!(app.context(), *ctx, "{}", spec.name);
                let mut effects = app.update(Action::Key(KeyEvent::new(k.code, k.mods)));
                // Whatever opened, accepting it must not write either.
                effects.extend(app.update(key(KeyCode::Enter)));
                effects.extend(app.update(ch('y')));
                assert!(
                    !effects.iter().any(is_write),
                    "{} by key: {effects:?}",
                    spec.name
                );
                assert!(
                    app.dialog.is_none(),
                    "{} opened {:?}",
                    spec.name,
                    app.dialog
                );
                let flash = app
                    .flash
                    .clone()
                    .unwrap_or_else(|| panic!("{} silent", spec.name));
                assert!(flash.error && flash.text.contains("read-only"), "{flash:?}");
            }
        }
        // From the palette, typed in full.
        if let Some(word) = spec.palette {
            // Opened where the command applies: elsewhere the palette does not know it.
            let mut app = read_only_app_in(spec.contexts[0]);
            app.update(ch(':'));
            typed(&mut app, word);
            let mut effects = app.update(key(KeyCode::Enter));
            effects.extend(app.update(key(KeyCode::Enter)));
            effects.extend(app.update(ch('y')));
            assert!(
                !effects.iter().any(is_write),
                "{word} by palette: {effects:?}"
            );
            assert!(app.dialog.is_none(), ":{word} opened {:?}", app.dialog);
            assert!(app.flash.clone().unwrap().text.contains("read-only"));
        }
        // From a dialog, however it came to be open.
        let samples: Vec<Write> = sample_writes()
            .into_iter()
            .filter(|w| w.command() == spec.id)
            .collect();
        assert!(!samples.is_empty(), "no sample write for {}", spec.name);
        for write in samples {
            let mut app = app_with(rows(), true);
            app.dialog = Some(Dialog::Confirm(tenantctl::tui::dialog::ConfirmDialog::new(
                write.clone(),
            )));
            let effects = app.update(ch('y'));
            assert!(
                !effects.iter().any(is_write),
                "{write:?} by dialog: {effects:?}"
            );
            assert!(app.flash.clone().unwrap().text.contains("read-only"));
        }
    }
}

#[test]
fn secret_config_values_are_masked_while_typed_until_revealed() {
    let mut app = app();
    app.update(ch('n'));
    typed(&mut app, "newco");
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    typed(&mut app, "plan=team db_password=hunter2 note=\"x y\"");
    let screen = draw(&app, 120, 36);
    assert!(!screen.contains("hunter2"), "{screen}");
    assert!(screen.contains("db_password=•••••••"), "{screen}");
    assert!(screen.contains("plan=team"), "{screen}");
    app.update(Action::Key(KeyEvent::new(
        KeyCode::Char('r'),
        KeyModifiers::CONTROL,
    )));
    assert!(draw(&app, 120, 36).contains("db_password=hunter2"));
    // What is submitted is what was typed, quotes keeping the space.
    let effects = app.update(key(KeyCode::Enter));
    let [Effect::Write(Write::Create(new))] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        new.config,
        vec![
            ("plan".into(), "team".into()),
            ("db_password".into(), "hunter2".into()),
            ("note".into(), "x y".into()),
        ]
    );
}

#[test]
fn a_terminal_read_error_closes_the_console_with_the_error() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _guard = tenantctl::tui::event::spawn_reader(tx, |_| {
        Err(std::io::Error::other("input/output error"))
    });
    let action = rx.blocking_recv().expect("the reader said nothing");
    let Action::InputFailed(e) = &action else {
        panic!("{action:?}")
    };
    assert!(e.contains("input/output error"));
    let mut app = app();
    app.update(action);
    assert!(app.quit);
    assert!(app.fatal.as_deref().unwrap().contains("input/output error"));
}

#[test]
fn grants_that_cannot_be_judged_say_so() {
    let mut app = app();
    app.update(Action::Detail {
        id: "acme".into(),
        schema: Err(ErrorText::plain(
            "reading the tables of tenant_acme: permission denied".into(),
        )),
        grants: Ok(grants()),
        findings: Err(ErrorText::plain(
            "grants cannot be judged: the audit could not read the catalog".into(),
        )),
    });
    let screen = draw(&app, 120, 36);
    assert!(screen.contains("not judged"), "{screen}");
    assert!(screen.contains("grants cannot be judged"), "{screen}");
}

fn backup_settings() -> tenantctl::backup::BackupSettings {
    tenantctl::backup::BackupSettings {
        dir: "/var/backups/tenantctl".into(),
        pg_bin_dir: None,
    }
}

#[test]
fn dump_runs_the_selected_tenant_as_a_long_job_and_esc_cancels_it() {
    let mut app = app();
    app.backups = Some(backup_settings());
    let effects = app.update(ch('d'));
    let [Effect::StartJob { id, job }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        job,
        &LongJob::Dump {
            ids: vec!["acme".into()],
            settings: backup_settings(),
        }
    );
    let id = *id;
    assert_eq!(app.jobs.focused().unwrap().kind, JobKind::Dump);
    app.update(Action::JobProgress {
        id,
        done: 2,
        total: 4,
        current: "acme: dumping orders".into(),
        failed: 0,
        landed: Landed::Dump(Vec::new()),
    });
    assert!(draw(&app, 120, 36).contains("dumping 2/4"));
    // A second dump while one runs is refused, not a cancel of the first.
    assert!(app.update(ch('d')).is_empty());
    assert!(app.flash.clone().unwrap().text.contains("already running"));
    assert_eq!(app.update(key(KeyCode::Esc)), [Effect::CancelJob(id)]);
    app.update(Action::JobDone {
        id,
        result: Ok(JobEnd {
            summary: "written ".into(),
            shortfall: Some("1 dump(s) not tried (acme)".into()),
        }),
    });
    assert!(app.jobs.running.is_empty());
    let flash = app.flash.clone().unwrap();
    assert!(flash.error, "a cancelled dump is no success: {flash:?}");
    assert!(flash.text.contains("not tried (acme)"), "{flash:?}");
}

#[test]
fn a_finished_dump_names_its_backup() {
    let mut app = app();
    app.backups = Some(backup_settings());
    let effects = app.update(ch('d'));
    let [Effect::StartJob { id, .. }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    app.update(Action::JobDone {
        id: *id,
        result: Ok(JobEnd {
            summary: "written /var/backups/tenantctl/acme.x.dump".into(),
            shortfall: None,
        }),
    });
    let flash = app.flash.clone().unwrap();
    assert!(!flash.error);
    assert!(flash.text.contains("acme.x.dump"), "{flash:?}");
}

#[test]
fn dump_without_a_backup_folder_says_how_to_set_one() {
    let mut app = app();
    assert!(app.update(ch('d')).is_empty());
    let flash = app.flash.clone().unwrap();
    assert!(
        flash.error && flash.text.contains("backup_dir"),
        "{flash:?}"
    );
    assert!(app.jobs.running.is_empty());
}

#[test]
fn a_read_only_console_may_dump() {
    let mut app = app();
    app.read_only = true;
    app.backups = Some(backup_settings());
    let effects = app.update(ch('d'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::StartJob {
                job: LongJob::Dump { .. },
                ..
            }]
        ),
        "{effects:?}"
    );
}

#[test]
fn audit_runs_as_a_cancellable_job_and_lands_its_report() {
    let mut app = app();
    let effects = app.update(ch('A'));
    assert_eq!(app.screen, Screen::Audit);
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::StartJob {
                job: LongJob::Audit,
                ..
            }
        )),
        "{effects:?}"
    );
    assert!(matches!(app.audit.report, Load::Loading));
    // Esc cancels the running audit before it leaves the view.
    let effects = app.update(key(KeyCode::Esc));
    assert!(
        matches!(effects.as_slice(), [Effect::CancelJob(_)]),
        "{effects:?}"
    );
    let id = app.jobs.running[0].id;
    app.update(Action::JobDone {
        id,
        result: Ok(JobEnd {
            summary: String::new(),
            shortfall: Some("cancelled".into()),
        }),
    });
    assert!(matches!(app.audit.report, Load::Idle));
    assert!(app.flash.clone().unwrap().text.contains("audit: cancelled"));
}

#[test]
fn audit_severity_filter_hides_lesser_findings() {
    let mut app = app();
    app.update(ch('A'));
    let id = app.jobs.running[0].id;
    app.update(Action::JobProgress {
        id,
        done: 2,
        total: 2,
        current: String::new(),
        failed: 0,
        landed: Landed::Audit(vec![audit_report()]),
    });
    assert_eq!(app.audit.shown().len(), 4);
    app.update(ch('v'));
    app.update(ch('v'));
    assert_eq!(app.audit.shown().len(), 2, "high and worse");
    app.update(ch('v'));
    assert_eq!(app.audit.shown().len(), 1, "critical only");
    app.update(ch('v'));
    assert_eq!(app.audit.shown().len(), 4, "back to everything");
}

#[test]
fn audit_fix_asks_then_runs_and_a_finding_without_fix_says_so() {
    let mut app = app();
    app.update(ch('A'));
    let id = app.jobs.running[0].id;
    app.update(Action::JobProgress {
        id,
        done: 2,
        total: 2,
        current: String::new(),
        failed: 0,
        landed: Landed::Audit(vec![audit_report()]),
    });
    // The last finding (an unregistered schema) has no automatic fix.
    app.update(ch('G'));
    assert!(app.update(ch('f')).is_empty());
    assert!(app.dialog.is_none());
    let flash = app.flash.clone().unwrap();
    assert!(
        flash.error && flash.text.contains("no automatic fix"),
        "{flash:?}"
    );
    // The first has one: asked, then run as a job.
    app.update(ch('g'));
    let first = app.audit.selected_finding().unwrap().id.clone();
    assert!(app.update(ch('f')).is_empty());
    assert!(matches!(app.dialog, Some(Dialog::Confirm(_))));
    let effects = app.update(ch('y'));
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::StartJob { job: LongJob::AuditFix(ids), .. } if *ids == vec![first.clone()]
        )),
        "{effects:?}"
    );
    // While it runs, a second fix waits.
    app.update(ch('f'));
    assert!(app.dialog.is_none());
}

#[test]
fn a_restore_from_the_backups_view_asks_and_runs_as_a_cancellable_job() {
    let mut app = app_on_backups(false);
    assert_eq!(app.context(), Context::Backups);
    // acme's rows only: its two backups and its kept copy.
    assert_eq!(app.backups_view.rows().len(), 3);
    app.update(ch('r'));
    assert!(matches!(app.dialog, Some(Dialog::Typed(_))));
    // Beside first: a bad id is refused in the dialog, nothing starts.
    typed(&mut app, "Bad Id");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    // In place needs the tenant's id typed exactly.
    app.update(key(KeyCode::Tab));
    typed(&mut app, "acm");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    typed(&mut app, "e");
    let effects = app.update(key(KeyCode::Enter));
    let job = effects.iter().find_map(|e| match e {
        Effect::StartJob {
            id,
            job: LongJob::Restore { req, .. },
        } => Some((*id, req.clone())),
        _ => None,
    });
    let (id, req) = job.expect("a restore job");
    assert_eq!(req.as_id, None);
    assert_eq!(req.id, "acme");
    assert!(app.dialog.is_none());
    // Esc cancels it; its end says what the tenant holds.
    assert!(matches!(
        app.update(key(KeyCode::Esc)).as_slice(),
        [Effect::CancelJob(j)] if *j == id
    ));
    let effects = app.update(Action::JobDone {
        id,
        result: Ok(JobEnd {
            summary: "nothing was restored: the tenant is as it was".into(),
            shortfall: Some("cancelled".into()),
        }),
    });
    assert!(effects.iter().any(|e| matches!(e, Effect::LoadBackups(_))));
    let flash = app.flash.clone().unwrap();
    assert!(
        flash.error && flash.text.contains("the tenant is as it was"),
        "{flash:?}"
    );
}

#[test]
fn drop_and_release_want_the_id_and_the_word_typed() {
    let mut app = app();
    app.backups = Some(tenantctl::backup::BackupSettings {
        dir: "/backups".into(),
        pg_bin_dir: None,
    });
    app.update(ch('X'));
    typed(&mut app, "globex");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    let mut app = app_with(rows(), false);
    app.backups = Some(tenantctl::backup::BackupSettings {
        dir: "/backups".into(),
        pg_bin_dir: None,
    });
    app.update(ch('X'));
    typed(&mut app, "acme");
    let effects = app.update(key(KeyCode::Enter));
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::StartJob { job: LongJob::Drop { id, .. }, .. } if id == "acme"
        )),
        "{effects:?}"
    );
    let mut app = app_on_backups(false);
    app.update(ch('G'));
    app.update(ch('D'));
    typed(&mut app, "yes");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    let mut app = app_on_backups(false);
    app.update(ch('G'));
    app.update(ch('D'));
    typed(&mut app, "release");
    let effects = app.update(key(KeyCode::Enter));
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::StartJob { job: LongJob::Release(n), .. } if n == &["_kept_acme_261128230000000".to_string()]
        )),
        "{effects:?}"
    );
}

#[test]
fn nodes_actions_confirm_then_run_as_long_jobs_and_reload_the_map() {
    let mut app = app_on_nodes(false);
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Tab));
    // Move: the selected tenant (acme, on the heavy worker); the dialog offers the other
    // worker, and Enter moves there.
    assert!(app.update(ch('M')).is_empty());
    let effects = app.update(key(KeyCode::Enter));
    let plan = effects
        .iter()
        .find_map(|e| match e {
            Effect::StartJob {
                job: LongJob::MoveTenant(plan),
                ..
            } => Some(plan.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{effects:?}"));
    assert_eq!(plan.tenant, "acme");
    assert_eq!(plan.to.port, 5434);
    assert_eq!(plan.mode, TransferMode::BlockWrites);
    // When it ends, the map is read again.
    let id = app
        .jobs
        .running
        .iter()
        .find(|j| j.kind == JobKind::Move)
        .unwrap()
        .id;
    let effects = app.update(Action::JobDone {
        id,
        result: Ok(JobEnd {
            summary: "acme now on 10.0.0.1:5434".into(),
            shortfall: None,
        }),
    });
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::StartJob {
                job: LongJob::Nodes,
                ..
            }
        )),
        "{effects:?}"
    );
    assert!(app.flash.clone().unwrap().text.contains("acme now on"));

    // Distribute: the local tenants of the map.
    app.update(ch('D'));
    let effects = app.update(ch('y'));
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::StartJob { job: LongJob::Distribute(ids), .. } if ids == &vec!["umbrella".to_string()]
        )),
        "{effects:?}"
    );
    // Rebalance: confirmed, then a job; Esc cancels it.
    app.update(ch('b'));
    let effects = app.update(ch('y'));
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::StartJob {
                job: LongJob::Rebalance(TransferMode::Auto),
                ..
            }
        )),
        "{effects:?}"
    );
    let effects = app.update(key(KeyCode::Esc));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::CancelJob(_))),
        "{effects:?}"
    );
}

/// Measured sizes of job `id`, each with its table count.
fn measured(id: JobId, sizes: &[(&str, i64, i64)]) -> Action {
    Action::JobProgress {
        id,
        done: sizes.len(),
        total: 11,
        current: String::new(),
        failed: 0,
        landed: Landed::Sizes(
            sizes
                .iter()
                .map(|&(schema, bytes, tables)| tenantctl::catalog::Measured {
                    schema: schema.into(),
                    bytes,
                    tables,
                })
                .collect(),
        ),
    }
}

fn row_of<'a>(app: &'a App, id: &str) -> &'a tenantctl::catalog::TenantRow {
    app.list.rows.iter().find(|r| r.id == id).unwrap()
}

#[test]
fn the_first_load_measures_at_once_without_waiting_for_an_estimate() {
    let mut app = app_with(Vec::new(), false);
    let effects = app.start();
    assert!(effects.contains(&Effect::LoadUnsized), "{effects:?}");
    assert!(!effects.contains(&Effect::LoadTenants), "{effects:?}");

    let effects = app.update(Action::Unsized(Ok(unsized_rows())));
    let schemas = exact_sizes(&effects).expect("the measurement starts with the list");
    assert_eq!(schemas.len(), 11, "every existing schema");
    assert!(!effects.contains(&Effect::LoadEstimates), "{effects:?}");
    // Pending, not a fake 0: left out of the totals, shown as such.
    let acme = row_of(&app, "acme");
    assert!(tenantctl::tui::app::size_pending(acme), "{acme:?}");
    assert_eq!(app.totals.pending, 11);
    let screen = draw(&app, 120, 36);
    assert!(screen.contains("pending"), "{screen}");

    // A measured size brings its table count, which the list read without sizes lacks.
    let id = sizes_job(&app);
    app.update(measured(id, &[("tenant_acme", 7, 10)]));
    let acme = row_of(&app, "acme");
    assert_eq!(
        (acme.size_bytes, acme.size_exact, acme.tables),
        (Some(7), true, 10)
    );
    assert_eq!(app.totals.pending, 10);

    // Sorted by size, the sizes not known yet go last (by id), after the measured ones.
    app.update(measured(id, &[("tenant_umbrella", 9, 10)]));
    app.list.sort = SortKey::Size;
    app.refresh_view();
    let order = ids(&app);
    assert_eq!(&order[..2], ["umbrella", "acme"], "{order:?}");
    let mut rest = order[2..].to_vec();
    rest.sort();
    assert_eq!(rest, order[2..], "{order:?}");
}

#[test]
fn a_registered_schema_outside_the_prefix_gets_its_measured_size() {
    // Registered under an earlier naming policy: its schema does not carry today's prefix.
    let mut rows = unsized_rows();
    let acme = rows.iter_mut().find(|r| r.id == "acme").unwrap();
    acme.schema = "legacy_acme".into();
    let mut app = app_with(Vec::new(), false);
    let effects = app.update(Action::Unsized(Ok(rows)));
    let schemas = exact_sizes(&effects).expect("the measurement starts with the list");
    assert!(schemas.contains(&"legacy_acme".to_string()), "{schemas:?}");
    let id = sizes_job(&app);
    app.update(measured(id, &[("legacy_acme", 7, 3)]));
    let acme = row_of(&app, "acme");
    assert_eq!(
        (acme.size_bytes, acme.size_exact, acme.tables),
        (Some(7), true, 3)
    );
}

#[test]
fn a_later_estimate_fills_only_the_sizes_still_pending() {
    let mut app = app_with(Vec::new(), false);
    let effects = app.update(Action::Unsized(Ok(unsized_rows())));
    assert!(exact_sizes(&effects).is_some());
    let id = sizes_job(&app);
    app.update(measured(id, &[("tenant_acme", 7, 10)]));
    // Cut short: the rows still pending get estimates rather than "pending" with nothing
    // running.
    let effects = app.update(Action::JobDone {
        id,
        result: Ok(JobEnd {
            summary: "1 schemas measured".into(),
            shortfall: Some("10 schemas not tried (tenant_globex, …)".into()),
        }),
    });
    assert_eq!(effects, [Effect::LoadEstimates]);
    app.update(Action::Estimates(Ok(estimated_rows())));
    let acme = row_of(&app, "acme");
    assert_eq!(
        (acme.size_bytes, acme.size_exact, acme.tables),
        (Some(7), true, 10),
        "the measured size stays"
    );
    let globex = row_of(&app, "globex");
    assert_eq!(
        (globex.size_bytes, globex.size_exact, globex.tables),
        (Some((12 << 20) + 1), false, 4)
    );
    assert_eq!(app.totals.pending, 0);
    assert!(!draw(&app, 120, 36).contains("pending"));

    // The next reload carries the measured size and measures the rest.
    let effects = migrate_done(&mut app);
    assert!(effects.contains(&Effect::LoadTenants), "{effects:?}");
    let effects = app.update(Action::Tenants(Ok(estimated_rows())));
    assert_eq!(exact_sizes(&effects).map(Vec::len), Some(10), "{effects:?}");
    assert_eq!(row_of(&app, "acme").size_bytes, Some(7));
}

#[test]
fn a_reload_while_sizes_are_pending_estimates_them_and_finishes_the_measurement() {
    let mut app = app_with(Vec::new(), false);
    app.update(Action::Unsized(Ok(unsized_rows())));
    let id = sizes_job(&app);
    app.update(measured(id, &[("tenant_acme", 7, 10)]));
    // A reload (after a write or a migration) cancels the measurement.
    let effects = migrate_done(&mut app);
    assert!(effects.contains(&Effect::CancelJob(id)), "{effects:?}");
    assert!(effects.contains(&Effect::LoadTenants), "{effects:?}");
    let effects = app.update(Action::Tenants(Ok(estimated_rows())));
    let rest = exact_sizes(&effects).expect("the rest is measured");
    assert_eq!(rest.len(), 10);
    assert!(!rest.contains(&"tenant_acme".to_string()));
    assert_eq!(row_of(&app, "acme").size_bytes, Some(7));
    assert_eq!(app.totals.pending, 0, "estimated meanwhile");

    // `R` measures everything again, from the registry read without sizes.
    let effects = app.update(ch('R'));
    assert!(effects.contains(&Effect::LoadUnsized), "{effects:?}");
    assert!(!effects.contains(&Effect::LoadTenants), "{effects:?}");
}
