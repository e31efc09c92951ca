// Running out of memory while training (CUDA's allocator, injected here through the test addon's
// hook, crates/resnet-napi/src/fault_injection.rs, since this machine has no GPU; the GPU check
// runs a real one): ERR_OUT_OF_MEMORY saying what was tried and what to lower, no files when no
// epoch completed, and the same process trains again with a smaller batch.
import test from 'ava'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import nativeModule from '../dist/native.js'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

// Read by dist/native.js when the addon is first loaded.
process.env.RESNET_NAPI_BINDING = fileURLToPath(new URL('../native/test-hooks/binding.cjs', import.meta.url))

test('out of memory is ERR_OUT_OF_MEMORY naming the batch and image size, leaves no files, and the process trains again', async (t) => {
  const work = temporaryDir(t, 'resnet-oom-')
  const data = join(work, 'data')
  makeDataset(data, { train: 8, test: 2, minSize: 32, maxSize: 48 })
  const output = join(work, 'run')
  const options = { data, output, arch: 'resnet18', imageSize: 32, batchSize: 8, epochs: 1, device: 'cpu', workers: 1 }
  nativeModule.binding().internalInjectOutOfMemory(output, 0)
  const events = []
  const run = resnet.train(options)
  for (const type of ['epoch', 'checkpoint']) run.on(type, () => events.push(type))
  const error = await t.throwsAsync(run)
  t.is(error.code, 'ERR_OUT_OF_MEMORY')
  t.regex(error.message, /^training resnet18 with batchSize 8 at imageSize 32 ran out of memory on cpu: lower batchSize \(for example to 4\) or imageSize/)
  t.regex(error.message, /nothing was saved \(out of memory: CUDA out of memory\. Tried to allocate/)
  t.deepEqual(events, [])
  t.deepEqual(existsSync(output) ? readdirSync(output) : [], [], 'no files from a run that completed no epoch')

  const result = await resnet.train({ ...options, batchSize: 4 })
  t.is(result.history.length, 1)
  result.model.dispose()
})
