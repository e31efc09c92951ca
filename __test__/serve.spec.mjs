// `serve()` and `resnet serve`: predictions over HTTP, coded 4xx errors for bad requests,
// a bearer token, a body limit, and a graceful stop on SIGTERM.
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet } from './helpers.mjs'

const root = join(import.meta.dirname, '..')
let trained

const dir = mkdtempSync(join(tmpdir(), 'resnet-serve-'))
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

/** One small trained model for every test here (trained once). */
async function fixture() {
  trained ??= (async () => {
    const data = join(dir, 'data')
    makeDataset(data, { train: 4, test: 2, minSize: 32, maxSize: 48 })
    await resnet.train({ data, arch: 'resnet18', imageSize: 32, batchSize: 6, epochs: 1, device: 'cpu', seed: 4, output: join(dir, 'model'), recipe: 'notebook' })
    return { modelDir: join(dir, 'model'), image: join(data, 'test', 'disc', 'disc-001.jpg') }
  })()
  return trained
}

test('POST /predict answers as predict() does; GET /health and /metadata; bad bodies get coded 4xx', async (t) => {
  const { modelDir, image } = await fixture()
  const model = await resnet.loadModel(modelDir)
  const server = await resnet.serve(model, { port: 0, log: false, bodyLimit: 64 * 1024 })
  t.teardown(async () => {
    await server.close()
    model.dispose()
  })
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const bytes = readFileSync(image)
  const expected = await model.predict(image, { topK: 2 })

  const predicted = await fetch(`${server.url}/predict?topK=2`, { method: 'POST', body: bytes, headers: { 'content-type': 'image/jpeg' } })
  t.is(predicted.status, 200)
  const { predictions } = await predicted.json()
  t.deepEqual(predictions.map((p) => p.label), expected.map((p) => p.label))
  predictions.forEach((p, i) => t.true(Math.abs(p.probability - expected[i].probability) < 1e-4))

  const health = await (await fetch(`${server.url}/health`)).json()
  t.deepEqual(health, { status: 'ok', device: 'cpu' })
  const metadata = await (await fetch(`${server.url}/metadata`)).json()
  t.is(metadata.arch, 'resnet18')
  t.deepEqual(metadata.classes, model.classes)
  t.is(metadata.imageSize, 32)
  t.is(metadata.precision, model.precision)

  const bad = async (init, path = '/predict') => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', ...init })
    return { status: response.status, body: await response.json() }
  }
  const corrupt = await bad({ body: bytes.subarray(0, 40), headers: { 'content-type': 'application/octet-stream' } })
  t.is(corrupt.status, 422)
  t.is(corrupt.body.error.code, 'ERR_IMAGE_DECODE')
  const text = await bad({ body: 'hello', headers: { 'content-type': 'text/plain' } })
  t.is(text.status, 422)
  t.is(text.body.error.code, 'ERR_IMAGE_DECODE')
  const empty = await bad({ body: Buffer.alloc(0), headers: { 'content-type': 'image/jpeg' } })
  t.is(empty.status, 400)
  t.is(empty.body.error.code, 'ERR_IMAGE_DECODE')
  const large = await bad({ body: Buffer.alloc(65 * 1024), headers: { 'content-type': 'image/jpeg' } })
  t.is(large.status, 413)
  t.is(large.body.error.code, 'ERR_BODY_TOO_LARGE')
  const topK = await bad({ body: bytes, headers: { 'content-type': 'image/jpeg' } }, '/predict?topK=zero')
  t.is(topK.status, 400)
  t.is(topK.body.error.code, 'ERR_INVALID_OPTION')
  // After all of that, the server still answers.
  t.is((await fetch(`${server.url}/predict`, { method: 'POST', body: bytes })).status, 200)
})

test('a token guards everything but /health', async (t) => {
  const { modelDir, image } = await fixture()
  const server = await resnet.serve(modelDir, { port: 0, log: false, token: 's3cret' })
  t.teardown(() => server.close())
  const bytes = readFileSync(image)
  const without = await fetch(`${server.url}/predict`, { method: 'POST', body: bytes })
  t.is(without.status, 401)
  t.is((await without.json()).error.code, 'ERR_UNAUTHORIZED')
  t.is((await fetch(`${server.url}/metadata`, { headers: { authorization: 'Bearer wrong!' } })).status, 401)
  t.is((await fetch(`${server.url}/health`)).status, 200)
  const authorised = await fetch(`${server.url}/predict`, { method: 'POST', body: bytes, headers: { authorization: 'Bearer s3cret' } })
  t.is(authorised.status, 200)
  t.is((await authorised.json()).predictions.length, 3)
})

/** The README's curl line (section "Serving"). */
function readmeCurl() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Serving'), readme.indexOf('\n## ', readme.indexOf('## Serving') + 1))
  return section.split('\n').find((line) => line.startsWith('curl '))
}

test("resnet serve: the README's curl line, one JSON log line per request, and SIGTERM lets requests in flight finish", async (t) => {
  const { modelDir, image } = await fixture()
  const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), 'serve', '--model', modelDir, '--port', '0', '--max-delay-ms', '500', '--max-batch', '4'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => child.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      const match = /serving .* on (http:\/\/\S+)/.exec(stderr)
      if (match) resolve(match[1])
    })
    child.on('exit', (code) => reject(new Error(`resnet serve exited with ${code}: ${stderr}`)))
  })
  const bytes = readFileSync(image)
  const curlDir = join(dir, 'curl')
  mkdirSync(curlDir, { recursive: true })
  copyFileSync(image, join(curlDir, 'cat.jpg'))
  const curl = readmeCurl().replace('http://127.0.0.1:8080', url)
  const answer = spawnSync('bash', ['-c', curl], { cwd: curlDir, encoding: 'utf8' })
  t.is(answer.status, 0, answer.stderr)
  t.is(JSON.parse(answer.stdout).predictions.length, 3, answer.stdout)

  // A lone request waits up to 500 ms for a fuller batch: SIGTERM arrives while it waits.
  const inFlight = fetch(`${url}/predict`, { method: 'POST', body: bytes })
  await new Promise((resolve) => setTimeout(resolve, 150))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  child.kill('SIGTERM')
  const response = await inFlight
  t.is(response.status, 200)
  t.is((await response.json()).predictions.length, 3)
  t.deepEqual(await exited, { code: 0, signal: null })
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line)).filter((line) => line.msg === 'request')
  t.is(lines.length, 2, stdout)
  t.like(lines[0], { method: 'POST', url: '/predict?topK=3', status: 200 })
  t.like(lines[1], { method: 'POST', url: '/predict', status: 200 })
  t.true(lines[1].ms > 0)
})
