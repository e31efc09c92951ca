// The cost of data parallelism on this machine (issue 15's CPU row): the same global batch
// trained by 1 process with every core against 2 ranks (c10d Gloo over loopback) with half the
// cores each. On 2 cores this measures overhead (gradient all-reduce, a process per rank), not
// speed. Prints one JSON line: { kind: 'distributed', ... img/s of epoch 2 (decoded cache) }.
// Usage: node bench/distributed.mjs DATA [--quick]
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import resnet from '../dist/index.js'

const [data] = process.argv.slice(2)
const cores = availableParallelism()
const globalBatch = 32
const scratch = mkdtempSync(join(tmpdir(), 'resnet-bench-distributed-'))
const common = { data, validationSplit: 0.1, arch: 'resnet18', imageSize: 64, epochs: 2, recipe: 'standard', device: 'cpu', seed: 1 }

/** Epoch 2's training rate: its last batch event's running figure (all ranks together). */
async function epochTwoRate(options) {
  let rate = null
  const run = resnet.train({ ...common, ...options })
  run.on('batch', (event) => {
    if (event.epoch === 2) rate = event.imagesPerSecond
  })
  const { model } = await run
  model.dispose()
  if (rate === null) throw new Error('no batch event in epoch 2')
  return rate
}

try {
  const oneRank = await epochTwoRate({ batchSize: globalBatch, workers: cores, output: join(scratch, 'one') })
  // The launcher gives each rank cores / ranks threads (torchrun's rule), unless told otherwise.
  delete process.env.OMP_NUM_THREADS
  const twoRanks = await epochTwoRate({
    batchSize: globalBatch / 2,
    workers: Math.max(1, cores / 2),
    output: join(scratch, 'two'),
    distributed: { nproc: 2 },
  })
  console.log(JSON.stringify({ kind: 'distributed', cores, globalBatch, oneRankImagesPerSecond: oneRank, twoRanksImagesPerSecond: twoRanks }))
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
