// The public types of the facade: options, events and results.

export type Arch = 'resnet18' | 'resnet34' | 'resnet50' | 'resnet101' | 'resnet152'
export const ARCHS: readonly Arch[] = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152']
export type OptimizerName = 'adam' | 'adamw' | 'sgd'
export type ResizeMode = 'stretch' | 'crop'

export interface TrainOptions {
  /** A root holding `train/` and `test/` (or `val/`), or the two folders. */
  data: string | { train: string; test: string }
  /** @default 'resnet34' */
  arch?: Arch
  /** @default 10 */
  epochs?: number
  /** @default 64 */
  batchSize?: number
  /** @default 0.005 */
  learningRate?: number
  /** @default 'adam' */
  optimizer?: OptimizerName
  /** Side of the square input in pixels. @default 256 */
  imageSize?: number
  /** 'auto' picks CUDA when available. @default 'auto' */
  device?: 'auto' | 'cpu' | 'cuda' | `cuda:${number}`
  /** Directory for the model, history and checkpoints. @default `runs/<arch>-<time>` */
  output?: string
  /** @default 42 */
  seed?: number
  /** Stops training within one batch; the last completed epoch stays saved. */
  signal?: AbortSignal
  /** How images become imageSize x imageSize. @default 'stretch' (the notebook's) */
  resize?: ResizeMode
  /** Per-channel normalisation of [0, 1] RGB. @default [0.5, 0.5, 0.5] */
  mean?: [number, number, number]
  /** @default [0.5, 0.5, 0.5] */
  std?: [number, number, number]
  /** Image decoding threads; 0 means one per core. @default 0 */
  workers?: number
}

export interface StartEvent {
  device: string
  classes: string[]
  trainImages: number
  validationImages: number
}

export interface BatchEvent {
  epoch: number
  batch: number
  batches: number
  /** Mean training loss of the epoch so far. */
  loss: number
  imagesPerSecond: number
}

export interface EpochSummary {
  epoch: number
  epochs: number
  loss: number
  accuracy: number
  /** null when there are no validation images. */
  valLoss: number | null
  valAccuracy: number | null
  seconds: number
  learningRate: number
}

export interface WarningEvent {
  message: string
  path?: string
}

export interface TrainingEvents {
  start: [StartEvent]
  batch: [BatchEvent]
  epoch: [EpochSummary]
  warning: [WarningEvent]
  end: [TrainResultSummary]
  error: [Error]
}

export interface TrainResultSummary {
  history: EpochSummary[]
  output: string
  /** Files skipped because they were not images or failed to decode (each also a warning). */
  skipped: number
}

export interface Prediction {
  label: string
  index: number
  probability: number
}

export type ImageInput = string | Buffer

export interface PredictOptions {
  /** @default 5 (at most the number of classes) */
  topK?: number
}

export interface EvaluateOptions {
  /** @default 64 */
  batchSize?: number
}

export interface ClassMetrics {
  class: string
  precision: number
  recall: number
  f1: number
  support: number
}

export interface Evaluation {
  loss: number
  accuracy: number
  top5: number
  count: number
  perClass: ClassMetrics[]
  /** confusion[true][predicted] */
  confusion: number[][]
  skipped: { path: string; reason: string }[]
}

export interface Preprocess {
  resize: ResizeMode
  mean: [number, number, number]
  std: [number, number, number]
}

export interface LoadOptions {
  /** @default 'auto' */
  device?: string
}
