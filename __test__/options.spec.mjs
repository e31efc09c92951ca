// Invalid input is refused with a stable code and a message that names what was expected,
// before any native work starts; missing data and aborts are clear errors too.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

const invalidCases = [
  [{ data: 42 }, 'Expected a dataset folder or { train, test } folders for data but received 42'],
  [{ data: 'x', arch: 'resnet19' }, 'Expected one of "resnet18", "resnet34", "resnet50", "resnet101", "resnet152" for arch but received "resnet19"'],
  [{ data: 'x', epochs: 0 }, 'Expected an integer between 1 and 100000 for epochs but received 0'],
  [{ data: 'x', epochs: 2.5 }, 'Expected an integer between 1 and 100000 for epochs but received 2.5'],
  [{ data: 'x', batchSize: '64' }, 'Expected an integer between 1 and 65536 for batchSize but received "64"'],
  [{ data: 'x', learningRate: -1 }, 'Expected a number greater than 0 and less than 10 for learningRate but received -1'],
  [{ data: 'x', imageSize: 8 }, 'Expected an integer between 32 and 2048 for imageSize but received 8'],
  [{ data: 'x', device: 'gpu' }, 'Expected "auto", "cpu", "cuda" or "cuda:N" for device but received "gpu"'],
  [{ data: 'x', optimizer: 'lbfgs' }, 'Expected one of "adam", "adamw", "sgd" for optimizer but received "lbfgs"'],
  [{ data: 'x', mean: [0.5, 0.5] }, 'Expected an array of three finite numbers for mean but received an array of length 2'],
  [{ data: 'x', signal: {} }, 'Expected an AbortSignal for signal but received an object'],
  [{ data: 'x', distributed: { nproc: 0 } }, 'Expected an integer between 1 and 4096 for distributed.nproc but received 0'],
  [{ data: 'x', distributed: { ranks: 2 } }, 'Expected one of the options nproc, timeoutSeconds for distributed but received "ranks"'],
  [{ data: 'x', distributed: 2 }, 'Expected an object of the options nproc, timeoutSeconds for distributed but received 2'],
  [{ data: 'x', distributed: { timeoutSeconds: -1 } }, 'Expected a positive number for distributed.timeoutSeconds but received -1'],
  [{ data: 'x', freezeBatchNorm: 'yes' }, 'Expected a boolean for freezeBatchNorm but received "yes"'],
  [{ data: 'x', epoch: 3 }, 'Expected one of the options data, validationSplit, arch, epochs, batchSize, learningRate, optimizer, imageSize, device, output, seed, signal, recipe, resize, mean, std, augment, cache, cacheBytes, workers, cropScale, weightDecay, decayNormAndBias, momentum, nesterov, schedule, warmupEpochs, labelSmoothing, gradientClip, monitor, patience, minDelta, resume, pretrained, freezeEpochs, bodyLrFactor, precision, channelsLast, classWeights, freezeBatchNorm, distributed for train options but received "epoch"'],
  [{ data: 'x', cropScale: [0.5, 1.2] }, 'Expected [min, max] with 0 < min <= max <= 1 for cropScale but received an array of length 2'],
  [{ data: 'x', schedule: 'step' }, 'Expected one of "constant", "cosine", "onecycle" for schedule but received "step"'],
  [{ data: 'x', labelSmoothing: 1 }, 'Expected a number from 0 to less than 1 for labelSmoothing but received 1'],
  [{ data: 'x', weightDecay: -0.1 }, 'Expected a number from 0 to less than 1 for weightDecay but received -0.1'],
  [{ data: 'x', gradientClip: 0 }, 'Expected a positive number for gradientClip but received 0'],
  [{ data: 'x', monitor: 'loss' }, 'Expected one of "valLoss", "valAccuracy" for monitor but received "loss"'],
  [{ data: 'x', patience: 0 }, 'Expected an integer between 1 and 100000 for patience but received 0'],
  [{ data: 'x', resume: '' }, 'Expected a non-empty string for resume but received ""'],
  [{ data: 'x', recipe: 'fastai' }, 'Expected one of "standard", "notebook" for recipe but received "fastai"'],
  [{ data: 'x', validationSplit: 1 }, 'Expected a number greater than 0 and less than 1 for validationSplit but received 1'],
  [{ data: { train: 'a', test: 'b' }, validationSplit: 0.2 }, 'Expected a folder of class folders for data when validationSplit is given for data but received an object'],
  [{ data: 'x', cache: 'disk' }, 'Expected one of "auto", "memory", "off" for cache but received "disk"'],
  [{ data: 'x', cache: 'off', cacheBytes: 1000 }, 'Expected cache "memory" (or no cache option) with cacheBytes for cache but received "off"'],
  [{ data: 'x', augment: 'yes' }, 'Expected a boolean for augment but received "yes"'],
  [{ data: 'x', freezeEpochs: 1 }, 'Expected pretrained weights to freeze (set pretrained) for freezeEpochs but received 1'],
  [{ data: 'x', pretrained: 'w.safetensors', freezeEpochs: -1 }, 'Expected an integer between 0 and 100000 for freezeEpochs but received -1'],
  [{ data: 'x', bodyLrFactor: 0 }, 'Expected a number greater than 0 and at most 1 for bodyLrFactor but received 0'],
  [{ data: 'x', precision: 'fp16' }, 'Expected one of "auto", "fp32", "bf16" for precision but received "fp16"'],
  [{ data: 'x', channelsLast: 1 }, 'Expected a boolean for channelsLast but received 1'],
]

