// Inference against onnxruntime-node on the CPU (issue 24 item 1): for resnet18/34/50 at 224
// px, batch 1 and 16, the median time of
//   - project: `model.logits(jpegBuffers)` on a loaded model in float32 (decoding included),
//   - project, before the fused convolutions: the same with RESNET_NAPI_FUSED_CONV=0,
//   - project with `precision: 'auto'` (the default: bf16 where this CPU measured it faster,
//     as runtimeInfo().cpuAutoBf16 says; else the float32 row again), with and without the
//     fused convolutions, and how far its logits are from float32's (top-1 agreement and the
//     largest probability difference over the batch-16 images),
//   - project, decoding alone: `model.inputTensor(jpegBuffers)` (what the network is spared),
//   - onnxruntime-node: `session.run()` on the model's own export, fed the prepared input
//     tensor (decoding excluded: the comparison least favourable to the project).
// Each side runs in a process of its own (onnxruntime's idle threads spin and would take CPU
// from the next side), in interleaved rounds; each side's median over the rounds counts.
// Prints one JSON line per case and writes bench/results/inference-onnx.{json,md}.
// usage: node bench/inference_onnx.mjs [--rounds 3] [--archs resnet18,resnet34,resnet50] [--out bench/results]
//        (child: node bench/inference_onnx.mjs --child project|onnx <case dir>)
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { argmax, softmax } from './logits.mjs'

const { values: args } = parseArgs({
  options: {
    child: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    archs: { type: 'string', default: 'resnet18,resnet34,resnet50' },
    out: { type: 'string', default: 'bench/results' },
  },
  allowPositionals: true,
  strict: false,
})
const BATCHES = [1, 16]
const IMAGE_SIZE = 224
const CALLS = { 1: 20, 16: 5 }
const WARMUP = 3
const cores = cpus().length

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** Median milliseconds of `calls` runs of `work` after `WARMUP` untimed ones. */
async function time(work, calls) {
  for (let i = 0; i < WARMUP; i++) await work()
  const times = []
  for (let i = 0; i < calls; i++) {
    const started = performance.now()
    await work()
    times.push(performance.now() - started)
  }
  return median(times)
}

const bodiesOf = (caseDir) => JSON.parse(readFileSync(join(caseDir, 'images.json'), 'utf8')).map((file) => readFileSync(file))

/** The project's side, in the precision `BENCH_PRECISION` names (fp32 unless set). */
async function projectChild(caseDir) {
  const { loadModel, runtimeInfo } = await import('../dist/index.js')
  const precision = process.env.BENCH_PRECISION ?? 'fp32'
  const model = await loadModel(join(caseDir, 'model'), { device: 'cpu', precision })
  const bodies = bodiesOf(caseDir)
  const side = `project${precision === 'fp32' ? '' : 'Auto'}${process.env.RESNET_NAPI_FUSED_CONV === '0' ? 'Unfused' : ''}`
  for (const batch of BATCHES) {
    const input = bodies.slice(0, batch)
    const logitsMs = await time(() => model.logits(input), CALLS[batch])
    const decodeMs = await time(() => model.inputTensor(input), CALLS[batch])
    const logits = batch === Math.max(...BATCHES) ? (await model.logits(input)).map((row) => [...row]) : undefined
    console.log(JSON.stringify({ side, batch, logitsMs, decodeMs, bf16: precision !== 'fp32' && runtimeInfo().cpuAutoBf16, logits }))
  }
  model.dispose()
}


/** How `auto`'s logits compare with float32's: the share of images with the same top class
 *  and the largest difference of a class probability. */
function agreement(fp32, auto) {
  let same = 0
  let largest = 0
  for (const [i, row] of fp32.entries()) {
    if (argmax(row) === argmax(auto[i])) same++
    const [p, q] = [softmax(row), softmax(auto[i])]
    for (const [j, value] of p.entries()) largest = Math.max(largest, Math.abs(value - q[j]))
  }
  return { top1Agreement: same / fp32.length, largestProbabilityDifference: largest }
}

