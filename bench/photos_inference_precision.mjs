// Inference precision on real photos: one trained model, its validation photos answered by each
// CPU inference path, against float32's answers. Paths: float32 on the fused convolutions (the
// reference), bf16 on the fused convolutions (what precision 'auto' runs on a CPU with AMX),
// bf16 under autocast over the plain folded network (the path before the fused one, and what a
// standard-layout model still runs), float32 on plain convolutions (a check: within 1e-4 of the
// reference). Each path runs in a process of its own: the fused convolutions are switched off
// per process (RESNET_NAPI_FUSED_CONV=0). Writes <out>/photos-inference-precision.json and .md.
//
// usage: node bench/photos_inference_precision.mjs --model DIR --data VAL_ROOT [--out bench/results]
//   VAL_ROOT holds <class>/<image>; the model was trained on the same classes (bench/photos.mjs
//   with --output DIR). A path whose precision this CPU cannot run natively is still measured
//   (bf16 is then emulated, and slow); the table says whether bf16 is native here.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { argmax, softmax } from './logits.mjs'

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    side: { type: 'string' },
  },
})
const PATHS = [
  { name: 'fp32 fused (reference)', precision: 'fp32', fused: true },
  { name: 'bf16 fused', precision: 'bf16', fused: true },
  { name: 'bf16 autocast, plain convolutions', precision: 'bf16', fused: false },
  { name: 'fp32 plain convolutions', precision: 'fp32', fused: false },
]

if (args.side !== undefined) await answerAsChild(PATHS[Number(args.side)])
else measure()

/** Child: the logits of every validation photo in one path, as one JSON line. */
async function answerAsChild(path) {
  const resnet = await import('../dist/index.js')
  const files = photos(args.data)
  const model = await resnet.loadModel(args.model, { device: 'cpu', precision: path.precision })
  const logits = []
  const started = performance.now()
  for (let i = 0; i < files.length; i += 16) {
    for (const row of await model.logits(files.slice(i, i + 16).map((file) => file.path))) logits.push([...row])
  }
  const seconds = (performance.now() - started) / 1000
  const info = resnet.runtimeInfo()
  console.log(JSON.stringify({ precision: model.precision, classes: model.classes, seconds, logits, nativeBf16: info.cpuNativeBf16, fusedFp32: info.cpuFusedConv, fusedBf16: info.cpuFusedConvBf16 }))
  model.dispose()
}

function photos(root) {
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((dir) => readdirSync(join(root, dir.name)).sort().map((name) => ({ label: dir.name, path: join(root, dir.name, name) })))
}

function measure() {
  const files = photos(args.data)
  const answers = PATHS.map((path, index) => {
    const env = { ...process.env, ...(path.fused ? {} : { RESNET_NAPI_FUSED_CONV: '0' }) }
    const run = spawnSync(process.execPath, [import.meta.filename, '--model', args.model, '--data', args.data, '--side', String(index)], { env, encoding: 'utf8', maxBuffer: 1 << 28 })
    if (run.status !== 0) throw new Error(`${path.name} failed: ${run.stderr}`)
    return JSON.parse(run.stdout.trim().split('\n').at(-1))
  })
  const reference = answers[0]
  const rows = PATHS.map((path, index) => {
    const { logits, classes, seconds, precision } = answers[index]
    let correct = 0, agree = 0, largestLogit = 0, sumProbability = 0, largestProbability = 0
    for (const [i, row] of logits.entries()) {
      const expected = reference.logits[i]
      if (classes[argmax(row)] === files[i].label) correct += 1
      if (argmax(row) === argmax(expected)) agree += 1
      const [p, q] = [softmax(row), softmax(expected)]
      for (const [j, value] of row.entries()) {
        largestLogit = Math.max(largestLogit, Math.abs(value - expected[j]))
        const difference = Math.abs(p[j] - q[j])
        largestProbability = Math.max(largestProbability, difference)
        sumProbability += difference
      }
    }
    const count = logits.length
    return {
      path: path.name, precision, fusedOff: !path.fused, accuracy: correct / count, agreement: agree / count,
      largestLogitDifference: largestLogit, meanProbabilityDifference: sumProbability / (count * classes.length),
      largestProbabilityDifference: largestProbability, seconds, count,
    }
  })
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`
  const { nativeBf16, fusedFp32, fusedBf16 } = reference
  // How the model was trained, from the run's config.json where there is one.
  const configPath = join(args.model, 'config.json')
  const config = existsSync(configPath) ? JSON.parse(readFileSync(configPath, 'utf8')) : null
  const training = config && { arch: config.arch, imageSize: config.imageSize, epochs: config.epochs, seed: config.seed, precision: config.precision }
  const trainedAs = training ? `: ${training.arch} at ${training.imageSize} px, ${training.epochs} epochs, seed ${training.seed}, trained with precision '${training.precision}'` : ''
  const report = { date: new Date().toISOString(), machine, model: args.model, training, data: args.data, nativeBf16, fusedFp32, fusedBf16, rows }
  mkdirSync(args.out, { recursive: true })
  writeFileSync(join(args.out, 'photos-inference-precision.json'), `${JSON.stringify(report, null, 2)}\n`)
  const table = [
    `# Inference precision on real photos (${report.date.slice(0, 10)}; ${machine})`,
    '',
    `${rows[0].count} validation photos (${args.data}), one trained model (${args.model}${trainedAs}). Native bf16: ${nativeBf16}; fused convolutions in fp32: ${fusedFp32}, in bf16: ${fusedBf16}. Differences are against the fp32 fused path's answers; seconds are for all photos in calls of 16, decoding included.`,
    '',
    '| path | accuracy | top-1 agreement with fp32 | largest logit difference | mean / largest probability difference | seconds |',
    '|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.path} | ${(100 * row.accuracy).toFixed(2)}% | ${(100 * row.agreement).toFixed(2)}% | ${row.largestLogitDifference.toExponential(2)} | ${row.meanProbabilityDifference.toExponential(2)} / ${row.largestProbabilityDifference.toExponential(2)} | ${row.seconds.toFixed(1)} |`),
    '',
  ].join('\n')
  writeFileSync(join(args.out, 'photos-inference-precision.md'), table)
  console.log(table)
}
