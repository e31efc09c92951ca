// Project side of the end-to-end epoch benchmark: train() on a folder of JPEGs, as a user
// calls it, with the notebook's transforms. Prints one JSON line per epoch: training images
// per second (from the epoch's last batch event: the training loop alone, as PyTorch's side
// times it, without the validation pass) and the process's RSS after the epoch.
// usage: node bench/project_epoch.mjs <train dir> <val dir> <epochs> <imageSize> <batchSize> [arch] [device]
// (on CUDA the precision is the default, 'auto': bf16 autocast with channels_last)
import { train } from '../dist/index.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const [trainDir, valDir, epochs, imageSize, batchSize, arch = 'resnet18', device = 'cpu'] = process.argv.slice(2)
const output = mkdtempSync(join(tmpdir(), 'resnet-bench-'))
try {
  const run = train({
    data: { train: trainDir, test: valDir },
    arch,
    epochs: Number(epochs),
    imageSize: Number(imageSize),
    batchSize: Number(batchSize),
    recipe: 'notebook',
    device,
    output,
  })
  let lastBatch
  run.on('batch', (e) => { lastBatch = e })
  run.on('epoch', (e) => {
    console.log(JSON.stringify({
      kind: 'project_epoch', epoch: e.epoch, imagesPerSecond: lastBatch.imagesPerSecond,
      epochSecondsWithValidation: e.seconds, rssBytes: process.memoryUsage().rss,
    }))
  })
  await run
} finally {
  rmSync(output, { recursive: true, force: true })
}
