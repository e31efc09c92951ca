// train(): validates the options, starts the native training thread, and exposes it as an
// EventEmitter (progress) that is also a promise of the result.
import { EventEmitter } from 'node:events'
import { availableParallelism } from 'node:os'
import { resolve as resolvePath, join } from 'node:path'
import type { NativeTrainOptions, NativeTrainResult, NativeTraining } from '../native/binding'
import { runRanks } from './distributed'
import { fromNative, resnetError } from './errors'
import { Model, loadModel } from './model'
import { binding } from './native'
import { ReportRecorder } from './report'
import { imagenetWeights } from './weights'
import { ARCHS, type Arch, type EpochSummary, type TrainingEvent, type TrainingEvents, type TrainOptions, type TrainResultSummary } from './types'
import * as check from './validate'

export interface TrainResult extends TrainResultSummary {
  model: Model
}

const KNOWN_OPTIONS = [
  'data', 'validationSplit', 'arch', 'epochs', 'batchSize', 'learningRate', 'optimizer', 'imageSize',
  'device', 'output', 'seed', 'signal', 'recipe', 'resize', 'mean', 'std', 'augment', 'cache',
  'cacheBytes', 'workers', 'cropScale', 'weightDecay', 'decayNormAndBias', 'momentum', 'nesterov', 'schedule',
  'warmupEpochs', 'labelSmoothing', 'gradientClip', 'monitor', 'patience', 'minDelta', 'resume',
  'pretrained', 'freezeEpochs', 'bodyLrFactor', 'precision', 'channelsLast', 'classWeights',
  'freezeBatchNorm', 'distributed',
] as const

/** `pretrained` naming torchvision's ImageNet weights for the arch, fetched by weights.ts. */
const IMAGENET = 'imagenet'

function defaultOutput(arch: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
  return join('runs', `${arch}-${stamp}`)
}

