//! What the nodes of a run over several machines agree on before each exchange, as the
//! words a node sends the others (`link.rs`'s MPI link checks them point to point).

/// What the nodes agree on before a sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// When the nodes connect: every node's devices and the digest of its training
    /// settings, and the device-side collective it can sum through.
    Hello {
        /// Workers (devices) on the node.
        workers: u64,
        /// Digest of the training settings, devices aside.
        fingerprint: u64,
        /// The device-side collective the node offers ([`Check::NO_COLLECTIVE`] for none):
        /// not a disagreement, every node sums through host memory unless all offer it.
        collective: u64,
    },
    /// Before each sum: the batch (`[epoch, batch, images]`, or all `u64::MAX` for the
    /// start-up weights) and the bucket's length.
    Sum {
        /// `[epoch, batch, images]` of the batch summed.
        tag: [u64; 3],
        /// Values in the bucket.
        len: u64,
    },
}

impl Check {
    /// `Check::Hello::collective` of a node that offers none.
    pub(crate) const NO_COLLECTIVE: u64 = 0;

    /// The check as the words sent: `[kind, a, b, c, d]`.
    pub(crate) fn words(self) -> [u64; 5] {
        match self {
            Self::Hello {
                workers,
                fingerprint,
                collective,
            } => [0, workers, fingerprint, collective, 0],
            Self::Sum { tag, len } => [1, tag[0], tag[1], tag[2], len],
        }
    }

    pub(crate) fn from_words(w: [u64; 5]) -> Self {
        match w[0] {
            0 => Self::Hello {
                workers: w[1],
                fingerprint: w[2],
                collective: w[3],
            },
            _ => Self::Sum {
                tag: [w[1], w[2], w[3]],
                len: w[4],
            },
        }
    }

    /// The check with what the nodes need not agree on left out.
    fn without_collective(self) -> Self {
        match self {
            Self::Hello {
                workers,
                fingerprint,
                ..
            } => Self::Hello {
                workers,
                fingerprint,
                collective: Self::NO_COLLECTIVE,
            },
            sum => sum,
        }
    }

    /// What is exchanged, for messages: `epoch 3 batch 10 (32 images)`.
    pub(crate) fn name(self) -> String {
        match self {
            Self::Hello { .. } => "the start of the run".to_owned(),
            Self::Sum { tag, .. } => exchange_name(tag),
        }
    }

    /// Why node `their_rank`'s check differs from this node's, or `None` when they agree.
    pub(crate) fn disagreement(
        self,
        rank: usize,
        theirs: Self,
        their_rank: usize,
    ) -> Option<String> {
        if self.without_collective() == theirs.without_collective() {
            return None;
        }
        Some(match (self, theirs) {
            (
                Self::Hello {
                    workers: mine,
                    fingerprint: a,
                    ..
                },
                Self::Hello {
                    workers: other,
                    fingerprint: b,
                    ..
                },
            ) => {
                if mine != other {
                    format!(
                        "node {their_rank} runs {other} workers, node {rank} {mine} (every node \
                         runs as many devices)"
                    )
                } else {
                    debug_assert_ne!(a, b);
                    format!(
                        "node {their_rank} trains other settings than node {rank} (batch size, \
                         seed, epochs, rates...: the nodes must run the same experiment)"
                    )
                }
            }
            (Self::Sum { tag: a, len: m }, Self::Sum { tag: b, len: n }) if a == b => format!(
                "node {their_rank} sums {n} values at {}, node {rank} {m} (another model?)",
                exchange_name(a)
            ),
            (Self::Sum { tag: a, .. }, Self::Sum { tag: b, .. }) => format!(
                "node {their_rank} is at {}, node {rank} at {} (resumed from another \
                 checkpoint, or other images skipped?)",
                exchange_name(b),
                exchange_name(a)
            ),
            _ => format!(
                "node {their_rank} is at {}, node {rank} at {}",
                theirs.name(),
                self.name()
            ),
        })
    }
}

/// What an exchange's tag stands for: `epoch 3 batch 10 (32 images)`.
fn exchange_name(tag: [u64; 3]) -> String {
    if tag == [u64::MAX; 3] {
        "the start-up weights".to_owned()
    } else {
        format!("epoch {} batch {} ({} images)", tag[0] + 1, tag[1], tag[2])
    }
}

#[cfg(test)]
mod tests {
    use super::Check;

    fn hello(workers: u64, fingerprint: u64, collective: u64) -> Check {
        Check::Hello {
            workers,
            fingerprint,
            collective,
        }
    }

    #[test]
    fn checks_travel_as_words_and_come_back_the_same() {
        for check in [
            hello(2, 0xfeed, 1),
            hello(1, 7, Check::NO_COLLECTIVE),
            Check::Sum {
                tag: [3, 10, 32],
                len: 25_557_033,
            },
            Check::Sum {
                tag: [u64::MAX; 3],
                len: 1,
            },
        ] {
            assert_eq!(Check::from_words(check.words()), check);
        }
    }

    #[test]
    fn nodes_that_offer_other_collectives_agree_but_other_workers_or_settings_do_not() {
        // One node without NCCL is no disagreement: every node then sums through host memory.
        assert_eq!(hello(2, 5, 1).disagreement(0, hello(2, 5, 0), 1), None);
        let workers = hello(2, 5, 1).disagreement(0, hello(3, 5, 1), 1).unwrap();
        assert!(
            workers.contains("node 1 runs 3 workers, node 0 2"),
            "{workers}"
        );
        let settings = hello(2, 5, 0).disagreement(1, hello(2, 6, 1), 2).unwrap();
        assert!(
            settings.contains("node 2 trains other settings than node 1"),
            "{settings}"
        );
        let sum = Check::Sum {
            tag: [0, 1, 8],
            len: 10,
        };
        let at = hello(2, 5, 1).disagreement(0, sum, 1).unwrap();
        assert!(
            at.contains("node 1 is at epoch 1 batch 1 (8 images)"),
            "{at}"
        );
    }
}
