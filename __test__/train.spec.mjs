// The main job end to end: train resnet18 on a generated 3-class dataset, watch its events,
// keep the event loop free, then predict, save, reload and evaluate.
import test from 'ava'
import { readFileSync, rmSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeDataset, sampleJpeg, CLASSES } from '../scripts/make-dataset.mjs'
import { predictionsAgree, resnet } from './helpers.mjs'

const work = mkdtempSync(join(tmpdir(), 'resnet-train-'))
const data = join(work, 'shapes')
const output = join(work, 'run')
const events = []
let largestGapMs = 0
let result

test.before(async () => {
  makeDataset(data, { train: 40, test: 15 })
  const run = resnet.train({
    data, output, arch: 'resnet18', epochs: 3, imageSize: 64, batchSize: 16, learningRate: 0.001, device: 'cpu', seed: 1, recipe: 'notebook',
  })
  for (const type of ['start', 'batch', 'epoch', 'warning', 'end']) run.on(type, (event) => events.push({ type, ...event }))
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    largestGapMs = Math.max(largestGapMs, now - last)
    last = now
  }, 10)
  try {
    result = await run
  } finally {
    clearInterval(timer)
  }
})

test.after.always(() => rmSync(work, { recursive: true, force: true }))

test('training learns: loss falls and validation accuracy is well above chance', (t) => {
  const epochs = result.history
  t.is(epochs.length, 3)
  t.true(epochs[2].loss < epochs[0].loss, `loss ${epochs[0].loss} -> ${epochs[2].loss}`)
  t.true(epochs[2].valAccuracy > 0.7, `valAccuracy ${epochs[2].valAccuracy} (chance is 0.33)`)
  t.is(result.output, output)
  t.deepEqual(result.model.classes, [...CLASSES].sort())
  t.is(result.model.arch, 'resnet18')
  t.is(result.model.imageSize, 64)
  t.log(`epoch seconds: ${epochs.map((e) => e.seconds.toFixed(1)).join(', ')}`)
})

test('batch and epoch events arrive in order with the documented fields', (t) => {
  t.is(events[0].type, 'start')
  t.is(events[0].trainImages, 120)
  t.is(events[0].validationImages, 45)
  const batches = events.filter((e) => e.type === 'batch')
  const epochs = events.filter((e) => e.type === 'epoch')
  t.is(batches.length, 3 * Math.ceil(120 / 16))
  for (const e of batches) {
    t.deepEqual(Object.keys(e).sort(), ['batch', 'batches', 'epoch', 'imagesPerSecond', 'learningRate', 'loss', 'type'])
    t.true(Number.isFinite(e.loss) && e.imagesPerSecond > 0)
  }
  const order = batches.map((e) => [e.epoch, e.batch])
  t.deepEqual(order, [1, 2, 3].flatMap((epoch) => Array.from({ length: 8 }, (_, i) => [epoch, i + 1])))
  t.deepEqual(epochs.map((e) => e.epoch), [1, 2, 3])
  for (const e of epochs) {
    for (const key of ['epoch', 'epochs', 'loss', 'accuracy', 'valLoss', 'valAccuracy', 'seconds']) t.true(key in e, key)
    t.is(e.epochs, 3)
  }
  // Each epoch event follows its epoch's last batch; 'end' comes last.
  const index = (type, epoch) => events.findIndex((e) => e.type === type && e.epoch === epoch && (type !== 'batch' || e.batch === 8))
  for (const epoch of [1, 2, 3]) t.true(index('epoch', epoch) > index('batch', epoch))
  t.is(events.at(-1).type, 'end')
  t.deepEqual(events.filter((e) => e.type === 'warning'), [])
})

test('the event loop stays free while training runs', (t) => {
  t.log(`largest setInterval gap: ${largestGapMs.toFixed(1)} ms`)
  t.true(largestGapMs < 250, `largest gap ${largestGapMs} ms`)
})

test('predict takes a path, a Buffer or an array; probabilities sum to 1', async (t) => {
  const model = result.model
  const discPath = join(data, 'test', 'disc', 'disc-000.jpg')
  const byPath = await model.predict(discPath, { topK: 3 })
  t.is(byPath.length, 3)
  t.true(byPath.every((p) => model.classes[p.index] === p.label))
  t.true(Math.abs(byPath.reduce((sum, p) => sum + p.probability, 0) - 1) < 1e-5)
  t.true(byPath[0].probability >= byPath[1].probability)

  // Equal up to float rounding: the addon's kernels may block their sums differently from one
  // call to the next (docs/NOTES.md, "Batched results round differently").
  const byBuffer = await model.predict(readFileSync(discPath), { topK: 3 })
  t.true(predictionsAgree(byBuffer, byPath), `${JSON.stringify(byBuffer)} vs ${JSON.stringify(byPath)}`)

  const batch = await model.predict([discPath, sampleJpeg('stripes'), sampleJpeg('square')], { topK: 1 })
  t.is(batch.length, 3)
  // In a batch of three the convolutions may block their sums differently than for one
  // image (oneDNN picks kernels by shape): the same class, probabilities within float rounding.
  t.is(batch[0].length, 1)
  t.like(batch[0][0], { index: byPath[0].index, label: byPath[0].label })
  t.true(Math.abs(batch[0][0].probability - byPath[0].probability) <= 1e-5, `${batch[0][0].probability} vs ${byPath[0].probability}`)
  t.deepEqual(batch.map((ranked) => ranked.length), [1, 1, 1])
})

