// The defaults a new user gets (the standard recipe) and the notebook's settings, imbalanced
// folders (class counts, balanced class weights, the report's warning), and test-time
// augmentation in predict and evaluate.
import test from 'ava'
import { readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

const small = { arch: 'resnet18', imageSize: 32, batchSize: 8, device: 'cpu' }

test('defaults: AdamW with one-cycle from lr/25 up to 0.003; recipe notebook: Adam at a constant 0.005', async (t) => {
  const work = temporaryDir(t)
  const data = join(work, 'shapes')
  makeDataset(data, { train: 8, test: 2 })
  const rates = async (options) => {
    const seen = []
    const run = resnet.train({ data, ...small, epochs: 2, ...options })
    run.on('batch', (event) => seen.push(event.learningRate))
    const { model } = await run
    model.dispose()
    return seen
  }
  const standard = await rates({ output: join(work, 'standard') })
  t.true(Math.abs(standard[0] - 0.003 / 25) < 1e-9, `first rate ${standard[0]}`)
  t.true(Math.abs(Math.max(...standard) - 0.003) < 1e-9, 'peaks at 0.003')
  t.true(standard.at(-1) < 1e-5, 'ends near zero')
  const notebook = await rates({ recipe: 'notebook', output: join(work, 'notebook') })
  t.deepEqual([...new Set(notebook)], [0.005])
  const meta = JSON.parse(readFileSync(join(work, 'notebook', 'model.json'), 'utf8'))
  t.deepEqual(meta.preprocess, { resize: 'stretch', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] })
})

test('an imbalanced folder: class counts in the start event, balanced class weights train, the report warns', async (t) => {
  const work = temporaryDir(t)
  const data = join(work, 'shapes')
  makeDataset(data, { train: 20, test: 2 })
  const discs = join(data, 'train', 'disc')
  for (const name of readdirSync(discs).slice(2)) rmSync(join(discs, name))
  let start
  const run = resnet.train({ data, ...small, epochs: 1, classWeights: 'balanced', output: join(work, 'run') })
  run.on('start', (event) => (start = event))
  const { model, report } = await run
  t.deepEqual(start.classes, ['disc', 'square', 'stripes'])
  t.deepEqual(start.classCounts, [2, 20, 20])
  const html = readFileSync(report, 'utf8')
  t.regex(html, /id="class-counts"[^<]*Training images per class/)
  t.regex(html, /id="imbalance"/)
  model.dispose()

  const balanced = await resnet.train({ data, ...small, epochs: 1, output: join(work, 'balanced'), classWeights: 'equal' })
  balanced.model.dispose()
  const error = t.throws(() => resnet.train({ data, ...small, classWeights: 'inverse', output: join(work, 'x') }))
  t.is(error.code, 'ERR_INVALID_OPTION')
})

/** A PNG of random blocks, and the same picture mirrored left to right. */
function pictureAndMirror(width = 48, height = 40) {
  const picture = new PNG({ width, height })
  const mirror = new PNG({ width, height })
  let state = 12345
  const next = () => ((state = (state * 1103515245 + 12345) >>> 0) >>> 24)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = (y * width + x) * 4
      const mirrored = (y * width + (width - 1 - x)) * 4
      for (let c = 0; c < 3; c++) {
        const value = (x * (c + 3) + y * (5 - c) * 7 + next()) & 255
        picture.data[offset + c] = value
        mirror.data[mirrored + c] = value
      }
      picture.data[offset + 3] = mirror.data[mirrored + 3] = 255
    }
  }
  return [PNG.sync.write(picture), PNG.sync.write(mirror)]
}

const softmax = (logits) => {
  const top = Math.max(...logits)
  const exps = Array.from(logits, (value) => Math.exp(value - top))
  const sum = exps.reduce((a, b) => a + b, 0)
  return exps.map((value) => value / sum)
}

test('tta: predict averages the probabilities of the image and its mirror image; evaluate takes it too', async (t) => {
  const work = temporaryDir(t)
  const data = join(work, 'shapes')
  makeDataset(data, { train: 6, test: 3 })
  const { model } = await resnet.train({ data, ...small, epochs: 1, resize: 'stretch', output: join(work, 'run') })
  const [picture, mirror] = pictureAndMirror()
  const [plain, mirrored] = await model.logits([picture, mirror])
  const expected = softmax(plain).map((p, index) => (p + softmax(mirrored)[index]) / 2)
  const ranked = await model.predict(picture, { topK: 3, tta: true })
  for (const { index, probability } of ranked) t.true(Math.abs(probability - expected[index]) < 1e-5, `class ${index}: ${probability} vs ${expected[index]}`)
  const withoutTta = await model.predict(picture, { topK: 3 })
  t.true(withoutTta.some(({ index, probability }) => Math.abs(probability - expected[index]) > 1e-5), 'tta changes the probabilities')

  const plainEvaluation = await model.evaluate(data)
  const ttaEvaluation = await model.evaluate(data, { tta: true })
  t.is(ttaEvaluation.count, plainEvaluation.count)
  t.true(ttaEvaluation.loss > 0 && ttaEvaluation.accuracy >= 0 && ttaEvaluation.accuracy <= 1)
  t.not(ttaEvaluation.loss, plainEvaluation.loss)
  const error = await t.throwsAsync(model.predict(picture, { tta: 'yes' }))
  t.is(error.code, 'ERR_INVALID_OPTION')
  model.dispose()
})