async function onnxChild(caseDir) {
  const { default: ort } = await import('onnxruntime-node')
  const session = await ort.InferenceSession.create(join(caseDir, 'model.onnx'), { intraOpNumThreads: cores, interOpNumThreads: 1 })
  for (const batch of BATCHES) {
    const raw = readFileSync(join(caseDir, `input-${batch}.f32`))
    const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
    const input = new ort.Tensor('float32', data, [batch, 3, IMAGE_SIZE, IMAGE_SIZE])
    const runMs = await time(() => session.run({ input }), CALLS[batch])
    console.log(JSON.stringify({ side: 'onnx', batch, runMs }))
  }
}

/** Runs a child side and returns its JSON lines. */
async function side(kind, caseDir, extraEnv = {}) {
  const child = spawn(process.execPath, [import.meta.filename, '--child', kind, caseDir], {
    env: { ...process.env, OMP_NUM_THREADS: String(cores), ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (chunk) => { out += chunk })
  const code = await new Promise((done) => child.on('close', done))
  if (code !== 0) throw new Error(`${kind} side for ${caseDir} exited with ${code}`)
  const lines = out.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
  if (lines.length !== BATCHES.length) throw new Error(`${kind} side for ${caseDir} printed ${lines.length} results, expected ${BATCHES.length}`)
  return lines
}

/** A saved model of `arch` (trained one epoch on generated JPEGs), its ONNX export, the
 *  benchmark's JPEGs and their prepared input tensors, in `caseDir`. */
async function prepare(arch, caseDir, data) {
  const { loadModel, train } = await import('../dist/index.js')
  const modelDir = join(caseDir, 'model')
  const { model } = await train({ data, arch, imageSize: IMAGE_SIZE, epochs: 1, batchSize: 4, recipe: 'notebook', device: 'cpu', output: modelDir })
  model.dispose()
  const loaded = await loadModel(modelDir, { device: 'cpu', precision: 'fp32' })
  await loaded.exportOnnx(join(caseDir, 'model.onnx'))
  const files = readdirSync(join(data, 'test'), { recursive: true }).filter((file) => file.endsWith('.jpg')).map((file) => join(data, 'test', file))
  if (files.length < Math.max(...BATCHES)) throw new Error(`expected ${Math.max(...BATCHES)} test JPEGs, found ${files.length}`)
  writeFileSync(join(caseDir, 'images.json'), JSON.stringify(files))
  for (const batch of BATCHES) {
    const tensor = await loaded.inputTensor(files.slice(0, batch).map((file) => readFileSync(file)))
    writeFileSync(join(caseDir, `input-${batch}.f32`), Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength))
  }
  loaded.dispose()
}

/** A side's line without the logits kept for `agreement`, for the log and the JSON file. */
const withoutLogits = ({ logits: _logits, ...line }) => line

async function main() {
  const { makeDataset } = await import('../scripts/make-dataset.mjs')
  const archs = args.archs.split(',')
  const rounds = Number(args.rounds)
  const work = mkdtempSync(join(tmpdir(), 'resnet-inference-bench-'))
  try {
    const data = join(work, 'data')
    makeDataset(data, { train: 4, test: 8, minSize: 320, maxSize: 640 })
    const cases = {}
    for (const arch of archs) {
      const caseDir = join(work, arch)
      mkdirSync(caseDir)
      await prepare(arch, caseDir, data)
      cases[arch] = { caseDir, rounds: [] }
    }
    for (let round = 1; round <= rounds; round++) {
      for (const arch of archs) {
        const { caseDir } = cases[arch]
        const measured = [
          ...(await side('onnx', caseDir)),
          ...(await side('project', caseDir)),
          ...(await side('project', caseDir, { RESNET_NAPI_FUSED_CONV: '0' })),
          ...(await side('project', caseDir, { BENCH_PRECISION: 'auto' })),
          ...(await side('project', caseDir, { BENCH_PRECISION: 'auto', RESNET_NAPI_FUSED_CONV: '0' })),
        ]
        cases[arch].rounds.push(measured)
        console.error(`[inference] round ${round} ${arch}: ${JSON.stringify(measured.map(withoutLogits))}`)
      }
    }
    const results = []
    for (const arch of archs) {
      for (const batch of BATCHES) {
        const line = (lines, sideName) => lines.find((candidate) => candidate.side === sideName && candidate.batch === batch)
        const pick = (sideName, key) => median(cases[arch].rounds.map((lines) => line(lines, sideName)[key]))
        const first = cases[arch].rounds[0]
        const result = {
          arch, batch, imageSize: IMAGE_SIZE, threads: cores,
          projectMs: pick('project', 'logitsMs'),
          projectUnfusedMs: pick('projectUnfused', 'logitsMs'),
          decodeMs: pick('project', 'decodeMs'),
          onnxMs: pick('onnx', 'runMs'),
          autoPrecision: line(first, 'projectAuto').bf16 ? 'bf16' : 'fp32',
          projectAutoMs: pick('projectAuto', 'logitsMs'),
          projectAutoUnfusedMs: pick('projectAutoUnfused', 'logitsMs'),
        }
        result.ratio = result.projectMs / result.onnxMs
        result.autoRatio = result.projectAutoMs / result.onnxMs
        if (batch === Math.max(...BATCHES)) result.autoAgainstFp32 = agreement(line(first, 'project').logits, line(first, 'projectAuto').logits)
        results.push(result)
        console.log(JSON.stringify({ kind: 'inference_onnx', ...result }))
      }
    }
    const machine = `${cores} cores, ${cpus()[0]?.model ?? 'unknown CPU'}`
    mkdirSync(args.out, { recursive: true })
    writeFileSync(join(args.out, 'inference-onnx.json'), JSON.stringify({ date: new Date().toISOString(), machine, rounds, results, perRound: Object.fromEntries(archs.map((arch) => [arch, cases[arch].rounds.map((lines) => lines.map(withoutLogits))])) }, null, 2) + '\n')
    const ms = (value) => value.toFixed(1)
    const table = [
      `# Inference against onnxruntime-node (${new Date().toISOString()})`, '',
      `Machine: ${machine}, ${cores} threads on both sides, float32, ${IMAGE_SIZE} px; medians of ${rounds} interleaved round(s), each of ${CALLS[1]} (batch 1) or ${CALLS[16]} (batch 16) calls after ${WARMUP} untimed.`,
      'Project: `model.logits(jpegBuffers)` on a loaded model, decoding included; onnxruntime-node: `session.run()` on the exported model with the prepared input (decoding excluded).', '',
      '| arch | batch | project ms | onnxruntime-node ms | project / ORT | project before fused convolutions ms | of the project, decoding ms | project network alone (the difference) / ORT |',
      '|---|---|---|---|---|---|---|---|',
      ...results.map((r) => `| ${r.arch} | ${r.batch} | ${ms(r.projectMs)} | ${ms(r.onnxMs)} | ${r.ratio.toFixed(2)} | ${ms(r.projectUnfusedMs)} | ${ms(r.decodeMs)} | ${((r.projectMs - r.decodeMs) / r.onnxMs).toFixed(2)} |`),
      '',
      `With \`precision: 'auto'\` (the default), which on this CPU computes in ${results[0]?.autoPrecision ?? '?'}; onnxruntime-node still runs float32 (its CPU provider has no bf16 convolutions):`, '',
      '| arch | batch | project auto ms | project auto / ORT | auto before fused convolutions ms | auto against fp32 (batch 16): same top-1, largest probability difference |',
      '|---|---|---|---|---|---|',
      ...results.map((r) => `| ${r.arch} | ${r.batch} | ${ms(r.projectAutoMs)} | ${r.autoRatio.toFixed(2)} | ${ms(r.projectAutoUnfusedMs)} | ${r.autoAgainstFp32 ? `${(100 * r.autoAgainstFp32.top1Agreement).toFixed(0)}%, ${r.autoAgainstFp32.largestProbabilityDifference.toExponential(1)}` : ''} |`),
    ]
    writeFileSync(join(args.out, 'inference-onnx.md'), table.join('\n') + '\n')
    console.error(table.join('\n'))
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

if (args.child === 'project') await projectChild(process.argv.at(-1))
else if (args.child === 'onnx') await onnxChild(process.argv.at(-1))
else await main()
