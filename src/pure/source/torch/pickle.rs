//! A pickle interpreter for PyTorch state dicts: data to interpret, never code to run.
//!
//! It understands the opcodes of protocol 2 (what `torch.save` writes) and the few of
//! protocols 3–5 that a state dict can contain, and it knows a short allowlist of globals:
//! `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor` / `_rebuild_parameter` /
//! `_rebuild_parameter_with_state`, `collections.OrderedDict`, and the `torch.<T>Storage`
//! classes that name a storage's element type in a persistent id. Every other global is
//! refused by name. Nothing is ever called: `REDUCE` on an allowed global builds a plain
//! description of a tensor (or an empty dict).
//!
//! Every resource is bounded by a constant: nesting depth, stack and memo sizes, the work of
//! copying shared values, and the walk that collects the tensors. Lengths read from the
//! pickle are only ever compared with the bytes actually present, never used to allocate.

use std::collections::HashMap;
use std::rc::Rc;

use crate::pure::source::format::Dtype;

/// Deepest nesting of tuples, lists and dicts accepted (a state dict needs about 6).
pub const MAX_DEPTH: u32 = 100;

/// Most values on the stack, marks, and memo entries, each.
pub const MAX_STACK: usize = 1_000_000;

/// Most elements copied when a shared list or dict is changed, over one pickle.
const MAX_COPY_WORK: u64 = 20_000_000;

/// Most values visited while collecting the tensors of a state dict.
const MAX_WALK: u64 = 1_000_000;

/// Longest tensor name (with its nested dicts' prefixes), in bytes.
pub const MAX_NAME_BYTES: usize = 4096;

/// Most dimensions of one tensor.
pub const MAX_DIMS: usize = 16;

/// Longest `module\nname\n` line of a `GLOBAL` opcode.
const MAX_GLOBAL_LINE: usize = 256;

/// What went wrong while interpreting a pickle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickleError {
    /// The bytes end before the pickle's `STOP` (or inside an opcode's argument).
    Truncated,
    /// A structural problem at a byte offset (relative to the pickle's start).
    Malformed {
        /// Where the opcode starts.
        offset: usize,
        /// What is wrong, in words.
        detail: String,
    },
    /// An opcode this interpreter does not implement.
    UnsupportedOpcode {
        /// Where it is.
        offset: usize,
        /// The opcode byte.
        opcode: u8,
    },
    /// A global outside the allowlist.
    UnknownGlobal {
        /// The module, e.g. `os`.
        module: String,
        /// The name, e.g. `system`.
        name: String,
    },
    /// A constant resource limit was reached.
    Limit {
        /// Which limit, in words.
        what: &'static str,
    },
}

/// An element type named by a `torch.<T>Storage` class.
fn storage_dtype(name: &str) -> Option<Dtype> {
    Some(match name {
        "FloatStorage" => Dtype::F32,
        "DoubleStorage" => Dtype::F64,
        "HalfStorage" => Dtype::F16,
        "BFloat16Storage" => Dtype::BF16,
        "LongStorage" => Dtype::I64,
        "IntStorage" => Dtype::I32,
        "ShortStorage" => Dtype::I16,
        "CharStorage" => Dtype::I8,
        "ByteStorage" => Dtype::U8,
        "BoolStorage" => Dtype::BOOL,
        _ => return None,
    })
}

/// An allowed global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Global {
    /// `torch._utils._rebuild_tensor_v2`.
    RebuildTensorV2,
    /// `torch._utils._rebuild_tensor` (older files).
    RebuildTensor,
    /// `torch._utils._rebuild_parameter`.
    RebuildParameter,
    /// `torch._utils._rebuild_parameter_with_state`.
    RebuildParameterWithState,
    /// `collections.OrderedDict`.
    OrderedDict,
    /// `torch.<T>Storage`, with its element type.
    Storage(Dtype),
}

/// Resolves a global against the allowlist.
fn resolve_global(module: &str, name: &str) -> Result<Global, PickleError> {
    let global = match (module, name) {
        ("torch._utils", "_rebuild_tensor_v2") => Some(Global::RebuildTensorV2),
        ("torch._utils", "_rebuild_tensor") => Some(Global::RebuildTensor),
        ("torch._utils", "_rebuild_parameter") => Some(Global::RebuildParameter),
        ("torch._utils", "_rebuild_parameter_with_state") => {
            Some(Global::RebuildParameterWithState)
        }
        ("collections", "OrderedDict") => Some(Global::OrderedDict),
        ("torch", storage) => storage_dtype(storage).map(Global::Storage),
        _ => None,
    };
    global.ok_or_else(|| PickleError::UnknownGlobal {
        module: module.to_owned(),
        name: name.to_owned(),
    })
}

