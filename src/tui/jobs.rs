//! Long work on tokio tasks. A job gets a clone of the session, calls the core, and reports
//! back with an [`Action`]; it never sees the state. Cancellable jobs hold a token.

use super::app::{Action, Effect, ErrorText, JobKind, WriteOp};
use crate::catalog;
use crate::journal;
use crate::session::Session;
use crate::tenant;
use std::collections::HashMap;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// Rows of the console log the Activity view shows.
const ACTIVITY_LIMIT: i64 = 500;

/// Starts jobs and cancels them.
pub struct Jobs {
    session: Session,
    tx: UnboundedSender<Action>,
    cancels: HashMap<JobKind, CancellationToken>,
}

impl Jobs {
    /// Jobs on `session`, reporting to `tx`.
    pub fn new(session: Session, tx: UnboundedSender<Action>) -> Jobs {
        Jobs {
            session,
            tx,
            cancels: HashMap::new(),
        }
    }

    /// Cancels every cancellable job (on quit).
    pub fn cancel_all(&mut self) {
        for (_, token) in self.cancels.drain() {
            token.cancel();
        }
    }

    fn token(&mut self, kind: JobKind) -> CancellationToken {
        // A new job of a kind replaces the old one.
        let token = CancellationToken::new();
        if let Some(old) = self.cancels.insert(kind, token.clone()) {
            old.cancel();
        }
        token
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
            Effect::Cancel(kind) => {
                if let Some(token) = self.cancels.remove(&kind) {
                    token.cancel();
                }
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
            Effect::ExactSizes(schemas) => {
                // The core measures in chunks of ~500 schemas and, on cancel, cancels the
                // running query on the server too.
                let cancel = self.token(JobKind::Sizes);
                let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
                let forward = send.clone();
                tokio::spawn(async move {
                    while let Some(p) = prx.recv().await {
                        let catalog::SizeProgress { done, total, sizes } = p;
                        forward(Action::Sizes { sizes, done, total });
                    }
                });
                tokio::spawn(async move {
                    let result = catalog::measure_sizes(&s, &schemas, Some(ptx), &cancel).await;
                    match result {
                        Err(crate::error::Error::Cancelled(_)) | Ok(_) => {}
                        Err(e) => send(Action::SizesFailed(err(e))),
                    }
                });
            }
            Effect::LoadDetail { id, schema, status } => {
                tokio::spawn(async move {
                    let (tables, grants) = tokio::join!(
                        catalog::schema_tables(&s, &schema),
                        catalog::grant_matrix(&s, &schema)
                    );
                    let deviations = match (&tables, &grants) {
                        (Ok(t), Ok(g)) => {
                            crate::policy::policy_deviations(&s.names, &id, status, g, t)
                        }
                        _ => Vec::new(),
                    };
                    send(Action::Detail {
                        id,
                        schema: tables.map_err(err),
                        grants: grants.map_err(err),
                        deviations,
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
            Effect::Create(new) => {
                tokio::spawn(async move {
                    let result = tenant::create(&s, &new).await.map_err(err);
                    send(Action::Saved {
                        op: WriteOp::Create,
                        result,
                    });
                });
            }
            Effect::Set { id, change } => {
                tokio::spawn(async move {
                    let result = tenant::set(&s, &id, &change).await.map_err(err);
                    send(Action::Saved {
                        op: WriteOp::Edit,
                        result,
                    });
                });
            }
            Effect::Suspend(id) => {
                tokio::spawn(async move {
                    let result = tenant::suspend(&s, &id).await.map_err(err);
                    send(Action::Saved {
                        op: WriteOp::Suspend,
                        result,
                    });
                });
            }
            Effect::Resume(id) => {
                tokio::spawn(async move {
                    let result = tenant::resume(&s, &id).await.map_err(err);
                    send(Action::Saved {
                        op: WriteOp::Resume,
                        result,
                    });
                });
            }
            Effect::Migrate(ids) => {
                let cancel = self.token(JobKind::Migrate);
                let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
                let forward = send.clone();
                tokio::spawn(async move {
                    while let Some(p) = prx.recv().await {
                        forward(Action::Migrate(p));
                    }
                });
                tokio::spawn(async move {
                    let result = tenant::migrate(&s, ids, ptx, cancel)
                        .await
                        .map(|report| report.summary())
                        .map_err(err);
                    send(Action::MigrateDone(result));
                });
            }
        }
    }
}
