// Saving runs beside training: each epoch's files are announced by a 'checkpoint' event after
// its 'epoch' event, the last one before the run's promise settles; the result says where the
// run's time went, and so does the CLI.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { readSafetensors } from './checkpoint-files.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

test('checkpoint events follow their epochs, the last before the result; timings add up', async (t) => {
  const work = temporaryDir(t, 'resnet-saving-')
  const data = join(work, 'data')
  makeDataset(data, { train: 6, test: 2, minSize: 32, maxSize: 48 })
  const output = join(work, 'run')
  const order = []
  const run = resnet.train({ data, output, arch: 'resnet18', imageSize: 32, batchSize: 6, epochs: 3, device: 'cpu', workers: 1 })
  run.on('epoch', (e) => order.push(`epoch ${e.epoch}`))
  run.on('checkpoint', (e) => {
    order.push(`checkpoint ${e.epoch}`)
    t.is(e.output, output)
    t.is(readSafetensors(join(output, 'checkpoint.safetensors')).progress.epoch >= e.epoch, true, 'the files are there when announced')
  })
  const result = await run
  result.model.dispose()
  t.is(order.at(-1), 'checkpoint 3', order.join(', '))
  for (const entry of order.filter((e) => e.startsWith('checkpoint'))) {
    const epoch = entry.split(' ')[1]
    t.true(order.indexOf(`epoch ${epoch}`) < order.indexOf(entry), order.join(', '))
  }
  const { timings } = result
  const phases = ['startup', 'training', 'validation', 'saving', 'finishing', 'report']
  for (const phase of phases) t.true(timings[phase] >= 0 && Number.isFinite(timings[phase]), `${phase}: ${timings[phase]}`)
  t.true(timings.training > 0 && timings.startup > 0)
  const sum = phases.reduce((total, phase) => total + timings[phase], 0)
  t.true(sum <= timings.total + 1e-3 && sum > 0.8 * timings.total, JSON.stringify(timings))
})

test('resnet train prints where the time went', (t) => {
  const work = temporaryDir(t, 'resnet-saving-cli-')
  const data = join(work, 'data')
  makeDataset(data, { train: 4, test: 2, minSize: 32, maxSize: 48 })
  const printed = execFileSync(process.execPath, [cli, 'train', '--data', data, '--output', join(work, 'run'), '--arch', 'resnet18', '--image-size', '32', '--batch-size', '4', '--epochs', '1', '--device', 'cpu'], { encoding: 'utf8', timeout: 120_000 })
  t.regex(printed, /Took \d+\.\d s: start-up \d+\.\d, training \d+\.\d, validation \d+\.\d, saving \d+\.\d, finishing \d+\.\d, report \d+\.\d/)
})
