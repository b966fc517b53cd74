//! One process per checkpoint: an exclusive `flock` on `CHECKPOINT.lock`, holding the owner's PID.
//! The kernel drops the lock when its process dies, so a lock left by `kill -9` blocks nothing.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub struct CheckpointLock {
    // Held open for the life of the run; dropping it releases the lock.
    _file: File,
}

impl CheckpointLock {
    pub fn acquire(checkpoint: &Path) -> anyhow::Result<Self> {
        let path = lock_path(checkpoint);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        super::owner_only(&path, false).with_context(|| format!("cannot make {} private", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let who =
                    owner(&mut file).map_or("another imbed process".to_string(), |pid| format!("imbed process {pid}"));
                bail!("checkpoint {} is in use by {who}; wait for it to finish or stop it first", checkpoint.display());
            }
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(Self { _file: file })
    }
}

/// The PID that the run holding the lock wrote into it.
fn owner(file: &mut File) -> Option<String> {
    let mut owner = String::new();
    file.read_to_string(&mut owner).ok()?;
    let owner = owner.trim();
    (!owner.is_empty()).then(|| owner.to_string())
}

/// The PID of the run that holds the lock of `checkpoint` now, if one does and says who it is.
pub(super) fn holder(checkpoint: &Path) -> Option<String> {
    let mut file = File::open(lock_path(checkpoint)).ok()?;
    if running(file.try_lock_shared()).ok()? {
        owner(&mut file)
    } else {
        None
    }
}

fn lock_path(checkpoint: &Path) -> PathBuf {
    super::companion_path(checkpoint, ".lock")
}

/// Whether some process holds the run lock of `checkpoint` now (a run is in progress). No
/// lock file means no run; a lock file that cannot be opened or tried is an error, since
/// either answer could be wrong.
pub fn is_running(checkpoint: &Path) -> anyhow::Result<bool> {
    let path = lock_path(checkpoint);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error).with_context(|| format!("cannot open the lock file {}", path.display())),
    };
    let held = running(file.try_lock_shared());
    held.with_context(|| format!("cannot tell whether a run holds the lock file {}", path.display()))
}

/// A shared lock is refused (`WouldBlock`) exactly while a run holds the exclusive one.
fn running(tried: Result<(), TryLockError>) -> std::io::Result<bool> {
    match tried {
        // The shared lock just taken goes when the file is closed.
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(error)) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_running_and_a_free_or_missing_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = dir.path().join("c");
        assert!(!is_running(&checkpoint).unwrap(), "no lock file");
        let lock = CheckpointLock::acquire(&checkpoint).unwrap();
        assert!(is_running(&checkpoint).unwrap());
        drop(lock);
        assert!(!is_running(&checkpoint).unwrap(), "released");
    }

    #[test]
    fn a_lock_file_that_cannot_be_checked_is_an_error_not_an_answer() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = dir.path().join("c");
        std::os::unix::fs::symlink(lock_path(&checkpoint), lock_path(&checkpoint)).unwrap();
        let error = is_running(&checkpoint).unwrap_err();
        assert!(format!("{error:#}").contains("c.lock"), "{error:#}");
        let error = running(Err(TryLockError::Error(std::io::Error::other("no locks here")))).unwrap_err();
        assert_eq!(error.to_string(), "no locks here");
        assert!(running(Err(TryLockError::WouldBlock)).unwrap());
        assert!(!running(Ok(())).unwrap());
    }
}
