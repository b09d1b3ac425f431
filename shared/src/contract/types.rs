//! The column types a contract names, each mapping one-to-one onto an Arrow /
//! Parquet type (the curated layer writes exactly the values checked here).
//!
//! | type | Arrow | value held |
//! |---|---|---|
//! | `string` | Utf8 | the text as written |
//! | `int` | Int32 | `i32` |
//! | `bigint` | Int64 | `i64` |
//! | `double` | Float64 | `f64` |
//! | `decimal(P,S)` | Decimal128(P,S) | `i128`, the value × 10^S |
//! | `boolean` | Boolean | `bool` |
//! | `date` | Date32 | days since 1970-01-01 |
//! | `timestamp` | Timestamp(Microsecond, "UTC") | microseconds since the epoch, UTC |

use std::fmt;

/// Most digits a `decimal` may have (Arrow's Decimal128, Parquet's and Athena's limit).
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    String,
    Int,
    BigInt,
    Double,
    /// `decimal(precision, scale)`: `precision` digits in all, `scale` of them
    /// after the point.
    Decimal {
        precision: u8,
        scale: u8,
    },
    Boolean,
    Date,
    Timestamp,
}

impl ColumnType {
    /// Reads a type as the registry writes it (`bigint`, `decimal(12,2)`), or
    /// says what is wrong with it.
    pub fn parse(text: &str) -> Result<ColumnType, String> {
        let simple = match text {
            "string" => Some(ColumnType::String),
            "int" => Some(ColumnType::Int),
            "bigint" => Some(ColumnType::BigInt),
            "double" => Some(ColumnType::Double),
            "boolean" => Some(ColumnType::Boolean),
            "date" => Some(ColumnType::Date),
            "timestamp" => Some(ColumnType::Timestamp),
            _ => None,
        };
        if let Some(simple) = simple {
            return Ok(simple);
        }
        let unknown = || {
            format!(
                "unknown type `{text}` (expected string, int, bigint, double, decimal(P,S), \
                 boolean, date or timestamp)"
            )
        };
        let args = text
            .strip_prefix("decimal(")
            .and_then(|rest| rest.strip_suffix(')'))
            .ok_or_else(unknown)?;
        let (p, s) = args.split_once(',').ok_or_else(unknown)?;
        let number = |part: &str| -> Result<u32, String> {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(unknown());
            }
            part.parse::<u32>().map_err(|_| unknown())
        };
        let (precision, scale) = (number(p)?, number(s)?);
        if precision == 0 || precision > u32::from(MAX_DECIMAL_PRECISION) {
            return Err(format!(
                "`{text}`: the precision must be between 1 and {MAX_DECIMAL_PRECISION}, got {precision}"
            ));
        }
        if scale > precision {
            return Err(format!(
                "`{text}`: the scale ({scale}) must not exceed the precision ({precision})"
            ));
        }
        Ok(ColumnType::Decimal {
            // Both are at most 38 here.
            precision: u8::try_from(precision).unwrap_or(MAX_DECIMAL_PRECISION),
            scale: u8::try_from(scale).unwrap_or(MAX_DECIMAL_PRECISION),
        })
    }

    /// Whether values are ordered, so `min` and `max` apply.
    pub fn is_ordered(self) -> bool {
        !matches!(self, ColumnType::String | ColumnType::Boolean)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::String => f.write_str("string"),
            ColumnType::Int => f.write_str("int"),
            ColumnType::BigInt => f.write_str("bigint"),
            ColumnType::Double => f.write_str("double"),
            ColumnType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ColumnType::Boolean => f.write_str("boolean"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Timestamp => f.write_str("timestamp"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_from_its_name() {
        for ty in [
            ColumnType::String,
            ColumnType::Int,
            ColumnType::BigInt,
            ColumnType::Double,
            ColumnType::Decimal {
                precision: 12,
                scale: 2,
            },
            ColumnType::Decimal {
                precision: 38,
                scale: 38,
            },
            ColumnType::Boolean,
            ColumnType::Date,
            ColumnType::Timestamp,
        ] {
            assert_eq!(ColumnType::parse(&ty.to_string()), Ok(ty));
        }
        assert_eq!(
            ColumnType::parse("decimal( 5 , 0 )"),
            Ok(ColumnType::Decimal {
                precision: 5,
                scale: 0
            })
        );
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        assert!(
            ColumnType::parse("integer")
                .unwrap_err()
                .contains("unknown type `integer`")
        );
        assert!(
            ColumnType::parse("decimal(40,2)")
                .unwrap_err()
                .contains("between 1 and 38")
        );
        assert!(
            ColumnType::parse("decimal(0,0)")
                .unwrap_err()
                .contains("between 1 and 38")
        );
        assert!(
            ColumnType::parse("decimal(4,5)")
                .unwrap_err()
                .contains("must not exceed")
        );
        for bad in [
            "decimal(12)",
            "decimal(a,b)",
            "decimal(-1,0)",
            "DECIMAL(12,2)",
            "decimal(12,2",
        ] {
            assert!(
                ColumnType::parse(bad).unwrap_err().contains("unknown type"),
                "{bad}"
            );
        }
    }
}
