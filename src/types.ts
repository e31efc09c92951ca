// The public types of the facade: options, events and results. Results that the native
// side produces are its own types (native/binding.d.ts, generated from the Rust structs and
// their doc comments), named here; the events keep their documented interfaces, checked
// against the binding's by the compiler (training.ts).
import type { NativeClassMetrics, NativeEpochSummary, NativeEvaluation, NativePrediction, NativeTensor } from '../native/binding'

export type Arch = 'resnet18' | 'resnet34' | 'resnet50' | 'resnet101' | 'resnet152'
export const ARCHS: readonly Arch[] = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152']
export type OptimizerName = 'adam' | 'adamw' | 'sgd'
export type ResizeMode = 'stretch' | 'crop'
export type Recipe = 'standard' | 'notebook'
export type CacheMode = 'auto' | 'memory' | 'off'
export type ScheduleName = 'constant' | 'cosine' | 'onecycle'
export type MonitorName = 'valLoss' | 'valAccuracy'
export type ClassWeightsName = 'equal' | 'balanced'

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
  /** Peak learning rate (of the one-cycle schedule by default).
   *  @default 0.003 (recipe 'notebook': 0.005) */
  learningRate?: number
  /** AdamW (decoupled weight decay), Adam (the notebook's) or SGD with momentum; PyTorch's
   *  update rules. @default 'adamw' (recipe 'notebook': 'adam') */
  optimizer?: OptimizerName
  /** Not applied to batch-norm weights and biases (see decayNormAndBias).
   *  @default 0.05 with the standard recipe's adamw; for another optimizer PyTorch's default
   *  (adam and sgd 0, adamw 0.01) */
  weightDecay?: number
  /** Also decay batch-norm weights and biases. @default false */
  decayNormAndBias?: boolean
  /** SGD momentum. @default 0.9 */
  momentum?: number
  /** SGD Nesterov momentum. @default false */
  nesterov?: boolean
  /** Learning-rate schedule: constant, cosine decay after a linear warm-up, or one-cycle
   *  (PyTorch's OneCycleLR: 30% rising from lr/25, then cosine down).
   *  @default 'onecycle' (recipe 'notebook': 'constant') */
  schedule?: ScheduleName
  /** Epochs of linear warm-up (constant and cosine). @default 0 */
  warmupEpochs?: number
  /** Cross-entropy label smoothing. @default 0.1 (recipe 'notebook': 0) */
  labelSmoothing?: number
  /** 'balanced' weighs each class's loss inversely to its number of training images
   *  (scikit-learn's 'balanced': images / (classes x class images)), for imbalanced folders.
   *  @default 'equal' */
  classWeights?: ClassWeightsName
  /** Clip the global gradient norm to this value. */
  gradientClip?: number
  /** The validation metric that picks the best epoch (saved in `<output>/best`).
   *  @default 'valLoss' */
  monitor?: MonitorName
  /** Stop after this many epochs without improvement of `monitor` (by more than minDelta). */
  patience?: number
  /** @default 0 */
  minDelta?: number
  /** A previous run's output directory: continue from its last completed epoch (its
   *  weights, optimiser state and schedule position) up to `epochs`. */
  resume?: string
  /** Fine-tuning: 'imagenet' (torchvision's ImageNet weights for `arch`, downloaded once into
   *  `$RESNET_NAPI_CACHE/weights/` from the sources in the package's weights-manifest.json or
   *  the manifest RESNET_NAPI_WEIGHTS_MANIFEST names, sha256-checked; 'download' events show
   *  progress), or a torchvision `state_dict` saved as safetensors (or a model directory
   *  saved by this library). Its body starts the network; the classifier is new, sized for
   *  this dataset's classes. Its arch must match `arch`. */
  pretrained?: 'imagenet' | (string & {})
  /** With `pretrained`: the first epochs train only the new head (and batch norm), then the
   *  whole network, each phase with its own run of the schedule (fastai's fine_tune).
   *  Counted within `epochs`. @default 1 with pretrained weights (recipe 'notebook': 0) */
  freezeEpochs?: number
  /** With `pretrained`: the body's learning rate as a fraction of the head's once it
   *  trains. @default 0.1 */
  bodyLrFactor?: number
  /** 'auto': bf16 autocast on CUDA, float32 on the CPU. 'bf16' forces autocast (convolutions
   *  in bfloat16, loss and weights in float32). The returned model's inference computes
   *  alike (see LoadOptions.precision). @default 'auto' */
  precision?: 'auto' | 'fp32' | 'bf16'
  /** Channels-last memory layout for activations and convolution weights (faster with
   *  oneDNN and cuDNN), in training and in the returned model's inference. @default true */
  channelsLast?: boolean
  /** Keep batch norm as it is (running statistics, scale and shift; from `pretrained` or as
   *  initialised) and normalise with it while the other layers train, as torchvision's
   *  FrozenBatchNorm2d. Helps small per-GPU batches. @default false */
  freezeBatchNorm?: boolean
  /** Data-parallel training on PyTorch's c10d engine (Gloo). `nproc`: spawn that many ranks
   *  on this machine (one per GPU when CUDA is used; `batchSize` is per rank). Under torchrun
   *  (or anything that sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) every process is a
   *  rank already and `nproc` must be left out. `timeoutSeconds`: how long a rank waits for
   *  its peers before failing with ERR_DISTRIBUTED. @default { timeoutSeconds: 300 } */
  distributed?: { nproc?: number; timeoutSeconds?: number }
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
  /** 'standard': AdamW 0.003 with weight decay 0.05, one-cycle, label smoothing 0.1;
   *  random-resized-crop and flip for training, resize + centre crop for evaluation, ImageNet
   *  mean/std; with pretrained weights one frozen epoch first. 'notebook': the Kaggle
   *  notebook's exact settings: Adam 0.005 constant, stretch, no augmentation, mean/std 0.5.
   *  Options given beside it override its parts. @default 'standard' */
  recipe?: Recipe
  /** Overrides the recipe's evaluation resize. */
  resize?: ResizeMode
  /** Overrides the recipe's per-channel normalisation of [0, 1] RGB. */
  mean?: [number, number, number]
  std?: [number, number, number]
  /** false turns the recipe's training augmentation off. @default true */
  augment?: boolean
  /** Random-resized-crop area range as fractions of the image (with augmentation on).
   *  @default [0.35, 1] */
  cropScale?: [number, number]
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
  /** Training images per class, in the order of `classes`. */
  classCounts: number[]
  trainImages: number
  validationImages: number
  /** This process's rank in a distributed run (0 otherwise; only rank 0 emits 'start'). */
  rank: number
  /** Processes training together; 1 for a single-process run. */
  worldSize: number
  /** The c10d backend averaging the gradients ('gloo'); null for a single-process run. */
  backend: string | null
}

