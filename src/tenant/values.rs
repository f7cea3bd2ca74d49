//! What operators type about a tenant: its name and `KEY=VALUE` config entries; and how
//! config values are shown, with secrets masked.

use crate::error::{Error, Result};
use serde_json::Value;

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Checks a display name: 1 to 200 characters, not only spaces.
pub fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Invalid(format!(
            "tenant name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(())
}

/// Splits one `KEY=VALUE` (the value may hold `=` and spaces). The CLI's `--set` takes one
/// such argument (the shell did the quoting); [`parse_pairs`] applies the same rule to each
/// pair of a typed line. Errors never repeat the input: it may be a secret typed in the
/// wrong place.
pub fn parse_pair(raw: &str) -> std::result::Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        Some(_) => {
            Err("the key before = is empty (the value is not shown); write KEY=VALUE".into())
        }
        None => Err(
            "there is no = in it (it is not shown, in case it is a secret); write KEY=VALUE".into(),
        ),
    }
}

/// Parses a line of `KEY=VALUE` pairs separated by spaces, as typed in a dialog. Quotes
/// work as in a shell: `name="Acme Corp"` or `'note=two words'`; `\` escapes the next
/// character outside single quotes. Errors never repeat what was typed: a secret typed in
/// the wrong place must not land on screen.
pub fn parse_pairs(line: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' | '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            Some(e) => w.push(e),
                            None => return Err(format!("a {c} quote is not closed")),
                        },
                        Some(other) => w.push(other),
                        None => return Err(format!("a {c} quote is not closed")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(e) => word.get_or_insert_with(String::new).push(e),
                None => return Err("a trailing \\ escapes nothing".into()),
            },
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            parse_pair(w).map_err(|_| {
                format!(
                    "pair {} is not KEY=VALUE (not shown, in case it is a secret); separate pairs with spaces, quote values that hold spaces",
                    i + 1
                )
            })
        })
        .collect()
}

/// A config value as typed: JSON when it parses (`42`, `true`, `{"a":1}`), else the text
/// itself as a JSON string.
pub fn parse_config_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// Turns `KEY=VALUE` pairs into a JSON object, refusing empty keys.
pub(crate) fn config_object(pairs: &[(String, String)]) -> Result<Value> {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        let key = k.trim();
        if key.is_empty() {
            return Err(Error::Invalid(
                "a config key is empty (its value is not shown); write KEY=VALUE".into(),
            ));
        }
        map.insert(key.to_string(), parse_config_value(v));
    }
    Ok(Value::Object(map))
}

/// True for keys whose values are credentials (`db_password`, `apiKey`, `stripe_token`,
/// `passphrase`, `pwd`, `auth_header`, `dsn`, `signing_key`, …). Errs towards masking.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "credential",
        "private_key",
        "auth",
        "dsn",
    ]
    .iter()
    .any(|s| k.contains(s))
        || k == "key"
        || k.ends_with("_key")
        || k.ends_with("-key")
        || key.ends_with("Key")
}

/// True for a value that carries a password whatever its key: a URL with one
/// (`postgres://app:pw@db/x`).
pub fn is_secret_value(value: &Value) -> bool {
    match value {
        Value::String(s) => {
            s.contains("://") && url::Url::parse(s).is_ok_and(|u| u.password().is_some())
        }
        _ => false,
    }
}

/// Shown in place of a secret value.
pub const MASK: &str = "••••••";

/// A copy of a config object with the values of secret-looking keys masked, at any depth,
/// for output, logs and screens; the registry keeps the real values.
pub fn masked(config: &Value) -> Value {
    match config {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) || is_secret_value(v) {
                        Value::String(MASK.into())
                    } else {
                        masked(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| {
                    if is_secret_value(v) {
                        Value::String(MASK.into())
                    } else {
                        masked(v)
                    }
                })
                .collect(),
        ),
        v if is_secret_value(v) => Value::String(MASK.into()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_are_json_when_they_parse() {
        assert_eq!(parse_config_value("42"), serde_json::json!(42));
        assert_eq!(parse_config_value("true"), serde_json::json!(true));
        assert_eq!(parse_config_value("eu-west"), serde_json::json!("eu-west"));
        assert_eq!(
            parse_config_value(r#"{"a":1}"#),
            serde_json::json!({"a": 1})
        );
        assert!(config_object(&[(" ".into(), "x".into())]).is_err());
    }

    #[test]
    fn typed_pairs_take_quoted_values_with_spaces() {
        assert_eq!(
            parse_pairs(r#"plan=team note="two words" 'x=a b' y=a\ b"#),
            Ok(vec![
                ("plan".into(), "team".into()),
                ("note".into(), "two words".into()),
                ("x".into(), "a b".into()),
                ("y".into(), "a b".into()),
            ])
        );
        assert_eq!(parse_pairs("k="), Ok(vec![("k".into(), "".into())]));
        assert!(parse_pairs("novalue").is_err());
        assert!(parse_pairs(r#"k="open"#).is_err());
        assert!(parse_pairs("=v").is_err());
    }

    #[test]
    fn secrets_are_masked_at_any_depth() {
        let c = serde_json::json!({"plan": "team", "smtp": {"host": "mx", "password": "pw"}, "apiKey": "k"});
        assert_eq!(
            masked(&c),
            serde_json::json!({"plan": "team", "smtp": {"host": "mx", "password": MASK}, "apiKey": MASK})
        );
    }
}
