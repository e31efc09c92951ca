// report.html: a training run writes it into its output directory, self-contained; headless
// Chromium (with the network cut off) draws its three charts and its image grid, checked in
// the DOM and in a screenshot's pixels. An aborted run writes its completed epochs' curves.
import test from 'ava'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { attributesOf, inkIn, parseRect, pixelsNear, renderPage } from './chromium.mjs'
import { resnet } from './helpers.mjs'
import { decimalTicks } from '../dist/report-page.js'

const work = mkdtempSync(join(tmpdir(), 'resnet-report-'))
const data = join(work, 'shapes')
const output = join(work, 'run')
const VALIDATION_IMAGES = 3 * 17
const SHOWN = 48
const unionEvents = []
const batchEvents = []
let endEvent
let result

test.before(async () => {
  makeDataset(data, { train: 24, test: 17 })
  const run = resnet.train({
    data, output, arch: 'resnet18', epochs: 2, imageSize: 32, batchSize: 16, learningRate: 0.002, device: 'cpu', seed: 3,
    schedule: 'cosine', warmupEpochs: 1,
  })
  run.on('event', (event) => unionEvents.push(event))
  run.on('batch', (event) => batchEvents.push(event))
  run.on('end', (event) => { endEvent = event })
  result = await run
})

test.after.always(() => rmSync(work, { recursive: true, force: true }))

// The page's line colours: train series blue, validation red, learning rate green.
const [BLUE, RED, GREEN] = [[37, 99, 235], [220, 38, 38], [5, 150, 105]]
const SERIES_COLOURS = { loss: [BLUE, RED], accuracy: [BLUE, RED], learningRate: [GREEN] }

const html = () => readFileSync(join(output, 'report.html'), 'utf8')
const chartData = (page) => JSON.parse(/<script type="application\/json" id="report-chart-data">([\s\S]*?)<\/script>/.exec(page)[1])

