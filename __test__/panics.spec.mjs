// No Rust panic reaches Node: a panic or a libtorch error in each kind of native entry point
// (a synchronous call, an async task on the libuv pool, the training thread) arrives as an
// Error with a code, and the process carries on. The faults come from the binding's internal
// fault-injection hooks (crates/resnet-napi/src/fault_injection.rs), built only into the test
// addon (scripts/build-native.sh --test-hooks, native/test-hooks/), never the release one. napi-rs 3 itself wraps neither Task::compute nor plain #[napi] functions
// in catch_unwind: without the wrappers each of these would abort the process.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import errors from '../dist/errors.js'
import nativeModule from '../dist/native.js'

const root = new URL('..', import.meta.url)
// Read by dist/native.js when the addon is first loaded, here and in the child processes.
process.env.RESNET_NAPI_BINDING = fileURLToPath(new URL('native/test-hooks/binding.cjs', root))
const binding = () => nativeModule.binding()

test('the release addon has no fault-injection hooks', (t) => {
  const { RESNET_NAPI_BINDING: _testAddon, ...env } = process.env
  const script = `const b = require('./dist/native.js').binding(); console.log(typeof b.internalInjectFault, typeof b.internalInjectTrainingThreadPanic, typeof b.internalInjectOutOfMemory, typeof b.runtimeInfo)`
  const child = spawnSync(process.execPath, ['-e', script], { cwd: root, env, encoding: 'utf8', timeout: 60_000 })
  t.is(child.stdout.trim(), 'undefined undefined undefined function', child.stderr)
})

test('a panic in a synchronous entry point is a thrown ERR_LIBTORCH error', (t) => {
  const raw = t.throws(() => binding().internalInjectFault('panic'))
  const error = errors.fromNative(raw)
  t.is(error.code, 'ERR_LIBTORCH')
  t.regex(error.message, /injected fault: a panic in a synchronous entry point/)
})

test('a panic in an async task rejects with ERR_LIBTORCH', async (t) => {
  const error = await t.throwsAsync(errors.native(binding().internalInjectFault('panic-in-task')))
  t.is(error.code, 'ERR_LIBTORCH')
  t.regex(error.message, /injected fault: a panic in an async task/)
})

test('a libtorch exception returned by tch rejects with ERR_LIBTORCH and libtorch\'s message', async (t) => {
  const error = await t.throwsAsync(errors.native(binding().internalInjectFault('libtorch-error-in-task')))
  t.is(error.code, 'ERR_LIBTORCH')
  t.regex(error.message, /mat1 and mat2 shapes cannot be multiplied/)
  t.notRegex(error.message, /Exception raised from/, 'the C++ backtrace is cut')
})

test('a libtorch exception raised by tch as a panic rejects with ERR_LIBTORCH', async (t) => {
  const error = await t.throwsAsync(errors.native(binding().internalInjectFault('libtorch-panic-in-task')))
  t.is(error.code, 'ERR_LIBTORCH')
  t.regex(error.message, /mat1 and mat2 shapes cannot be multiplied/)
})

test('a panic on the training thread settles the callback with ERR_LIBTORCH instead of hanging', async (t) => {
  const error = await new Promise((resolve) => binding().internalInjectTrainingThreadPanic((failure) => resolve(failure)))
  const translated = errors.fromNative(error)
  t.is(translated.code, 'ERR_LIBTORCH')
  t.regex(translated.message, /injected fault: a panic on the training thread/)
})

test('after every kind of fault, in a fresh process, Node exits normally', (t) => {
  // A child process runs all the faults in a row; an abort would end it with a signal.
  const script = `
    const { binding } = require('./dist/native.js')
    const b = binding()
    try { b.internalInjectFault('panic') } catch {}
    const tasks = ['panic-in-task', 'libtorch-error-in-task', 'libtorch-panic-in-task'].map((f) => b.internalInjectFault(f).catch(() => 'rejected'))
    Promise.all(tasks).then((outcomes) => new Promise((resolve) => b.internalInjectTrainingThreadPanic((e) => resolve([...outcomes, e ? 'rejected' : 'resolved']))))
      .then((outcomes) => { console.log(JSON.stringify(outcomes)); process.exit(0) })
  `
  const child = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  t.is(child.signal, null, child.stderr)
  t.is(child.status, 0, child.stderr)
  t.deepEqual(JSON.parse(child.stdout.trim()), ['rejected', 'rejected', 'rejected', 'rejected'])
})