/// A storage named by a persistent id: `('storage', torch.<T>Storage, key, location, numel)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageRef {
    /// The element type.
    pub dtype: Dtype,
    /// The storage's key (`data/<key>` in a zip file, a position in a legacy file's key list).
    pub key: String,
    /// Its length in elements.
    pub numel: u64,
}

/// A tensor as `_rebuild_tensor_v2` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorRecord {
    /// The storage holding its elements.
    pub storage: Rc<StorageRef>,
    /// Its first element's index in the storage.
    pub storage_offset: u64,
    /// The shape.
    pub shape: Vec<u64>,
    /// The strides, in elements.
    pub strides: Vec<u64>,
}

/// A list, tuple or dict's items with its nesting depth.
#[derive(Debug, Clone)]
pub struct Seq<T> {
    depth: u32,
    items: Vec<T>,
}

impl<T> Seq<T> {
    /// The items, in order.
    pub fn items(&self) -> &[T] {
        &self.items
    }
}

/// A value on the pickle machine's stack.
#[derive(Debug, Clone)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A wider integer (kept opaque).
    BigInt,
    /// A float.
    Float(f64),
    /// A text string.
    Str(Rc<str>),
    /// A bytes object (kept opaque).
    Bytes,
    /// A tuple.
    Tuple(Rc<Seq<Value>>),
    /// A list.
    List(Rc<Seq<Value>>),
    /// A dict (or OrderedDict), items in insertion order.
    Dict(Rc<Seq<(Value, Value)>>),
    /// An allowed global.
    Global(Global),
    /// A storage from a persistent id.
    Storage(Rc<StorageRef>),
    /// A tensor.
    Tensor(Rc<TensorRecord>),
}

impl Value {
    /// The nesting depth: 0 for a scalar, 1 + the deepest child for a container.
    fn depth(&self) -> u32 {
        match self {
            Value::Tuple(seq) | Value::List(seq) => seq.depth,
            Value::Dict(seq) => seq.depth,
            _ => 0,
        }
    }

    /// A short name of the value's type, for messages.
    fn type_name(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Global(_) => "global",
            Value::Storage(_) => "storage",
            Value::Tensor(_) => "tensor",
        }
    }
}

/// Builds a container's items with their depth, or fails past [`MAX_DEPTH`].
fn seq_of<T>(items: Vec<T>, depth_of: impl Fn(&T) -> u32) -> Result<Seq<T>, PickleError> {
    let deepest = items.iter().map(depth_of).max().unwrap_or(0);
    let depth = deepest.saturating_add(1);
    if depth > MAX_DEPTH {
        return Err(PickleError::Limit {
            what: "nesting depth",
        });
    }
    Ok(Seq { depth, items })
}

/// A tuple of `items`.
fn tuple(items: Vec<Value>) -> Result<Value, PickleError> {
    Ok(Value::Tuple(Rc::new(seq_of(items, Value::depth)?)))
}

/// The pickle machine.
struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    op_start: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    copy_work: u64,
}

