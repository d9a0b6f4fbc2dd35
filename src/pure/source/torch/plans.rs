//! The two range plans: [`IndexPlan`] (every tensor's description) and [`LocatePlan`] (one
//! tensor's exact byte range).

use super::location::tensor_location;
use super::{
    build_index, check_feed, element_bytes, sniff_format, to_u64, Chunks, RangePlan, Step,
    StorageInfo, StoragePlace, TensorInfo, TensorLocation, TorchError, TorchFormat, TorchIndex,
};
use super::{legacy, pickle, zip};
use super::{
    HEAD_READ_BYTES, LEGACY_MAGIC, LOCAL_EXTRA_READ_BYTES, MAX_DIRECTORY_BYTES, MAX_PICKLE_BYTES,
    TAIL_READ_BYTES,
};
use std::ops::Range;

use crate::pure::common::shorten;

/// The first step of reading a checkpoint: every tensor's name, dtype, shape and strides.
#[derive(Debug, Clone)]
pub struct IndexPlan {
    file_len: u64,
    chunks: Chunks,
    pending: Option<Range<u64>>,
}

impl IndexPlan {
    /// A plan for a file of `file_len` bytes; it first asks for the file's first bytes
    /// (the empty range `0..0` for an empty file, which it then refuses).
    pub fn new(file_len: u64) -> IndexPlan {
        IndexPlan {
            file_len,
            chunks: Chunks::default(),
            pending: Some(0..file_len.min(HEAD_READ_BYTES)),
        }
    }

    fn step(&self) -> Result<Step<TorchIndex>, TorchError> {
        let head = self.chunks.head();
        let sniff = head.get(..LEGACY_MAGIC.len()).unwrap_or(head);
        match sniff_format(sniff) {
            Some(TorchFormat::Zip) => zip_index_step(&self.chunks, self.file_len),
            Some(TorchFormat::Legacy) => legacy::index_step(head, self.file_len),
            None if sniff.is_empty() => Err(TorchError::UnknownFormat {
                first_bytes: "no bytes at all (it is empty)".to_owned(),
            }),
            None => Err(TorchError::UnknownFormat {
                first_bytes: format!("`{}`", shorten(&String::from_utf8_lossy(sniff), 16)),
            }),
        }
    }
}

impl RangePlan for IndexPlan {
    type Output = TorchIndex;

    fn next_read(&self) -> Option<Range<u64>> {
        self.pending.clone()
    }

    fn feed(&mut self, range: Range<u64>, bytes: &[u8]) -> Result<Option<TorchIndex>, TorchError> {
        let checked = check_feed(self.pending.as_ref(), &range, bytes);
        self.pending = None;
        checked?;
        self.chunks.insert(range.start, bytes);
        match self.step()? {
            Step::Need(need) => {
                if need == range {
                    // Never ask twice for the same bytes.
                    return Err(TorchError::BadRead {
                        want: format!("bytes {}..{}", need.start, need.end),
                        got: "bytes that did not complete the structure there".to_owned(),
                    });
                }
                let range = need;
                if range.end > self.file_len || range.start >= range.end {
                    return Err(TorchError::OutsideFile {
                        what: "A structure of the checkpoint".to_owned(),
                        end: range.end,
                        limit: self.file_len,
                    });
                }
                self.pending = Some(range);
                Ok(None)
            }
            Step::Done(index) => Ok(Some(index)),
        }
    }
}

