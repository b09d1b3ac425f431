//! Exact uniqueness of a column's (or a key's) values, whatever the file's
//! size, in bounded memory.
//!
//! Keys go into an in-memory table (key → line of its first occurrence) while
//! it fits its memory budget, so a duplicate within a file of modest size is
//! found at once. When the next key would not fit, every key of the table is
//! written, with its line, to one of [`PARTITIONS`] partitions chosen by its
//! hash, the table is freed, and from then on each key goes straight to its
//! partition with its record, line, offset (and the record's bytes, when
//! invalid records are kept). At the end each partition is read back alone and
//! its duplicates found, so memory holds one partition at a time (a partition
//! still too big is split again with another hash). A key's first entry in its
//! partition is its first occurrence, so every duplicate is found exactly once,
//! against it.
//!
//! Past the budget nothing is looked up while the file streams: a key costs a
//! hash and an append to a buffer, and the lookups happen partition by
//! partition, in tables small enough for the processor's caches. That is what
//! keeps a file of tens of millions of keys near the speed of one that fits.
//!
//! The partitions of an index share one temporary file: each partition fills
//! its own small buffer, written to the file's end as a block when full, and
//! read back block by block. So an index holds one file descriptor and creates
//! one file, however many partitions: a contract with several `unique`
//! columns stays far from Lambda's 1,024 descriptors, and a small spill does
//! not pay for creating hundreds of files.
//!
//! Keys are hashed with foldhash under a random seed per index: values
//! crafted to collide in a fixed hash cannot pile up in one bucket or one
//! partition. (foldhash makes no claim against an attacker who watches hash
//! outputs or lookup timings; a tenant's file sees neither, and each file
//! gets new seeds.)

use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, Read, Seek, SeekFrom, Write};

use foldhash::quality::RandomState;
use hashbrown::HashTable;

/// Partitions past the budget (a first occurrence and its duplicates always
/// land in the same one).
pub const PARTITIONS: usize = 256;

/// Bytes of write buffer per partition: the size of the blocks written.
const PARTITION_BUFFER: usize = 8 * 1024;

/// Partitions a partition too big for the budget is split into.
const SPLIT_PARTS: usize = 16;

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

/// A duplicate found at the end: the later record, its first occurrence, the
/// value as it is shown in errors, and the record's bytes when the index
/// keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateDuplicate {
    pub place: Place,
    pub first_line: u64,
    pub value: Vec<u8>,
    pub payload: Vec<u8>,
}

/// Why a data contract's checks could not be finished here. Neither is the
/// file's fault; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    /// The local scratch files failed (the disk is full or gone): the
    /// uniqueness spill, or the invalid records kept aside.
    #[error(
        "the data contract's local scratch files failed: {0}; give the function more ephemeral storage (/tmp)"
    )]
    Disk(#[from] io::Error),
    /// A partition of the uniqueness index still held more distinct keys
    /// than the memory budget after every split (keys near the budget's
    /// size each).
    #[error(
        "the data contract's uniqueness index needs more memory than its {budget}-byte share of limits.unique_memory_bytes, even split {splits} times: raise limits.unique_memory_bytes"
    )]
    Budget { budget: usize, splits: u32 },
}

