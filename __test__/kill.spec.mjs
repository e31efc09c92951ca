// kill -9 of a training process at random moments, many of them while a checkpoint is being
// written: afterwards every .safetensors file in the output directory is complete (atomic
// writes: temporary file, fsync, rename, directory fsync), the checkpoint is at least the last
// epoch the process reported written ('checkpoint' event) and at most the one after the last
// epoch it reported finished (saving runs beside training), and resuming continues from it
// with the earlier history intact, clearing the killed writer's temporary files.
import test from 'ava'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { readSafetensors, spawnTraining } from './checkpoint-files.mjs'
import { resnet } from './helpers.mjs'

const TRIALS = 10
const OPTIONS = { arch: 'resnet18', imageSize: 32, batchSize: 6, device: 'cpu', seed: 3, recipe: 'notebook', workers: 1 }

function rng(seed) {
  let state = seed
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 4294967296
  }
}

const temporaries = (dir) => (existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith('.tmp-')) : [])

/** Waits until `ready()` is true (polling every 2 ms) or the child exits. */
async function until(ready, exited) {
  let gone = false
  exited.then(() => { gone = true })
  while (!gone && !ready()) await sleep(2)
  return !gone
}

test(`kill -9 at ${TRIALS} random moments never leaves a partial file taken for a complete one; resume continues`, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'resnet-kill-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  const data = join(work, 'data')
  makeDataset(data, { train: 4, test: 1, minSize: 32, maxSize: 48 })
  const random = rng(20261130)
  // Time from spawn to the first epoch's end, from the latest trial that saw one.
  let firstEpochMs = 8000
  const tally = { trials: 0, duringWrite: 0, duringCheckpointWrite: 0, beforeFirstCheckpoint: 0, resumed: 0 }

  for (let trial = 0; trial < TRIALS; trial++) {
    const output = join(work, `run-${trial}`)
    const { child, lines, exited } = spawnTraining([data, output, 1000])
    const pending = (name) => [output, join(output, 'best')].some((dir) => existsSync(join(dir, `.tmp-${child.pid}-${name}`)))
    const strategy = ['checkpoint write', 'any moment', 'model write'][trial % 3]
    const spawned = performance.now()
    if (strategy === 'any moment') {
      // Start-up, a batch, validation or a write: up to 1.5 first epochs in.
      await sleep(random() * 1.5 * firstEpochMs)
    } else {
      // Inside a write: once its temporary file appears (after the first epoch's files are
      // written, so that there is a checkpoint to resume from), 0-40 ms later.
      const name = strategy === 'model write' ? 'model.safetensors' : 'checkpoint.safetensors'
      await until(() => lines.some((line) => line.checkpoint) && pending(name), exited)
      await sleep(random() * 40)
    }
    if (lines.length > 0) firstEpochMs = lines[0].at - spawned
    const writing = [...temporaries(output), ...temporaries(join(output, 'best')).map((name) => `best/${name}`)]
    child.kill('SIGKILL')
    const { signal, stderr } = await exited
    t.is(signal, 'SIGKILL', `trial ${trial} ended before the kill: ${stderr}`)
    tally.trials++
    if (writing.length > 0) tally.duringWrite++
    if (writing.some((name) => name.endsWith('checkpoint.safetensors'))) tally.duringCheckpointWrite++
    const reported = lines.filter((line) => line.epoch).map((line) => line.epoch).at(-1) ?? 0
    const written = lines.filter((line) => line.checkpoint).map((line) => line.checkpoint).at(-1) ?? 0
    t.log(`trial ${trial} (${strategy}): killed after epoch ${reported} (written: ${written}); writing: ${writing.join(', ') || 'nothing'}`)

    // No finished file is partial: renames are atomic and happen only after fsync.
    for (const dir of [output, join(output, 'best')]) {
      if (!existsSync(dir)) continue
      for (const name of readdirSync(dir).filter((n) => n.endsWith('.safetensors') && !n.startsWith('.tmp-'))) {
        t.true(readSafetensors(join(dir, name)).complete, `trial ${trial}: ${name} in ${dir} is partial`)
      }
      if (existsSync(join(dir, 'model.json'))) t.notThrows(() => JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')))
    }

    const checkpointPath = join(output, 'checkpoint.safetensors')
    if (!existsSync(checkpointPath)) {
      tally.beforeFirstCheckpoint++
      t.is(written, 0, `trial ${trial}: an epoch was reported written but no checkpoint exists`)
      const error = await t.throwsAsync(resnet.train({ ...OPTIONS, data, resume: output, epochs: 1 }))
      t.is(error.code, 'ERR_MODEL_FILE')
      t.regex(error.message, /expected a checkpoint/)
      continue
    }
    const { progress } = readSafetensors(checkpointPath)
    t.true(written <= progress.epoch && progress.epoch <= reported + 1, `trial ${trial}: checkpoint epoch ${progress.epoch}, reported ${reported}, written ${written}`)

    const epochs = []
    const run = resnet.train({ ...OPTIONS, data, resume: output, epochs: progress.epoch + 1 })
    run.on('epoch', (e) => epochs.push(e.epoch))
    const result = await run
    t.deepEqual(epochs, [progress.epoch + 1], `trial ${trial}: resume runs only the next epoch`)
    t.deepEqual(result.history.slice(0, progress.epoch), progress.history, `trial ${trial}: earlier epochs are kept`)
    t.deepEqual(temporaries(output), [], `trial ${trial}: the killed writer's temporary files are removed`)
    t.deepEqual(temporaries(join(output, 'best')), [])
    t.is(readSafetensors(checkpointPath).progress.epoch, progress.epoch + 1)
    tally.resumed++
    rmSync(output, { recursive: true, force: true })
  }
  t.log(JSON.stringify(tally))
  t.is(tally.trials, TRIALS)
  t.true(tally.duringCheckpointWrite >= 3, `kills during a checkpoint write: ${tally.duringCheckpointWrite}`)
  t.true(tally.duringWrite >= 5, `kills during any write: ${tally.duringWrite}`)
  t.true(tally.resumed >= 6, `resumed ${tally.resumed}`)
})
