// The GPU benchmark of the GPU issue, side by side in one run: the project and PyTorch (the
// GPU machine's own torch 2.11 + torchvision) one after the other on the same GPU. Writes
// OUT/gpu-latest.json (rows of { name, unit, project, pytorch, ratio, higherIsBetter, goal,
// goalOn, met, machine }, the schema of bench/results/latest.json, plus a `breakdown` of where the
// time-to-model runs spent their time) and OUT/gpu-latest.md; commit them as
// bench/results/gpu-latest.*. A side that fails or prints nothing usable fails the run: no row is
// ever invented. Node children run with this process's own node (process.execPath): the GPU
// machine has none on PATH.
//
// Issue 23's rows, after the first ten: one whole training job on real photos (TrashNet, shorter
// side 224: BENCH_PHOTOS, else photos-224 in the bundle, else bench/data/gpu-photos-224, built by
// bench/make_gpu_photos.py; 853 train / 204 val, resnet34 at 224 px, 30 epochs, the defaults)
// against the same recipe in plain PyTorch: the wall clock, the project's time outside its
// training and validation steps (from TrainResult.timings), and process start to the first
// batch; then the loader's cold decode rate per core (the loader-bench example, BENCH_LOADER_BINARY,
// else the cargo build's), with one worker and with one per core.
//
// usage: node bench/gpu.mjs OUT_DIR [--device cuda|cpu] [--quick]
//   --device cpu --quick: a dry run of the plumbing on a machine without a GPU (its figures
//   are not GPU figures and are labelled so).
// Needs: python3 with torch, torchvision, OpenCV and Pillow (PYTHONPATH may name them); the
// project's step and loader benchmark binaries (BENCH_STEP_BINARY, BENCH_LOADER_BINARY, else the
// cargo build's); libtorch's lib/ on LD_LIBRARY_PATH for them (scripts/gpu-check.sh sets these).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
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
// toModel: the time-to-model job (its photos per class, train and val; all of them when null);
// decodeOneWorker: how many of the photos the one-worker decode pass reads.
const size = quick
  ? { steps: 2, warmup: 1, imageSize: 64, batch: 8, bigBatch: 16, photos: 200, latencyCalls: 5,
      toModel: { epochs: 2, imageSize: 64, batch: 16, trainPerClass: 8, valPerClass: 4 }, decodeOneWorker: 200 }
  : { steps: 30, warmup: 10, imageSize: 256, batch: 64, bigBatch: 256, photos: 10000, latencyCalls: 50,
      toModel: { epochs: 30, imageSize: 224, batch: 64, trainPerClass: null, valPerClass: null }, decodeOneWorker: 1000 }
const examples = join(process.env.CARGO_TARGET_DIR ?? 'target', 'release/examples')
const stepBinary = process.env.BENCH_STEP_BINARY ?? join(examples, 'train-step-bench')
const loaderBinary = process.env.BENCH_LOADER_BINARY ?? join(examples, 'loader-bench')
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
const node = (script, scriptArgs) => [process.execPath, [join('bench', script), ...scriptArgs]]
const one = (rows, kind) => {
  const found = rows.find((row) => row.kind === kind)
  if (!found) throw new Error(`no ${kind} result`)
  return found
}

const [gpu] = await run('device', 'python3', ['-c', `import json, torch; print(json.dumps({"kind": "device", "name": torch.cuda.get_device_name(0) if "${device}" != "cpu" else "cpu", "torch": torch.__version__}))`])
const machine = device === 'cpu' ? `dry run on the CPU (${cores} cores), not GPU figures` : `${gpu.name}, ${cores} CPU cores, torch ${gpu.torch}`

