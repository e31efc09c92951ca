// Dynamic batching: concurrent predict / embed / logits calls on one model share forward
// passes, and each caller gets exactly what it would get alone.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

const KINDS = ['disc', 'square', 'stripes']

async function trainedModel(t) {
  const dir = temporaryDir(t)
  const data = join(dir, 'data')
  makeDataset(data, { train: 4, test: 3, minSize: 32, maxSize: 48 })
  await resnet.train({ data, arch: 'resnet18', imageSize: 32, batchSize: 6, epochs: 1, device: 'cpu', seed: 3, output: join(dir, 'model'), recipe: 'notebook' })
  const images = KINDS.flatMap((kind) => [0, 1, 2].map((n) => join(data, 'test', kind, `${kind}-00${n}.jpg`)))
  return { output: join(dir, 'model'), images }
}

function close(t, actual, expected, what) {
  t.is(actual.length, expected.length, what)
  const worst = Math.max(...actual.map((value, i) => Math.abs(value - expected[i])))
  t.true(worst <= 1e-4, `${what}: differs by ${worst}`)
}

function samePredictions(t, actual, expected, what) {
  t.deepEqual(actual.map((p) => p.label), expected.map((p) => p.label), what)
  close(t, actual.map((p) => p.probability), expected.map((p) => p.probability), what)
}

test('concurrent calls, mixed kinds, paths and Buffers, TTA and a bad image: each gets its own result', async (t) => {
  const { output, images } = await trainedModel(t)
  const alone = await resnet.loadModel(output, { maxBatch: 1 })
  const gathered = await resnet.loadModel(output, { maxBatch: 8, maxDelayMs: 300 })
  t.teardown(() => [alone, gathered].forEach((model) => model.dispose()))
  const buffer = (path) => readFileSync(path)
  // Each call: what it asks, run against a model. Paths and Buffers mixed, one and two images.
  const calls = [
    (m) => m.predict(images[0], { topK: 2 }),
    (m) => m.predict(buffer(images[1]), { topK: 3 }),
    (m) => m.logits(images[2]),
    (m) => m.predict([images[3], buffer(images[4])], { topK: 1 }),
    (m) => m.embed(buffer(images[5])),
    (m) => m.predict(images[6], { topK: 3, tta: true }),
    (m) => m.predict(Buffer.from('not an image at all'), { topK: 3 }),
    (m) => m.logits([buffer(images[7]), images[8]]),
    (m) => m.predict(images[8], { topK: 3 }),
  ]
  const expected = []
  for (const call of calls) expected.push(await call(alone).then((value) => ({ value }), (error) => ({ error })))
  const results = await Promise.allSettled(calls.map((call) => call(gathered)))

  t.is(results[6].status, 'rejected')
  t.is(results[6].reason.code, 'ERR_IMAGE_DECODE')
  t.regex(results[6].reason.message, /buffer/)
  t.is(expected[6].error.code, 'ERR_IMAGE_DECODE')
  results.forEach((result, i) => {
    if (i === 6) return
    t.is(result.status, 'fulfilled', `call ${i}: ${result.reason?.message}`)
  })
  const value = (i) => results[i].value
  samePredictions(t, value(0), expected[0].value, 'predict path')
  samePredictions(t, value(1), expected[1].value, 'predict Buffer')
  close(t, Array.from(value(2)), Array.from(expected[2].value), 'logits')
  value(3).forEach((row, i) => samePredictions(t, row, expected[3].value[i], `predict pair #${i}`))
  close(t, Array.from(value(4)), Array.from(expected[4].value), 'embed')
  samePredictions(t, value(5), expected[5].value, 'predict tta')
  value(7).forEach((row, i) => close(t, Array.from(row), Array.from(expected[7].value[i]), `logits pair #${i}`))
  samePredictions(t, value(8), expected[8].value, 'predict last')

  const stats = gathered.batching
  t.is(stats.maxBatch, 8)
  t.is(stats.maxDelayMs, 300)
  t.is(stats.calls, calls.length)
  t.is(stats.images, 10, 'the bad image never reached a pass')
  // Three kinds of pass (logits, features, logits with TTA) are needed at least; the seven
  // calls of a kind were gathered into fewer passes than calls.
  t.true(stats.passes < calls.length - 1, `passes: ${stats.passes}`)
  t.true(stats.largestBatch >= 2, `largest batch: ${stats.largestBatch}`)
  t.is(alone.batching.largestBatch, 1, 'with maxBatch 1 every gathered pass holds one image')
  t.is(alone.batching.calls, calls.length - 2, 'the two-image calls ran alone, outside a batcher of one')
})

test('a call of more images than maxBatch runs alone; dispose fails the waiting calls with ERR_INVALID_OPTION', async (t) => {
  const { output, images } = await trainedModel(t)
  const model = await resnet.loadModel(output, { maxBatch: 2, maxDelayMs: 2000 })
  const many = await model.predict(images, { topK: 1 })
  t.is(many.length, images.length)
  t.is(model.batching.calls, 0, 'nine images bypass a batcher of two')
  const waiting = model.predict(images[0])
  // The lone call waits (up to 2 s) for a second image; disposing ends that wait.
  await new Promise((resolve) => setTimeout(resolve, 200))
  model.dispose()
  const error = await t.throwsAsync(waiting)
  t.is(error.code, 'ERR_INVALID_OPTION')
  t.regex(error.message, /dispose/)
})

test('a model waiting for a fuller batch does not hold the torch thread: another model answers meanwhile', async (t) => {
  const { output, images } = await trainedModel(t)
  const patient = await resnet.loadModel(output, { maxBatch: 8, maxDelayMs: 1500 })
  const prompt = await resnet.loadModel(output)
  t.teardown(() => [patient, prompt].forEach((model) => model.dispose()))
  await prompt.predict(images[0]) // both models' first pass (oneDNN's kernels) before the race
  const order = []
  const started = performance.now()
  const waiting = patient.predict(images[1]).then(() => order.push(['patient', performance.now() - started]))
  await new Promise((resolve) => setTimeout(resolve, 100))
  await prompt.predict(images[2]).then(() => order.push(['prompt', performance.now() - started]))
  await waiting
  t.log(order.map(([name, ms]) => `${name} ${ms.toFixed(0)} ms`).join(', '))
  t.deepEqual(order.map(([name]) => name), ['prompt', 'patient'], 'the lone call waits for its batch; the other model does not wait with it')
  t.true(order[1][1] >= 1400, `the patient call was held ${order[1][1]} ms, not its 1500 ms delay`)
})

test('loadModel checks maxBatch and maxDelayMs', async (t) => {
  for (const [options, pattern] of [
    [{ maxBatch: 0 }, /maxBatch/],
    [{ maxBatch: 2.5 }, /maxBatch/],
    [{ maxDelayMs: -1 }, /maxDelayMs/],
    [{ maxDelayMs: '5' }, /maxDelayMs/],
  ]) {
    const error = await t.throwsAsync(resnet.loadModel('/nonexistent', options))
    t.is(error.code, 'ERR_INVALID_OPTION')
    t.regex(error.message, pattern)
  }
})
