// Data-parallel training on c10d's Gloo over 127.0.0.1: the same weights as one process with
// the whole batch, torchrun as launcher, a killed rank, and rank 0 alone writing files. Every
// child process has a deadline and is killed at teardown.
import test from 'ava'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const rankScript = join(root, '__test__', 'fixtures', 'train-rank.mjs')

/** The float32 tensors of a model directory's safetensors file, by name. */
function readWeights(dir) {
  const bytes = readFileSync(join(dir, 'model.safetensors'))
  const headerLength = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'))
  const start = 8 + headerLength
  const tensors = {}
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__' || info.dtype !== 'F32') continue
    const [begin, end] = info.data_offsets
    const copy = bytes.subarray(start + begin, start + end)
    tensors[name] = new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength))
  }
  return tensors
}

/** Over all tensors, the largest ||a - b|| / ||a|| (L2) and the largest max|a - b| / max|a|. */
function relativeDifferences(a, b) {
  const worst = { l2: 0, l2Name: null, max: 0, maxName: null }
  for (const [name, left] of Object.entries(a)) {
    const right = b[name]
    if (!right || right.length !== left.length) return { l2: Infinity, l2Name: name, max: Infinity, maxName: name }
    let [norm, differenceNorm, scale, difference] = [0, 0, 0, 0]
    for (let i = 0; i < left.length; i++) {
      const d = left[i] - right[i]
      norm += left[i] * left[i]
      differenceNorm += d * d
      scale = Math.max(scale, Math.abs(left[i]))
      difference = Math.max(difference, Math.abs(d))
    }
    const l2 = Math.sqrt(differenceNorm) / Math.max(Math.sqrt(norm), 1e-12)
    const max = difference / Math.max(scale, 1e-12)
    if (l2 > worst.l2) Object.assign(worst, { l2, l2Name: name })
    if (max > worst.max) Object.assign(worst, { max, maxName: name })
  }
  return worst
}

async function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Starts `command` with a deadline; resolves with its exit code and its stdout's JSON lines. */
function runChild(t, command, args, { env = {}, deadlineMs = 240_000, onLine } = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const kill = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')
  t.teardown(kill)
  const timer = setTimeout(kill, deadlineMs)
  const lines = []
  let stderr = ''
  let pending = ''
  child.stdout.on('data', (chunk) => {
    pending += chunk
    let newline
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline)
      pending = pending.slice(newline + 1)
      try {
        const parsed = JSON.parse(line)
        lines.push(parsed)
        onLine?.(parsed, child)
      } catch {
        // torchrun's own output
      }
    }
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, lines, stderr })
    }),
  )
  return { child, exited }
}

let scratch
let dataset
let body
test.before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'resnet-distributed-data-'))
  dataset = join(scratch, 'data')
  // 96 training images: 3 batches of 32 for one process, 3 of 16 on each of two ranks.
  makeDataset(dataset, { train: 32, test: 4, minSize: 40, maxSize: 90 })
  // Frozen batch norm is for bodies whose statistics mean something: a briefly trained one.
  // (Frozen at their initial values, the activations blow up, a few gradients come out near
  // rounding noise, and Adam, which scales each update by its gradient's own size, turns that
  // noise into visible differences: 3% relative on 16% of layer3's weights.)
  body = join(scratch, 'body')
  const pretraining = await resnet.train({ data: dataset, arch: 'resnet18', imageSize: 32, epochs: 2, batchSize: 16, device: 'cpu', precision: 'fp32', seed: 5, workers: 1, output: body })
  pretraining.model.dispose()
})
test.after.always(() => rmSync(scratch, { recursive: true, force: true }))

test('the addon binds no gloo symbol: gloo\'s headers only let ProcessGroupGloo.hpp compile', (t) => {
  const undefinedSymbols = execFileSync('nm', ['-D', '--undefined-only', '--demangle', join(root, 'native', 'resnet-napi.linux-x64-gnu.node')], { encoding: 'utf8' })
  t.true(undefinedSymbols.includes('c10d::ProcessGroupGloo::ProcessGroupGloo'), 'the addon should call ProcessGroupGloo from libtorch_cpu')
  t.deepEqual(undefinedSymbols.split('\n').filter((line) => /\bgloo::/.test(line)), [])
})

