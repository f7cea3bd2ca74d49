//! Console state built in memory for view snapshots and update tests: no database.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tenantctl::audit::Finding;
use tenantctl::audit::acl::Privilege;
use tenantctl::audit::finding::{Draft, Rule, Severity};
use tenantctl::catalog::{
    DefaultPrivilege, Drift, GrantEntry, GrantMatrix, Membership, ObjectKind, SchemaSize,
    ServerSummary, TableInfo, TenantRow, TenantStatus,
};
use tenantctl::journal::LogEntry;
use tenantctl::names::NamingPolicy;
use tenantctl::tui::app::{Action, App, Detail, Load};
use tenantctl::tui::theme::Theme;
use tenantctl::tui::view;

/// A registry row.
pub fn row(
    id: &str,
    name: &str,
    status: TenantStatus,
    bytes: Option<i64>,
    tables: i64,
) -> TenantRow {
    TenantRow {
        id: id.into(),
        name: name.into(),
        schema: format!("tenant_{id}"),
        status,
        config: serde_json::json!({"plan": "team", "region": "eu-west"}),
        template_version: 2,
        pinned_version: None,
        created_at: None,
        updated_at: None,
        size_bytes: bytes,
        size_exact: true,
        tables,
        drift: Drift::None,
        node: None,
    }
}

/// Rows as `list_unsized` returns them: sizes 0 (`None` for the missing schema), no table
/// counts, nothing measured.
pub fn unsized_rows() -> Vec<tenantctl::catalog::TenantRow> {
    let mut rows = rows();
    for r in &mut rows {
        r.size_exact = false;
        r.size_bytes = r.size_bytes.map(|_| 0);
        r.tables = 0;
    }
    rows
}

/// Twelve tenants, one suspended, one with its schema missing, one unregistered schema.
pub fn rows() -> Vec<TenantRow> {
    let mut rows = vec![
        row(
            "acme",
            "Acme Corporation",
            TenantStatus::Active,
            Some(48 << 20),
            4,
        ),
        row("globex", "Globex", TenantStatus::Active, Some(12 << 20), 4),
        row(
            "initech",
            "Initech",
            TenantStatus::Suspended,
            Some(3 << 20),
            4,
        ),
        row(
            "umbrella",
            "Umbrella Health",
            TenantStatus::Active,
            Some(96 << 20),
            4,
        ),
        row("hooli", "Hooli", TenantStatus::Active, Some(700 << 10), 4),
        row(
            "stark",
            "Stark Industries",
            TenantStatus::Active,
            Some(20 << 20),
            4,
        ),
        row(
            "wayne",
            "Wayne Enterprises",
            TenantStatus::Active,
            Some(5 << 20),
            4,
        ),
        row(
            "wonka",
            "Wonka Confections",
            TenantStatus::Active,
            Some(64 << 10),
            4,
        ),
        row(
            "cyberdyne",
            "Cyberdyne Systems",
            TenantStatus::Active,
            Some(1 << 30),
            4,
        ),
        row(
            "tyrell",
            "Tyrell Corporation",
            TenantStatus::Active,
            None,
            0,
        ),
        row("soylent", "", TenantStatus::Unregistered, Some(16 << 10), 1),
        row(
            "aperture",
            "Aperture Science",
            TenantStatus::Active,
            Some(2 << 20),
            4,
        ),
    ];
    rows[9].drift = Drift::MissingSchema;
    rows[10].drift = Drift::Unregistered;
    rows[1].size_exact = false;
    rows
}

/// The acme schema: four tables, one without RLS.
pub fn schema() -> SchemaSize {
    let t =
        |name: &str, rows: Option<i64>, table: i64, index: i64, toast: i64, rls: bool| TableInfo {
            name: name.into(),
            row_estimate: rows,
            table_bytes: table,
            index_bytes: index,
            toast_bytes: toast,
            total_bytes: table + index + toast,
            rls_enabled: rls,
            rls_forced: rls,
            policies: i64::from(rls),
            tenant_bound: rls,
        };
    let tables = vec![
        t("orders", Some(1_250_000), 30 << 20, 10 << 20, 1 << 20, true),
        t("customers", Some(42_000), 4 << 20, 2 << 20, 0, true),
        t("tenant_users", Some(12), 8192, 16384, 0, true),
        t("audit_trail", None, 0, 8192, 0, false),
    ];
    SchemaSize {
        schema: "tenant_acme".into(),
        table_bytes: tables.iter().map(|t| t.table_bytes).sum(),
        index_bytes: tables.iter().map(|t| t.index_bytes).sum(),
        toast_bytes: tables.iter().map(|t| t.toast_bytes).sum(),
        total_bytes: tables.iter().map(|t| t.total_bytes).sum(),
        tables,
    }
}

