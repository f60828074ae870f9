//! Line maps: how the lines of a base file carry over to its head counterpart
//! ([`LineMap`]), which head lines a change touched ([`ChangedLines`]), both made from
//! one [`Alignment`] of the two texts per file. A leaf: matching, the checks, explain and
//! the reports read them; they know nothing of findings.

use std::collections::HashMap;

mod align;

pub use align::Alignment;

/// How the lines of each base file map to lines of its head counterpart (the same
/// path, or the file it was renamed to).
#[derive(Debug, Default, Clone)]
pub struct LineMap {
    files: HashMap<String, FileMap>,
}

#[derive(Debug, Clone)]
struct FileMap {
    head_path: String,
    /// `lines[base_line - 1]` is the head line, or 0 when the base line was changed.
    lines: Vec<u32>,
}

impl LineMap {
    pub fn new() -> LineMap {
        LineMap::default()
    }

    /// Records that `base_path` became `head_path`, with their contents.
    #[cfg(test)]
    pub fn add_file(&mut self, base_path: &str, head_path: &str, base_text: &str, head_text: &str) {
        self.add_alignment(base_path, head_path, &Alignment::new(base_text, head_text));
    }

    /// Records that `base_path` became `head_path`, whose lines `alignment` pairs.
    pub fn add_alignment(&mut self, base_path: &str, head_path: &str, alignment: &Alignment) {
        let mut lines = vec![0u32; alignment.base_lines];
        for &(old_index, new_index, len) in &alignment.runs {
            for i in 0..len {
                if let Some(slot) = lines.get_mut(old_index + i) {
                    *slot = (new_index + i + 1) as u32;
                }
            }
        }
        self.files.insert(
            base_path.to_string(),
            FileMap {
                head_path: head_path.to_string(),
                lines,
            },
        );
    }

    /// Where an unchanged base line is in the head, if it is unchanged.
    pub fn map(&self, base_file: &str, base_line: u32) -> Option<(&str, u32)> {
        let file = self.files.get(base_file)?;
        let line = *file.lines.get(base_line.checked_sub(1)? as usize)?;
        (line != 0).then_some((file.head_path.as_str(), line))
    }
}

/// The head lines a change touched, per head file: lines that are not the image of any
/// base line. Reporters put escapes on these lines first, because GitHub shows only the
/// first few annotations of a step and the lines a pull request changed are where a
/// reviewer looks. A file without a base counterpart (a new file) is touched throughout.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChangedLines {
    files: HashMap<String, Touched>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Touched {
    /// The file did not exist in the base.
    All,
    /// 1-based head lines that are not carried over from the base.
    Lines(std::collections::BTreeSet<u32>),
}

impl ChangedLines {
    pub fn new() -> ChangedLines {
        ChangedLines::default()
    }

    /// Records the changed lines of `head_path`; `base_text` is its base counterpart
    /// (same path or the file it was renamed from), `None` when there is none.
    #[cfg(test)]
    pub fn add_file(&mut self, head_path: &str, base_text: Option<&str>, head_text: &str) {
        let alignment = base_text.map(|base| Alignment::new(base, head_text));
        self.add_alignment(head_path, alignment.as_ref());
    }

    /// Records the changed lines of `head_path` from its alignment with its base
    /// counterpart, `None` when there is none.
    pub fn add_alignment(&mut self, head_path: &str, alignment: Option<&Alignment>) {
        let touched = match alignment {
            None => Touched::All,
            Some(alignment) => {
                let mut carried = vec![false; alignment.head_lines];
                for &(_, new_index, len) in &alignment.runs {
                    for slot in carried.iter_mut().skip(new_index).take(len) {
                        *slot = true;
                    }
                }
                Touched::Lines(
                    (1..=alignment.head_lines as u32)
                        .filter(|&line| !carried[line as usize - 1])
                        .collect(),
                )
            }
        };
        self.files.insert(head_path.to_string(), touched);
    }

    /// Whether the change touched `line` of `file`. Files never added are unknown and
    /// count as untouched.
    pub fn contains(&self, file: &str, line: u32) -> bool {
        match self.files.get(file) {
            None => false,
            Some(Touched::All) => true,
            Some(Touched::Lines(lines)) => lines.contains(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_are_the_head_lines_not_carried_from_the_base() {
        let mut changed = ChangedLines::new();
        changed.add_file("a.go", Some("a\nb\nc\n"), "a\nnew\nb\nc2\n");
        changed.add_file("new.go", None, "x\ny\n");
        changed.add_file("same.go", Some("p\nq\n"), "p\nq\n");
        let table = [
            ("a.go", 1, false),
            ("a.go", 2, true),
            ("a.go", 3, false),
            ("a.go", 4, true),
            ("new.go", 1, true),
            ("new.go", 7, true),
            ("same.go", 1, false),
            ("same.go", 2, false),
            ("unknown.go", 1, false),
        ];
        for (file, line, want) in table {
            assert_eq!(changed.contains(file, line), want, "{file}:{line}");
        }
    }

    #[test]
    fn a_line_map_carries_unchanged_lines_and_drops_changed_ones() {
        let mut lines = LineMap::new();
        lines.add_file("a.go", "b.go", "a\nb\nc\n", "a\nnew\nb\nc2\n");
        assert_eq!(lines.map("a.go", 1), Some(("b.go", 1)));
        assert_eq!(lines.map("a.go", 2), Some(("b.go", 3)));
        assert_eq!(lines.map("a.go", 3), None);
        assert_eq!(lines.map("a.go", 0), None);
        assert_eq!(lines.map("other.go", 1), None);
    }
}
