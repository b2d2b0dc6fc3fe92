//! Which network and iteration a run trains.

use serde::{Deserialize, Serialize};

/// Which network and iteration to train (`method` in `config.toml` and `run.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Three experts, attention crops, the five-step iteration (FINEFACE.md).
    FineFace,
    /// The plain classifier on the deepest layer.
    Baseline,
}

impl Method {
    /// The name in config files and `run.json`: `fineface` or `baseline`.
    pub fn name(self) -> &'static str {
        match self {
            Self::FineFace => "fineface",
            Self::Baseline => "baseline",
        }
    }

    /// Whether the run has FineFACE's head readings (the concat head and the 4 heads on the
    /// image) beside its prediction; the baseline's would repeat its one prediction.
    pub fn has_heads(self) -> bool {
        self == Self::FineFace
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