for (const [options, message] of invalidCases) {
  test(`train rejects ${JSON.stringify(options)}`, (t) => {
    const error = t.throws(() => resnet.train(options))
    t.is(error.code, 'ERR_INVALID_OPTION')
    t.is(error.message, message)
  })
}

test('a missing dataset is ERR_DATASET naming the path', async (t) => {
  const dir = temporaryDir(t)
  const missing = join(dir, 'no-such-folder')
  const error = await t.throwsAsync(resnet.train({ data: missing, output: join(dir, 'out') }))
  t.is(error.code, 'ERR_DATASET')
  t.true(error.message.includes(missing), error.message)
})

test('a dataset with no images is ERR_DATASET', async (t) => {
  const dir = temporaryDir(t)
  for (const split of ['train/cat', 'train/dog', 'test/cat']) mkdirSync(join(dir, split), { recursive: true })
  writeFileSync(join(dir, 'train/cat/readme.txt'), 'not an image')
  const run = resnet.train({ data: dir, output: join(dir, 'out'), device: 'cpu' })
  const warnings = []
  run.on('warning', (w) => warnings.push(w))
  const error = await t.throwsAsync(run)
  t.is(error.code, 'ERR_DATASET')
  t.true(error.message.includes(join(dir, 'train')), error.message)
  t.true(warnings.some((w) => w.path === join(dir, 'train/cat/readme.txt')), JSON.stringify(warnings))
})

test('an AbortSignal stops training with ERR_ABORTED; the last completed epoch stays loadable', async (t) => {
  const dir = temporaryDir(t)
  makeDataset(join(dir, 'data'), { train: 12, test: 3 })
  const output = join(dir, 'out')
  const controller = new AbortController()
  const run = resnet.train({ data: join(dir, 'data'), output, arch: 'resnet18', epochs: 50, imageSize: 32, batchSize: 8, device: 'cpu', signal: controller.signal })
  run.on('epoch', (e) => { if (e.epoch === 1) controller.abort() })
  const error = await t.throwsAsync(run)
  t.is(error.code, 'ERR_ABORTED')
  const model = await resnet.loadModel(output, { device: 'cpu' })
  t.is(model.classes.length, 3)
})

test('an already aborted signal rejects without training', async (t) => {
  const error = await t.throwsAsync(resnet.train({ data: 'anything', signal: AbortSignal.abort() }))
  t.is(error.code, 'ERR_ABORTED')
})

test('a listener that throws does not crash the process', async (t) => {
  const dir = temporaryDir(t)
  makeDataset(join(dir, 'data'), { train: 6, test: 2 })
  const run = resnet.train({ data: join(dir, 'data'), output: join(dir, 'out'), arch: 'resnet18', epochs: 1, imageSize: 32, batchSize: 6, device: 'cpu' })
  const reported = []
  run.on('batch', () => { throw new Error('listener bug') })
  run.on('error', (error) => reported.push(error.message))
  const result = await run
  t.is(result.history.length, 1)
  t.true(reported.includes('listener bug'))
})

test('predict and loadModel refuse bad input with codes', async (t) => {
  const dir = temporaryDir(t)
  const missing = await t.throwsAsync(resnet.loadModel(join(dir, 'nothing')))
  t.is(missing.code, 'ERR_MODEL_FILE')
  t.true(missing.message.includes(join(dir, 'nothing')))
  await t.throwsAsync(resnet.loadModel(''), { code: 'ERR_INVALID_OPTION' })
  await t.throwsAsync(resnet.loadModel(dir, { device: 'tpu' }), { code: 'ERR_INVALID_OPTION' })
})

test('a cache limit in RESNET_NAPI_CPU_CACHE_MB that is not a whole number is refused, not ignored', (t) => {
  // The setting is read once per process, when the first model is made: a fresh process.
  const dir = temporaryDir(t)
  makeDataset(join(dir, 'data'), { train: 6, test: 2 })
  const script = `
    const resnet = require('./dist/index.js')
    resnet.train({ data: ${JSON.stringify(join(dir, 'data'))}, output: ${JSON.stringify(join(dir, 'out'))}, epochs: 1, imageSize: 32, device: 'cpu' })
      .then(() => console.log('trained'), (error) => console.log(JSON.stringify({ code: error.code, message: error.message })))`
  const child = spawnSync(process.execPath, ['-e', script], {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, RESNET_NAPI_CPU_CACHE_MB: 'lots' },
    encoding: 'utf8',
    timeout: 120_000,
  })
  t.is(child.status, 0, child.stderr)
  const error = JSON.parse(child.stdout.trim().split('\n').at(-1))
  t.is(error.code, 'ERR_INVALID_OPTION')
  t.is(error.message, 'Expected a whole number of MiB (0 turns the caching CPU allocator off) for RESNET_NAPI_CPU_CACHE_MB but received "lots"')
})
