//! Errors in an allowlist file, shaped to name the file, the line and the column.

/// A configuration problem, located in the file: `FILE:LINE:COL: field: what is wrong`.
#[derive(Debug, thiserror::Error)]
#[error("{origin}{}: {message}", location(*.line, *.column))]
pub struct ConfigError {
    pub origin: String,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub column: Option<usize>,
    /// `field: what is wrong` (the field as a path such as `allow[1].expires`, 0-based
    /// indices), or just what is wrong when it concerns the top level.
    pub message: String,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

impl ConfigError {
    pub(super) fn from_yaml(err: &serde_yaml::Error, origin: &str) -> ConfigError {
        let mut message = err.to_string();
        let (mut line, mut column) = (None, None);
        if let Some(loc) = err.location() {
            line = Some(loc.line());
            column = Some(loc.column());
            // yaml_serde puts the position inside its message (` at line 7 column 14`,
            // or ` at position N` on the very first character); we print it in front.
            let at_line = format!(" at line {} column {}", loc.line(), loc.column());
            let at_pos = format!(" at position {}", loc.index());
            message = message.replacen(&at_line, "", 1).replacen(&at_pos, "", 1);
        }
        if message.starts_with("recursion limit exceeded") {
            message = "nested more than 128 levels deep; an allowlist needs 4".to_string();
        }
        if message == "missing field `version`" {
            message.push_str(" (the file must start with `version: 1`)");
        }
        ConfigError {
            origin: origin.to_string(),
            line,
            column,
            message,
        }
    }
}
