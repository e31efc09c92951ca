// ONNX export: a trained model written with exportOnnx (and the CLI's `export`) runs in
// onnxruntime-node and gives the project's own logits within 1e-4, for a basic-block arch
// (resnet18) and a bottleneck one (resnet50), each with its own preprocessing.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ort from 'onnxruntime-node'
import { PNG } from 'pngjs'
import { makeDataset, sampleJpeg } from '../scripts/make-dataset.mjs'
import { resnet } from './helpers.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'resnet-onnx-'))
const data = join(work, 'shapes')
const TOLERANCE = 1e-4
// Trained briefly, so batch norm's running statistics are no longer their initial 0 and 1; in
// float32 (ONNX graphs compute in float32; 'auto' may pick bf16 on this processor).
const MODELS = {
  resnet18: { arch: 'resnet18', imageSize: 48, recipe: 'notebook' },
  resnet50: { arch: 'resnet50', imageSize: 32, recipe: 'standard' },
}
const models = {}

test.before(async () => {
  makeDataset(data, { train: 6, test: 2, maxSize: 90 })
  for (const [name, options] of Object.entries(MODELS)) {
    const run = resnet.train({ data, output: join(work, name), epochs: 1, batchSize: 6, learningRate: 0.001, device: 'cpu', seed: 3, precision: 'fp32', ...options })
    models[name] = (await run).model
  }
})

test.after.always(() => rmSync(work, { recursive: true, force: true }))

function inputs() {
  return [join(data, 'test', 'disc', 'disc-000.jpg'), sampleJpeg('stripes'), join(data, 'test', 'square', 'square-001.jpg'), sampleJpeg('disc', { width: 50, height: 120, seed: 5 })]
}

function maxAbsDiff(a, b) {
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]))
  return worst
}

async function onnxLogits(file, tensor) {
  const session = await ort.InferenceSession.create(file)
  const result = await session.run({ input: new ort.Tensor('float32', tensor.data, tensor.shape) })
  return { session, logits: result.logits }
}

for (const name of Object.keys(MODELS)) {
  test(`${name}: the ONNX graph in onnxruntime gives the project's logits within 1e-4`, async (t) => {
    const model = models[name]
    const file = join(work, `${name}.onnx`)
    await model.exportOnnx(file)
    const images = inputs()
    const tensor = await model.inputTensor(images)
    t.deepEqual(tensor.shape, [images.length, 3, model.imageSize, model.imageSize])
    t.is(tensor.data.length, images.length * 3 * model.imageSize ** 2)
    const { session, logits } = await onnxLogits(file, tensor)
    t.deepEqual(session.inputNames, ['input'])
    t.deepEqual(session.outputNames, ['logits'])
    t.deepEqual(logits.dims, [images.length, model.classes.length])
    const ours = await model.logits(images)
    const flat = Float32Array.from(ours.flatMap((row) => [...row]))
    // The comparison means something only if the logits are not all alike.
    const spread = Math.max(...flat) - Math.min(...flat)
    t.true(spread > 1e-2, `logit spread ${spread}`)
    const diff = maxAbsDiff(flat, logits.data)
    t.log(`${name}: max |logit diff| ${diff.toExponential(2)} over ${flat.length} logits (spread ${spread.toFixed(3)})`)
    t.true(diff < TOLERANCE, `max |logit diff| ${diff}`)
  })
}

test('loadModel channelsLast: both layouts give the same logits; the default equals the trained model', async (t) => {
  const dir = join(work, 'resnet50')
  const standard = await resnet.loadModel(dir, { device: 'cpu', channelsLast: false, precision: 'fp32' })
  const fast = await resnet.loadModel(dir, { device: 'cpu', precision: 'fp32' })
  const images = inputs()
  const flat = async (model) => Float32Array.from((await model.logits(images)).flatMap((row) => [...row]))
  const [a, b, trained] = [await flat(standard), await flat(fast), await flat(models.resnet50)]
  const diff = maxAbsDiff(a, b)
  t.log(`standard vs channels_last: max |logit diff| ${diff.toExponential(2)}`)
  t.true(diff < TOLERANCE, `max |logit diff| ${diff}`)
  t.deepEqual(b, trained, 'a model loaded with the defaults computes exactly as the one training returned')
  standard.dispose()
  fast.dispose()
})

