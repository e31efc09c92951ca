// Project side of the prediction benchmark: a model of the given arch and size (trained for
// one epoch on a tiny folder, so that it is a real saved model), then batch-1 latency of
// model.predict(path) over single files (median) and throughput of predict() on arrays of
// `batchSize` paths. Prints JSON lines.
// usage: node bench/project_predict.mjs <tiny train dir> <latency list> <batch list> <arch> <imageSize> <batchSize> [device]
import { train } from '../dist/index.js'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const [tinyDir, latencyList, batchList, arch, imageSize, batchSize, device = 'cpu'] = process.argv.slice(2)
const lines = (file) => readFileSync(file, 'utf8').split('\n').filter(Boolean)
const output = mkdtempSync(join(tmpdir(), 'resnet-bench-'))
try {
  const { model } = await train({
    data: { train: tinyDir, test: tinyDir }, arch, epochs: 1, imageSize: Number(imageSize), batchSize: 4,
    recipe: 'notebook', device, output,
  })
  const single = lines(latencyList)
  for (let i = 0; i < 3; i++) await model.predict(single[i % single.length])
  const times = []
  for (const file of single) {
    const started = process.hrtime.bigint()
    await model.predict(file)
    times.push(Number(process.hrtime.bigint() - started) / 1e6)
  }
  times.sort((a, b) => a - b)
  const median = times.length % 2 ? times[(times.length - 1) / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2
  console.log(JSON.stringify({ kind: 'project_latency', calls: times.length, medianMs: median }))

  const files = lines(batchList)
  const size = Number(batchSize)
  await model.predict(files.slice(0, size)) // warm-up, as PyTorch's side starts its workers first
  const started = process.hrtime.bigint()
  for (let i = 0; i < files.length; i += size) await model.predict(files.slice(i, i + size))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  console.log(JSON.stringify({ kind: 'project_batch', images: files.length, seconds, imagesPerSecond: files.length / seconds }))
  model.dispose()
} finally {
  rmSync(output, { recursive: true, force: true })
}