/// One step of reading a zip checkpoint's index from the bytes read so far.
fn zip_index_step(chunks: &Chunks, file_len: u64) -> Result<Step<TorchIndex>, TorchError> {
    // 1. The end records, from a short tail, then from the longest tail that can hold them.
    let short_tail = file_len.saturating_sub(TAIL_READ_BYTES)..file_len;
    let Some(tail) = chunks.get(&short_tail) else {
        return Ok(Step::Need(short_tail));
    };
    let mut end = zip::find_end_records(tail, short_tail.start)?;
    if end.is_none() && short_tail.start > 0 {
        let long_tail =
            file_len.saturating_sub(zip::MAX_EOCD_SPAN + zip::ZIP64_LOCATOR_LEN)..file_len;
        let Some(tail) = chunks.get(&long_tail) else {
            return Ok(Step::Need(long_tail));
        };
        end = zip::find_end_records(tail, long_tail.start)?;
    }
    let place = match end.ok_or(TorchError::NoEndRecord)? {
        zip::EndRecords::Directory(place) => place,
        zip::EndRecords::Zip64At(at) => {
            let range = at..at.saturating_add(zip::ZIP64_EOCD_LEN);
            let Some(bytes) = chunks.get(&range) else {
                return Ok(Step::Need(range));
            };
            zip::parse_zip64_record(bytes)?
        }
    };
    // 2. The central directory.
    if place.size > MAX_DIRECTORY_BYTES {
        return Err(TorchError::TooLarge {
            what: "zip central directory".to_owned(),
            len: place.size,
            max: MAX_DIRECTORY_BYTES,
        });
    }
    let directory_end = place
        .offset
        .checked_add(place.size)
        .filter(|&end| end <= file_len)
        .ok_or(TorchError::OutsideFile {
            what: "The zip central directory".to_owned(),
            end: place.offset.saturating_add(place.size),
            limit: file_len,
        })?;
    let directory_range = place.offset..directory_end;
    let Some(directory) = chunks.get(&directory_range) else {
        return Ok(Step::Need(directory_range));
    };
    let entries = zip::parse_directory(directory, &place)?;
    // 3. The prefix from the first entry, and `<prefix>/data.pkl`.
    let first = entries.first().ok_or_else(|| TorchError::BadZip {
        detail: "the archive has no entries".to_owned(),
    })?;
    let prefix = match first.name.split_once('/') {
        Some((prefix, _)) if !prefix.is_empty() => prefix.to_owned(),
        _ => {
            return Err(TorchError::NoDataPkl {
                prefix: shorten(&first.name, 60),
            })
        }
    };
    let pkl_name = format!("{prefix}/data.pkl");
    let pkl = entries
        .iter()
        .find(|entry| entry.name == pkl_name)
        .ok_or_else(|| TorchError::NoDataPkl {
            prefix: shorten(&prefix, 60),
        })?;
    pkl.check_stored()?;
    if pkl.size > MAX_PICKLE_BYTES {
        return Err(TorchError::TooLarge {
            what: "data.pkl".to_owned(),
            len: pkl.size,
            max: MAX_PICKLE_BYTES,
        });
    }
    // 4. Its local header and bytes, in one read when the header is the usual size.
    let header_len = zip::LOCAL_LEN + to_u64(pkl.name.len());
    let guess_end = pkl
        .local_header_offset
        .saturating_add(header_len + LOCAL_EXTRA_READ_BYTES)
        .saturating_add(pkl.size)
        .min(file_len);
    let header_range = pkl.local_header_offset..guess_end;
    let header_bytes = match chunks.get(&header_range) {
        Some(bytes) => bytes,
        None => {
            let exact = pkl.local_header_offset..pkl.local_header_offset.saturating_add(header_len);
            match chunks.get(&exact) {
                Some(bytes) => bytes,
                None => return Ok(Step::Need(header_range)),
            }
        }
    };
    let data_start =
        zip::local_data_start(header_bytes, pkl)?.ok_or_else(|| TorchError::BadZip {
            detail: format!("entry `{pkl_name}`'s local header is cut off by the end of the file"),
        })?;
    let data_range = data_start..data_start.saturating_add(pkl.size);
    if data_range.end > file_len {
        return Err(TorchError::OutsideFile {
            what: format!("Entry `{}`", shorten(&pkl_name, 60)),
            end: data_range.end,
            limit: file_len,
        });
    }
    let Some(pickle_bytes) = chunks.get(&data_range) else {
        return Ok(Step::Need(data_range));
    };
    // 5. The state dict, and each storage's entry.
    let (value, _) = pickle::interpret(pickle_bytes, 0)
        .map_err(|error| TorchError::from_pickle(error, "data.pkl"))?;
    let records = pickle::collect_tensors(&value)
        .map_err(|error| TorchError::from_pickle(error, "data.pkl"))?;
    let index = build_index(TorchFormat::Zip, file_len, records, |storage| {
        let name = format!("{prefix}/data/{}", storage.key);
        let entry = entries
            .iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| TorchError::BadZip {
                detail: format!(
                    "the state dict uses storage `{}`, but the archive has no entry `{}`",
                    shorten(&storage.key, 40),
                    shorten(&name, 80)
                ),
            })?;
        entry.check_stored()?;
        let needed = storage.numel.saturating_mul(element_bytes(storage.dtype));
        if needed > entry.size {
            return Err(TorchError::OutsideFile {
                what: format!(
                    "Storage `{}` ({} elements)",
                    shorten(&storage.key, 40),
                    storage.numel
                ),
                end: needed,
                limit: entry.size,
            });
        }
        Ok(StoragePlace::Zip(entry.clone()))
    })?;
    Ok(Step::Done(index))
}

