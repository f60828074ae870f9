//! The "Weight" stage: pprof profiles in (CPU profiles as `runtime/pprof`,
//! `go test -cpuprofile` and PGO's `default.pgo` write them), each function's share of
//! the samples out ([`Weights`]), so that a finding can say how much the code it is in
//! runs ([`Share`]).
//!
//! A profile is a gzip-compressed protobuf message of google/pprof's `profile.proto`
//! ([`proto`]). Each sample is a stack of locations, leaf first; each location is one
//! or more lines, the innermost inlined function first and the function it was inlined
//! into last. A function's `cum` is the value of the samples with the function anywhere
//! on the stack (inlined frames included, each sample once however deep the
//! recursion); its `flat` is the value of the samples whose first line of the first
//! location is the function. Several profiles are merged by adding their values.
//!
//! Profile names are the linker's symbols: `example.com/m/pkg.(*T).M`,
//! `pkg.F.func1`, `pkg.Map[go.shape.int]`, and `main.F` for a main package.
//! [`normalise_function`] makes them and the compiler's names (`(*T[...]).M`) one key.
//! A closure whose enclosing function was inlined is named after the function it was
//! inlined into (`main.main.Outer.func1` for `Outer.func1` of another package); such a
//! closure is given back to its enclosing function, which the profile's other lines
//! name with the same source file.
//!
//! Pure: the bytes come from the caller, who decides which files may be read.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};

/// The messages of `profile.proto` (github.com/google/pprof, `proto/profile.proto`),
/// with the field numbers of the upstream file. Only the fields escape-gate reads are
/// declared: protobuf decoding skips the others (mappings, labels, comments), so they
/// cost no memory.
pub mod proto {
    /// `perftools.profiles.Profile`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }

    /// `perftools.profiles.ValueType`: indices into the string table.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    /// `perftools.profiles.Sample`: the leaf is `location_id[0]`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
    }

    /// `perftools.profiles.Location`: `line[0]` is the innermost inlined function, the
    /// last line the function the others were inlined into.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }

    /// `perftools.profiles.Line`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
    }

    /// `perftools.profiles.Function`: `name` and `filename` index the string table.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
        #[prost(int64, tag = "5")]
        pub start_line: i64,
    }
}

/// The largest profile file read (compressed, as it is on disk).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The largest profile once decompressed.
pub const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;
/// The most samples one profile may have.
pub const MAX_SAMPLES: usize = 5_000_000;

const HINT: &str =
    "hint: give a CPU profile as runtime/pprof, `go test -cpuprofile` or a default.pgo \
                    write it (google/pprof's profile.proto, gzip-compressed)";

/// One profile to read: its bytes and how reports name it.
#[derive(Debug, Clone)]
pub struct Source {
    /// `cmd/server/default.pgo (head)`, `cpu.pprof`: for messages and the summary.
    pub name: String,
    pub bytes: Vec<u8>,
    /// For a main package's `default.pgo`: that package's import path, which its
    /// `main.` symbols stand for.
    pub main_package: Option<String>,
}

/// A function's share of the samples, in percent, rounded to two decimals (what the
/// reports show is what the policy compares).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Share {
    /// Samples with the function anywhere on the stack, inlined frames included.
    pub cum_percent: f64,
    /// Samples with the function at the top of the stack.
    pub flat_percent: f64,
}

// Shares are rounded finite numbers, never NaN.
impl Eq for Share {}

impl Share {
    /// `41.2% of CPU samples`, or `0 samples` for a function the profile never saw.
    pub fn describe(&self, of: &str) -> String {
        if self.cum_percent == 0.0 && self.flat_percent == 0.0 {
            "0 samples".to_string()
        } else {
            format!(
                "{} of {of} ({} in the function itself)",
                percent(self.cum_percent),
                percent(self.flat_percent)
            )
        }
    }
}

/// `41.2%`, `0.05%`, `100%`: one decimal, two under 1%.
pub fn percent(value: f64) -> String {
    if value == 0.0 {
        "0%".to_string()
    } else if value < 1.0 {
        format!("{value:.2}%")
    } else {
        let text = format!("{value:.1}");
        format!("{}%", text.strip_suffix(".0").unwrap_or(&text))
    }
}

/// One profile read, for the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub samples: usize,
}

/// The merged profiles, indexed by function.
#[derive(Debug, Clone, Default)]
pub struct Weights {
    /// `cpu nanoseconds`: the type and unit of the values compared.
    pub sample_type: String,
    pub files: Vec<FileSummary>,
    total: i128,
    /// By (package, normalised function name).
    cum: HashMap<(String, String), i128>,
    flat: HashMap<(String, String), i128>,
}

