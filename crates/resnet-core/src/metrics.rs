//! Classification metrics accumulated batch by batch: loss, top-1, top-5, confusion matrix,
//! and per-class precision / recall / F1 derived from it.
use crate::error::Result;
use crate::host_reads::to_host;
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

/// Each sample's outcome over a pass, kept on the device batch by batch and read to the host
/// once, at `finish`.
pub struct OutcomeRows {
    /// Per batch `[n, 3]` float64: loss, predicted class, its probability.
    rows: Vec<Tensor>,
    indices: Vec<usize>,
    labels: Vec<i64>,
}

impl OutcomeRows {
    pub fn new() -> Self {
        OutcomeRows { rows: Vec::new(), indices: Vec::new(), labels: Vec::new() }
    }

    /// Adds one batch: logits `[n, classes]` and labels `[n]` on the device, and the host's
    /// own copy of the labels with the samples' indices. The prediction is the top logit, as
    /// in `RunningTally::add`.
    pub fn add(&mut self, logits: &Tensor, labels: &Tensor, host_labels: &[i64], indices: &[usize]) -> Result<()> {
        let logits = logits.f_detach()?.f_to_kind(Kind::Float)?;
        let losses = logits.f_cross_entropy_loss::<Tensor>(labels, None, Reduction::None, -100, 0.0)?;
        let (_, top) = logits.f_topk(1, 1, true, true)?;
        let probabilities = logits.f_softmax(1, Kind::Float)?.f_gather(1, &top, false)?;
        let columns = [losses.f_unsqueeze(1)?, top, probabilities];
        let columns = columns.iter().map(|column| column.f_to_kind(Kind::Double)).collect::<Result<Vec<_>, _>>()?;
        self.rows.push(Tensor::f_cat(&columns, 1)?);
        self.indices.extend_from_slice(indices);
        self.labels.extend_from_slice(host_labels);
        Ok(())
    }

    /// Every sample's outcome, in the order added.
    pub fn finish(self) -> Result<Vec<SampleOutcome>> {
        if self.rows.is_empty() {
            return Ok(Vec::new());
        }
        let rows = to_host(&Tensor::f_cat(&self.rows, 0)?)?;
        let values = Vec::<f64>::try_from(rows.f_flatten(0, -1)?)?;
        Ok(values
            .chunks_exact(3)
            .zip(self.indices.iter().zip(&self.labels))
            .map(|(row, (&index, &label))| SampleOutcome {
                index,
                label: label as usize,
                predicted: row[1] as usize,
                loss: row[0],
                probability: row[2],
            })
            .collect())
    }
}

impl Default for OutcomeRows {
    fn default() -> Self {
        Self::new()
    }
}

/// Running sums over the batches of one pass, kept on the model's device so that adding a
/// batch never makes the host wait for it; `read` copies them to the host as a `Tally`.
pub struct RunningTally {
    /// float64 `[3 + classes²]`: loss sum, top-1 hits, top-5 hits, then the confusion matrix
    /// row by row (whole numbers stay exact in float64 up to 2⁵³).
    sums: Tensor,
    classes: i64,
    /// Samples added, counted from the labels' shape, which the host knows.
    count: u64,
    last_read: Tally,
}

impl RunningTally {
    pub fn new(classes: usize, device: tch::Device) -> Result<Self> {
        let cells = 3 + (classes * classes) as i64;
        Ok(RunningTally {
            sums: Tensor::f_zeros([cells], (Kind::Double, device))?,
            classes: classes as i64,
            count: 0,
            last_read: Tally::new(classes),
        })
    }

    /// Adds one batch of logits `[n, classes]` and labels `[n]` (both on the device).
    pub fn add(&mut self, logits: &Tensor, labels: &Tensor) -> Result<()> {
        let _guard = tch::no_grad_guard();
        let logits = logits.f_detach()?.f_to_kind(Kind::Float)?;
        let loss_sum = logits.f_cross_entropy_loss::<Tensor>(labels, None, Reduction::Sum, -100, 0.0)?;
        let (_, top) = logits.f_topk(self.classes.min(5), 1, true, true)?;
        // At most one of a row's top-k classes is its label, so the hits add up to top-k.
        let hits = top.f_eq_tensor(&labels.f_unsqueeze(1)?)?;
        let head = Tensor::f_stack(&[loss_sum.f_to_kind(Kind::Double)?, hits.f_select(1, 0)?.f_sum(Kind::Double)?, hits.f_sum(Kind::Double)?], 0)?;
        let _ = self.sums.f_narrow(0, 0, 3)?.f_add_(&head)?;
        let cells = labels.f_mul_scalar(self.classes)?.f_add(&top.f_select(1, 0)?)?;
        let ones = cells.f_ones_like()?.f_to_kind(Kind::Double)?;
        let _ = self.sums.f_narrow(0, 3, self.classes * self.classes)?.f_index_add_(0, &cells, &ones)?;
        self.count += labels.size().first().copied().unwrap_or(0) as u64;
        Ok(())
    }

    /// Samples added so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The sums so far, copied to the host (one read).
    pub fn read(&mut self) -> Result<&Tally> {
        let sums = Vec::<f64>::try_from(to_host(&self.sums)?)?;
        self.set_last_read(&sums, self.count);
        Ok(&self.last_read)
    }

    /// As `read`, after `combine` has summed a copy of the sums (with the sample count
    /// appended) over the ranks of a distributed run, in place.
    pub fn read_combined(&mut self, combine: impl FnOnce(&Tensor) -> Result<()>) -> Result<&Tally> {
        let count = Tensor::f_from_slice(&[self.count as f64])?.f_to_device(self.sums.device())?;
        let packed = Tensor::f_cat(&[&self.sums, &count], 0)?;
        combine(&packed)?;
        let mut sums = Vec::<f64>::try_from(to_host(&packed)?)?;
        let count = sums.pop().unwrap_or(0.0).round() as u64;
        self.set_last_read(&sums, count);
        Ok(&self.last_read)
    }

    fn set_last_read(&mut self, sums: &[f64], count: u64) {
        let classes = self.classes as usize;
        let whole = |value: f64| value.round() as u64;
        self.last_read = Tally {
            loss_sum: sums[0],
            count,
            correct: whole(sums[1]),
            top5_correct: whole(sums[2]),
            confusion: sums[3..].chunks_exact(classes.max(1)).map(|row| row.iter().copied().map(whole).collect()).collect(),
        };
    }

    /// The sums as of the last `read`.
    pub fn last_read(&self) -> &Tally {
        &self.last_read
    }
}

/// Sums over the batches of one pass, on the host (see `RunningTally`).
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
