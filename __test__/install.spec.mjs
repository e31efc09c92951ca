// Installing libtorch (scripts/setup-libtorch.sh) against a local package index that serves a
// small stand-in torch wheel: a progress line with bytes, rate and time left; a download cut
// off half-way resumes where it stopped (an HTTP Range request) instead of starting over; and a
// disk too small for the download and the install is refused, saying so, before downloading.
import test from 'ava'
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { temporaryDir } from './helpers.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const WHEEL = 'torch-2.11.0-py3-none-any.whl'

/** A wheel named torch 2.11.0 holding torch/lib/libtorch.so of 4 MB of random bytes. */
function standInWheel(dir) {
  const path = join(dir, WHEEL)
  execFileSync('python3', ['-c', `
import os, zipfile
info = "torch-2.11.0.dist-info"
with zipfile.ZipFile(${JSON.stringify(path)}, "w", zipfile.ZIP_STORED) as wheel:
    wheel.writestr("torch/__init__.py", "")
    wheel.writestr("torch/lib/libtorch.so", os.urandom(4 << 20))
    wheel.writestr(info + "/METADATA", "Metadata-Version: 2.1\\nName: torch\\nVersion: 2.11.0\\n")
    wheel.writestr(info + "/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    wheel.writestr(info + "/RECORD", "")
`])
  return path
}

/** A PEP 503 index serving the wheel (and its metadata, PEP 658, so that pip's resolver does
 *  not fetch the wheel itself). The first full download is cut off half-way. */
async function serveIndex(t, wheelPath) {
  const wheel = readFileSync(wheelPath)
  const metadata = 'Metadata-Version: 2.1\nName: torch\nVersion: 2.11.0\n'
  const sha = (bytes) => createHash('sha256').update(bytes).digest('hex')
  const requests = []
  let cutOff = false
  const server = createServer((request, response) => {
    requests.push({ method: request.method, url: request.url, range: request.headers.range ?? null })
    if (request.url === '/simple/torch/') {
      response.setHeader('Content-Type', 'text/html')
      return response.end(`<a href="/files/${WHEEL}#sha256=${sha(wheel)}" data-dist-info-metadata="sha256=${sha(metadata)}" data-core-metadata="sha256=${sha(metadata)}">${WHEEL}</a>`)
    }
    if (request.url === `/files/${WHEEL}.metadata`) return response.end(metadata)
    if (request.url !== `/files/${WHEEL}`) {
      response.statusCode = 404
      return response.end()
    }
    // Ranges as pip's metadata reader asks ("bytes=a-b") and as a resumed download does ("bytes=a-").
    const range = /bytes=(\d+)-(\d*)/.exec(request.headers.range ?? '')
    const start = Number(range?.[1] ?? 0)
    const end = range?.[2] ? Math.min(Number(range[2]), wheel.length - 1) : wheel.length - 1
    if (range) {
      response.statusCode = 206
      response.setHeader('Content-Range', `bytes ${start}-${end}/${wheel.length}`)
    }
    response.setHeader('Content-Length', end + 1 - start)
    response.setHeader('Accept-Ranges', 'bytes')
    if (request.method === 'HEAD') return response.end()
    // The first whole-file download by the downloader (Python's urllib; pip says "pip/...").
    const downloader = /^Python-urllib/.test(request.headers['user-agent'] ?? '')
    if (downloader) requests.at(-1).downloader = true
    if (downloader && !range && !cutOff) {
      cutOff = true
      // Half the file, then the connection drops.
      response.write(wheel.subarray(0, wheel.length >> 1), () => setTimeout(() => response.socket.destroy(), 50))
      return
    }
    response.end(wheel.subarray(start, end + 1))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  return { url: `http://127.0.0.1:${server.address().port}/simple`, requests, bytes: wheel.length }
}

function setup(cache, indexUrl) {
  return new Promise((resolve) => {
    const child = spawn('bash', [join(root, 'scripts', 'setup-libtorch.sh')], {
      env: { ...process.env, LIBTORCH: '', RESNET_NAPI_CACHE: cache, PIP_INDEX_URL: indexUrl, PIP_NO_CACHE_DIR: '1', PIP_RETRIES: '0' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

test('the install shows its progress and resumes a download cut off half-way', async (t) => {
  const work = temporaryDir(t, 'resnet-install-')
  const index = await serveIndex(t, standInWheel(work))
  const cache = join(work, 'cache')
  const { code, stdout, stderr } = await setup(cache, index.url)
  t.is(code, 0, stderr)
  t.is(stdout.trim(), join(cache, 'torch-2.11.0', 'torch'))
  t.is(statSync(join(cache, 'torch-2.11.0', 'torch', 'lib', 'libtorch.so')).size, 4 << 20)
  t.true(existsSync(join(cache, 'torch-2.11.0', '.complete')))
  t.regex(stderr, /Downloading 1 wheels, \d+\.\d MB/)
  t.regex(stderr, /\d+\.\d MB of \d+\.\d MB {2}\d+\.\d MB\/s {2}.* left/)
  const downloads = index.requests.filter((r) => r.downloader && r.method === 'GET')
  t.is(downloads.length, 2, JSON.stringify(index.requests))
  t.is(downloads[0].range, null)
  t.regex(downloads[1].range ?? '', /^bytes=[1-9]\d*-$/, 'the second request continues where the first stopped')
  t.false(existsSync(join(cache, 'wheels-torch-2.11.0')), 'the downloaded wheels are removed once installed')
})

test('a disk too small for the download and the install is refused before downloading', async (t) => {
  const work = temporaryDir(t, 'resnet-install-small-')
  const index = await serveIndex(t, standInWheel(work))
  const cache = join(work, 'small')
  mkdirSync(cache)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', cache], { stdio: 'pipe' })
  } catch {
    t.log('mount is not permitted here: the free-space check is not exercised')
    t.pass()
    return
  }
  t.teardown(() => execFileSync('umount', [cache], { stdio: 'pipe' }))
  const { code, stderr } = await setup(cache, index.url)
  t.is(code, 1)
  t.regex(stderr, /Not enough disk space in .*small\/wheels-torch-2\.11\.0: this install downloads 4\.2 MB more and unpacks to about 10\.5 MB/)
  t.regex(stderr, /RESNET_NAPI_CACHE/)
  t.deepEqual(index.requests.filter((r) => r.downloader && r.method === 'GET'), [], 'nothing was downloaded')
})
