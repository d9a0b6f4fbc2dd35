#![allow(clippy::restriction)] // a test may unwrap, index and panic
#![cfg(not(target_arch = "wasm32"))]
//! PyTorch `.bin` checkpoints read by byte ranges (`pure::source::torch`): the real
//! `torch.save` fixtures of `tests/fixtures/torch/` (both formats) read back to the bit, with
//! few bytes read; and hostile files, each refused with a clear error and never a panic.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use poslens::pure::common::ErrorKind;
use poslens::pure::source::format::{
    parse_whole_file, tensor_bytes, Dtype, DEFAULT_MAX_TENSOR_BYTES,
};
use poslens::pure::source::offline::sha256_hex;
use poslens::pure::source::torch::{
    detect_positional, pickle, run_in_memory, sniff_format, IndexPlan, Layout, RangePlan,
    TensorLocation, TorchError, TorchFormat, TorchIndex, MAX_PICKLE_BYTES,
};

const WPOS: &str = "embeddings.position_embeddings.weight";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join("torch").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest() -> serde_json::Value {
    serde_json::from_slice(&read_fixture("fixtures.json")).unwrap()
}

/// A range reader over a file's bytes that counts what it hands out.
struct Counted<'a> {
    file: &'a [u8],
    bytes_read: u64,
    reads: Vec<Range<u64>>,
}

impl<'a> Counted<'a> {
    fn new(file: &'a [u8]) -> Self {
        Counted {
            file,
            bytes_read: 0,
            reads: Vec::new(),
        }
    }

    fn read(&mut self, range: &Range<u64>) -> &'a [u8] {
        self.bytes_read += range.end - range.start;
        self.reads.push(range.clone());
        &self.file[range.start as usize..range.end as usize]
    }

    fn run<P: RangePlan>(&mut self, mut plan: P) -> Result<P::Output, TorchError> {
        for _ in 0..64 {
            let range = plan
                .next_read()
                .expect("a plan that is not done asks for a read");
            let bytes = self.read(&range);
            if let Some(output) = plan.feed(range, bytes)? {
                return Ok(output);
            }
        }
        panic!("a plan asked for more than 64 reads: {:?}", self.reads);
    }
}

/// Reads one tensor as a browser would: index, locate, tensor bytes, row-major bytes.
fn read_tensor(file: &[u8], name: &str) -> (TorchIndex, TensorLocation, Vec<u8>, u64) {
    let mut reader = Counted::new(file);
    let index = reader.run(IndexPlan::new(file.len() as u64)).unwrap();
    let location = reader.run(index.locate(name).unwrap()).unwrap();
    let raw = reader.read(&location.byte_range);
    let bytes = location.row_major_bytes(raw).unwrap().into_owned();
    (index, location, bytes, reader.bytes_read)
}

/// The bytes of `name` in a safetensors file.
fn safetensors_tensor(path: &Path, name: &str) -> (Dtype, Vec<u64>, Vec<u8>) {
    let file = std::fs::read(path).unwrap();
    let header = parse_whole_file(&file).unwrap();
    let entry = header.tensor(name).unwrap();
    let bytes = tensor_bytes(&file, entry, DEFAULT_MAX_TENSOR_BYTES).unwrap();
    (entry.dtype, entry.shape.clone(), bytes.to_vec())
}

const BIN_FILES: [&str; 8] = [
    "minilm.bin",
    "minilm.legacy.bin",
    "minilm_f16.bin",
    "minilm_bf16.legacy.bin",
    "gpt2_wpe.bin",
    "gpt2_wpe.legacy.bin",
    "strided.bin",
    "strided.legacy.bin",
];

fn fixture_name(file: &str) -> &str {
    file.split('.').next().unwrap()
}

fn torch_dtype(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::F32 => "float32",
        Dtype::F16 => "float16",
        Dtype::BF16 => "bfloat16",
        Dtype::F64 => "float64",
        Dtype::I64 => "int64",
        other => panic!("unexpected dtype {other:?}"),
    }
}

