//! The headless face: argument parsing, one module per subcommand group, exit codes.

mod audit;
mod demo;
mod init;
mod log;
pub mod output;
pub mod tenant;

use crate::config::{LoadedConfig, Profile};
use crate::connect::{self, ConnectionSpec};
use crate::error::{Error, Result};
use crate::session::Session;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code: done.
pub const EXIT_OK: u8 = 0;
/// Exit code: the audit found something at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: anything else went wrong.
pub const EXIT_ERROR: u8 = 2;

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
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// Markdown, for `audit` (ready to paste into a ticket)
    Markdown,
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
}

/// What every command needs: the config, the profile and the resolved connection.
pub struct Context {
    pub loaded: LoadedConfig,
    pub profile: Profile,
    pub format: Format,
    pub read_only: bool,
    pub dsn: Option<String>,
    /// Name of the profile in use, for the console header.
    pub profile_name: String,
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
            loaded,
            profile,
            format: cli.format,
            read_only: cli.read_only,
            dsn: cli.dsn.clone(),
            profile_name,
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

    /// Opens a session on the target database.
    pub async fn session(&self) -> Result<Session> {
        let spec = self.spec()?;
        Session::open(
            spec,
            self.loaded.config.naming.clone(),
            self.loaded.config.lock_timeout(),
            4,
        )
        .await
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let code = runtime.block_on(run(cli));
    // Don't wait for lingering pool tasks.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code)
}

async fn run(cli: Cli) -> u8 {
    if cli.dsn.as_deref().is_some_and(dsn_has_password) {
        eprintln!(
            "warning: --dsn holds a password, which other users can see in the process list; prefer PGPASSWORD, ~/.pgpass or password_command"
        );
    }
    let result = async {
        let ctx = Context::new(&cli)?;
        if ctx.format == Format::Markdown && !matches!(cli.command, Some(Command::Audit(_))) {
            return Err(Error::Invalid(
                "--format markdown is for `tenantctl audit`; use text or json here".into(),
            ));
        }
        match &cli.command {
            None => {
                use std::io::IsTerminal;
                if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
                    return Err(Error::Invalid(
                        "the console needs a terminal; in scripts use a subcommand, e.g. `tenantctl tenant list --format json` (see --help)".into(),
                    ));
                }
                let session = ctx.session().await?;
                crate::tui::run(session, ctx.profile_name.clone()).await
            }
            Some(Command::Demo(args)) => demo::run(&ctx, args).await,
            Some(Command::Init(args)) => init::run(&ctx, args).await,
            Some(Command::Tenant(cmd)) => tenant::run(&ctx, cmd).await,
            Some(Command::Log(args)) => log::run(&ctx, args).await,
            Some(Command::Audit(args)) => audit::run(&ctx, args).await,
        }
    }
    .await;
    match result {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            EXIT_ERROR
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