/** Checks every option and maps it to the binding's shape; throws ERR_INVALID_OPTION. */
export function toNativeOptions(options: TrainOptions): NativeTrainOptions {
  if (options === null || typeof options !== 'object') check.invalid('an options object', 'options', options)
  check.knownKeys('train options', options, KNOWN_OPTIONS)
  const data = options.data
  let dataFields: Pick<NativeTrainOptions, 'data' | 'trainDir' | 'testDir' | 'validationSplit'>
  const validationSplit = check.number('validationSplit', options.validationSplit, 0, 1)
  if (validationSplit !== undefined && typeof data !== 'string') {
    check.invalid('a folder of class folders for data when validationSplit is given', 'data', data)
  }
  if (typeof data === 'string' && data.length > 0) {
    dataFields = { data: resolvePath(data), validationSplit }
  } else if (data && typeof data === 'object' && typeof data.train === 'string' && typeof data.test === 'string') {
    dataFields = { trainDir: resolvePath(data.train), testDir: resolvePath(data.test) }
  } else {
    return check.invalid('a dataset folder or { train, test } folders', 'data', data)
  }
  if (options.cacheBytes !== undefined && options.cache !== undefined && options.cache !== 'memory') {
    check.invalid('cache "memory" (or no cache option) with cacheBytes', 'cache', options.cache)
  }
  const arch = check.oneOf('arch', options.arch, ARCHS) ?? 'resnet34'
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    check.invalid('an AbortSignal', 'signal', options.signal)
  }
  if (options.output !== undefined) check.nonEmptyString('output', options.output)
  // Checked before the output directory is derived from it.
  if (options.resume !== undefined) check.nonEmptyString('resume', options.resume)
  if (options.freezeEpochs !== undefined && options.freezeEpochs !== 0 && options.pretrained === undefined) {
    check.invalid('pretrained weights to freeze (set pretrained)', 'freezeEpochs', options.freezeEpochs)
  }
  const distributed = options.distributed
  if (distributed !== undefined) {
    if (distributed === null || typeof distributed !== 'object') check.invalid('an object like { nproc: 2 }', 'distributed', distributed)
    check.knownKeys('distributed', distributed, ['nproc', 'timeoutSeconds'] as const)
    check.integer('distributed.nproc', distributed.nproc, 1, 4096)
  }
  return {
    ...dataFields,
    arch,
    // Resuming writes into the run it continues unless told otherwise.
    output: resolvePath(options.output ?? options.resume ?? defaultOutput(arch)),
    epochs: check.integer('epochs', options.epochs, 1, 100_000),
    batchSize: check.integer('batchSize', options.batchSize, 1, 65_536),
    learningRate: check.number('learningRate', options.learningRate, 0, 10),
    optimizer: check.oneOf('optimizer', options.optimizer, ['adam', 'adamw', 'sgd'] as const),
    imageSize: check.integer('imageSize', options.imageSize, 32, 2048),
    device: check.device(options.device),
    seed: check.integer('seed', options.seed, 0, Number.MAX_SAFE_INTEGER),
    recipe: check.oneOf('recipe', options.recipe, ['standard', 'notebook'] as const),
    resize: check.oneOf('resize', options.resize, ['stretch', 'crop'] as const),
    mean: check.triple('mean', options.mean),
    std: check.triple('std', options.std),
    augment: check.boolean('augment', options.augment),
    cropScale: check.fractionRange('cropScale', options.cropScale),
    cache: check.oneOf('cache', options.cache, ['auto', 'memory', 'off'] as const),
    cacheBytes: check.integer('cacheBytes', options.cacheBytes, 0, Number.MAX_SAFE_INTEGER),
    workers: check.integer('workers', options.workers, 0, 1024),
    weightDecay: check.numberFrom('weightDecay', options.weightDecay, 0, 1),
    decayNormAndBias: check.boolean('decayNormAndBias', options.decayNormAndBias),
    momentum: check.numberFrom('momentum', options.momentum, 0, 1),
    nesterov: check.boolean('nesterov', options.nesterov),
    schedule: check.oneOf('schedule', options.schedule, ['constant', 'cosine', 'onecycle'] as const),
    warmupEpochs: check.numberFrom('warmupEpochs', options.warmupEpochs, 0, 100_000),
    labelSmoothing: check.numberFrom('labelSmoothing', options.labelSmoothing, 0, 1),
    classWeights: check.oneOf('classWeights', options.classWeights, ['equal', 'balanced'] as const),
    gradientClip: check.number('gradientClip', options.gradientClip, 0, Number.MAX_VALUE),
    monitor: check.oneOf('monitor', options.monitor, ['valLoss', 'valAccuracy'] as const),
    patience: check.integer('patience', options.patience, 1, 100_000),
    minDelta: check.numberFrom('minDelta', options.minDelta, 0, Number.MAX_VALUE),
    resume: options.resume === undefined ? undefined : resolvePath(check.nonEmptyString('resume', options.resume)),
    // 'imagenet' is resolved to the downloaded file when the run starts (TrainingRun).
    pretrained: options.pretrained === undefined || options.pretrained === IMAGENET ? options.pretrained : resolvePath(check.nonEmptyString('pretrained', options.pretrained)),
    freezeEpochs: check.integer('freezeEpochs', options.freezeEpochs, 0, 100_000),
    bodyLrFactor: check.positiveFraction('bodyLrFactor', options.bodyLrFactor),
    precision: check.oneOf('precision', options.precision, ['auto', 'fp32', 'bf16'] as const),
    channelsLast: check.boolean('channelsLast', options.channelsLast),
    freezeBatchNorm: check.boolean('freezeBatchNorm', options.freezeBatchNorm),
    distributedTimeoutSeconds: check.number('distributed.timeoutSeconds', distributed?.timeoutSeconds, 0, Number.MAX_VALUE),
  }
}

