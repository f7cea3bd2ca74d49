//! PostgreSQL access control lists, parsed from their text form (`grantee=privs/grantor`).
//!
//! The audit ships raw ACL columns (`relacl::text[]`) and decides in Rust: exploding them
//! server-side with `aclexplode` or asking `has_*_privilege` per role and object does not
//! scale to 10,000 tenants.

use serde::Serialize;
use std::fmt;

/// One privilege of the SQL standard or PostgreSQL, as an ACL letter stands for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Privilege {
    Select,
    Insert,
    Update,
    Delete,
    Truncate,
    References,
    Trigger,
    Maintain,
    Execute,
    Usage,
    Create,
    Connect,
    Temporary,
    Set,
    AlterSystem,
}

impl Privilege {
    /// The privilege an ACL letter stands for (see `aclitem` in the PostgreSQL docs).
    pub fn from_letter(c: char) -> Option<Privilege> {
        Some(match c {
            'r' => Privilege::Select,
            'a' => Privilege::Insert,
            'w' => Privilege::Update,
            'd' => Privilege::Delete,
            'D' => Privilege::Truncate,
            'x' => Privilege::References,
            't' => Privilege::Trigger,
            'm' => Privilege::Maintain,
            'X' => Privilege::Execute,
            'U' => Privilege::Usage,
            'C' => Privilege::Create,
            'c' => Privilege::Connect,
            'T' => Privilege::Temporary,
            's' => Privilege::Set,
            'A' => Privilege::AlterSystem,
            _ => return None,
        })
    }

    /// The keyword GRANT and REVOKE take.
    pub fn keyword(self) -> &'static str {
        match self {
            Privilege::Select => "SELECT",
            Privilege::Insert => "INSERT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
            Privilege::Truncate => "TRUNCATE",
            Privilege::References => "REFERENCES",
            Privilege::Trigger => "TRIGGER",
            Privilege::Maintain => "MAINTAIN",
            Privilege::Execute => "EXECUTE",
            Privilege::Usage => "USAGE",
            Privilege::Create => "CREATE",
            Privilege::Connect => "CONNECT",
            Privilege::Temporary => "TEMPORARY",
            Privilege::Set => "SET",
            Privilege::AlterSystem => "ALTER SYSTEM",
        }
    }

    /// True for the privileges that read or change table data.
    pub fn touches_data(self) -> bool {
        matches!(
            self,
            Privilege::Select
                | Privilege::Insert
                | Privilege::Update
                | Privilege::Delete
                | Privilege::Truncate
        )
    }

    /// True for the privileges that change table data.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Privilege::Insert | Privilege::Update | Privilege::Delete | Privilege::Truncate
        )
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// Who an ACL entry is for: a named role, or every role (`PUBLIC`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grantee {
    Public,
    Role(String),
}

impl Grantee {
    /// The role's name, or `PUBLIC`.
    pub fn name(&self) -> &str {
        match self {
            Grantee::Public => "PUBLIC",
            Grantee::Role(r) => r,
        }
    }
}

/// One ACL entry: what one grantee holds, and which of it it may pass on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclItem {
    pub grantee: Grantee,
    pub privileges: Vec<Privilege>,
    /// The subset of `privileges` held WITH GRANT OPTION.
    pub grantable: Vec<Privilege>,
    pub grantor: String,
}

/// An ACL entry the parser could not read: the text, for the finding that reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable ACL entry {0:?}")]
pub struct BadAcl(pub String);

/// Parses one `aclitem` in its text form: `grantee=privs/grantor`, where an empty grantee
/// is PUBLIC, names are double-quoted when they need it, and `*` after a letter marks the
/// grant option.
pub fn parse_item(text: &str) -> Result<AclItem, BadAcl> {
    let bad = || BadAcl(text.to_string());
    let (grantee, rest) = read_name(text).ok_or_else(bad)?;
    let rest = rest.strip_prefix('=').ok_or_else(bad)?;
    let slash = rest.find('/').ok_or_else(bad)?;
    let (letters, grantor_text) = (&rest[..slash], &rest[slash + 1..]);
    let (grantor, tail) = read_name(grantor_text).ok_or_else(bad)?;
    if !tail.is_empty() {
        return Err(bad());
    }
    let mut privileges = Vec::new();
    let mut grantable = Vec::new();
    let mut chars = letters.chars().peekable();
    while let Some(c) = chars.next() {
        let p = Privilege::from_letter(c).ok_or_else(bad)?;
        privileges.push(p);
        if chars.peek() == Some(&'*') {
            chars.next();
            grantable.push(p);
        }
    }
    Ok(AclItem {
        grantee: if grantee.is_empty() {
            Grantee::Public
        } else {
            Grantee::Role(grantee)
        },
        privileges,
        grantable,
        grantor,
    })
}

/// Parses every entry of an ACL; unreadable entries are returned apart, never dropped.
pub fn parse_acl(items: &[String]) -> (Vec<AclItem>, Vec<BadAcl>) {
    let mut ok = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for item in items {
        match parse_item(item) {
            Ok(i) => ok.push(i),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

/// Reads a role name at the start of `s`: bare up to `=` or `/`, or double-quoted with
/// `""` for a quote. Returns the name and what follows it.
fn read_name(s: &str) -> Option<(String, &str)> {
    if let Some(body) = s.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if body[i + 1..].starts_with('"') {
                    name.push('"');
                    chars.next();
                } else {
                    return Some((name, &body[i + 1..]));
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let end = s.find(['=', '/']).unwrap_or(s.len());
        Some((s[..end].to_string(), &s[end..]))
    }
}
