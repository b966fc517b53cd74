//! What every run checks first: that the index is the one its checkpoint wrote, and, when the
//! checkpoint is its only writer, that it holds at least the points of the done items.

use anyhow::bail;
use serde_json::json;

use crate::checkpoint::{Checkpoint, META_INDEX_CREATED_AT, META_INDEX_ID};
use crate::commands::Printer;
use crate::sink::{Index, IndexId};

/// The identity of the index that `checkpoint` wrote to, if it recorded one.
pub(in crate::commands) fn recorded(checkpoint: &Checkpoint) -> anyhow::Result<Option<IndexId>> {
    let created_at = checkpoint.meta(META_INDEX_CREATED_AT)?.unwrap_or_default();
    Ok(checkpoint.meta(META_INDEX_ID)?.and_then(|id| IndexId::from_metadata(Some(&id), Some(&created_at))))
}

/// Whether `index` is another index than the one `checkpoint` wrote (`recorded`), with the
/// words that say why: `None` when it is the same one, or when nothing was written yet.
pub(in crate::commands) fn replacement(recorded: Option<&IndexId>, index: &dyn Index, done: u64) -> Option<String> {
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

/// Checks that `index` is the one `checkpoint` wrote. When it was lost or replaced, says so
/// and has what was sent sent again (or, without `repair`, refuses the run). Then records the
/// index's identity, giving one to an index that has none (an older imbed's). Returns
/// whether it was replaced.
pub(in crate::commands) fn check_index(
    checkpoint: &Checkpoint,
    index: &mut dyn Index,
    collection: &str,
    sent: Sent<'_>,
    repair: bool,
    printer: Printer,
) -> anyhow::Result<bool> {
    let recorded = recorded(checkpoint)?;
    let Sent { count, what, send_again } = sent;
    let why = replacement(recorded.as_ref(), index, count).filter(|_| count > 0);
    if let Some(why) = &why {
        let head = format!(
            "collection `{collection}` at {} is not the one checkpoint {} wrote ({why})",
            index.location(),
            checkpoint.path().display()
        );
        if !repair {
            bail!("{head}; its {count} {what} are not in it. --no-repair stops here; without it they are sent again");
        }
        printer.warning(format_args!("{head}; its {count} {what} will be sent again"));
        send_again()?;
    }
    let identity = match index.identity() {
        Some(identity) => identity.clone(),
        None => {
            let identity = IndexId::new();
            index.set_identity(identity.clone())?;
            identity
        }
    };
    if recorded.as_ref() != Some(&identity) {
        checkpoint.set_meta(META_INDEX_ID, &identity.id.to_string())?;
        checkpoint.set_meta(META_INDEX_CREATED_AT, &identity.created_at)?;
    }
    Ok(why.is_some())
}

/// Warns when `index` holds fewer points than `checkpoint` calls done: some were lost.
/// Meaningful only when the checkpoint is the index's one writer.
pub(in crate::commands) fn check_count(
    checkpoint: &Checkpoint,
    index: &dyn Index,
    collection: &str,
    verify_command: &str,
    printer: Printer,
) -> anyhow::Result<()> {
    let done = checkpoint.totals()?.done;
    let points = index.count()?;
    if points < done {
        printer.warning(format_args!(
            "collection `{collection}` at {} holds {points} points, fewer than the {done} items checkpoint {} \
             calls done; find and re-send the missing ones with `{verify_command} --repair`, then `imbed resume`",
            index.location(),
            checkpoint.path().display()
        ));
    }
    Ok(())
}

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