/** A running training: listen to 'start', 'batch', 'epoch', 'warning', 'end' and 'error'
 *  (or to 'event' for all of them as one TrainingEvent union); await it for the result. */
export class TrainingRun extends EventEmitter<TrainingEvents> implements PromiseLike<TrainResult> {
  readonly #result: Promise<TrainResult>
  #native: NativeTraining | undefined
  #report: ReportRecorder
  /** Stops a download of pretrained weights that runs before training starts. */
  readonly #beforeStart = new AbortController()

  /** @internal Use train(). */
  constructor(options: TrainOptions) {
    super()
    const nativeOptions = toNativeOptions(options)
    this.#report = new ReportRecorder(nativeOptions.arch ?? 'resnet34', nativeOptions.output)
    const signal = options.signal
    const nproc = options.distributed?.nproc
    if (nproc !== undefined && process.env.WORLD_SIZE !== undefined) {
      check.invalid('no distributed.nproc in a process that is already a rank (WORLD_SIZE is set, as torchrun does)', 'distributed.nproc', nproc)
    }
    if (signal?.aborted) {
      this.#result = Promise.reject(resnetError('ERR_ABORTED', 'training was aborted before it started'))
    } else if (nproc !== undefined) {
      signal?.addEventListener('abort', () => this.abort(), { once: true })
      this.#result = this.#launch(nproc, options, nativeOptions)
    } else {
      this.#result = new Promise<TrainResult>((resolve, reject) => {
        const onAbort = () => this.abort()
        signal?.addEventListener('abort', onAbort, { once: true })
        const done = async (error: Error | null, result: NativeTrainResult) => {
          signal?.removeEventListener('abort', onAbort)
          if (error) {
            const failure = fromNative(error)
            if (failure.code === 'ERR_ABORTED') await this.#writeReport(() => this.#report.writeAborted())
            return reject(failure)
          }
          try {
            const nativeModel = result.takeModel()
            if (!nativeModel) throw resnetError('ERR_LIBTORCH', 'the native training finished without a model')
            const history = JSON.parse(result.historyJson) as EpochSummary[]
            const model = new Model(nativeModel)
            const outcome = {
              history,
              output: result.output,
              skipped: result.skipped,
              bestEpoch: result.bestEpoch ?? null,
              stoppedEarly: result.stoppedEarly,
            }
            const thumbnails = result.takeThumbnails()
            const report = await this.#writeReport(() => this.#report.writeCompleted(outcome, model.classes, result.reviewJson, thumbnails))
            const summary = { ...outcome, report }
            resolve({ ...summary, model })
            this.#emitSafely('end', summary)
          } catch (failure) {
            reject(fromNative(failure))
          }
        }
        this.#start(nativeOptions, done).catch((error) => {
          signal?.removeEventListener('abort', onAbort)
          reject(fromNative(error))
        })
      })
    }
    this.#result.catch((error: Error) => {
      // A run nobody awaits must not crash the process; report it to 'error' (and 'event') listeners.
      this.#emitSafely('error', error)
    })
  }

  /** Stops training within one batch (or a download of pretrained weights at once); the
   *  promise rejects with ERR_ABORTED. */
  abort(): void {
    this.#beforeStart.abort()
    this.#native?.abort()
  }

  /** Runs `nproc` ranks in child processes (distributed.ts); the model is rank 0's, loaded
   *  from the output directory. */
  async #launch(nproc: number, options: TrainOptions, nativeOptions: NativeTrainOptions): Promise<TrainResult> {
    let pretrained = options.pretrained
    if (pretrained === IMAGENET) {
      // Fetched once here rather than by every rank.
      pretrained = await imagenetWeights(nativeOptions.arch as Arch, (event) => this.#emitSafely('download', event), this.#beforeStart.signal)
    }
    const { signal: _signal, distributed, ...shared } = options
    const rankOptions: TrainOptions = {
      ...shared,
      // Resolved once, so that every rank agrees on the default's time stamp.
      output: nativeOptions.output,
      pretrained,
      // Each rank decodes with its share of the cores, as it computes with its share (runRanks).
      workers: options.workers ?? Math.max(1, Math.floor(availableParallelism() / nproc)),
      distributed: distributed?.timeoutSeconds === undefined ? undefined : { timeoutSeconds: distributed.timeoutSeconds },
    }
    const summary = await runRanks(nproc, rankOptions, ({ type, ...payload }) => this.#emitSafely(type, payload as never), this.#beforeStart.signal)
    const model = await loadModel(summary.output, {
      device: options.device,
      channelsLast: nativeOptions.channelsLast ?? true,
      precision: options.precision,
    })
    this.#emitSafely('end', summary)
    return { ...summary, model }
  }

  /** Fetches ImageNet weights when asked for, then starts the native training thread. */
  async #start(nativeOptions: NativeTrainOptions, done: (error: Error | null, result: NativeTrainResult) => void): Promise<void> {
    if (nativeOptions.pretrained === IMAGENET) {
      const arch = nativeOptions.arch as Arch
      nativeOptions.pretrained = await imagenetWeights(arch, (event) => this.#emitSafely('download', event), this.#beforeStart.signal)
    }
    if (this.#beforeStart.signal.aborted) throw resnetError('ERR_ABORTED', 'training was aborted before it started')
    this.#native = binding().startTraining(nativeOptions, (event) => this.#onNativeEvent(event), done)
  }

  then<A = TrainResult, B = never>(
    onFulfilled?: ((value: TrainResult) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#result.then(onFulfilled, onRejected)
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<TrainResult | B> {
    return this.#result.catch(onRejected)
  }

  finally(onFinally?: (() => void) | null): Promise<TrainResult> {
    return this.#result.finally(onFinally)
  }

  // Called from a native threadsafe function: an exception escaping here would be fatal.
  #onNativeEvent(event: { type: keyof TrainingEvents } & Record<string, unknown>): void {
    const { type, ...payload } = event
    if (type === 'warning' && payload.path === null) delete payload.path
    this.#report.observe(type, payload)
    this.#emitSafely(type, payload as never)
  }

  /** The report's path, or null after a 'warning' saying why it could not be written: a
   *  report is not worth losing the trained model for. */
  async #writeReport(write: () => Promise<string | null>): Promise<string | null> {
    // Only rank 0 of a distributed run writes files.
    if (this.#native && !this.#native.leader) return null
    try {
      return await write()
    } catch (error) {
      this.#emitSafely('warning', { message: `could not write report.html: ${(error as Error)?.message ?? String(error)}` })
      return null
    }
  }

  #emitSafely<K extends keyof TrainingEvents>(type: K, ...args: TrainingEvents[K]): void {
    if (type !== 'error' || this.listenerCount('error') > 0) this.#emitGuarded(type, ...args)
    if (type !== 'event' && this.listenerCount('event') > 0) {
      const payload = args[0]
      const tagged = type === 'error' ? { type, error: payload as Error } : { ...(payload as object), type }
      this.#emitGuarded('event', tagged as TrainingEvent)
    }
  }

  #emitGuarded<K extends keyof TrainingEvents>(type: K, ...args: TrainingEvents[K]): void {
    try {
      this.emit(type, ...(args as never))
    } catch (listenerError) {
      if (type !== 'error' && this.listenerCount('error') > 0) {
        try {
          this.emit('error', listenerError as Error)
          return
        } catch {
          // fall through to the process warning
        }
      }
      process.emitWarning(`a resnet-napi '${String(type)}' listener threw: ${String(listenerError)}`)
    }
  }
}

/** Starts training; see TrainOptions. Invalid options throw ERR_INVALID_OPTION at once. */
export function train(options: TrainOptions): TrainingRun {
  return new TrainingRun(options)
}
