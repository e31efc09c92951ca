//! Building the optimiser a run asked for.
use crate::config::OptimizerKind;
use crate::error::Result;
use tch::nn::{self, OptimizerConfig, VarStore};

/// SGD's momentum when SGD is chosen.
const SGD_MOMENTUM: f64 = 0.9;

pub fn build(kind: OptimizerKind, vs: &VarStore, learning_rate: f64) -> Result<nn::Optimizer> {
    let optimizer = match kind {
        OptimizerKind::Adam => nn::Adam::default().build(vs, learning_rate)?,
        OptimizerKind::AdamW => nn::AdamW::default().build(vs, learning_rate)?,
        OptimizerKind::Sgd => nn::Sgd { momentum: SGD_MOMENTUM, ..Default::default() }.build(vs, learning_rate)?,
    };
    Ok(optimizer)
}