export interface BatchEvent {
  epoch: number
  batch: number
  batches: number
  /** Mean training loss of the epoch so far. */
  loss: number
  imagesPerSecond: number
  /** The learning rate of this batch's update. */
  learningRate: number
}

/** One epoch's figures: the 'epoch' event, and each entry of `history`. */
export type EpochSummary = NativeEpochSummary

/** Progress of a download of pretrained weights (`pretrained: 'imagenet'`). */
export interface DownloadEvent {
  arch: Arch
  url: string
  receivedBytes: number
  totalBytes: number
  /** Whether this download continues an interrupted one (HTTP Range). */
  resumed: boolean
}

export interface WarningEvent {
  message: string
  path?: string
}

/** An epoch's files are on disk: the model (and its copy in `best/` when it improved), the
 *  history and the checkpoint. Saving runs beside the next epoch, so this follows the epoch's
 *  'epoch' event, at the latest when the run ends; a kill from now on resumes from `epoch`.
 *  An epoch overtaken by the next before its files were written gets none. */
export interface CheckpointEvent {
  epoch: number
  /** The output directory holding the files. */
  output: string
}

/** The listener arguments of each event of a TrainingRun (an EventEmitter). */
export interface TrainingEvents {
  download: [DownloadEvent]
  start: [StartEvent]
  batch: [BatchEvent]
  epoch: [EpochSummary]
  checkpoint: [CheckpointEvent]
  warning: [WarningEvent]
  end: [TrainResultSummary]
  error: [Error]
  /** Every event above, as one TrainingEvent value tagged with its `type`. */
  event: [TrainingEvent]
}

/** One training event as a discriminated union on `type`: what a `run.on('event', ...)`
 *  listener receives. Narrow with `switch (event.type)`. */
export type TrainingEvent =
  | ({ type: 'download' } & DownloadEvent)
  | ({ type: 'start' } & StartEvent)
  | ({ type: 'batch' } & BatchEvent)
  | ({ type: 'epoch' } & EpochSummary)
  | ({ type: 'checkpoint' } & CheckpointEvent)
  | ({ type: 'warning' } & WarningEvent)
  | ({ type: 'end' } & TrainResultSummary)
  | { type: 'error'; error: Error }