impl Weights {
    /// Decodes and merges `sources`. A source that is not a profile, is too large, or
    /// measures something else than the first one is an error naming it.
    pub fn load(sources: &[Source]) -> Result<Weights> {
        let mut weights = Weights::default();
        for source in sources {
            let profile = decode(&source.bytes, &source.name)?;
            let (index, sample_type) = chosen_value(&profile, &source.name)?;
            if weights.files.is_empty() {
                weights.sample_type = sample_type;
            } else if weights.sample_type != sample_type {
                bail!(
                    "the profile {} measures {sample_type}, the others {}: profiles of different \
                     kinds cannot be merged\nhint: give CPU profiles only",
                    source.name,
                    weights.sample_type
                );
            }
            weights.add(&profile, index, source)?;
            weights.files.push(FileSummary {
                file: source.name.clone(),
                samples: profile.sample.len(),
            });
        }
        Ok(weights)
    }

    /// `CPU samples`, or the profile's own words for another kind of profile.
    pub fn of(&self) -> String {
        match self.sample_type.split(' ').next() {
            Some("cpu" | "samples") | None => "CPU samples".to_string(),
            Some(other) => format!("the profile's {other}"),
        }
    }

    /// The share of `function` of `package` (the compiler's names). `main` says the
    /// package is a main package, whose symbols the profile may call `main.F`.
    pub fn share(&self, package: &str, function: &str, main: bool) -> Share {
        if self.total <= 0 || function.is_empty() {
            return Share::default();
        }
        let name = normalise_function(function);
        let mut key = (package.to_string(), name);
        if main && !self.cum.contains_key(&key) {
            key.0 = "main".to_string();
        }
        let pct = |v: Option<&i128>| -> f64 {
            let v = v.copied().unwrap_or(0) as f64;
            (v * 10000.0 / self.total as f64).round() / 100.0
        };
        Share {
            cum_percent: pct(self.cum.get(&key)),
            flat_percent: pct(self.flat.get(&key)),
        }
    }

    /// Whether the profiles hold any sample at all.
    pub fn is_empty(&self) -> bool {
        self.total <= 0
    }

    fn add(&mut self, profile: &proto::Profile, index: usize, source: &Source) -> Result<()> {
        let strings = &profile.string_table;
        let string = |i: i64| -> Result<&str> {
            usize::try_from(i)
                .ok()
                .and_then(|i| strings.get(i))
                .map(String::as_str)
                .ok_or_else(|| invalid(&source.name, "a string index is out of range"))
        };
        // Each function's (package, name, file).
        let mut functions: HashMap<u64, (String, String, String)> = HashMap::new();
        for f in &profile.function {
            let (package, name) = split_symbol(string(f.name)?);
            let package = match (&source.main_package, package.as_str()) {
                (Some(main), "main") => main.clone(),
                _ => package,
            };
            functions.insert(
                f.id,
                (
                    package,
                    normalise_function(&name),
                    string(f.filename)?.to_string(),
                ),
            );
        }
        // What each file declares, from the names that are not closures: the package
        // of a closure named after the function it was inlined into, and its parent.
        let mut declared: HashMap<&str, (&str, HashSet<&str>)> = HashMap::new();
        for (package, name, file) in functions.values() {
            if !is_closure(name) && !file.is_empty() {
                let entry = declared
                    .entry(file.as_str())
                    .or_insert_with(|| (package.as_str(), HashSet::new()));
                entry.1.insert(name.as_str());
            }
        }
        let mut key_of: HashMap<u64, (String, String)> = HashMap::new();
        for (id, (package, name, file)) in &functions {
            let key = match declared.get(file.as_str()) {
                Some((file_package, names)) if is_closure(name) => {
                    match closure_parent(name, names) {
                        Some(canonical) => (file_package.to_string(), canonical),
                        None => (package.clone(), name.clone()),
                    }
                }
                _ => (package.clone(), name.clone()),
            };
            key_of.insert(*id, key);
        }
        let mut locations: HashMap<u64, Vec<&(String, String)>> = HashMap::new();
        for loc in &profile.location {
            let mut lines = Vec::with_capacity(loc.line.len());
            for line in &loc.line {
                let key = key_of.get(&line.function_id).ok_or_else(|| {
                    invalid(&source.name, "a location names a function it does not have")
                })?;
                lines.push(key);
            }
            locations.insert(loc.id, lines);
        }
        let mut on_stack: Vec<&(String, String)> = Vec::new();
        for sample in &profile.sample {
            if sample.value.len() != profile.sample_type.len() {
                return Err(invalid(
                    &source.name,
                    "a sample's values do not match the sample types",
                ));
            }
            let value = i128::from(sample.value[index]);
            if value < 0 {
                bail!(
                    "the profile {} has negative sample values (a difference of two profiles), \
                     which are no share of anything\n{HINT}",
                    source.name
                );
            }
            self.total += value;
            on_stack.clear();
            for (depth, id) in sample.location_id.iter().enumerate() {
                let lines = locations.get(id).ok_or_else(|| {
                    invalid(&source.name, "a sample names a location it does not have")
                })?;
                if depth == 0 {
                    if let Some(leaf) = lines.first() {
                        *self.flat.entry((*leaf).clone()).or_default() += value;
                    }
                }
                on_stack.extend(lines.iter().copied());
            }
            on_stack.sort();
            on_stack.dedup();
            for key in &on_stack {
                *self.cum.entry((*key).clone()).or_default() += value;
            }
        }
        Ok(())
    }
}

