// Fine-tuning through the public API: a saved model's body starts a new run; the frozen epoch
// leaves the body's convolutions untouched, the next one trains them. (A head for other
// classes is checked in crates/resnet-core/tests/fine_tune.rs.)
import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

test('pretrained + freezeEpochs: the body is frozen first, then trains', async (t) => {
  const work = temporaryDir(t)
  const data = join(work, 'shapes')
  makeDataset(data, { train: 12, test: 4 })
  const base = { data, arch: 'resnet18', imageSize: 32, batchSize: 8, device: 'cpu', recipe: 'notebook' }
  const source = await resnet.train({ ...base, epochs: 1, output: join(work, 'source') })

  const frozen = await resnet.train({ ...base, epochs: 1, pretrained: join(work, 'source'), freezeEpochs: 1, output: join(work, 'frozen') })
  t.is(frozen.history.length, 1)
  // One convolution's bytes in the saved model.safetensors (8-byte header length, JSON header).
  const convolution = (dir) => {
    const bytes = readFileSync(join(dir, 'model.safetensors'))
    const length = Number(bytes.readBigUInt64LE(0))
    const meta = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'))
    const [start, end] = meta['layer2.0.conv1.weight'].data_offsets
    return bytes.subarray(8 + length + start, 8 + length + end)
  }
  t.true(convolution(join(work, 'source')).equals(convolution(join(work, 'frozen'))), 'layer2.0.conv1 is unchanged after the frozen epoch')

  const tuned = await resnet.train({ ...base, epochs: 2, pretrained: join(work, 'source'), freezeEpochs: 1, output: join(work, 'tuned') })
  t.false(convolution(join(work, 'source')).equals(convolution(join(work, 'tuned'))), 'the body trains after the frozen epoch')
  for (const run of [source, frozen, tuned]) run.model.dispose()
})

test('pretrained weights of another arch are ERR_MODEL_FILE with the reason', async (t) => {
  const work = temporaryDir(t)
  const data = join(work, 'shapes')
  makeDataset(data, { train: 4, test: 2 })
  const base = { data, imageSize: 32, batchSize: 4, device: 'cpu', epochs: 1 }
  const source = await resnet.train({ ...base, arch: 'resnet18', output: join(work, 'source') })
  source.model.dispose()
  const error = await t.throwsAsync(resnet.train({ ...base, arch: 'resnet50', pretrained: join(work, 'source'), output: join(work, 'x') }))
  t.is(error.code, 'ERR_MODEL_FILE')
  t.regex(error.message, /pretrained weights do not fit resnet50/)
})
