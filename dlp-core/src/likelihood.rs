//! Likelihood: how sure the engine is that a finding is what its detector says.
//!
//! The five levels are Google Cloud DLP's. A detector has a base level; a validator pass
//! raises it one level, a hotword nearby raises it one more, and a known test value drops it
//! to [`Likelihood::VeryUnlikely`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Google Cloud DLP's five likelihood levels, ordered from least to most likely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Likelihood {
    /// Almost certainly not the info type (e.g. a known test value).
    VeryUnlikely,
    /// Probably not.
    Unlikely,
    /// Shape matches; nothing confirms it.
    Possible,
    /// Shape and validator (or context) agree.
    Likely,
    /// Shape, validator and context agree.
    VeryLikely,
}

impl Likelihood {
    /// All levels, least likely first.
    pub const ALL: [Likelihood; 5] = [
        Likelihood::VeryUnlikely,
        Likelihood::Unlikely,
        Likelihood::Possible,
        Likelihood::Likely,
        Likelihood::VeryLikely,
    ];

    /// The level `steps` above this one, capped at [`Likelihood::VeryLikely`].
    pub fn raised(self, steps: usize) -> Likelihood {
        let i = (self as usize + steps).min(Self::ALL.len() - 1);
        Self::ALL[i]
    }

    /// The name used in findings and on the command line, e.g. `LIKELY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Likelihood::VeryUnlikely => "VERY_UNLIKELY",
            Likelihood::Unlikely => "UNLIKELY",
            Likelihood::Possible => "POSSIBLE",
            Likelihood::Likely => "LIKELY",
            Likelihood::VeryLikely => "VERY_LIKELY",
        }
    }
}

impl fmt::Display for Likelihood {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Likelihood {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown likelihood {s:?}; expected one of VERY_UNLIKELY, UNLIKELY, POSSIBLE, LIKELY, VERY_LIKELY"
                )
            })
    }
}

/// Combines a detector's evidence into a likelihood.
///
/// `validated` is true when the detector has a validator and it passed (a failed validator
/// drops the candidate before this point). `hotword` is true when a hotword was found in the
/// window. A known test value is always [`Likelihood::VeryUnlikely`].
pub fn assess(base: Likelihood, validated: bool, hotword: bool, test_value: bool) -> Likelihood {
    if test_value {
        return Likelihood::VeryUnlikely;
    }
    base.raised(usize::from(validated) + usize::from(hotword))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_caps_at_very_likely() {
        assert_eq!(Likelihood::Possible.raised(1), Likelihood::Likely);
        assert_eq!(Likelihood::Likely.raised(5), Likelihood::VeryLikely);
    }

    #[test]
    fn assess_combines_evidence() {
        let b = Likelihood::Possible;
        assert_eq!(assess(b, false, false, false), Likelihood::Possible);
        assert_eq!(assess(b, true, false, false), Likelihood::Likely);
        assert_eq!(assess(b, true, true, false), Likelihood::VeryLikely);
        assert_eq!(assess(b, true, true, true), Likelihood::VeryUnlikely);
    }

    #[test]
    fn parses_names_case_insensitively() {
        assert_eq!("likely".parse::<Likelihood>(), Ok(Likelihood::Likely));
        assert_eq!("VERY_UNLIKELY".parse::<Likelihood>(), Ok(Likelihood::VeryUnlikely));
        assert!("maybe".parse::<Likelihood>().is_err());
    }
}
