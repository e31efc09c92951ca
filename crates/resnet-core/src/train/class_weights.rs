//! How much each class's images weigh in the training loss.
use crate::choice::choice;

choice! {
    /// How much each class's images weigh in the training loss.
    pub enum ClassWeights for "classWeights" {
        /// Every image alike (plain cross-entropy).
        Equal = "equal",
        /// Inversely proportional to the class's training images (scikit-learn's "balanced"),
        /// for imbalanced folders.
        Balanced = "balanced",
    }
}

impl ClassWeights {
    /// The loss weight of each class given its training images (`None`: all alike). Balanced:
    /// images / (classes x class images); a class without images gets 0 (it has no term).
    pub fn weights(self, counts: &[usize]) -> Option<Vec<f32>> {
        let total: usize = counts.iter().sum();
        match self {
            ClassWeights::Equal => None,
            ClassWeights::Balanced => Some(
                counts.iter().map(|&count| if count == 0 { 0.0 } else { total as f32 / (counts.len() * count) as f32 }).collect(),
            ),
        }
    }
}
