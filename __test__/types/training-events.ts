// Compiled, not run, by __test__/types.spec.mjs: the public TrainingEvent union narrows on
// `type`, a switch over it is exhaustive, and the per-event listener map keeps its names.
// Every @ts-expect-error line must fail to compile (tsc reports an unused one), so loosening
// the types breaks this file.
import type { TrainingEvent, TrainingEventType, TrainingRun } from '../../index'

export function describe(event: TrainingEvent): string {
  switch (event.type) {
    case 'download':
      return `${event.arch}: ${event.receivedBytes} of ${event.totalBytes} bytes from ${event.url}`
    case 'start':
      return `${event.device}: ${event.classes.length} classes, ${event.trainImages} images`
    case 'batch':
      return `${event.batch}/${event.batches} loss ${event.loss} lr ${event.learningRate.toFixed(5)}`
    case 'epoch':
      return `${event.epoch}/${event.epochs} ${event.valAccuracy ?? '-'}`
    case 'checkpoint':
      return `epoch ${event.epoch} saved in ${event.output}`
    case 'warning':
      return `${event.message} ${event.path ?? ''}`
    case 'end':
      return `${event.output} ${event.report ?? 'no report'} ${event.history.length}`
    case 'error':
      return event.error.message
    default: {
      const unreachable: never = event
      return unreachable
    }
  }
}

export function imagesPerSecond(event: TrainingEvent): number {
  // @ts-expect-error: not every event has a loss before narrowing
  void event.loss
  if (event.type === 'batch') return event.imagesPerSecond
  // @ts-expect-error: a start event has no batch number
  if (event.type === 'start') return event.batch
  return 0
}

export const types: TrainingEventType[] = ['download', 'start', 'batch', 'epoch', 'checkpoint', 'warning', 'end', 'error']
// @ts-expect-error: not an event type
export const wrong: TrainingEventType = 'progress'

export function listen(run: TrainingRun): void {
  run.on('event', (event) => console.log(describe(event)))
  run.on('batch', (event) => console.log(event.learningRate, event.loss))
  run.on('epoch', (event) => console.log(event.valLoss))
  run.on('end', (summary) => console.log(summary.report))
  // @ts-expect-error: epoch summaries have no images-per-second
  run.on('epoch', (event) => console.log(event.imagesPerSecond))
}
