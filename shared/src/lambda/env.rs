//! Reading a function's configuration from its environment: every variable is
//! named in its error, numbers are range-checked, and defaults live in one
//! place per function. The lookup is injectable so tests need no process
//! environment.

use std::collections::HashMap;
use std::str::FromStr;

use crate::failure::FailureKind;

/// A variable that is missing or does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("environment variable {name} is required: {what}")]
    Missing { name: String, what: String },
    #[error("environment variable {name}={value:?}: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
}

impl EnvError {
    /// A bad environment is a deployment problem.
    pub fn kind(&self) -> FailureKind {
        FailureKind::Misconfigured
    }
}

/// Looks a variable up.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where variables come from.
pub struct Env {
    lookup: Lookup,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Env {
            lookup: Box::new(|name| std::env::var(name).ok()),
        }
    }

    /// A fixed map (tests, the demo).
    pub fn from_map(map: HashMap<String, String>) -> Self {
        Env {
            lookup: Box::new(move |name| map.get(name).cloned()),
        }
    }

    /// The value of `name`, empty counting as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// A required variable; `what` says what it is for, in the error.
    pub fn required(&self, name: &str, what: &str) -> Result<String, EnvError> {
        self.get(name).ok_or_else(|| EnvError::Missing {
            name: name.to_owned(),
            what: what.to_owned(),
        })
    }

    /// A number within `range`, or `default` when unset.
    pub fn number<T>(
        &self,
        name: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, EnvError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(value) = self.get(name) else {
            return Ok(default);
        };
        let invalid = |reason: String| EnvError::Invalid {
            name: name.to_owned(),
            value: value.clone(),
            reason,
        };
        let parsed: T = value
            .trim()
            .parse()
            .map_err(|_| invalid("not a whole number".to_owned()))?;
        if !range.contains(&parsed) {
            return Err(invalid(format!(
                "must be between {} and {}",
                range.start(),
                range.end()
            )));
        }
        Ok(parsed)
    }

    /// A boolean (`true`/`false`/`1`/`0`), or `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, EnvError> {
        match self.get(name).as_deref().map(str::trim) {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(EnvError::Invalid {
                name: name.to_owned(),
                value: other.to_owned(),
                reason: "must be true or false".to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn errors_name_the_variable_and_the_rule() {
        let e = env(&[("N", "12x"), ("M", "0"), ("B", "maybe"), ("E", " ")]);
        assert_eq!(
            e.required("T", "the ledger table").unwrap_err().to_string(),
            "environment variable T is required: the ledger table"
        );
        assert!(e.required("E", "x").is_err(), "blank counts as unset");
        assert!(
            e.number("N", 5u32, 1..=10)
                .unwrap_err()
                .to_string()
                .contains("N=\"12x\"")
        );
        assert!(
            e.number("M", 5u32, 1..=10)
                .unwrap_err()
                .to_string()
                .contains("between 1 and 10")
        );
        assert_eq!(e.number("UNSET", 5u32, 1..=10).unwrap(), 5);
        assert!(e.flag("B", false).is_err());
        assert!(!e.flag("UNSET", false).unwrap());
    }
}