#[test]
fn every_tensor_of_every_fixture_reads_back_as_torch_saved_it() {
    let manifest = manifest();
    for file_name in BIN_FILES {
        let file = read_fixture(file_name);
        let want_format = if file_name.contains("legacy") {
            TorchFormat::Legacy
        } else {
            TorchFormat::Zip
        };
        assert_eq!(sniff_format(&file), Some(want_format), "{file_name}");
        let expected = manifest["tensors"][fixture_name(file_name)]
            .as_object()
            .unwrap();
        let (index, _) = run_in_memory(IndexPlan::new(file.len() as u64), &file).unwrap();
        assert_eq!(index.format, want_format);
        let names: Vec<&str> = index.tensors.iter().map(|t| t.name.as_str()).collect();
        let mut want_names: Vec<&str> = expected.keys().map(String::as_str).collect();
        let mut got_sorted = names.clone();
        got_sorted.sort_unstable();
        want_names.sort_unstable();
        assert_eq!(got_sorted, want_names, "{file_name}: tensor names");
        for tensor in &index.tensors {
            let want = &expected[&tensor.name];
            let context = format!("{file_name}: {}", tensor.name);
            assert_eq!(torch_dtype(tensor.dtype), want["dtype"], "{context}: dtype");
            assert_eq!(
                tensor.shape,
                serde_json::from_value::<Vec<u64>>(want["shape"].clone()).unwrap(),
                "{context}: shape"
            );
            assert_eq!(
                tensor.strides,
                serde_json::from_value::<Vec<u64>>(want["stride"].clone()).unwrap(),
                "{context}: stride"
            );
            assert_eq!(
                tensor.storage_offset,
                want["storage_offset"].as_u64().unwrap(),
                "{context}: offset"
            );
            let (_, location, bytes, _) = read_tensor(&file, &tensor.name);
            assert_eq!(
                bytes.len() as u64,
                location.len_bytes(),
                "{context}: length"
            );
            assert_eq!(sha256_hex(&bytes), want["sha256"], "{context}: bytes");
        }
    }
}

#[test]
fn minilm_w_pos_from_each_format_equals_the_safetensors_tensor_to_the_bit_with_few_bytes_read() {
    let cases = [
        ("minilm.bin", "minilm_position_embeddings.safetensors"),
        (
            "minilm.legacy.bin",
            "minilm_position_embeddings.safetensors",
        ),
        (
            "minilm_f16.bin",
            "minilm_position_embeddings_f16.safetensors",
        ),
        (
            "minilm_bf16.legacy.bin",
            "minilm_position_embeddings_bf16.safetensors",
        ),
    ];
    for (bin, safetensors) in cases {
        let file = read_fixture(bin);
        let (index, location, bytes, bytes_read) = read_tensor(&file, WPOS);
        let (dtype, shape, want) = safetensors_tensor(&fixture_dir().join(safetensors), WPOS);
        assert_eq!(location.dtype, dtype, "{bin}");
        assert_eq!(location.shape, shape, "{bin}");
        assert_eq!(location.layout, Layout::Contiguous, "{bin}");
        assert!(bytes == want, "{bin}: W_pos differs from {safetensors}");
        let tensor_len = want.len() as u64;
        assert!(
            bytes_read < tensor_len + 64 * 1024,
            "{bin}: read {bytes_read} bytes for a {tensor_len}-byte tensor"
        );
        // Detection picks it, as for safetensors, and the view is the real matrix.
        assert_eq!(detect_positional(&index).unwrap().name, WPOS, "{bin}");
        let view = location.matrix_view().unwrap();
        assert_eq!(
            (view.n_rows, view.n_cols, view.row_offset),
            (512, 384, 0),
            "{bin}"
        );
        assert_eq!(view.byte_range, location.byte_range, "{bin}");
    }
}

