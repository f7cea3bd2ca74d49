//! `tenantctl worker-login ROLE`: Citus worker credentials for a login role.

use super::{Context, EXIT_OK, Format, output};
use crate::connect::Secret;
use crate::error::{Error, Result};
use std::path::PathBuf;

/// Arguments of `worker-login`.
#[derive(Debug, clap::Args)]
pub struct WorkerLoginArgs {
    /// The login role (the service role, or a person granted a tenant's read-only role)
    pub role: String,
    /// The role's password, from the first line of this file (never on the command line)
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "password_prompt",
        conflicts_with = "password_prompt"
    )]
    pub password_file: Option<PathBuf>,
    /// Ask for the role's password on the terminal
    #[arg(long)]
    pub password_prompt: bool,
}

fn password(args: &WorkerLoginArgs) -> Result<Secret> {
    let pw = match &args.password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                what: format!("reading the password file {}", path.display()),
                source,
            })?;
            text.lines().next().unwrap_or("").to_string()
        }
        None => {
            let ask = |q: &str| {
                rpassword::prompt_password(q).map_err(|source| Error::Io {
                    what: "reading the password from the terminal".into(),
                    source,
                })
            };
            let first = ask(&format!("Password for {}: ", args.role))?;
            if ask("Again: ")? != first {
                return Err(Error::Invalid(
                    "the two passwords differ; nothing was changed".into(),
                ));
            }
            first
        }
    };
    if pw.is_empty() {
        return Err(Error::Invalid(
            "an empty password; nothing was changed".into(),
        ));
    }
    Ok(Secret::new(pw))
}

/// Runs `worker-login`.
pub async fn run(ctx: &Context, args: &WorkerLoginArgs) -> Result<u8> {
    let password = password(args)?;
    let session = ctx.session().await?;
    let done = crate::citus::logins::set_worker_login(&session, &args.role, &password).await?;
    match ctx.format {
        Format::Json => output::print_json(&done)?,
        Format::Text => outln!(
            "{} may now reach the workers through the coordinator: its password is set on every node, and the coordinator keeps it for its worker connections (pg_dist_authinfo, superusers only{})",
            done.role,
            if done.authinfo_added {
                ""
            } else {
                "; the previous one replaced"
            }
        ),
    }
    Ok(EXIT_OK)
}
