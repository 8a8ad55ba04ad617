//! `SOURCE_DATE_EPOCH`, the reproducible-builds convention for time stamps.

use anyhow::{anyhow, Result};

/// The variable's seconds; `None` when it is unset or empty, an error when it
/// is not a number.
pub fn from_env() -> Result<Option<u64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| anyhow!("SOURCE_DATE_EPOCH='{v}' is not a number of seconds")),
        _ => Ok(None),
    }
}
