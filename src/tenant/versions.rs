//! The versions of a tenant template: the built-in sample (`assets/template`) or an
//! operator's folder of `V<number>__<description>.sql` files, checked whole before
//! anything runs, each version with the checksum of its file's bytes.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The placeholders a template version may use.
pub const PLACEHOLDERS: &[&str] = &["schema", "tenant_id", "admin", "service", "rls", "ro"];

/// The built-in sample template: (version, description, file name, bytes).
const BUILTIN: &[(i32, &str, &str, &str)] = &[
    (
        1,
        "users customers orders",
        "v1.sql",
        include_str!("../../assets/template/v1.sql"),
    ),
    (
        2,
        "invoices",
        "v2.sql",
        include_str!("../../assets/template/v2.sql"),
    ),
    (
        3,
        "rls bindings",
        "v3.sql",
        include_str!("../../assets/template/v3.sql"),
    ),
];

/// Citus variants of built-in versions: (version, file name, bytes). See [`Template::for_server`].
const BUILTIN_CITUS: &[(i32, &str, &str)] = &[(
    2,
    "v2.citus.sql",
    include_str!("../../assets/template/v2.citus.sql"),
)];

/// One version of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVersion {
    pub version: i32,
    pub description: String,
    /// File name (for messages and history).
    pub file: String,
    pub sql: String,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub checksum: String,
}

/// Where a template came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// Compiled into tenantctl.
    Builtin,
    /// An operator's folder.
    Dir(PathBuf),
}

/// A checked template: versions 1..=n, no gap, no duplicate, known placeholders only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub source: TemplateSource,
    pub versions: Vec<TemplateVersion>,
    /// Versions to run instead on a Citus coordinator (`V<n>__<description>.citus.sql`):
    /// what Citus cannot propagate (a policy with a subquery) said another way.
    pub citus_variants: Vec<TemplateVersion>,
}

impl Default for Template {
    fn default() -> Self {
        Template::builtin()
    }
}

