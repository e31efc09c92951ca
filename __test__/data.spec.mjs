// Real folders are messy: every unreadable file is reported (path and reason) and counted,
// readable oddities train normally, and the other layouts and recipes work.
import test from 'ava'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import jpeg from 'jpeg-js'
import { PNG } from 'pngjs'
import { makeDataset, sampleJpeg } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

// The smallest valid GIF: one transparent pixel.
const TINY_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')

function rgbaPng(width, height) {
  const png = new PNG({ width, height })
  for (let i = 0; i < width * height; i++) png.data.set([200, 30, 30, 100 + (i % 100)], i * 4)
  return PNG.sync.write(png)
}

/** A JPEG whose start-of-frame claims 30000 x 30000 pixels. */
function bombJpeg() {
  const bytes = Buffer.from(sampleJpeg('disc', { width: 16, height: 16 }))
  const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]))
  bytes.writeUInt16BE(30000, sof + 5)
  bytes.writeUInt16BE(30000, sof + 7)
  return bytes
}

test('unreadable files become warnings with path and reason; oddities that decode are used', async (t) => {
  const dir = temporaryDir(t)
  const data = join(dir, 'data')
  makeDataset(data, { train: 8, test: 3 })
  const disc = join(data, 'train', 'disc')
  const good = sampleJpeg('disc')
  const bad = {
    [join(disc, 'empty.jpg')]: [Buffer.alloc(0), /empty file/],
    [join(disc, 'notes.jpg')]: [Buffer.from('not a picture at all'), /not an image/],
    [join(disc, 'truncated.jpg')]: [good.subarray(0, Math.floor(good.length / 3)), /truncated JPEG/],
    [join(disc, 'bomb.jpg')]: [bombJpeg(), /30000x30000.*limit/],
  }
  for (const [path, [bytes]] of Object.entries(bad)) writeFileSync(path, bytes)
  const readable = [join(disc, 'photo123jpg'), join(disc, 'x.JPG'), join(disc, 'alpha.png'), join(disc, 'tiny.gif'), join(disc, 'Übergröße 猫 photo.jpg')]
  writeFileSync(readable[0], good)
  writeFileSync(readable[1], good)
  writeFileSync(readable[2], rgbaPng(50, 40))
  writeFileSync(readable[3], TINY_GIF)
  writeFileSync(readable[4], good)
  mkdirSync(join(data, 'train', 'square', 'empty-subfolder'))
  const emptyClass = join(data, 'test', 'stripes-extra')
  mkdirSync(join(data, 'train', 'stripes-extra'))
  mkdirSync(emptyClass)

  const run = resnet.train({ data, output: join(dir, 'out'), arch: 'resnet18', epochs: 1, imageSize: 32, batchSize: 8, device: 'cpu', recipe: 'notebook' })
  const warnings = []
  let start
  run.on('warning', (w) => warnings.push(w))
  run.on('start', (s) => { start = s })
  const result = await run
  for (const [path, [, reason]] of Object.entries(bad)) {
    const warning = warnings.find((w) => w.path === path)
    t.truthy(warning, `no warning for ${path}: ${JSON.stringify(warnings)}`)
    t.regex(warning.message, reason)
    t.true(warning.message.includes(path))
  }
  for (const path of readable) t.falsy(warnings.find((w) => w.path === path), `${path} should train`)
  t.truthy(warnings.find((w) => w.path === emptyClass && /no files/.test(w.message)))
  t.is(start.trainImages, 3 * 8 + 5 + 4 - 2) // the two refused at scan time are not counted
  t.is(result.skipped, warnings.length)
  t.deepEqual(result.model.classes, ['disc', 'square', 'stripes', 'stripes-extra'])
})

test('a single folder is split per class by validationSplit', async (t) => {
  const dir = temporaryDir(t)
  makeDataset(join(dir, 'data'), { train: 12, test: 0 })
  const run = resnet.train({ data: join(dir, 'data', 'train'), validationSplit: 0.25, output: join(dir, 'out'), arch: 'resnet18', epochs: 1, imageSize: 32, batchSize: 12, device: 'cpu' })
  let start
  run.on('start', (s) => { start = s })
  const result = await run
  t.is(start.trainImages, 27)
  t.is(start.validationImages, 9)
  t.true(result.history[0].valAccuracy !== null)
})

test('the standard recipe records its transforms in model.json and predict uses them', async (t) => {
  const dir = temporaryDir(t)
  makeDataset(join(dir, 'data'), { train: 10, test: 4 })
  const output = join(dir, 'out')
  const result = await resnet.train({ data: join(dir, 'data'), output, arch: 'resnet18', epochs: 1, imageSize: 48, batchSize: 10, device: 'cpu', cache: 'memory' })
  const meta = JSON.parse(readFileSync(join(output, 'model.json'), 'utf8'))
  t.deepEqual(meta.preprocess.resize, 'crop')
  t.deepEqual(meta.preprocess.mean.map((m) => Math.round(m * 1000)), [485, 456, 406])
  t.deepEqual(meta.train.cropScale, [0.35, 1])
  t.deepEqual(meta.train.cropRatio.map((r) => r.toFixed(4)), ['0.7500', '1.3333'])
  t.true(meta.train.horizontalFlip)
  t.deepEqual(result.model.preprocess, meta.preprocess)
  const evaluation = await result.model.evaluate(join(dir, 'data'))
  t.true(Math.abs(evaluation.accuracy - result.history[0].valAccuracy) < 1e-9)
})
