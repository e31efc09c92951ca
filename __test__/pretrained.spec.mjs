// pretrained: 'imagenet' against a local HTTP server on 127.0.0.1 serving generated weights
// (a resnet18 trained here for one epoch, with torchvision's names): redirects, an interrupted
// download resumed with a Range request, a wrong hash, offline, a manifest without the arch, and
// the body frozen during the default fine-tuning recipe's first epoch. The manifest and the
// cache come from RESNET_NAPI_WEIGHTS_MANIFEST and RESNET_NAPI_CACHE, so these tests run serially.
import test from 'ava'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

/** One tensor's bytes in a safetensors file (8-byte header length, JSON header, data). */
function tensorBytes(file, name) {
  const bytes = readFileSync(file)
  const length = Number(bytes.readBigUInt64LE(0))
  const [start, end] = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'))[name].data_offsets
  return bytes.subarray(8 + length + start, 8 + length + end)
}

/** Serves `weights` at /weights (honouring Range), /moved (a 302 to /weights), /flaky (the
 *  first request ends after half the bytes) and /wrong (one byte changed). */
async function serve(t, weights) {
  const requests = []
  let flakyServed = false
  const server = createServer((request, response) => {
    requests.push({ url: request.url, range: request.headers.range })
    if (request.url === '/moved') {
      response.writeHead(302, { Location: '/weights' }).end()
      return
    }
    let body = weights
    if (request.url === '/wrong') {
      body = Buffer.from(weights)
      body[body.length - 1] ^= 0xff
    } else if (request.url !== '/weights' && request.url !== '/flaky') {
      response.writeHead(404).end()
      return
    }
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '')
    const from = range ? Number(range[1]) : 0
    const headers = { 'Content-Length': body.length - from, 'Accept-Ranges': 'bytes' }
    if (range) headers['Content-Range'] = `bytes ${from}-${body.length - 1}/${body.length}`
    response.writeHead(range ? 206 : 200, headers)
    if (request.url === '/flaky' && !flakyServed) {
      flakyServed = true
      response.write(body.subarray(from, from + Math.floor(body.length / 2)), () => response.destroy())
      return
    }
    response.end(body.subarray(from))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  return { base: `http://127.0.0.1:${server.address().port}`, requests }
}

/** A data folder, weights to serve, and a manifest/cache pair installed in the environment. */
async function setUp(t) {
  const work = temporaryDir(t)
  const data = join(work, 'shapes')
  makeDataset(data, { train: 8, test: 3 })
  const source = await resnet.train({ data, arch: 'resnet18', imageSize: 32, batchSize: 8, epochs: 1, device: 'cpu', output: join(work, 'source') })
  source.model.dispose()
  const weights = readFileSync(join(work, 'source', 'model.safetensors'))
  const server = await serve(t, weights)
  const manifest = join(work, 'manifest.json')
  const cache = join(work, 'cache')
  const saved = { manifest: process.env.RESNET_NAPI_WEIGHTS_MANIFEST, cache: process.env.RESNET_NAPI_CACHE }
  process.env.RESNET_NAPI_WEIGHTS_MANIFEST = manifest
  process.env.RESNET_NAPI_CACHE = cache
  t.teardown(() => {
    for (const [name, value] of [['RESNET_NAPI_WEIGHTS_MANIFEST', saved.manifest], ['RESNET_NAPI_CACHE', saved.cache]]) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })
  const sha256 = createHash('sha256').update(weights).digest('hex')
  const list = (path) => writeFileSync(manifest, JSON.stringify({ resnet18: { url: `${server.base}${path}`, sha256, bytes: weights.length } }))
  const options = { data, arch: 'resnet18', imageSize: 32, batchSize: 8, epochs: 1, device: 'cpu', pretrained: 'imagenet' }
  return { work, weights, server, manifest, cache, list, options, source: join(work, 'source', 'model.safetensors') }
}

const cachedFiles = (cache) => (existsSync(join(cache, 'weights')) ? readdirSync(join(cache, 'weights')) : [])

test.serial('imagenet weights: redirect followed, progress reported, sha256 checked, cached, body frozen in the first epoch', async (t) => {
  const s = await setUp(t)
  s.list('/moved')
  const downloads = []
  const run = resnet.train({ ...s.options, output: join(s.work, 'tuned') })
  run.on('download', (event) => downloads.push(event))
  const result = await run
  t.true(s.server.requests.some((request) => request.url === '/weights'), 'the redirect was followed')
  t.true(downloads.length >= 1)
  const last = downloads.at(-1)
  t.is(last.receivedBytes, s.weights.length)
  t.is(last.totalBytes, s.weights.length)
  t.regex(last.url, /\/moved$/)
  t.deepEqual(cachedFiles(s.cache).length, 1, 'one file in the cache, no partial left')
  // The default fine-tuning recipe freezes the body for one epoch: its convolutions are the served ones.
  const tuned = join(s.work, 'tuned', 'model.safetensors')
  for (const name of ['conv1.weight', 'layer2.0.conv1.weight', 'layer4.1.conv2.weight']) {
    t.true(tensorBytes(tuned, name).equals(tensorBytes(s.source, name)), `${name} equals the served weights after the frozen epoch`)
  }
  result.model.dispose()

  const before = s.server.requests.length
  const again = await resnet.train({ ...s.options, output: join(s.work, 'again') })
  t.is(s.server.requests.length, before, 'the cached file is used without a request')
  again.model.dispose()
})

test.serial('imagenet weights: an interrupted download resumes with a Range request', async (t) => {
  const s = await setUp(t)
  s.list('/flaky')
  const downloads = []
  const run = resnet.train({ ...s.options, output: join(s.work, 'tuned') })
  run.on('download', (event) => downloads.push(event))
  const result = await run
  const flaky = s.server.requests.filter((request) => request.url === '/flaky')
  t.is(flaky.length, 2)
  t.is(flaky[0].range, undefined)
  t.regex(flaky[1].range, /^bytes=\d+-$/, 'the second request asks for the rest')
  t.true(downloads.some((event) => event.resumed))
  const file = join(s.cache, 'weights', cachedFiles(s.cache)[0])
  t.true(readFileSync(file).equals(s.weights), 'the resumed file is whole')
  result.model.dispose()
})

test.serial('imagenet weights: a wrong hash is ERR_MODEL_FILE naming the URL and leaves nothing in the cache', async (t) => {
  const s = await setUp(t)
  s.list('/wrong')
  const error = await t.throwsAsync(resnet.train({ ...s.options, output: join(s.work, 'tuned') }))
  t.is(error.code, 'ERR_MODEL_FILE')
  t.true(error.message.includes(`${s.server.base}/wrong`), error.message)
  t.regex(error.message, /sha256/)
  t.deepEqual(cachedFiles(s.cache), [])
})

test.serial('imagenet weights: offline with nothing cached names the manifest and the variable', async (t) => {
  const s = await setUp(t)
  const sha256 = createHash('sha256').update(s.weights).digest('hex')
  // Port 9 (discard) on 127.0.0.1: nothing listens there, so the connection is refused.
  writeFileSync(s.manifest, JSON.stringify({ resnet18: { url: 'http://127.0.0.1:9/resnet18.safetensors', sha256, bytes: s.weights.length } }))
  const error = await t.throwsAsync(resnet.train({ ...s.options, output: join(s.work, 'tuned') }))
  t.is(error.code, 'ERR_IO')
  t.true(error.message.includes(s.manifest), error.message)
  t.true(error.message.includes('RESNET_NAPI_WEIGHTS_MANIFEST'), error.message)
  t.deepEqual(cachedFiles(s.cache).filter((name) => !name.endsWith('.partial')), [])
})

test.serial('imagenet weights: a manifest without the arch is ERR_MODEL_FILE naming it', async (t) => {
  const s = await setUp(t)
  s.list('/weights')
  const error = await t.throwsAsync(resnet.train({ ...s.options, arch: 'resnet34', output: join(s.work, 'tuned') }))
  t.is(error.code, 'ERR_MODEL_FILE')
  t.true(error.message.includes(s.manifest), error.message)
  t.regex(error.message, /resnet34.*RESNET_NAPI_WEIGHTS_MANIFEST/s)
})

test('the shipped manifest lists each entry as { url, sha256, bytes }', (t) => {
  const manifest = JSON.parse(readFileSync(new URL('../weights-manifest.json', import.meta.url), 'utf8'))
  t.true(Object.keys(manifest).length >= 3)
  for (const [arch, entry] of Object.entries(manifest)) {
    t.true(['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152'].includes(arch), arch)
    t.deepEqual(Object.keys(entry).sort(), ['bytes', 'sha256', 'url'])
    t.regex(entry.url, new RegExp(`^https://huggingface\\.co/timm/${arch}\\.tv_in1k/resolve/[0-9a-f]{40}/model\\.safetensors$`))
    t.regex(entry.sha256, /^[0-9a-f]{64}$/)
    t.true(Number.isSafeInteger(entry.bytes) && entry.bytes > 10_000_000)
  }
})
