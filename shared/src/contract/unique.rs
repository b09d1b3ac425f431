//! Exact uniqueness of a column's (or a key's) values, whatever the file's
//! size, in bounded memory.
//!
//! Keys go into a hash map (key → line of its first occurrence) until the map
//! holds its memory budget. Past it the map is frozen: a key found in it is a
//! duplicate at once; any other key is written, with its record and line, to
//! one of [`PARTITIONS`] partitions chosen by its hash. At the end each
//! partition is read back alone and its duplicates found, so memory holds one
//! partition at a time (a partition still too big is split again with another
//! hash). A key can be in the frozen map or in the partitions, never both, so
//! every duplicate is found exactly once, against its first occurrence.
//!
//! The partitions of an index share one temporary file: each partition fills
//! its own small buffer, written to the file's end as a block when full, and
//! read back block by block. So an index holds one file descriptor and creates
//! one file, however many partitions: a contract with several `unique`
//! columns stays far from Lambda's 1,024 descriptors, and a small spill does
//! not pay for creating hundreds of files.
//!
//! The maps use std's SipHash with a random key per process: values crafted to
//! collide in a fixed hash cannot pile up in one bucket or one partition.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Partition files past the budget (a first occurrence and its duplicates
/// always land in the same one).
pub const PARTITIONS: usize = 256;

/// Bytes of write buffer per partition: the size of the blocks written.
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

/// A duplicate found at the end: the later record, its first occurrence, and
/// the record's bytes when the index keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateDuplicate {
    pub place: Place,
    pub first_line: u64,
    pub payload: Vec<u8>,
}

/// Why the contract's local scratch files failed (the disk is full or gone):
/// the uniqueness spill, or the invalid records kept aside.
#[derive(Debug, thiserror::Error)]
#[error("the data contract's local scratch files failed: {0}")]
pub struct SpillError(#[from] pub io::Error);

/// The keys of one `unique` column or of the primary key.
pub struct KeyIndex {
    hasher: RandomState,
    first: HashMap<Box<[u8]>, u64>,
    used: usize,
    budget: usize,
    spill: Option<Spill>,
}

struct Spill {
    parts: Partitioned,
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

    /// Records `key`, seen at `place`; `payload` (the record's bytes, or
    /// nothing) is kept with a key written to disk and handed back with its
    /// [`LateDuplicate`].
    pub fn insert(&mut self, key: &[u8], place: Place, payload: &[u8]) -> Result<Seen, SpillError> {
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
            None => self.spill.insert(Spill {
                parts: Partitioned::create(PARTITIONS)?,
                spilled: 0,
            }),
        };
        spill.parts.write(partition, key, place, payload)?;
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
        let mut parts = spill.parts;
        for partition in 0..parts.count() {
            resolve(&mut parts, partition, &hasher, budget, 1, &mut found)?;
        }
        Ok(())
    }
}

/// Partitions of entries in one temporary file: each partition's entries are
/// buffered, and a full buffer is appended to the file as one of its blocks.
struct Partitioned {
    file: File,
    /// The file's length (it is only appended to until it is read).
    end: u64,
    /// Each partition's entries not yet written.
    buffers: Vec<Vec<u8>>,
    /// Each partition's blocks in the file, in order: offset and length.
    blocks: Vec<Vec<(u64, usize)>>,
}

impl Partitioned {
    fn create(count: usize) -> io::Result<Partitioned> {
        Ok(Partitioned {
            file: tempfile::tempfile()?,
            end: 0,
            buffers: vec![Vec::new(); count],
            blocks: vec![Vec::new(); count],
        })
    }

    fn count(&self) -> usize {
        self.buffers.len()
    }

    /// Adds an entry (a key, where it was seen, and the record's bytes when
    /// they are kept) to `partition`.
    fn write(
        &mut self,
        partition: usize,
        key: &[u8],
        place: Place,
        payload: &[u8],
    ) -> io::Result<()> {
        let (Some(buffer), Some(blocks)) = (
            self.buffers.get_mut(partition),
            self.blocks.get_mut(partition),
        ) else {
            return Err(io::Error::other("no such partition"));
        };
        write_entry(buffer, key, place, payload)?;
        if buffer.len() >= PARTITION_BUFFER {
            self.file.write_all(buffer)?;
            blocks.push((self.end, buffer.len()));
            self.end += buffer.len() as u64;
            buffer.clear();
        }
        Ok(())
    }

    /// The entries of `partition`, in the order they were written; its memory
    /// is freed once read.
    fn read(&mut self, partition: usize) -> PartitionReader<'_> {
        PartitionReader {
            file: &self.file,
            blocks: std::mem::take(self.blocks.get_mut(partition).unwrap_or(&mut Vec::new())),
            next: 0,
            tail: std::mem::take(self.buffers.get_mut(partition).unwrap_or(&mut Vec::new())),
            tail_read: false,
            block: Vec::new(),
            at: 0,
        }
    }
}

/// Reads one partition: its blocks from the file, then its buffered tail.
struct PartitionReader<'a> {
    file: &'a File,
    blocks: Vec<(u64, usize)>,
    next: usize,
    tail: Vec<u8>,
    tail_read: bool,
    block: Vec<u8>,
    at: usize,
}