/// The keys of one `unique` column or of the primary key.
pub struct KeyIndex {
    hasher: RandomState,
    budget: usize,
    /// Every key so far, until the budget is reached.
    memory: FirstSeen,
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
            hasher: RandomState::default(),
            budget,
            memory: FirstSeen::default(),
            spill: None,
        }
    }

    /// How many keys went to disk (those moved there when the budget was
    /// reached, and every later one).
    pub fn spilled(&self) -> u64 {
        self.spill.as_ref().map_or(0, |s| s.spilled)
    }

    /// Records `key`, seen at `place`; `value` (the value as errors show it)
    /// and `payload` (the record's bytes, or nothing) are kept with a key
    /// written to disk and handed back with its [`LateDuplicate`].
    pub fn insert(
        &mut self,
        key: &[u8],
        place: Place,
        value: &[u8],
        payload: &[u8],
    ) -> Result<Seen, SpillError> {
        let hash = self.hasher.hash_one(key);
        if self.spill.is_none() {
            if let Some(first_line) = self.memory.get(hash, key) {
                return Ok(Seen::Duplicate { first_line });
            }
            if self
                .memory
                .try_insert(hash, key, place.line, self.budget, &self.hasher)
            {
                return Ok(Seen::First);
            }
            // The budget is reached: the table's keys move to the partitions,
            // and this key and every later one follow them.
            self.spill = Some(self.move_to_disk()?);
        }
        if let Some(spill) = &mut self.spill {
            let entry = Entry::Later {
                key,
                place,
                value,
                payload,
            };
            spill.parts.write(partition_of(hash), &entry)?;
            spill.spilled += 1;
        }
        Ok(Seen::Deferred)
    }

    /// Writes every key of the in-memory table to the partitions, as first
    /// occurrences, and frees the table.
    fn move_to_disk(&mut self) -> Result<Spill, SpillError> {
        let mut parts = Partitioned::create(PARTITIONS)?;
        let mut spilled = 0u64;
        let hasher = &self.hasher;
        self.memory.for_each(|first, line| {
            spilled += 1;
            parts.write(
                partition_of(hasher.hash_one(first)),
                &Entry::First { key: first, line },
            )
        })?;
        self.memory = FirstSeen::default();
        Ok(Spill { parts, spilled })
    }

    /// Finds the duplicates among the keys written to disk, calling `found`
    /// for each (in no particular order). Frees the memory and the files.
    pub fn finish(self, mut found: impl FnMut(LateDuplicate)) -> Result<(), SpillError> {
        let KeyIndex {
            hasher,
            budget,
            memory,
            spill,
        } = self;
        drop(memory);
        let Some(spill) = spill else {
            return Ok(());
        };
        let mut parts = spill.parts;
        let mut table = FirstSeen::default();
        for partition in 0..parts.count() {
            resolve(
                &mut parts, partition, &mut table, &hasher, budget, 1, &mut found,
            )?;
        }
        Ok(())
    }
}

/// The top-level partition of a key: bits of its table hash that the table
/// does not use (hashbrown takes the low bits for the bucket and the top
/// seven for its tag), so keys of one partition still spread over its table.
fn partition_of(hash: u64) -> usize {
    ((hash >> 32) as usize) % PARTITIONS
}

/// Keys and the line each was first seen on: a hash table of fixed-size
/// slots; a key of up to 8 bytes (an int, a bigint, a date, a timestamp) sits
/// in its slot, a longer one in an arena the slot points into.
#[derive(Default)]
struct FirstSeen {
    table: HashTable<Slot>,
    arena: Vec<u8>,
}

/// One key: 8 bytes of key or of arena position, and the line with the
/// key's form in its top byte (its length when inline, [`IN_ARENA`] when not).
#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    line_and_form: u64,
}

const INLINE_MAX: usize = 8;
const IN_ARENA: u64 = 0xff;
const FORM_SHIFT: u32 = 56;
const LINE_MASK: u64 = (1 << FORM_SHIFT) - 1;

impl Slot {
    fn line(self) -> u64 {
        self.line_and_form & LINE_MASK
    }

    fn form(self) -> u64 {
        self.line_and_form >> FORM_SHIFT
    }

    /// Whether the slot holds `key`, whose inline form (when it has one) is
    /// `word`.
    fn holds(self, arena: &[u8], key: &[u8], word: u64) -> bool {
        if self.form() == IN_ARENA {
            let (at, len) = self.arena_range();
            arena.get(at..at + len) == Some(key)
        } else {
            self.form() == key.len() as u64 && self.key == word
        }
    }

    fn arena_range(self) -> (usize, usize) {
        ((self.key & 0xffff_ffff) as usize, (self.key >> 32) as usize)
    }

