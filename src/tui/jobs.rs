//! Work on tokio tasks. A job gets a clone of the session, calls the core, and reports
//! back with an [`Action`]; it never sees the state. Long jobs follow the core's one
//! contract ([`crate::job`]): a progress channel and a cancellation token, held here by
//! job id, and a report that says what was done, failed and not tried.

use super::app::{Action, Effect, ErrorText, JobEnd, JobId, Landed, LongJob};
use crate::audit;
use crate::catalog;
use crate::job::{JobReport, Progress, progress_channel};
use crate::journal;
use crate::session::Session;
use crate::tenant;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// Rows of the console log the Activity view shows.
const ACTIVITY_LIMIT: i64 = 500;

/// Cancellation tokens of the running long jobs; a job removes its own when it ends.
type Cancels = Arc<Mutex<HashMap<JobId, CancellationToken>>>;

/// Starts jobs and cancels them.
pub struct Jobs {
    session: Session,
    tx: UnboundedSender<Action>,
    cancels: Cancels,
}

impl Jobs {
    /// Jobs on `session`, reporting to `tx`.
    pub fn new(session: Session, tx: UnboundedSender<Action>) -> Jobs {
        Jobs {
            session,
            tx,
            cancels: Cancels::default(),
        }
    }

    /// Cancels every long job (on quit).
    pub fn cancel_all(&mut self) {
        if let Ok(mut cancels) = self.cancels.lock() {
            for (_, token) in cancels.drain() {
                token.cancel();
            }
        }
    }

    /// Starts the job `effect` asks for.
    pub fn start(&mut self, effect: Effect) {
        let s = self.session.clone();
        let tx = self.tx.clone();
        // A send fails only when the console is closing; the result is then moot.
        let send = move |a: Action| {
            let _ = tx.send(a);
        };
        let err = |e: crate::error::Error| ErrorText::from_error(&e);
        match effect {
            Effect::CancelJob(id) => {
                let token = self.cancels.lock().ok().and_then(|mut c| c.remove(&id));
                if let Some(token) = token {
                    token.cancel();
                }
            }
            Effect::StartJob { id, job } => {
                let cancel = CancellationToken::new();
                if let Ok(mut cancels) = self.cancels.lock() {
                    cancels.insert(id, cancel.clone());
                }
                // The job forgets its token when it ends, whichever way.
                let cancels = self.cancels.clone();
                let send = move |a: Action| {
                    if matches!(a, Action::JobDone { .. })
                        && let Ok(mut c) = cancels.lock()
                    {
                        c.remove(&id);
                    }
                    send(a);
                };
                start_long_job(s, id, job, cancel, send);
            }
            Effect::LoadServer => {
                tokio::spawn(async move {
                    send(Action::Server(
                        catalog::server_summary(&s).await.map_err(err),
                    ));
                });
            }
            Effect::LoadTenants => {
                tokio::spawn(async move {
                    send(Action::Tenants(
                        catalog::list_tenants(&s).await.map_err(err),
                    ));
                });
            }
            Effect::LoadUnsized => {
                tokio::spawn(async move {
                    send(Action::Unsized(
                        catalog::list_unsized(&s).await.map_err(err),
                    ));
                });
            }
            Effect::LoadEstimates => {
                tokio::spawn(async move {
                    send(Action::Estimates(
                        catalog::list_tenants(&s).await.map_err(err),
                    ));
                });
            }
            Effect::LoadDetail { id, schema } => {
                tokio::spawn(async move {
                    let parts = tenant::inspect_schema(&s, &id, &schema).await;
                    send(Action::Detail {
                        id,
                        schema: parts.tables.map_err(err),
                        grants: parts.grants.map_err(err),
                        findings: parts.findings.map_err(err),
                    });
                });
            }
            Effect::LoadActivity => {
                tokio::spawn(async move {
                    send(Action::Activity(
                        journal::recent(&s, ACTIVITY_LIMIT).await.map_err(err),
                    ));
                });
            }
            Effect::PlanAdopt(adoption) => {
                tokio::spawn(async move {
                    let result = tenant::adopt_plan(&s, &adoption).await.map_err(err);
                    send(Action::AdoptPlan { adoption, result });
                });
            }
            Effect::LoadBackups(settings) => {
                tokio::spawn(async move {
                    let read = async {
                        let entries = match &settings {
                            Some(set) => crate::backup::list(&set.dir, None)?,
                            None => Vec::new(),
                        };
                        let kept = crate::backup::kept(&s, None).await?;
                        Ok(super::app::BackupsData { entries, kept })
                    };
                    send(Action::Backups(read.await.map_err(err)));
                });
            }
            Effect::Write(write) => {
                tokio::spawn(async move {
                    let command = write.command();
                    let result = write.run(&s).await.map_err(err);
                    send(Action::Saved { command, result });
                });
            }
        }
    }
}

