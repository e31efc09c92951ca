// The GPU check's cases (scripts/gpu-check.sh runs it on the GPU machine; `--device cpu` dry-runs
// it anywhere). Each case runs under its own try/catch and time limit and prints one JSON line
// { case, ok, seconds, ... } (also appended to OUT/gpu-check.jsonl), so one failure never hides
// the rest: the CUDA libraries mapped; training by default (bf16 + channels_last + fused Adam on
// CUDA), with AdamW + one-cycle + clipping, in fp32 + SGD + NCHW, resumed, from pretrained
// weights with a frozen epoch, as one rank of a distributed run, resnet50 at 224 px; logits of the same weights on the device (fp32
// and bf16) and on the CPU; evaluate; predict latency (first and warm); ONNX export from a device model;
// running out of GPU memory (ERR_OUT_OF_MEMORY, no files, the process trains again).
// Each case's stderr follows a `[gpu-check] case <name>` line: scripts/gpu-check.sh keeps it
// in OUT/gpu-check.log and fails the check when one case printed the same warning twice.
//
// usage: node scripts/gpu-check.mjs OUT_DIR [--device cuda|cpu]
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { makeDataset, sampleJpeg } from './make-dataset.mjs'

const resnet = createRequire(import.meta.url)('../dist/index.js')
const { values: flags, positionals } = parseArgs({ allowPositionals: true, options: { device: { type: 'string', default: 'cuda' } } })
const out = positionals[0] ?? tmpdir()
const device = flags.device
mkdirSync(out, { recursive: true })
const work = mkdtempSync(join(tmpdir(), 'gpu-check-'))
const data = join(work, 'shapes')
makeDataset(data, { train: 40, test: 12 })

/** Runs one case within `seconds`; a training case receives an AbortSignal that fires then.
 *  Its stderr (libtorch's warnings, its forked ranks' too) follows a `[gpu-check] case <name>`
 *  line, so scripts/repeated-warnings.mjs counts repeats case by case. */
async function check(name, seconds, body) {
  process.stderr.write(`[gpu-check] case ${name}\n`)
  const started = performance.now()
  const controller = new AbortController()
  let timer
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => {
      controller.abort()
      reject(new Error(`over the ${seconds} s limit`))
    }, seconds * 1000)
  })
  let line
  try {
    const details = await Promise.race([body(controller.signal), limit])
    line = { case: name, ok: true, ...details }
  } catch (error) {
    line = { case: name, ok: false, code: error?.code, error: String(error?.message ?? error).slice(0, 2000) }
  } finally {
    clearTimeout(timer)
  }
  line.seconds = Number(((performance.now() - started) / 1000).toFixed(2))
  console.log(JSON.stringify(line))
  appendFileSync(join(out, 'gpu-check.jsonl'), `${JSON.stringify(line)}\n`)
  return line
}

const base = { data, arch: 'resnet18', imageSize: 64, batchSize: 16, epochs: 2, device }
const summary = (result) => ({
  epochs: result.history.map((e) => ({ loss: Number(e.loss.toFixed(4)), valAccuracy: e.valAccuracy, seconds: Number(e.seconds.toFixed(2)) })),
  device: result.model.device,
})
const trained = async (options, signal) => {
  const result = await resnet.train({ ...base, ...options, signal })
  const details = summary(result)
  result.model.dispose()
  if (!(details.epochs.at(-1).loss < details.epochs[0].loss * 1.5)) throw new Error(`the loss did not settle: ${JSON.stringify(details.epochs)}`)
  return details
}

await check('runtime', 60, async () => {
  const info = resnet.runtimeInfo()
  const maps = readFileSync('/proc/self/maps', 'utf8')
  const mapped = [...new Set(maps.split('\n').map((line) => line.split(/\s+/)[5] ?? '').filter((path) => /lib(torch|c10|cudnn|cublas|nccl|cudart)[^/]*\.so/.test(path)))]
  const cudaMapped = mapped.filter((path) => /torch_cuda|c10_cuda|cudnn|cublas|cudart/.test(path))
  if (device.startsWith('cuda') && !(info.cudaAvailable && cudaMapped.length)) throw new Error(`CUDA not available: ${JSON.stringify(info)}, mapped ${mapped.join(', ')}`)
  return { ...info, mapped }
})
const defaultOutput = join(work, 'default')
await check('train-default', 300, (signal) => trained({ output: defaultOutput }, signal))
await check('train-adamw-onecycle-clip', 300, (signal) => trained({ optimizer: 'adamw', schedule: 'onecycle', gradientClip: 1, output: join(work, 'adamw') }, signal))
await check('train-fp32-sgd-nchw', 300, (signal) =>
  trained({ precision: 'fp32', optimizer: 'sgd', learningRate: 0.05, channelsLast: false, output: join(work, 'sgd') }, signal))