test('every run writes a self-contained report.html into its output directory', (t) => {
  t.is(result.report, join(output, 'report.html'))
  t.is(endEvent.report, result.report)
  const page = html()
  t.true(page.startsWith('<!doctype html>'))
  // Nothing to fetch: no stylesheet links, no imports, every src/href a data: URI.
  t.false(/<link\b/i.test(page))
  t.false(/@import|url\(\s*['"]?https?:/i.test(page))
  const references = [...page.matchAll(/\s(?:src|href)\s*=\s*"([^"]*)"/gi)].map((match) => match[1])
  t.true(references.length >= SHOWN)
  t.deepEqual(references.filter((reference) => !reference.startsWith('data:')), [])
  t.true(page.length < 1_000_000, `${page.length} bytes`)
  t.deepEqual(readdirSync(output).filter((name) => name.startsWith('.tmp-')), [], 'no temporary file left behind')
})

test('headless Chromium draws the three charts and the image grid', async (t) => {
  const ready = (page) => attributesOf(page, 'body')['data-report-ready'] === 'true'
  const { dom, png } = await renderPage(join(output, 'report.html'), { width: 1280, height: 2600, until: ready })
  const body = attributesOf(dom, 'body')
  t.is(body['data-report-ready'], 'true')
  t.is(body['data-charts-expected'], '3')
  t.is(body['data-charts-drawn'], '3')
  t.is(body['data-images-loaded'], String(SHOWN))
  t.is(body['data-images-failed'], '0')
  const grid = /<div id="worst-grid"[^>]*>([\s\S]*?)<\/section>/.exec(dom)[1]
  t.is([...grid.matchAll(/<img\b/g)].length, SHOWN)
  const confusion = /<table id="confusion"[\s\S]*?<\/table>/.exec(dom)[0]
  t.is([...confusion.matchAll(/<td\b/g)].length, 9)
  const perClass = /<table id="per-class"[\s\S]*?<\/table>/.exec(dom)[0]
  t.is([...perClass.matchAll(/<tr><th scope="row">/g)].length, 3)

  // The screenshot: each chart's plotting area and the grid hold drawn pixels of several
  // colours, while the page's left margin beside them is blank (so the check can fail).
  const charts = [...dom.matchAll(/data-chart="(\w+)"[^>]*data-rect="([^"]+)"/g)].map(([, name, rect]) => [name, parseRect(rect)])
  t.deepEqual(charts.map(([name]) => name), ['loss', 'accuracy', 'learningRate'])
  for (const [name, rect] of charts) {
    t.true(rect[2] > 200 && rect[3] > 100, `${name} plotting area ${rect}`)
    const { ink, colours } = inkIn(png, rect)
    t.true(ink > 0.01 && colours >= 3, `${name}: ink ${ink.toFixed(4)}, ${colours} colours`)
    // The series themselves, not only the axes: their line colours are there.
    for (const colour of SERIES_COLOURS[name]) t.true(pixelsNear(png, rect, colour) > 50, `${name}: too few pixels of ${colour}`)
    t.log(`${name}: ${(ink * 100).toFixed(1)}% ink, ${colours} colours`)
  }
  const gridRect = parseRect(attributesOf(dom, 'div', 'worst-grid')['data-rect'])
  t.true(gridRect[1] + gridRect[3] <= png.height, `grid ${gridRect} inside the ${png.height} px screenshot`)
  const gridInk = inkIn(png, gridRect)
  t.true(gridInk.ink > 0.2 && gridInk.colours > 20, `grid: ink ${gridInk.ink.toFixed(3)}, ${gridInk.colours} colours`)
  const margin = inkIn(png, [0, charts[0][1][1], 16, gridRect[1] + gridRect[3] - charts[0][1][1]])
  t.is(margin.ink, 0, 'the left margin is blank')
})

test('the checks fail on a page whose chart library is missing', async (t) => {
  // A control: the same report without uPlot must be seen as not drawn, and its chart
  // areas as blank.
  const broken = join(work, 'broken.html')
  const withoutLibrary = html().replace(/<script>(?:\/\*[^*]*\*\/\s*)?var uPlot=[\s\S]*?<\/script>/, '<script></script>')
  t.true(withoutLibrary.length < html().length - 40_000, 'the inlined uPlot was removed')
  writeFileSync(broken, withoutLibrary)
  const { dom, png } = await renderPage(broken, { width: 1280, height: 1200 })
  t.not(attributesOf(dom, 'body')['data-charts-drawn'], '3')
  t.false(dom.includes('data-rect="'), 'no chart reported a drawn area')
  const chart = /<div class="chart" data-chart="loss"/.exec(dom)
  t.truthy(chart)
  // With nothing drawn the three chart boxes (200 px high, below the captions at about
  // y = 190 in this layout) stay white.
  t.is(inkIn(png, [0, 205, png.width, 190]).ink, 0, 'the chart row is blank')
})

test('the grid shows the highest-loss validation images first, with true and predicted labels', async (t) => {
  const page = html()
  const cards = [...page.matchAll(/<figure class="sample (wrong|right)"[\s\S]*?true: ([^<]*)<\/span>\s*<span class="predicted">predicted: (\S+) [\d.]+%<\/span>\s*<span class="loss">loss ([\d.]+)<\/span>/g)]
  t.is(cards.length, SHOWN)
  const losses = cards.map((card) => Number(card[4]))
  t.deepEqual(losses, [...losses].sort((a, b) => b - a), 'highest loss first')
  for (const [, frame, actual, predicted] of cards) {
    t.true(result.model.classes.includes(actual) && result.model.classes.includes(predicted))
    t.is(frame, actual === predicted ? 'right' : 'wrong')
  }
  // The report's validation is the final model's: evaluate() on the same images agrees.
  const evaluation = await result.model.evaluate(data)
  t.is(evaluation.count, VALIDATION_IMAGES)
  t.true(page.includes(`${VALIDATION_IMAGES} images: accuracy ${(evaluation.accuracy * 100).toFixed(1)}%`))
  const mistakes = evaluation.count - evaluation.confusion.reduce((sum, row, i) => sum + row[i], 0)
  t.is(cards.filter(([, frame]) => frame === 'wrong').length, Math.min(mistakes, SHOWN))
})

test('the learning-rate chart has one point per update, as the batch events report', (t) => {
  const { learningRate, epochs, loss, valAccuracy } = chartData(html())
  t.deepEqual(epochs, [1, 2])
  t.deepEqual(loss, result.history.map((epoch) => epoch.loss))
  t.deepEqual(valAccuracy, result.history.map((epoch) => epoch.valAccuracy))
  t.is(batchEvents.length, 2 * Math.ceil(72 / 16))
  t.deepEqual(learningRate.y, batchEvents.map((event) => event.learningRate))
  t.deepEqual(learningRate.x, batchEvents.map((event) => event.epoch - 1 + event.batch / event.batches))
  // Warm-up over epoch 1, then cosine decay.
  const peak = learningRate.y.indexOf(Math.max(...learningRate.y))
  t.true(peak > 0 && peak < learningRate.y.length - 1, `peak at update ${peak}`)
  t.is(result.history.at(-1).learningRate, learningRate.y.at(-1))
})

test("the 'event' listener receives every event as one TrainingEvent union", (t) => {
  t.is(unionEvents[0].type, 'start')
  t.is(unionEvents.at(-1).type, 'end')
  t.deepEqual(new Set(unionEvents.map((event) => event.type)), new Set(['start', 'batch', 'epoch', 'checkpoint', 'end']))
  const batches = unionEvents.filter((event) => event.type === 'batch').map(({ type, ...payload }) => payload)
  t.deepEqual(batches, batchEvents)
  t.is(unionEvents.at(-1).report, result.report)
})

test('an aborted run writes report.html with the curves of its completed epochs', async (t) => {
  const abortedOutput = join(work, 'aborted')
  const controller = new AbortController()
  const EPOCHS = 20
  const run = resnet.train({
    data, output: abortedOutput, arch: 'resnet18', epochs: EPOCHS, imageSize: 32, batchSize: 16, device: 'cpu', seed: 3, signal: controller.signal,
  })
  // The batch event reaches this thread after the native loop has gone on; on a busy machine
  // (Chromium renders beside it) epoch 2 may end before the abort lands. The report must hold
  // exactly the epochs that completed, whichever those were.
  const completed = []
  run.on('epoch', (event) => completed.push(event.epoch))
  run.on('batch', (event) => { if (event.epoch === 2) controller.abort() })
  await t.throwsAsync(run, { code: 'ERR_ABORTED' })
  const file = join(abortedOutput, 'report.html')
  t.true(existsSync(file))
  const page = readFileSync(file, 'utf8')
  t.true(page.includes('id="aborted"'))
  t.true(completed.length >= 1 && completed.length < EPOCHS, `completed epochs: ${completed}`)
  t.deepEqual(completed, completed.map((_, index) => index + 1))
  t.deepEqual(chartData(page).epochs, completed)
  const { dom } = await renderPage(file, { width: 1280, height: 1000 })
  t.is(attributesOf(dom, 'body')['data-charts-drawn'], '3')
})

test('learning-rate axis labels are distinct and exact: a constant 0.001 is not "0.001, 0.001, 0, 0"', (t) => {
  const ticks = [0, 0.0002, 0.0004, 0.0006, 0.0008, 0.001]
  t.deepEqual(decimalTicks(null, ticks), ['0', '0.0002', '0.0004', '0.0006', '0.0008', '0.0010'])
  t.deepEqual(decimalTicks(null, [0, 0.00025, 0.0005, 0.00075]), ['0', '0.00025', '0.00050', '0.00075'])
  t.deepEqual(decimalTicks(null, [0, 1, 2]), ['0', '1', '2'])
  t.deepEqual(decimalTicks(null, [0.5, 1, 1.5]), ['0.5', '1.0', '1.5'])
})