    /// Calls `f` with the slot's key.
    fn with_key<R>(self, arena: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
        if self.form() == IN_ARENA {
            let (at, len) = self.arena_range();
            f(arena.get(at..at + len).unwrap_or_default())
        } else {
            let bytes = self.key.to_ne_bytes();
            f(bytes.get(..self.form() as usize).unwrap_or_default())
        }
    }
}

/// A key of up to 8 bytes as its slot holds it (zero-padded; the length is
/// kept beside it).
fn inline_word(key: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    if let Some(head) = bytes.get_mut(..key.len()) {
        head.copy_from_slice(key);
    }
    u64::from_ne_bytes(bytes)
}

impl FirstSeen {
    /// Bytes the table and the arena hold.
    fn bytes(&self) -> usize {
        table_bytes(self.table.capacity()).saturating_add(self.arena.capacity())
    }

    fn get(&self, hash: u64, key: &[u8]) -> Option<u64> {
        let (arena, word) = (&self.arena, inline_word(key));
        self.table
            .find(hash, |slot| slot.holds(arena, key, word))
            .map(|slot| slot.line())
    }

    /// Inserts a key known to be absent, unless that would take the table
    /// past `budget` bytes; an empty table always takes one key, so that a
    /// key longer than the whole budget is still resolved.
    fn try_insert(
        &mut self,
        hash: u64,
        key: &[u8],
        line: u64,
        budget: usize,
        hasher: &RandomState,
    ) -> bool {
        if line > LINE_MASK {
            return false;
        }
        let empty = self.table.is_empty();
        let table_after = if self.table.len() < self.table.capacity() {
            table_bytes(self.table.capacity())
        } else {
            table_bytes(self.table.len() + 1)
        };
        let slot = if key.len() <= INLINE_MAX {
            if !empty && table_after + self.arena.capacity() > budget {
                return false;
            }
            Slot {
                key: inline_word(key),
                line_and_form: line | ((key.len() as u64) << FORM_SHIFT),
            }
        } else {
            let at = self.arena.len();
            let end = at.saturating_add(key.len());
            if end > u32::MAX as usize || key.len() > u32::MAX as usize {
                return false;
            }
            if end > self.arena.capacity() {
                // Grow by doubling while that fits, else to all the room left
                // (never by one key at a time: that would copy it each time).
                let room = budget.saturating_sub(table_after);
                let doubled = (self.arena.capacity() * 2).max(end).max(4096);
                let target = doubled.min(room).max(end);
                if !empty && target > room {
                    return false;
                }
                self.arena.reserve_exact(target - self.arena.len());
            } else if !empty && table_after + self.arena.capacity() > budget {
                return false;
            }
            self.arena.extend_from_slice(key);
            Slot {
                key: (at as u64) | ((key.len() as u64) << 32),
                line_and_form: line | (IN_ARENA << FORM_SHIFT),
            }
        };
        let arena = &self.arena;
        self.table.insert_unique(hash, slot, |slot| {
            slot.with_key(arena, |key| hasher.hash_one(key))
        });
        true
    }

    /// Calls `f` with every key and its line, in no particular order.
    fn for_each(&self, mut f: impl FnMut(&[u8], u64) -> io::Result<()>) -> io::Result<()> {
        for &slot in &self.table {
            slot.with_key(&self.arena, |key| f(key, slot.line()))?;
        }
        Ok(())
    }

    /// Empties the table, keeping its memory for the next partition.
    fn clear(&mut self) {
        self.table.clear();
        self.arena.clear();
    }
}

/// What a table able to hold `keys` keys costs: hashbrown keeps at most 7/8
/// of a power-of-two number of buckets full, with a control byte per bucket.
fn table_bytes(keys: usize) -> usize {
    if keys == 0 {
        return 0;
    }
    let buckets = if keys < 8 {
        if keys < 4 { 4 } else { 8 }
    } else {
        (keys.saturating_mul(8) / 7).next_power_of_two()
    };
    buckets.saturating_mul(size_of::<Slot>() + 1)
}