test('the batch dimension is dynamic: one image alone gives the same logits as in a batch', async (t) => {
  const model = models.resnet18
  const file = join(work, 'batch.onnx')
  await model.exportOnnx(file)
  const image = sampleJpeg('square')
  const single = await onnxLogits(file, await model.inputTensor(image))
  t.deepEqual(single.logits.dims, [1, model.classes.length])
  t.true(maxAbsDiff(await model.logits(image), single.logits.data) < TOLERANCE)
})

test('logits agree with predict: softmax gives its probabilities, argmax its top class', async (t) => {
  const model = models.resnet18
  const images = inputs()
  const [rows, ranked] = await Promise.all([model.logits(images), model.predict(images, { topK: model.classes.length })])
  rows.forEach((row, i) => {
    const top = Math.max(...row)
    const exps = [...row].map((v) => Math.exp(v - top))
    const total = exps.reduce((a, b) => a + b, 0)
    for (const p of ranked[i]) t.true(Math.abs(exps[p.index] / total - p.probability) < 1e-5)
    t.is(ranked[i][0].index, row.indexOf(top))
  })
})

test('inputTensor is the RGB / 255 image normalised with the model mean and std, in NCHW order', async (t) => {
  const model = models.resnet50
  const [red, green, blue] = [200, 30, 120]
  const png = new PNG({ width: 40, height: 70 })
  for (let i = 0; i < 40 * 70; i++) png.data.set([red, green, blue, 255], i * 4)
  const tensor = await model.inputTensor(PNG.sync.write(png))
  const plane = model.imageSize ** 2
  const { mean, std } = model.preprocess
  ;[red, green, blue].forEach((value, channel) => {
    const expected = (value / 255 - mean[channel]) / std[channel]
    const values = tensor.data.subarray(channel * plane, (channel + 1) * plane)
    t.true(maxAbsDiff(values, new Float32Array(plane).fill(expected)) < 1e-5, `channel ${channel}`)
  })
})

test('exportOnnx rejects a bad path before native work and reports an unwritable one as ERR_IO', async (t) => {
  const model = models.resnet18
  await t.throwsAsync(() => model.exportOnnx(''), { code: 'ERR_INVALID_OPTION', message: 'Expected a non-empty string for path but received ""' })
  await t.throwsAsync(() => model.exportOnnx(join(work, 'missing-folder', 'model.onnx')), { code: 'ERR_IO', message: /missing-folder/ })
})

function cli(args) {
  return spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args], { encoding: 'utf8', timeout: 300_000 })
}

test('resnet export --onnx writes a graph that gives the same logits; --json describes it', async (t) => {
  const model = models.resnet18
  const file = join(work, 'cli.onnx')
  const run = cli(['export', join(work, 'resnet18'), '--onnx', file, '--json'])
  t.is(run.status, 0, run.stderr)
  const summary = JSON.parse(run.stdout)
  t.like(summary, { onnx: file, bytes: statSync(file).size, arch: 'resnet18', input: { name: 'input' }, output: { name: 'logits' } })
  t.deepEqual(summary.input.shape, ['batch', 3, 48, 48])
  const images = inputs()
  const { logits } = await onnxLogits(file, await model.inputTensor(images))
  const ours = Float32Array.from((await model.logits(images)).flatMap((row) => [...row]))
  t.true(maxAbsDiff(ours, logits.data) < TOLERANCE)
})

test('resnet export: --help lists --onnx; a missing model is bad input (exit 2, ERR_MODEL_FILE)', (t) => {
  const help = cli(['export', '--help'])
  t.is(help.status, 0)
  t.regex(help.stdout, /--onnx <file>/)
  const missing = cli(['export', join(work, 'no-such-model'), '--onnx', join(work, 'x.onnx'), '--json'])
  t.is(missing.status, 2)
  t.is(JSON.parse(missing.stdout).error.code, 'ERR_MODEL_FILE')
  const none = cli(['export', '--onnx', join(work, 'x.onnx')])
  t.is(none.status, 2)
  t.regex(none.stderr, /ERR_INVALID_OPTION: Expected a model directory/)
})
