//! The TOML config file: profiles, naming policy, paths and timeouts.

use crate::names::NamingPolicy;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "TENANTCTL_CONFIG";
/// Environment variable overriding the backup folder.
pub const BACKUP_DIR_ENV: &str = "TENANTCTL_BACKUP_DIR";

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} does not exist")]
    Missing { path: PathBuf },
    #[error("cannot read config file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}, column {column}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config file {path}: {message}")]
    Invalid { path: String, message: String },
    #[error("profile {name:?} is not in {path}; known profiles: {known}")]
    NoSuchProfile {
        name: String,
        path: String,
        known: String,
    },
}

/// The whole config file.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Profile used when `--profile` is not given.
    pub default_profile: Option<String>,
    /// Folder for dumps; default under the user data dir.
    pub backup_dir: Option<PathBuf>,
    /// Folder of `V<number>__<description>.sql` tenant template versions; relative to the
    /// config file. Without it, the built-in sample template.
    pub template_dir: Option<PathBuf>,
    /// Folder holding pg_dump/pg_restore; when set, the only one searched.
    pub pg_bin_dir: Option<PathBuf>,
    /// Longest wait for a lock during DDL, in seconds.
    pub lock_timeout_secs: Option<u64>,
    /// Names of schemas, tables and roles.
    pub naming: NamingPolicy,
    /// Connection profiles by name.
    pub profiles: BTreeMap<String, Profile>,
    /// `[keys]`: console command id → key or list of keys (checked by the console).
    pub keys: BTreeMap<String, toml::Spanned<KeyList>>,
    /// `[keys]` with the line each entry is on, filled by [`Config::parse`].
    #[serde(skip)]
    pub key_entries: Vec<KeyEntry>,
}

/// A `[keys]` value: one key or several.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum KeyList {
    One(String),
    Many(Vec<String>),
}

/// One `[keys]` entry as written, for the console to check and apply.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyEntry {
    pub id: String,
    pub keys: Vec<String>,
    /// Line of the entry in the config file.
    pub line: usize,
}

/// The `[keys]` table and the file it came from, for messages that name file and line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyConfig {
    pub path: String,
    pub entries: Vec<KeyEntry>,
}

/// One `[profiles.NAME]` section: where and how to connect.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<PathBuf>,
    pub application_name: Option<String>,
    /// A shell command whose standard output is the password (vault, keyring helper).
    pub password_command: Option<String>,
    /// Treat every session of this profile as `--read-only`.
    pub read_only: bool,
}

/// Where the config came from, for messages.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigSource {
    /// A file that was read.
    File(PathBuf),
    /// The default location had no file; built-in defaults apply.
    Defaults(Option<PathBuf>),
}

impl ConfigSource {
    fn shown(&self) -> String {
        match self {
            ConfigSource::File(p) => p.display().to_string(),
            ConfigSource::Defaults(Some(p)) => format!("{} (not present)", p.display()),
            ConfigSource::Defaults(None) => "the built-in defaults".into(),
        }
    }
}

/// A loaded config and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    pub source: ConfigSource,
}

/// The default config path: the user config dir from `directories`.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "tenantctl").map(|d| d.config_dir().join("config.toml"))
}

/// The default backup folder: the user data dir from `directories`.
pub fn default_backup_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "tenantctl").map(|d| d.data_dir().join("backups"))
}

