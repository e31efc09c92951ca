// Every public function fed wrong types, out-of-range numbers, missing paths, and files where
// directories are expected (and the reverse): each gives an Error with a stable code and a
// message that says what was wrong, never a crash or a hang. One table, one test per row.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet } from './helpers.mjs'

const work = mkdtempSync(join(tmpdir(), 'resnet-bad-input-'))
const data = join(work, 'data')
const missing = join(work, 'no-such-path')
const regularFile = join(work, 'a-file.txt')
const belowFile = join(regularFile, 'below')
const emptyDir = join(work, 'empty')
const garbage = join(work, 'garbage.jpg')
let model
let disposed
let modelDir

test.before(async () => {
  makeDataset(data, { train: 4, test: 2, minSize: 32, maxSize: 48 })
  writeFileSync(regularFile, 'plain text')
  writeFileSync(garbage, 'not an image at all')
  mkdirSync(emptyDir)
  modelDir = join(work, 'model')
  const result = await resnet.train({ data, output: modelDir, arch: 'resnet18', epochs: 1, imageSize: 32, batchSize: 6, device: 'cpu' })
  model = result.model
  disposed = await resnet.loadModel(modelDir, { device: 'cpu' })
  disposed.dispose()
  makeHostileModels()
})

/** Copies of the trained model, each spoilt in one way. */
const hostile = (name) => join(work, 'hostile', name)
function makeHostileModels() {
  const spoil = (name, change) => {
    const dir = hostile(name)
    mkdirSync(dir, { recursive: true })
    for (const file of ['model.json', 'model.safetensors']) cpSync(join(modelDir, file), join(dir, file))
    change(dir)
  }
  const meta = () => JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8'))
  spoil('truncated', (dir) => truncateSync(join(dir, 'model.safetensors'), 1000))
  spoil('header-past-end', (dir) => {
    const bytes = readFileSync(join(dir, 'model.safetensors'))
    bytes.writeBigUInt64LE(1n << 40n, 0)
    writeFileSync(join(dir, 'model.safetensors'), bytes)
  })
  spoil('invalid-json', (dir) => writeFileSync(join(dir, 'model.json'), '{ "format": "resnet-napi/1", '))
  spoil('unknown-arch', (dir) => writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...meta(), arch: 'resnet20' })))
  spoil('wrong-arch', (dir) => writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...meta(), arch: 'resnet50' })))
  spoil('class-count', (dir) => writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...meta(), classes: ['a', 'b'] })))
  spoil('pickle', (dir) => writeFileSync(join(dir, 'model.safetensors'), Buffer.from('80049500000000000000008c026f73948c0673797374656d9493', 'hex')))
  spoil('no-model-json', (dir) => unlinkSync(join(dir, 'model.json')))
  spoil('link-out', (dir) => {
    unlinkSync(join(dir, 'model.json'))
    symlinkSync(join(modelDir, 'model.json'), join(dir, 'model.json'))
  })
  spoil('fifo', (dir) => {
    unlinkSync(join(dir, 'model.safetensors'))
    execFileSync('mkfifo', [join(dir, 'model.safetensors')])
  })
}

test.after.always(() => rmSync(work, { recursive: true, force: true }))

const option = (name) => new RegExp(`^Expected .+ for ${name} but received `)
const naming = (path) => new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
const train = (options) => resnet.train(options)
const base = { data: 'x' }
const image = () => join(data, 'test', 'disc', 'disc-000.jpg')

