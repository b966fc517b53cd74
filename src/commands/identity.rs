//! What every run checks first: that the index is the one its checkpoint wrote, and, when the
//! checkpoint is its only writer, that it holds at least the points of the done items.

use anyhow::{bail, Context};
use serde_json::json;

use crate::checkpoint::{Checkpoint, META_INDEX_CREATED_AT, META_INDEX_ID};
use crate::commands::Printer;
use crate::sink::{Index, IndexId};

/// The identity of the index that `checkpoint` wrote to, if it recorded one.
pub(in crate::commands) fn recorded(checkpoint: &Checkpoint) -> anyhow::Result<Option<IndexId>> {
    let created_at = checkpoint.meta(META_INDEX_CREATED_AT)?.unwrap_or_default();
    Ok(checkpoint.meta(META_INDEX_ID)?.and_then(|id| IndexId::from_metadata(Some(&id), Some(&created_at))))
}

/// Why `index` is another index than the one `checkpoint` wrote (`recorded`), in words;
/// `None` when it is the same one, or when nothing was written to it yet.
fn replacement(recorded: Option<&IndexId>, index: &dyn Index, done: u64) -> Option<String> {
    let this = match (index.created_now(), index.identity()) {
        (true, _) => "this one was created just now, so that one is gone".to_string(),
        (false, Some(current)) => format!("this one was created {}", current.created_at),
        (false, None) => "this one has no identity that imbed gave it".to_string(),
    };
    let replaced = match (recorded, index.identity()) {
        (Some(recorded), Some(current)) => recorded.id != current.id,
        (Some(_), None) => true,
        // A checkpoint of an imbed before index identities: only a collection created now is a loss.
        (None, _) => index.created_now() && done > 0,
    };
    replaced.then(|| match recorded {
        Some(recorded) => format!("that one was created {}; {this}", recorded.created_at),
        None => this,
    })
}

/// What a check of the index acts on: the items (or points) the checkpoint calls sent, in
/// words, and how to put them back to be sent again.
pub(in crate::commands) struct Sent<'a> {
    pub count: u64,
    /// "done items", "pushed points".
    pub what: &'a str,
    /// Runs before the index's identity is recorded, so a kill in between sends them again.
    pub send_again: &'a mut dyn FnMut() -> anyhow::Result<()>,
}

/// Where the index is, for the line that tells of a lost one.
pub(in crate::commands) struct Place<'a> {
    pub checkpoint: &'a Checkpoint,
    pub collection: &'a str,
    pub location: &'a str,
    /// Without it a lost index refuses the run (`--no-repair`).
    pub repair: bool,
    pub printer: Printer,
}

impl Place<'_> {
    /// Says that the index is not the one the checkpoint wrote, then has what was sent sent
    /// again; without `repair`, refuses instead.
    fn lost(&self, why: &str, sent: Sent<'_>) -> anyhow::Result<()> {
        let Sent { count, what, send_again } = sent;
        let head = format!(
            "collection `{}` at {} is not the one checkpoint {} wrote ({why})",
            self.collection,
            self.location,
            self.checkpoint.path().display()
        );
        if !self.repair {
            bail!("{head}; its {count} {what} are not in it. --no-repair stops here; without it they are sent again");
        }
        self.printer.warning(format_args!("{head}; its {count} {what} will be sent again"));
        send_again()
    }

    /// Before the index is opened (and created if missing): a missing index that the
    /// checkpoint has sent to was lost. What was sent goes back before anything is created, so
    /// neither a kill nor `--no-repair` can leave a new empty index that a later run adopts.
    pub fn check_exists(&self, exists: bool, sent: Sent<'_>) -> anyhow::Result<()> {
        if exists || sent.count == 0 {
            return Ok(());
        }
        let why = match recorded(self.checkpoint)? {
            Some(recorded) => format!("that one was created {}; it is gone", recorded.created_at),
            None => "it is gone".to_string(),
        };
        self.lost(&why, sent)
    }

    /// Once the index is open: when it is not the one the checkpoint wrote (replaced, or
    /// without an identity of imbed's), says so and has what was sent sent again. Then records
    /// the index's identity, giving one to an index that has none (an older imbed's).
    pub fn check_identity(&self, index: &mut dyn Index, sent: Sent<'_>) -> anyhow::Result<()> {
        if !index.keeps_identity() {
            self.printer.warning(format_args!(
                "the server at {} keeps no collection metadata (Qdrant 1.16 does), so imbed cannot tell \
                 a replaced collection from the one it wrote; only the point count is checked",
                self.location
            ));
            return Ok(());
        }
        let recorded = recorded(self.checkpoint)?;
        if let Some(why) = replacement(recorded.as_ref(), index, sent.count).filter(|_| sent.count > 0) {
            self.lost(&why, sent)?;
        }
        if index.identity().is_none() {
            index.set_identity(IndexId::generate())?;
        }
        // What the index holds now: another process may have given it one at the same time.
        let identity = index.identity().cloned().context("the index did not keep the identity imbed gave it")?;
        if recorded.as_ref() != Some(&identity) {
            record(self.checkpoint, &identity)?;
        }
        Ok(())
    }
}

