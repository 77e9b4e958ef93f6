//! Human durations on the command line: `24h`, `90m`, `2d`, `1d12h`, `30s`, `0`.
//!
//! The units are `s`, `m`, `h`, `d` (a day is 24 hours, no calendar); several number-unit pairs
//! may follow each other and add up. A bare `0` means no time at all; any other bare number is
//! refused, because `--min-age 24` could mean hours or seconds.

use std::time::Duration;

/// Parses a duration like `24h`, `90m`, `2d` or `1d12h`. The error is one sentence.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err("an empty duration; write it like 24h, 90m or 2d".into());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "{text:?} is not a duration: unknown unit {c:?} (use s, m, h or d, e.g. 24h)"
                ));
            }
        };
        if digits.is_empty() {
            return Err(format!(
                "{text:?} is not a duration: a unit without a number before it"
            ));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?} is not a duration: the number is too large"))?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("{text:?} is not a duration: it is too large"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!(
            "{text:?} is not a duration: the number {digits} has no unit (write e.g. {digits}h)"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Writes a duration the way [`parse`] reads it, largest units first: `1d2h3m4s`, `0s`.
pub fn format(d: Duration) -> String {
    let mut s = d.as_secs();
    if s == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, name) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if s >= unit {
            out.push_str(&(s / unit).to_string());
            out.push(name);
            s %= unit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse("1d12h").unwrap(), Duration::from_secs(129_600));
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn refuses_bad_input() {
        for bad in [
            "",
            "24",
            "h",
            "24x",
            "-1h",
            "1.5h",
            "99999999999999999999d",
            "1h 2m",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn format_round_trips() {
        for s in [0, 1, 59, 60, 3601, 86_400, 93_784] {
            let d = Duration::from_secs(s);
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
        assert_eq!(format(Duration::from_secs(93_784)), "1d2h3m4s");
    }
}
