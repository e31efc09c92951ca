//! Classification metrics accumulated batch by batch: loss, top-1, top-5, confusion matrix,
//! and per-class precision / recall / F1 derived from it.
use crate::error::Result;
use serde::Serialize;
use tch::{Kind, Reduction, Tensor};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

/// How often one class was taken for another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confusion {
    pub actual: String,
    pub predicted: String,
    pub count: u64,
}

/// Pairs listed in `Evaluation::most_confused`.
const MOST_CONFUSED: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    pub top5: f64,
    pub count: u64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
    /// The largest off-diagonal cells of the confusion matrix, most frequent first.
    pub most_confused: Vec<Confusion>,
}

/// One evaluated sample: its true and predicted class, its own cross-entropy loss (without
/// label smoothing, as the tallied loss) and the probability given to the predicted class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleOutcome {
    /// Index into the evaluated samples.
    pub index: usize,
    pub label: usize,
    pub predicted: usize,
    pub loss: f64,
    pub probability: f64,
}

impl SampleOutcome {
    /// The outcomes of one batch of logits `[n, classes]`, labels `[n]` and sample indices.
    /// The prediction is the top logit, as in `Tally::add`.
    pub fn of_batch(logits: &Tensor, labels: &Tensor, indices: &[usize]) -> Result<Vec<SampleOutcome>> {
        let logits = logits.f_detach()?.f_to_kind(Kind::Float)?;
        let losses = logits.f_cross_entropy_loss::<Tensor>(labels, None, Reduction::None, -100, 0.0)?;
        let (_, top) = logits.f_topk(1, 1, true, true)?;
        let probabilities = logits.f_softmax(1, Kind::Float)?.f_gather(1, &top, false)?;
        let cpu = |tensor: Tensor| tensor.f_to_device(tch::Device::Cpu)?.f_flatten(0, -1);
        let losses = Vec::<f64>::try_from(cpu(losses)?.f_to_kind(Kind::Double)?)?;
        let probabilities = Vec::<f64>::try_from(cpu(probabilities)?.f_to_kind(Kind::Double)?)?;
        let predicted = Vec::<i64>::try_from(cpu(top)?)?;
        let truth = Vec::<i64>::try_from(cpu(labels.shallow_clone())?)?;
        Ok(indices
            .iter()
            .enumerate()
            .map(|(row, &index)| SampleOutcome {
                index,
                label: truth[row] as usize,
                predicted: predicted[row] as usize,
                loss: losses[row],
                probability: probabilities[row],
            })
            .collect())
    }
}

/// Running sums over the batches of one pass.
#[derive(Debug, Clone)]
pub struct Tally {
    loss_sum: f64,
    count: u64,
    correct: u64,
    top5_correct: u64,
    confusion: Vec<Vec<u64>>,
}

impl Tally {
    pub fn new(classes: usize) -> Self {
        Tally { loss_sum: 0.0, count: 0, correct: 0, top5_correct: 0, confusion: vec![vec![0; classes]; classes] }
    }

    /// Adds one batch of logits `[n, classes]` and labels `[n]`; returns the batch's mean loss.
    pub fn add(&mut self, logits: &Tensor, labels: &Tensor) -> Result<f64> {
        let logits = logits.f_detach()?.f_to_kind(Kind::Float)?;
        let loss_sum = logits
            .f_cross_entropy_loss::<Tensor>(labels, None, Reduction::Sum, -100, 0.0)?
            .f_double_value(&[])?;
        let classes = self.confusion.len() as i64;
        let (_, top) = logits.f_topk(classes.min(5), 1, true, true)?;
        let top: Vec<i64> = Vec::<i64>::try_from(top.f_to_device(tch::Device::Cpu)?.f_flatten(0, -1)?)?;
        let truth: Vec<i64> = Vec::<i64>::try_from(labels.f_to_device(tch::Device::Cpu)?)?;
        let k = (classes.min(5)) as usize;
        for (row, &label) in truth.iter().enumerate() {
            let ranked = &top[row * k..(row + 1) * k];
            let predicted = ranked[0];
            self.confusion[label as usize][predicted as usize] += 1;
            self.correct += u64::from(predicted == label);
            self.top5_correct += u64::from(ranked.contains(&label));
        }
        self.count += truth.len() as u64;
        self.loss_sum += loss_sum;
        Ok(loss_sum / truth.len().max(1) as f64)
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn mean_loss(&self) -> f64 {
        ratio(self.loss_sum, self.count)
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.correct as f64, self.count)
    }

    pub fn summary(&self, class_names: &[String]) -> Evaluation {
        let per_class = class_names
            .iter()
            .enumerate()
            .map(|(class, name)| {
                let true_positive = self.confusion[class][class] as f64;
                let support: u64 = self.confusion[class].iter().sum();
                let predicted: u64 = self.confusion.iter().map(|row| row[class]).sum();
                let precision = ratio(true_positive, predicted);
                let recall = ratio(true_positive, support);
                let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
                ClassMetrics { class: name.clone(), precision, recall, f1, support }
            })
            .collect();
        Evaluation {
            loss: self.mean_loss(),
            accuracy: self.accuracy(),
            top5: ratio(self.top5_correct as f64, self.count),
            count: self.count,
            per_class,
            confusion: self.confusion.clone(),
            most_confused: self.most_confused(class_names),
        }
    }

    fn most_confused(&self, class_names: &[String]) -> Vec<Confusion> {
        let mut pairs: Vec<Confusion> = self
            .confusion
            .iter()
            .enumerate()
            .flat_map(|(actual, row)| {
                row.iter().enumerate().filter(move |&(predicted, &count)| predicted != actual && count > 0).map(
                    move |(predicted, &count)| Confusion {
                        actual: class_names[actual].clone(),
                        predicted: class_names[predicted].clone(),
                        count,
                    },
                )
            })
            .collect();
        pairs.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.actual.cmp(&b.actual)).then_with(|| a.predicted.cmp(&b.predicted)));
        pairs.truncate(MOST_CONFUSED);
        pairs
    }
}

fn ratio(numerator: f64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator / denominator as f64
    }
}