#[test]
fn gpt2_shaped_wpe_from_each_format_equals_the_generated_tensor_to_the_bit() {
    let manifest = manifest();
    let want_sha = manifest["tensors"]["gpt2_wpe"]["transformer.wpe.weight"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    // The source file, when the e2e data has been made (tests/e2e/make_gpt2_like.py).
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/e2e/gpt2-like/model.safetensors");
    let from_source = source
        .exists()
        .then(|| safetensors_tensor(&source, "wpe.weight").2);
    if let Some(bytes) = &from_source {
        assert_eq!(
            sha256_hex(bytes),
            want_sha,
            "fixtures.json records the generated wpe"
        );
    }
    for bin in ["gpt2_wpe.bin", "gpt2_wpe.legacy.bin"] {
        let file = read_fixture(bin);
        let (index, location, bytes, bytes_read) = read_tensor(&file, "transformer.wpe.weight");
        assert_eq!(location.shape, vec![1024, 768], "{bin}");
        assert_eq!(sha256_hex(&bytes), want_sha, "{bin}");
        if let Some(want) = &from_source {
            assert!(
                &bytes == want,
                "{bin}: wpe differs from the safetensors file"
            );
        }
        assert!(
            bytes_read < 1024 * 768 * 4 + 64 * 1024,
            "{bin}: read {bytes_read} bytes"
        );
        assert_eq!(
            detect_positional(&index).unwrap().name,
            "transformer.wpe.weight"
        );
        let view = location.matrix_view().unwrap();
        assert_eq!((view.n_rows, view.n_cols), (1024, 768));
    }
}

#[test]
fn strided_tensors_equal_their_contiguous_safetensors_copies() {
    let safetensors = fixture_dir().join("torch/strided.safetensors");
    for bin in ["strided.bin", "strided.legacy.bin"] {
        let file = read_fixture(bin);
        let (index, _) = run_in_memory(IndexPlan::new(file.len() as u64), &file).unwrap();
        let mut layouts = BTreeMap::new();
        for tensor in &index.tensors {
            let (_, location, bytes, _) = read_tensor(&file, &tensor.name);
            let (dtype, shape, want) = safetensors_tensor(&safetensors, &tensor.name);
            assert_eq!(
                (location.dtype, &location.shape),
                (dtype, &shape),
                "{bin}: {}",
                tensor.name
            );
            assert!(
                bytes == want,
                "{bin}: {} differs from its contiguous copy",
                tensor.name
            );
            layouts.insert(tensor.name.clone(), location.layout.clone());
        }
        assert_eq!(
            layouts["transposed.weight"],
            Layout::Strided {
                rows: 40,
                cols: 24,
                row_stride: 1,
                col_stride: 40
            },
            "{bin}"
        );
        assert!(
            matches!(
                layouts["columns.weight"],
                Layout::Strided { row_stride: 24, .. }
            ),
            "{bin}"
        );
        assert_eq!(layouts["sliced.weight"], Layout::Contiguous, "{bin}");
        // ViT-style [1, 17, 8]: detected, squeezed, row 0 is the class token.
        let vit = detect_positional(&index).unwrap();
        assert_eq!(vit.name, "vit.embeddings.position_embeddings");
        let (_, location, _, _) = read_tensor(&file, &vit.name);
        let view = location.matrix_view().unwrap();
        assert_eq!((view.n_rows, view.n_cols, view.row_offset), (17, 8, 1));
    }
}

// ---------------------------------------------------------------------------------------
// Hostile files. A small pickle writer and a stored-zip writer make them.

fn unicode(text: &str) -> Vec<u8> {
    let mut out = vec![b'X'];
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

fn int(n: u32) -> Vec<u8> {
    let mut out = vec![b'J'];
    out.extend_from_slice(&n.to_le_bytes());
    out
}

fn global(module: &str, name: &str) -> Vec<u8> {
    format!("c{module}\n{name}\n").into_bytes()
}

/// `_rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', numel), offset, shape, stride, False, OrderedDict())`.
fn tensor_pickle(key: &str, numel: u32, offset: u32, shape: &[u32], stride: &[u32]) -> Vec<u8> {
    let mut p = global("torch._utils", "_rebuild_tensor_v2");
    p.extend_from_slice(b"((");
    p.extend(unicode("storage"));
    p.extend(global("torch", "FloatStorage"));
    p.extend(unicode(key));
    p.extend(unicode("cpu"));
    p.extend(int(numel));
    p.extend_from_slice(b"tQ");
    p.extend(int(offset));
    p.push(b'(');
    for &d in shape {
        p.extend(int(d));
    }
    p.push(b't');
    p.push(b'(');
    for &s in stride {
        p.extend(int(s));
    }
    p.push(b't');
    p.push(0x89);
    p.extend(global("collections", "OrderedDict"));
    p.extend_from_slice(b")RtR");
    p
}

/// A state dict pickle `{name: tensor, …}`.
fn state_dict(tensors: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut p = b"\x80\x02}(".to_vec();
    for (name, tensor) in tensors {
        p.extend(unicode(name));
        p.extend_from_slice(tensor);
    }
    p.extend_from_slice(b"u.");
    p
}

struct ZipEntry {
    name: String,
    data: Vec<u8>,
    method: u16,
}

fn entry(name: &str, data: Vec<u8>) -> ZipEntry {
    ZipEntry {
        name: name.to_owned(),
        data,
        method: 0,
    }
}

/// A stored zip archive, optionally with zip64 end records and zip64 extra fields.
fn zip_file(entries: &[ZipEntry], zip64: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        out.extend_from_slice(&0x0403_4b50_u32.to_le_bytes());
        out.extend_from_slice(&[20, 0, 0, 0]);
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&e.data);
        central.extend_from_slice(&0x0201_4b50_u32.to_le_bytes());
        central.extend_from_slice(&[45, 0, 45, 0, 0, 0]);
        central.extend_from_slice(&e.method.to_le_bytes());
        central.extend_from_slice(&[0; 8]);
        let (size, off, extra) = if zip64 {
            let mut extra = vec![1, 0, 24, 0];
            extra.extend_from_slice(&(e.data.len() as u64).to_le_bytes());
            extra.extend_from_slice(&(e.data.len() as u64).to_le_bytes());
            extra.extend_from_slice(&u64::from(offset).to_le_bytes());
            (u32::MAX, u32::MAX, extra)
        } else {
            (e.data.len() as u32, offset, Vec::new())
        };
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 10]);
        central.extend_from_slice(&off.to_le_bytes());
        central.extend_from_slice(e.name.as_bytes());
        central.extend_from_slice(&extra);
    }
    let cd_offset = out.len() as u64;
    out.extend_from_slice(&central);
    let n = entries.len() as u64;
    if zip64 {
        let record_at = out.len() as u64;
        out.extend_from_slice(&0x0606_4b50_u32.to_le_bytes());
        out.extend_from_slice(&44_u64.to_le_bytes());
        out.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(central.len() as u64).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0x0706_4b50_u32.to_le_bytes());
        out.extend_from_slice(&0_u32.to_le_bytes());
        out.extend_from_slice(&record_at.to_le_bytes());
        out.extend_from_slice(&1_u32.to_le_bytes());
    }
    out.extend_from_slice(&0x0605_4b50_u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let (count, size, offset) = if zip64 {
        (u16::MAX, u32::MAX, u32::MAX)
    } else {
        (n as u16, central.len() as u32, cd_offset as u32)
    };
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// A checkpoint `{name: tensor}` whose storage `0` holds `values`.
fn checkpoint(pickle: Vec<u8>, values: &[f32], zip64: bool) -> Vec<u8> {
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    zip_file(
        &[entry("model/data.pkl", pickle), entry("model/data/0", data)],
        zip64,
    )
}

fn index_of(file: &[u8]) -> Result<TorchIndex, TorchError> {
    run_in_memory(IndexPlan::new(file.len() as u64), file).map(|(index, _)| index)
}

fn locate_in(file: &[u8], name: &str) -> Result<TensorLocation, TorchError> {
    let index = index_of(file)?;
    run_in_memory(index.locate(name)?, file).map(|(location, _)| location)
}

fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.5).collect()
}

