// A full disk and an output directory that cannot be written. The full disk is a small tmpfs
// mounted as the output (the tests run as root; where mounting is not permitted the same write
// path is driven to failure by RLIMIT_FSIZE in a child process, and the log says so).
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { readSafetensors, spawnTraining } from './checkpoint-files.mjs'
import { resnet } from './helpers.mjs'

const OPTIONS = { arch: 'resnet18', imageSize: 32, batchSize: 6, device: 'cpu', seed: 3, recipe: 'notebook', workers: 1 }
// resnet18 with 3 classes: model.safetensors 43 MiB (best/ and checkpoint-weights-<epoch> hold
// hard links to it, or to an earlier epoch's), checkpoint 85 MiB (Adam's two moments). 200 MiB
// holds the first epoch's files (128 MiB) and the second's model (171 MiB), but not a second
// checkpoint beside the first (256 MiB).
const TMPFS_MB = 200

function tryMount(dir, options) {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' })
    return true
  } catch {
    return false
  }
}

function unmount(dir) {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' })
  } catch {
    // not mounted
  }
}

function workDir(t) {
  const work = mkdtempSync(join(tmpdir(), 'resnet-disk-'))
  const data = join(work, 'data')
  makeDataset(data, { train: 4, test: 1, minSize: 32, maxSize: 48 })
  return { work, data }
}

const temporaries = (dir) => readdirSync(dir).filter((name) => name.startsWith('.tmp-'))

test.serial('a full disk is a clear ERR_IO; the previous checkpoint stays complete and resumable', async (t) => {
  const { work, data } = workDir(t)
  const output = join(work, 'small-disk')
  mkdirSync(output)
  t.teardown(() => {
    unmount(output)
    rmSync(work, { recursive: true, force: true })
  })
  let failure
  let reported
  if (tryMount(output, `size=${TMPFS_MB}m`)) {
    t.log(`output on a ${TMPFS_MB} MB tmpfs`)
    const written = []
    const run = resnet.train({ ...OPTIONS, data, output, epochs: 20 })
    run.on('checkpoint', (e) => written.push(e.epoch))
    failure = await t.throwsAsync(run)
    reported = written.at(-1) ?? 0
    t.regex(failure.message, /No space left on device/)
  } else {
    // A per-file limit is not a full disk: the first checkpoint (85 MiB) already fails, so
    // this checks the failure path (clear error, no temporary left, nothing partial taken).
    t.log('mount is not permitted here: RLIMIT_FSIZE of 60 MiB per file in a child process stands in for a full disk')
    const { lines, exited } = spawnTraining([data, output, 20], { maxFileKiB: 60 * 1024 })
    await exited
    failure = lines.at(-1)
    t.regex(failure.message, /File too large/)
    t.is(failure.code, 'ERR_IO')
    t.deepEqual(temporaries(output), [])
    t.false(existsSync(join(output, 'checkpoint.safetensors')))
    t.deepEqual(readdirSync(output).filter((name) => name.startsWith('checkpoint-weights-')), [], 'no weights file without its checkpoint')
    return
  }
  t.log(`error: ${failure.code}: ${failure.message}`)
  t.is(failure.code, 'ERR_IO')
  t.true(failure.message.includes(output), failure.message)
  t.true(reported >= 1, 'at least one epoch was written')
  // The failed write removed its temporary file; the last complete checkpoint is intact.
  t.deepEqual(temporaries(output), [])
  const checkpoint = readSafetensors(join(output, 'checkpoint.safetensors'))
  t.true(checkpoint.complete)
  t.is(checkpoint.progress.epoch, reported)
  const model = await resnet.loadModel(output, { device: 'cpu' })
  t.is(model.classes.length, 3)
  // Resuming (into roomier output) continues from the epoch the checkpoint holds.
  const epochs = []
  const run = resnet.train({ ...OPTIONS, data, resume: output, output: join(work, 'roomy'), epochs: reported + 1 })
  run.on('epoch', (e) => epochs.push(e.epoch))
  const result = await run
  t.deepEqual(epochs, [reported + 1])
  t.deepEqual(result.history.slice(0, reported), checkpoint.progress.history)
})

for (const [description, makeOutput] of [
  ['below a regular file', (work) => { writeFileSync(join(work, 'file'), 'x'); return join(work, 'file', 'out') }],
  ['an existing regular file', (work) => { writeFileSync(join(work, 'file'), 'x'); return join(work, 'file') }],
  ['inside /proc', () => '/proc/resnet-napi-output'],
]) {
  test.serial(`an output ${description} fails with ERR_IO before training starts`, async (t) => {
    const { work, data } = workDir(t)
    t.teardown(() => rmSync(work, { recursive: true, force: true }))
    const output = makeOutput(work)
    const events = []
    const run = resnet.train({ ...OPTIONS, data, output, epochs: 1 })
    for (const type of ['start', 'batch', 'epoch']) run.on(type, () => events.push(type))
    const error = await t.throwsAsync(run)
    t.is(error.code, 'ERR_IO')
    t.true(error.message.includes(output), error.message)
    t.deepEqual(events, [], 'nothing started')
  })
}

test.serial('an output on a read-only mount fails with ERR_IO before training starts', async (t) => {
  const { work, data } = workDir(t)
  const mountPoint = join(work, 'read-only')
  mkdirSync(mountPoint)
  t.teardown(() => {
    unmount(mountPoint)
    rmSync(work, { recursive: true, force: true })
  })
  if (!tryMount(mountPoint, 'size=1m,ro')) {
    t.log('mount is not permitted here: the read-only case is covered only by the /proc and regular-file cases')
    t.pass()
    return
  }
  for (const output of [mountPoint, join(mountPoint, 'new-run')]) {
    const events = []
    const run = resnet.train({ ...OPTIONS, data, output, epochs: 1 })
    for (const type of ['start', 'batch', 'epoch']) run.on(type, () => events.push(type))
    const error = await t.throwsAsync(run)
    t.is(error.code, 'ERR_IO')
    t.regex(error.message, /Read-only file system/)
    t.deepEqual(events, [], 'nothing started')
  }
  t.false(existsSync(join(mountPoint, 'new-run')))
})
