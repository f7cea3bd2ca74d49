//! `tenant create --from FILE`: many tenants from JSON lines or CSV (id, name, config), each
//! provisioned all or nothing as `tenant create` does, several at a time. Tenants that
//! already exist are reported and skipped, so a rerun finishes what a failure or a cancel
//! left; a file with a malformed line is refused whole, before anything is changed.

use super::NewTenant;
use crate::error::{Error, Result};
use crate::job::{ItemFailure, Progress, ProgressSender, report_progress};
use crate::session::Session;
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// One tenant read from a bulk file.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRow {
    /// 1-based line of the file.
    pub line: usize,
    pub tenant: NewTenant,
}

/// Reads a bulk file: JSON lines (one object a line: `id`, optional `name`, optional
/// `config` object) or CSV with a header naming `id` and optionally `name` and `config`
/// (a JSON object). Blank lines and lines starting with `#` are skipped. On any malformed
/// line, every such line is returned as `line N: what is wrong`.
pub fn parse_bulk(text: &str) -> std::result::Result<Vec<BulkRow>, Vec<String>> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    let Some((_, first)) = lines.first() else {
        return Err(vec!["the file holds no tenants".into()]);
    };
    let parsed = if first.trim_start().starts_with('{') {
        parse_jsonl(&lines)
    } else {
        parse_csv(&lines)
    };
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in parsed {
        match r {
            Err(e) => errors.push(e),
            Ok(row) => {
                if let Some(first) = seen.insert(row.tenant.id.clone(), row.line) {
                    errors.push(format!(
                        "line {}: tenant {:?} already appears on line {first}",
                        row.line, row.tenant.id
                    ));
                } else {
                    rows.push(row);
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn parse_jsonl(lines: &[(usize, &str)]) -> Vec<std::result::Result<BulkRow, String>> {
    lines
        .iter()
        .map(|&(line, text)| {
            let bad = |what: String| format!("line {line}: {what}");
            let value: Value =
                serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
            let Value::Object(map) = value else {
                return Err(bad("expected a JSON object".into()));
            };
            for key in map.keys() {
                if !["id", "name", "config"].contains(&key.as_str()) {
                    return Err(bad(format!(
                        "unknown key {key:?}; the keys are id, name, config"
                    )));
                }
            }
            let id = match map.get("id") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Err(bad("\"id\" must be a non-empty string".into())),
            };
            let name = match map.get("name") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(bad("\"name\" must be a string".into())),
            };
            let config = match map.get("config") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Object(c)) => pairs(c),
                Some(_) => return Err(bad("\"config\" must be a JSON object".into())),
            };
            Ok(BulkRow {
                line,
                tenant: NewTenant { id, name, config },
            })
        })
        .collect()
}

/// Config entries as `tenant create --set` takes them: each value as JSON text, which
/// parses back to the same value.
fn pairs(map: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

fn parse_csv(lines: &[(usize, &str)]) -> Vec<std::result::Result<BulkRow, String>> {
    let Some(&(header_line, header)) = lines.first() else {
        return Vec::new();
    };
    let columns = match split_csv(header) {
        Ok(c) => c,
        Err(e) => return vec![Err(format!("line {header_line}: {e}"))],
    };
    let position = |name: &str| columns.iter().position(|c| c.trim() == name);
    if let Some(unknown) = columns
        .iter()
        .find(|c| !["id", "name", "config"].contains(&c.trim()))
    {
        return vec![Err(format!(
            "line {header_line}: unknown column {unknown:?}; the header names id and optionally name, config"
        ))];
    }
    let Some(id_at) = position("id") else {
        return vec![Err(format!(
            "line {header_line}: the CSV header must name an id column (id,name,config), or write JSON lines"
        ))];
    };
    let (name_at, config_at) = (position("name"), position("config"));
    lines[1..]
        .iter()
        .map(|&(line, text)| {
            let bad = |what: String| format!("line {line}: {what}");
            let cells = split_csv(text).map_err(bad)?;
            if cells.len() != columns.len() {
                return Err(bad(format!(
                    "{} fields, the header has {}",
                    cells.len(),
                    columns.len()
                )));
            }
            let id = cells[id_at].trim().to_string();
            if id.is_empty() {
                return Err(bad("the id is empty".into()));
            }
            let name = name_at
                .map(|i| cells[i].clone())
                .filter(|n| !n.trim().is_empty());
            let config =
                match config_at.map(|i| cells[i].trim()) {
                    None | Some("") => Vec::new(),
                    Some(text) => match serde_json::from_str::<Value>(text) {
                        Ok(Value::Object(c)) => pairs(&c),
                        _ => return Err(bad(
                            "config must be a JSON object, e.g. \"{\"\"plan\"\":\"\"team\"\"}\""
                                .into(),
                        )),
                    },
                };
            Ok(BulkRow {
                line,
                tenant: NewTenant { id, name, config },
            })
        })
        .collect()
}

/// Splits one CSV line (RFC 4180 quoting; a quoted field may not span lines).
fn split_csv(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, '"') => return Err("a quote inside an unquoted field".into()),
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) if was_quoted && !c.is_whitespace() => {
                return Err("text after a closing quote".into());
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed on this line".into());
    }
    fields.push(field);
    Ok(fields)
}

