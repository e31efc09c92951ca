// `resnet serve` under load and faults: autocannon at concurrency 64 for several minutes with
// 2% corrupt images among the JPEGs, while another client opens uploads and drops them half-way
// every second. Checks that only the corrupt images get a 4xx, that every request is answered,
// and that the server's RSS grows at most 5% after warm-up (the first fifth of the run).
// Writes bench/results/serve-soak.json and serve-soak.md.
// usage: node bench/serve_soak.mjs [--minutes 10] [--arch resnet34] [--image-size 224] [--out bench/results]
import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { train } from '../dist/index.js'

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    arch: { type: 'string', default: 'resnet34' },
    'image-size': { type: 'string', default: '224' },
    out: { type: 'string', default: 'bench/results' },
  },
})
const seconds = Math.round(Number(args.minutes) * 60)
const root = join(import.meta.dirname, '..')
const work = mkdtempSync(join(tmpdir(), 'resnet-soak-'))
const port = 18_090

try {
  const data = join(work, 'data')
  makeDataset(data, { train: 4, test: 17, minSize: 320, maxSize: 640 })
  const good = readdirSync(join(data, 'test'), { recursive: true })
    .filter((file) => file.endsWith('.jpg'))
    .slice(0, 49)
    .map((file) => readFileSync(join(data, 'test', file)))
  // One in fifty: a JPEG cut short, and bytes that are no image at all.
  const corrupt = [good[0].subarray(0, 300), Buffer.from('this is not an image '.repeat(40))]
  const bodies = [...good.map((body) => ({ body, corrupt: false })), ...corrupt.map((body) => ({ body, corrupt: true }))]
  const modelDir = join(work, 'model')
  const { model } = await train({ data, arch: args.arch, imageSize: Number(args['image-size']), epochs: 1, batchSize: 4, device: 'cpu', recipe: 'notebook', output: modelDir })
  model.dispose()

  const server = spawn(process.execPath, [join(root, 'dist', 'cli.js'), 'serve', '--model', modelDir, '--port', String(port), '--no-log'], { stdio: ['ignore', 'ignore', 'pipe'] })
  await new Promise((resolve, reject) => {
    let stderr = ''
    server.stderr.on('data', (chunk) => {
      stderr += chunk
      if (/serving .* on http/.test(stderr)) resolve()
    })
    server.once('exit', (code) => reject(new Error(`resnet serve exited with ${code}: ${stderr}`)))
  })
  const rss = []
  const sampler = setInterval(() => rss.push({ at: performance.now(), bytes: residentBytes(server.pid) }), 5_000)
  const dropped = { opened: 0 }
  const dropper = setInterval(() => dropUpload(dropped), 1_000)
  const outcome = { goodOk: 0, goodOther: 0, corrupt4xx: 0, corruptOther: 0 }
  const started = performance.now()
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 64,
    duration: seconds,
    timeout: 60,
    requests: bodies.map(({ body, corrupt: isCorrupt }) => ({
      method: 'POST',
      path: '/predict',
      body,
      headers: { 'content-type': 'image/jpeg' },
      onResponse: (status) => {
        if (isCorrupt) outcome[status >= 400 && status < 500 ? 'corrupt4xx' : 'corruptOther']++
        else outcome[status === 200 ? 'goodOk' : 'goodOther']++
      },
    })),
  })
  clearInterval(sampler)
  clearInterval(dropper)
  const alive = await fetch(`http://127.0.0.1:${port}/health`).then((response) => response.status === 200, () => false)
  server.kill('SIGTERM')
  await new Promise((resolve) => server.once('exit', resolve))

  const warm = rss.find((sample) => sample.at - started >= seconds * 200) ?? rss[0]
  const last = rss.at(-1)
  const growth = warm && last ? (last.bytes - warm.bytes) / warm.bytes : null
  const answered = outcome.goodOk + outcome.goodOther + outcome.corrupt4xx + outcome.corruptOther
  const checks = [
    { name: 'only the corrupt images got a 4xx', met: outcome.goodOther === 0 && outcome.corruptOther === 0 && outcome.corrupt4xx > 0 },
    { name: 'no request lost (no error, no timeout, every one answered)', met: result.errors === 0 && result.timeouts === 0 && answered === result.requests.total },
    { name: 'RSS growth after warm-up at most 5%', met: growth !== null && growth <= 0.05 },
    { name: 'the server still answers after the dropped uploads', met: alive && dropped.opened > 0 },
  ]
  const report = {
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`,
    arch: args.arch,
    imageSize: Number(args['image-size']),
    seconds,
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    outcome,
    droppedUploads: dropped.opened,
    rssWarmMb: warm ? warm.bytes / 2 ** 20 : null,
    rssLastMb: last ? last.bytes / 2 ** 20 : null,
    rssGrowth: growth,
    checks,
  }
  mkdirSync(args.out, { recursive: true })
  writeFileSync(join(args.out, 'serve-soak.json'), `${JSON.stringify(report, null, 2)}\n`)
  const md = [
    `# resnet serve soak (${report.date.slice(0, 10)}; ${report.machine}; ${args.arch} ${report.imageSize} px; ${(seconds / 60).toFixed(1)} min at concurrency 64, 2% corrupt images, an upload dropped half-way every second)`,
    '',
    `${report.requests} requests, ${report.requestsPerSecond.toFixed(1)} req/s, p50 ${report.p50Ms} ms, p99 ${report.p99Ms} ms; good images: ${outcome.goodOk} answered 200, ${outcome.goodOther} otherwise; corrupt: ${outcome.corrupt4xx} answered 4xx, ${outcome.corruptOther} otherwise; ${dropped.opened} uploads dropped.`,
    `RSS after warm-up ${report.rssWarmMb?.toFixed(1)} MB, at the end ${report.rssLastMb?.toFixed(1)} MB (${growth === null ? '-' : (growth * 100).toFixed(2)}%).`,
    '',
    '| check | met |',
    '|---|---|',
    ...checks.map((check) => `| ${check.name} | ${check.met ? 'yes' : 'no'} |`),
    '',
  ].join('\n')
  writeFileSync(join(args.out, 'serve-soak.md'), md)
  console.log(md)
  if (!checks.every((check) => check.met)) process.exitCode = 1
} finally {
  rmSync(work, { recursive: true, force: true })
}

function residentBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** A client that announces a 1 MB image, sends 64 KB of it and goes away. */
function dropUpload(dropped) {
  const socket = connect(port, '127.0.0.1', () => {
    dropped.opened++
    socket.write(`POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: ${1 << 20}\r\n\r\n`)
    socket.write(Buffer.alloc(64 * 1024, 0xff), () => socket.destroy())
  })
  socket.on('error', () => {})
}