impl<'a> Machine<'a> {
    fn malformed(&self, detail: impl Into<String>) -> PickleError {
        PickleError::Malformed {
            offset: self.op_start,
            detail: detail.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).ok_or(PickleError::Truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or(PickleError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let bytes = self.take(N)?;
        let mut out = [0_u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn take_u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take_array::<1>()?[0])
    }

    fn take_len_u32(&mut self) -> Result<usize, PickleError> {
        let len = u32::from_le_bytes(self.take_array()?);
        usize::try_from(len).map_err(|_| PickleError::Truncated)
    }

    fn take_len_u64(&mut self) -> Result<usize, PickleError> {
        let len = u64::from_le_bytes(self.take_array()?);
        // A length beyond the address space cannot be present in the bytes either.
        usize::try_from(len).map_err(|_| PickleError::Truncated)
    }

    fn take_line(&mut self) -> Result<&'a str, PickleError> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let window = rest.get(..MAX_GLOBAL_LINE).unwrap_or(rest);
        let Some(newline) = window.iter().position(|&b| b == b'\n') else {
            if window.len() < MAX_GLOBAL_LINE {
                return Err(PickleError::Truncated);
            }
            return Err(self.malformed("a GLOBAL name longer than 256 bytes"));
        };
        let line = self.take(newline)?;
        self.pos = self.pos.saturating_add(1);
        std::str::from_utf8(line).map_err(|_| self.malformed("a GLOBAL name that is not UTF-8"))
    }

    fn text(&mut self, len: usize) -> Result<Value, PickleError> {
        let bytes = self.take(len)?;
        let text =
            std::str::from_utf8(bytes).map_err(|_| self.malformed("a string that is not UTF-8"))?;
        Ok(Value::Str(Rc::from(text)))
    }

    fn push(&mut self, value: Value) -> Result<(), PickleError> {
        if self.stack.len() >= MAX_STACK {
            return Err(PickleError::Limit { what: "stack size" });
        }
        self.stack.push(value);
        Ok(())
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        if self
            .marks
            .last()
            .is_some_and(|&mark| mark >= self.stack.len())
        {
            return Err(self.malformed("an opcode pops past a MARK"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("an opcode pops from an empty stack"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.malformed("an opcode needs a MARK and there is none"))?;
        if mark > self.stack.len() {
            return Err(self.malformed("a MARK above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn top_mut(&mut self) -> Result<&mut Value, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.malformed("an opcode needs a value below it and there is none"));
        }
        let last = self.stack.len() - 1;
        self.stack
            .get_mut(last)
            .ok_or(PickleError::Limit { what: "stack" })
    }

    fn charge(&mut self, n: usize) -> Result<(), PickleError> {
        self.copy_work = self
            .copy_work
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if self.copy_work > MAX_COPY_WORK {
            return Err(PickleError::Limit {
                what: "work copying shared lists and dicts",
            });
        }
        Ok(())
    }

    fn memo_put(&mut self, key: u32) -> Result<(), PickleError> {
        let value = self
            .stack
            .last()
            .cloned()
            .ok_or_else(|| self.malformed("PUT on an empty stack"))?;
        if self.memo.len() >= MAX_STACK && !self.memo.contains_key(&key) {
            return Err(PickleError::Limit { what: "memo size" });
        }
        self.memo.insert(key, value);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Result<(), PickleError> {
        let value =
            self.memo.get(&key).cloned().ok_or_else(|| {
                self.malformed(format!("GET of memo entry {key}, which is not set"))
            })?;
        self.push(value)
    }

    /// Appends `values` to the list on top of the stack.
    fn append(&mut self, values: Vec<Value>) -> Result<(), PickleError> {
        let deepest = values.iter().map(Value::depth).max().unwrap_or(0);
        let shared_len = match self.top_mut()? {
            Value::List(seq) if Rc::strong_count(seq) > 1 => seq.items.len(),
            Value::List(_) => 0,
            other => {
                let kind = other.type_name();
                return Err(self.malformed(format!("APPEND to a {kind}, not a list")));
            }
        };
        self.charge(shared_len)?;
        let Value::List(seq) = self.top_mut()? else {
            return Err(PickleError::Limit { what: "stack" });
        };
        let seq = Rc::make_mut(seq);
        let depth = seq.depth.max(deepest.saturating_add(1));
        if depth > MAX_DEPTH {
            return Err(PickleError::Limit {
                what: "nesting depth",
            });
        }
        seq.depth = depth;
        seq.items.extend(values);
        Ok(())
    }

    /// Sets `pairs` (key, value, key, value, …) in the dict on top of the stack.
    fn set_items(&mut self, flat: Vec<Value>) -> Result<(), PickleError> {
        if !flat.len().is_multiple_of(2) {
            return Err(self.malformed("SETITEMS with an odd number of values"));
        }
        let deepest = flat.iter().map(Value::depth).max().unwrap_or(0);
        let shared_len = match self.top_mut()? {
            Value::Dict(seq) if Rc::strong_count(seq) > 1 => seq.items.len(),
            Value::Dict(_) => 0,
            other => {
                let kind = other.type_name();
                return Err(self.malformed(format!("SETITEM on a {kind}, not a dict")));
            }
        };
        self.charge(shared_len)?;
        let Value::Dict(seq) = self.top_mut()? else {
            return Err(PickleError::Limit { what: "stack" });
        };
        let seq = Rc::make_mut(seq);
        let depth = seq.depth.max(deepest.saturating_add(1));
        if depth > MAX_DEPTH {
            return Err(PickleError::Limit {
                what: "nesting depth",
            });
        }
        seq.depth = depth;
        let mut values = flat.into_iter();
        while let (Some(key), Some(value)) = (values.next(), values.next()) {
            seq.items.push((key, value));
        }
        Ok(())
    }

    fn reduce(&mut self) -> Result<(), PickleError> {
        let args = self.pop()?;
        let callable = self.pop()?;
        let Value::Global(global) = callable else {
            let kind = callable.type_name();
            return Err(self.malformed(format!("REDUCE calls a {kind}, not an allowed global")));
        };
        let Value::Tuple(args) = args else {
            return Err(self.malformed("REDUCE with arguments that are not a tuple"));
        };
        let result = match global {
            Global::OrderedDict => {
                if !args.items.is_empty() {
                    return Err(self.malformed("OrderedDict built with arguments"));
                }
                Value::Dict(Rc::new(Seq {
                    depth: 1,
                    items: Vec::new(),
                }))
            }
            Global::RebuildTensorV2 | Global::RebuildTensor => self.rebuild_tensor(&args.items)?,
            Global::RebuildParameter | Global::RebuildParameterWithState => {
                match args.items.first() {
                    Some(tensor @ Value::Tensor(_)) => tensor.clone(),
                    _ => return Err(self.malformed("_rebuild_parameter without a tensor")),
                }
            }
            Global::Storage(_) => {
                return Err(self.malformed("a storage class called directly"));
            }
        };
        self.push(result)
    }

    fn int_tuple(&self, value: Option<&Value>, what: &str) -> Result<Vec<u64>, PickleError> {
        let Some(Value::Tuple(seq)) = value else {
            return Err(self.malformed(format!("a tensor's {what} is not a tuple")));
        };
        if seq.items.len() > MAX_DIMS {
            return Err(self.malformed(format!(
                "a tensor with {} dimensions (at most {MAX_DIMS} are read)",
                seq.items.len()
            )));
        }
        seq.items
            .iter()
            .map(|item| match item {
                Value::Int(n) => u64::try_from(*n)
                    .map_err(|_| self.malformed(format!("a negative entry in a tensor's {what}"))),
                _ => Err(self.malformed(format!("a tensor's {what} holds a non-integer"))),
            })
            .collect()
    }

    fn rebuild_tensor(&self, args: &[Value]) -> Result<Value, PickleError> {
        let Some(Value::Storage(storage)) = args.first() else {
            return Err(self.malformed("_rebuild_tensor without a storage"));
        };
        let storage_offset = match args.get(1) {
            Some(Value::Int(n)) => {
                u64::try_from(*n).map_err(|_| self.malformed("a negative storage offset"))?
            }
            _ => return Err(self.malformed("a storage offset that is not an integer")),
        };
        let shape = self.int_tuple(args.get(2), "size")?;
        let strides = self.int_tuple(args.get(3), "stride")?;
        if shape.len() != strides.len() {
            return Err(self.malformed("a tensor whose size and stride differ in length"));
        }
        Ok(Value::Tensor(Rc::new(TensorRecord {
            storage: Rc::clone(storage),
            storage_offset,
            shape,
            strides,
        })))
    }

    fn persistent_load(&mut self) -> Result<(), PickleError> {
        let pid = self.pop()?;
        let Value::Tuple(pid) = pid else {
            return Err(self.malformed("a persistent id that is not a tuple"));
        };
        let items = &pid.items;
        let is_storage = matches!(items.first(), Some(Value::Str(tag)) if &**tag == "storage");
        let (
            Some(Value::Global(Global::Storage(dtype))),
            Some(Value::Str(key)),
            Some(Value::Int(numel)),
        ) = (items.get(1), items.get(2), items.get(4))
        else {
            return Err(self.malformed(
                "a persistent id that is not ('storage', torch.<T>Storage, key, location, size)",
            ));
        };
        if !is_storage {
            return Err(self.malformed("a persistent id whose tag is not 'storage'"));
        }
        // The legacy format adds a sixth item, the view metadata, None for a whole storage.
        match items.len() {
            5 => {}
            6 if matches!(items.get(5), Some(Value::None)) => {}
            6 => return Err(self.malformed(
                "a storage view (torch < 0.4 files); re-save the checkpoint with a recent torch",
            )),
            _ => return Err(self.malformed("a persistent id of the wrong length")),
        }
        let numel =
            u64::try_from(*numel).map_err(|_| self.malformed("a storage of negative size"))?;
        let storage = StorageRef {
            dtype: *dtype,
            key: key.to_string(),
            numel,
        };
        self.push(Value::Storage(Rc::new(storage)))
    }

    /// Runs to `STOP`; returns the value left on the stack.
    fn run(&mut self) -> Result<Value, PickleError> {
        loop {
            self.op_start = self.pos;
            let opcode = self.take_u8()?;
            match opcode {
                0x80 => {
                    let version = self.take_u8()?;
                    if version > 5 {
                        return Err(self.malformed(format!("pickle protocol {version}")));
                    }
                }
                0x95 => {
                    // FRAME: a length hint only.
                    self.take(8)?;
                }
                b'.' => {
                    let value = self.pop()?;
                    return Ok(value);
                }
                b'(' => {
                    if self.marks.len() >= MAX_STACK {
                        return Err(PickleError::Limit { what: "marks" });
                    }
                    self.marks.push(self.stack.len());
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self
                        .stack
                        .last()
                        .cloned()
                        .ok_or_else(|| self.malformed("DUP on an empty stack"))?;
                    self.push(top)?;
                }
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'J' => {
                    let n = i32::from_le_bytes(self.take_array()?);
                    self.push(Value::Int(i64::from(n)))?;
                }
                b'K' => {
                    let n = self.take_u8()?;
                    self.push(Value::Int(i64::from(n)))?;
                }
                b'M' => {
                    let n = u16::from_le_bytes(self.take_array()?);
                    self.push(Value::Int(i64::from(n)))?;
                }
                0x8a => {
                    let len = usize::from(self.take_u8()?);
                    let bytes = self.take(len)?;
                    let value = if len <= 8 {
                        let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
                        let mut wide = if negative { [0xff_u8; 8] } else { [0_u8; 8] };
                        if let Some(dst) = wide.get_mut(..len) {
                            dst.copy_from_slice(bytes);
                        }
                        Value::Int(i64::from_le_bytes(wide))
                    } else {
                        Value::BigInt
                    };
                    self.push(value)?;
                }
                b'G' => {
                    let x = f64::from_be_bytes(self.take_array()?);
                    self.push(Value::Float(x))?;
                }
                b'X' => {
                    let len = self.take_len_u32()?;
                    let value = self.text(len)?;
                    self.push(value)?;
                }
                0x8c => {
                    let len = usize::from(self.take_u8()?);
                    let value = self.text(len)?;
                    self.push(value)?;
                }
                0x8d => {
                    let len = self.take_len_u64()?;
                    let value = self.text(len)?;
                    self.push(value)?;
                }
                b'T' | b'B' => {
                    let len = self.take_len_u32()?;
                    self.take(len)?;
                    self.push(Value::Bytes)?;
                }
                b'U' | b'C' => {
                    let len = usize::from(self.take_u8()?);
                    self.take(len)?;
                    self.push(Value::Bytes)?;
                }
                0x8e => {
                    let len = self.take_len_u64()?;
                    self.take(len)?;
                    self.push(Value::Bytes)?;
                }
                b'}' => self.push(Value::Dict(Rc::new(Seq {
                    depth: 1,
                    items: Vec::new(),
                })))?,
                b']' => self.push(Value::List(Rc::new(Seq {
                    depth: 1,
                    items: Vec::new(),
                })))?,
                b')' => self.push(tuple(Vec::new())?)?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(tuple(items)?)?;
                }
                0x85..=0x87 => {
                    let n = usize::from(opcode - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(tuple(items)?)?;
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(Rc::new(seq_of(items, Value::depth)?)))?;
                }
                b'd' => {
                    let flat = self.pop_mark()?;
                    self.push(Value::Dict(Rc::new(Seq {
                        depth: 1,
                        items: Vec::new(),
                    })))?;
                    self.set_items(flat)?;
                }
                b'a' => {
                    let value = self.pop()?;
                    self.append(vec![value])?;
                }
                b'e' => {
                    let values = self.pop_mark()?;
                    self.append(values)?;
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    self.set_items(vec![key, value])?;
                }
                b'u' => {
                    let flat = self.pop_mark()?;
                    self.set_items(flat)?;
                }
                b'q' => {
                    let key = u32::from(self.take_u8()?);
                    self.memo_put(key)?;
                }
                b'r' => {
                    let key = u32::from_le_bytes(self.take_array()?);
                    self.memo_put(key)?;
                }
                0x94 => {
                    let key = u32::try_from(self.memo.len())
                        .map_err(|_| PickleError::Limit { what: "memo size" })?;
                    self.memo_put(key)?;
                }
                b'h' => {
                    let key = u32::from(self.take_u8()?);
                    self.memo_get(key)?;
                }
                b'j' => {
                    let key = u32::from_le_bytes(self.take_array()?);
                    self.memo_get(key)?;
                }
                b'c' => {
                    let module = self.take_line()?;
                    let name = self.take_line()?;
                    let global = resolve_global(module, name)?;
                    self.push(Value::Global(global))?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return Err(self.malformed("STACK_GLOBAL with names that are not strings"));
                    };
                    let global = resolve_global(&module, &name)?;
                    self.push(Value::Global(global))?;
                }
                b'R' => self.reduce()?,
                b'b' => {
                    // BUILD sets an object's state; the state of a dict or tensor (for
                    // example a state dict's `_metadata`) is not needed, so it is dropped.
                    self.pop()?;
                    match self.top_mut()? {
                        Value::Dict(_) | Value::Tensor(_) => {}
                        other => {
                            let kind = other.type_name();
                            return Err(self.malformed(format!("BUILD on a {kind}")));
                        }
                    }
                }
                b'Q' => self.persistent_load()?,
                _ => {
                    return Err(PickleError::UnsupportedOpcode {
                        offset: self.op_start,
                        opcode,
                    })
                }
            }
        }
    }
}

/// Interprets one pickle that starts at `data[start]`; returns its value and the offset just
/// past its `STOP`.
///
/// # Errors
/// [`PickleError::Truncated`] when `data` ends first (more bytes may complete it), and the
/// other variants for a pickle that cannot be a state dict's.
pub fn interpret(data: &[u8], start: usize) -> Result<(Value, usize), PickleError> {
    let mut machine = Machine {
        data,
        pos: start,
        op_start: start,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        copy_work: 0,
    };
    let value = machine.run()?;
    Ok((value, machine.pos))
}

/// Collects the tensors of a state dict: `(name, tensor)` in the dict's order. Nested dicts
/// give dotted names (`outer.inner`); values that are not tensors or dicts are skipped; a
/// name set twice keeps its last tensor, as Python's dict does.
///
/// # Errors
/// [`PickleError::Malformed`] when the value is not a dict, and [`PickleError::Limit`] when
/// the walk visits more than a constant number of values.
pub fn collect_tensors(value: &Value) -> Result<Vec<(String, Rc<TensorRecord>)>, PickleError> {
    let Value::Dict(_) = value else {
        return Err(PickleError::Malformed {
            offset: 0,
            detail: format!(
                "the checkpoint holds a {}, not a state dict (a dict of tensors)",
                value.type_name()
            ),
        });
    };
    let mut out: Vec<(String, Rc<TensorRecord>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut visits: u64 = 0;
    walk(value, "", &mut out, &mut index, &mut visits, 0)?;
    Ok(out)
}

fn walk(
    value: &Value,
    prefix: &str,
    out: &mut Vec<(String, Rc<TensorRecord>)>,
    index: &mut HashMap<String, usize>,
    visits: &mut u64,
    depth: u32,
) -> Result<(), PickleError> {
    let Value::Dict(seq) = value else {
        return Ok(());
    };
    if depth > MAX_DEPTH {
        return Err(PickleError::Limit {
            what: "nesting depth",
        });
    }
    for (key, item) in &seq.items {
        *visits += 1;
        if *visits > MAX_WALK {
            return Err(PickleError::Limit {
                what: "values visited in the state dict",
            });
        }
        let Value::Str(key) = key else { continue };
        if !matches!(item, Value::Tensor(_) | Value::Dict(_)) {
            continue;
        }
        if prefix.len() + 1 + key.len() > MAX_NAME_BYTES {
            return Err(PickleError::Limit {
                what: "tensor name length",
            });
        }
        let name = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        match item {
            Value::Tensor(tensor) => {
                if let Some(&at) = index.get(&name) {
                    if let Some(slot) = out.get_mut(at) {
                        slot.1 = Rc::clone(tensor);
                    }
                } else {
                    index.insert(name.clone(), out.len());
                    out.push((name, Rc::clone(tensor)));
                }
            }
            Value::Dict(_) => walk(item, &name, out, index, visits, depth + 1)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long1_sign_extends() {
        let (value, end) = interpret(b"\x80\x02\x8a\x02\xff\xff.", 0).unwrap();
        assert!(matches!(value, Value::Int(-1)));
        assert_eq!(end, 7);
    }

    #[test]
    fn a_pop_below_a_mark_is_refused() {
        assert!(matches!(
            interpret(b"\x80\x02K\x01(0.", 0),
            Err(PickleError::Malformed { .. })
        ));
    }
}
