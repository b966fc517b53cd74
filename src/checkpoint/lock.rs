//! One process per checkpoint: an exclusive `flock` on `CHECKPOINT.lock`, holding the owner's PID.
//! The kernel drops the lock when its process dies, so a lock left by `kill -9` blocks nothing.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
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
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut owner = String::new();
                let _ = file.read_to_string(&mut owner);
                let owner = owner.trim();
                let who = if owner.is_empty() {
                    "another imbed process".to_string()
                } else {
                    format!("imbed process {owner}")
                };
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

fn lock_path(checkpoint: &Path) -> PathBuf {
    let mut name = checkpoint.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Whether some process holds the run lock of `checkpoint` now (a run is in progress).
pub fn is_running(checkpoint: &Path) -> bool {
    let Ok(file) = File::open(lock_path(checkpoint)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}
