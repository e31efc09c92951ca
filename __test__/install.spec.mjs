// Installing libtorch (scripts/setup-libtorch.sh) against a local package index that serves a
// small stand-in torch wheel: a progress line with bytes, rate and time left; a download cut
// off half-way resumes where it stopped (an HTTP Range request) instead of starting over; a
// disk too small for the download and the install is refused, saying so, before downloading;
// `resnet setup --cpu` installs the CPU-only build, libtorch alone, from the index it is given;
// and on a machine without an NVIDIA driver the default tries the CPU-only build first,
// falling back to PyPI's CUDA build when PyTorch's index does not answer.
import test from 'ava'
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { temporaryDir } from './helpers.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const wheelName = (version) => `torch-${version}-py3-none-any.whl`
// `requires`: dependencies the stand-in declares (as the real wheels do), which the index
// does not serve.
const METADATA = (version, requires) => `Metadata-Version: 2.1\nName: torch\nVersion: ${version}\n${requires.map((name) => `Requires-Dist: ${name}\n`).join('')}`

/** A wheel named torch `version` holding torch/lib/libtorch.so of 4 MB of random bytes, and
 *  what the CPU-only install leaves out: Python sources and libtorch_python.so. */
function standInWheel(dir, version = '2.11.0', requires = []) {
  const path = join(dir, wheelName(version))
  execFileSync('python3', ['-c', `
import os, zipfile
info = "torch-${version}.dist-info"
with zipfile.ZipFile(${JSON.stringify(path)}, "w", zipfile.ZIP_STORED) as wheel:
    wheel.writestr("torch/__init__.py", "")
    wheel.writestr("torch/version.py", "__version__ = '${version}'\\n")
    wheel.writestr("torch/_inductor/graph.py", "")
    wheel.writestr("torch/include/torch/torch.h", "")
    wheel.writestr("torch/lib/libtorch.so", os.urandom(4 << 20))
    wheel.writestr("torch/lib/libtorch_python.so", b"")
    wheel.writestr(info + "/METADATA", ${JSON.stringify(METADATA(version, requires))})
    wheel.writestr(info + "/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    wheel.writestr(info + "/RECORD", "")
`])
  return path
}

/** A PEP 503 index serving the wheel (and its metadata, PEP 658, so that pip's resolver does
 *  not fetch the wheel itself). The first full download is cut off half-way. */
