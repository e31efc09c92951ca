//! Learning-rate schedules, as a function of the update number.
use crate::choice::choice;
use std::f64::consts::PI;

choice! {
    /// How the learning rate moves over the run.
    pub enum ScheduleKind for "schedule" {
        /// The base rate throughout (after any warm-up).
        Constant = "constant",
        /// Linear warm-up, then cosine decay to 0.
        Cosine = "cosine",
        /// PyTorch's OneCycleLR (cosine, 30% rising).
        OneCycle = "onecycle",
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// The base rate throughout (after the warm-up, if any).
    Constant { warmup_steps: usize },
    /// Linear warm-up from 0, then cosine decay to 0.
    Cosine { warmup_steps: usize },
    /// PyTorch's OneCycleLR with cosine annealing: from base/25 up to base over the first
    /// `pct_start` of the run, then down to base/25/1e4. (Momentum is not cycled.)
    OneCycle { pct_start: f64 },
}

const ONE_CYCLE_DIV: f64 = 25.0;
const ONE_CYCLE_FINAL_DIV: f64 = 1e4;

impl Schedule {
    /// The schedule of `kind` for a run of `steps_per_epoch` updates an epoch.
    pub fn new(kind: ScheduleKind, warmup_epochs: f64, steps_per_epoch: usize) -> Self {
        let warmup_steps = (warmup_epochs * steps_per_epoch as f64).round() as usize;
        match kind {
            ScheduleKind::Constant => Schedule::Constant { warmup_steps },
            ScheduleKind::Cosine => Schedule::Cosine { warmup_steps },
            ScheduleKind::OneCycle => Schedule::OneCycle { pct_start: 0.3 },
        }
    }

    /// The learning rate of update `step` (0-based) out of `total`.
    pub fn rate(&self, base: f64, step: usize, total: usize) -> f64 {
        let total = total.max(1);
        match *self {
            Schedule::Constant { warmup_steps } if step < warmup_steps => base * (step + 1) as f64 / warmup_steps as f64,
            Schedule::Constant { .. } => base,
            Schedule::Cosine { warmup_steps } if step < warmup_steps => base * (step + 1) as f64 / warmup_steps as f64,
            Schedule::Cosine { warmup_steps } => {
                let span = total.saturating_sub(warmup_steps).max(1) as f64;
                let progress = ((step - warmup_steps) as f64 / span).min(1.0);
                base * 0.5 * (1.0 + (PI * progress).cos())
            }
            Schedule::OneCycle { pct_start } => {
                let initial = base / ONE_CYCLE_DIV;
                let minimum = initial / ONE_CYCLE_FINAL_DIV;
                let peak_step = (pct_start * total as f64 - 1.0).max(1.0);
                let last_step = (total - 1).max(1) as f64;
                let step = step as f64;
                let anneal = |from: f64, to: f64, fraction: f64| to + (from - to) / 2.0 * (1.0 + (PI * fraction.clamp(0.0, 1.0)).cos());
                if step <= peak_step {
                    anneal(initial, base, step / peak_step)
                } else {
                    anneal(base, minimum, (step - peak_step) / (last_step - peak_step).max(1.0))
                }
            }
        }
    }
}