/// Runs one long job under the core's contract: its progress forwarded as
/// [`Action::JobProgress`], its report (or error) as [`Action::JobDone`]. A new kind of
/// long job is one arm here naming its core call, how its results land, its summary and
/// the noun of its items.
fn start_long_job<F>(s: Session, id: JobId, job: LongJob, cancel: CancellationToken, send: F)
where
    F: Fn(Action) + Clone + Send + Sync + 'static,
{
    match job {
        LongJob::Sizes(schemas) => run_job(
            id,
            send,
            Landed::Sizes,
            |r| format!("{} schemas measured", r.done.len()),
            "schemas",
            move |progress| async move {
                catalog::measure_sizes(&s, &schemas, &progress, &cancel).await
            },
        ),
        LongJob::Migrate(ids) => run_job(
            id,
            send,
            Landed::Migrate,
            |r| r.summary(),
            "tenants",
            move |progress| async move { tenant::migrate(&s, ids, &progress, &cancel).await },
        ),
        LongJob::Dump { ids, settings } => run_job(
            id,
            send,
            Landed::Dump,
            |r| {
                let paths: Vec<String> = r
                    .done
                    .iter()
                    .map(|d| d.path.display().to_string())
                    .collect();
                format!("written {}", paths.join(", "))
            },
            "dump(s)",
            move |progress| async move {
                crate::backup::dump(&s, &settings, Some(ids), 1, &progress, &cancel).await
            },
        ),
        LongJob::Restore { req, settings } => run_job(
            id,
            send,
            Landed::Restore,
            |r| match (r.done.first(), r.failed.first()) {
                (Some(d), None) => d.line(),
                (Some(d), Some(f)) => format!("{}; then {}: {}", d.line(), f.item, f.error),
                (None, Some(f)) => f.error.clone(),
                (None, None) => "nothing was restored: the tenant is as it was".into(),
            },
            "step(s)",
            move |progress| async move {
                crate::backup::restore(&s, &settings, &req, &progress, &cancel).await
            },
        ),
        LongJob::Drop {
            id: tenant,
            settings,
        } => run_job(
            id,
            send,
            Landed::Drop,
            |r| match (r.done.first(), r.failed.first()) {
                (Some(d), _) => format!(
                    "dropped tenant {}; its verified backup is {}",
                    d.tenant,
                    d.backup.display()
                ),
                (None, Some(f)) => f.error.clone(),
                (None, None) => "the tenant was not dropped".into(),
            },
            "step(s)",
            move |progress| async move {
                crate::backup::drop_tenant(&s, &settings, &tenant, &tenant, &progress, &cancel)
                    .await
            },
        ),
        LongJob::Release(names) => run_job(
            id,
            send,
            Landed::Release,
            |r| format!("released {}", r.done.join(", ")),
            "kept copies",
            move |_progress| async move {
                // One short transaction: nothing to cancel part-way.
                let dropped = crate::backup::release(&s, Some(names.as_slice())).await?;
                Ok(JobReport {
                    done: dropped,
                    ..JobReport::default()
                })
            },
        ),
        LongJob::Audit => run_job(
            id,
            send,
            Landed::Audit,
            |r| {
                r.done
                    .first()
                    .map_or_else(String::new, |a| a.summary.short())
            },
            "steps",
            move |progress| async move { audit::run_job(&s, None, &progress, &cancel).await },
        ),
        LongJob::Adopt(adoption) => run_job(
            id,
            send,
            Landed::Adopt,
            |r| {
                let adopted: Vec<String> = r
                    .done
                    .iter()
                    .map(|p| format!("{} as tenant {}", p.schema, p.tenant))
                    .collect();
                format!("adopted {}", adopted.join(", "))
            },
            "schemas",
            move |progress| async move { tenant::adopt_job(&s, &[adoption], &progress, &cancel).await },
        ),
        LongJob::AuditFix(ids) => run_job(
            id,
            send,
            Landed::AuditFix,
            |r| format!("{} fix(es) applied", r.done.len()),
            "fixes",
            move |progress| async move { audit::fix::run_job(&s, &ids, &progress, &cancel).await },
        ),
        LongJob::Nodes => run_job(
            id,
            send,
            Landed::Nodes,
            |_| String::new(),
            "steps",
            move |progress| async move { crate::citus::nodes::read_job(&s, &progress, &cancel).await },
        ),
        LongJob::MoveTenant(plan) => run_job(
            id,
            send,
            Landed::Moved,
            |r| {
                r.done
                    .first()
                    .map_or_else(String::new, |m| format!("{} now on {}", m.tenant, m.to))
            },
            "tenant(s)",
            move |progress| async move {
                crate::citus::ops::move_tenant(&s, &plan, &progress, &cancel).await
            },
        ),
        LongJob::Distribute(ids) => run_job(
            id,
            send,
            Landed::Distributed,
            |r| format!("{} tenant(s) distributed", r.done.len()),
            "tenant(s)",
            move |progress| async move {
                crate::citus::ops::distribute(&s, &ids, &progress, &cancel).await
            },
        ),
        LongJob::Rebalance(mode) => run_job(
            id,
            send,
            Landed::Rebalance,
            |r| match r.done.last() {
                Some(st) => format!(
                    "job {} {} ({} of {} moves)",
                    st.job_id, st.state, st.tasks_done, st.tasks_total
                ),
                None => "the cluster is balanced: nothing to move".into(),
            },
            "rebalance",
            move |progress| async move {
                crate::citus::ops::rebalance_job(&s, mode, &progress, &cancel).await
            },
        ),
    }
}