fn invalid(name: &str, why: &str) -> anyhow::Error {
    anyhow!("{name} is not a valid pprof profile: {why}\n{HINT}")
}

/// The profile in `bytes` (gzip-compressed or not), checked to be one.
pub fn decode(bytes: &[u8], name: &str) -> Result<proto::Profile> {
    use prost::Message;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!(
            "the profile {name} is {} bytes; escape-gate reads profiles of at most {MAX_FILE_BYTES} bytes (64 MiB)",
            bytes.len()
        );
    }
    let decompressed;
    let raw: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(MAX_DECODED_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|err| {
                anyhow!("{name} is not a pprof profile: its gzip stream is damaged ({err})\n{HINT}")
            })?;
        if out.len() as u64 > MAX_DECODED_BYTES {
            bail!(
                "the profile {name} is larger than {MAX_DECODED_BYTES} bytes (256 MiB) once \
                 decompressed; escape-gate reads no larger profile"
            );
        }
        decompressed = out;
        &decompressed
    } else {
        bytes
    };
    let profile = proto::Profile::decode(raw)
        .map_err(|err| anyhow!("{name} is not a pprof profile ({err})\n{HINT}"))?;
    // Arbitrary bytes can decode as some protobuf message: the format's own invariants
    // tell a profile from them.
    if profile.string_table.first().map(String::as_str) != Some("") {
        bail!("{name} is not a pprof profile: it has no string table\n{HINT}");
    }
    if profile.sample_type.is_empty() {
        bail!("{name} is not a pprof profile: it names no sample type\n{HINT}");
    }
    if profile.sample.len() > MAX_SAMPLES {
        bail!(
            "the profile {name} has {} samples; escape-gate reads at most {MAX_SAMPLES}",
            profile.sample.len()
        );
    }
    Ok(profile)
}