#[test]
fn a_hand_made_checkpoint_reads_with_and_without_zip64_records() {
    let pickle = state_dict(&[("pos.weight", tensor_pickle("0", 12, 0, &[3, 4], &[4, 1]))]);
    for zip64 in [false, true] {
        let file = checkpoint(pickle.clone(), &values(12), zip64);
        let location =
            locate_in(&file, "pos.weight").unwrap_or_else(|e| panic!("zip64={zip64}: {e}"));
        let raw = &file[location.byte_range.start as usize..location.byte_range.end as usize];
        let want: Vec<u8> = values(12).iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(raw, &want[..], "zip64={zip64}");
    }
}

/// Asserts an error of `kind` whose message contains each of `words`.
fn assert_error(result: Result<impl std::fmt::Debug, TorchError>, kind: ErrorKind, words: &[&str]) {
    let error = result.expect_err("a hostile file must be refused");
    let message = error.to_string();
    assert_eq!(error.kind(), kind, "{message}");
    for word in words {
        assert!(
            message.contains(word),
            "{message:?} should contain {word:?}"
        );
    }
}

#[test]
fn unknown_globals_are_refused_by_name_and_never_run() {
    let mut evil = b"\x80\x02".to_vec();
    evil.extend(global("os", "system"));
    evil.extend(unicode("echo pwned"));
    evil.extend_from_slice(b"\x85R.");
    let file = checkpoint(evil, &values(4), false);
    assert_error(
        index_of(&file),
        ErrorKind::NotSafetensors,
        &["`os.system`", "not run"],
    );
    // The same through STACK_GLOBAL (protocol 4) and in a legacy file's state dict.
    let mut stacked = b"\x80\x04".to_vec();
    stacked.extend(unicode("builtins"));
    stacked.extend(unicode("eval"));
    stacked.extend_from_slice(b"\x93.");
    assert_error(
        index_of(&checkpoint(stacked, &values(4), false)),
        ErrorKind::NotSafetensors,
        &["`builtins.eval`"],
    );
}