test('save, loadModel and the top-level functions give the same predictions', async (t) => {
  const saved = mkdtempSync(join(tmpdir(), 'resnet-saved-'))
  t.teardown(() => rmSync(saved, { recursive: true, force: true }))
  await result.model.save(saved)
  const meta = JSON.parse(readFileSync(join(saved, 'model.json'), 'utf8'))
  t.like(meta, { format: 'resnet-napi/1', arch: 'resnet18', imageSize: 64, preprocess: { resize: 'stretch', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } })
  const inputs = [join(data, 'test', 'square', 'square-001.jpg'), join(data, 'test', 'stripes', 'stripes-004.png')]
  const before = await result.model.predict(inputs, { topK: 3 })
  const reloaded = await resnet.loadModel(saved, { device: 'cpu' })
  const agreeWithBefore = (answers) => answers.length === before.length &&
    answers.every((answer, i) => predictionsAgree(answer, before[i]))
  t.true(agreeWithBefore(await reloaded.predict(inputs, { topK: 3 })))
  t.true(agreeWithBefore(await resnet.predict(saved, inputs, { topK: 3 })))
  // The output directory itself is a loadable model (the last completed epoch).
  t.true(agreeWithBefore(await resnet.predict(output, inputs, { topK: 3 })))
})

test('evaluate agrees with the last epoch validation accuracy', async (t) => {
  const evaluation = await resnet.evaluate(output, data)
  t.is(evaluation.count, 45)
  t.true(Math.abs(evaluation.accuracy - result.history.at(-1).valAccuracy) < 1e-9)
  t.true(Math.abs(evaluation.loss - result.history.at(-1).valLoss) < 1e-6)
  t.is(evaluation.top5, 1)
  t.is(evaluation.perClass.length, 3)
  t.is(evaluation.confusion.flat().reduce((a, b) => a + b, 0), 45)
  const mistakes = 45 - evaluation.confusion.reduce((sum, row, i) => sum + row[i], 0)
  t.is(evaluation.mostConfused.reduce((sum, pair) => sum + pair.count, 0), mistakes)
  t.deepEqual(evaluation.skipped, [])
})

test('resume continues a run from its last epoch, into the same directory', async (t) => {
  const first = await resnet.train({ data, output: join(work, 'resumable'), arch: 'resnet18', epochs: 1, imageSize: 32, batchSize: 16, device: 'cpu', schedule: 'cosine', optimizer: 'adamw' })
  const epochs = []
  const run = resnet.train({ data, resume: first.output, arch: 'resnet18', epochs: 2, imageSize: 32, batchSize: 16, device: 'cpu', schedule: 'cosine', optimizer: 'adamw' })
  run.on('epoch', (e) => epochs.push(e.epoch))
  const second = await run
  t.deepEqual(epochs, [2])
  t.is(second.output, first.output)
  t.is(second.history.length, 2)
  t.deepEqual(second.history[0], first.history[0])
  t.true(second.bestEpoch === 1 || second.bestEpoch === 2)
  const mismatch = await t.throwsAsync(resnet.train({ data, resume: first.output, arch: 'resnet34', epochs: 3, imageSize: 32, device: 'cpu' }))
  t.is(mismatch.code, 'ERR_INVALID_OPTION')
  t.regex(mismatch.message, /resnet34.*checkpoint.*resnet18/)
})

test('embed gives the pooled features; 200 concurrent predicts agree; dispose frees the model', async (t) => {
  const model = await resnet.loadModel(output, { device: 'cpu' })
  const path = join(data, 'test', 'square', 'square-002.jpg')
  const [one, again] = await Promise.all([model.embed(path), model.embed(readFileSync(path))])
  t.true(one instanceof Float32Array)
  t.is(one.length, 512)
  t.deepEqual(one, again)
  t.true(one.some((value) => value !== 0))
  const batch = await model.embed([path, join(data, 'test', 'disc', 'disc-002.jpg')])
  // Batched convolutions may round differently in the last bits.
  t.true(batch[0].every((value, i) => Math.abs(value - one[i]) < 1e-4))

  const inputs = ['disc', 'square', 'stripes'].map((kind) => join(data, 'test', kind, `${kind}-003.jpg`))
  const expected = []
  for (const input of inputs) expected.push(await model.predict(input, { topK: 2 }))
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => model.predict(inputs[i % 3], { topK: 2 })))
  answers.forEach((answer, i) => t.true(predictionsAgree(answer, expected[i % 3]), `answer ${i}: ${JSON.stringify(answer)}`))

  model.dispose()
  const error = await t.throwsAsync(model.predict(path))
  t.is(error.code, 'ERR_INVALID_OPTION')
  t.regex(error.message, /dispose/)
  t.is(model.classes.length, 3)
})