/// One entry of a partition.
enum Entry<'a> {
    /// A key moved from the in-memory table: its first occurrence.
    First { key: &'a [u8], line: u64 },
    /// A key seen past the budget, with its value as shown and the record's
    /// bytes when kept.
    Later {
        key: &'a [u8],
        place: Place,
        value: &'a [u8],
        payload: &'a [u8],
    },
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

    /// Adds an entry to `partition`.
    fn write(&mut self, partition: usize, entry: &Entry<'_>) -> io::Result<()> {
        let (Some(buffer), Some(blocks)) = (
            self.buffers.get_mut(partition),
            self.blocks.get_mut(partition),
        ) else {
            return Err(io::Error::other("no such partition"));
        };
        if buffer.capacity() == 0 {
            buffer.reserve_exact(PARTITION_BUFFER + 64);
        }
        write_entry(buffer, entry)?;
        if buffer.len() >= PARTITION_BUFFER {
            self.file.write_all(buffer)?;
            blocks.push((self.end, buffer.len()));
            self.end += buffer.len() as u64;
            if buffer.capacity() > 2 * PARTITION_BUFFER {
                // A long record (kept with quarantine_rows) grew it: 256
                // partitions must not each keep such a buffer.
                *buffer = Vec::with_capacity(PARTITION_BUFFER + 64);
            } else {
                buffer.clear();
            }
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
            tail: self.buffers.get_mut(partition).map(std::mem::take),
            block: Vec::new(),
        }
    }
}

/// Reads one partition: its blocks from the file, then its buffered tail.
/// Entries are appended to a buffer whole and a buffer is written whole, so
/// no entry spans two blocks.
struct PartitionReader<'a> {
    file: &'a File,
    blocks: Vec<(u64, usize)>,
    next: usize,
    tail: Option<Vec<u8>>,
    block: Vec<u8>,
}

impl PartitionReader<'_> {
    /// The next block, or `None` at the end.
    fn next_block(&mut self) -> io::Result<Option<&[u8]>> {
        if let Some(&(offset, len)) = self.blocks.get(self.next) {
            self.next += 1;
            self.block.resize(len, 0);
            let mut file = self.file;
            file.seek(SeekFrom::Start(offset))?;
            file.read_exact(&mut self.block)?;
        } else if let Some(tail) = self.tail.take() {
            self.block = tail;
        } else {
            return Ok(None);
        }
        Ok(Some(&self.block))
    }
}

/// Appends a LEB128 number.
fn put_number(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

// An entry: `[key length << 1 | later][line]([value length << 1 | value is
// not the key][payload length][record][offset])[key]([value][payload])`,
// numbers in LEB128 (most are one to five bytes,
// where fixed-width fields took 36: the spill is written and read once each).
// Hand-written rather than a varint crate: it is these ten lines, and the
// reader works on the partition's own buffers.
fn write_entry(out: &mut Vec<u8>, entry: &Entry<'_>) -> io::Result<()> {
    match *entry {
        Entry::First { key, line } => {
            put_number(out, (key.len() as u64) << 1);
            put_number(out, line);
            out.extend_from_slice(key);
        }
        Entry::Later {
            key,
            place,
            value,
            payload,
        } => {
            // A value written as its key (most strings) is not written twice.
            let value = if value == key { None } else { Some(value) };
            let value_head = value.map_or(0, |v| (v.len() as u64) << 1 | 1);
            put_number(out, ((key.len() as u64) << 1) | 1);
            put_number(out, place.line);
            put_number(out, value_head);
            put_number(out, payload.len() as u64);
            put_number(out, place.record);
            put_number(out, place.offset);
            out.extend_from_slice(key);
            out.extend_from_slice(value.unwrap_or_default());
            out.extend_from_slice(payload);
        }
    }
    Ok(())
}

/// An entry read back from a block.
struct ReadEntry<'b> {
    key: &'b [u8],
    /// Its line (that of its first occurrence, for a moved key).
    line: u64,
    /// Where a later key was seen; `None` for a first occurrence moved from
    /// memory.
    later: Option<Later<'b>>,
}

