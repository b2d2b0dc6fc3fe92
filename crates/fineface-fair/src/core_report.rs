//! The part of a report computed from one set of groups' confusion matrices: shared by the
//! report and the bootstrap, which recomputes it for every replicate.

use crate::aggregate::Aggregates;
use crate::confusion::Confusion;
use crate::group::GroupMetrics;

/// Overall, per-group and aggregate metrics of one set of groups; the part of a report that
/// the bootstrap recomputes for every replicate.
pub(crate) struct CoreReport {
    pub(crate) pooled: Confusion,
    pub(crate) overall: GroupMetrics,
    pub(crate) groups: Vec<(String, GroupMetrics)>,
    pub(crate) aggregates: Aggregates,
}

impl CoreReport {
    /// `confusions` are the groups' matrices (all non-empty), `names` their names.
    pub(crate) fn compute(confusions: &[Confusion], names: &[String], pos: usize) -> Self {
        let mut pooled = Confusion::zeros(confusions[0].k());
        for c in confusions {
            pooled.add(c);
        }
        let overall = GroupMetrics::from_confusion(&pooled, pos);
        let groups: Vec<(String, GroupMetrics)> = names
            .iter()
            .cloned()
            .zip(
                confusions
                    .iter()
                    .map(|c| GroupMetrics::from_confusion(c, pos)),
            )
            .collect();
        let refs: Vec<(String, &GroupMetrics)> =
            groups.iter().map(|(n, m)| (n.clone(), m)).collect();
        let aggregates = Aggregates::compute(&refs, &overall);
        Self {
            pooled,
            overall,
            groups,
            aggregates,
        }
    }
}
