// The serving benchmark: throughput and p50/p99 latency under autocannon at several
// concurrencies, for (a) `resnet serve` (batching on, its defaults), (b) the same with batching
// off (--max-batch 1), (c) the same fastify server with sharp + onnxruntime-node on the
// exported model (bench/serve_onnx.mjs). Each server runs in a process of its own; the load
// generator runs here, on the same machine (on 2 cores it takes CPU from all three alike).
// Writes bench/results/serve.json and serve.md.
// The project's servers compute in --precision (default 'auto', what a user gets: bf16 on a
// CPU where it measures faster); ONNX Runtime computes in float32. A run with another
// precision than 'auto' writes serve-<precision>.json/.md; one on a GPU (--device cuda, as
// scripts/gpu-serve.sh runs it, servers a and b) serve-gpu.*, with the GPU goal: at the highest
// concurrency, (a) answers at least 5x its throughput at the lowest.
// usage: node bench/serve.mjs [--arch resnet34] [--image-size 224] [--seconds 10]
//                             [--concurrency 1,16,64] [--device cpu] [--precision auto]
//                             [--servers a,b,c] [--out bench/results]
import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { loadModel, train } from '../dist/index.js'

const { values: args } = parseArgs({
  options: {
    arch: { type: 'string', default: 'resnet34' },
    'image-size': { type: 'string', default: '224' },
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,16,64' },
    device: { type: 'string', default: 'cpu' },
    precision: { type: 'string', default: 'auto' },
    servers: { type: 'string', default: 'a,b,c' },
    out: { type: 'string', default: 'bench/results' },
  },
})
const imageSize = Number(args['image-size'])
const seconds = Number(args.seconds)
const levels = args.concurrency.split(',').map(Number)
const chosen = args.servers.split(',')
const root = join(import.meta.dirname, '..')
const work = mkdtempSync(join(tmpdir(), 'resnet-serve-bench-'))
const [A, B, C] = ['resnet serve (batching)', 'resnet serve, batching off', 'fastify + sharp + onnxruntime-node']

try {
  // Photo-sized JPEGs (320-640 px, generated), and a real saved model trained one epoch on them.
  const data = join(work, 'data')
  makeDataset(data, { train: 4, test: 12, minSize: 320, maxSize: 640 })
  const bodies = readdirSync(join(data, 'test'), { recursive: true })
    .filter((file) => file.endsWith('.jpg'))
    .map((file) => readFileSync(join(data, 'test', file)))
  const modelDir = join(work, 'model')
  const { model } = await train({ data, arch: args.arch, imageSize, epochs: 1, batchSize: 4, device: args.device, recipe: 'notebook', output: modelDir })
  model.dispose()
  const onnx = join(work, 'model.onnx')
  if (chosen.includes('c')) {
    const cpuModel = await loadModel(modelDir, { device: 'cpu' })
    await cpuModel.exportOnnx(onnx)
    cpuModel.dispose()
  }

  const cli = join(root, 'dist', 'cli.js')
  const servers = [
    { letter: 'a', name: A, command: [cli, 'serve', '--model', modelDir, '--no-log', '--device', args.device, '--precision', args.precision] },
    { letter: 'b', name: B, command: [cli, 'serve', '--model', modelDir, '--no-log', '--device', args.device, '--precision', args.precision, '--max-batch', '1'] },
    { letter: 'c', name: C, command: [join(root, 'bench', 'serve_onnx.mjs'), modelDir, onnx] },
  ].filter((server) => chosen.includes(server.letter))
  const rows = []
  let precision = null
  for (const [index, server] of servers.entries()) {
    const port = 18_080 + index
    const command = server.name === C ? [...server.command, String(port)] : [...server.command, '--port', String(port)]
    const child = spawn(process.execPath, command, { stdio: ['ignore', 'ignore', 'pipe'] })
    try {
      await listening(child)
      const url = `http://127.0.0.1:${port}/predict`
      await load(url, bodies, 4, 3) // warm-up: first passes, oneDNN's kernels, ORT's arena
      const metadata = async () => (server.name === C ? null : (await fetch(`http://127.0.0.1:${port}/metadata`)).json())
      for (const connections of levels) {
        const before = await metadata()
        const result = await load(url, bodies, connections, seconds)
        const after = await metadata()
        // How full the passes were in this row: the images each forward pass held, on average.
        const meanBatch = after && (after.batching.images - before.batching.images) / Math.max(1, after.batching.passes - before.batching.passes)
        rows.push({ server: server.name, connections, ...result, ...(after ? { meanBatch } : {}) })
        console.log(JSON.stringify(rows.at(-1)))
        if (server.name === A) precision = after.precision
      }
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  }
  write(rows, precision)
} finally {
  rmSync(work, { recursive: true, force: true })
}

function listening(child) {
  return new Promise((resolve, reject) => {
    let stderr = ''
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      if (/serving .*on http/.test(stderr)) resolve()
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)))
  })
}