/// What happened to one tenant of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkResult {
    Created,
    /// Already in the registry: skipped, not failed (a rerun after a partial run).
    Exists,
    Failed,
}

/// One tenant's outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BulkOutcome {
    pub line: usize,
    pub id: String,
    pub result: BulkResult,
    pub error: Option<String>,
}

/// The whole run, in file order.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct BulkReport {
    pub outcomes: Vec<BulkOutcome>,
    /// True when cancelled before every tenant was tried.
    pub cancelled: bool,
}

impl BulkReport {
    /// Tenants with this result.
    pub fn count(&self, result: BulkResult) -> usize {
        self.outcomes.iter().filter(|o| o.result == result).count()
    }

    /// One line: created, already there, failed.
    pub fn summary(&self) -> String {
        format!(
            "{} created, {} already existed, {} failed{}",
            self.count(BulkResult::Created),
            self.count(BulkResult::Exists),
            self.count(BulkResult::Failed),
            if self.cancelled {
                " (cancelled; rerun the same file to continue)"
            } else {
                ""
            }
        )
    }
}

/// Provisions `rows` over `jobs` connections, each tenant in its own transaction exactly as
/// [`super::create`] does (and logged as it is). Registered tenants are reported as
/// existing, without a write. Follows the [`crate::job`] contract: one progress report per
/// tenant tried; stops starting new tenants when `cancel` fires.
pub async fn create_many(
    session: &Session,
    rows: Vec<BulkRow>,
    jobs: usize,
    progress: &ProgressSender<BulkOutcome>,
    cancel: &CancellationToken,
) -> Result<BulkReport> {
    session.ensure_writable("tenant create --from")?;
    // Once for the whole file, before any tenant: a changed applied file stops them all.
    super::migrate::validate_checksums(session, &[], false, "tenant create").await?;
    let ids: Vec<String> = rows.iter().map(|r| r.tenant.id.clone()).collect();
    // One query for the whole file, not one per tenant.
    let existing: HashSet<String> = sqlx::query_scalar::<_, String>(&format!(
        "SELECT id FROM {} WHERE id = ANY($1)",
        session.names.registry()
    ))
    .bind(&ids)
    .fetch_all(&session.pool)
    .await
    .map_err(|e| crate::catalog::registry_error(session, e))?
    .into_iter()
    .collect();
    let total = rows.len();
    let outcomes: Arc<Mutex<Vec<BulkOutcome>>> = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let record = {
        let outcomes = outcomes.clone();
        let progress = progress.clone();
        move |o: BulkOutcome| {
            let mut all = outcomes.lock().unwrap_or_else(|p| p.into_inner());
            all.push(o.clone());
            report_progress(
                &progress,
                Progress {
                    done: all.len(),
                    total,
                    current: o.id.clone(),
                    failed: match (&o.result, &o.error) {
                        (BulkResult::Failed, Some(e)) => vec![ItemFailure {
                            item: o.id.clone(),
                            error: e.clone(),
                        }],
                        _ => Vec::new(),
                    },
                    landed: vec![o],
                },
            );
        }
    };
    let mut todo = Vec::new();
    for row in rows {
        if existing.contains(&row.tenant.id) {
            record(BulkOutcome {
                line: row.line,
                id: row.tenant.id,
                result: BulkResult::Exists,
                error: None,
            });
        } else {
            todo.push(row);
        }
    }
    let queue = Arc::new(Mutex::new(todo.into_iter()));
    let workers = (0..jobs.max(1)).map(|_| {
        let (queue, session, cancel, record) = (
            queue.clone(),
            session.clone(),
            cancel.clone(),
            record.clone(),
        );
        tokio::spawn(async move {
            loop {
                if cancel.is_cancelled() {
                    break;
                }
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                let Some(row) = next else { break };
                let latest = session.template.latest();
                let created =
                    super::provision::create_checked(&session, &row.tenant, latest, false).await;
                let (result, error) = match created {
                    Ok(_) => (BulkResult::Created, None),
                    Err(e) => (BulkResult::Failed, Some(e.to_string())),
                };
                record(BulkOutcome {
                    line: row.line,
                    id: row.tenant.id,
                    result,
                    error,
                });
            }
        })
    });
    for w in workers.collect::<Vec<_>>() {
        w.await
            .map_err(|e| Error::Invalid(format!("a provisioning worker stopped: {e}")))?;
    }
    let mut outcomes = std::mem::take(&mut *outcomes.lock().unwrap_or_else(|p| p.into_inner()));
    outcomes.sort_by_key(|o| o.line);
    Ok(BulkReport {
        cancelled: outcomes.len() < total,
        outcomes,
    })
}