/// Lowercase hex SHA-256.
pub fn checksum(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Template {
    /// The sample template compiled into tenantctl.
    pub fn builtin() -> Template {
        Template {
            source: TemplateSource::Builtin,
            versions: BUILTIN
                .iter()
                .map(|(v, d, f, sql)| TemplateVersion {
                    version: *v,
                    description: (*d).into(),
                    file: format!("builtin:{f}"),
                    sql: (*sql).into(),
                    checksum: checksum(sql.as_bytes()),
                })
                .collect(),
            citus_variants: BUILTIN_CITUS
                .iter()
                .filter_map(|(v, f, sql)| {
                    let base = BUILTIN.iter().find(|b| b.0 == *v)?;
                    Some(TemplateVersion {
                        version: *v,
                        description: base.1.into(),
                        file: format!("builtin:{f}"),
                        sql: (*sql).into(),
                        checksum: checksum(sql.as_bytes()),
                    })
                })
                .collect(),
        }
    }

    /// The template as it runs on this server: on a Citus coordinator (`citus`) every
    /// version with a Citus variant runs that file instead, and the history records that
    /// file and its checksum (so the applied-file check compares like with like).
    pub fn for_server(mut self, citus: bool) -> Template {
        if citus {
            for v in &mut self.versions {
                if let Some(c) = self.citus_variants.iter().find(|c| c.version == v.version) {
                    *v = c.clone();
                }
            }
        }
        self
    }

    /// Reads and checks every `V<n>__<desc>.sql` of `dir`. Other `.sql` names, gaps,
    /// duplicates, unreadable files and unknown placeholders are refused, naming the file
    /// (and line); files not ending in `.sql` are ignored (READMEs).
    pub fn load_dir(dir: &Path) -> Result<Template> {
        let shown = dir.display();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Error::Invalid(format!(
                "template directory {shown}: cannot read it ({e}); set template_dir or --template-dir to a readable folder"
            ))
        })?;
        let mut versions: Vec<TemplateVersion> = Vec::new();
        let mut citus_variants: Vec<TemplateVersion> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                Error::Invalid(format!("template directory {shown}: cannot list it ({e})"))
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.to_ascii_lowercase().ends_with(".sql") {
                continue;
            }
            let (version, description) = parse_file_name(&name).ok_or_else(|| {
                Error::Invalid(format!(
                    "template directory {shown}: {name} is not named V<number>__<description>.sql (e.g. V3__add_invoices.sql); rename it or move it out"
                ))
            })?;
            let path = entry.path();
            let bytes = std::fs::read(&path).map_err(|e| {
                Error::Invalid(format!(
                    "template file {}: cannot read it ({e})",
                    path.display()
                ))
            })?;
            let sql = String::from_utf8(bytes).map_err(|e| {
                let at = e.utf8_error().valid_up_to();
                let line = line_of(e.as_bytes(), at);
                Error::Invalid(format!(
                    "template file {}, line {line}: not UTF-8 text",
                    path.display()
                ))
            })?;
            check_placeholders(&sql).map_err(|(line, what)| {
                Error::Invalid(format!(
                    "template file {}, line {line}: {what}; the placeholders are {}",
                    path.display(),
                    PLACEHOLDERS
                        .iter()
                        .map(|p| format!("{{{{{p}}}}}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
            })?;
            // `V2__invoices.citus.sql`: version 2 as it runs on a Citus coordinator.
            let (description, citus) = match description.strip_suffix(".citus") {
                Some(d) => (d.trim().to_string(), true),
                None => (description, false),
            };
            let list = if citus {
                &mut citus_variants
            } else {
                &mut versions
            };
            if let Some(other) = list.iter().find(|v| v.version == version) {
                return Err(Error::Invalid(format!(
                    "template directory {shown}: {name} and {} both claim version {version}; renumber one",
                    other.file
                )));
            }
            list.push(TemplateVersion {
                version,
                description,
                file: name,
                checksum: checksum(sql.as_bytes()),
                sql,
            });
        }
        if let Some(v) = citus_variants
            .iter()
            .find(|c| !versions.iter().any(|v| v.version == c.version))
        {
            return Err(Error::Invalid(format!(
                "template directory {shown}: {} is a Citus variant of version {} and there is no version {} it stands in for; add V{}__<description>.sql or remove it",
                v.file, v.version, v.version, v.version
            )));
        }
        versions.sort_by_key(|v| v.version);
        if versions.is_empty() {
            return Err(Error::Invalid(format!(
                "template directory {shown} holds no V<number>__<description>.sql file"
            )));
        }
        for (i, v) in versions.iter().enumerate() {
            let expected = i as i32 + 1;
            if v.version != expected {
                return Err(Error::Invalid(format!(
                    "template directory {shown}: version {expected} is missing (next file is {}); versions run 1, 2, 3, … without gaps",
                    v.file
                )));
            }
        }
        Ok(Template {
            source: TemplateSource::Dir(dir.to_path_buf()),
            versions,
            citus_variants,
        })
    }

    /// The newest version; 0 for none.
    pub fn latest(&self) -> i32 {
        self.versions.last().map(|v| v.version).unwrap_or(0)
    }

    /// Version `n`.
    pub fn version(&self, n: i32) -> Option<&TemplateVersion> {
        self.versions.iter().find(|v| v.version == n)
    }

    /// Versions `(from, to]`, in order.
    pub fn steps(&self, from: i32, to: i32) -> impl Iterator<Item = &TemplateVersion> {
        self.versions
            .iter()
            .filter(move |v| v.version > from && v.version <= to)
    }

    /// Where the template came from, for messages.
    pub fn shown(&self) -> String {
        match &self.source {
            TemplateSource::Builtin => "the built-in sample template".into(),
            TemplateSource::Dir(d) => format!("template directory {}", d.display()),
        }
    }
}

/// `V<number>__<description>.sql` → (number, description with `_` as spaces).
fn parse_file_name(name: &str) -> Option<(i32, String)> {
    let stem = name
        .strip_suffix(".sql")
        .or_else(|| name.strip_suffix(".SQL"))?;
    let rest = stem.strip_prefix('V').or_else(|| stem.strip_prefix('v'))?;
    let (num, desc) = rest.split_once("__")?;
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let version: i32 = num.parse().ok().filter(|v| *v >= 1)?;
    Some((version, desc.replace('_', " ").trim().to_string()))
}

/// 1-based line of byte `at`.
fn line_of(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The first unknown or unterminated placeholder, with its line.
fn check_placeholders(sql: &str) -> std::result::Result<(), (usize, String)> {
    let mut offset = 0;
    while let Some(start) = sql[offset..].find("{{") {
        let at = offset + start;
        let after = &sql[at + 2..];
        let line = line_of(sql.as_bytes(), at);
        let Some(end) = after.find("}}") else {
            return Err((line, "`{{` is never closed".into()));
        };
        let key = after[..end].trim();
        if key.contains("{{") || !PLACEHOLDERS.contains(&key) {
            return Err((line, format!("unknown placeholder {{{{{key}}}}}")));
        }
        offset = at + 2 + end + 2;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_flyway() {
        assert_eq!(
            parse_file_name("V12__add_invoices.sql"),
            Some((12, "add invoices".into()))
        );
        assert_eq!(parse_file_name("12_add.sql"), None);
        assert_eq!(parse_file_name("V0__zero.sql"), None);
        assert_eq!(parse_file_name("Vx__a.sql"), None);
        assert_eq!(parse_file_name("V1_single.sql"), None);
    }

    #[test]
    fn placeholders_are_checked_with_their_line() {
        assert!(check_placeholders("SELECT {{schema}}, {{ro}}").is_ok());
        assert_eq!(
            check_placeholders("SELECT 1;\nSELECT {{commons}}").map_err(|e| e.0),
            Err(2)
        );
        assert_eq!(
            check_placeholders("\n\nSELECT {{schema").map_err(|e| e.0),
            Err(3)
        );
    }

    #[test]
    fn the_builtin_template_uses_known_placeholders_only() {
        let t = Template::builtin();
        for v in t.versions.iter().chain(&t.citus_variants) {
            assert!(check_placeholders(&v.sql).is_ok(), "{}", v.file);
        }
    }

    #[test]
    fn a_citus_variant_stands_in_for_its_version_on_citus_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("V1__base.sql"), "SELECT 1").unwrap();
        std::fs::write(dir.path().join("V1__base.citus.sql"), "SELECT 2").unwrap();
        let t = Template::load_dir(dir.path()).unwrap();
        assert_eq!(t.clone().for_server(false).versions[0].sql, "SELECT 1");
        let on_citus = t.for_server(true);
        assert_eq!(
            (
                on_citus.versions[0].sql.as_str(),
                on_citus.versions[0].file.as_str()
            ),
            ("SELECT 2", "V1__base.citus.sql")
        );
        assert_eq!(on_citus.versions[0].description, "base");
        std::fs::write(dir.path().join("V2__next.citus.sql"), "SELECT 3").unwrap();
        let err = Template::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no version 2"), "{err}");
    }
}
