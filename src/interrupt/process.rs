//! Child processes: each command runs in a process group of its own, registered while
//! it runs, so that an interruption or a time limit stops the whole group (the compilers
//! `go build` starts, too). Its output is captured whole, or its stderr streamed line by
//! line with a bound on what one line costs.

use std::process::{Child, Command, ExitStatus, Output, Stdio};

use super::registry;

/// Runs `cmd` to completion in its own process group, registered for interruption,
/// capturing stdout and stderr.
pub fn run_captured(cmd: &mut Command) -> std::io::Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd.spawn()?;
    let group = Group::register(&child);
    let output = child.wait_with_output();
    drop(group);
    output
}

/// One line of a streamed command's stderr, without its line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line, or its first `max_line` bytes when it was longer (decoded lossily, so
    /// a cut inside a character shows as U+FFFD).
    pub text: &'a str,
    /// The whole line's length in bytes when it was longer than `max_line` and `text`
    /// is only its start; the rest was read and thrown away.
    pub cut_from: Option<u64>,
}

/// Runs `cmd` in its own process group, registered for interruption, handing each line
/// of its stderr to `on_line` as it arrives (stdout is discarded). At most `max_line`
/// bytes of a line are kept, so neither a command that prints a lot nor one that prints
/// one gigantic line costs more than that here; a longer line is handed on cut, and
/// says so ([`Line::cut_from`]).
pub fn run_streaming(
    cmd: &mut Command,
    max_line: usize,
    on_line: &mut dyn FnMut(Line<'_>),
) -> std::io::Result<ExitStatus> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn()?;
    let group = Group::register(&child);
    let mut reader = std::io::BufReader::new(child.stderr.take().expect("stderr is piped"));
    let read = read_lines(&mut reader, max_line, on_line);
    let status = child.wait();
    drop(group);
    read?;
    status
}

/// Splits `reader` into lines of at most `max_line` kept bytes (see [`run_streaming`]).
fn read_lines(
    reader: &mut dyn std::io::BufRead,
    max_line: usize,
    on_line: &mut dyn FnMut(Line<'_>),
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    // Bytes of the current line read so far, kept or not.
    let mut len: u64 = 0;
    let mut emit = |buf: &mut Vec<u8>, len: &mut u64| {
        let text = String::from_utf8_lossy(buf);
        let cut_from = (*len > buf.len() as u64).then_some(*len);
        on_line(Line {
            text: &text,
            cut_from,
        });
        buf.clear();
        *len = 0;
    };
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            if len > 0 {
                emit(&mut buf, &mut len);
            }
            return Ok(());
        }
        let (chunk, ends_line) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], true),
            None => (available, false),
        };
        let room = max_line.saturating_sub(buf.len()).min(chunk.len());
        buf.extend_from_slice(&chunk[..room]);
        len += chunk.len() as u64;
        let used = chunk.len() + usize::from(ends_line);
        reader.consume(used);
        if ends_line {
            emit(&mut buf, &mut len);
        }
    }
}

/// Runs `cmd` with inherited stdio in its own process group, registered.
pub fn run_status(cmd: &mut Command) -> std::io::Result<ExitStatus> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn()?;
    let group = Group::register(&child);
    let status = child.wait();
    drop(group);
    status
}

struct Group(u32);

impl Group {
    fn register(child: &Child) -> Group {
        let id = child.id();
        registry().groups.push(id);
        Group(id)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        registry().groups.retain(|&g| g != self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize, capacity: usize) -> Vec<(String, Option<u64>)> {
        let mut reader = std::io::BufReader::with_capacity(capacity, input);
        let mut out = Vec::new();
        read_lines(&mut reader, max, &mut |line| {
            out.push((line.text.to_string(), line.cut_from))
        })
        .expect("read");
        out
    }

    #[test]
    fn lines_are_split_and_long_ones_cut_and_marked() {
        for capacity in [1, 3, 8, 1024] {
            assert_eq!(
                lines(b"a\nbcdefgh\n\nxyz", 4, capacity),
                vec![
                    ("a".to_string(), None),
                    ("bcde".to_string(), Some(7)),
                    (String::new(), None),
                    ("xyz".to_string(), None),
                ],
                "buffer of {capacity}"
            );
            // Exactly the limit is whole; a line end is not part of the line.
            assert_eq!(
                lines(b"abcd\r\nabcd", 4, capacity),
                vec![("abcd".to_string(), Some(5)), ("abcd".to_string(), None)]
            );
        }
        assert!(lines(b"", 4, 8).is_empty());
    }

    #[test]
    fn a_gigantic_line_costs_only_the_limit() {
        // 64 MiB without a line end, read through a small buffer: only 16 bytes are kept.
        let big = vec![b'x'; 64 << 20];
        let got = lines(&big, 16, 8192);
        assert_eq!(got, vec![("x".repeat(16), Some(64 << 20))]);
    }
}
