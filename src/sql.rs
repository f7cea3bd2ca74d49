//! SQL templates: the one placeholder syntax, `{{name}}`, and its one renderer.
//!
//! Every identifier reaches SQL through [`SqlVars::ident`] (validated names, quoted here),
//! every literal through [`SqlVars::literal`]; values from users travel as bind parameters.
//! A template naming a placeholder without a value, or leaving `{{` open, is an error, so a
//! typo in a template fails its first run instead of sending half-rendered SQL.

use crate::names::{quote_ident, quote_literal};
use std::collections::BTreeMap;

/// Values for `{{name}}` placeholders; each is already quoted SQL.
#[derive(Debug, Default, Clone)]
pub struct SqlVars(BTreeMap<String, String>);

/// A template that cannot be rendered: a bug in the template, not user input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("SQL template uses {{{{{0}}}}}, which has no value")]
    Unknown(String),
    #[error("SQL template has an unterminated {{{{ at byte {0}")]
    Unterminated(usize),
}

/// The old name of [`TemplateError`], for code written before it could say more.
pub type MissingVar = TemplateError;

impl SqlVars {
    /// An empty set.
    pub fn new() -> SqlVars {
        SqlVars::default()
    }

    /// Adds an identifier, quoted.
    pub fn ident(&mut self, key: &str, name: &str) -> &mut Self {
        self.0.insert(key.into(), quote_ident(name));
        self
    }

    /// Adds `schema.object`, each part quoted.
    pub fn qualified(&mut self, key: &str, schema: &str, object: &str) -> &mut Self {
        self.0
            .insert(key.into(), crate::names::qualified(schema, object));
        self
    }

    /// Adds `a, b, …`, each identifier quoted (`DROP SCHEMA {{list}}`).
    pub fn ident_list<S: AsRef<str>>(&mut self, key: &str, names: &[S]) -> &mut Self {
        let list: Vec<String> = names.iter().map(|n| quote_ident(n.as_ref())).collect();
        self.0.insert(key.into(), list.join(", "));
        self
    }

    /// Adds `schema.a, schema.b, …`, every part quoted: for statements taking a list of
    /// relations (`LOCK TABLE`). An empty list is a bug in the caller, so it renders as
    /// nothing and the statement fails to parse rather than acting on something else.
    pub fn qualified_list<S: AsRef<str>>(
        &mut self,
        key: &str,
        schema: &str,
        objects: &[S],
    ) -> &mut Self {
        let list: Vec<String> = objects
            .iter()
            .map(|o| crate::names::qualified(schema, o.as_ref()))
            .collect();
        self.0.insert(key.into(), list.join(", "));
        self
    }

    /// Adds a string literal, quoted.
    pub fn literal(&mut self, key: &str, value: &str) -> &mut Self {
        self.0.insert(key.into(), quote_literal(value));
        self
    }

    /// Adds fixed SQL keywords chosen by the code, never by input (`SELECT, INSERT`).
    pub fn keywords(&mut self, key: &str, words: &[&'static str]) -> &mut Self {
        self.0.insert(key.into(), words.join(", "));
        self
    }

    /// Adds text the server itself deparsed (e.g. `pg_get_function_identity_arguments`),
    /// which quotes every identifier in it; never text from a user.
    pub fn deparsed(&mut self, key: &str, text: &str) -> &mut Self {
        self.0.insert(key.into(), text.into());
        self
    }

    /// Adds a grantee: the keyword PUBLIC, or a quoted role name.
    pub fn grantee(&mut self, key: &str, role: &str) -> &mut Self {
        let value = if role == "PUBLIC" {
            "PUBLIC".to_string()
        } else {
            quote_ident(role)
        };
        self.0.insert(key.into(), value);
        self
    }

    /// Adds an integer.
    pub fn number(&mut self, key: &str, value: i64) -> &mut Self {
        self.0.insert(key.into(), value.to_string());
        self
    }

    /// Adds a fixed SQL keyword chosen by the code (never by input), e.g. `GRANT`/`REVOKE`.
    pub fn keyword(&mut self, key: &str, word: &'static str) -> &mut Self {
        self.0.insert(key.into(), word.into());
        self
    }

    /// Adds another variable set's entries.
    pub fn extend(&mut self, other: &SqlVars) -> &mut Self {
        self.0
            .extend(other.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }

    /// Replaces every `{{key}}` in `template`.
    pub fn render(&self, template: &str) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(TemplateError::Unterminated(offset + start));
            };
            let key = after[..end].trim();
            if key.contains("{{") {
                return Err(TemplateError::Unterminated(offset + start));
            }
            let value = self
                .0
                .get(key)
                .ok_or_else(|| TemplateError::Unknown(key.into()))?;
            out.push_str(value);
            let consumed = start + 2 + end + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Renders `template` with `vars`; short for `vars.render(template)`.
pub fn render(template: &str, vars: &SqlVars) -> Result<String, TemplateError> {
    vars.render(template)
}