/// The second step: where one tensor's bytes are.
#[derive(Debug, Clone)]
pub struct LocatePlan {
    pub(super) file_len: u64,
    pub(super) tensor: TensorInfo,
    pub(super) storage: StorageInfo,
    pub(super) pending: Option<Range<u64>>,
    pub(super) chunks: Chunks,
    pub(super) failed: bool,
}

impl LocatePlan {
    /// The read that finds the storage's data start.
    fn first_read(&self) -> Range<u64> {
        match &self.storage.place {
            StoragePlace::Zip(entry) => {
                let start = entry.local_header_offset;
                let end = start
                    .saturating_add(
                        zip::LOCAL_LEN + to_u64(entry.name.len()) + LOCAL_EXTRA_READ_BYTES,
                    )
                    .min(self.file_len);
                start..end
            }
            StoragePlace::Legacy { count_at } => *count_at..count_at.saturating_add(8),
        }
    }

    pub(super) fn start(mut self) -> Result<LocatePlan, TorchError> {
        let range = self.first_read();
        if range.start >= range.end || range.end > self.file_len {
            return Err(TorchError::OutsideFile {
                what: format!("Storage `{}`", shorten(&self.storage.key, 40)),
                end: range.end,
                limit: self.file_len,
            });
        }
        self.pending = Some(range);
        Ok(self)
    }

    fn step(&self) -> Result<Step<TensorLocation>, TorchError> {
        let range = self.first_read();
        if range.end > self.file_len || range.start >= range.end {
            return Err(TorchError::OutsideFile {
                what: format!("Storage `{}`", shorten(&self.storage.key, 40)),
                end: range.end,
                limit: self.file_len,
            });
        }
        let Some(bytes) = self.chunks.get(&range) else {
            return Ok(Step::Need(range));
        };
        match &self.storage.place {
            StoragePlace::Zip(entry) => {
                let data_start =
                    zip::local_data_start(bytes, entry)?.ok_or_else(|| TorchError::BadZip {
                        detail: format!(
                            "entry `{}`'s local header is cut off by the end of the file",
                            shorten(&entry.name, 80)
                        ),
                    })?;
                let data_end = data_start
                    .checked_add(entry.size)
                    .filter(|&end| end <= self.file_len);
                let Some(data_end) = data_end else {
                    return Err(TorchError::OutsideFile {
                        what: format!("Entry `{}`", shorten(&entry.name, 80)),
                        end: data_start.saturating_add(entry.size),
                        limit: self.file_len,
                    });
                };
                tensor_location(&self.tensor, &self.storage, data_start, data_end).map(Step::Done)
            }
            StoragePlace::Legacy { count_at } => {
                let count = bytes
                    .get(..8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_le_bytes)
                    .unwrap_or(u64::MAX);
                if count != self.storage.numel {
                    return Err(TorchError::BadLegacy {
                        detail: format!(
                            "storage `{}` should hold {} elements, but its count at byte {count_at} says {count}",
                            shorten(&self.storage.key, 40),
                            self.storage.numel
                        ),
                    });
                }
                let data_start = count_at + 8;
                tensor_location(&self.tensor, &self.storage, data_start, self.file_len)
                    .map(Step::Done)
            }
        }
    }
}

impl RangePlan for LocatePlan {
    type Output = TensorLocation;

    fn next_read(&self) -> Option<Range<u64>> {
        if self.failed {
            return None;
        }
        self.pending.clone()
    }

    fn feed(
        &mut self,
        range: Range<u64>,
        bytes: &[u8],
    ) -> Result<Option<TensorLocation>, TorchError> {
        let checked = check_feed(self.pending.as_ref(), &range, bytes);
        self.pending = None;
        checked?;
        self.chunks.insert(range.start, bytes);
        match self.step() {
            Ok(Step::Need(range)) => {
                self.pending = Some(range);
                Ok(None)
            }
            Ok(Step::Done(location)) => Ok(Some(location)),
            Err(error) => {
                self.failed = true;
                Err(error)
            }
        }
    }
}