#[test]
fn deeply_nested_pickles_hit_the_depth_limit() {
    for (open, close) in [
        (b"]".as_slice(), b"a".as_slice()),
        (b"(", b"t"),
        (b"}", b""),
    ] {
        let mut p = b"\x80\x02".to_vec();
        let depth = 5000;
        if open == b"}" {
            // {'k': {'k': {…}}} built with SETITEM from the inside out.
            for _ in 0..depth {
                p.push(b'}');
                p.extend(unicode("k"));
            }
            p.push(b'}');
            p.extend(std::iter::repeat_n(b's', depth));
        } else {
            for _ in 0..depth {
                p.extend_from_slice(open);
            }
            if open == b"(" {
                p.push(b')');
            } else {
                p.push(b']');
            }
            for _ in 0..depth {
                p.extend_from_slice(close);
            }
        }
        p.push(b'.');
        let file = checkpoint(p, &values(4), false);
        assert_error(
            index_of(&file),
            ErrorKind::NotSafetensors,
            &["nesting depth"],
        );
    }
}

#[test]
fn a_memo_that_references_itself_ends() {
    // d = {}; memo[0] = d; d['self'] = memo[0]; then a list that appends itself.
    let mut p = b"\x80\x02}q\x00".to_vec();
    p.extend(unicode("self"));
    p.extend_from_slice(b"h\x00s");
    p.extend(unicode("list"));
    p.extend_from_slice(b"]q\x01h\x01ah\x01as.");
    let index = index_of(&checkpoint(p, &values(4), false)).unwrap();
    assert!(index.tensors.is_empty());
    assert_error(
        detect_positional(&index).map_err(|e| TorchError::BadPickle {
            where_: "-".into(),
            detail: e.to_string(),
        }),
        ErrorKind::NotSafetensors,
        &["No learned absolute positional embedding"],
    );
}

