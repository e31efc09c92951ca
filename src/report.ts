// report.html for a training run: a recorder gathers what the run's events tell (device,
// image counts, the learning rate of each update), and the page is written atomically into
// the output directory when the run completes, or with the completed epochs when aborted.
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { renderReport, type ReportContent, type ValidationReview } from './report-html'
import type { BatchEvent, EpochSummary, StartEvent, TrainResultSummary } from './types'

export const REPORT_FILE = 'report.html'
/** The run's resolved configuration, written by the native side when the run starts. */
const CONFIG_FILE = 'config.json'

export class ReportRecorder {
  readonly #arch: string
  readonly #output: string
  #start: StartEvent | undefined
  readonly #learningRates: [number, number][] = []
  readonly #epochs: EpochSummary[] = []

  constructor(arch: string, output: string) {
    this.#arch = arch
    this.#output = output
  }

  /** Takes note of one training event. */
  observe(type: string, payload: unknown): void {
    if (type === 'start') this.#start = payload as StartEvent
    if (type === 'epoch') this.#epochs.push(payload as EpochSummary)
    if (type === 'batch') {
      const batch = payload as BatchEvent
      if (Number.isFinite(batch.learningRate)) this.#learningRates.push([batch.epoch - 1 + batch.batch / batch.batches, batch.learningRate])
    }
  }

  /** Writes the report of a completed run; returns its path. */
  async writeCompleted(
    summary: Omit<TrainResultSummary, 'report' | 'timings'>,
    classes: string[],
    review: ValidationReview | null,
  ): Promise<string> {
    return this.#write({ ...this.#content(summary.history, classes), bestEpoch: summary.bestEpoch, stoppedEarly: summary.stoppedEarly, review })
  }

  /** Writes the curves of the epochs an aborted run completed (from its history.json, which
   *  also holds the epochs of a run it resumed); returns the path, or null with no epoch. */
  async writeAborted(): Promise<string | null> {
    const history = await fs
      .readFile(join(this.#output, 'history.json'), 'utf8')
      .then((text) => JSON.parse(text) as EpochSummary[])
      .catch(() => this.#epochs)
    if (history.length === 0) return null
    return this.#write({ ...this.#content(history, this.#start?.classes ?? []), aborted: true })
  }

  #content(history: EpochSummary[], classes: string[]): ReportContent {
    return {
      output: this.#output,
      createdAt: new Date(),
      arch: this.#arch,
      device: this.#start?.device,
      classes,
      trainImages: this.#start?.trainImages,
      validationImages: this.#start?.validationImages,
      classCounts: this.#start?.classCounts,
      history,
      learningRates: this.#learningRates,
      bestEpoch: null,
      stoppedEarly: false,
      aborted: false,
      review: null,
    }
  }

  async #write(content: ReportContent): Promise<string> {
    const path = join(this.#output, REPORT_FILE)
    const configuration = await fs
      .readFile(join(this.#output, CONFIG_FILE), 'utf8')
      .then((text) => JSON.parse(text) as Record<string, unknown>)
      .catch(() => null)
    await writeAtomically(path, renderReport({ ...content, configuration }))
    return path
  }
}

/** Writes through a synced temporary sibling renamed over `path`, as the native side does. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = join(path, '..', `.tmp-${process.pid}-${REPORT_FILE}`)
  try {
    const file = await fs.open(temporary, 'w')
    try {
      await file.writeFile(text, 'utf8')
      await file.sync()
    } finally {
      await file.close()
    }
    await fs.rename(temporary, path)
  } catch (error) {
    await fs.rm(temporary, { force: true })
    throw error
  }
}
