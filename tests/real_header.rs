#![allow(clippy::restriction)]
// a test may unwrap, index and panic
// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! The real all-MiniLM-L6-v2 `model.safetensors` from the Hub, read the way the browser reads
//! it: first the 8-byte length, then the header, then exactly one tensor's byte range.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use poslens::pure::source::detect::detect_positional_embedding;
use poslens::pure::source::format::{
    header_byte_range, header_len_from_prefix, parse_header, parse_whole_file, plan_tensor_read,
    Dtype, DEFAULT_MAX_TENSOR_BYTES, LEN_PREFIX_BYTES,
};

/// The positional embedding's data offsets, relative to the data buffer.
const W_POS_DATA_OFFSETS: std::ops::Range<u64> = 7168..793_600;

/// The number of tensors in the file (the header has one more key, `__metadata__`).
const N_TENSORS: usize = 104;

/// Finds the test file, failing loudly (never skipping) when it is absent.
fn minilm_path() -> PathBuf {
    let path = std::env::var_os("POSLENS_MINILM_SAFETENSORS").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join(".cache/test-data/all-MiniLM-L6-v2/model.safetensors")
        },
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "The real test file {} is missing. Run `scripts/fetch-test-data.sh` to fetch it \
         (or set POSLENS_MINILM_SAFETENSORS to its path).",
        path.display()
    );
    path
}

/// Reads `range` of the file, like one HTTP Range request.
fn read_range(file: &mut File, range: std::ops::Range<u64>) -> Vec<u8> {
    file.seek(SeekFrom::Start(range.start)).unwrap();
    let mut bytes = vec![0_u8; usize::try_from(range.end - range.start).unwrap()];
    file.read_exact(&mut bytes).unwrap();
    bytes
}

#[test]
fn ranged_reads_find_the_positional_embedding() {
    let path = minilm_path();
    let mut file = File::open(&path).unwrap();
    let file_len_bytes = file.metadata().unwrap().len();

    let prefix = read_range(&mut file, 0..LEN_PREFIX_BYTES);
    let header_len_bytes = header_len_from_prefix(&prefix, Some(file_len_bytes)).unwrap();
    let header_bytes = read_range(&mut file, header_byte_range(header_len_bytes));
    let header = parse_header(&header_bytes, Some(file_len_bytes)).unwrap();

    assert_eq!(header.tensors.len(), N_TENSORS);
    assert_eq!(
        header.metadata.get("format").map(String::as_str),
        Some("pt")
    );
    let data_start = LEN_PREFIX_BYTES + header_len_bytes;
    assert_eq!(header.data_start_byte, data_start);
    // The tensors cover the whole data buffer, exactly to the end of the file.
    assert_eq!(data_start + header.data_len_bytes(), file_len_bytes);

    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(view.tensor_name, "embeddings.position_embeddings.weight");
    assert_eq!(view.dtype, Dtype::F32);
    assert_eq!((view.n_rows, view.n_cols), (512, 384));
    assert_eq!(view.row_offset, 0);
    let expected = data_start + W_POS_DATA_OFFSETS.start..data_start + W_POS_DATA_OFFSETS.end;
    assert_eq!(view.byte_range, expected);

    let entry = header.tensor(&view.tensor_name).unwrap();
    let planned = plan_tensor_read(entry, DEFAULT_MAX_TENSOR_BYTES).unwrap();
    assert_eq!(planned, expected);
    let tensor_bytes = read_range(&mut file, planned);
    assert_eq!(tensor_bytes.len(), 512 * 384 * 4);
    // Real trained weights are finite and not all zero.
    let values: Vec<f32> = tensor_bytes
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes(chunk.try_into().unwrap()))
        .collect();
    assert!(values.iter().all(|value| value.is_finite()));
    assert!(values.iter().any(|value| *value != 0.0));

    // The integer position_ids buffer sits beside the table and is skipped.
    assert_eq!(
        header.tensor("embeddings.position_ids").unwrap().dtype,
        Dtype::I64
    );
}

#[test]
fn whole_file_parse_agrees_with_the_safetensors_crate() {
    let bytes = std::fs::read(minilm_path()).unwrap();
    let header = parse_whole_file(&bytes).unwrap();
    let reference = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(header.tensors.len(), reference.len());
    let base = bytes.as_ptr() as usize;
    for entry in &header.tensors {
        let view = reference.tensor(&entry.name).unwrap();
        let start = (view.data().as_ptr() as usize - base) as u64;
        assert_eq!(entry.byte_range.start, start, "{}", entry.name);
        assert_eq!(
            entry.len_bytes(),
            view.data().len() as u64,
            "{}",
            entry.name
        );
        assert_eq!(entry.dtype, view.dtype(), "{}", entry.name);
        let shape: Vec<u64> = view.shape().iter().map(|&dim| dim as u64).collect();
        assert_eq!(entry.shape, shape, "{}", entry.name);
    }
}
