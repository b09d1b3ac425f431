//! What happens to a file on the server once it landed in the lake: leave it,
//! delete it, or move it to an archive folder.

use chrono::{DateTime, Utc};
use tracing::info;

use super::client::FtpClient;
use super::error::{FtpError, Op};
use super::remote_path;
use crate::ports::source::PostActionOutcome;
use crate::registry::PostAction;

/// Most numbered suffixes tried after the timestamped name is taken as well.
const MAX_SUFFIXES: u32 = 1000;

/// Applies `action` to the landed file `path`; `now` names a clashing archive copy.
///
/// The clash check (`SIZE` on the target) and the rename are two commands: two
/// ingesters archiving same-named files in the same second could still race; the
/// ledger's lease makes that a single file's retry, not two different files.
pub async fn apply_post_action(
    client: &mut FtpClient,
    path: &str,
    action: &PostAction,
    now: DateTime<Utc>,
) -> Result<PostActionOutcome, FtpError> {
    let host = client.config().host.clone();
    match action {
        PostAction::Leave => Ok(PostActionOutcome::Left),
        PostAction::Delete => {
            client.delete(path).await?;
            info!(host = %host, path, "Deleted the ingested file from the server.");
            Ok(PostActionOutcome::Deleted)
        }
        PostAction::MoveTo(archive_dir) => {
            client.mkdir_all(archive_dir).await?;
            let target = free_name(client, archive_dir, path, now).await?;
            client.rename(path, &target).await?;
            info!(host = %host, path, to = %target, "Archived the ingested file on the server.");
            Ok(PostActionOutcome::Moved { to: target })
        }
    }
}

/// A name in `archive_dir` for `path` that no file has yet.
async fn free_name(
    client: &mut FtpClient,
    archive_dir: &str,
    path: &str,
    now: DateTime<Utc>,
) -> Result<String, FtpError> {
    let plain = remote_path::join(archive_dir, remote_path::file_name(path));
    if !client.file_exists(&plain).await? {
        return Ok(plain);
    }
    let stamped = format!("{plain}.{}", now.format("%Y%m%dT%H%M%SZ"));
    if !client.file_exists(&stamped).await? {
        return Ok(stamped);
    }
    for n in 1..=MAX_SUFFIXES {
        let numbered = format!("{stamped}.{n}");
        if !client.file_exists(&numbered).await? {
            return Ok(numbered);
        }
    }
    Err(FtpError::Protocol {
        host: client.config().host.clone(),
        op: Op::Rename,
        path: Some(path.to_owned()),
        message: format!("no free archive name after {MAX_SUFFIXES} tries: `{stamped}.N`"),
    })
}
