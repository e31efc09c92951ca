// Building from source explains itself: a missing tool stops the build within seconds, named
// with its install command; `resnet doctor` reports the machine and `resnet setup` exists.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, symlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { temporaryDir } from './helpers.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** A PATH holding every tool the build may look for, but not `left out`. */
function pathWithout(t, leftOut) {
  const bin = join(temporaryDir(t, 'resnet-path-'), 'bin')
  mkdirSync(bin)
  for (const tool of ['bash', 'cargo', 'c++', 'g++', 'make', 'cmake', 'nasm', 'python3', 'node', 'npx', 'cat', 'dirname', 'env', 'uname']) {
    if (tool === leftOut) continue
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim()
    if (found) symlinkSync(found, join(bin, tool))
  }
  return bin
}

test('a build without nasm stops within 10 s, naming nasm and the command that installs it', (t) => {
  const started = Date.now()
  const build = spawnSync('bash', [join(root, 'scripts', 'build-native.sh')], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PATH: pathWithout(t, 'nasm') },
    timeout: 60_000,
  })
  t.not(build.status, 0)
  t.true(Date.now() - started < 10_000, `took ${Date.now() - started} ms`)
  t.regex(build.stderr, /missing:\n(  - .*\n)*  - nasm\n/)
  t.regex(build.stderr, /apt-get install -y .*\bnasm\b/)
  t.notRegex(build.stderr, /cmake\n/, 'cmake is there and not named')
})

test('resnet doctor reports libtorch, CUDA, threads, precision and caches', (t) => {
  const run = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'doctor', '--json'], { encoding: 'utf8', timeout: 120_000 })
  t.is(run.status, 0, run.stderr)
  const report = JSON.parse(run.stdout)
  t.regex(report.libtorch.version, /^2\.11\.0/)
  t.regex(report.libtorch.dir, /torch\/lib$/)
  t.is(report.libtorch.variant, existsSync(join(report.libtorch.dir, 'libtorch_cuda.so')) ? 'cuda' : 'cpu')
  t.true(report.libtorch.bytes > 1e8, `${report.libtorch.bytes} bytes`)
  t.is(typeof report.cuda.available, 'boolean')
  t.is(typeof report.cuda.cudnn, 'boolean')
  t.true(report.cpu.threads >= 1)
  t.regex(report.precisionAuto.cpu, report.cpu.nativeBf16 ? /bf16/ : /fp32/)
  t.true(report.caches.some((cache) => cache.name.startsWith('torch-') && cache.bytes > 1e9), JSON.stringify(report.caches))
  t.deepEqual(report.fixes, [])
  const text = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'doctor'], { encoding: 'utf8', timeout: 120_000 })
  t.regex(text.stdout, /libtorch {2}2\.11\.0\S* \((CUDA|CPU-only) build, \d+\.\d [MG]B\)/)
})

test('resnet doctor names the fix when the addon does not load', (t) => {
  const empty = temporaryDir(t, 'resnet-no-torch-')
  const run = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'doctor', '--json'], {
    encoding: 'utf8',
    timeout: 120_000,
    // A loader that cannot load, and no libtorch where a retry would look.
    env: { ...process.env, RESNET_NAPI_CACHE: empty, RESNET_NAPI_BINDING: join(root, '__test__', 'no-such-binding.cjs'), PATH: '/usr/bin:/bin' },
  })
  t.is(run.status, 1)
  const report = JSON.parse(run.stdout)
  t.is(report.libtorch, null)
  t.truthy(report.loadError)
  t.true(report.fixes.some((fix) => fix.startsWith('npx resnet setup')), JSON.stringify(report.fixes))
})
