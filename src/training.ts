// train(): validates the options, starts the native training thread, and exposes it as an
// EventEmitter (progress) that is also a promise of the result.
import { EventEmitter } from 'node:events'
import { availableParallelism } from 'node:os'
import { resolve as resolvePath, join } from 'node:path'
import type { NativeRunTimings, NativeTrainResult, NativeTraining, NativeTrainingEvent } from '../native/binding'
import { runRanks } from './distributed'
import { fromNative, resnetError } from './errors'
import { Model, loadModel } from './model'
import { loadBinding } from './native'
import { checkRules, checkTypes, optionSpec } from './options'
import { ReportRecorder } from './report'
import { imagenetWeights } from './weights'
import { type Arch, type BatchEvent, type CheckpointEvent, type EpochSummary, type RunTimings, type StartEvent, type TrainingEvent, type TrainingEvents, type TrainOptions, type TrainResultSummary } from './types'
import * as check from './validate'

export interface TrainResult extends TrainResultSummary {
  model: Model
}

// The public event types, documented in types.ts, equal the binding's, both ways. (A warning's
// `path` is null there and left out here: see #onNativeEvent.)
type Payload<T extends NativeTrainingEvent['type']> = Omit<Extract<NativeTrainingEvent, { type: T }>, 'type'>
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const _eventsMatchTheBinding: [Same<Payload<'start'>, StartEvent>, Same<Payload<'batch'>, BatchEvent>, Same<Payload<'epoch'>, EpochSummary>, Same<Payload<'checkpoint'>, CheckpointEvent>] = [true, true, true, true]
void _eventsMatchTheBinding

/** The options the native side reads: TrainOptions without the signal, with paths resolved. */
type NativeTrainOptions = Omit<TrainOptions, 'signal'> & { arch: Arch; output: string }

/** `pretrained` naming torchvision's ImageNet weights for the arch, fetched by weights.ts. */
const IMAGENET = 'imagenet'

function defaultOutput(arch: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
  return join('runs', `${arch}-${stamp}`)
}

/** `path` against the working directory; an empty one stays empty for the core to refuse. */
function absolute(path: string): string {
  return path === '' ? path : resolvePath(path)
}

/** The options as the core reads them: JavaScript types checked here, paths resolved against
 *  the working directory, the default output named; then the core checks every range and
 *  rule (throws ERR_INVALID_OPTION at once). */
export function toNativeOptions(options: TrainOptions): NativeTrainOptions {
  if (options === null || typeof options !== 'object') check.invalid('an options object', 'options', options)
  checkTypes(options as unknown as Record<string, unknown>)
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    check.invalid('an AbortSignal', 'signal', options.signal)
  }
  const { signal: _signal, data, ...rest } = options
  const arch = options.arch ?? (optionSpec('arch').default as Arch)
  const resolved: NativeTrainOptions = {
    ...rest,
    data: typeof data === 'string' ? absolute(data) : { train: absolute(data.train), test: absolute(data.test) },
    arch,
    // Resuming writes into the run it continues unless told otherwise.
    output: absolute(options.output ?? (options.resume || undefined) ?? defaultOutput(arch)),
    resume: options.resume === undefined ? undefined : absolute(options.resume),
    // 'imagenet' is resolved to the downloaded file when the run starts (TrainingRun).
    pretrained: options.pretrained === undefined || options.pretrained === IMAGENET ? options.pretrained : absolute(options.pretrained),
  }
  for (const key of Object.keys(resolved) as (keyof NativeTrainOptions)[]) if (resolved[key] === undefined) delete resolved[key]
  checkRules(resolved as Record<string, unknown>)
  return resolved
}

/** A running training: listen to 'start', 'batch', 'epoch', 'warning', 'end' and 'error'
 *  (or to 'event' for all of them as one TrainingEvent union); await it for the result. */
export class TrainingRun extends EventEmitter<TrainingEvents> implements PromiseLike<TrainResult> {
  readonly #result: Promise<TrainResult>
  #native: NativeTraining | undefined
  #report: ReportRecorder
  /** Stops a download of pretrained weights that runs before training starts. */
  readonly #beforeStart = new AbortController()
  /** When train() was called, and when the native training thread started (performance.now()). */
  readonly #calledAt = performance.now()
  #nativeStartedAt = 0

  /** @internal Use train(). */
  constructor(options: TrainOptions) {
    super()
    const nativeOptions = toNativeOptions(options)
    this.#report = new ReportRecorder(nativeOptions.arch, nativeOptions.output)
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
          const nativeDoneAt = performance.now()
          try {
            const nativeModel = result.takeModel()
            if (!nativeModel) throw resnetError('ERR_LIBTORCH', 'the native training finished without a model')
            const history: EpochSummary[] = result.history
            const model = new Model(nativeModel)
            const outcome = {
              history,
              output: result.output,
              skipped: result.skipped,
              bestEpoch: result.bestEpoch ?? null,
              stoppedEarly: result.stoppedEarly,
            }
            const review = result.takeReview()
            const reportStartedAt = performance.now()
            const report = await this.#writeReport(() => this.#report.writeCompleted(outcome, model.classes, review))
            const summary = { ...outcome, report, timings: this.#timings(result.timings, nativeDoneAt, reportStartedAt) }
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
      pretrained = await imagenetWeights(nativeOptions.arch, (event) => this.#emitSafely('download', event), this.#beforeStart.signal)
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
      channelsLast: nativeOptions.channelsLast ?? optionSpec('channelsLast').default === 'true',
      precision: options.precision,
    })
    this.#emitSafely('end', summary)
    return { ...summary, model }
  }

  /** Fetches ImageNet weights when asked for, then starts the native training thread. */
  async #start(nativeOptions: NativeTrainOptions, done: (error: Error | null, result: NativeTrainResult) => void): Promise<void> {
    if (nativeOptions.pretrained === IMAGENET) {
      nativeOptions.pretrained = await imagenetWeights(nativeOptions.arch, (event) => this.#emitSafely('download', event), this.#beforeStart.signal)
    }
    // The first call into libtorch loads it in a worker thread, not on the event loop.
    const native = await loadBinding()
    if (this.#beforeStart.signal.aborted) throw resnetError('ERR_ABORTED', 'training was aborted before it started')
    this.#nativeStartedAt = performance.now()
    this.#native = native.startTraining(nativeOptions, (event) => this.#onNativeEvent(event), done)
  }

  /** The native thread's phases, with the facade's time before it (options, a download) in
   *  start-up, after it in finishing, and the report's own. */
  #timings(native: NativeRunTimings, nativeDoneAt: number, reportStartedAt: number): RunTimings {
    const now = performance.now()
    const seconds = (ms: number) => ms / 1000
    return {
      startup: seconds(this.#nativeStartedAt - this.#calledAt) + native.startup,
      training: native.training,
      validation: native.validation,
      saving: native.saving,
      finishing: native.finishing + seconds(reportStartedAt - nativeDoneAt),
      report: seconds(now - reportStartedAt),
      total: seconds(now - this.#calledAt),
    }
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
  #onNativeEvent(event: NativeTrainingEvent): void {
    const { type, ...payload } = event
    // A warning without a file has no `path` (WarningEvent.path is optional, not null).
    if ('path' in payload && payload.path === null) delete (payload as { path?: string | null }).path
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