#[test]
fn exponential_sharing_through_the_memo_hits_the_walk_limit() {
    // D0 = {}; D(k+1) = {'a': Dk, 'b': Dk}: 2^60 paths through 61 dicts.
    let mut p = b"\x80\x02}r\x00\x00\x00\x00".to_vec();
    for k in 0..60_u32 {
        p.extend_from_slice(b"}(");
        p.extend(unicode("a"));
        p.push(b'j');
        p.extend_from_slice(&k.to_le_bytes());
        p.extend(unicode("b"));
        p.push(b'j');
        p.extend_from_slice(&k.to_le_bytes());
        p.push(b'u');
        p.push(b'r');
        p.extend_from_slice(&(k + 1).to_le_bytes());
    }
    p.push(b'.');
    assert_error(
        index_of(&checkpoint(p, &values(4), false)),
        ErrorKind::NotSafetensors,
        &["values visited"],
    );
}

#[test]
fn huge_counts_never_size_an_allocation() {
    // A string that claims 4 GiB, a storage that claims 2^31 elements, a tensor of 2^62.
    let mut long_string = b"\x80\x02X\xf0\xff\xff\xff".to_vec();
    long_string.extend_from_slice(b"abc.");
    assert_error(
        index_of(&checkpoint(long_string, &values(4), false)),
        ErrorKind::NotSafetensors,
        &["ends before its STOP"],
    );
    let big_storage = state_dict(&[("w", tensor_pickle("0", 0x7fff_ffff, 0, &[2, 2], &[2, 1]))]);
    assert_error(
        index_of(&checkpoint(big_storage, &values(4), false)),
        ErrorKind::NotSafetensors,
        &["Storage `0`", "past the end"],
    );
    let huge_shape = state_dict(&[(
        "w",
        tensor_pickle("0", 4, 0, &[0x7fff_ffff, 0x7fff_ffff], &[1, 1]),
    )]);
    assert_error(
        locate_in(&checkpoint(huge_shape, &values(4), false), "w"),
        ErrorKind::TooLarge,
        &["tensor `w`"],
    );
    // A tensor name of 5,000 bytes, past the name cap.
    let long_name = "n".repeat(5000);
    let long = state_dict(&[(&long_name, tensor_pickle("0", 4, 0, &[2, 2], &[2, 1]))]);
    assert_error(
        index_of(&checkpoint(long, &values(4), false)),
        ErrorKind::NotSafetensors,
        &["tensor name length"],
    );
    // A zip end record that claims a 4 GiB central directory.
    let mut file = checkpoint(state_dict(&[]), &values(4), false);
    let n = file.len();
    file[n - 10..n - 6].copy_from_slice(&0xffff_fff0_u32.to_le_bytes());
    assert_error(index_of(&file), ErrorKind::TooLarge, &["central directory"]);
}

