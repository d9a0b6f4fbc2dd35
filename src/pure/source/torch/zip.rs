//! The zip structures of a torch ≥ 1.6 checkpoint, parsed from byte slices: the end of
//! central directory record (and its zip64 locator and record), the central directory, and
//! one local file header. Only what locating stored (uncompressed) entries needs.

use super::TorchError;

/// The end of central directory record's signature and fixed size.
const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
/// The zip64 end of central directory locator's signature and size.
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
pub const ZIP64_LOCATOR_LEN: u64 = 20;
/// The zip64 end of central directory record's signature and fixed size.
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
pub const ZIP64_EOCD_LEN: u64 = 56;
/// A central directory header's signature and fixed size.
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const CENTRAL_LEN: usize = 46;
/// A local file header's signature and fixed size.
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
pub const LOCAL_LEN: u64 = 30;
/// The longest the end record can be: its fixed part and a 65,535-byte comment.
pub const MAX_EOCD_SPAN: u64 = EOCD_LEN as u64 + 65_535;

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let slice = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*slice.first()?, *slice.get(1)?]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let slice = bytes.get(at..at.checked_add(4)?)?;
    let mut out = [0_u8; 4];
    out.copy_from_slice(slice);
    Some(u32::from_le_bytes(out))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let slice = bytes.get(at..at.checked_add(8)?)?;
    let mut out = [0_u8; 8];
    out.copy_from_slice(slice);
    Some(u64::from_le_bytes(out))
}

fn bad(detail: impl Into<String>) -> TorchError {
    TorchError::BadZip {
        detail: detail.into(),
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Where the central directory is, from the end records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPlace {
    /// Absolute offset of the central directory.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u64,
    /// How many entries it holds.
    pub entries: u64,
}

/// What the end of the file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndRecords {
    /// The end record gives the directory directly.
    Directory(DirectoryPlace),
    /// A zip64 file: the zip64 end record is at this absolute offset.
    Zip64At(u64),
}

/// Finds the end of central directory record in `tail`, the file's last bytes (`tail_start`
/// is the absolute offset of `tail[0]`).
///
/// Returns `Ok(None)` when the record is not in `tail` (a longer tail may hold it).
pub fn find_end_records(tail: &[u8], tail_start: u64) -> Result<Option<EndRecords>, TorchError> {
    let Some(last_start) = tail.len().checked_sub(EOCD_LEN) else {
        return Ok(None);
    };
    // Scan backwards for a signature whose comment length reaches exactly the file's end.
    let mut found = None;
    for at in (0..=last_start).rev() {
        if u32_at(tail, at) == Some(EOCD_SIGNATURE) {
            let comment_len = usize::from(u16_at(tail, at + 20).unwrap_or(u16::MAX));
            if at + EOCD_LEN + comment_len == tail.len() {
                found = Some(at);
                break;
            }
        }
        if tail.len() - at > MAX_EOCD_SPAN as usize {
            break;
        }
    }
    let Some(at) = found else {
        return Ok(None);
    };
    let field16 = |offset| u16_at(tail, at + offset).unwrap_or(0);
    let field32 = |offset| u32_at(tail, at + offset).unwrap_or(0);
    let (disk, cd_disk) = (field16(4), field16(6));
    let (entries_here, entries) = (field16(8), field16(10));
    let (size, offset) = (field32(12), field32(16));
    let zip64 = entries == u16::MAX || size == u32::MAX || offset == u32::MAX;
    if zip64 {
        let locator_at = at
            .checked_sub(ZIP64_LOCATOR_LEN as usize)
            .ok_or_else(|| bad("a zip64 end record without its locator before it"))?;
        if u32_at(tail, locator_at) != Some(ZIP64_LOCATOR_SIGNATURE) {
            return Err(bad(
                "the end record marks a zip64 file, but no zip64 locator precedes it",
            ));
        }
        let record_at = u64_at(tail, locator_at + 8).unwrap_or(u64::MAX);
        let locator_abs = tail_start + to_u64(locator_at);
        if record_at
            .checked_add(ZIP64_EOCD_LEN)
            .is_none_or(|end| end > locator_abs)
        {
            return Err(TorchError::OutsideFile {
                what: "the zip64 end record".to_owned(),
                end: record_at.saturating_add(ZIP64_EOCD_LEN),
                limit: locator_abs,
            });
        }
        return Ok(Some(EndRecords::Zip64At(record_at)));
    }
    if disk != 0 || cd_disk != 0 || entries_here != entries {
        return Err(bad("a multi-disk (split) zip archive"));
    }
    Ok(Some(EndRecords::Directory(DirectoryPlace {
        offset: u64::from(offset),
        size: u64::from(size),
        entries: u64::from(entries),
    })))
}

/// Parses the 56-byte zip64 end of central directory record.
pub fn parse_zip64_record(bytes: &[u8]) -> Result<DirectoryPlace, TorchError> {
    if u32_at(bytes, 0) != Some(ZIP64_EOCD_SIGNATURE) {
        return Err(bad(
            "the zip64 locator points at bytes that are not a zip64 end record",
        ));
    }
    let (Some(entries), Some(size), Some(offset)) =
        (u64_at(bytes, 32), u64_at(bytes, 40), u64_at(bytes, 48))
    else {
        return Err(bad("a truncated zip64 end record"));
    };
    Ok(DirectoryPlace {
        offset,
        size,
        entries,
    })
}

/// One central directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name, e.g. `archive/data/0`.
    pub name: String,
    /// The compression method (0 = stored).
    pub method: u16,
    /// The general purpose flags (bit 0 = encrypted).
    pub flags: u16,
    /// Compressed size.
    pub compressed_size: u64,
    /// Uncompressed size.
    pub size: u64,
    /// Absolute offset of its local file header.
    pub local_header_offset: u64,
}