/// Spawns `work` with a progress channel; forwards its progress, then its end.
fn run_job<T, F, W, Fut>(
    id: JobId,
    send: F,
    landed: fn(Vec<T>) -> Landed,
    summary: fn(&JobReport<T>) -> String,
    noun: &'static str,
    work: W,
) where
    T: Send + 'static,
    F: Fn(Action) + Clone + Send + Sync + 'static,
    W: FnOnce(crate::job::ProgressSender<T>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = crate::error::Result<JobReport<T>>> + Send + 'static,
{
    let (ptx, mut prx) = progress_channel::<T>();
    let forward = send.clone();
    let progress = tokio::spawn(async move {
        while let Some(p) = prx.recv().await {
            let Progress {
                done,
                total,
                current,
                landed: items,
                failed,
            } = p;
            forward(Action::JobProgress {
                id,
                done,
                total,
                current,
                failed: failed.len(),
                landed: landed(items),
            });
        }
    });
    tokio::spawn(async move {
        // The work owns the only sender: when it ends, the forwarder drains and stops.
        let result = work(ptx).await;
        // Progress first, so everything landed is in before the job is done.
        let _ = progress.await;
        let result = result
            .map(|r| JobEnd {
                summary: summary(&r),
                shortfall: r.shortfall(noun),
            })
            .map_err(|e| ErrorText::from_error(&e));
        send(Action::JobDone { id, result });
    });
}
