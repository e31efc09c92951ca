// How free does training leave Node's event loop? A 5 ms setInterval runs in the same process
// as train() (resnet18, 64 px, generated images); the gaps between its ticks are what a server
// training in the background would add to its answers. Runs each setting in a fresh process
// (libtorch's thread pool reads its environment once), on an idle machine and beside busy
// processes (one per core, as a build), and prints one JSON line per run: the largest and the
// 99th-percentile gap, the training throughput, and how long the first call (loading libtorch,
// before the timer starts) held the thread.
//
// usage: node bench/event-loop.mjs [--quick]          (the driver: every setting, idle and busy)
//        node bench/event-loop.mjs --worker DATA OUT  (one run, with the environment it is given)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { makeDataset } from '../scripts/make-dataset.mjs'

const { values: flags, positionals } = parseArgs({ allowPositionals: true, options: { worker: { type: 'boolean' }, quick: { type: 'boolean' } } })

if (flags.worker) {
  const { train, runtimeInfo } = await import('../dist/index.js')
  const [data, output] = positionals
  // Loading libtorch (the first call into the library) holds the thread once, for as long as
  // the dynamic loader takes: timed on its own, before the timer starts.
  const loading = performance.now()
  runtimeInfo()
  const loadMs = performance.now() - loading
  const gaps = []
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    gaps.push(now - last)
    last = now
  }, 5)
  let lastBatch
  const run = train({ data, output, arch: 'resnet18', imageSize: 64, batchSize: 32, epochs: Number(process.env.EPOCHS ?? 2), device: 'cpu', seed: 1 })
  run.on('batch', (event) => { lastBatch = event })
  await run
  clearInterval(timer)
  gaps.sort((a, b) => a - b)
  const p99 = gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * 0.99))]
  console.log(JSON.stringify({ kind: 'event-loop', maxGapMs: Number(gaps.at(-1).toFixed(1)), p99GapMs: Number(p99.toFixed(1)), ticks: gaps.length, imagesPerSecond: Number(lastBatch.imagesPerSecond.toFixed(1)), loadMs: Number(loadMs.toFixed(1)) }))
  process.exit(0)
}

const work = mkdtempSync(join(tmpdir(), 'resnet-event-loop-'))
const data = join(work, 'shapes')
makeDataset(data, { train: flags.quick ? 20 : 200, test: 10, maxSize: 160 })
const self = fileURLToPath(import.meta.url)
const settings = [
  { name: 'default', env: {} },
  { name: 'OMP_WAIT_POLICY=PASSIVE', env: { OMP_WAIT_POLICY: 'PASSIVE' } },
]
/** One worker run; resolves with its JSON line. */
function measure(setting, busy) {
  return new Promise((resolve, reject) => {
    const burners = busy ? cpus().map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })) : []
    const child = spawn(process.execPath, [self, '--worker', data, join(work, 'out')], { env: { ...process.env, ...setting.env, EPOCHS: flags.quick ? '1' : '2' }, stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (chunk) => { text += chunk })
    child.on('close', (code) => {
      burners.forEach((burner) => burner.kill())
      if (code !== 0) return reject(new Error(`${setting.name} exited with ${code}`))
      resolve({ setting: setting.name, busy, ...JSON.parse(text.trim().split('\n').at(-1)) })
    })
  })
}
try {
  for (const busy of [false, true]) {
    for (const setting of settings) console.log(JSON.stringify(await measure(setting, busy)))
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
