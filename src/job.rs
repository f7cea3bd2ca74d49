//! The long-job contract every long operation of the core follows (exact sizes, migrate;
//! next audit, dump, restore):
//!
//! ```text
//! async fn op(session: &Session, <inputs>, progress: &ProgressSender<T>, cancel: &CancellationToken)
//!     -> Result<JobReport<T>>
//! ```
//!
//! - `progress` gets one [`Progress`] per item (or chunk of items) finished, carrying the
//!   items that landed so a face can show them before the job ends; a closed receiver is
//!   ignored (nobody watching is not a failure).
//! - `cancel` is checked between items; an item in flight either finishes or has its query
//!   cancelled on the server. Items not reached are listed in `not_tried`.
//! - The result is `Err` only when the job could not start (bad input, no registry);
//!   per-item failures go to `failed`, and the job carries on.
//!
//! A report is complete only when nothing failed and nothing was left untried; the faces
//! must never call anything else success (the CLI exits 2 and names what was not tried).

use serde::Serialize;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// How far a job has got: `done` of `total` items, the item just finished, and the
/// items (results) that landed with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress<T> {
    pub done: usize,
    pub total: usize,
    /// The item (tenant id, schema, …) this report is about.
    pub current: String,
    /// Results finished since the previous report.
    pub landed: Vec<T>,
    /// Items that failed since the previous report, with their cause.
    pub failed: Vec<ItemFailure>,
}

/// Where a job sends its [`Progress`].
pub type ProgressSender<T> = UnboundedSender<Progress<T>>;

/// A progress channel: the sender for the job, the receiver for the face.
pub fn progress_channel<T>() -> (ProgressSender<T>, UnboundedReceiver<Progress<T>>) {
    tokio::sync::mpsc::unbounded_channel()
}

/// Sends `p`; a closed receiver only means nobody is watching.
pub fn report_progress<T>(tx: &ProgressSender<T>, p: Progress<T>) {
    let _ = tx.send(p);
}

/// One item that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    pub item: String,
    pub error: String,
}

/// What a long job did: finished items, failed items, and items never tried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport<T> {
    pub done: Vec<T>,
    pub failed: Vec<ItemFailure>,
    /// Items not reached, because the job was cancelled.
    pub not_tried: Vec<String>,
    pub cancelled: bool,
}

impl<T> Default for JobReport<T> {
    fn default() -> Self {
        JobReport {
            done: Vec::new(),
            failed: Vec::new(),
            not_tried: Vec::new(),
            cancelled: false,
        }
    }
}

impl<T> JobReport<T> {
    /// True only when every item was tried and none failed.
    pub fn complete(&self) -> bool {
        self.failed.is_empty() && self.not_tried.is_empty() && !self.cancelled
    }

    /// Why the job is not a success, as one line naming the items; `None` when complete.
    pub fn shortfall(&self, noun: &str) -> Option<String> {
        if self.complete() {
            return None;
        }
        let mut parts = Vec::new();
        if !self.failed.is_empty() {
            let names: Vec<&str> = self.failed.iter().map(|f| f.item.as_str()).collect();
            parts.push(format!("{} {noun} failed ({})", names.len(), list(&names)));
        }
        if !self.not_tried.is_empty() {
            let names: Vec<&str> = self.not_tried.iter().map(String::as_str).collect();
            parts.push(format!(
                "{} {noun} not tried ({})",
                names.len(),
                list(&names)
            ));
        } else if self.cancelled {
            parts.push("cancelled".into());
        }
        Some(parts.join("; "))
    }
}

/// Up to ten names, then how many more.
fn list(names: &[&str]) -> String {
    const SHOWN: usize = 10;
    let mut s = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(", and {} more", names.len() - SHOWN));
    }
    s
}
