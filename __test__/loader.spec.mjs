// Loading the addon: plain `node` with no LD_LIBRARY_PATH finds libtorch; when libtorch
// cannot be found the error is ERR_LIBTORCH, says where it looked and how to fix it.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

function node(script, env) {
  return spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env, timeout: 120_000 })
}

test('require works in a plain node without LD_LIBRARY_PATH', (t) => {
  const env = { ...process.env }
  delete env.LD_LIBRARY_PATH
  delete env.LIBTORCH
  const run = node("const r = require('./dist/index.js'); console.log(JSON.stringify(r.runtimeInfo()))", env)
  t.is(run.status, 0, run.stderr)
  const info = JSON.parse(run.stdout)
  t.is(typeof info.cudaAvailable, 'boolean')
  t.true(info.threads >= 1)
})

test('the loader finds libtorch from RESNET_NAPI_LIBTORCH when the rpath does not', (t) => {
  // A copy of the addon whose rpath is gone (see strip-rpath.cjs) must load through
  // the preload of the directory RESNET_NAPI_LIBTORCH names.
  const env = { ...process.env, RESNET_NAPI_TEST_STRIPPED: '1' }
  const run = node(
    `const { stripped, libtorchLib } = require('./__test__/strip-rpath.cjs'); const copy = stripped();
     process.env.RESNET_NAPI_BINDING = copy; process.env.RESNET_NAPI_LIBTORCH = libtorchLib();
     const r = require('./dist/index.js'); console.log(JSON.stringify(r.runtimeInfo()))`,
    env,
  )
  t.is(run.status, 0, run.stderr)
  t.true(JSON.parse(run.stdout).threads >= 1)
})

test('without libtorch the error is ERR_LIBTORCH with where it looked and the fix', (t) => {
  const env = { ...process.env, HOME: '/nonexistent', RESNET_NAPI_CACHE: '/nonexistent/cache', PATH: '/nonexistent' }
  delete env.LIBTORCH
  delete env.RESNET_NAPI_LIBTORCH
  const run = node(
    `const { stripped } = require('./__test__/strip-rpath.cjs'); process.env.RESNET_NAPI_BINDING = stripped();
     try { require('./dist/index.js').runtimeInfo() } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`,
    env,
  )
  t.is(run.status, 0, run.stderr)
  const error = JSON.parse(run.stdout)
  t.is(error.code, 'ERR_LIBTORCH')
  t.regex(error.message, /Looked for libtorch in: .*\/nonexistent\/cache\/torch-2\.11\.0\/torch\/lib/)
  t.regex(error.message, /npx resnet setup --cpu/)
  t.regex(error.message, /RESNET_NAPI_LIBTORCH/)
})

test('without libtorch, train() still checks its options at once (the options addon links no libtorch), then rejects with ERR_LIBTORCH', (t) => {
  const env = { ...process.env, HOME: '/nonexistent', RESNET_NAPI_CACHE: '/nonexistent/cache', PATH: '/nonexistent' }
  // Nothing may lead the options addon to a libtorch: it must need none.
  for (const name of ['LIBTORCH', 'RESNET_NAPI_LIBTORCH', 'LD_LIBRARY_PATH']) delete env[name]
  const run = node(
    `const { stripped } = require('./__test__/strip-rpath.cjs'); process.env.RESNET_NAPI_BINDING = stripped();
     const resnet = require('./dist/index.js')
     let thrown
     try { resnet.train({ data: '/nonexistent/data', epochs: 0 }) } catch (e) { thrown = { code: e.code, message: e.message } }
     resnet.train({ data: '/nonexistent/data', epochs: 1, output: '/nonexistent/run' }).then(
       () => console.log('{}'),
       (e) => console.log(JSON.stringify({ thrown, rejected: { code: e.code, message: e.message } })))`,
    env,
  )
  t.is(run.status, 0, run.stderr)
  const { thrown, rejected } = JSON.parse(run.stdout)
  t.is(thrown?.code, 'ERR_INVALID_OPTION')
  t.regex(thrown.message, /epochs/)
  t.is(rejected?.code, 'ERR_LIBTORCH')
  t.regex(rejected.message, /npx resnet setup/)
})
