// Soak: does memory stay flat over a long run? (1) 30 epochs on a tiny set: resident memory
// (RSS) after each epoch; the drift from epoch 3 to epoch 30 must stay under 5%. (2) 10,000
// predicts (8 in flight at a time) on one model: RSS every 1,000; the drift from the first
// 1,000 to the last must stay under 5%. Writes bench/results/soak.json and exits 1 on a breach.
// usage: node bench/soak.mjs [--epochs 30] [--predicts 10000]   (run after `npm run build`)
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir, cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { makeDataset } from '../scripts/make-dataset.mjs'

const resnet = createRequire(import.meta.url)('../dist/index.js')
const { values: args } = parseArgs({ options: { epochs: { type: 'string', default: '30' }, predicts: { type: 'string', default: '10000' } } })
const EPOCHS = Number(args.epochs)
const PREDICTS = Number(args.predicts)
const IN_FLIGHT = 8
const LIMIT = 0.05
const mib = () => process.memoryUsage().rss / 2 ** 20

const work = mkdtempSync(join(tmpdir(), 'resnet-soak-'))
try {
  const data = join(work, 'data')
  makeDataset(data, { train: 8, test: 2, minSize: 32, maxSize: 48 })
  const started = performance.now()
  const epochRss = []
  const run = resnet.train({ data, output: join(work, 'run'), arch: 'resnet18', epochs: EPOCHS, imageSize: 32, batchSize: 8, device: 'cpu', recipe: 'notebook', seed: 1 })
  run.on('epoch', (e) => {
    epochRss.push(Number(mib().toFixed(1)))
    console.error(`epoch ${e.epoch}: rss ${epochRss.at(-1)} MiB`)
  })
  const { model } = await run
  const trainingSeconds = (performance.now() - started) / 1000
  const trainingDrift = epochRss.at(-1) / epochRss[2] - 1

  const image = join(data, 'test', 'disc', 'disc-000.jpg')
  const expected = await model.predict(image, { topK: 3 })
  const predictRss = []
  let done = 0
  let mismatches = 0
  const predictStarted = performance.now()
  async function worker() {
    while (done < PREDICTS) {
      const call = ++done
      const ranked = await model.predict(image, { topK: 3 })
      if (JSON.stringify(ranked) !== JSON.stringify(expected)) mismatches++
      if (call % 1000 === 0) {
        predictRss.push(Number(mib().toFixed(1)))
        console.error(`${call} predicts: rss ${predictRss.at(-1)} MiB`)
      }
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  const predictSeconds = (performance.now() - predictStarted) / 1000
  const predictDrift = predictRss.at(-1) / predictRss[0] - 1

  const result = {
    date: new Date().toISOString(),
    machine: `${cpus().length} CPU cores (shared), CPU device`,
    command: `node bench/soak.mjs --epochs ${EPOCHS} --predicts ${PREDICTS}`,
    training: { arch: 'resnet18', imageSize: 32, trainImages: 24, epochs: EPOCHS, seconds: Number(trainingSeconds.toFixed(1)), rssMiBPerEpoch: epochRss, driftAfterEpoch3: Number(trainingDrift.toFixed(4)), limit: LIMIT, pass: trainingDrift < LIMIT },
    predict: { calls: PREDICTS, inFlight: IN_FLIGHT, seconds: Number(predictSeconds.toFixed(1)), mismatches, rssMiBPer1000: predictRss, driftAfterFirst1000: Number(predictDrift.toFixed(4)), limit: LIMIT, pass: predictDrift < LIMIT && mismatches === 0 },
  }
  const results = new URL('./results/', import.meta.url)
  mkdirSync(results, { recursive: true })
  writeFileSync(new URL('soak.json', results), `${JSON.stringify(result, null, 2)}\n`)
  console.log(JSON.stringify(result))
  process.exitCode = result.training.pass && result.predict.pass ? 0 : 1
} finally {
  rmSync(work, { recursive: true, force: true })
}