for (const optimizer of ['adamw', 'sgd']) {
  test.serial(`2 ranks with batch 16 end with the weights of 1 process with batch 32 (${optimizer}, batch norm frozen)`, async (t) => {
    const out = temporaryDir(t, 'resnet-distributed-')
    const common = {
      data: dataset,
      arch: 'resnet18',
      imageSize: 32,
      epochs: 2,
      optimizer,
      learningRate: optimizer === 'sgd' ? 0.05 : 0.003,
      device: 'cpu',
      precision: 'fp32',
      freezeBatchNorm: true,
      pretrained: body,
      freezeEpochs: 0,
      seed: 11,
      workers: 1,
    }
    const alone = await resnet.train({ ...common, batchSize: 32, output: join(out, 'alone') })
    alone.model.dispose()
    const events = []
    const run = resnet.train({ ...common, batchSize: 16, output: join(out, 'ranks'), distributed: { nproc: 2, timeoutSeconds: 60 } })
    run.on('event', (event) => events.push(event))
    const ranks = await run
    t.is(ranks.history.length, 2)
    const start = events.find((event) => event.type === 'start')
    t.like(start, { rank: 0, worldSize: 2, backend: 'gloo' })
    // Rank 0's events only: one 'start', and batch events of rank 0's 3 batches per epoch.
    t.is(events.filter((event) => event.type === 'start').length, 1)
    t.is(events.filter((event) => event.type === 'batch').length, 6)
    t.is(events.filter((event) => event.type === 'end').length, 1)
    const difference = relativeDifferences(readWeights(join(out, 'alone')), readWeights(join(out, 'ranks')))
    t.true(difference.l2 <= 1e-5, `${difference.l2Name} differs by ${difference.l2} (relative L2)`)
    // Single weights stay close too (summation order moves a few by about 1e-5).
    t.true(difference.max <= 1e-4, `${difference.maxName} differs by ${difference.max} (largest, relative to the largest weight)`)
    // The epochs' figures are global: the same images and weights give the same loss.
    for (const [single, distributed] of alone.history.map((epoch, i) => [epoch, ranks.history[i]])) {
      t.true(Math.abs(single.loss - distributed.loss) <= 1e-4 * Math.abs(single.loss), `loss ${single.loss} vs ${distributed.loss}`)
      t.is(single.accuracy, distributed.accuracy)
      t.is(single.valAccuracy, distributed.valAccuracy)
    }
    ranks.model.dispose()
  })
}

test.serial('torchrun --no-python launches the ranks; only rank 0 writes files', async (t) => {
  const libtorch = execFileSync('bash', [join(root, 'scripts', 'setup-libtorch.sh'), '--cuda'], { encoding: 'utf8' }).trim()
  const site = dirname(libtorch)
  const torchrun = join(site, 'bin', 'torchrun')
  t.true(existsSync(torchrun), `torchrun is in the torch install: ${torchrun}`)
  const out = temporaryDir(t, 'resnet-torchrun-')
  const port = await freePort()
  const { exited } = runChild(
    t,
    'python3',
    [torchrun, '--no-python', '--nnodes', '1', '--nproc-per-node', '2', '--master-addr', '127.0.0.1', '--master-port', String(port), process.execPath, rankScript, dataset, out, '1', '60'],
    { env: { PYTHONPATH: site } },
  )
  const { code, lines, stderr } = await exited
  t.is(code, 0, stderr.slice(-2000))
  t.deepEqual(lines.filter((line) => line.done).map((line) => line.rank).sort(), [0, 1])
  t.like(lines.find((line) => line.event === 'start'), { rank: 0, worldSize: 2, backend: 'gloo' })
  t.false(lines.some((line) => line.rank === 1 && ['start', 'batch', 'epoch'].includes(line.event)), 'rank 1 emits no progress')
  t.true(existsSync(join(out, 'rank-0', 'model.safetensors')))
  t.false(existsSync(join(out, 'rank-1')), 'rank 1 wrote nothing')
})

