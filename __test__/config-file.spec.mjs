// <output>/config.json: every run's resolved configuration, shown in the report, and what a
// resume compares against.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

test('config.json holds the resolved configuration; a resume names each hyperparameter it changes', async (t) => {
  const work = temporaryDir(t, 'resnet-config-')
  const data = join(work, 'data')
  makeDataset(data, { train: 6, test: 2, maxSize: 60 })
  const output = join(work, 'run')
  const common = { data, arch: 'resnet18', imageSize: 32, batchSize: 6, device: 'cpu', workers: 1 }
  const first = await resnet.train({ ...common, epochs: 1, output })
  first.model.dispose()
  const written = JSON.parse(readFileSync(join(output, 'config.json'), 'utf8'))
  // Defaults filled in, under the options' names.
  t.like(written, { format: 'resnet-napi-config/1', arch: 'resnet18', epochs: 1, batchSize: 6, learningRate: 0.003, optimizer: 'adamw', schedule: 'onecycle', worldSize: 1, channelsLast: true })
  t.deepEqual(written.preprocess.mean, [0.485, 0.456, 0.406].map((x) => Math.fround(x)))
  t.regex(readFileSync(join(output, 'report.html'), 'utf8'), /<details id="configuration">[\s\S]*learningRate<\/th><td>0\.003</)

  const warnings = []
  const resumed = resnet.train({ ...common, epochs: 2, resume: output, learningRate: 0.01, optimizer: 'sgd' })
  resumed.on('warning', (warning) => warnings.push(warning))
  ;(await resumed).model.dispose()
  const changes = warnings.filter((warning) => warning.message.startsWith('resume changes'))
  const lines = changes.map((warning) => warning.message.replace(/ from the run it continues$/, ''))
  t.true(lines.includes('resume changes learningRate 0.003 -> 0.01'), lines.join('\n'))
  t.true(lines.includes('resume changes optimizer "adamw" -> "sgd"'), lines.join('\n'))
  // Only hyperparameters: more epochs, the resume itself and the paths are no change.
  t.false(lines.some((line) => /^resume changes (epochs|resume|output|data) /.test(line)), lines.join('\n'))
  t.is(changes[0].path, join(output, 'config.json'))
  t.like(JSON.parse(readFileSync(join(output, 'config.json'), 'utf8')), { epochs: 2, learningRate: 0.01, optimizer: 'sgd' })
})
