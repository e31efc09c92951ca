// A trained model: predict, evaluate, save. Preprocessing always comes from the model's
// model.json, never from the caller.
import type { NativeModel } from '../native/binding'
import { native } from './errors'
import { loadBinding } from './native'
import type { Arch, Augmentation, Batching, Evaluation, EvaluateOptions, ImageInput, LoadOptions, Prediction, PredictOptions, Preprocess, ResizeMode, Tensor } from './types'
import { optionSpec } from './options'
import { boolean, integer, invalid, nonEmptyString, knownKeys } from './validate'

export class Model {
  readonly arch: Arch
  readonly classes: string[]
  readonly imageSize: number
  /** The evaluation transform predict and evaluate use. */
  readonly preprocess: Preprocess
  /** How training images were augmented, when recorded. */
  readonly augmentation: Augmentation | undefined
  readonly #native: NativeModel

  /** @internal Use loadModel() or a training result. */
  constructor(nativeModel: NativeModel) {
    this.#native = nativeModel
    const meta = nativeModel.meta
    // The core writes only its own names and three (or two) numbers per list.
    this.arch = meta.arch as Arch
    this.classes = meta.classes
    this.imageSize = meta.imageSize
    const { resize, mean, std } = meta.preprocess
    this.preprocess = { resize: resize as ResizeMode, mean: mean as Preprocess['mean'], std: std as Preprocess['std'] }
    this.augmentation = meta.train
      ? { ...meta.train, cropScale: meta.train.cropScale as Augmentation['cropScale'], cropRatio: meta.train.cropRatio as Augmentation['cropRatio'] }
      : undefined
  }

  /** 'cpu' or 'cuda:N'. */
  get device(): string {
    return this.#native.device
  }

  /** What inference computes in, LoadOptions.precision resolved for this device and
   *  processor ('auto' becomes one of the two). */
  get precision(): 'fp32' | 'bf16' {
    return this.#native.precision as 'fp32' | 'bf16'
  }

  /** Top-k classes for one image (a list) or for each of several (a list per image). */
  predict(input: ImageInput, options?: PredictOptions): Promise<Prediction[]>
  predict(input: ImageInput[], options?: PredictOptions): Promise<Prediction[][]>
  async predict(input: ImageInput | ImageInput[], options: PredictOptions = {}): Promise<Prediction[] | Prediction[][]> {
    knownKeys('predict options', options, ['topK', 'tta'])
    const topK = integer('topK', options.topK, 1, 1_000_000) ?? 5
    const tta = boolean('tta', options.tta) ?? false
    const inputs = checkInputs(input)
    const ranked = await native(this.#native.predict(inputs, topK, tta))
    return Array.isArray(input) ? ranked : ranked[0]
  }

  /** The pooled features before the classifier (512 numbers for resnet18/34, 2048 for the
   *  deeper ones) for one image, or for each of several: for similarity search. */
  embed(input: ImageInput): Promise<Float32Array>
  embed(input: ImageInput[]): Promise<Float32Array[]>
  async embed(input: ImageInput | ImageInput[]): Promise<Float32Array | Float32Array[]> {
    const inputs = checkInputs(input)
    const embeddings = await native(this.#native.embed(inputs))
    return Array.isArray(input) ? embeddings : embeddings[0]
  }

  /** The raw classifier outputs (one number per class, before softmax) for one image, or
   *  for each of several: what an exported ONNX graph returns for the same input. */
  logits(input: ImageInput): Promise<Float32Array>
  logits(input: ImageInput[]): Promise<Float32Array[]>
  async logits(input: ImageInput | ImageInput[]): Promise<Float32Array | Float32Array[]> {
    const inputs = checkInputs(input)
    const rows = await native(this.#native.logits(inputs))
    return Array.isArray(input) ? rows : rows[0]
  }

  /** The exact input the network sees: decoded, resized and normalised as the model's
   *  `preprocess` says, as one NCHW float32 tensor `[images, 3, imageSize, imageSize]`.
   *  Feed it to an exported ONNX graph to get the same logits. (Named so beside the
   *  `preprocess` property, which describes the transform.) */
  async inputTensor(input: ImageInput | ImageInput[]): Promise<Tensor> {
    const inputs = checkInputs(input)
    return native(this.#native.preprocess(inputs))
  }

  /** Writes the network as a standard ONNX graph (opset 17): input `input` float32
   *  `[batch, 3, imageSize, imageSize]` prepared as `inputTensor` does, output `logits`
   *  `[batch, classes]`. The file's metadata holds model.json. Written atomically. */
  async exportOnnx(path: string): Promise<void> {
    nonEmptyString('path', path)
    await native(this.#native.exportOnnx(path))
  }

  /** How concurrent predict / embed / logits calls are gathered into forward passes
   *  (LoadOptions.maxBatch, maxDelayMs), and what that has done so far: calls answered, passes
   *  run, images in them, the largest pass. */
  get batching(): Batching {
    return this.#native.batching
  }

  /** Frees the model's native memory now; later calls fail with ERR_INVALID_OPTION. */
  dispose(): void {
    this.#native.dispose()
  }

  /** Loss, accuracy, top-5, per-class metrics and the confusion matrix on a folder of class
   *  folders (or a root holding test/ or val/). */
  async evaluate(data: string, options: EvaluateOptions = {}): Promise<Evaluation> {
    nonEmptyString('data', data)
    knownKeys('evaluate options', options, ['batchSize', 'tta'])
    const batchSize = integer('batchSize', options.batchSize, 1, 65_536) ?? 64
    const tta = boolean('tta', options.tta) ?? false
    return native(this.#native.evaluate(data, batchSize, tta))
  }

  /** Writes model.safetensors and model.json into `dir`. */
  async save(dir: string): Promise<void> {
    nonEmptyString('dir', dir)
    await native(this.#native.save(dir))
  }
}

/** The inputs as a list, each a non-empty path or a Buffer. */
function checkInputs(input: ImageInput | ImageInput[]): ImageInput[] {
  const inputs = Array.isArray(input) ? input : [input]
  inputs.forEach((item, index) => {
    if (typeof item === 'string' ? item.length === 0 : !Buffer.isBuffer(item)) {
      invalid('a file path or a Buffer', Array.isArray(input) ? `input[${index}]` : 'input', item)
    }
  })
  return inputs
}

export async function loadModel(dir: string, options: LoadOptions = {}): Promise<Model> {
  nonEmptyString('dir', dir)
  knownKeys('loadModel options', options, ['device', 'channelsLast', 'precision', 'maxBatch', 'maxDelayMs'])
  // JavaScript types only; the core checks the values, with the words of training's options.
  for (const name of ['device', 'precision'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'string') invalid(optionSpec(name).expected, name, options[name])
  }
  const channelsLast = boolean('channelsLast', options.channelsLast) ?? true
  const maxBatch = integer('maxBatch', options.maxBatch, 1, 4096)
  const maxDelayMs = integer('maxDelayMs', options.maxDelayMs, 0, 10_000)
  const addon = await loadBinding()
  return new Model(await native(addon.loadModel(dir, options.device ?? 'auto', channelsLast, options.precision ?? 'auto', maxBatch, maxDelayMs)))
}

/** A Model, or the directory of a saved one. */
export async function resolveModel(modelOrDir: Model | string): Promise<Model> {
  if (modelOrDir instanceof Model) return modelOrDir
  if (typeof modelOrDir === 'string') return loadModel(modelOrDir)
  return invalid('a Model or a model directory', 'model', modelOrDir)
}
