// The first call into the library loads libtorch (0.35-0.65 s of dynamic linking and static
// initialisers): loadModel(), train() and preload() do it in a worker thread, so a server's
// event loop is never held for it (train() checks its options first with the options addon,
// which links no libtorch). Each case runs in a fresh process, where nothing is loaded yet.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

const root = join(import.meta.dirname, '..')

/** Runs `body` (an async function's body, given `resnet` and `dir`) in a fresh node with a
 *  2 ms timer, and returns the largest gap the timer saw and what `body` returned. */
function firstCall(body, dir) {
  const script = `
    const started = performance.now()
    const resnet = require(${JSON.stringify(join(root, 'dist', 'index.js'))})
    const importMs = performance.now() - started
    let last = performance.now(), largestGapMs = 0
    const timer = setInterval(() => { const now = performance.now(); largestGapMs = Math.max(largestGapMs, now - last); last = now }, 2)
    ;(async (dir) => { ${body} })(${JSON.stringify(dir)}).then((result) => {
      clearInterval(timer)
      console.log(JSON.stringify({ importMs, largestGapMs, result }))
    })`
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 })
  if (run.status !== 0) throw new Error(run.stderr)
  return JSON.parse(run.stdout.trim().split('\n').at(-1))
}

test('importing is instant; the first loadModel() and preload() + runtimeInfo() hold the event loop at most 50 ms', async (t) => {
  const dir = temporaryDir(t)
  makeDataset(join(dir, 'data'), { train: 2, test: 1, minSize: 32, maxSize: 40 })
  const { model } = await resnet.train({ data: join(dir, 'data'), arch: 'resnet18', imageSize: 32, batchSize: 6, epochs: 1, device: 'cpu', output: join(dir, 'model'), recipe: 'notebook' })
  model.dispose()

  const load = firstCall(`const model = await resnet.loadModel(dir + '/model'); const arch = model.arch; model.dispose(); return arch`, dir)
  t.log(`import ${load.importMs.toFixed(1)} ms; first loadModel: largest gap ${load.largestGapMs.toFixed(1)} ms`)
  t.is(load.result, 'resnet18')
  t.true(load.importMs < 200, `import took ${load.importMs} ms`)
  t.true(load.largestGapMs <= 50, `the first loadModel held the event loop ${load.largestGapMs} ms`)

  const info = firstCall(`await resnet.preload(); return resnet.runtimeInfo().threads`, dir)
  t.log(`preload + runtimeInfo: largest gap ${info.largestGapMs.toFixed(1)} ms`)
  t.true(info.result >= 1)
  t.true(info.largestGapMs <= 50, `preload + runtimeInfo held the event loop ${info.largestGapMs} ms`)
})

test('the first train() holds the event loop at most 50 ms, and still throws a bad option at once', async (t) => {
  const dir = temporaryDir(t)
  makeDataset(join(dir, 'data'), { train: 2, test: 1, minSize: 32, maxSize: 40 })
  const first = firstCall(`
    let thrown = null
    try { resnet.train({ data: dir + '/data', epochs: -1 }) } catch (error) { thrown = error.code }
    const { model, history } = await resnet.train({ data: dir + '/data', arch: 'resnet18', imageSize: 32, batchSize: 6, epochs: 1, device: 'cpu', output: dir + '/model', recipe: 'notebook' })
    model.dispose()
    return { thrown, epochs: history.length }`, dir)
  t.log(`first train(): largest gap ${first.largestGapMs.toFixed(1)} ms`)
  t.deepEqual(first.result, { thrown: 'ERR_INVALID_OPTION', epochs: 1 })
  t.true(first.largestGapMs <= 50, `the first train() held the event loop ${first.largestGapMs} ms`)
})
