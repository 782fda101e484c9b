//! The one error this crate returns: a configuration value that cannot work.

use std::fmt;

/// A configuration value that cannot work (a zero rate, a zero timeout…), found when a layer or
/// the [`DeliveryBuilder`](crate::DeliveryBuilder) is built, never while sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    problem: &'static str,
}

impl ConfigError {
    pub(crate) const fn new(field: &'static str, problem: &'static str) -> Self {
        ConfigError { field, problem }
    }

    /// The setting at fault, as a dotted path (`"rate_limit.per_second"`).
    pub fn field(&self) -> &str {
        self.field
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid delivery setting `{}`: {}",
            self.field, self.problem
        )
    }
}

impl std::error::Error for ConfigError {}