async function serveIndex(t, wheelPath, version = '2.11.0', requires = []) {
  const WHEEL = wheelName(version)
  const wheel = readFileSync(wheelPath)
  const metadata = METADATA(version, requires)
  const sha = (bytes) => createHash('sha256').update(bytes).digest('hex')
  const requests = []
  let cutOff = false
  const server = createServer((request, response) => {
    request.url = decodeURIComponent(request.url)
    requests.push({ method: request.method, url: request.url, range: request.headers.range ?? null })
    if (request.url === '/simple/torch/') {
      response.setHeader('Content-Type', 'text/html')
      return response.end(`<a href="/files/${encodeURIComponent(WHEEL)}#sha256=${sha(wheel)}" data-dist-info-metadata="sha256=${sha(metadata)}" data-core-metadata="sha256=${sha(metadata)}">${WHEEL}</a>`)
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

/** Runs the setup script (or `command`) with the cache in `cache`, pip's index `indexUrl`
 *  and the CUDA build unless `env` says otherwise. */
function setup(cache, indexUrl, { command = ['bash', join(root, 'scripts', 'setup-libtorch.sh')], env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command[0], command.slice(1), {
      env: { ...process.env, LIBTORCH: '', RESNET_NAPI_TORCH: 'cuda', RESNET_NAPI_TORCH_INDEX_URL: '', RESNET_NAPI_CACHE: cache, PIP_INDEX_URL: indexUrl, PIP_NO_CACHE_DIR: '1', PIP_RETRIES: '0', ...env },
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
  t.false(existsSync(join(cache, 'wheels-torch-2.11.0-cuda')), 'the downloaded wheels are removed once installed')
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
  t.regex(stderr, /Not enough disk space in .*small\/wheels-torch-2\.11\.0-cuda: this install downloads 4\.2 MB more and unpacks to about 10\.5 MB/)
  t.regex(stderr, /RESNET_NAPI_CACHE/)
  t.deepEqual(index.requests.filter((r) => r.downloader && r.method === 'GET'), [], 'nothing was downloaded')
})

test('resnet setup --cpu installs the CPU-only build, libtorch alone, from the index given', async (t) => {
  const work = temporaryDir(t, 'resnet-install-cpu-')
  const requires = ['sympy>=1.13.3']
  const index = await serveIndex(t, standInWheel(work, '2.11.0+cpu', requires), '2.11.0+cpu', requires)
  const cache = join(work, 'cache')
  const cli = [process.execPath, join(root, 'dist', 'cli.js'), 'setup', '--cpu', '--index-url', index.url]
  // pip's own index is one that serves nothing: --index-url must win.
  const { code, stdout, stderr } = await setup(cache, 'http://127.0.0.1:9/simple', { command: cli, env: { RESNET_NAPI_TORCH: '' } })
  t.is(code, 0, stderr)
  const torch = join(cache, 'torch-2.11.0-cpu', 'torch')
  t.is(stdout.trim(), `libtorch is ready in ${torch}`)
  t.regex(stderr, /Installing torch==2\.11\.0, PyTorch's CPU-only build from http:\/\/127\.0\.0\.1:\d+\/simple/)
  t.regex(stderr, /\d+\.\d MB of \d+\.\d MB {2}\d+\.\d MB\/s/, 'the same progress line as the CUDA build')
  t.true(existsSync(join(cache, 'torch-2.11.0-cpu', '.complete')))
  // libtorch's libraries alone: no dependencies (sympy is not on the index), no Python sources,
  // no headers.
  t.deepEqual(readdirSync(torch).sort(), ['lib', 'version.py'])
  t.deepEqual(readdirSync(join(torch, 'lib')), ['libtorch.so'])
  t.false(existsSync(join(cache, 'torch-2.11.0')), 'the CUDA build is not installed')
  t.false(index.requests.some((r) => /sympy/.test(r.url)), 'no dependency was looked up')
  // Installed once: a second run downloads nothing.
  const again = await setup(cache, 'http://127.0.0.1:9/simple', { command: cli, env: { RESNET_NAPI_TORCH: '' } })
  t.is(again.code, 0, again.stderr)
  t.is(index.requests.filter((r) => r.downloader).length, 2, 'the cut-off download and its resumption only')
})

test('RESNET_NAPI_TORCH=cpu chooses the CPU-only build; the default falls back to the CUDA build when PyTorch\'s index does not answer', async (t) => {
  const work = temporaryDir(t, 'resnet-install-auto-')
  const cpuIndex = await serveIndex(t, standInWheel(work, '2.11.0+cpu'), '2.11.0+cpu')
  const byEnv = await setup(join(work, 'by-env'), 'http://127.0.0.1:9/simple', { env: { RESNET_NAPI_TORCH: 'cpu', RESNET_NAPI_TORCH_INDEX_URL: cpuIndex.url } })
  t.is(byEnv.code, 0, byEnv.stderr)
  t.is(byEnv.stdout.trim(), join(work, 'by-env', 'torch-2.11.0-cpu', 'torch'))

  const cudaDir = join(work, 'cuda')
  mkdirSync(cudaDir)
  const pypi = await serveIndex(t, standInWheel(cudaDir))
  // Nothing answers on port 9 (discard): PyTorch's index "does not answer".
  const auto = await setup(join(work, 'auto'), pypi.url, { env: { RESNET_NAPI_TORCH: '', RESNET_NAPI_TORCH_INDEX_URL: 'http://127.0.0.1:9/simple' } })
  t.is(auto.code, 0, auto.stderr)
  if (existsSync('/proc/driver/nvidia/version')) {
    t.log('an NVIDIA driver is here: the default is the CUDA build, without trying the CPU-only one')
    t.notRegex(auto.stderr, /CPU-only/)
  } else {
    t.regex(auto.stderr, /No NVIDIA driver here, so the CPU-only build was tried, but PyTorch's index did not answer/)
  }
  t.is(auto.stdout.trim(), join(work, 'auto', 'torch-2.11.0', 'torch'))
  t.is(statSync(join(work, 'auto', 'torch-2.11.0', 'torch', 'lib', 'libtorch.so')).size, 4 << 20)
})

test('an unknown variant is refused, naming the ones there are', async (t) => {
  const { code, stderr } = await setup(temporaryDir(t, 'resnet-install-bad-'), 'http://127.0.0.1:9/simple', { env: { RESNET_NAPI_TORCH: 'rocm' } })
  t.is(code, 1)
  t.regex(stderr, /RESNET_NAPI_TORCH=rocm: expected cpu, cuda or auto/)
})