/// Grants on the acme schema, with PUBLIC SELECT on one table as a deviation.
pub fn grants() -> GrantMatrix {
    let e =
        |grantee: &str, kind: ObjectKind, object: &str, privilege: &str, owner: bool| GrantEntry {
            grantee: grantee.into(),
            kind,
            object: object.into(),
            privilege: privilege.into(),
            grantable: false,
            owner,
        };
    let mut entries = vec![
        e("marvin", ObjectKind::Schema, "tenant_acme", "USAGE", true),
        e("marvin", ObjectKind::Schema, "tenant_acme", "CREATE", true),
        e(
            "user_tenant_owner",
            ObjectKind::Schema,
            "tenant_acme",
            "USAGE",
            false,
        ),
        e(
            "tenant_user",
            ObjectKind::Schema,
            "tenant_acme",
            "USAGE",
            false,
        ),
        e(
            "tenant_acme_ro",
            ObjectKind::Schema,
            "tenant_acme",
            "USAGE",
            false,
        ),
        e("PUBLIC", ObjectKind::Table, "orders", "SELECT", false),
        e(
            "user_tenant_owner",
            ObjectKind::Table,
            "orders",
            "TRUNCATE",
            false,
        ),
        e(
            "marvin",
            ObjectKind::Sequence,
            "orders_id_seq",
            "USAGE",
            true,
        ),
        e(
            "user_tenant_owner",
            ObjectKind::Sequence,
            "orders_id_seq",
            "USAGE",
            false,
        ),
    ];
    for table in ["orders", "customers", "tenant_users", "audit_trail"] {
        for p in [
            "SELECT",
            "INSERT",
            "UPDATE",
            "DELETE",
            "TRUNCATE",
            "REFERENCES",
            "TRIGGER",
        ] {
            entries.push(e("marvin", ObjectKind::Table, table, p, true));
        }
        for p in ["SELECT", "INSERT", "UPDATE", "DELETE"] {
            entries.push(e("user_tenant_owner", ObjectKind::Table, table, p, false));
        }
        entries.push(e("tenant_user", ObjectKind::Table, table, "SELECT", false));
        if table != "audit_trail" {
            entries.push(e(
                "tenant_acme_ro",
                ObjectKind::Table,
                table,
                "SELECT",
                false,
            ));
        }
    }
    let d = |grantee: &str, object_type: &str, privilege: &str| DefaultPrivilege {
        owner: "marvin".into(),
        in_schema: true,
        object_type: object_type.into(),
        grantee: grantee.into(),
        privilege: privilege.into(),
    };
    GrantMatrix {
        schema: "tenant_acme".into(),
        schema_owner: "marvin".into(),
        entries,
        owners: Vec::new(),
        defaults: vec![
            d("tenant_acme_ro", "table", "SELECT"),
            d("tenant_user", "table", "SELECT"),
            d("user_tenant_owner", "table", "DELETE"),
            d("user_tenant_owner", "table", "INSERT"),
            d("user_tenant_owner", "table", "SELECT"),
            d("user_tenant_owner", "table", "UPDATE"),
        ],
        memberships: vec![Membership {
            member: "app_login".into(),
            role: "user_tenant_owner".into(),
            inherits: true,
            can_set: true,
        }],
    }
}

/// The findings acme's own audit has about the fixture's grants (the last one also in the
/// full audit's report, to show it once).
pub fn findings() -> Vec<Finding> {
    let mut d = Draft::new(
        Rule::TablePrivilege,
        Severity::High,
        "every role (PUBLIC) has SELECT on table tenant_acme.orders, beyond the model".into(),
    );
    d.schema = Some("tenant_acme".into());
    d.object = Some("orders".into());
    d.role = Some("PUBLIC".into());
    d.tenant = Some("acme".into());
    d.aspect = "extra";
    d.path = Some("PUBLIC → SELECT on tenant_acme.orders".into());
    d.fix = Some("REVOKE SELECT ON TABLE \"tenant_acme\".\"orders\" FROM PUBLIC;".into());
    d.privileges = vec![Privilege::Select];
    let public = d.finish();
    let mut d = Draft::new(
        Rule::TablePrivilege,
        Severity::Medium,
        "tenant_acme_ro, the read-only role of tenant acme lacks SELECT on table tenant_acme.audit_trail: the tenant's reporting cannot read it".into(),
    );
    d.schema = Some("tenant_acme".into());
    d.object = Some("audit_trail".into());
    d.role = Some("tenant_acme_ro".into());
    d.tenant = Some("acme".into());
    d.aspect = "missing";
    d.fix =
        Some("GRANT SELECT ON TABLE \"tenant_acme\".\"audit_trail\" TO \"tenant_acme_ro\";".into());
    d.privileges = vec![Privilege::Select];
    vec![public, d.finish(), truncate_finding()]
}

