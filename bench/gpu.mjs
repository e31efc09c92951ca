// The GPU benchmark of the GPU issue, side by side in one run: the project and PyTorch (the
// GPU machine's own torch 2.11 + torchvision) one after the other on the same GPU. Writes
// OUT/gpu-latest.json (rows of { name, unit, project, pytorch, ratio, higherIsBetter, goal,
// goalOn, met, machine }, the schema of bench/results/latest.json) and OUT/gpu-latest.md; commit
// them as bench/results/gpu-latest.*. A side that fails or prints nothing usable fails the run:
// no row is ever invented.
//
// usage: node bench/gpu.mjs OUT_DIR [--device cuda|cpu] [--quick]
//   --device cpu --quick: a dry run of the plumbing on a machine without a GPU (its figures
//   are not GPU figures and are labelled so).
// Needs: python3 with torch, torchvision, OpenCV and Pillow (PYTHONPATH may name them); the
// project's step benchmark binary (BENCH_STEP_BINARY, else the cargo build's); libtorch's
// lib/ on LD_LIBRARY_PATH for that binary (scripts/gpu-check.sh sets both).
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeRow, makeRow } from './rows.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
process.chdir(root)
const args = process.argv.slice(2)
const out = resolve(args[0] ?? 'bench/results')
const device = args.includes('--device') ? args[args.indexOf('--device') + 1] : 'cuda'
const quick = args.includes('--quick')
const cores = cpus().length
const size = quick
  ? { steps: 2, warmup: 1, imageSize: 64, batch: 8, bigBatch: 16, photos: 200, latencyCalls: 5 }
  : { steps: 30, warmup: 10, imageSize: 256, batch: 64, bigBatch: 256, photos: 10000, latencyCalls: 50 }
const stepBinary = process.env.BENCH_STEP_BINARY
  ?? join(process.env.CARGO_TARGET_DIR ?? 'target', 'release/examples/train-step-bench')
const data = process.env.BENCH_DATA ?? (device === 'cpu' ? 'bench/data' : '/tmp/resnet-gpu-bench')
mkdirSync(out, { recursive: true })
mkdirSync(data, { recursive: true })

/** Runs a command, echoes its output, and returns its JSON lines. */
async function run(label, command, commandArgs) {
  console.error(`\n[gpu-bench] ${label}: ${command} ${commandArgs.join(' ')}`)
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'inherit'] })
  let text = ''
  child.stdout.on('data', (chunk) => { text += chunk; process.stderr.write(chunk) })
  const code = await new Promise((done) => child.on('close', done))
  if (code !== 0) throw new Error(`${label} exited with ${code}`)
  const rows = text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
  if (rows.length === 0) throw new Error(`${label} printed no results`)
  return rows
}
const python = (script, scriptArgs) => ['python3', [join('bench', script), ...scriptArgs]]
const one = (rows, kind) => {
  const found = rows.find((row) => row.kind === kind)
  if (!found) throw new Error(`no ${kind} result`)
  return found
}

const [gpu] = await run('device', 'python3', ['-c', `import json, torch; print(json.dumps({"kind": "device", "name": torch.cuda.get_device_name(0) if "${device}" != "cpu" else "cpu", "torch": torch.__version__}))`])
const machine = device === 'cpu' ? `dry run on the CPU (${cores} cores), not GPU figures` : `${gpu.name}, ${cores} CPU cores, torch ${gpu.torch}`