/** `connections` clients posting the JPEGs in turn for `duration` seconds. */
async function load(url, bodies, connections, duration) {
  const requests = bodies.map((body) => ({ method: 'POST', body, headers: { 'content-type': 'image/jpeg' } }))
  const result = await autocannon({ url, connections, duration, requests, timeout: 60 })
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  }
}

function write(rows, precision) {
  const at = (server, connections) => rows.find((row) => row.server === server && row.connections === connections)
  const top = Math.max(...levels)
  const low = Math.min(...levels)
  // The goals whose servers ran.
  const goals = (args.device === 'cpu'
    ? [
        { needs: 'ac', goal: ratio(`at concurrency ${top}, (a) throughput / (c)`, at(A, top)?.requestsPerSecond, at(C, top)?.requestsPerSecond, 1.5) },
        { needs: 'ab', goal: ratio(`at concurrency ${top}, (a) throughput / (b)`, at(A, top)?.requestsPerSecond, at(B, top)?.requestsPerSecond, 2) },
        { needs: 'ac', goal: ratio(`at concurrency ${low}, (c) p50 / (a) p50`, at(C, low)?.p50Ms, at(A, low)?.p50Ms, 1) },
      ]
    : [{ needs: 'a', goal: ratio(`(a) throughput at concurrency ${top} / at concurrency ${low}`, at(A, top)?.requestsPerSecond, at(A, low)?.requestsPerSecond, 5) }])
    .filter(({ needs }) => [...needs].every((letter) => chosen.includes(letter)))
    .map(({ goal }) => goal)
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`
  const report = { date: new Date().toISOString(), machine, arch: args.arch, imageSize, device: args.device, precision: { asked: args.precision, project: precision, onnxruntime: chosen.includes('c') ? 'fp32' : null }, seconds, rows, goals }
  const name = ['serve', args.device === 'cpu' ? null : 'gpu', args.precision === 'auto' ? null : args.precision].filter(Boolean).join('-')
  mkdirSync(args.out, { recursive: true })
  writeFileSync(join(args.out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`)
  const table = [
    `# Serving (${report.date.slice(0, 10)}; ${machine}; ${args.arch} ${imageSize} px on ${args.device}; ${seconds} s per row; autocannon on the same machine)`,
    '',
    `Precision: the project's servers ${precision} (asked: '${args.precision}')${chosen.includes('c') ? '; onnxruntime-node float32' : ''}.`,
    '',
    '| server | concurrency | req/s | p50 ms | p99 ms | non-2xx | errors | images per pass |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.server} | ${row.connections} | ${row.requestsPerSecond.toFixed(1)} | ${row.p50Ms} | ${row.p99Ms} | ${row.non2xx} | ${row.errors} | ${row.meanBatch?.toFixed(1) ?? '-'} |`),
    '',
    '| goal | ratio | wanted | met |',
    '|---|---|---|---|',
    ...goals.map((goal) => `| ${goal.name} | ${goal.ratio?.toFixed(2) ?? '-'} | ≥ ${goal.wanted} | ${goal.met ? 'yes' : 'no'} |`),
    '',
  ].join('\n')
  writeFileSync(join(args.out, `${name}.md`), table)
  console.log(table)
}

function ratio(name, numerator, denominator, wanted) {
  const value = numerator && denominator ? numerator / denominator : null
  return { name, ratio: value, wanted, met: value !== null && value >= wanted }
}
