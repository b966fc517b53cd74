//! Splitting one corpus across machines: shard I of N takes the items whose key hashes to I.
//!
//! The hash is the item's point ID (a UUIDv5 of its key), so the split is the same on every
//! machine and every version, and needs nothing but the key.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::util::point_id;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Self, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!("shard {index} does not exist among {count}: shards are numbered 0 to {}", count - 1));
        }
        Ok(Self { index, count })
    }

    /// Whether the item with this key belongs to this shard.
    pub fn contains(&self, key: &str) -> bool {
        (point_id(key).as_u128() % u128::from(self.count)) as u32 == self.index
    }

    /// The shard of a run: `--shard I/N`, else a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`
    /// with `--shard-count N`, else a Slurm array job's task ID and count. `None`: one shard.
    /// `env` gives the scheduler's variables (the command reads them).
    pub fn resolve(
        flag: Option<Shard>,
        count: Option<u32>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<Shard>> {
        if let Some(shard) = flag {
            if count.is_some_and(|count| count != shard.count) {
                bail!("--shard {shard} and --shard-count {} disagree", count.unwrap_or_default());
            }
            return Ok(Some(shard));
        }
        let number = |name: &str| -> anyhow::Result<Option<u32>> {
            env(name)
                .map(|value| value.trim().parse::<u32>().with_context(|| format!("{name}={value} is not a number")))
                .transpose()
        };
        let shard = if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let Some(count) = count else {
                bail!(
                    "JOB_COMPLETION_INDEX={index} is set, but not the number of shards: pass --shard-count N \
                     (the Job's completions), or --shard I/N"
                );
            };
            Shard::new(index, count)
        } else if let Some(task) = number("SLURM_ARRAY_TASK_ID")? {
            // Arrays may start at 1 (--array=1-8); shards are counted from the first task.
            let first = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let Some(count) = count.or(number("SLURM_ARRAY_TASK_COUNT")?) else {
                bail!("SLURM_ARRAY_TASK_ID={task} is set without SLURM_ARRAY_TASK_COUNT; pass --shard-count N");
            };
            let Some(index) = task.checked_sub(first) else {
                bail!("SLURM_ARRAY_TASK_ID={task} is below SLURM_ARRAY_TASK_MIN={first}");
            };
            Shard::new(index, count).map_err(|error| format!("{error} (from SLURM_ARRAY_TASK_ID={task})"))
        } else if let Some(count) = count {
            bail!("--shard-count {count} needs JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID to pick the shard; or pass --shard I/N")
        } else {
            return Ok(None);
        };
        shard.map(Some).map_err(anyhow::Error::msg)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("`{text}` is not a shard: use I/N, such as 0/4 for the first of four");
        let (index, count) = text.split_once('/').ok_or_else(invalid)?;
        let index = index.trim().parse().map_err(|_| invalid())?;
        let count = count.trim().parse().map_err(|_| invalid())?;
        Shard::new(index, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(flag: Option<&str>, count: Option<u32>, vars: &[(&str, &str)]) -> anyhow::Result<Option<Shard>> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Shard::resolve(flag.map(|f| f.parse().unwrap()), count, |name| vars.get(name).cloned())
    }

    #[test]
    fn every_key_lands_in_exactly_one_shard() {
        let shards: Vec<Shard> = (0..5).map(|i| Shard::new(i, 5).unwrap()).collect();
        let mut sizes = [0; 5];
        for n in 0..10_000 {
            let key = format!("photos/{n}.jpg");
            let owners: Vec<usize> = (0..5).filter(|&i| shards[i].contains(&key)).collect();
            assert_eq!(owners.len(), 1, "{key}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&size| (1800..2200).contains(&size)), "{sizes:?}");
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { index: 2, count: 4 });
        assert!("4/4".parse::<Shard>().unwrap_err().contains("numbered 0 to 3"));
        assert!("0/0".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
    }

    #[test]
    fn the_flag_then_kubernetes_then_slurm() {
        let both = [("JOB_COMPLETION_INDEX", "1"), ("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert_eq!(resolve(Some("0/2"), None, &both).unwrap(), Some(Shard { index: 0, count: 2 }));
        assert_eq!(resolve(None, Some(3), &both).unwrap(), Some(Shard { index: 1, count: 3 }));
        assert!(resolve(None, None, &both[..1]).unwrap_err().to_string().contains("--shard-count"));
        assert_eq!(resolve(None, None, &both[1..]).unwrap(), Some(Shard { index: 3, count: 4 }));
        let from_one = [("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert_eq!(resolve(None, None, &from_one).unwrap(), Some(Shard { index: 3, count: 4 }));
        assert_eq!(resolve(None, None, &[]).unwrap(), None);
        assert!(resolve(None, Some(2), &[]).is_err());
        assert!(resolve(None, Some(2), &[("JOB_COMPLETION_INDEX", "2")]).is_err());
    }
}
