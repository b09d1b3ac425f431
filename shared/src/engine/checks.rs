//! The rule's bounds, checked once a file was read to the end: sizes, row counts,
//! required header columns, UTF-8. Each broken bound is one reason.

use super::count::Header;
use super::spec::Bounds;

/// What was measured, for the checks.
#[derive(Debug, Clone, Copy)]
pub struct Measured<'a> {
    pub received_bytes: u64,
    pub decoded_bytes: u64,
    pub rows: u64,
    pub header: Option<&'a Header>,
    /// Decoded offset of the first byte that is not UTF-8, if UTF-8 was required.
    pub utf8_error_at: Option<u64>,
}

/// Every bound the file breaks, as reasons a person can act on.
pub fn broken_bounds(bounds: &Bounds, m: &Measured<'_>) -> Vec<String> {
    let mut reasons = Vec::new();
    let mut below = |value: u64, min: Option<u64>, what: &str, name: &str| {
        if let Some(min) = min.filter(|&min| value < min) {
            reasons.push(format!("{value} {what}, fewer than {name} ({min})"));
        }
    };
    below(
        m.received_bytes,
        bounds.min_bytes,
        "bytes received",
        "min_bytes",
    );
    below(
        m.decoded_bytes,
        bounds.min_decoded_bytes,
        "decoded bytes",
        "min_decoded_bytes",
    );
    below(m.rows, bounds.min_rows, "rows", "min_rows");
    if let Some(max) = bounds.max_rows.filter(|&max| m.rows > max) {
        reasons.push(format!("{} rows, more than max_rows ({max})", m.rows));
    }
    if !bounds.required_columns.is_empty() {
        match m.header {
            None => reasons.push(format!(
                "no header row, but the rule requires columns: {}",
                bounds.required_columns.join(", ")
            )),
            Some(header) => {
                let missing: Vec<&str> = bounds
                    .required_columns
                    .iter()
                    .filter(|c| !header.contains(c))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    reasons.push(format!(
                        "header lacks required columns: {}",
                        missing.join(", ")
                    ));
                }
            }
        }
    }
    if let Some(offset) = m.utf8_error_at {
        reasons.push(format!(
            "not valid UTF-8: first invalid byte at decoded offset {offset}"
        ));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(rows: u64, header: Option<&Header>) -> Measured<'_> {
        Measured {
            received_bytes: 100,
            decoded_bytes: 400,
            rows,
            header,
            utf8_error_at: None,
        }
    }

    #[test]
    fn every_broken_bound_is_one_reason() {
        let bounds = Bounds {
            min_bytes: Some(101),
            min_decoded_bytes: Some(401),
            min_rows: Some(10),
            required_columns: vec!["id".into(), "amount".into()],
            ..Bounds::default()
        };
        let header = Header::from(vec!["id", "name"]);
        let reasons = broken_bounds(&bounds, &measured(3, Some(&header)));
        assert_eq!(
            reasons,
            vec![
                "100 bytes received, fewer than min_bytes (101)",
                "400 decoded bytes, fewer than min_decoded_bytes (401)",
                "3 rows, fewer than min_rows (10)",
                "header lacks required columns: amount",
            ]
        );
    }

    #[test]
    fn bounds_met_give_no_reason() {
        let bounds = Bounds {
            min_rows: Some(3),
            max_rows: Some(3),
            min_bytes: Some(100),
            required_columns: vec!["id".into()],
            ..Bounds::default()
        };
        let header = Header::from(vec!["id"]);
        assert!(broken_bounds(&bounds, &measured(3, Some(&header))).is_empty());
    }

    #[test]
    fn max_rows_missing_header_and_utf8_are_reported() {
        let bounds = Bounds {
            max_rows: Some(2),
            required_columns: vec!["id".into()],
            ..Bounds::default()
        };
        let mut m = measured(3, None);
        m.utf8_error_at = Some(17);
        assert_eq!(
            broken_bounds(&bounds, &m),
            vec![
                "3 rows, more than max_rows (2)",
                "no header row, but the rule requires columns: id",
                "not valid UTF-8: first invalid byte at decoded offset 17",
            ]
        );
    }
}