#[test]
fn offsets_past_the_end_are_refused() {
    // A tensor beyond its storage.
    let outside = state_dict(&[("w", tensor_pickle("0", 4, 3, &[2, 2], &[2, 1]))]);
    assert_error(
        locate_in(&checkpoint(outside, &values(4), false), "w"),
        ErrorKind::NotSafetensors,
        &["Tensor `w`", "storage `0`"],
    );
    // A central directory offset past the file's end.
    let mut file = checkpoint(state_dict(&[]), &values(4), false);
    let n = file.len();
    file[n - 6..n - 2].copy_from_slice(&0x00ff_ffff_u32.to_le_bytes());
    assert_error(
        index_of(&file),
        ErrorKind::NotSafetensors,
        &["central directory", "past the end"],
    );
    // A storage entry whose local header offset is past the end.
    let pickle = state_dict(&[("w", tensor_pickle("0", 4, 0, &[2, 2], &[2, 1]))]);
    let mut file = checkpoint(pickle, &values(4), false);
    let cd_at =
        u32::from_le_bytes(file[file.len() - 6..file.len() - 2].try_into().unwrap()) as usize;
    let second = cd_at + 46 + "model/data.pkl".len();
    file[second + 42..second + 46].copy_from_slice(&0x0fff_ffff_u32.to_le_bytes());
    let index = index_of(&file).unwrap();
    assert_error(
        index.locate("w").map(|_| ()),
        ErrorKind::NotSafetensors,
        &["Storage `0`", "past the end"],
    );
    // A zip64 locator that points past its own position.
    let mut file = checkpoint(state_dict(&[]), &values(4), true);
    let n = file.len();
    let locator = n - 22 - 20;
    file[locator + 8..locator + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_error(
        index_of(&file),
        ErrorKind::NotSafetensors,
        &["zip64 end record"],
    );
}

#[test]
fn compressed_and_encrypted_entries_are_refused() {
    let pickle = state_dict(&[("w", tensor_pickle("0", 4, 0, &[2, 2], &[2, 1]))]);
    let data: Vec<u8> = values(4).iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut deflated = entry("model/data/0", data);
    deflated.method = 8;
    let file = zip_file(&[entry("model/data.pkl", pickle.clone()), deflated], false);
    assert_error(
        index_of(&file),
        ErrorKind::NotSafetensors,
        &["`model/data/0`", "compressed", "method 8"],
    );
    let mut deflated_pkl = entry("model/data.pkl", pickle);
    deflated_pkl.method = 8;
    assert_error(
        index_of(&zip_file(&[deflated_pkl], false)),
        ErrorKind::NotSafetensors,
        &["`model/data.pkl`", "compressed"],
    );
}

#[test]
fn truncated_central_directories_and_files_are_refused() {
    let file = read_fixture("strided.bin");
    // The end record claims one entry more than the directory holds.
    let mut more = file.clone();
    let n = more.len();
    let count = u16::from_le_bytes([more[n - 12], more[n - 11]]) + 1;
    more[n - 12..n - 10].copy_from_slice(&count.to_le_bytes());
    more[n - 14..n - 12].copy_from_slice(&count.to_le_bytes());
    assert_error(
        index_of(&more),
        ErrorKind::NotSafetensors,
        &["central directory holds"],
    );
    // A directory whose size cuts its last entry.
    let mut cut = file.clone();
    let size = u32::from_le_bytes(cut[n - 10..n - 6].try_into().unwrap()) - 10;
    cut[n - 10..n - 6].copy_from_slice(&size.to_le_bytes());
    assert_error(
        index_of(&cut),
        ErrorKind::NotSafetensors,
        &["central directory ends inside"],
    );
    // Every prefix of both formats: an error, never a panic, never a wrong tensor.
    for name in ["strided.bin", "strided.legacy.bin"] {
        let file = read_fixture(name);
        for len in (0..file.len()).step_by(37) {
            let prefix = &file[..len];
            if let Ok(index) = index_of(prefix) {
                for tensor in &index.tensors {
                    if let Ok(plan) = index.locate(&tensor.name) {
                        if let Ok((location, _)) = run_in_memory(plan, prefix) {
                            assert!(location.byte_range.end <= len as u64);
                        }
                    }
                }
            }
        }
        assert_error(
            index_of(&file[..file.len() / 2]),
            ErrorKind::NotSafetensors,
            &[],
        );
    }
}

#[test]
fn legacy_files_that_do_not_add_up_are_refused() {
    let file = read_fixture("strided.legacy.bin");
    let mut longer = file.clone();
    longer.extend_from_slice(&[0; 4]);
    assert_error(
        index_of(&longer),
        ErrorKind::NotSafetensors,
        &["storages end at byte", "legacy"],
    );
    // A storage whose element count disagrees with its persistent id.
    let index = index_of(&file).unwrap();
    let tensor = &index.tensors[0];
    let count_at = match &index.storages[tensor.storage].place {
        poslens::pure::source::torch::StoragePlace::Legacy { count_at } => *count_at as usize,
        other => panic!("{other:?}"),
    };
    let mut wrong = file.clone();
    wrong[count_at] ^= 1;
    let index = index_of(&wrong).unwrap();
    let plan = index.locate(&tensor.name).unwrap();
    assert_error(
        run_in_memory(plan, &wrong),
        ErrorKind::NotSafetensors,
        &["should hold", "count"],
    );
}

#[test]
fn strides_that_are_not_a_matrix_are_refused_and_others_are_gathered() {
    let pickle = state_dict(&[
        ("cube", tensor_pickle("0", 24, 0, &[2, 3, 4], &[1, 2, 6])),
        ("transposed", tensor_pickle("0", 24, 0, &[4, 6], &[1, 4])),
    ]);
    let file = checkpoint(pickle, &values(24), false);
    assert_error(
        locate_in(&file, "cube"),
        ErrorKind::BadTensor,
        &["`cube`", "2 × 3 × 4", "1, 2, 6"],
    );
    let location = locate_in(&file, "transposed").unwrap();
    let raw = &file[location.byte_range.start as usize..location.byte_range.end as usize];
    let bytes = location.row_major_bytes(raw).unwrap();
    let got: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let all = values(24);
    let want: Vec<f32> = (0..4)
        .flat_map(|i| (0..6).map(move |j| (i, j)))
        .map(|(i, j)| all[i + 4 * j])
        .collect();
    assert_eq!(got, want);
}

#[test]
fn wrong_bytes_from_the_server_are_refused() {
    let file = read_fixture("minilm.bin");
    let mut plan = IndexPlan::new(file.len() as u64);
    let range = plan.next_read().unwrap();
    let short = &file[range.start as usize..range.end as usize - 1];
    assert_error(
        plan.feed(range.clone(), short),
        ErrorKind::BadAnswer,
        &["bytes"],
    );
    assert_eq!(
        plan.next_read(),
        None,
        "a failed plan asks for nothing more"
    );
    let mut plan = IndexPlan::new(file.len() as u64);
    assert_error(
        plan.feed(1..10, &file[1..10]),
        ErrorKind::BadAnswer,
        &["0..16384"],
    );
}

#[test]
fn other_files_get_a_format_error_and_the_caps_are_clear() {
    let safetensors =
        std::fs::read(fixture_dir().join("minilm_position_embeddings.safetensors")).unwrap();
    assert_eq!(sniff_format(&safetensors), None);
    assert_error(
        index_of(&safetensors),
        ErrorKind::NotSafetensors,
        &["not a PyTorch checkpoint"],
    );
    assert_error(
        index_of(b"<!DOCTYPE html><html>"),
        ErrorKind::NotSafetensors,
        &["`<!DOCTYPE"],
    );
    assert_error(
        index_of(b""),
        ErrorKind::NotSafetensors,
        &["no bytes at all"],
    );
    // A legacy prefix that never ends: asked for progressively, then refused at the cap.
    let mut endless = poslens::pure::source::torch::LEGACY_MAGIC.to_vec();
    endless.extend_from_slice(b"\x80\x02X\xff\xff\xff\x7f");
    endless.resize(MAX_PICKLE_BYTES as usize + 4096, b'a');
    let mut reader = Counted::new(&endless);
    assert_error(
        reader.run(IndexPlan::new(endless.len() as u64)),
        ErrorKind::TooLarge,
        &["pickle prefix"],
    );
    assert!(
        reader.bytes_read <= MAX_PICKLE_BYTES,
        "read {} bytes",
        reader.bytes_read
    );
    assert!(reader.reads.len() < 20, "{} reads", reader.reads.len());
    // The pickle interpreter alone: a truncated pickle says so.
    assert_eq!(
        pickle::interpret(b"\x80\x02]", 0).unwrap_err(),
        pickle::PickleError::Truncated
    );
}