const results = []
const started = new Date().toISOString()
/** Writes the rows so far, so that a run cut short still leaves what it measured. */
function save() {
  const document = { date: started, device, quick, machine, complete: results.length === ROWS, rows: results }
  writeFileSync(join(out, 'gpu-latest.json'), JSON.stringify(document, null, 2) + '\n')
  const table = ['| workload | unit | project | PyTorch | ratio | goal | met |', '|---|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.name} | ${r.unit} | ${r.project} | ${r.pytorch ?? ''} | ${r.ratio ?? ''} | ${r.goal ?? ''} | ${r.met ?? ''} |`)]
  writeFileSync(join(out, 'gpu-latest.md'), `# GPU benchmark (${started})\n\nMachine: ${machine}.${document.complete ? '' : ' Incomplete: the run stopped early.'}\n\n${table.join('\n')}\n`)
}
function row(...fields) {
  const entry = makeRow(machine, ...fields)
  results.push(entry)
  save()
  console.error(`[gpu-bench] ${describeRow(entry)}`)
}

// 1. Synthetic tensors: training steps and inference, torchvision eager against the project.
const synthetic = [
  { label: `resnet34 b${size.bigBatch} bf16 + channels_last`, arch: 'resnet34', batch: size.bigBatch, bf16: true, channelsLast: true },
  { label: `resnet50 b${size.bigBatch} bf16 + channels_last`, arch: 'resnet50', batch: size.bigBatch, bf16: true, channelsLast: true },
  { label: `resnet34 b${size.batch} fp32 (the notebook's setting)`, arch: 'resnet34', batch: size.batch, bf16: false, channelsLast: false },
  { label: `resnet34 b${size.batch} bf16 + channels_last`, arch: 'resnet34', batch: size.batch, bf16: true, channelsLast: true },
  { label: `inference resnet34 b${size.bigBatch} bf16 + channels_last`, arch: 'resnet34', batch: size.bigBatch, bf16: true, channelsLast: true, mode: 'infer' },
]
// The synthetic rows, three end-to-end rows and two prediction rows.
const ROWS = synthetic.length + 5
const projectRate = {}
for (const setting of synthetic) {
  const mode = setting.mode ?? 'train'
  const common = ['--arch', setting.arch, '--batch-size', String(setting.batch), '--image-size', String(size.imageSize), '--steps', String(size.steps), '--warmup', String(size.warmup), '--device', device, '--mode', mode]
  const [torchRow] = await run(`PyTorch ${setting.label}`, ...python('pytorch_train_step.py', [...common, ...(setting.bf16 ? ['--bf16'] : []), ...(setting.channelsLast ? ['--channels-last'] : [])]))
  const [projectRow] = await run(`project ${setting.label}`, stepBinary, [...common, '--precision', setting.bf16 ? 'bf16' : 'fp32', '--layout', setting.channelsLast ? 'channels-last' : 'contiguous'])
  projectRate[setting.label] = projectRow.imagesPerSecond
  const what = mode === 'infer' ? setting.label : `training step ${setting.label}`
  row(`${what}, ${size.imageSize} px, synthetic`, 'img/s', projectRow.imagesPerSecond, torchRow.imagesPerSecond, true, 1.0)
}

// 2. One epoch end to end on generated photo-like JPEGs (300-1024 px a side, 80 classes):
// the project's train() against the notebook's own pipeline (its dataset class, a DataLoader
// with one worker per core, the same resnet34 at batch 64 and 256 px, fp32 as the notebook).
const photos = join(data, `photos-${size.photos}`)
const validation = join(data, 'photos-160')
await run('photos', ...python('make_photos.py', [photos, String(size.photos), '80']))
await run('validation photos', ...python('make_photos.py', [validation, '160', '80']))
const torchEpochs = await run('PyTorch notebook pipeline, 2 epochs', ...python('pytorch_epoch.py', ['--data', photos, '--arch', 'resnet34', '--image-size', String(size.imageSize), '--batch-size', String(size.batch), '--epochs', '2', '--device', device]))
const projectEpochs = await run('project train(), 2 epochs', 'node', ['bench/project_epoch.mjs', photos, validation, '2', String(size.imageSize), String(size.batch), 'resnet34', device])
const epochRate = (rows, kind, epoch) => rows.find((r) => r.kind === kind && r.epoch === epoch)?.imagesPerSecond ?? (() => { throw new Error(`no ${kind} epoch ${epoch}`) })()
row(`end-to-end epoch 1 (cold: decoding), resnet34 b${size.batch}, ${size.photos} JPEGs, against the notebook's pipeline`, 'img/s',
  epochRate(projectEpochs, 'project_epoch', 1), epochRate(torchEpochs, 'pytorch_epoch', 1), true, 3.0)
row(`end-to-end epoch 2 (cached), resnet34 b${size.batch}, against the notebook's pipeline`, 'img/s',
  epochRate(projectEpochs, 'project_epoch', 2), epochRate(torchEpochs, 'pytorch_epoch', 2), true, null)
// Epoch 2 against the project's own synthetic rate at the same batch and precision: the input
// pipeline should cost at most 10%.
row(`end-to-end epoch 2 against the project's synthetic step (resnet34 b${size.batch} bf16 + channels_last)`, 'fraction',
  epochRate(projectEpochs, 'project_epoch', 2) / projectRate[`resnet34 b${size.batch} bf16 + channels_last`], null, true, 0.9, 'project')

// 3. Prediction: batch-1 latency of predict(path), and batch throughput, resnet34 at 256 px.
const photoFiles = readdirSync(photos).flatMap((c) => readdirSync(join(photos, c)).map((f) => join(photos, c, f))).sort()
const tiny = join(data, 'predict-tiny')
rmSync(tiny, { recursive: true, force: true })
for (const [k, c] of ['a', 'b'].entries()) {
  mkdirSync(join(tiny, c), { recursive: true })
  for (let i = 0; i < 4; i++) symlinkSync(resolve(photoFiles[k * 4 + i]), join(tiny, c, `${i}.jpg`))
}
writeFileSync(join(data, 'latency.txt'), photoFiles.slice(0, size.latencyCalls).join('\n'))
writeFileSync(join(data, 'batch.txt'), photoFiles.slice(0, quick ? 64 : 2048).join('\n'))
const torchPredict = await run('PyTorch predict', ...python('pytorch_predict.py', ['--arch', 'resnet34', '--image-size', '256', '--classes', '2', '--latency-files', join(data, 'latency.txt'), '--batch-files', join(data, 'batch.txt'), '--batch-size', '64', '--device', device]))
const projectPredict = await run('project predict', 'node', ['bench/project_predict.mjs', tiny, join(data, 'latency.txt'), join(data, 'batch.txt'), 'resnet34', '256', '64', device])
row('predict latency, batch 1, resnet34, 256 px, JPEG path in (median)', 'ms',
  one(projectPredict, 'project_latency').medianMs, one(torchPredict, 'pytorch_latency').medianMs, false, 1.0)
row('predict throughput, batch 64, resnet34, 256 px, JPEG paths in', 'img/s',
  one(projectPredict, 'project_batch').imagesPerSecond, one(torchPredict, 'pytorch_batch').imagesPerSecond, true, 1.0)

console.error(`[gpu-bench] wrote ${join(out, 'gpu-latest.json')} and gpu-latest.md`)