/// The service role's TRUNCATE on acme's orders: in acme's findings and the full audit's.
fn truncate_finding() -> Finding {
    let mut d = Draft::new(
        Rule::TablePrivilege,
        Severity::Medium,
        "the service role user_tenant_owner has TRUNCATE on table tenant_acme.orders, beyond the model".into(),
    );
    d.schema = Some("tenant_acme".into());
    d.object = Some("orders".into());
    d.role = Some("user_tenant_owner".into());
    d.tenant = Some("acme".into());
    d.aspect = "extra";
    d.path = Some("user_tenant_owner → TRUNCATE on tenant_acme.orders".into());
    d.fix = Some(
        "REVOKE TRUNCATE ON TABLE \"tenant_acme\".\"orders\" FROM \"user_tenant_owner\";".into(),
    );
    d.privileges = vec![Privilege::Truncate];
    d.finish()
}

/// A console with the fixture loaded and acme selected, as after startup.
pub fn app() -> App {
    app_with(rows(), false)
}

/// A console over `rows`, read-only or not, with acme's detail if acme is there.
pub fn app_with(rows: Vec<TenantRow>, read_only: bool) -> App {
    let mut app = App::new(
        "prod".into(),
        "marvin@db.internal:5432/saas".into(),
        read_only,
        NamingPolicy::default(),
        Theme::mono(),
    );
    app.server = Load::Ready(ServerSummary {
        server_version: "17.2 (Debian 17.2-1)".into(),
        role: "marvin".into(),
        database: "saas".into(),
        in_recovery: false,
        citus: None,
    });
    app.tenants = Load::Ready(());
    app.set_rows(rows);
    app.detail = Some(Detail {
        id: "acme".into(),
        schema: Load::Ready(schema()),
        grants: Load::Ready(grants()),
        findings: Load::Ready(findings()),
    });
    app
}

/// Draws `app` at `w`×`h` and returns the screen as text.
pub fn draw(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view::render(f, app)).unwrap();
    terminal.backend().to_string()
}

/// A key press.
pub fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// A character key press.
pub fn ch(c: char) -> Action {
    key(KeyCode::Char(c))
}

/// Types `text` one key at a time.
pub fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(ch(c));
    }
}

/// A console-log row at a fixed time.
pub fn log_entry(id: i64, action: &str, tenant: &str, outcome: &str) -> LogEntry {
    LogEntry {
        id,
        at: Utc
            .with_ymd_and_hms(2026, 11, 26, 21, 0, id as u32)
            .unwrap(),
        os_user: "alice".into(),
        db_role: "marvin".into(),
        action: action.into(),
        tenant_id: Some(tenant.into()),
        sql_summary: format!("{action} tenant_{tenant}"),
        outcome: outcome.into(),
    }
}

/// Draws without turning the screen into text (TestBackend's Display cannot show 0 columns).
pub fn draw_only(app: &App, w: u16, h: u16) {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view::render(f, app)).unwrap();
}

/// An audit report as the core makes them: findings worst first, with ids, paths and fixes
/// where the rule has one.
pub fn audit_report() -> tenantctl::audit::AuditReport {
    let mut drafts = Vec::new();
    let mut d = Draft::new(
        Rule::ViewBypassesRls,
        Severity::Critical,
        "the RLS role tenant_user can read view tenant_acme.all_orders, which returns every row: it runs with its owner's rights, so row-level security never sees the RLS role; make it security_invoker or revoke".into(),
    );
    d.schema = Some("tenant_acme".into());
    d.object = Some("all_orders".into());
    d.role = Some("tenant_user".into());
    d.tenant = Some("acme".into());
    d.path =
        Some("tenant_user → SELECT on tenant_acme.all_orders (past row-level security)".into());
    d.fix = Some("ALTER VIEW \"tenant_acme\".\"all_orders\" SET (security_invoker = true);".into());
    drafts.push(d);
    let mut d = Draft::new(
        Rule::Membership,
        Severity::High,
        "tenant_globex_ro can act as tenant_acme_ro: that is tenant acme's read-only role: cross-tenant reach".into(),
    );
    d.object = Some("tenant_acme_ro".into());
    d.role = Some("tenant_globex_ro".into());
    d.tenant = Some("globex".into());
    d.path = Some("tenant_globex_ro → member of analysts → member of tenant_acme_ro".into());
    d.fix = Some("REVOKE \"analysts\" FROM \"tenant_globex_ro\";".into());
    drafts.push(d);
    let mut d = Draft::new(
        Rule::UnregisteredSchema,
        Severity::Medium,
        "schema tenant_legacy looks like a tenant's but has no registry row: tenantctl neither manages nor audits it as a tenant (bring it in with `tenantctl tenant adopt`, or drop it)".into(),
    );
    d.schema = Some("tenant_legacy".into());
    drafts.push(d);
    let mut findings: Vec<_> = drafts.into_iter().map(Draft::finish).collect();
    findings.insert(2, truncate_finding());
    tenantctl::audit::AuditReport {
        summary: tenantctl::audit::Summary::of(&findings, 11),
        findings,
    }
}

