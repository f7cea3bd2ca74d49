//! `tenantctl init`.

use super::{Context, EXIT_OK, Format, output};
use crate::bootstrap::{self, InitOptions};
use crate::connect::Secret;
use crate::error::{Error, Result};
use std::path::PathBuf;

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Let the admin role log in, with the password in this file (first line); stored as a
    /// SCRAM verifier, never sent in clear
    #[arg(long, value_name = "PATH", conflicts_with = "admin_password_prompt")]
    pub admin_password_file: Option<PathBuf>,
    /// Let the admin role log in, asking for its password on the terminal
    #[arg(long)]
    pub admin_password_prompt: bool,
}

fn admin_password(args: &InitArgs) -> Result<Option<Secret>> {
    if let Some(path) = &args.admin_password_file {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            what: format!("reading the admin password file {}", path.display()),
            source,
        })?;
        let pw = text.lines().next().unwrap_or("").to_string();
        if pw.is_empty() {
            return Err(Error::Invalid(format!(
                "the admin password file {} is empty",
                path.display()
            )));
        }
        return Ok(Some(Secret::new(pw)));
    }
    if args.admin_password_prompt {
        let first =
            rpassword::prompt_password("Password for the admin role: ").map_err(|source| {
                Error::Io {
                    what: "reading the password from the terminal".into(),
                    source,
                }
            })?;
        let again = rpassword::prompt_password("Again: ").map_err(|source| Error::Io {
            what: "reading the password from the terminal".into(),
            source,
        })?;
        if first != again {
            return Err(Error::Invalid(
                "the two passwords differ; nothing was changed".into(),
            ));
        }
        if first.is_empty() {
            return Err(Error::Invalid(
                "an empty password; nothing was changed".into(),
            ));
        }
        return Ok(Some(Secret::new(first)));
    }
    Ok(None)
}

/// Runs `init`.
pub async fn run(ctx: &Context, args: &InitArgs) -> Result<u8> {
    let admin_password = admin_password(args)?;
    let session = ctx.session().await?;
    let report = bootstrap::init(&session, &InitOptions { admin_password }).await?;
    match ctx.format {
        Format::Json => output::print_json(&report)?,
        Format::Text => {
            let names = &session.names;
            if report.was_current() {
                outln!(
                    "already bootstrapped at version {}; nothing to do",
                    report.to_version
                );
            } else if report.from_version == report.to_version {
                outln!("bootstrap is at version {}", report.to_version);
            } else if report.from_version == 0 {
                outln!(
                    "bootstrapped version {}: schema {}, registry {}, console log {}",
                    report.to_version,
                    names.common_schema,
                    names.registry(),
                    names.log()
                );
            } else {
                outln!(
                    "upgraded the bootstrap from version {} to {}",
                    report.from_version,
                    report.to_version
                );
            }
            if !report.roles_created.is_empty() {
                outln!("roles created: {}", report.roles_created.join(", "));
            }
            if !report.roles_existing.is_empty() && !report.was_current() {
                outln!(
                    "roles already present (attributes left as they were): {}",
                    report.roles_existing.join(", ")
                );
            }
            if let Some(problem) = &report.scratch_problem {
                outln!(
                    "warning: no scratch database, so restores will refuse until init is rerun as a superuser: {problem}"
                );
            }
            if report.history_backfilled > 0 {
                outln!(
                    "template history backfilled for {} tenant(s) made by an older release: their versions are recorded as the built-in template's, marked backfilled",
                    report.history_backfilled
                );
            }
            if let Some(who) = &report.granted_admin_to {
                outln!("{who} may now SET ROLE {}, to act as it", names.admin_role);
            }
            if report.public_create_revoked {
                outln!(
                    "revoked CREATE on schema public from PUBLIC: every role could create there, and it is on the application's search_path"
                );
            }
            if let Some(label) = &report.citus_label {
                outln!("{label}: tenant schemas are created distributed (one worker each)");
            }
            if let Some(c) = report.citus.as_ref().filter(|c| **c != Default::default()) {
                if !c.logins_set.is_empty() || !c.authinfo_added.is_empty() {
                    outln!(
                        "Citus: {} may now log in to the workers, with passwords only the coordinator knows (pg_dist_authinfo, superusers only); give the application's login role the same: tenantctl worker-login {} --password-prompt",
                        c.authinfo_added.join(", "),
                        crate::names::quote_ident(&session.names.service_role)
                    );
                }
                if c.set_local_propagated {
                    outln!(
                        "Citus: SET LOCAL now reaches the workers (citus.propagate_set_commands = local): route each transaction with SET LOCAL search_path"
                    );
                }
            }
            if report.registry_made_reference {
                outln!(
                    "Citus: the registry {} is now a reference table (a copy on every node)",
                    names.registry()
                );
            }
            if report.admin_login {
                outln!(
                    "admin role {} may now log in with the password given",
                    names.admin_role
                );
            }
        }
    }
    Ok(EXIT_OK)
}
