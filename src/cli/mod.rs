//! The headless face: argument parsing, one module per subcommand group, exit codes.

/// `print!` for command output: see [`output::write_out`] (a closed pipe is not a panic).
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::write_out(format_args!($($arg)*)) };
}

/// `println!` for command output: see [`output::write_out`].
macro_rules! outln {
    () => { $crate::cli::output::write_out(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::cli::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod audit;
pub mod backup;
mod bulk;
mod demo;
mod init;
mod log;
pub mod nodes;
pub mod output;
mod progress;
pub mod tenant;
mod worker_login;

use crate::config::{LoadedConfig, Profile};
use crate::connect::{self, ConnectionSpec};
use crate::error::{Error, Result};
use crate::session::Session;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub use crate::exit::{ERROR as EXIT_ERROR, FINDINGS as EXIT_FINDINGS, OK as EXIT_OK};

/// What the entry point does after the command line has run.
pub enum Next {
    /// Exit with this code.
    Exit(u8),
    /// Open the console (no subcommand, or `demo` on a terminal).
    Console(Box<Console>),
}

/// Everything the console needs, prepared by the command line. The entry point checks the
/// `[keys]` remapping and the terminal before it connects, so a bad config fails fast.
pub struct Console {
    /// Where to connect, when the session is not open yet.
    pub context: Option<Context>,
    /// The session, when already open (the demo's).
    pub session: Option<Session>,
    /// Profile name for the header.
    pub profile: String,
    /// The config's `[keys]` remapping, unchecked (the console checks it).
    pub keys: crate::config::KeyConfig,
    /// The demo's throwaway cluster: removed when dropped, after the console closes.
    pub cluster: Option<crate::demo::DemoCluster>,
}

const ABOUT: &str =
    "Operate a schema-per-tenant PostgreSQL database: registry, sizes, grants, provisioning.";

const LONG_ABOUT: &str = "\
Operate a PostgreSQL database that is multi-tenant by schema per tenant.

Without a subcommand, tenantctl opens the interactive console. Every subcommand
is the same operation headless, for scripts: `--format json` gives stable keys,
and the exit code is 0 when done and 2 when anything went wrong (stderr then
says why in one line, and what to do next).

Connection settings come from --dsn, else the config profile, else the libpq
environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGPASSFILE,
PGSSLMODE, PGSSLROOTCERT, PGAPPNAME) and ~/.pgpass, as psql takes them.

Try it without a database: `tenantctl demo` starts a throwaway PostgreSQL with
sample tenants and opens the console on it.";

const EXAMPLES: &str = "\
Examples:
  tenantctl demo                                   try it on a throwaway database
  PGUSER=postgres tenantctl init                   bootstrap roles, commons, registry
  tenantctl tenant create acme --name 'Acme' --set plan=team
  tenantctl tenant list --format json              the registry, for scripts
  tenantctl --profile prod --read-only             the console, unable to change anything";

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "tenantctl", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// Config file [default: $TENANTCTL_CONFIG, else ~/.config/tenantctl/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Profile of the config file to use [default: the config's default_profile, else "default"]
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// postgres:// URL; overrides the profile's connection fields (keep passwords out of it:
    /// use PGPASSWORD, ~/.pgpass or password_command)
    #[arg(long, global = true, value_name = "URL")]
    pub dsn: Option<String>,
    /// Change nothing: every session runs with default_transaction_read_only = on
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Folder of V<number>__<description>.sql tenant template versions [default: the
    /// config's template_dir, else the built-in sample template]
    #[arg(long, global = true, value_name = "DIR")]
    pub template_dir: Option<PathBuf>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--format` as typed: markdown is for `audit` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    /// Markdown, for `audit` (ready to paste into a ticket)
    Markdown,
}

/// What a command prints: text or JSON (`audit` also reads [`Context::markdown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a throwaway PostgreSQL with sample tenants and open the console on it; all of it is removed on exit
    Demo(demo::DemoArgs),
    /// Bootstrap the model (common schema, registry, console log, roles, grants); idempotent
    Init(init::InitArgs),
    /// List, inspect, provision and change tenants
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Show the console log: every change tenantctl made
    Log(log::LogArgs),
    /// Permission audit: every deviation from the model, with a reason, a path and a fix
    Audit(audit::AuditArgs),
    /// Dump tenant schemas (pg_dump, custom format, with a manifest); prints each backup's path
    Dump(backup::DumpArgs),
    /// Restore a backup: in place (atomic swap, previous contents kept) or with --as beside it
    Restore(backup::RestoreArgs),
    /// List, verify, and release backups and kept copies
    #[command(subcommand)]
    Backups(backup::BackupsCommand),
    /// Citus: the nodes with their tenant count, bytes and balance
    Nodes(nodes::NodesArgs),
    /// Citus: start a rebalance of tenants across the nodes and follow it, or show its status
    Rebalance(nodes::RebalanceArgs),
    /// Citus: let a login role reach the workers (its password on every node, and kept for the coordinator's worker connections)
    WorkerLogin(worker_login::WorkerLoginArgs),
}

/// What every command needs: the config, the profile and the resolved connection.
pub struct Context {
    pub loaded: LoadedConfig,
    pub profile: Profile,
    pub format: Format,
    /// `--format markdown`: text for every command, Markdown for `audit`.
    pub markdown: bool,
    pub read_only: bool,
    pub dsn: Option<String>,
    /// Name of the profile in use, for the console header.
    pub profile_name: String,
    /// `--template-dir`, else the config's `template_dir`.
    pub template_dir: Option<PathBuf>,
}

impl Context {
    fn new(cli: &Cli) -> Result<Context> {
        let loaded = LoadedConfig::load(cli.config.as_deref())?;
        // `--dsn` alone names its target fully: no profile's settings or password_command
        // may leak into it (the default profile's password sent to another host).
        let (profile, profile_name) = if cli.dsn.is_some() && cli.profile.is_none() {
            (Profile::default(), "--dsn".to_string())
        } else {
            (
                loaded.profile(cli.profile.as_deref())?,
                cli.profile
                    .clone()
                    .or_else(|| loaded.config.default_profile.clone())
                    .unwrap_or_else(|| "default".into()),
            )
        };
        Ok(Context {
            profile,
            format: match cli.format {
                OutputFormat::Json => Format::Json,
                OutputFormat::Text | OutputFormat::Markdown => Format::Text,
            },
            markdown: cli.format == OutputFormat::Markdown,
            read_only: cli.read_only,
            dsn: cli.dsn.clone(),
            profile_name,
            template_dir: cli.template_dir.clone().or_else(|| loaded.template_dir()),
            loaded,
        })
    }

    /// The connection settings, resolved; warnings go to stderr.
    pub fn spec(&self) -> Result<ConnectionSpec> {
        let spec = connect::resolve(
            self.dsn.as_deref(),
            &self.profile,
            self.read_only,
            &connect::process_env,
        )?;
        for w in &spec.warnings {
            eprintln!("warning: {w}");
        }
        Ok(spec)
    }

    /// The tenant template in force, read and checked whole.
    pub fn template(&self) -> Result<crate::tenant::Template> {
        match &self.template_dir {
            Some(dir) => crate::tenant::Template::load_dir(dir),
            None => Ok(crate::tenant::Template::builtin()),
        }
    }

    /// Opens a session on the target database. The template is checked first, so a bad
    /// template folder fails before anything connects.
    pub async fn session(&self) -> Result<Session> {
        self.session_with(4).await
    }

    /// [`Context::session`] with a pool of up to `max_connections` (parallel jobs).
    pub async fn session_with(&self, max_connections: u32) -> Result<Session> {
        let template = self.template()?;
        let spec = self.spec()?;
        Ok(Session::open(
            spec,
            self.loaded.config.naming.clone(),
            self.loaded.config.lock_timeout(),
            max_connections,
        )
        .await?
        .with_template(template))
    }
}

/// Runs the command line; a subcommand's exit code, or the console to open.
pub async fn run(cli: Cli) -> Next {
    if cli.dsn.as_deref().is_some_and(dsn_has_password) {
        eprintln!(
            "warning: --dsn holds a password, which other users can see in the process list; prefer PGPASSWORD, ~/.pgpass or password_command"
        );
    }
    let result = async move {
        let ctx = Context::new(&cli)?;
        if ctx.markdown && !matches!(cli.command, Some(Command::Audit(_))) {
            return Err(Error::Invalid(
                "--format markdown is for `tenantctl audit`; use text or json here".into(),
            ));
        }
        let exit = |r: Result<u8>| r.map(Next::Exit);
        match &cli.command {
            None => Ok(Next::Console(Box::new(Console {
                session: None,
                profile: ctx.profile_name.clone(),
                keys: ctx.loaded.keys(),
                cluster: None,
                context: Some(ctx),
            }))),
            Some(Command::Demo(args)) => demo::run(&ctx, args).await,
            Some(Command::Init(args)) => exit(init::run(&ctx, args).await),
            Some(Command::Tenant(cmd)) => exit(tenant::run(&ctx, cmd).await),
            Some(Command::Log(args)) => exit(log::run(&ctx, args).await),
            Some(Command::Audit(args)) => exit(audit::run(&ctx, args).await),
            Some(Command::Dump(args)) => exit(backup::dump(&ctx, args).await),
            Some(Command::Restore(args)) => exit(backup::restore(&ctx, args).await),
            Some(Command::Backups(cmd)) => exit(backup::backups(&ctx, cmd).await),
            Some(Command::Nodes(args)) => exit(nodes::nodes(&ctx, args).await),
            Some(Command::Rebalance(args)) => exit(nodes::rebalance(&ctx, args).await),
            Some(Command::WorkerLogin(args)) => exit(worker_login::run(&ctx, args).await),
        }
    }
    .await;
    match result {
        Ok(next) => next,
        Err(e) => {
            report_error(&e);
            Next::Exit(EXIT_ERROR)
        }
    }
}

/// Asks a yes/no question on the terminal; only an explicit yes counts.
pub fn confirm(question: &str) -> Result<bool> {
    use std::io::Write;
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|source| Error::Io {
            what: "reading the answer".into(),
            source,
        })?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Refuses to open the console without a terminal, saying what to use instead.
pub fn require_terminal() -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Error::Invalid(
            "the console needs a terminal; in scripts use a subcommand, e.g. `tenantctl tenant list --format json` (see --help)".into(),
        ));
    }
    Ok(())
}

/// Prints an error as one line of cause and one of what to do next.
pub fn report_error(e: &Error) {
    eprintln!("error: {e}");
    if let Some(hint) = e.hint() {
        eprintln!("hint: {hint}");
    }
}

fn dsn_has_password(dsn: &str) -> bool {
    url::Url::parse(dsn)
        .map(|u| u.password().is_some())
        .unwrap_or(false)
}