/// Two backups of acme (one whose manifest is gone), one of globex, and a kept copy of acme.
pub fn backups_data() -> tenantctl::tui::app::BackupsData {
    use tenantctl::backup::{BackupEntry, KeptCopy};
    let entry = |tenant: &str, at: chrono::DateTime<Utc>, size: u64, ok: bool| BackupEntry {
        path: format!("/backups/{tenant}.{}.dump", at.format("%Y%m%dT%H%M%S000Z")).into(),
        tenant: tenant.into(),
        schema: Some(format!("tenant_{tenant}")),
        created_at: Some(at),
        size_bytes: size,
        sha256: ok.then(|| "ab".repeat(32)),
        server_version: ok.then(|| "17.2".into()),
        pg_dump_version: ok.then(|| "17.2".into()),
        template_version: ok.then_some(3),
        verifiable: ok,
        problem: (!ok).then(|| "no manifest".into()),
    };
    tenantctl::tui::app::BackupsData {
        entries: vec![
            entry(
                "acme",
                Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap(),
                12 << 20,
                true,
            ),
            entry(
                "globex",
                Utc.with_ymd_and_hms(2026, 11, 29, 1, 30, 0).unwrap(),
                3 << 20,
                true,
            ),
            entry(
                "acme",
                Utc.with_ymd_and_hms(2026, 11, 28, 2, 0, 0).unwrap(),
                11 << 20,
                false,
            ),
        ],
        kept: vec![KeptCopy {
            name: "_kept_acme_261128230000000".into(),
            tenant: Some("acme".into()),
            kept_at: Some(Utc.with_ymd_and_hms(2026, 11, 28, 23, 0, 0).unwrap()),
            restored_from: Some("/backups/acme.20261128T020000000Z.dump".into()),
            size_bytes: 47 << 20,
        }],
    }
}

/// A console on the Backups view (acme's), its folder read.
pub fn app_on_backups(read_only: bool) -> App {
    let mut app = app_with(rows(), read_only);
    app.backups = Some(tenantctl::backup::BackupSettings {
        dir: "/backups".into(),
        pg_bin_dir: None,
    });
    app.update(ch('B'));
    app.update(Action::Backups(Ok(backups_data())));
    app
}

/// A Citus node map as `citus::nodes::read` makes them: a coordinator with one local
/// tenant, two workers holding unevenly many bytes.
pub fn node_map() -> tenantctl::citus::nodes::NodeMap {
    use tenantctl::citus::nodes::{Node, NodeAddr, NodeMap, NodeRole, Placement};
    let node = |id: i32, group: i32, port: u16, role, tenants, bytes| Node {
        node_id: id,
        group_id: group,
        addr: NodeAddr {
            host: "10.0.0.1".into(),
            port,
        },
        role,
        active: true,
        should_have_shards: role == NodeRole::Worker,
        tenants,
        bytes,
    };
    let placed = |tenant: &str, group: i32, bytes: i64, distributed: bool| Placement {
        schema: format!("tenant_{tenant}"),
        tenant: tenant.into(),
        group_id: Some(group),
        distributed,
        bytes,
    };
    NodeMap {
        citus_version: "13.2-1".into(),
        sizes_measured: true,
        nodes: vec![
            node(1, 0, 5432, NodeRole::Coordinator, 1, 16_384),
            node(2, 1, 5433, NodeRole::Worker, 3, 96 << 20),
            node(3, 2, 5434, NodeRole::Worker, 1, 8 << 20),
        ],
        placements: vec![
            placed("acme", 1, 64 << 20, true),
            placed("globex", 1, 24 << 20, true),
            placed("initech", 1, 8 << 20, true),
            placed("hooli", 2, 8 << 20, true),
            placed("umbrella", 0, 16_384, false),
        ],
    }
}

/// The console in the Nodes view with [`node_map`] landed.
pub fn app_on_nodes(read_only: bool) -> App {
    let mut app = app_with(rows(), read_only);
    app.update(Action::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('N'),
        crossterm::event::KeyModifiers::NONE,
    )));
    let id = app
        .jobs
        .running
        .iter()
        .find(|j| j.kind == tenantctl::tui::app::JobKind::Nodes)
        .expect("the nodes job")
        .id;
    app.update(Action::JobProgress {
        id,
        done: 1,
        total: 1,
        current: String::new(),
        failed: 0,
        landed: tenantctl::tui::app::Landed::Nodes(vec![node_map()]),
    });
    app.update(Action::JobDone {
        id,
        result: Ok(tenantctl::tui::app::JobEnd {
            summary: String::new(),
            shortfall: None,
        }),
    });
    app
}