test.serial('killing one rank makes the other fail with ERR_DISTRIBUTED within its timeout', async (t) => {
  const out = temporaryDir(t, 'resnet-kill-rank-')
  const port = await freePort()
  const env = (rank) => ({ RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) })
  let victim
  let killedAt
  const survivor = runChild(t, process.execPath, [rankScript, dataset, out, '50', '30'], {
    env: env(0),
    onLine: (line) => {
      if (line.event === 'batch' && !killedAt) {
        killedAt = Date.now()
        victim.child.kill('SIGKILL')
      }
    },
  })
  victim = runChild(t, process.execPath, [rankScript, dataset, out, '50', '30'], { env: env(1) })
  const { code, lines, stderr } = await survivor.exited
  t.truthy(killedAt, `rank 0 trained before the kill: ${stderr.slice(-1000)}`)
  t.is(code, 1)
  const failure = lines.find((line) => line.code)
  t.is(failure?.code, 'ERR_DISTRIBUTED', JSON.stringify(failure))
  t.regex(failure.message, /rank 0/)
  // Within the 30 s timeout (and the checkpoint of a finished epoch, if any, stays whole).
  t.true(Date.now() - killedAt < 45_000, `took ${Date.now() - killedAt} ms`)
  const victimExit = await victim.exited
  t.is(victimExit.signal, 'SIGKILL')
})

test.serial('a peer that never arrives fails the rank with ERR_DISTRIBUTED after the timeout, not a hang', async (t) => {
  const out = temporaryDir(t, 'resnet-lonely-rank-')
  const port = await freePort()
  const started = Date.now()
  const { exited } = runChild(t, process.execPath, [rankScript, dataset, out, '1', '3'], {
    env: { RANK: '0', LOCAL_RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
    deadlineMs: 60_000,
  })
  const { code, lines } = await exited
  t.is(code, 1)
  const failure = lines.find((line) => line.code)
  t.is(failure?.code, 'ERR_DISTRIBUTED')
  t.regex(failure.message, /rank 0: cannot join the 2 ranks at 127\.0\.0\.1:\d+ within 3 s/)
  t.true(Date.now() - started < 30_000, `took ${Date.now() - started} ms`)
})

test.serial('Ctrl-C on `resnet train --nproc-per-node 2` stops every rank: ERR_ABORTED, exit code 130, no rank left', async (t) => {
  const out = temporaryDir(t, 'resnet-cli-ranks-')
  let interrupted = false
  const cli = runChild(
    t,
    process.execPath,
    [join(root, 'dist', 'cli.js'), 'train', '--data', dataset, '--output', join(out, 'run'), '--arch', 'resnet18', '--image-size', '32', '--batch-size', '8', '--epochs', '50', '--device', 'cpu', '--nproc-per-node', '2', '--json'],
    { deadlineMs: 120_000 },
  )
  // The ranks are the CLI's children; wait until both train, then interrupt the CLI alone.
  const ranks = () => spawnSync('pgrep', ['-P', String(cli.child.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number)
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline && !existsSync(join(out, 'run', 'checkpoint.safetensors'))) await new Promise((done) => setTimeout(done, 200))
  const children = ranks()
  t.is(children.length, 2, 'two rank processes')
  cli.child.kill('SIGINT')
  interrupted = true
  const { code, lines } = await cli.exited
  t.true(interrupted)
  t.is(code, 130)
  t.is(lines.at(-1)?.error?.code, 'ERR_ABORTED')
  // The ranks finish their batch (or take the launcher's SIGTERM) and exit within seconds.
  const alive = (pid) => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  const gone = Date.now() + 20_000
  while (Date.now() < gone && children.some(alive)) await new Promise((done) => setTimeout(done, 100))
  t.deepEqual(children.filter(alive), [], 'no rank process is left')
  // The last completed epoch stays loadable.
  const model = await resnet.loadModel(join(out, 'run'), { device: 'cpu' })
  model.dispose()
})
