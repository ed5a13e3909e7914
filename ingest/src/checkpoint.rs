//! Checkpoints: the offsets and the state they produced, written together.
//!
//! A checkpoint is `checkpoints/checkpoint-<epoch>.bin`: a postcard-encoded
//! [`Checkpoint`] followed by its CRC-32. It is written under a temporary name, synced,
//! renamed and the directory synced, so it either exists whole or not at all. The two
//! newest are kept; on start-up the newest one that verifies wins.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use hub_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::IngestError;

const FORMAT_VERSION: u32 = 2;
const KEEP: usize = 2;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format_version: u32,
    /// Archive files of epochs up to this one are committed.
    pub epoch: u64,
    pub written_at: Option<Timestamp>,
    /// The next offset to process, per topic and partition.
    pub offsets: Vec<(String, i32, i64)>,
    /// Dedup keys, oldest first, as little-endian 16-byte hashes.
    pub dedup: Vec<u8>,
    /// Each stateful stage's snapshot, by stage name.
    pub stages: Vec<(String, Vec<u8>)>,
}

fn file_name(epoch: u64) -> String {
    format!("checkpoint-{epoch:010}.bin")
}

fn epoch_of(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_prefix("checkpoint-")?
        .strip_suffix(".bin")?
        .parse()
        .ok()
}

impl Checkpoint {
    pub fn dedup_keys(&self) -> impl Iterator<Item = u128> + '_ {
        self.dedup
            .chunks_exact(16)
            .map(|c| u128::from_le_bytes(c.try_into().expect("chunks are 16 bytes")))
    }

    pub fn set_dedup_keys(&mut self, keys: impl Iterator<Item = u128>) {
        self.dedup.clear();
        for k in keys {
            self.dedup.extend_from_slice(&k.to_le_bytes());
        }
    }

    pub fn stage(&self, name: &str) -> Option<&[u8]> {
        self.stages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }

    /// Writes this checkpoint atomically and prunes old ones.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, IngestError> {
        fs::create_dir_all(dir).map_err(|e| IngestError::io(dir, e))?;
        let mut bytes = postcard::to_stdvec(self).map_err(|e| IngestError::CorruptCheckpoint {
            path: dir.to_path_buf(),
            reason: format!("encoding failed: {e}"),
        })?;
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        let path = dir.join(file_name(self.epoch));
        let tmp = path.with_extension("bin.tmp");
        let mut f = File::create(&tmp).map_err(|e| IngestError::io(&tmp, e))?;
        f.write_all(&bytes).map_err(|e| IngestError::io(&tmp, e))?;
        f.sync_all().map_err(|e| IngestError::io(&tmp, e))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| IngestError::io(&path, e))?;
        // The rename is the commit point: what follows must not make the caller retry
        // this epoch, or the next roll would overwrite committed files.
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            tracing::warn!(dir = %dir.display(), error = %e, "syncing the checkpoint directory failed");
        }
        match list(dir) {
            Ok(all) => {
                for old in all.into_iter().skip(KEEP) {
                    let _ = fs::remove_file(old);
                }
            }
            Err(e) => tracing::warn!(error = %e, "pruning old checkpoints failed"),
        }
        Ok(path)
    }

    fn read(path: &Path) -> Result<Checkpoint, IngestError> {
        let corrupt = |reason: String| IngestError::CorruptCheckpoint {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = fs::read(path).map_err(|e| IngestError::io(path, e))?;
        if bytes.len() < 4 {
            return Err(corrupt("shorter than its checksum".into()));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let crc = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
        if crc32fast::hash(body) != crc {
            return Err(corrupt("checksum mismatch".into()));
        }
        let cp: Checkpoint = postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
        if cp.format_version != FORMAT_VERSION {
            return Err(corrupt(format!(
                "format version {} (this build reads {FORMAT_VERSION})",
                cp.format_version
            )));
        }
        Ok(cp)
    }

    /// The newest checkpoint that verifies, or a fresh one (epoch 0) when there is none.
    pub fn load_latest(dir: &Path) -> Result<Checkpoint, IngestError> {
        for path in list(dir)? {
            match Checkpoint::read(&path) {
                Ok(cp) => return Ok(cp),
                Err(e) => {
                    tracing::warn!(error = %e, "skipping unreadable checkpoint; trying an older one")
                }
            }
        }
        Ok(Checkpoint {
            format_version: FORMAT_VERSION,
            ..Default::default()
        })
    }

    pub fn next(&self) -> Checkpoint {
        Checkpoint {
            format_version: FORMAT_VERSION,
            epoch: self.epoch + 1,
            ..Default::default()
        }
    }
}

/// Checkpoint files, newest first; temporary files are removed.
fn list(dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(IngestError::io(dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| IngestError::io(dir, e))?.path();
        if path.extension().is_some_and(|x| x == "tmp") {
            let _ = fs::remove_file(&path);
        } else if let Some(epoch) = epoch_of(&path) {
            found.push((epoch, path));
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(epoch: u64) -> Checkpoint {
        let mut cp = Checkpoint {
            format_version: FORMAT_VERSION,
            epoch,
            ..Default::default()
        };
        cp.offsets = vec![("kiosk.results".into(), 0, 42)];
        cp.set_dedup_keys([1u128, u128::MAX].into_iter());
        cp.stages = vec![("export_declarations".into(), vec![1, 2, 3])];
        cp
    }

    #[test]
    fn round_trip_and_keep_two() {
        let dir = tempfile::tempdir().unwrap();
        for e in 1..=4 {
            sample(e).write(dir.path()).unwrap();
        }
        assert_eq!(list(dir.path()).unwrap().len(), 2);
        let cp = Checkpoint::load_latest(dir.path()).unwrap();
        assert_eq!(cp, sample(4));
        assert_eq!(cp.dedup_keys().collect::<Vec<_>>(), vec![1, u128::MAX]);
    }

    #[test]
    fn a_corrupt_newest_falls_back_to_the_previous() {
        let dir = tempfile::tempdir().unwrap();
        sample(1).write(dir.path()).unwrap();
        let p = sample(2).write(dir.path()).unwrap();
        let mut bytes = fs::read(&p).unwrap();
        bytes[3] ^= 0xff;
        fs::write(&p, bytes).unwrap();
        assert_eq!(Checkpoint::load_latest(dir.path()).unwrap().epoch, 1);
    }

    #[test]
    fn no_checkpoint_is_epoch_zero() {
        let dir = tempfile::tempdir().unwrap();
        let cp = Checkpoint::load_latest(&dir.path().join("missing")).unwrap();
        assert_eq!(cp.epoch, 0);
        assert!(cp.offsets.is_empty());
    }
}
