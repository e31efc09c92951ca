// Inference precision: 'auto' is bf16 exactly where the processor computes bfloat16 natively
// and bf16 measured faster than float32 (runtimeInfo says which), 'fp32' is the float32 path, and bf16 logits stay close to
// float32's and rank alike. A loaded model folds batch norm and computes as the trained one.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeDataset, sampleJpeg } from '../scripts/make-dataset.mjs'
import { resnet, temporaryDir } from './helpers.mjs'

test('runtimeInfo names the CPU path that precision auto takes', (t) => {
  const info = resnet.runtimeInfo()
  t.is(typeof info.cpuNativeBf16, 'boolean')
  t.is(typeof info.cpuAutoBf16, 'boolean')
  if (process.arch === 'x64') {
    const flags = readFileSync('/proc/cpuinfo', 'utf8')
    t.is(info.cpuNativeBf16, /\bavx512_bf16\b/.test(flags))
  }
  // Measured only where bf16 is native: emulated bf16 is never taken.
  if (!info.cpuNativeBf16) t.false(info.cpuAutoBf16)
  // bf16 inference runs the fused convolutions exactly where bf16 is native (the PyPI wheel's
  // libtorch has oneDNN).
  t.is(info.cpuFusedConvBf16, info.cpuNativeBf16)
})

/** A resnet18 trained one epoch in fp32 on generated shapes (`perClass` training images per
 *  class), saved in a temporary folder: its path and the model train() returned. */
async function trainedInFp32(t, { perClass, imageSize, batchSize, seed }) {
  const dir = temporaryDir(t)
  const data = join(dir, 'shapes')
  makeDataset(data, { train: perClass, test: 1, maxSize: 80 })
  const output = join(dir, 'model')
  const { model } = await resnet.train({ data, output, arch: 'resnet18', imageSize, epochs: 1, batchSize, device: 'cpu', seed, precision: 'fp32' })
  return { output, trained: model }
}

test('precision auto, fp32 and bf16 at load: bf16 logits are close to fp32 and rank alike', async (t) => {
  const { output, trained } = await trainedInFp32(t, { perClass: 8, imageSize: 48, batchSize: 8, seed: 2 })
  const images = [sampleJpeg('disc'), sampleJpeg('stripes'), sampleJpeg('square')]
  const logits = async (precision) => {
    const model = await resnet.loadModel(output, { device: 'cpu', precision })
    t.is(model.precision, precision === 'auto' ? (resnet.runtimeInfo().cpuAutoBf16 ? 'bf16' : 'fp32') : precision)
    const rows = await model.logits(images)
    model.dispose()
    return rows.map((row) => [...row])
  }
  const [fp32, bf16, auto] = [await logits('fp32'), await logits('bf16'), await logits('auto')]
  t.deepEqual(auto, resnet.runtimeInfo().cpuAutoBf16 ? bf16 : fp32)
  // The model train() returned (trained in fp32) infers in fp32, folded like the loaded one.
  t.deepEqual((await trained.logits(images)).map((row) => [...row]), fp32)
  trained.dispose()
  const argmax = (row) => row.indexOf(Math.max(...row))
  let largest = 0
  for (const [i, row] of fp32.entries()) {
    t.is(argmax(bf16[i]), argmax(row), `image ${i}`)
    for (const [j, value] of row.entries()) largest = Math.max(largest, Math.abs(value - bf16[i][j]))
  }
  t.log(`bf16 against fp32: largest logit difference ${largest.toExponential(2)}`)
  t.true(largest > 0, 'bf16 computes differently')
  t.true(largest < 0.25, `bf16 logits differ by ${largest}`)
  await t.throwsAsync(resnet.loadModel(output, { precision: 'fp16' }), { code: 'ERR_INVALID_OPTION', message: /precision/ })
})

test('fp32 inference on the CPU runs the fused convolutions; RESNET_NAPI_FUSED_CONV=0 runs plain ones with the same logits within 1e-4', async (t) => {
  const { output, trained } = await trainedInFp32(t, { perClass: 4, imageSize: 40, batchSize: 6, seed: 3 })
  trained.dispose()
  const images = [sampleJpeg('disc'), sampleJpeg('square')]
  // The PyPI wheel's libtorch is built with oneDNN, so the fused path is on by default.
  t.true(resnet.runtimeInfo().cpuFusedConv)
  const model = await resnet.loadModel(output, { device: 'cpu', precision: 'fp32' })
  const fused = (await model.logits(images)).map((row) => [...row])
  model.dispose()
  // The switch is read once per process: the plain side runs in a child.
  const script = `
    const resnet = require(${JSON.stringify(join(import.meta.dirname, '..', 'dist', 'index.js'))})
    resnet.loadModel(${JSON.stringify(output)}, { device: 'cpu', precision: 'fp32' }).then(async (model) => {
      const images = ${JSON.stringify(images.map((image) => image.toString('base64')))}.map((b64) => Buffer.from(b64, 'base64'))
      const logits = (await model.logits(images)).map((row) => [...row])
      console.log(JSON.stringify({ fusedConv: resnet.runtimeInfo().cpuFusedConv, logits }))
      model.dispose()
    })`
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, RESNET_NAPI_FUSED_CONV: '0' }, timeout: 120_000 })
  t.is(child.status, 0, child.stderr)
  const plain = JSON.parse(child.stdout.trim().split('\n').at(-1))
  t.false(plain.fusedConv)
  let largest = 0
  for (const [i, row] of plain.logits.entries()) {
    for (const [j, value] of row.entries()) largest = Math.max(largest, Math.abs(value - fused[i][j]))
  }
  t.log(`fused against plain convolutions: largest logit difference ${largest.toExponential(2)}`)
  t.true(largest < 1e-4, `fused logits differ by ${largest}`)
})