impl Read for PartitionReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.block.len() {
            if let Some(&(offset, len)) = self.blocks.get(self.next) {
                self.next += 1;
                self.block.resize(len, 0);
                let mut file = self.file;
                file.seek(SeekFrom::Start(offset))?;
                file.read_exact(&mut self.block)?;
            } else if !self.tail_read {
                self.tail_read = true;
                self.block = std::mem::take(&mut self.tail);
            } else {
                return Ok(0);
            }
            self.at = 0;
        }
        let available = self.block.get(self.at..).unwrap_or_default();
        let n = available.len().min(out.len());
        out.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(available.get(..n).unwrap_or_default());
        self.at += n;
        Ok(n)
    }
}

/// `[key length u32][payload length u32][record u64][line u64][offset u64][key][payload]`,
/// little-endian.
fn write_entry(out: &mut impl Write, key: &[u8], place: Place, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(key.len()).map_err(|_| io::Error::other("key longer than 4 GiB"))?;
    let payload_len =
        u32::try_from(payload.len()).map_err(|_| io::Error::other("record longer than 4 GiB"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&payload_len.to_le_bytes())?;
    out.write_all(&place.record.to_le_bytes())?;
    out.write_all(&place.line.to_le_bytes())?;
    out.write_all(&place.offset.to_le_bytes())?;
    out.write_all(key)?;
    out.write_all(payload)
}

fn read_entry(
    input: &mut impl Read,
    key: &mut Vec<u8>,
    payload: &mut Vec<u8>,
) -> io::Result<Option<Place>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload_len = [0u8; 4];
    input.read_exact(&mut payload_len)?;
    let mut word = || -> io::Result<u64> {
        let mut bytes = [0u8; 8];
        input.read_exact(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    };
    let (record, line, offset) = (word()?, word()?, word()?);
    key.clear();
    key.resize(u32::from_le_bytes(len) as usize, 0);
    input.read_exact(key)?;
    payload.clear();
    payload.resize(u32::from_le_bytes(payload_len) as usize, 0);
    input.read_exact(payload)?;
    Ok(Some(Place {
        record,
        line,
        offset,
    }))
}

/// The duplicates of one partition. Entries are in the order written (records
/// increase), so the first entry of a key is its first occurrence. A partition
/// too big for the budget is split by another hash and each part resolved.
fn resolve(
    parts: &mut Partitioned,
    partition: usize,
    hasher: &RandomState,
    budget: usize,
    round: u32,
    found: &mut impl FnMut(LateDuplicate),
) -> Result<(), SpillError> {
    let mut input = parts.read(partition);
    let mut first: HashMap<Box<[u8]>, u64> = HashMap::new();
    let mut used = 0usize;
    let mut key = Vec::new();
    let mut payload = Vec::new();
    let mut overflow: Option<Partitioned> = None;
    while let Some(place) = read_entry(&mut input, &mut key, &mut payload)? {
        if let Some(&first_line) = first.get(key.as_slice()) {
            found(LateDuplicate {
                place,
                first_line,
                payload: payload.clone(),
            });
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
        let split = match &mut overflow {
            Some(split) => split,
            None => overflow.insert(Partitioned::create(16)?),
        };
        let index = (hasher.hash_one((round, key.as_slice())) % 16) as usize;
        split.write(index, &key, place, &payload)?;
    }
    drop(first);
    drop(input);
    if let Some(mut split) = overflow {
        for part in 0..split.count() {
            resolve(&mut split, part, hasher, budget, round + 1, found)?;
        }
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
            match index.insert(&key.to_le_bytes(), at, b"").unwrap() {
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
            index
                .insert(&key.to_le_bytes(), place(i as u64), b"")
                .unwrap();
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
            assert_eq!(index.insert(&long(*key), at, b"").unwrap(), Seen::Deferred);
        }
        index
            .finish(|d| out.push((d.place.line, d.first_line)))
            .unwrap();
        out.sort_unstable();
        assert_eq!(out, expected(&keys));
    }

    /// Each index that spills holds one file however many partitions it
    /// has: a contract with several `unique` columns must stay well within
    /// Lambda's 1,024 file descriptors (256 files per index did not).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_spilled_index_holds_one_file() {
        let open = || std::fs::read_dir("/proc/self/fd").unwrap().count();
        let before = open();
        let mut indexes: Vec<KeyIndex> = (0..20).map(|_| KeyIndex::new(0)).collect();
        for (i, index) in indexes.iter_mut().enumerate() {
            for key in 0..2_000u64 {
                index
                    .insert(&(key % 1_500).to_le_bytes(), place(key + i as u64), b"")
                    .unwrap();
            }
            assert_eq!(index.spilled(), 2_000);
        }
        // Other tests run beside this one: allow for their files.
        let added = open().saturating_sub(before);
        assert!(added < 200, "{added} descriptors for 20 spilled indexes");
        for index in indexes {
            let mut late = 0;
            index.finish(|_| late += 1).unwrap();
            assert_eq!(late, 500);
        }
    }

    #[test]
    fn one_key_repeated_stays_in_memory() {
        let keys = vec![42u64; 10_000];
        let mut index = KeyIndex::new(1024);
        for (i, key) in keys.iter().enumerate() {
            index
                .insert(&key.to_le_bytes(), place(i as u64), b"")
                .unwrap();
        }
        assert_eq!(index.spilled(), 0);
        assert_eq!(duplicates(&keys, 1024), expected(&keys));
    }
}
