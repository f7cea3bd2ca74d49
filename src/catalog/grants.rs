//! The grant matrix of one schema: every role holding anything on the schema, its tables,
//! sequences, functions and columns, plus default privileges, from the ACL columns.

use crate::error::{Error, Result};
use crate::session::Session;
use serde::Serialize;

/// What kind of object a privilege is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Schema,
    Table,
    View,
    Sequence,
    Function,
    Column,
}

impl ObjectKind {
    /// Parses the kind word the catalog queries produce; any other word is a bug in them.
    fn parse(s: &str) -> Result<ObjectKind> {
        match s {
            "schema" => Ok(ObjectKind::Schema),
            "table" => Ok(ObjectKind::Table),
            "view" => Ok(ObjectKind::View),
            "sequence" => Ok(ObjectKind::Sequence),
            "function" => Ok(ObjectKind::Function),
            "column" => Ok(ObjectKind::Column),
            other => Err(Error::Invalid(format!(
                "the grants query returned an object kind {other:?} tenantctl does not know; please report it"
            ))),
        }
    }
    /// Lowercase word for display.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Table => "table",
            ObjectKind::View => "view",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Function => "function",
            ObjectKind::Column => "column",
        }
    }
}

/// One privilege held by one role on one object.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct GrantEntry {
    /// Role name, or `PUBLIC`.
    pub grantee: String,
    pub kind: ObjectKind,
    /// Object name within the schema (`table.column` for columns); the schema's own name for it.
    pub object: String,
    /// `SELECT`, `USAGE`, …
    pub privilege: String,
    pub grantable: bool,
    /// True when the grantee owns the object (owners hold every privilege implicitly).
    pub owner: bool,
}

/// A default privilege: what objects `owner` creates in the schema (or anywhere) get.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct DefaultPrivilege {
    /// Role whose new objects get the grant (`FOR ROLE`).
    pub owner: String,
    /// `true` when set for the schema, `false` when database-wide.
    pub in_schema: bool,
    /// `table`, `sequence`, `function`, `type` or `schema`.
    pub object_type: String,
    pub grantee: String,
    pub privilege: String,
}

/// Roles that reach the schema's grants through membership: `member` inherits from `role`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Membership {
    pub member: String,
    pub role: String,
    /// Whether `member` inherits `role`'s privileges without SET ROLE.
    pub inherits: bool,
    /// Whether `member` may `SET ROLE` to `role`: always before PostgreSQL 16, per grant
    /// (`SET` option on every link of the chain) since.
    pub can_set: bool,
}

/// Who owns one object of the schema (owners hold every privilege implicitly).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectOwner {
    pub kind: ObjectKind,
    pub object: String,
    pub owner: String,
}

/// Everything granted on one schema.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct GrantMatrix {
    pub schema: String,
    /// From `pg_namespace.nspowner`, whatever the ACL says.
    pub schema_owner: String,
    pub entries: Vec<GrantEntry>,
    /// The owner of the schema and of each relation and function in it.
    pub owners: Vec<ObjectOwner>,
    pub defaults: Vec<DefaultPrivilege>,
    pub memberships: Vec<Membership>,
}

impl GrantMatrix {
    /// Roles holding anything, in a stable order (PUBLIC last).
    pub fn roles(&self) -> Vec<String> {
        let mut roles: Vec<String> = self.entries.iter().map(|e| e.grantee.clone()).collect();
        roles.sort();
        roles.dedup();
        if let Some(i) = roles.iter().position(|r| r == "PUBLIC") {
            let p = roles.remove(i);
            roles.push(p);
        }
        roles
    }
}

// Relations and functions of the schema are found through their dependency on it:
// `pg_depend` is indexed on the referenced object, while `pg_class.relnamespace` and
// `pg_proc.pronamespace` have no index, so joining on them scans the whole catalog (400,000
// relations at 10,000 tenants) for one schema.
const ENTRIES_SQL: &str = r#"
WITH n AS (SELECT oid, nspname, nspowner, nspacl FROM pg_namespace WHERE nspname = $1),
acls AS (
    SELECT 'schema' AS kind, n.nspname::text AS object, n.nspowner AS owner,
           coalesce(n.nspacl, acldefault('n'::"char", n.nspowner)) AS acl
    FROM n
    UNION ALL
    SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'view'
                ELSE 'table' END,
           c.relname::text, c.relowner,
           coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner))
    FROM n
    JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid
        AND d.classid = 'pg_class'::regclass
    JOIN pg_class c ON c.oid = d.objid AND c.relnamespace = n.oid
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           p.proowner, coalesce(p.proacl, acldefault('f'::"char", p.proowner))
    FROM n
    JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid
        AND d.classid = 'pg_proc'::regclass
    JOIN pg_proc p ON p.oid = d.objid AND p.pronamespace = n.oid
    UNION ALL
    SELECT 'column', c.relname || '.' || a.attname, c.relowner, a.attacl
    FROM n
    JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid
        AND d.classid = 'pg_class'::regclass
    JOIN pg_class c ON c.oid = d.objid AND c.relnamespace = n.oid
    JOIN pg_attribute a ON a.attrelid = c.oid
    WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
)
SELECT acls.kind, acls.object,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END AS grantee,
       x.privilege_type::text AS privilege,
       x.is_grantable AS grantable,
       x.grantee = acls.owner AS owner
FROM acls, LATERAL aclexplode(acls.acl) x
ORDER BY 3, 1, 2, 4
"#;

