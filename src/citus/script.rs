//! Running a multi-statement script on Citus one statement at a time: for some DDL (CREATE
//! INDEX, ALTER TABLE ... ENABLE ROW LEVEL SECURITY) Citus forwards the client's whole query
//! string to the workers as one prepared statement, which fails when it holds several
//! ("cannot insert multiple commands into a prepared statement").

/// Splits `sql` at top-level semicolons, skipping those inside quotes, dollar quotes and
/// comments. Empty statements (only blanks and comments) are dropped.
pub fn split_statements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let mut has_code = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'\'' | b'"' => {
                has_code = true;
                // E'...' strings escape with a backslash.
                let escapes =
                    c == b'\'' && i > 0 && matches!(b[i - 1], b'E' | b'e') && !ident_byte(b, i, 2);
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == c {
                        if b.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                continue;
            }
            b'$' if !ident_byte(b, i, 1) => {
                has_code = true;
                if let Some(tag_len) = dollar_tag(&b[i..]) {
                    let tag = &sql[i..i + tag_len];
                    let body = i + tag_len;
                    i = match sql[body..].find(tag) {
                        Some(end) => body + end + tag_len,
                        None => b.len(),
                    };
                    continue;
                }
            }
            b';' => {
                if has_code {
                    out.push(sql[start..i].trim());
                }
                start = i + 1;
                has_code = false;
            }
            c if !c.is_ascii_whitespace() => has_code = true,
            _ => {}
        }
        i += 1;
    }
    if has_code {
        out.push(sql[start..].trim());
    }
    out
}

/// True when the byte `back` places before `i` continues an identifier (so `$` or `'` there
/// is part of a name like `a$1`, not a quote).
fn ident_byte(b: &[u8], i: usize, back: usize) -> bool {
    i >= back && (b[i - back].is_ascii_alphanumeric() || b[i - back] == b'_')
}

/// The length of a dollar-quote opening tag (`$$`, `$fn$`) at the start of `b`.
fn dollar_tag(b: &[u8]) -> Option<usize> {
    let mut j = 1;
    while j < b.len() {
        match b[j] {
            b'$' => return Some(j + 1),
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                if j == 1 && c.is_ascii_digit() {
                    return None;
                }
                j += 1;
            }
            _ => return None,
        }
    }
    None
}

/// Runs `sql` statement by statement (see the module doc).
pub async fn run_each(conn: &mut sqlx::PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    for statement in split_statements(sql) {
        crate::session::run_script(&mut *conn, statement).await?;
    }
    Ok(())
}

/// Runs `sql` whole, or on Citus (`citus`) statement by statement.
pub async fn run_script(
    conn: &mut sqlx::PgConnection,
    sql: &str,
    citus: bool,
) -> Result<(), sqlx::Error> {
    if citus {
        run_each(conn, sql).await
    } else {
        crate::session::run_script(conn, sql).await
    }
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let sql = "-- a; comment\nCREATE TABLE a (x text DEFAULT ';');\n/* b; /* nested; */ */\n\
                   CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $fn$ SELECT 1; $fn$;\n\
                   COMMENT ON TABLE a IS E'it\\'s; ok';SELECT \"x;y\" FROM a;\n-- trailing\n";
        assert_eq!(
            split_statements(sql),
            vec![
                "-- a; comment\nCREATE TABLE a (x text DEFAULT ';')",
                "/* b; /* nested; */ */\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $fn$ SELECT 1; $fn$",
                "COMMENT ON TABLE a IS E'it\\'s; ok'",
                "SELECT \"x;y\" FROM a",
            ]
        );
        assert_eq!(
            split_statements("SELECT $1; SELECT a$b"),
            vec!["SELECT $1", "SELECT a$b"]
        );
    }
}