/// What a later key carries.
struct Later<'b> {
    place: Place,
    value: &'b [u8],
    payload: &'b [u8],
}

/// Reads the entry at the start of `block`, advancing past it.
fn read_entry<'b>(block: &mut &'b [u8]) -> io::Result<ReadEntry<'b>> {
    let head = take_number(block)?;
    let line = take_number(block)?;
    if head & 1 == 0 {
        let key = take_bytes(block, head >> 1)?;
        return Ok(ReadEntry {
            key,
            line,
            later: None,
        });
    }
    let value_head = take_number(block)?;
    let payload_len = take_number(block)?;
    let record = take_number(block)?;
    let offset = take_number(block)?;
    let key = take_bytes(block, head >> 1)?;
    let value = if value_head & 1 == 1 {
        take_bytes(block, value_head >> 1)?
    } else {
        key
    };
    let payload = take_bytes(block, payload_len)?;
    let place = Place {
        record,
        line,
        offset,
    };
    Ok(ReadEntry {
        key,
        line,
        later: Some(Later {
            place,
            value,
            payload,
        }),
    })
}

fn corrupt() -> io::Error {
    io::Error::other("a spilled partition ends inside an entry")
}

/// A LEB128 number (7 bits a byte, low first).
fn take_number(block: &mut &[u8]) -> io::Result<u64> {
    let mut value = 0u64;
    for (i, &byte) in block.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *block = block.get(i + 1..).unwrap_or_default();
            return Ok(value);
        }
    }
    Err(corrupt())
}

fn take_bytes<'b>(block: &mut &'b [u8], len: u64) -> io::Result<&'b [u8]> {
    let len = usize::try_from(len).map_err(|_| corrupt())?;
    if len > block.len() {
        return Err(corrupt());
    }
    let (bytes, rest) = block.split_at(len);
    *block = rest;
    Ok(bytes)
}

