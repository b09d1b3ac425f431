//! Exact uniqueness of a column's (or a key's) values, whatever the file's
//! size, in bounded memory.
//!
//! Keys go into a hash map (key → line of its first occurrence) until the map
//! holds its memory budget. Past it the map is frozen: a key found in it is a
//! duplicate at once; any other key is written, with its record and line, to
//! one of [`PARTITIONS`] temporary files chosen by its hash. At the end each
//! partition is read back alone and its duplicates found, so memory holds one
//! partition at a time (a partition still too big is split again with another
//! hash). A key can be in the frozen map or in the partitions, never both, so
//! every duplicate is found exactly once, against its first occurrence.
//!
//! The maps use std's SipHash with a random key per process: values crafted to
//! collide in a fixed hash cannot pile up in one bucket or one partition.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Partition files past the budget (a first occurrence and its duplicates
/// always land in the same one).
pub const PARTITIONS: usize = 256;

/// Bytes of write buffer per partition file.
const PARTITION_BUFFER: usize = 8 * 1024;

/// What the map costs per key beyond the key's own bytes (the boxed slice, the
/// line, the table's slot and control byte), rounded up.
const ENTRY_OVERHEAD: usize = 48;

/// How many times a partition too big for the budget is split again.
const MAX_SPLITS: u32 = 3;

/// Where a record is: its data record number, the line it starts on and its
/// decoded byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub record: u64,
    pub line: u64,
    pub offset: u64,
}

/// What inserting a key found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first occurrence, as far as can be known now.
    First,
    /// A duplicate of the key first seen on this line.
    Duplicate { first_line: u64 },
    /// Written to disk: known at [`KeyIndex::finish`].
    Deferred,
}

/// A duplicate found at the end: the later record and its first occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateDuplicate {
    pub place: Place,
    pub first_line: u64,
}

/// Why uniqueness could not be decided (the local disk failed or is full).
#[derive(Debug, thiserror::Error)]
#[error("the uniqueness check's temporary files failed: {0}")]
pub struct SpillError(#[from] io::Error);

/// The keys of one `unique` column or of the primary key.
pub struct KeyIndex {
    hasher: RandomState,
    first: HashMap<Box<[u8]>, u64>,
    used: usize,
    budget: usize,
    spill: Option<Spill>,
}

struct Spill {
    files: Vec<BufWriter<File>>,
    spilled: u64,
}

impl KeyIndex {
    /// An index that holds about `budget` bytes of keys in memory.
    pub fn new(budget: usize) -> Self {
        KeyIndex {
            hasher: RandomState::new(),
            first: HashMap::new(),
            used: 0,
            budget,
            spill: None,
        }
    }

    /// Whether keys went to disk.
    pub fn spilled(&self) -> u64 {
        self.spill.as_ref().map_or(0, |s| s.spilled)
    }

    /// Records `key`, seen at `place`.
    pub fn insert(&mut self, key: &[u8], place: Place) -> Result<Seen, SpillError> {
        if let Some(&first_line) = self.first.get(key) {
            return Ok(Seen::Duplicate { first_line });
        }
        if self.spill.is_none()
            && self.used.saturating_add(key.len() + ENTRY_OVERHEAD) <= self.budget
        {
            self.used += key.len() + ENTRY_OVERHEAD;
            self.first.insert(key.into(), place.line);
            return Ok(Seen::First);
        }
        let partition = self.partition_of(key, 0);
        let spill = match &mut self.spill {
            Some(spill) => spill,
            None => self.spill.insert(Spill::create(PARTITIONS)?),
        };
        let file = spill
            .files
            .get_mut(partition)
            .ok_or_else(|| io::Error::other("no such partition"))?;
        write_entry(file, key, place)?;
        spill.spilled += 1;
        Ok(Seen::Deferred)
    }

    fn partition_of(&self, key: &[u8], round: u32) -> usize {
        let hash = self.hasher.hash_one((round, key));
        // PARTITIONS is a power of two; the top bits change with each round.
        (hash >> (64 - 8)) as usize % PARTITIONS
    }

    /// Finds the duplicates among the keys written to disk, calling `found`
    /// for each (in no particular order). Frees the memory and the files.
    pub fn finish(self, mut found: impl FnMut(LateDuplicate)) -> Result<(), SpillError> {
        let KeyIndex {
            hasher,
            first,
            budget,
            spill,
            ..
        } = self;
        drop(first);
        let Some(spill) = spill else {
            return Ok(());
        };
        for file in spill.files {
            let file = file.into_inner().map_err(|e| e.into_error())?;
            resolve(file, &hasher, budget, 1, &mut found)?;
        }
        Ok(())
    }
}

impl Spill {
    fn create(count: usize) -> io::Result<Spill> {
        let files = (0..count)
            .map(|_| tempfile::tempfile().map(|f| BufWriter::with_capacity(PARTITION_BUFFER, f)))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Spill { files, spilled: 0 })
    }
}