const DEFAULTS_SQL: &str = r#"
SELECT pg_get_userbyid(d.defaclrole)::text AS owner,
       d.defaclnamespace <> 0 AS in_schema,
       CASE d.defaclobjtype WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence'
            WHEN 'f' THEN 'function' WHEN 'T' THEN 'type' ELSE 'schema' END AS object_type,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END AS grantee,
       x.privilege_type::text AS privilege
FROM pg_default_acl d
CROSS JOIN LATERAL aclexplode(d.defaclacl) x
WHERE d.defaclnamespace = 0
   OR d.defaclnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
ORDER BY 1, 2, 3, 4, 5
"#;

/// Members of the roles holding grants, followed through membership chains.
const MEMBERS_SQL: &str = r#"
WITH RECURSIVE holders AS (
    SELECT DISTINCT x.grantee AS roleid
    FROM pg_namespace n, LATERAL aclexplode(coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))) x
    WHERE n.nspname = $1 AND x.grantee <> 0
),
chain(member, roleid, inherits, can_set, depth) AS (
    SELECT m.member, m.roleid, {{inherit}}, {{set}}, 1
    FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
    WHERE m.roleid IN (SELECT roleid FROM holders)
    UNION
    SELECT m.member, chain.roleid, chain.inherits AND {{inherit}}, chain.can_set AND {{set}},
           chain.depth + 1
    FROM chain
    JOIN pg_auth_members m ON m.roleid = chain.member
    JOIN pg_roles r ON r.oid = m.member
    WHERE chain.depth < 16
)
SELECT DISTINCT pg_get_userbyid(member)::text AS member, pg_get_userbyid(roleid)::text AS role,
       bool_or(inherits) OVER (PARTITION BY member, roleid) AS inherits,
       bool_or(can_set) OVER (PARTITION BY member, roleid) AS can_set
FROM chain
ORDER BY 1, 2
"#;

/// Whether a membership grant passes privileges on: per grant since PostgreSQL 16
/// (`pg_auth_members.inherit_option`), per member role before. Read through `to_jsonb` so
/// one text runs on both.
const INHERIT: &str = "coalesce((to_jsonb(m) ->> 'inherit_option')::boolean, r.rolinherit)";

/// Whether a membership grant allows `SET ROLE`: per grant since PostgreSQL 16
/// (`pg_auth_members.set_option`), always before.
const SET: &str = "coalesce((to_jsonb(m) ->> 'set_option')::boolean, true)";

const OWNERS_SQL: &str = r#"
WITH n AS (SELECT oid, nspname, nspowner FROM pg_namespace WHERE nspname = $1)
SELECT 'schema' AS kind, n.nspname::text AS object, pg_get_userbyid(n.nspowner)::text AS owner
FROM n
UNION ALL
SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'view'
            ELSE 'table' END,
       c.relname::text, pg_get_userbyid(c.relowner)::text
FROM n
JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid
    AND d.classid = 'pg_class'::regclass
JOIN pg_class c ON c.oid = d.objid AND c.relnamespace = n.oid
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL
SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       pg_get_userbyid(p.proowner)::text
FROM n
JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid
    AND d.classid = 'pg_proc'::regclass
JOIN pg_proc p ON p.oid = d.objid AND p.pronamespace = n.oid
ORDER BY 1, 2
"#;

/// Reads the grant matrix of `schema`: four set-based queries (ACLs, owners, defaults,
/// members), run side by side.
pub async fn grant_matrix(session: &Session, schema: &str) -> Result<GrantMatrix> {
    let members_sql = crate::sql::SqlVars::new()
        .keyword("inherit", INHERIT)
        .keyword("set", SET)
        .render(MEMBERS_SQL)?;
    let (rows, owners, defaults, members) = tokio::try_join!(
        sqlx::query_as::<_, (String, String, String, String, bool, bool)>(ENTRIES_SQL)
            .bind(schema)
            .fetch_all(&session.pool),
        sqlx::query_as::<_, (String, String, String)>(OWNERS_SQL)
            .bind(schema)
            .fetch_all(&session.pool),
        sqlx::query_as::<_, (String, bool, String, String, String)>(DEFAULTS_SQL)
            .bind(schema)
            .fetch_all(&session.pool),
        sqlx::query_as::<_, (String, String, bool, bool)>(&members_sql)
            .bind(schema)
            .fetch_all(&session.pool),
    )
    .map_err(Error::db(format!("reading the grants of {schema}")))?;
    let owners: Vec<ObjectOwner> = owners
        .into_iter()
        .map(|(kind, object, owner)| {
            Ok(ObjectOwner {
                kind: ObjectKind::parse(&kind)?,
                object,
                owner,
            })
        })
        .collect::<Result<_>>()?;
    Ok(GrantMatrix {
        schema: schema.into(),
        schema_owner: owners
            .iter()
            .find(|o| o.kind == ObjectKind::Schema)
            .map(|o| o.owner.clone())
            .unwrap_or_default(),
        entries: rows
            .into_iter()
            .map(|(kind, object, grantee, privilege, grantable, owner)| {
                Ok(GrantEntry {
                    grantee,
                    kind: ObjectKind::parse(&kind)?,
                    object,
                    privilege,
                    grantable,
                    owner,
                })
            })
            .collect::<Result<_>>()?,
        owners,
        defaults: defaults
            .into_iter()
            .map(
                |(owner, in_schema, object_type, grantee, privilege)| DefaultPrivilege {
                    owner,
                    in_schema,
                    object_type,
                    grantee,
                    privilege,
                },
            )
            .collect(),
        memberships: members
            .into_iter()
            .map(|(member, role, inherits, can_set)| Membership {
                member,
                role,
                inherits,
                can_set,
            })
            .collect(),
    })
}