impl Entry {
    /// Checks that the entry can be read as raw bytes: stored, not encrypted.
    pub fn check_stored(&self) -> Result<(), TorchError> {
        if self.flags & 1 != 0 {
            return Err(TorchError::Encrypted {
                entry: self.name.clone(),
            });
        }
        if self.method != 0 || self.compressed_size != self.size {
            return Err(TorchError::Compressed {
                entry: self.name.clone(),
                method: self.method,
            });
        }
        Ok(())
    }
}

/// Parses the central directory (`bytes` is exactly its `place.size` bytes).
pub fn parse_directory(bytes: &[u8], place: &DirectoryPlace) -> Result<Vec<Entry>, TorchError> {
    let mut entries = Vec::new();
    let mut at = 0_usize;
    while at < bytes.len() {
        if u32_at(bytes, at) != Some(CENTRAL_SIGNATURE) {
            return Err(bad(format!(
                "central directory entry {} does not start with its signature",
                entries.len()
            )));
        }
        let fixed = bytes
            .get(at..at.saturating_add(CENTRAL_LEN))
            .ok_or_else(|| bad("the central directory ends inside an entry"))?;
        let field16 = |offset| u16_at(fixed, offset).unwrap_or(0);
        let field32 = |offset| u32_at(fixed, offset).unwrap_or(0);
        let name_len = usize::from(field16(28));
        let extra_len = usize::from(field16(30));
        let comment_len = usize::from(field16(32));
        let name_at = at + CENTRAL_LEN;
        let extra_at = name_at + name_len;
        let next = extra_at + extra_len + comment_len;
        let name = bytes
            .get(name_at..extra_at)
            .ok_or_else(|| bad("the central directory ends inside an entry's name"))?;
        let extra = bytes
            .get(extra_at..extra_at + extra_len)
            .ok_or_else(|| bad("the central directory ends inside an entry's extra field"))?;
        if next > bytes.len() {
            return Err(bad("the central directory ends inside an entry's comment"));
        }
        let name =
            String::from_utf8(name.to_vec()).map_err(|_| bad("an entry name that is not UTF-8"))?;
        let mut size = u64::from(field32(24));
        let mut compressed_size = u64::from(field32(20));
        let mut local_header_offset = u64::from(field32(42));
        apply_zip64_extra(
            extra,
            &mut size,
            &mut compressed_size,
            &mut local_header_offset,
        )?;
        entries.push(Entry {
            name,
            method: field16(10),
            flags: field16(8),
            compressed_size,
            size,
            local_header_offset,
        });
        at = next;
    }
    if to_u64(entries.len()) != place.entries {
        return Err(bad(format!(
            "the end record counts {} entries but the central directory holds {}",
            place.entries,
            entries.len()
        )));
    }
    Ok(entries)
}

/// Replaces the 32-bit fields set to 0xFFFFFFFF by their zip64 extra field values, in the
/// order the format gives them (size, compressed size, local header offset).
fn apply_zip64_extra(
    extra: &[u8],
    size: &mut u64,
    compressed_size: &mut u64,
    local_header_offset: &mut u64,
) -> Result<(), TorchError> {
    let wanted = [
        *size == u64::from(u32::MAX),
        *compressed_size == u64::from(u32::MAX),
        *local_header_offset == u64::from(u32::MAX),
    ];
    if !wanted.contains(&true) {
        return Ok(());
    }
    let mut at = 0_usize;
    while let (Some(id), Some(len)) = (u16_at(extra, at), u16_at(extra, at + 2)) {
        let body_at = at + 4;
        let body = extra
            .get(body_at..body_at + usize::from(len))
            .ok_or_else(|| bad("a zip extra field longer than its entry's extra data"))?;
        if id == 1 {
            let mut read_at = 0_usize;
            for (want, field) in
                wanted
                    .iter()
                    .zip([&mut *size, &mut *compressed_size, &mut *local_header_offset])
            {
                if *want {
                    *field = u64_at(body, read_at)
                        .ok_or_else(|| bad("a zip64 extra field too short for its entry"))?;
                    read_at += 8;
                }
            }
            return Ok(());
        }
        at = body_at + usize::from(len);
    }
    Err(bad(
        "an entry marked zip64 (a size or offset of 0xFFFFFFFF) has no zip64 extra field",
    ))
}

/// Parses a local file header (`bytes` starts at it); returns the absolute offset where the
/// entry's data starts, after checking that the header names `entry`.
pub fn local_data_start(bytes: &[u8], entry: &Entry) -> Result<Option<u64>, TorchError> {
    if bytes.len() < LOCAL_LEN as usize {
        return Ok(None);
    }
    if u32_at(bytes, 0) != Some(LOCAL_SIGNATURE) {
        return Err(bad(format!(
            "entry `{}`'s local header does not start with its signature",
            entry.name
        )));
    }
    let name_len = usize::from(u16_at(bytes, 26).unwrap_or(0));
    let extra_len = usize::from(u16_at(bytes, 28).unwrap_or(0));
    let name_at = LOCAL_LEN as usize;
    let Some(name) = bytes.get(name_at..name_at + name_len) else {
        return Ok(None);
    };
    if name != entry.name.as_bytes() {
        return Err(bad(format!(
            "entry `{}`'s local header names another file",
            entry.name
        )));
    }
    Ok(Some(
        entry.local_header_offset + LOCAL_LEN + to_u64(name_len) + to_u64(extra_len),
    ))
}