/// Records `identity` as the index `checkpoint` writes to.
pub(in crate::commands) fn record(checkpoint: &Checkpoint, identity: &IndexId) -> anyhow::Result<()> {
    checkpoint.set_meta(META_INDEX_ID, &identity.id.to_string())?;
    checkpoint.set_meta(META_INDEX_CREATED_AT, &identity.created_at)?;
    Ok(())
}

/// Warns when `index` holds fewer points than `checkpoint` calls done: some were lost.
/// Meaningful only when the checkpoint is the index's one writer.
pub(in crate::commands) fn check_count(
    place: &Place<'_>,
    index: &dyn Index,
    verify_command: &str,
) -> anyhow::Result<()> {
    let done = place.checkpoint.totals()?.done;
    let points = index.count()?;
    if points < done {
        place.printer.warning(format_args!(
            "collection `{}` at {} holds {points} points, fewer than the {done} items checkpoint {} calls done; \
             find and re-send the missing ones with `{verify_command} --repair`, then `imbed resume`",
            place.collection,
            place.location,
            place.checkpoint.path().display()
        ));
    }
    Ok(())
}

/// The index's identity beside the one the checkpoint recorded, for `--json`.
pub(in crate::commands) fn identity_json(
    recorded: Option<&IndexId>,
    current: Option<&IndexId>,
    exists: bool,
) -> serde_json::Value {
    json!({
        "exists": exists,
        "id": current.map(|identity| identity.id),
        "created_at": current.map(|identity| &identity.created_at),
        "recorded_id": recorded.map(|identity| identity.id),
        "matches": matches!((recorded, current), (Some(r), Some(c)) if r.id == c.id),
    })
}

/// The index's identity beside the one the checkpoint recorded, for people.
pub(in crate::commands) fn describe_identity(
    recorded: Option<&IndexId>,
    current: Option<&IndexId>,
    exists: bool,
) -> String {
    match (recorded, current) {
        _ if !exists => "does not exist".to_string(),
        (Some(recorded), Some(current)) if recorded.id == current.id => {
            format!("{} (created {}), the one the checkpoint wrote", current.id, current.created_at)
        }
        (Some(recorded), Some(current)) => format!(
            "{} (created {}), not the one the checkpoint wrote ({}, created {})",
            current.id, current.created_at, recorded.id, recorded.created_at
        ),
        (Some(recorded), None) => {
            format!("has no identity; the checkpoint wrote to {} (created {})", recorded.id, recorded.created_at)
        }
        (None, Some(current)) => {
            format!("{} (created {}); the checkpoint records none yet", current.id, current.created_at)
        }
        (None, None) => "has no identity yet (the next run gives it one)".to_string(),
    }
}
