// End-to-end check on a CUDA machine: what libtorch sees, then training, evaluation and
// prediction through the public API with device 'cuda'. Prints one JSON line per step.
// Usage: node scripts/device-e2e.mjs WORKDIR   (see scripts/device-e2e.sh)
import { join } from 'node:path'
import { makeDataset } from './make-dataset.mjs'
import resnet from '../dist/index.js'

const work = process.argv[2] ?? '/tmp/resnet-e2e'
const report = (step, fields) => console.log(JSON.stringify({ step, ...fields }))

const info = resnet.runtimeInfo()
report('runtime', info)
if (!info.cudaAvailable) process.exit(1)

const data = join(work, 'shapes')
const started = performance.now()
const counts = makeDataset(data, { train: 250, test: 60, minSize: 160, maxSize: 400 })
report('dataset', { ...counts, seconds: (performance.now() - started) / 1000 })

for (const [arch, imageSize, epochs] of [['resnet18', 128, 3], ['resnet34', 256, 3]]) {
  const output = join(work, `run-${arch}`)
  const run = resnet.train({ data, output, arch, epochs, imageSize, batchSize: 64, learningRate: 0.001, device: 'cuda', seed: 1 })
  let lastBatch
  run.on('start', (e) => report('start', { arch, device: e.device, trainImages: e.trainImages }))
  run.on('batch', (e) => { lastBatch = e })
  run.on('epoch', (e) => report('epoch', { arch, imageSize, ...e, imagesPerSecond: lastBatch?.imagesPerSecond }))
  run.on('warning', (w) => report('warning', w))
  const result = await run
  const evaluation = await result.model.evaluate(data)
  report('evaluate', { arch, accuracy: evaluation.accuracy, count: evaluation.count, device: result.model.device })
  const t0 = performance.now()
  const predictions = await result.model.predict(join(data, 'test', 'disc', 'disc-000.jpg'), { topK: 3 })
  report('predict', { arch, predictions, milliseconds: performance.now() - t0 })
}