const results = []
// What the rows are made of, beside them in gpu-latest.json: the time-to-model runs' own lines
// (the project's timings, PyTorch's per-epoch seconds) and the decode passes.
const breakdown = {}
// Rows that could not be computed honestly; the run fails at the end, after the other rows.
const failures = []
const started = new Date().toISOString()
/** Writes the rows so far, so that a run cut short still leaves what it measured. */
function save() {
  const document = { date: started, device, quick, machine, complete: results.length === ROWS && failures.length === 0, rows: results, breakdown, failures }
  writeFileSync(join(out, 'gpu-latest.json'), JSON.stringify(document, null, 2) + '\n')
  const table = ['| workload | unit | project | PyTorch | ratio | goal | met |', '|---|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.name} | ${r.unit} | ${r.project} | ${r.pytorch ?? ''} | ${r.ratio ?? ''} | ${r.goal ?? ''} | ${r.met ?? ''} |`)]
  const failed = failures.map((failure) => `\n- FAILED: ${failure}`).join('')
  writeFileSync(join(out, 'gpu-latest.md'), `# GPU benchmark (${started})\n\nMachine: ${machine}.${document.complete ? '' : ' Incomplete: the run stopped early or a row failed.'}\n\n${table.join('\n')}\n${failed}${failed ? '\n' : ''}`)
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
// The synthetic rows, three end-to-end rows, two prediction rows, three time-to-model rows and
// two decode-rate rows.
const ROWS = synthetic.length + 10
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
const projectEpochs = await run('project train(), 2 epochs', ...node('project_epoch.mjs', [photos, validation, '2', String(size.imageSize), String(size.batch), 'resnet34', device]))
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
const projectPredict = await run('project predict', ...node('project_predict.mjs', [tiny, join(data, 'latency.txt'), join(data, 'batch.txt'), 'resnet34', '256', '64', device]))
row('predict latency, batch 1, resnet34, 256 px, JPEG path in (median)', 'ms',
  one(projectPredict, 'project_latency').medianMs, one(torchPredict, 'pytorch_latency').medianMs, false, 1.0)
row('predict throughput, batch 64, resnet34, 256 px, JPEG paths in', 'img/s',
  one(projectPredict, 'project_batch').imagesPerSecond, one(torchPredict, 'pytorch_batch').imagesPerSecond, true, 1.0)

// 4. Time to model (issue 23): one whole training job on real photos as a user runs it, the
// project's train() with its defaults (output, checkpoints and report.html written) against the
// same recipe in plain PyTorch (bench/pytorch_time_to_model.py: DataLoader with one worker per
// core, bf16 autocast, channels_last, nothing saved). Both clocks run from the process's start
// (Node and the addon's libtorch on one side, Python and `import torch` on the other) to the
// trained model in memory; each side's own breakdown is kept.
/** The real photos: BENCH_PHOTOS, the bundle's photos-224, else built here (a build machine;
 *  PHOTOS_GIT may name a local mirror of the TrashNet repository). */
async function realPhotos() {
  if (process.env.BENCH_PHOTOS) return resolve(process.env.BENCH_PHOTOS)
  if (existsSync(join(root, 'photos-224', '.complete'))) return join(root, 'photos-224')
  const built = resolve('bench/data/gpu-photos-224')
  await run('real photos', ...python('make_gpu_photos.py', [built]))
  return built
}
/** Links the first `perClass` files (sorted) of each class folder of `from` into `to`. */
function linkFirst(from, to, perClass) {
  for (const label of readdirSync(from).sort()) {
    mkdirSync(join(to, label), { recursive: true })
    for (const file of readdirSync(join(from, label)).sort().slice(0, perClass)) symlinkSync(resolve(from, label, file), join(to, label, file))
  }
}
const countFiles = (dir) => readdirSync(dir).reduce((sum, label) => sum + readdirSync(join(dir, label)).length, 0)
const job = size.toModel
let jobRoot = await realPhotos()
if (job.trainPerClass !== null) {
  const subset = join(data, 'gpu-photos-subset')
  rmSync(subset, { recursive: true, force: true })
  linkFirst(join(jobRoot, 'train'), join(subset, 'train'), job.trainPerClass)
  linkFirst(join(jobRoot, 'val'), join(subset, 'val'), job.valPerClass)
  jobRoot = subset
}
const jobTrain = join(jobRoot, 'train')
const jobVal = join(jobRoot, 'val')
const jobPhotos = { root: jobRoot, train: countFiles(jobTrain), val: countFiles(jobVal) }
const torchJob = one(await run(`PyTorch time to model, ${job.epochs} epochs`, ...python('pytorch_time_to_model.py', ['--train', jobTrain, '--val', jobVal,
  '--epochs', String(job.epochs), '--image-size', String(job.imageSize), '--batch-size', String(job.batch), '--arch', 'resnet34',
  '--device', device, '--seed', '1', '--workers', String(cores)])), 'pytorch_time_to_model')
const projectJob = one(await run(`project time to model, ${job.epochs} epochs`, ...node('project_time_to_model.mjs', [jobTrain, jobVal,
  String(job.epochs), String(job.imageSize), String(job.batch), 'resnet34', device, '1'])), 'project_time_to_model')
breakdown.timeToModel = { photos: jobPhotos, project: projectJob, pytorch: torchJob }
console.error(`[gpu-bench] time to model, the project's timings (s): ${JSON.stringify(projectJob.timings)}`)
console.error(`[gpu-bench] time to model, PyTorch's epochs (s): ${JSON.stringify(torchJob.epochs)}`)
row(`time to model: resnet34, ${job.imageSize} px, ${job.epochs} epochs, ${jobPhotos.train + jobPhotos.val} real photos (TrashNet, ${jobPhotos.train} train / ${jobPhotos.val} val), defaults, wall clock`, 's',
  projectJob.secondsSinceProcessStart, torchJob.secondsSinceProcessStart, false, 0.5)
const timings = projectJob.timings
if (timings == null) {
  failures.push('time outside training and validation steps: the project printed no timings (TrainResult.timings missing in this build)')
  console.error(`[gpu-bench] FAILED: ${failures.at(-1)}`)
  save()
} else {
  row("time outside training and validation steps, fraction of the project's wall clock", 'fraction',
    (timings.total - timings.training - timings.validation) / timings.total, null, false, 0.10, 'project')
}
row(`start-up: process start to the first batch, resnet34 ${job.imageSize} px`, 's',
  projectJob.firstBatchSinceProcessStart, torchJob.firstBatchSinceProcessStart, false, 1.0)

// 5. The loader's cold decode rate (issue 23: epoch 1 is bound by decoding): the loader-bench
// example alone (no model), uint8 batches as a GPU gets them, the notebook's resize to
// size.imageSize, no cache, one epoch; with one worker on the first ~decodeOneWorker of the
// generated photos, and with one worker per core on all of them. Images per second per worker.
const firstPhotos = join(data, `photos-${size.photos}-first-${size.decodeOneWorker}`)
rmSync(firstPhotos, { recursive: true, force: true })
linkFirst(photos, firstPhotos, Math.ceil(size.decodeOneWorker / readdirSync(photos).length))
const decode = async (label, dir, workers) => ({
  ...one(await run(label, loaderBinary, ['--data', dir, '--image-size', String(size.imageSize), '--batch-size', String(size.batch),
    '--epochs', '1', '--cache', 'off', '--recipe', 'notebook', '--output', 'uint8', '--workers', String(workers)]), 'loader'),
  workers,
})
const oneWorker = await decode('decode rate, 1 worker', firstPhotos, 1)
const allCores = await decode(`decode rate, ${cores} workers`, photos, cores)
breakdown.decode = { oneWorker, allCores }
row(`epoch 1 cold decode rate per core, 1 worker: ${oneWorker.images} generated JPEGs (300-1024 px) to ${size.imageSize} px uint8 batches, the loader alone`, 'img/s/core',
  oneWorker.imagesPerSecond, null, true, null)
row(`epoch 1 cold decode rate per core, ${cores} workers (one per core): ${allCores.images} generated JPEGs to ${size.imageSize} px uint8 batches, the loader alone`, 'img/s/core',
  allCores.imagesPerSecond / cores, null, true, null)

console.error(`[gpu-bench] wrote ${join(out, 'gpu-latest.json')} and gpu-latest.md`)
if (failures.length > 0) {
  console.error(`[gpu-bench] FAILED: ${failures.join('; ')}`)
  process.exitCode = 1
}
