// Project side of the GPU benchmark's time-to-model rows (bench/gpu.mjs): one whole training
// job as a user runs it, train() with the project's defaults (recipe 'standard': AdamW,
// one-cycle, label smoothing, random-resized-crop + flip; on CUDA bf16 autocast and
// channels_last), writing its output (model, checkpoints, report.html) into a temporary folder.
// Prints one JSON line:
//   { kind: 'project_time_to_model', seconds, secondsSinceProcessStart, firstBatchSeconds,
//     firstBatchSinceProcessStart, importSeconds, finalValAccuracy, epochs, timings }
// seconds: wall clock from just before the train() call until its promise resolves (the
// trained model in memory, report.html written); secondsSinceProcessStart: the same moment
// counted from the process's start (Node, the import of the facade and libtorch included: what
// the row compares with PyTorch's whole script); firstBatchSeconds: from the same point to the
// first 'batch' event; firstBatchSinceProcessStart: performance.now() at that event (Node counts
// it from the process's start, performance.timeOrigin); importSeconds: loading the facade and
// the addon (with libtorch) before that. timings: the result's own breakdown (startup, training,
// validation, saving, finishing, report, total, in seconds), copied as it is; null (and a line
// on stderr) when the built facade does not report one. No figure is ever invented.
//
// usage: node bench/project_time_to_model.mjs <train dir> <val dir> <epochs> <imageSize> <batchSize> <arch> <device> [seed]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const [trainDir, valDir, epochs, imageSize, batchSize, arch, device, seed = '1'] = process.argv.slice(2)
if (!device) {
  console.error('usage: node bench/project_time_to_model.mjs <train dir> <val dir> <epochs> <imageSize> <batchSize> <arch> <device> [seed]')
  process.exit(2)
}
const importStarted = performance.now()
const { train } = await import('../dist/index.js')
const importSeconds = (performance.now() - importStarted) / 1000

const output = mkdtempSync(join(tmpdir(), 'resnet-time-to-model-'))
try {
  let firstBatchAt
  const started = performance.now()
  const run = train({
    data: { train: trainDir, test: valDir },
    arch,
    epochs: Number(epochs),
    imageSize: Number(imageSize),
    batchSize: Number(batchSize),
    seed: Number(seed),
    device,
    output,
  })
  run.on('batch', () => { firstBatchAt ??= performance.now() })
  run.on('epoch', (e) => console.error(`[time-to-model] epoch ${e.epoch}/${e.epochs}: ${e.seconds.toFixed(2)} s, val accuracy ${e.valAccuracy}`))
  const result = await run
  const finishedAt = performance.now()
  const seconds = (finishedAt - started) / 1000
  const timings = result.timings ?? null
  if (timings === null) console.error('[time-to-model] this build\'s TrainResult has no timings: printing timings: null')
  if (firstBatchAt === undefined) throw new Error('no batch event arrived')
  console.log(JSON.stringify({
    kind: 'project_time_to_model',
    seconds,
    secondsSinceProcessStart: finishedAt / 1000,
    firstBatchSeconds: (firstBatchAt - started) / 1000,
    firstBatchSinceProcessStart: firstBatchAt / 1000,
    importSeconds,
    finalValAccuracy: result.history.at(-1).valAccuracy,
    epochs: result.history.map((e) => e.seconds),
    timings,
  }))
  result.model.dispose()
} finally {
  rmSync(output, { recursive: true, force: true })
}
