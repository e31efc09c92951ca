//! The validation figure that picks the best epoch and drives early stopping.
use crate::choice::choice;

choice! {
    /// The validation figure that picks the best epoch and drives early stopping.
    pub enum Monitor for "monitor" {
        ValLoss = "valLoss",
        ValAccuracy = "valAccuracy",
    }
}

impl Monitor {
    /// Whether `candidate` beats `best` by more than `min_delta`.
    pub fn improves(self, candidate: f64, best: f64, min_delta: f64) -> bool {
        match self {
            Monitor::ValLoss => candidate < best - min_delta,
            Monitor::ValAccuracy => candidate > best + min_delta,
        }
    }
}
