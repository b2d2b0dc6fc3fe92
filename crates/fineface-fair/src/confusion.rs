//! Confusion matrices: every number of a report is a function of these counts.

use crate::table::PredictionTable;

/// A `k x k` confusion matrix, rows = true class, columns = predicted class (sorted classes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Confusion {
    k: usize,
    counts: Vec<u64>,
}

impl Confusion {
    pub(crate) fn zeros(k: usize) -> Self {
        Self {
            k,
            counts: vec![0; k * k],
        }
    }

    pub(crate) fn k(&self) -> usize {
        self.k
    }

    pub(crate) fn cells(&self) -> &[u64] {
        &self.counts
    }

    pub(crate) fn cells_mut(&mut self) -> &mut [u64] {
        &mut self.counts
    }

    pub(crate) fn get(&self, truth: usize, pred: usize) -> u64 {
        self.counts[truth * self.k + pred]
    }

    pub(crate) fn n(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub(crate) fn n_correct(&self) -> u64 {
        (0..self.k).map(|c| self.get(c, c)).sum()
    }

    /// Rows whose true class is `class`.
    pub(crate) fn n_true(&self, class: usize) -> u64 {
        (0..self.k).map(|p| self.get(class, p)).sum()
    }

    /// Rows predicted as `class`.
    pub(crate) fn n_pred(&self, class: usize) -> u64 {
        (0..self.k).map(|t| self.get(t, class)).sum()
    }

    pub(crate) fn add(&mut self, other: &Confusion) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }
}

/// One confusion matrix per intersectional cell of the table, over the sorted classes.
#[derive(Debug, Clone)]
pub(crate) struct CellConfusions {
    pub(crate) classes: Vec<String>,
    pub(crate) cells: Vec<Confusion>,
}

impl CellConfusions {
    /// Counts the table in one pass.
    pub(crate) fn count(table: &PredictionTable) -> Self {
        let classes = table.classes();
        let k = classes.len();
        if k == 0 {
            return Self {
                classes,
                cells: Vec::new(),
            };
        }
        // Interned codes are in order of first sight; reports use sorted order.
        let mut sorted_index = vec![0usize; table.labels().len()];
        for (code, slot) in sorted_index.iter_mut().enumerate() {
            let name = table.labels().name(code as u32);
            *slot = classes
                .binary_search_by(|c| c.as_str().cmp(name))
                .unwrap_or_default();
        }
        let mut flat = vec![0u64; table.n_cells() * k * k];
        for ((&t, &p), &cell) in table
            .y_true()
            .iter()
            .zip(table.y_pred())
            .zip(table.cell_of_row())
        {
            let (t, p) = (sorted_index[t as usize], sorted_index[p as usize]);
            flat[cell as usize * k * k + t * k + p] += 1;
        }
        let cells = flat
            .chunks_exact(k * k)
            .map(|c| Confusion {
                k,
                counts: c.to_vec(),
            })
            .collect();
        Self { classes, cells }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_sorted_classes() {
        let mut table = PredictionTable::new(["g"]).unwrap();
        table.push("b", "a", &["x"]).unwrap();
        table.push("a", "a", &["x"]).unwrap();
        table.push("b", "b", &["y"]).unwrap();
        let counts = CellConfusions::count(&table);
        assert_eq!(counts.classes, vec!["a", "b"]);
        // cell x: (a,a) = 1, (b,a) = 1
        assert_eq!(counts.cells[0].cells(), &[1, 0, 1, 0]);
        assert_eq!(counts.cells[1].cells(), &[0, 0, 0, 1]);
        assert_eq!(counts.cells[0].n_true(1), 1);
        assert_eq!(counts.cells[0].n_pred(0), 2);
        assert_eq!(counts.cells[0].n_correct(), 1);
    }
}