// [description, call, expected code, message pattern]
const cases = [
  // train: the options object and each option's type and range
  ['train()', () => train(), 'ERR_INVALID_OPTION', option('options')],
  ['train(null)', () => train(null), 'ERR_INVALID_OPTION', option('options')],
  ['train("data")', () => train('data'), 'ERR_INVALID_OPTION', option('options')],
  ['train([])', () => train([]), 'ERR_INVALID_OPTION', option('train options')],
  ['data ""', () => train({ data: '' }), 'ERR_INVALID_OPTION', option('data')],
  ['data null', () => train({ data: null }), 'ERR_INVALID_OPTION', option('data')],
  ['data 1n', () => train({ data: 1n }), 'ERR_INVALID_OPTION', option('data')],
  ['data Symbol', () => train({ data: Symbol('x') }), 'ERR_INVALID_OPTION', option('data')],
  ['data { train: 1, test: 2 }', () => train({ data: { train: 1, test: 2 } }), 'ERR_INVALID_OPTION', option('data')],
  ['data { train } only', () => train({ data: { train: data } }), 'ERR_INVALID_OPTION', option('data')],
  ['epochs -1', () => train({ ...base, epochs: -1 }), 'ERR_INVALID_OPTION', option('epochs')],
  ['epochs 1e9', () => train({ ...base, epochs: 1e9 }), 'ERR_INVALID_OPTION', option('epochs')],
  ['epochs NaN', () => train({ ...base, epochs: NaN }), 'ERR_INVALID_OPTION', option('epochs')],
  ['epochs Infinity', () => train({ ...base, epochs: Infinity }), 'ERR_INVALID_OPTION', option('epochs')],
  ['epochs "3"', () => train({ ...base, epochs: '3' }), 'ERR_INVALID_OPTION', option('epochs')],
  ['batchSize 0', () => train({ ...base, batchSize: 0 }), 'ERR_INVALID_OPTION', option('batchSize')],
  ['batchSize 1e12', () => train({ ...base, batchSize: 1e12 }), 'ERR_INVALID_OPTION', option('batchSize')],
  ['imageSize -32', () => train({ ...base, imageSize: -32 }), 'ERR_INVALID_OPTION', option('imageSize')],
  ['imageSize 1e6', () => train({ ...base, imageSize: 1e6 }), 'ERR_INVALID_OPTION', option('imageSize')],
  ['learningRate NaN', () => train({ ...base, learningRate: NaN }), 'ERR_INVALID_OPTION', option('learningRate')],
  ['learningRate Infinity', () => train({ ...base, learningRate: Infinity }), 'ERR_INVALID_OPTION', option('learningRate')],
  ['learningRate 0', () => train({ ...base, learningRate: 0 }), 'ERR_INVALID_OPTION', option('learningRate')],
  ['seed -1', () => train({ ...base, seed: -1 }), 'ERR_INVALID_OPTION', option('seed')],
  ['seed 2**64', () => train({ ...base, seed: 2 ** 64 }), 'ERR_INVALID_OPTION', option('seed')],
  ['seed "42"', () => train({ ...base, seed: '42' }), 'ERR_INVALID_OPTION', option('seed')],
  ['workers -1', () => train({ ...base, workers: -1 }), 'ERR_INVALID_OPTION', option('workers')],
  ['workers 1e6', () => train({ ...base, workers: 1e6 }), 'ERR_INVALID_OPTION', option('workers')],
  ['cacheBytes -1', () => train({ ...base, cacheBytes: -1 }), 'ERR_INVALID_OPTION', option('cacheBytes')],
  ['cacheBytes 1.5', () => train({ ...base, cacheBytes: 1.5 }), 'ERR_INVALID_OPTION', option('cacheBytes')],
  ['mean strings', () => train({ ...base, mean: ['a', 'b', 'c'] }), 'ERR_INVALID_OPTION', option('mean')],
  ['std NaN', () => train({ ...base, std: [NaN, 1, 1] }), 'ERR_INVALID_OPTION', option('std')],
  ['std object', () => train({ ...base, std: { 0: 1, 1: 1, 2: 1, length: 3 } }), 'ERR_INVALID_OPTION', option('std')],
  ['output 42', () => train({ ...base, output: 42 }), 'ERR_INVALID_OPTION', option('output')],
  ['output ""', () => train({ ...base, output: '' }), 'ERR_INVALID_OPTION', option('output')],
  ['device "cuda:-1"', () => train({ ...base, device: 'cuda:-1' }), 'ERR_INVALID_OPTION', option('device')],
  ['device ["cpu"]', () => train({ ...base, device: ['cpu'] }), 'ERR_INVALID_OPTION', option('device')],
  ['arch null', () => train({ ...base, arch: null }), 'ERR_INVALID_OPTION', option('arch')],
  ['arch "RESNET18"', () => train({ ...base, arch: 'RESNET18' }), 'ERR_INVALID_OPTION', option('arch')],
  ['patience 1.5', () => train({ ...base, patience: 1.5 }), 'ERR_INVALID_OPTION', option('patience')],
  ['momentum 1', () => train({ ...base, momentum: 1 }), 'ERR_INVALID_OPTION', option('momentum')],
  ['warmupEpochs -1', () => train({ ...base, warmupEpochs: -1 }), 'ERR_INVALID_OPTION', option('warmupEpochs')],
  ['minDelta -0.5', () => train({ ...base, minDelta: -0.5 }), 'ERR_INVALID_OPTION', option('minDelta')],
  ['nesterov 1', () => train({ ...base, nesterov: 1 }), 'ERR_INVALID_OPTION', option('nesterov')],
  ['signal "abort"', () => train({ ...base, signal: 'abort' }), 'ERR_INVALID_OPTION', option('signal')],
  ['resume 42', () => train({ ...base, resume: 42 }), 'ERR_INVALID_OPTION', option('resume')],
  ['cropScale [0, 1]', () => train({ ...base, cropScale: [0, 1] }), 'ERR_INVALID_OPTION', option('cropScale')],
  ['validationSplit -0.2', () => train({ ...base, validationSplit: -0.2 }), 'ERR_INVALID_OPTION', option('validationSplit')],
  // train: paths that are missing or of the wrong kind
  ['data missing', () => train({ data: missing, output: join(work, 'o1'), device: 'cpu' }), 'ERR_DATASET', naming(missing)],
  ['data a file', () => train({ data: regularFile, output: join(work, 'o2'), device: 'cpu' }), 'ERR_DATASET', naming(regularFile)],
  ['data an empty folder', () => train({ data: emptyDir, output: join(work, 'o3'), device: 'cpu' }), 'ERR_DATASET', naming(emptyDir)],
  ['data { train, test } missing', () => train({ data: { train: missing, test: missing }, output: join(work, 'o4'), device: 'cpu' }), 'ERR_DATASET', naming(missing)],
  ['output below a file', () => train({ data, output: belowFile, device: 'cpu' }), 'ERR_IO', naming(belowFile)],
  ['output is a file', () => train({ data, output: regularFile, device: 'cpu' }), 'ERR_IO', naming(regularFile)],
  ['resume missing', () => train({ data, resume: missing, output: join(work, 'o5'), device: 'cpu' }), 'ERR_MODEL_FILE', naming(missing)],
  ['resume a model without a checkpoint', () => train({ data, resume: emptyDir, output: join(work, 'o6'), device: 'cpu' }), 'ERR_MODEL_FILE', naming(emptyDir)],
  ['device "cuda:99"', () => train({ data, output: join(work, 'o7'), device: 'cuda:99' }), 'ERR_INVALID_OPTION', /cuda:99/],

  // loadModel
  ['loadModel()', () => resnet.loadModel(), 'ERR_INVALID_OPTION', option('dir')],
  ['loadModel(42)', () => resnet.loadModel(42), 'ERR_INVALID_OPTION', option('dir')],
  ['loadModel("")', () => resnet.loadModel(''), 'ERR_INVALID_OPTION', option('dir')],
  ['loadModel({})', () => resnet.loadModel({}), 'ERR_INVALID_OPTION', option('dir')],
  ['loadModel options null', () => resnet.loadModel(modelDir, null), 'ERR_INVALID_OPTION', option('loadModel options')],
  ['loadModel options "cpu"', () => resnet.loadModel(modelDir, 'cpu'), 'ERR_INVALID_OPTION', option('loadModel options')],
  ['loadModel options { devise }', () => resnet.loadModel(modelDir, { devise: 'cpu' }), 'ERR_INVALID_OPTION', option('loadModel options')],
  ['loadModel device "gpu"', () => resnet.loadModel(modelDir, { device: 'gpu' }), 'ERR_INVALID_OPTION', option('device')],
  ['loadModel device "cuda"', () => resnet.loadModel(modelDir, { device: 'cuda:5' }), 'ERR_INVALID_OPTION', /cuda:5/],
  ['loadModel channelsLast "yes"', () => resnet.loadModel(modelDir, { channelsLast: 'yes' }), 'ERR_INVALID_OPTION', option('channelsLast')],
  ['loadModel missing', () => resnet.loadModel(missing), 'ERR_MODEL_FILE', naming(missing)],
  ['loadModel a file', () => resnet.loadModel(regularFile), 'ERR_MODEL_FILE', naming(regularFile)],
  ['loadModel an empty folder', () => resnet.loadModel(emptyDir), 'ERR_MODEL_FILE', naming(emptyDir)],
  ['loadModel a dataset folder', () => resnet.loadModel(data), 'ERR_MODEL_FILE', naming(data)],
  ['loadModel truncated weights', () => resnet.loadModel(hostile('truncated')), 'ERR_MODEL_FILE', /truncated\/model\.safetensors: not a valid safetensors file/],
  ['loadModel header past the end', () => resnet.loadModel(hostile('header-past-end')), 'ERR_MODEL_FILE', /header-past-end\/model\.safetensors: not a valid safetensors file/],
  ['loadModel invalid model.json', () => resnet.loadModel(hostile('invalid-json')), 'ERR_MODEL_FILE', /invalid-json\/model\.json: model\.json is not valid/],
  ['loadModel unknown arch', () => resnet.loadModel(hostile('unknown-arch')), 'ERR_MODEL_FILE', /unknown-arch\/model\.json: .*resnet20/],
  ['loadModel weights of another arch', () => resnet.loadModel(hostile('wrong-arch')), 'ERR_MODEL_FILE', /wrong-arch\/model\.safetensors: expected .* with shape/],
  ['loadModel class count not the classifier\'s', () => resnet.loadModel(hostile('class-count')), 'ERR_MODEL_FILE', /class-count\/model\.safetensors: expected fc\.(bias|weight) with shape \[2/],
  ['loadModel a pickle', () => resnet.loadModel(hostile('pickle')), 'ERR_MODEL_FILE', /pickle\/model\.safetensors: not a valid safetensors file/],
  ['loadModel without model.json', () => resnet.loadModel(hostile('no-model-json')), 'ERR_MODEL_FILE', /no-model-json\/model\.json: cannot read model\.json/],
  ['loadModel model.json linked from outside', () => resnet.loadModel(hostile('link-out')), 'ERR_MODEL_FILE', /link-out\/model\.json: .*a link leading out of it/],
  ['loadModel weights that are a FIFO', () => resnet.loadModel(hostile('fifo')), 'ERR_MODEL_FILE', /fifo\/model\.safetensors: .*not a regular file/],

  // model.predict
  ['predict()', () => model.predict(), 'ERR_INVALID_OPTION', option('input')],
  ['predict(null)', () => model.predict(null), 'ERR_INVALID_OPTION', option('input')],
  ['predict(42)', () => model.predict(42), 'ERR_INVALID_OPTION', option('input')],
  ['predict("")', () => model.predict(''), 'ERR_INVALID_OPTION', option('input')],
  ['predict({})', () => model.predict({}), 'ERR_INVALID_OPTION', option('input')],
  ['predict(Uint8Array)', () => model.predict(new Uint8Array(10)), 'ERR_INVALID_OPTION', option('input')],
  ['predict([42])', () => model.predict([42]), 'ERR_INVALID_OPTION', option('input\\[0\\]')],
  ['predict([path, ""])', () => model.predict([image(), '']), 'ERR_INVALID_OPTION', option('input\\[1\\]')],
  ['predict missing path', () => model.predict(missing), 'ERR_IMAGE_DECODE', naming(missing)],
  ['predict a directory', () => model.predict(data), 'ERR_IMAGE_DECODE', /found a directory/],
  ['predict a text file', () => model.predict(regularFile), 'ERR_IMAGE_DECODE', naming(regularFile)],
  ['predict empty Buffer', () => model.predict(Buffer.alloc(0)), 'ERR_IMAGE_DECODE', /empty/],
  ['predict garbage Buffer', () => model.predict(Buffer.from('GIF89a garbage')), 'ERR_IMAGE_DECODE', /buffer #0/],
  ['predict 100 inputs, the last missing', () => model.predict([...Array(99).fill(image()), missing]), 'ERR_IMAGE_DECODE', naming(missing)],
  ['predict topK 0', () => model.predict(image(), { topK: 0 }), 'ERR_INVALID_OPTION', option('topK')],
  ['predict topK -1', () => model.predict(image(), { topK: -1 }), 'ERR_INVALID_OPTION', option('topK')],
  ['predict topK 1.5', () => model.predict(image(), { topK: 1.5 }), 'ERR_INVALID_OPTION', option('topK')],
  ['predict topK "3"', () => model.predict(image(), { topK: '3' }), 'ERR_INVALID_OPTION', option('topK')],
  ['predict topK 1e12', () => model.predict(image(), { topK: 1e12 }), 'ERR_INVALID_OPTION', option('topK')],
  ['predict options null', () => model.predict(image(), null), 'ERR_INVALID_OPTION', option('predict options')],
  ['predict options { topk }', () => model.predict(image(), { topk: 3 }), 'ERR_INVALID_OPTION', option('predict options')],
  ['predict after dispose', () => disposed.predict(image()), 'ERR_INVALID_OPTION', /dispose/],

  // model.embed
  ['embed()', () => model.embed(), 'ERR_INVALID_OPTION', option('input')],
  ['embed(42)', () => model.embed(42), 'ERR_INVALID_OPTION', option('input')],
  ['embed missing path', () => model.embed(missing), 'ERR_IMAGE_DECODE', naming(missing)],
  ['embed a directory', () => model.embed(emptyDir), 'ERR_IMAGE_DECODE', naming(emptyDir)],
  ['embed garbage file', () => model.embed(garbage), 'ERR_IMAGE_DECODE', naming(garbage)],
  ['embed after dispose', () => disposed.embed(image()), 'ERR_INVALID_OPTION', /dispose/],

  // model.evaluate
  ['evaluate()', () => model.evaluate(), 'ERR_INVALID_OPTION', option('data')],
  ['evaluate(42)', () => model.evaluate(42), 'ERR_INVALID_OPTION', option('data')],
  ['evaluate("")', () => model.evaluate(''), 'ERR_INVALID_OPTION', option('data')],
  ['evaluate missing', () => model.evaluate(missing), 'ERR_DATASET', naming(missing)],
  ['evaluate a file', () => model.evaluate(regularFile), 'ERR_DATASET', naming(regularFile)],
  ['evaluate an empty folder', () => model.evaluate(emptyDir), 'ERR_DATASET', naming(emptyDir)],
  ['evaluate batchSize 0', () => model.evaluate(data, { batchSize: 0 }), 'ERR_INVALID_OPTION', option('batchSize')],
  ['evaluate batchSize 1e9', () => model.evaluate(data, { batchSize: 1e9 }), 'ERR_INVALID_OPTION', option('batchSize')],
  ['evaluate batchSize NaN', () => model.evaluate(data, { batchSize: NaN }), 'ERR_INVALID_OPTION', option('batchSize')],
  ['evaluate options null', () => model.evaluate(data, null), 'ERR_INVALID_OPTION', option('evaluate options')],
  ['evaluate after dispose', () => disposed.evaluate(data), 'ERR_INVALID_OPTION', /dispose/],

  // model.save
  ['save()', () => model.save(), 'ERR_INVALID_OPTION', option('dir')],
  ['save(42)', () => model.save(42), 'ERR_INVALID_OPTION', option('dir')],
  ['save below a file', () => model.save(belowFile), 'ERR_IO', naming(belowFile)],
  ['save onto a file', () => model.save(regularFile), 'ERR_IO', naming(regularFile)],
  ['save into /proc', () => model.save('/proc/resnet-napi-model'), 'ERR_IO', /\/proc\/resnet-napi-model/],
  ['save after dispose', () => disposed.save(join(work, 'never')), 'ERR_INVALID_OPTION', /dispose/],

  // top-level predict and evaluate
  ['predict(42, ...)', () => resnet.predict(42, image()), 'ERR_INVALID_OPTION', option('model')],
  ['predict(null, ...)', () => resnet.predict(null, image()), 'ERR_INVALID_OPTION', option('model')],
  ['predict({}, ...)', () => resnet.predict({}, image()), 'ERR_INVALID_OPTION', option('model')],
  ['predict(missing dir, ...)', () => resnet.predict(missing, image()), 'ERR_MODEL_FILE', naming(missing)],
  ['predict(dir, 42)', () => resnet.predict(modelDir, 42), 'ERR_INVALID_OPTION', option('input')],
  ['evaluate(42, ...)', () => resnet.evaluate(42, data), 'ERR_INVALID_OPTION', option('model')],
  ['evaluate(a file, ...)', () => resnet.evaluate(regularFile, data), 'ERR_MODEL_FILE', naming(regularFile)],
  ['evaluate(dir, missing)', () => resnet.evaluate(modelDir, missing), 'ERR_DATASET', naming(missing)],
]

/** The error a call throws or rejects with, or undefined when it succeeds. */
async function failureOf(call) {
  try {
    const outcome = call()
    await outcome
  } catch (error) {
    return error
  }
  return undefined
}

for (const [description, call, code, pattern] of cases) {
  test(`bad input: ${description}`, async (t) => {
    const error = await failureOf(call)
    t.true(error instanceof Error, `expected an Error, got ${String(error)}`)
    t.is(error.code, code, error.message)
    t.regex(error.message, pattern)
  })
}

test(`the table holds ${cases.length} bad inputs and the model still works after them`, async (t) => {
  t.true(cases.length >= 100)
  t.log(`${cases.length} bad inputs`)
  const ranked = await model.predict(image(), { topK: 2 })
  t.is(ranked.length, 2)
})

test('an out-of-range but valid topK is clamped to the class count, not an error', async (t) => {
  const ranked = await model.predict(image(), { topK: 1_000_000 })
  t.is(ranked.length, model.classes.length)
})