/// `[key length u32][record u64][line u64][offset u64][key]`, little-endian.
fn write_entry(out: &mut impl Write, key: &[u8], place: Place) -> io::Result<()> {
    let len = u32::try_from(key.len()).map_err(|_| io::Error::other("key longer than 4 GiB"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&place.record.to_le_bytes())?;
    out.write_all(&place.line.to_le_bytes())?;
    out.write_all(&place.offset.to_le_bytes())?;
    out.write_all(key)
}

fn read_entry(input: &mut impl Read, key: &mut Vec<u8>) -> io::Result<Option<Place>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut word = || -> io::Result<u64> {
        let mut bytes = [0u8; 8];
        input.read_exact(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    };
    let (record, line, offset) = (word()?, word()?, word()?);
    key.clear();
    key.resize(u32::from_le_bytes(len) as usize, 0);
    input.read_exact(key)?;
    Ok(Some(Place {
        record,
        line,
        offset,
    }))
}

/// The duplicates of one partition file. Entries are in file order (records
/// increase), so the first entry of a key is its first occurrence. A partition
/// too big for the budget is split by another hash and each part resolved.
fn resolve(
    mut file: File,
    hasher: &RandomState,
    budget: usize,
    round: u32,
    found: &mut impl FnMut(LateDuplicate),
) -> Result<(), SpillError> {
    file.seek(SeekFrom::Start(0))?;
    let mut input = BufReader::with_capacity(64 * 1024, &mut file);
    let mut first: HashMap<Box<[u8]>, u64> = HashMap::new();
    let mut used = 0usize;
    let mut key = Vec::new();
    let mut overflow: Option<Vec<BufWriter<File>>> = None;
    while let Some(place) = read_entry(&mut input, &mut key)? {
        if let Some(&first_line) = first.get(key.as_slice()) {
            found(LateDuplicate { place, first_line });
            continue;
        }
        // The map always takes one key, however long: a key longer than the
        // whole budget (a long `unique` string, a small budget shared by many
        // indexes) is still resolved, and every split makes progress.
        if overflow.is_none()
            && (first.is_empty() || used.saturating_add(key.len() + ENTRY_OVERHEAD) <= budget)
        {
            used += key.len() + ENTRY_OVERHEAD;
            first.insert(key.as_slice().into(), place.line);
            continue;
        }
        if round > MAX_SPLITS {
            return Err(SpillError(io::Error::other(format!(
                "a partition still holds more distinct keys than the {budget}-byte budget after {MAX_SPLITS} splits"
            ))));
        }
        let parts = match &mut overflow {
            Some(parts) => parts,
            None => overflow.insert(Spill::create(16)?.files),
        };
        let index = (hasher.hash_one((round, key.as_slice())) % 16) as usize;
        let part = parts
            .get_mut(index)
            .ok_or_else(|| io::Error::other("no such partition"))?;
        write_entry(part, &key, place)?;
    }
    drop(first);
    for part in overflow.into_iter().flatten() {
        let part = part.into_inner().map_err(|e| e.into_error())?;
        resolve(part, hasher, budget, round + 1, found)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(record: u64) -> Place {
        Place {
            record,
            line: record + 1,
            offset: record * 10,
        }
    }

    /// Every later occurrence of a key is a duplicate of the first, in memory
    /// or past the budget alike.
    fn duplicates(keys: &[u64], budget: usize) -> Vec<(u64, u64)> {
        let mut index = KeyIndex::new(budget);
        let mut out = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let at = place(i as u64 + 1);
            match index.insert(&key.to_le_bytes(), at).unwrap() {
                Seen::First | Seen::Deferred => {}
                Seen::Duplicate { first_line } => out.push((at.line, first_line)),
            }
        }
        index
            .finish(|d| out.push((d.place.line, d.first_line)))
            .unwrap();
        out.sort_unstable();
        out
    }

    fn expected(keys: &[u64]) -> Vec<(u64, u64)> {
        let mut first = HashMap::new();
        let mut out = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let line = i as u64 + 2;
            match first.get(key) {
                Some(&f) => out.push((line, f)),
                None => {
                    first.insert(*key, line);
                }
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn duplicates_are_exact_in_memory_and_past_the_budget() {
        let keys: Vec<u64> = (0..20_000u64).map(|i| (i * 7919) % 13_000).collect();
        let want = expected(&keys);
        assert_eq!(want.len(), 7_000);
        assert_eq!(duplicates(&keys, usize::MAX), want);
        // A budget of ~100 keys: nearly everything goes through the partitions.
        let mut index = KeyIndex::new(100 * (8 + ENTRY_OVERHEAD));
        for (i, key) in keys.iter().enumerate() {
            index.insert(&key.to_le_bytes(), place(i as u64)).unwrap();
        }
        assert!(index.spilled() > 19_000);
        assert_eq!(duplicates(&keys, 100 * (8 + ENTRY_OVERHEAD)), want);
    }

    #[test]
    fn a_partition_too_big_for_the_budget_is_split_again() {
        // A budget of one key: every partition overflows and is split.
        let keys: Vec<u64> = (0..5_000u64).map(|i| i % 2_500).collect();
        assert_eq!(duplicates(&keys, 8 + ENTRY_OVERHEAD), expected(&keys));
    }

    #[test]
    fn keys_longer_than_the_budget_are_still_resolved() {
        // Each key alone is larger than the budget: every one is spilled, and
        // each partition must still be resolved rather than split in vain.
        let budget = 100;
        let long = |i: u64| {
            let mut key = vec![b'k'; 300];
            key.extend_from_slice(&i.to_le_bytes());
            key
        };
        let keys: Vec<u64> = (0..600u64).map(|i| i % 400).collect();
        let mut index = KeyIndex::new(budget);
        let mut out = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let at = place(i as u64 + 1);
            assert_eq!(index.insert(&long(*key), at).unwrap(), Seen::Deferred);
        }
        index
            .finish(|d| out.push((d.place.line, d.first_line)))
            .unwrap();
        out.sort_unstable();
        assert_eq!(out, expected(&keys));
    }

    #[test]
    fn one_key_repeated_stays_in_memory() {
        let keys = vec![42u64; 10_000];
        let mut index = KeyIndex::new(1024);
        for (i, key) in keys.iter().enumerate() {
            index.insert(&key.to_le_bytes(), place(i as u64)).unwrap();
        }
        assert_eq!(index.spilled(), 0);
        assert_eq!(duplicates(&keys, 1024), expected(&keys));
    }
}
