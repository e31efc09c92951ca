//! Where a training run's wall-clock time goes, for the caller and the benchmarks: a fast
//! step is worth little if the time goes elsewhere (start-up, saving, the end).
use std::time::Instant;

/// Seconds per phase of one run, measured on the training thread. `total` is the call's
/// whole time; what the phases do not cover (events, history, trimming memory) is the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunTimings {
    /// From the call to the first epoch: options, folders, the network on its device (a
    /// GPU's initialisation included), the checkpoint of a resumed run.
    pub startup: f64,
    /// The epochs' training passes, waiting for decoded batches included.
    pub training: f64,
    /// The validation passes.
    pub validation: f64,
    /// The training thread's share of saving the epochs: copying the weights and the
    /// optimiser's state to host memory. The writing itself runs beside the next epoch.
    pub saving: f64,
    /// After the last epoch: waiting for its files, the layout back to the standard, the
    /// validation review.
    pub finishing: f64,
    pub total: f64,
}

/// The run's clock: each phase's time is added to its field of `RunTimings`.
pub struct PhaseClock {
    started: Instant,
    pub timings: RunTimings,
}

impl PhaseClock {
    pub fn start() -> Self {
        PhaseClock { started: Instant::now(), timings: RunTimings::default() }
    }

    /// Adds the seconds since `since` to the field `field` picks.
    pub fn add(&mut self, field: fn(&mut RunTimings) -> &mut f64, since: Instant) {
        *field(&mut self.timings) += since.elapsed().as_secs_f64();
    }

    /// Seconds since `start`.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