await check('train-resume', 300, async (signal) => {
  const output = join(work, 'resumed')
  const first = await resnet.train({ ...base, epochs: 1, output, signal })
  first.model.dispose()
  return trained({ epochs: 2, resume: output }, signal)
})
await check('train-pretrained-freeze', 300, (signal) => trained({ pretrained: defaultOutput, freezeEpochs: 1, output: join(work, 'tuned') }, signal))
// One rank of a distributed run (this machine has one GPU): the rendezvous, the Reducer's
// hooks and the broadcasts on CUDA, through NCCL (the default) and through Gloo.
for (const backend of ['nccl', 'gloo']) {
  await check(`train-distributed-world-1-${backend}`, 300, async (signal) => {
    process.env.RESNET_NAPI_DISTRIBUTED_BACKEND = backend
    let started
    try {
      const run = resnet.train({ ...base, distributed: { nproc: 1, timeoutSeconds: 120 }, output: join(work, `distributed-${backend}`), signal })
      run.on('start', (event) => (started = event))
      const result = await run
      const details = summary(result)
      result.model.dispose()
      if (started?.backend !== (device.startsWith('cuda') ? backend : 'gloo')) throw new Error(`ran on ${started?.backend}, not ${backend}`)
      return { ...details, backend: started.backend }
    } finally {
      delete process.env.RESNET_NAPI_DISTRIBUTED_BACKEND
    }
  })
}
await check('train-resnet50-224', 420, (signal) =>
  trained({ arch: 'resnet50', imageSize: 224, batchSize: 32, epochs: 1, output: join(work, 'resnet50') }, signal))

const image = sampleJpeg('disc')
// The same weights on the device and on the CPU: in float32 (cuDNN may use TF32, hence the
// tolerance), and in bf16 autocast, inference's default on CUDA, which must rank alike.
await check('logits-device-vs-cpu', 120, async () => {
  // float32 on the CPU: 'auto' would be bf16 on a CPU with AMX, blurring the fp32 comparison.
  const onCpu = await resnet.loadModel(defaultOutput, { device: 'cpu', precision: 'fp32' })
  const reference = await onCpu.logits(image)
  onCpu.dispose()
  const compared = {}
  for (const precision of ['fp32', 'auto']) {
    const onDevice = await resnet.loadModel(defaultOutput, { device, precision })
    const logits = await onDevice.logits(image)
    onDevice.dispose()
    const argmax = (values) => values.indexOf(Math.max(...values))
    compared[precision] = { largestDifference: Math.max(...logits.map((value, index) => Math.abs(value - reference[index]))), sameTop: argmax(logits) === argmax(reference) }
  }
  if (!(compared.fp32.largestDifference < 5e-2)) throw new Error(`fp32 logits differ by ${compared.fp32.largestDifference}`)
  if (!(compared.auto.largestDifference < 0.5 && compared.auto.sameTop)) throw new Error(`bf16 logits differ: ${JSON.stringify(compared.auto)}`)
  return { device, ...compared }
})
await check('evaluate', 120, async () => {
  const model = await resnet.loadModel(defaultOutput, { device })
  const evaluation = await model.evaluate(data)
  model.dispose()
  return { accuracy: evaluation.accuracy, loss: evaluation.loss, count: evaluation.count }
})
await check('predict-latency', 120, async () => {
  const model = await resnet.loadModel(defaultOutput, { device })
  let started = performance.now()
  await model.predict(image)
  const firstMs = performance.now() - started
  const warm = []
  for (let i = 0; i < 20; i++) {
    started = performance.now()
    await model.predict(image)
    warm.push(performance.now() - started)
  }
  model.dispose()
  warm.sort((x, y) => x - y)
  return { firstMs: Number(firstMs.toFixed(2)), warmMedianMs: Number(warm[10].toFixed(2)) }
})
await check('onnx-export', 120, async () => {
  const model = await resnet.loadModel(defaultOutput, { device })
  const file = join(work, 'model.onnx')
  await model.exportOnnx(file)
  model.dispose()
  return { bytes: statSync(file).size }
})
// Out of memory for real (issue 23): resnet152 at 512 px in batches of 512 needs several times
// the GPU's memory. ERR_OUT_OF_MEMORY naming the batch and image size, no files in the output,
// and the same process then trains with a small batch. Only on a GPU: on the CPU the same job
// would page the machine to death before the allocator refused (the CPU path is tested with the
// test addon's hook, __test__/out-of-memory.spec.mjs).
if (!device.startsWith('cuda')) console.error('[gpu-check] out-of-memory: not run on the CPU')
else await check('out-of-memory', 180, async (signal) => {
  const many = join(work, 'many')
  makeDataset(many, { train: 171, test: 1, minSize: 32, maxSize: 40 })
  const output = join(work, 'too-big')
  const tried = { data: many, arch: 'resnet152', imageSize: 512, batchSize: 512, epochs: 1, device, output, signal }
  const error = await resnet.train(tried).then(() => null, (failure) => failure)
  if (error?.code !== 'ERR_OUT_OF_MEMORY') throw new Error(`expected ERR_OUT_OF_MEMORY, got ${error?.code}: ${error?.message ?? 'success'}`)
  if (!/batchSize 512 at imageSize 512/.test(error.message)) throw new Error(`the message does not name what was tried: ${error.message}`)
  const left = existsSync(output) ? readdirSync(output) : []
  if (left.length) throw new Error(`files left in the output: ${left.join(', ')}`)
  const again = await trained({ epochs: 1, output: join(work, 'after-oom') }, signal)
  return { message: error.message.slice(0, 400), after: again }
})