impl LoadedConfig {
    /// Finds and reads the config: `--config`, else `$TENANTCTL_CONFIG`, else the default path.
    /// A named file must exist; a missing default file means built-in defaults.
    pub fn load(named: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        let env = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty());
        match named
            .map(Path::to_path_buf)
            .or_else(|| env.map(PathBuf::from))
        {
            Some(path) => Self::read(&path, true),
            None => match default_config_path() {
                Some(path) => Self::read(&path, false),
                None => Ok(LoadedConfig {
                    config: Config::default(),
                    source: ConfigSource::Defaults(None),
                }),
            },
        }
    }

    fn read(path: &Path, required: bool) -> Result<LoadedConfig, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if required {
                    return Err(ConfigError::Missing { path: path.into() });
                }
                return Ok(LoadedConfig {
                    config: Config::default(),
                    source: ConfigSource::Defaults(Some(path.into())),
                });
            }
            Err(source) => {
                return Err(ConfigError::Unreadable {
                    path: path.into(),
                    source,
                });
            }
        };
        let config = Config::parse(&text, path)?;
        refuse_writable_with_command(path, &config)?;
        Ok(LoadedConfig {
            config,
            source: ConfigSource::File(path.into()),
        })
    }

    /// The profile to use: `--profile`, else `default_profile`, else `default` (which may be absent).
    pub fn profile(&self, requested: Option<&str>) -> Result<Profile, ConfigError> {
        let explicit = requested.or(self.config.default_profile.as_deref());
        let name = explicit.unwrap_or("default");
        match self.config.profiles.get(name) {
            Some(p) => Ok(p.clone()),
            None if explicit.is_none() => Ok(Profile::default()),
            None => Err(ConfigError::NoSuchProfile {
                name: name.into(),
                path: self.source.shown(),
                known: if self.config.profiles.is_empty() {
                    "none".into()
                } else {
                    self.config
                        .profiles
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }),
        }
    }

    /// The backup folder: `$TENANTCTL_BACKUP_DIR`, else the config's, else the default.
    /// The `[keys]` remapping, with the file it came from.
    pub fn keys(&self) -> KeyConfig {
        KeyConfig {
            path: self.source.shown(),
            entries: self.config.key_entries.clone(),
        }
    }

    pub fn backup_dir(&self) -> Option<PathBuf> {
        std::env::var_os(BACKUP_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| self.config.backup_dir.clone())
            .or_else(default_backup_dir)
    }

    /// The config's `template_dir`, relative paths taken from the config file's folder.
    pub fn template_dir(&self) -> Option<PathBuf> {
        let dir = self.config.template_dir.clone()?;
        match &self.source {
            ConfigSource::File(p) if dir.is_relative() => {
                Some(p.parent().map(|d| d.join(&dir)).unwrap_or(dir))
            }
            _ => Some(dir),
        }
    }
}

impl Config {
    /// Parses TOML text; errors name the file, line and column.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ConfigError::Malformed {
                path: path.into(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let mut config = config;
        config.key_entries = config
            .keys
            .iter()
            .map(|(id, value)| KeyEntry {
                id: id.clone(),
                keys: match value.get_ref() {
                    KeyList::One(k) => vec![k.clone()],
                    KeyList::Many(ks) => ks.clone(),
                },
                line: line_col(text, value.span().start).0,
            })
            .collect();
        config.naming.validate().map_err(|e| ConfigError::Invalid {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if config.lock_timeout_secs == Some(0) {
            return Err(ConfigError::Invalid {
                path: path.display().to_string(),
                message: "lock_timeout_secs must be at least 1".into(),
            });
        }
        Ok(config)
    }

    /// Lock timeout for DDL (default 10 s).
    pub fn lock_timeout(&self) -> Duration {
        Duration::from_secs(self.lock_timeout_secs.unwrap_or(10))
    }
}

/// A config file others may write would let them choose the command tenantctl runs for a
/// password: refused, as libpq refuses a pgpass file others may read.
fn refuse_writable_with_command(path: &Path, config: &Config) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    if !config
        .profiles
        .values()
        .any(|p| p.password_command.is_some())
    {
        return Ok(());
    }
    let mode = std::fs::metadata(path)
        .map_err(|source| ConfigError::Unreadable {
            path: path.into(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o022 != 0 {
        return Err(ConfigError::Invalid {
            path: path.display().to_string(),
            message: format!(
                "it holds a password_command and is writable by group or others (mode {:o}), who could make tenantctl run any command; chmod go-w it",
                mode & 0o777
            ),
        });
    }
    Ok(())
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count() + 1)
        .unwrap_or(1);
    (line, column)
}
