// Packaging: the two npm packages (scripts/pack.mjs) install into an empty project with no
// Rust toolchain on PATH and no network (`npm ci --offline`: dependencies come from npm's
// cache, which the project's own `npm ci` filled), then the library loads the prebuilt addon
// from `resnet-napi-linux-x64-gnu`, finds libtorch without the build's rpath, trains one
// tiny epoch and predicts, and the `resnet` bin runs.
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { delimiter, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { pack } from '../scripts/pack.mjs'
import { temporaryDir } from './helpers.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const TOOLCHAIN = ['cargo', 'rustc', 'rustup']

/** The environment of a clean shell: no npm run variables, no libtorch hints, PATH without
 *  any directory holding a Rust toolchain, CI=true. */
function cleanEnvironment() {
  const env = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('npm_') || ['LIBTORCH', 'RESNET_NAPI_LIBTORCH', 'RESNET_NAPI_BINDING', 'NAPI_RS_NATIVE_LIBRARY_PATH', 'LD_LIBRARY_PATH'].includes(key)) continue
    env[key] = value
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir && !TOOLCHAIN.some((tool) => existsSync(join(dir, tool))))
    .join(delimiter)
  env.CI = 'true'
  return env
}

/** A lockfile for a project depending on the main tarball: what a user's lockfile holds after
 *  installing resnet-napi, with the platform package as its optional dependency and the
 *  registry dependencies pinned as in this repository's lockfile (so no registry metadata
 *  is needed, only the cached tarballs). */
function consumerLockfile(appDir, tarballs, main, platform) {
  const ours = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'))
  const fileSpec = (path) => `file:${relative(appDir, path)}`
  const integrity = (path) => `sha512-${createHash('sha512').update(readFileSync(path)).digest('base64')}`
  const packages = {
    '': { name: 'resnet-napi-install-check', version: '1.0.0', dependencies: { 'resnet-napi': fileSpec(tarballs.main) } },
    'node_modules/resnet-napi': {
      version: main.version,
      resolved: fileSpec(tarballs.main),
      integrity: integrity(tarballs.main),
      license: main.license,
      dependencies: main.dependencies,
      optionalDependencies: main.optionalDependencies,
      bin: main.bin,
      engines: main.engines,
    },
    [`node_modules/${platform.name}`]: {
      version: platform.version,
      resolved: fileSpec(tarballs.platform),
      integrity: integrity(tarballs.platform),
      license: platform.license,
      optional: true,
      os: platform.os,
      cpu: platform.cpu,
      libc: platform.libc,
      engines: platform.engines,
    },
  }
  for (const [path, entry] of Object.entries(ours.packages)) {
    if (path && !entry.dev && !entry.devOptional) packages[path] = entry
  }
  return { name: 'resnet-napi-install-check', version: '1.0.0', lockfileVersion: 3, requires: true, packages }
}

/** package.json inside a tarball. */
function packedManifest(tarball) {
  return JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }))
}

// Runs in the installed project: load, train one epoch, predict; reports what it used.
const CHECK = `
const { readdirSync, readFileSync } = require('node:fs')
const resnet = require('resnet-napi')
const info = resnet.runtimeInfo()
const loaded = (name) => Object.keys(require.cache).find((path) => path.endsWith(name))
const addon = loaded('/resnet-napi.linux-x64-gnu.node')
const libtorch = readFileSync('/proc/self/maps', 'utf8').split('\\n').map((line) => line.split(/\\s+/)[5]).find((path) => path && path.endsWith('/libtorch_cpu.so'))
;(async () => {
  const run = resnet.train({ data: 'data', output: 'run', arch: 'resnet18', epochs: 1, imageSize: 32, batchSize: 6, device: 'cpu', recipe: 'notebook' })
  const { model, history } = await run
  const ranked = await model.predict(readdirSync('data/test/disc').map((f) => 'data/test/disc/' + f)[0], { topK: 3 })
  console.log(JSON.stringify({ info, addon, optionsAddon: loaded('/resnet-napi-options.linux-x64-gnu.node'), libtorch, history, ranked, classes: model.classes }))
})().catch((error) => { console.error(error); process.exit(1) })
`

test('npm pack both packages, install offline without Rust, load, train a tiny epoch and predict', (t) => {
  const work = temporaryDir(t, 'resnet-package-')
  const tarballs = pack(join(work, 'tarballs'))
  const main = packedManifest(tarballs.main)
  t.deepEqual(main.optionalDependencies, { 'resnet-napi-linux-x64-gnu': main.version }, 'the main package names its platform package')
  const platform = JSON.parse(readFileSync(join(root, 'npm', 'linux-x64-gnu', 'package.json'), 'utf8'))
  const app = join(work, 'app')
  mkdirSync(app)
  const lock = consumerLockfile(app, tarballs, main, platform)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: lock.name, version: '1.0.0', private: true, dependencies: lock.packages[''].dependencies }))
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2))
  makeDataset(join(app, 'data'), { train: 4, test: 2, maxSize: 60 })
  writeFileSync(join(app, 'check.cjs'), CHECK)

  const env = cleanEnvironment()
  const cargo = spawnSync('sh', ['-c', TOOLCHAIN.map((tool) => `command -v ${tool}`).join(' || ')], { env, encoding: 'utf8' })
  t.not(cargo.status, 0, `a Rust toolchain is still on PATH: ${cargo.stdout}`)

  const install = spawnSync('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: app, env, encoding: 'utf8', timeout: 300_000 })
  t.is(install.status, 0, `npm ci --offline failed:\n${install.stdout}\n${install.stderr}`)
  t.true(existsSync(join(app, 'node_modules', platform.name, 'resnet-napi.linux-x64-gnu.node')))
  t.is(existsSync(join(app, 'node_modules', platform.name, 'libresnet_nccl.so')), existsSync(join(root, 'native', 'libresnet_nccl.so')), 'NCCL ships beside the addon when built')
  t.false(readdirSync(join(app, 'node_modules', 'resnet-napi', 'native')).some((name) => name.endsWith('.node')), 'the main package carries no binary')

  const check = spawnSync(process.execPath, ['check.cjs'], { cwd: app, env, encoding: 'utf8', timeout: 300_000 })
  t.is(check.status, 0, check.stderr)
  const report = JSON.parse(check.stdout.trim().split('\n').pop())
  t.is(report.addon, join(app, 'node_modules', platform.name, 'resnet-napi.linux-x64-gnu.node'))
  t.is(report.optionsAddon, join(app, 'node_modules', platform.name, 'resnet-napi-options.linux-x64-gnu.node'), 'train() checked its options with the platform package\'s options addon')
  t.truthy(report.libtorch, 'libtorch_cpu.so is mapped')
  t.true(report.info.threads >= 1)
  t.is(report.history.length, 1)
  t.true(Number.isFinite(report.history[0].loss))
  t.is(report.ranked.length, 3)
  t.deepEqual(report.ranked.map((p) => p.label).sort(), [...report.classes].sort())
  t.log(`addon: ${relative(app, report.addon)}; libtorch found at ${report.libtorch}; epoch loss ${report.history[0].loss.toFixed(4)}`)

  const bin = spawnSync(join(app, 'node_modules', '.bin', 'resnet'), ['export', '--help'], { cwd: app, env, encoding: 'utf8' })
  t.is(bin.status, 0, bin.stderr)
  t.regex(bin.stdout, /--onnx <file>/)
})
