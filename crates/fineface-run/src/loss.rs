//! The names of the losses a training iteration reports.

use serde::{Deserialize, Serialize};

/// One loss of a training iteration, as logs, checkpoints and `metrics.csv` name it
/// (`loss_<name>`). FineFACE's five optimiser steps each have one (FINEFACE.md, the
/// iteration); the baseline has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// FineFACE step 1: `CE(expert 3)` on the batch.
    Expert3,
    /// FineFACE step 3: `CE(expert 2)` on its chosen source.
    Expert2,
    /// FineFACE step 4: `CE(expert 1)` on its chosen source.
    Expert1,
    /// FineFACE step 5: `CE(e1) + CE(e2) + CE(e3) + 2 CE(concat)` on the combined crop.
    CropAll,
    /// FineFACE step 6: `2 CE(concat)` on the batch.
    Concat,
    /// The baseline's cross-entropy (written `loss` by versions before it was named).
    #[serde(alias = "loss")]
    CrossEntropy,
}

impl Loss {
    /// Every loss, FineFACE's in iteration order, then the baseline's.
    pub const ALL: [Self; 6] = [
        Self::Expert3,
        Self::Expert2,
        Self::Expert1,
        Self::CropAll,
        Self::Concat,
        Self::CrossEntropy,
    ];

    /// FineFACE's losses, one per optimiser step, in iteration order.
    pub const FINEFACE: [Self; 5] = [
        Self::Expert3,
        Self::Expert2,
        Self::Expert1,
        Self::CropAll,
        Self::Concat,
    ];

    /// The baseline's one loss.
    pub const BASELINE: [Self; 1] = [Self::CrossEntropy];

    /// Its name in logs and files: `expert3`, `crop_all`, `cross_entropy`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::Expert3 => "expert3",
            Self::Expert2 => "expert2",
            Self::Expert1 => "expert1",
            Self::CropAll => "crop_all",
            Self::Concat => "concat",
            Self::CrossEntropy => "cross_entropy",
        }
    }

    /// The loss named `name` (also the old `loss` for [`Loss::CrossEntropy`]).
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "loss" {
            return Some(Self::CrossEntropy);
        }
        Self::ALL.into_iter().find(|l| l.name() == name)
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_serde_writes_them() {
        for loss in Loss::ALL {
            let json = serde_json::to_string(&loss).unwrap();
            assert_eq!(json, format!("\"{}\"", loss.name()));
            assert_eq!(serde_json::from_str::<Loss>(&json).unwrap(), loss);
            assert_eq!(Loss::from_name(loss.name()), Some(loss));
        }
        assert_eq!(
            serde_json::from_str::<Loss>("\"loss\"").unwrap(),
            Loss::CrossEntropy
        );
        assert_eq!(Loss::from_name("loss"), Some(Loss::CrossEntropy));
        assert_eq!(Loss::from_name("expert_3"), None);
        assert!(serde_json::from_str::<Loss>("\"expert4\"").is_err());
    }
}
