// The public types of the facade: options, events and results.

export type Arch = 'resnet18' | 'resnet34' | 'resnet50' | 'resnet101' | 'resnet152'
export const ARCHS: readonly Arch[] = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152']
export type OptimizerName = 'adam' | 'adamw' | 'sgd'
export type ResizeMode = 'stretch' | 'crop'
export type Recipe = 'standard' | 'notebook'
export type CacheMode = 'auto' | 'memory' | 'off'

export interface TrainOptions {
  /** A root holding `train/` and `test/` (or `val/`), or the two folders; with
   *  `validationSplit`, one folder of class folders. */
  data: string | { train: string; test: string }
  /** Fraction of each class held out for validation (seeded, stratified) when `data` is one
   *  folder of class folders. */
  validationSplit?: number
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
  /** 'standard': random-resized-crop and flip for training, resize + centre crop for
   *  evaluation, ImageNet mean/std. 'notebook': stretch, no augmentation, mean/std 0.5.
   *  @default 'standard' */
  recipe?: Recipe
  /** Overrides the recipe's evaluation resize. */
  resize?: ResizeMode
  /** Overrides the recipe's per-channel normalisation of [0, 1] RGB. */
  mean?: [number, number, number]
  std?: [number, number, number]
  /** false turns the recipe's training augmentation off. @default true */
  augment?: boolean
  /** Keep decoded images in memory so epochs after the first skip decoding.
   *  'auto' uses up to a quarter of the available memory. @default 'auto' */
  cache?: CacheMode
  /** Bound of the 'memory' cache in bytes. @default half the available memory */
  cacheBytes?: number
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

/** The training augmentation a model was trained with (model.json "train"). */
export interface Augmentation {
  cropScale: [number, number] | null
  cropRatio: [number, number]
  horizontalFlip: boolean
}

export interface LoadOptions {
  /** @default 'auto' */
  device?: string
}