/// Which value of each sample is compared, and its `type unit`: the default sample
/// type when the profile names one, else the last (pprof's own rule).
fn chosen_value(profile: &proto::Profile, name: &str) -> Result<(usize, String)> {
    let string = |i: i64| -> Result<&str> {
        usize::try_from(i)
            .ok()
            .and_then(|i| profile.string_table.get(i))
            .map(String::as_str)
            .ok_or_else(|| invalid(name, "a sample type's name is out of range"))
    };
    let mut index = profile.sample_type.len() - 1;
    if profile.default_sample_type != 0 {
        for (i, t) in profile.sample_type.iter().enumerate() {
            if t.r#type == profile.default_sample_type {
                index = i;
            }
        }
    }
    let t = &profile.sample_type[index];
    Ok((index, format!("{} {}", string(t.r#type)?, string(t.unit)?)))
}

/// `example.com/m/pkg.(*T).M` → (`example.com/m/pkg`, `(*T).M`). The package path
/// ends at the first `.` after its last `/`; the linker escapes the dots of the last
/// element (`gopkg.in/yaml%2ev3`), which are unescaped here.
pub fn split_symbol(symbol: &str) -> (String, String) {
    let head_end = symbol.find(['(', '[']).unwrap_or(symbol.len());
    let slash = symbol[..head_end].rfind('/').map_or(0, |i| i + 1);
    match symbol[slash..].find('.') {
        Some(dot) => {
            let at = slash + dot;
            (unescape(&symbol[..at]), symbol[at + 1..].to_string())
        }
        None => (unescape(symbol), String::new()),
    }
}

fn unescape(path: &str) -> String {
    if !path.contains('%') {
        return path.to_string();
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&path[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One key for a function's profile name and its compiler name: type arguments
/// (`[go.shape.int]`, `[...]`) removed, numbered `init.0` functions as `init`.
pub fn normalise_function(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    if let Some(rest) = out.strip_prefix("init.") {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return "init".to_string();
        }
    }
    out
}

/// The `.`-separated parts of a name, outside parentheses: `(*T).M.func1` →
/// `(*T)`, `M`, `func1`.
fn segments(name: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in name.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            '.' if depth == 0 => {
                out.push(&name[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&name[start..]);
    out
}

fn is_closure_segment(segment: &str) -> bool {
    segment
        .strip_prefix("func")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_closure(name: &str) -> bool {
    segments(name).into_iter().any(is_closure_segment)
}

/// A closure's name as its own package knows it: `main.Outer.func1` (the closure of
/// `Outer` in a copy of `Outer` inlined into `main`) → `Outer.func1`, when `Outer` is
/// among `declared`, the functions of the closure's file. The longest such parent wins.
fn closure_parent(name: &str, declared: &HashSet<&str>) -> Option<String> {
    let parts = segments(name);
    let first = parts.iter().position(|s| is_closure_segment(s))?;
    let rest = parts[first..].join(".");
    (0..first).find_map(|start| {
        let parent = parts[start..first].join(".");
        declared
            .contains(parent.as_str())
            .then(|| format!("{parent}.{rest}"))
    })
}

#[cfg(test)]
mod tests {
    use super::proto::*;
    use super::*;
    use prost::Message;

    /// A profile of `stacks` (leaf first, each frame a list of inlined lines, innermost
    /// first), one sample of `value` each.
    /// One sample: its frames, leaf first, each a list of (function, file) lines.
    type Stack<'a> = (&'a [&'a [(&'a str, &'a str)]], i64);

    fn profile(stacks: &[Stack<'_>]) -> Vec<u8> {
        let mut strings = vec![String::new(), "samples".into(), "count".into()];
        strings.extend(["cpu".to_string(), "nanoseconds".to_string()]);
        let intern = |s: &str, strings: &mut Vec<String>| -> i64 {
            match strings.iter().position(|x| x == s) {
                Some(i) => i as i64,
                None => {
                    strings.push(s.to_string());
                    (strings.len() - 1) as i64
                }
            }
        };
        let mut p = Profile {
            sample_type: vec![
                ValueType { r#type: 1, unit: 2 },
                ValueType { r#type: 3, unit: 4 },
            ],
            ..Profile::default()
        };
        let mut fn_ids: HashMap<(String, String), u64> = HashMap::new();
        for (stack, value) in stacks {
            let mut ids = Vec::new();
            for frame in *stack {
                let mut lines = Vec::new();
                for (name, file) in *frame {
                    let key = (name.to_string(), file.to_string());
                    let next = fn_ids.len() as u64 + 1;
                    let id = *fn_ids.entry(key).or_insert_with(|| {
                        p.function.push(Function {
                            id: next,
                            name: 0,
                            system_name: 0,
                            filename: 0,
                            start_line: 1,
                        });
                        next
                    });
                    let f = &mut p.function[(id - 1) as usize];
                    f.name = intern(name, &mut strings);
                    f.filename = intern(file, &mut strings);
                    lines.push(Line {
                        function_id: id,
                        line: 3,
                    });
                }
                let loc = p.location.len() as u64 + 1;
                p.location.push(Location {
                    id: loc,
                    line: lines,
                });
                ids.push(loc);
            }
            p.sample.push(Sample {
                location_id: ids,
                value: vec![1, *value],
            });
        }
        p.string_table = strings;
        let mut raw = Vec::new();
        p.encode(&mut raw).expect("encode");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &raw).expect("gzip");
        gz.finish().expect("gzip")
    }

    fn source(bytes: Vec<u8>) -> Source {
        Source {
            name: "cpu.pprof".into(),
            bytes,
            main_package: None,
        }
    }

    #[test]
    fn cum_and_flat_with_inlined_frames_and_recursion() {
        let a = "/src/m/a/a.go";
        let bytes = profile(&[
            // Hot inlined into Loop, Loop called by main.
            (
                &[
                    &[("example.com/m/a.Hot", a), ("example.com/m/a.Loop", a)],
                    &[("main.main", "/src/m/main.go")],
                ],
                60,
            ),
            // Loop recursing: counted once.
            (
                &[
                    &[("example.com/m/a.Loop", a)],
                    &[("example.com/m/a.Loop", a)],
                ],
                30,
            ),
            (&[&[("runtime.mallocgc", "/go/malloc.go")]], 10),
        ]);
        let w = Weights::load(&[source(bytes)]).expect("a profile");
        assert_eq!(w.sample_type, "cpu nanoseconds");
        let s = w.share("example.com/m/a", "Loop", false);
        assert_eq!((s.cum_percent, s.flat_percent), (90.0, 30.0));
        let s = w.share("example.com/m/a", "Hot", false);
        assert_eq!((s.cum_percent, s.flat_percent), (60.0, 60.0));
        assert_eq!(w.share("example.com/m/a", "Cold", false), Share::default());
        // The main package's symbols are `main.`.
        assert_eq!(w.share("example.com/m", "main", true).cum_percent, 60.0);
        assert_eq!(w.share("example.com/m", "main", false).cum_percent, 0.0);
    }

    #[test]
    fn closures_of_inlined_functions_go_back_to_their_parent() {
        let lib = "/src/q/lib/lib.go";
        let bytes = profile(&[(
            &[&[
                ("main.main.Outer.func1", lib),
                ("example.com/q/lib.Outer", lib),
                ("main.main", "/src/q/main.go"),
            ]],
            5,
        )]);
        let w = Weights::load(&[source(bytes)]).expect("a profile");
        assert_eq!(
            w.share("example.com/q/lib", "Outer.func1", false)
                .flat_percent,
            100.0
        );
        assert_eq!(
            w.share("example.com/q/lib", "Outer", false).cum_percent,
            100.0
        );
    }

    #[test]
    fn names() {
        for (symbol, package, function) in [
            ("example.com/m/a.(*T).M", "example.com/m/a", "(*T).M"),
            ("main.main.Outer.func1", "main", "main.Outer.func1"),
            (
                "gopkg.in/yaml%2ev3.(*parser).parse",
                "gopkg.in/yaml.v3",
                "(*parser).parse",
            ),
            (
                "example.com/q/lib.(*Box[go.shape.string]).Spin",
                "example.com/q/lib",
                "(*Box[go.shape.string]).Spin",
            ),
            (
                "example.com/m.F[example.com/x.T]",
                "example.com/m",
                "F[example.com/x.T]",
            ),
        ] {
            assert_eq!(
                split_symbol(symbol),
                (package.to_string(), function.to_string()),
                "{symbol}"
            );
        }
        for (name, want) in [
            ("(*Box[go.shape.string]).Spin", "(*Box).Spin"),
            ("(*T[...]).M", "(*T).M"),
            ("Gen[go.shape.int].func1", "Gen.func1"),
            ("init.0", "init"),
            ("init.func1", "init.func1"),
        ] {
            assert_eq!(normalise_function(name), want);
        }
        let declared: HashSet<&str> = ["Outer", "(*T).M", "main"].into_iter().collect();
        assert_eq!(
            closure_parent("main.Outer.func1", &declared).as_deref(),
            Some("Outer.func1")
        );
        assert_eq!(
            closure_parent("Caller.(*T).M.func2.1", &declared).as_deref(),
            Some("(*T).M.func2.1")
        );
        assert_eq!(closure_parent("Other.func1", &declared), None);
    }

    #[test]
    fn what_is_not_a_profile() {
        for (bytes, why) in [
            (b"hello, world\n".to_vec(), "not a pprof profile"),
            (vec![0x1f, 0x8b, 0, 1, 2], "gzip stream is damaged"),
            (Vec::new(), "no string table"),
        ] {
            let err = Weights::load(&[source(bytes)]).expect_err("not a profile");
            assert!(format!("{err:#}").contains(why), "{err:#}");
            assert!(format!("{err:#}").contains("cpu.pprof"), "{err:#}");
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"package main\n").expect("gzip");
        let err = Weights::load(&[source(gz.finish().expect("gzip"))]).expect_err("text");
        assert!(
            format!("{err:#}").contains("not a pprof profile"),
            "{err:#}"
        );
    }

    #[test]
    fn merged_profiles_add_up() {
        let a = "/src/m/a/a.go";
        let one = profile(&[(&[&[("example.com/m/a.F", a)]], 10)]);
        let two = profile(&[(&[&[("example.com/m/a.G", a)]], 30)]);
        let w = Weights::load(&[source(one), source(two)]).expect("profiles");
        assert_eq!(w.share("example.com/m/a", "F", false).cum_percent, 25.0);
        assert_eq!(w.files.len(), 2);
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(41.23), "41.2%");
        assert_eq!(percent(100.0), "100%");
        assert_eq!(percent(0.05), "0.05%");
        assert_eq!(percent(0.0), "0%");
    }
}
