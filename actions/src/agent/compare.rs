//! The agent's number comparisons (`command_exit_code: '!= 0'`): an optional
//! operator (`=`, `!=`, `<`, `<=`, `>`, `>=`) and an integer; a bare integer
//! means `=`.

use crate::filters::ExitCode;

/// Parses `text` into the condition it states.
pub fn parse(text: &str) -> Result<ExitCode, String> {
    let t = text.trim();
    let (op, num) = match t.find(|c: char| c.is_ascii_digit() || c == '-') {
        Some(i) => (t[..i].trim(), t[i..].trim()),
        None => (t, ""),
    };
    let n: i64 = num.parse().map_err(|_| {
        format!("expected an exit code, optionally after =, !=, <, <=, > or >= (e.g. `!= 0`), found `{text}`")
    })?;
    let mut c = ExitCode::default();
    match op {
        "" | "=" | "==" => c.eq = Some(n),
        "!=" => c.ne = Some(n),
        ">" => c.min = Some(n + 1),
        ">=" => c.min = Some(n),
        "<" => c.max = Some(n - 1),
        "<=" => c.max = Some(n),
        other => {
            return Err(format!(
                "unknown comparison `{other}` (valid: =, !=, <, <=, >, >=)"
            ))
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_comparisons() {
        assert_eq!(parse("= 0").unwrap().eq, Some(0));
        assert_eq!(parse("0").unwrap().eq, Some(0));
        assert_eq!(parse("!= 0").unwrap().ne, Some(0));
        assert_eq!(parse("> 1").unwrap().min, Some(2));
        assert_eq!(parse(">=1").unwrap().min, Some(1));
        assert_eq!(parse("< 3").unwrap().max, Some(2));
        assert_eq!(parse("<= -1").unwrap().max, Some(-1));
        assert!(parse("~ 1").unwrap_err().contains("unknown comparison `~`"));
        assert!(parse("> x").unwrap_err().contains("expected an exit code"));
        assert!(parse("").is_err());
    }
}