/// The duplicates of one partition. Entries are in the order written (moved
/// first occurrences, then records in increasing order), so the first entry
/// of a key is its first occurrence. A partition too big for the budget is
/// split by another hash and each part resolved.
fn resolve(
    parts: &mut Partitioned,
    partition: usize,
    table: &mut FirstSeen,
    hasher: &RandomState,
    budget: usize,
    round: u32,
    found: &mut impl FnMut(LateDuplicate),
) -> Result<(), SpillError> {
    if table.bytes() > budget {
        // One key longer than the budget was admitted alone into an earlier
        // partition's table: its arena would crowd every later table.
        *table = FirstSeen::default();
    } else {
        table.clear();
    }
    let mut input = parts.read(partition);
    let mut overflow: Option<Partitioned> = None;
    while let Some(mut block) = input.next_block()? {
        while !block.is_empty() {
            let entry = read_entry(&mut block)?;
            let hash = hasher.hash_one(entry.key);
            if let Some(first_line) = table.get(hash, entry.key) {
                if let Some(later) = entry.later {
                    found(LateDuplicate {
                        place: later.place,
                        first_line,
                        value: later.value.to_vec(),
                        payload: later.payload.to_vec(),
                    });
                }
                continue;
            }
            if overflow.is_none() && table.try_insert(hash, entry.key, entry.line, budget, hasher) {
                continue;
            }
            if round > MAX_SPLITS {
                return Err(SpillError::Budget {
                    budget,
                    splits: MAX_SPLITS,
                });
            }
            let split = match &mut overflow {
                Some(split) => split,
                None => overflow.insert(Partitioned::create(SPLIT_PARTS)?),
            };
            let index = (hasher.hash_one((round, entry.key)) % SPLIT_PARTS as u64) as usize;
            let entry = match entry.later {
                Some(later) => Entry::Later {
                    key: entry.key,
                    place: later.place,
                    value: later.value,
                    payload: later.payload,
                },
                None => Entry::First {
                    key: entry.key,
                    line: entry.line,
                },
            };
            split.write(index, &entry)?;
        }
    }
    drop(input);
    if let Some(mut split) = overflow {
        // The split holds only keys the table did not: its parts are
        // resolved alone, in the same table's memory.
        for part in 0..split.count() {
            resolve(&mut split, part, table, hasher, budget, round + 1, found)?;
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
            match index.insert(&key.to_le_bytes(), at, b"", b"").unwrap() {
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
        let mut first = std::collections::HashMap::new();
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
        let mut index = KeyIndex::new(table_bytes(100));
        for (i, key) in keys.iter().enumerate() {
            index
                .insert(&key.to_le_bytes(), place(i as u64), b"", b"")
                .unwrap();
        }
        assert!(index.spilled() > 19_000);
        assert_eq!(duplicates(&keys, table_bytes(100)), want);
    }

    #[test]
    fn a_partition_too_big_for_the_budget_is_split_again() {
        // A budget of one key: every partition overflows and is split.
        let keys: Vec<u64> = (0..5_000u64).map(|i| i % 2_500).collect();
        assert_eq!(duplicates(&keys, 0), expected(&keys));
    }

    #[test]
    fn keys_longer_than_the_budget_are_still_resolved() {
        // Each key alone is larger than the budget: all but the first are
        // spilled, and each partition must still be resolved rather than
        // split in vain.
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
            let seen = index.insert(&long(*key), at, b"", b"").unwrap();
            let want = if i == 0 { Seen::First } else { Seen::Deferred };
            assert_eq!(seen, want);
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
                    .insert(
                        &(key % 1_500).to_le_bytes(),
                        place(key + i as u64),
                        b"",
                        b"",
                    )
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

    /// Keys of every length around the inline limit (8 bytes), including
    /// the empty key and keys that differ only by trailing zero bytes, with
    /// their values and records' bytes: in memory, moved to disk, and split
    /// again.
    #[test]
    fn keys_of_any_length_and_their_payloads_survive_the_spill() {
        let key_of = |i: u64| -> Vec<u8> {
            let len = (i % 13) as usize;
            let mut key = vec![0u8; len];
            for (j, byte) in key.iter_mut().enumerate() {
                *byte = ((i / 13) >> (j % 8)) as u8 & 0x3;
            }
            key
        };
        let keys: Vec<Vec<u8>> = (0..6_000u64).map(|i| key_of((i * 7_919) % 4_000)).collect();
        let mut first = std::collections::HashMap::new();
        let mut want = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let line = i as u64 + 2;
            match first.get(key) {
                Some(&f) => want.push((
                    line,
                    f,
                    format!("v{i}").into_bytes(),
                    format!("record {i}").into_bytes(),
                )),
                None => {
                    first.insert(key.clone(), line);
                }
            }
        }
        want.sort();
        assert!(want.len() > 2_000, "the keys repeat: {}", want.len());
        for budget in [0, 100, table_bytes(500), usize::MAX] {
            let mut index = KeyIndex::new(budget);
            let mut got = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                let at = place(i as u64 + 1);
                let value = format!("v{i}").into_bytes();
                let payload = format!("record {i}").into_bytes();
                if let Seen::Duplicate { first_line } =
                    index.insert(key, at, &value, &payload).unwrap()
                {
                    got.push((at.line, first_line, value, payload));
                }
            }
            index
                .finish(|d| got.push((d.place.line, d.first_line, d.value, d.payload)))
                .unwrap();
            got.sort();
            assert_eq!(got, want, "budget {budget}");
        }
    }

    /// Keys that all collide in a polynomial hash (`Aa` and `BB` blocks, as
    /// Java's `String.hashCode`) spread over the table's buckets, its tags
    /// and the partitions like any keys: no bucket or partition piles up.
    #[test]
    fn keys_that_collide_in_a_naive_hash_spread_out() {
        const BLOCKS: u32 = 14;
        let keys: Vec<Vec<u8>> = (0..1u32 << BLOCKS)
            .map(|n| {
                (0..BLOCKS)
                    .flat_map(|bit| if n >> bit & 1 == 1 { *b"BB" } else { *b"Aa" })
                    .collect()
            })
            .collect();
        let naive = |key: &[u8]| {
            key.iter()
                .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        };
        assert!(keys.iter().all(|k| naive(k) == naive(&keys[0])));
        let index = KeyIndex::new(0);
        let hashes: Vec<u64> = keys.iter().map(|k| index.hasher.hash_one(k)).collect();
        let n = keys.len();
        // Buckets of a table with as many buckets as keys: uniform hashing
        // fills 1 - 1/e of them (63%); a pile-up fills a handful.
        let buckets: std::collections::HashSet<u64> =
            hashes.iter().map(|h| h & (n as u64 - 1)).collect();
        assert!(buckets.len() > n / 2, "{} buckets of {n}", buckets.len());
        // hashbrown's 7-bit tags: all 128 appear.
        let tags: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert_eq!(tags.len(), 128);
        // Partitions: 64 keys each on average; none holds three times that.
        let mut per_partition = vec![0usize; PARTITIONS];
        for &h in &hashes {
            per_partition[partition_of(h)] += 1;
        }
        let fullest = per_partition.iter().max().copied().unwrap_or(0);
        assert!(
            fullest < 3 * n / PARTITIONS,
            "a partition holds {fullest} keys"
        );
    }

    /// A key longer than the whole budget is resolved alone; the tables of
    /// the partitions after it must not inherit its arena (they would hold
    /// one key each and split until the splits run out).
    #[test]
    fn a_key_longer_than_the_budget_does_not_crowd_later_partitions() {
        let budget = table_bytes(64);
        let mut index = KeyIndex::new(budget);
        let long = vec![b'x'; 5 * budget];
        index.insert(&long, place(1), b"", b"").unwrap();
        let keys: Vec<u64> = (0..120_000u64).map(|i| i % 100_000).collect();
        for (i, key) in keys.iter().enumerate() {
            index
                .insert(&key.to_le_bytes(), place(i as u64 + 2), b"", b"")
                .unwrap();
        }
        let mut late = 0;
        index.finish(|_| late += 1).unwrap();
        assert_eq!(late, 20_000);
    }

    /// More distinct keys than every split of the budget can hold: the
    /// error names the memory limit, not the disk.
    #[test]
    fn too_little_memory_for_the_keys_says_so() {
        let mut index = KeyIndex::new(0);
        for i in 0..300_000u64 {
            index.insert(&i.to_le_bytes(), place(i), b"", b"").unwrap();
        }
        let error = index.finish(|_| {}).unwrap_err();
        assert!(matches!(error, SpillError::Budget { .. }), "{error}");
        assert!(
            error.to_string().contains("limits.unique_memory_bytes"),
            "{error}"
        );
    }

    /// A long record kept with a spilled key leaves its partition's buffer
    /// as small as the others once written.
    #[test]
    fn a_long_entry_does_not_keep_its_buffer_large() {
        let mut parts = Partitioned::create(PARTITIONS).unwrap();
        let record = vec![b'r'; 1 << 20];
        let entry = Entry::Later {
            key: b"k",
            place: place(1),
            value: b"v",
            payload: &record,
        };
        parts.write(3, &entry).unwrap();
        assert!(parts.buffers[3].capacity() <= 2 * PARTITION_BUFFER);
        let mut input = parts.read(3);
        let mut block = input.next_block().unwrap().unwrap();
        let read = read_entry(&mut block).unwrap();
        assert_eq!(read.key, b"k");
        let later = read.later.unwrap();
        assert_eq!((later.value, later.payload.len()), (&b"v"[..], 1 << 20));
    }

    #[test]
    fn one_key_repeated_stays_in_memory() {
        let keys = vec![42u64; 10_000];
        let mut index = KeyIndex::new(1024);
        for (i, key) in keys.iter().enumerate() {
            index
                .insert(&key.to_le_bytes(), place(i as u64), b"", b"")
                .unwrap();
        }
        assert_eq!(index.spilled(), 0);
        assert_eq!(duplicates(&keys, 1024), expected(&keys));
    }
}