/** The `type` of a TrainingEvent: 'download' | 'start' | 'batch' | 'epoch' | 'checkpoint' | 'warning' | 'end' | 'error'. */
export type TrainingEventType = TrainingEvent['type']

export interface TrainResultSummary {
  history: EpochSummary[]
  output: string
  /** The best epoch by `monitor`, whose model is in `<output>/best`; null without validation. */
  bestEpoch: number | null
  stoppedEarly: boolean
  /** Files skipped because they were not images or failed to decode (each also a warning). */
  skipped: number
  /** The path of `<output>/report.html` (curves, confusion matrix, per-class metrics and the
   *  highest-loss validation images); null when it could not be written (a 'warning' says why). */
  report: string | null
  /** Where the run's wall-clock time went. */
  timings: RunTimings
}

/** Where a training run's wall-clock time went, in seconds. What the phases leave out of
 *  `total` is bookkeeping between them (events, the history, trimming memory). */
export interface RunTimings {
  /** From the call to the first epoch: options, a weights download, the folders, the network
   *  on its device (a GPU's initialisation included), a resumed run's checkpoint. */
  startup: number
  /** The epochs' training passes, waiting for decoded batches included. */
  training: number
  /** The validation passes. */
  validation: number
  /** The training thread's share of saving each epoch: copying the weights and the
   *  optimiser's state to host memory. The files are written beside the next epoch. */
  saving: number
  /** After the last epoch: waiting for its files to be written, the validation review. */
  finishing: number
  /** Writing report.html. */
  report: number
  /** From the call to the trained model. */
  total: number
}

export type Prediction = NativePrediction

export type ImageInput = string | Buffer

/** A float32 tensor in row-major order, e.g. the NCHW input `model.inputTensor` returns. */
export type Tensor = NativeTensor

export interface PredictOptions {
  /** @default 5 (at most the number of classes) */
  topK?: number
  /** Test-time augmentation: average the probabilities of the image and its mirror image
   *  (fastai's `tta`, without its crops). Two forward passes. @default false */
  tta?: boolean
}

export interface EvaluateOptions {
  /** @default 64 */
  batchSize?: number
  /** Test-time augmentation, as for predict. @default false */
  tta?: boolean
}

export type ClassMetrics = NativeClassMetrics

/** What `evaluate` measures; `confusion[true][predicted]`. */
export type Evaluation = NativeEvaluation

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
  /** Lay the weights out channels_last for inference: faster convolutions on CPU (oneDNN)
   *  and GPU; the logits equal torchvision's in that layout. Files are written in the
   *  standard order either way. @default true */
  channelsLast?: boolean
  /** How predict, evaluate, embed and logits compute: 'auto' runs bf16 autocast on CUDA
   *  (convolutions in bfloat16, softmax and outputs in float32) and float32 on the CPU;
   *  'fp32' keeps float32 everywhere. @default 'auto' */
  precision?: 'auto' | 'fp32' | 'bf16'
  /** Concurrent predict / embed / logits calls on the model are gathered into one forward
   *  pass of up to this many images (a call of more images runs alone); 1 turns batching off.
   *  Each caller gets exactly its own results. @default 32 */
  maxBatch?: number
  /** How long the oldest waiting call may be held back for a fuller batch, in milliseconds.
   *  At 0 a lone call runs at once and the calls arriving during a pass form the next batch.
   *  The wait holds no other model's calls and no training. @default 0 */
  maxDelayMs?: number
}

export interface Batching {
  maxBatch: number
  maxDelayMs: number
  /** Calls answered through the batcher (a call of more than maxBatch images runs alone). */
  calls: number
  /** Forward passes run for them: fewer than calls when batching gathered some. */
  passes: number
  images: number
  largestBatch: number
}

export interface ServeOptions {
  /** The address to bind; anything but loopback exposes the model to the network (set a
   *  `token`). @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port (see Server.url). @default 8080 */
  port?: number
  /** When set, every request but GET /health needs `Authorization: Bearer <token>`. */
  token?: string
  /** The largest request body accepted, in bytes; a larger one gets 413. @default 20 MiB */
  bodyLimit?: number
  /** Classes per prediction unless the request's `?topK=` says otherwise. @default 5 */
  topK?: number
  /** One JSON line per request on stdout (fastify's logger). @default true */
  log?: boolean
  /** How to load the model when a directory is given (batching, device, precision). */
  load?: LoadOptions
}
