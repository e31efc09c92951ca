#!/usr/bin/env node
// The `resnet` command: train, evaluate, predict and export from a shell. Flags are the API's
// options in kebab-case. Exit codes: 0 success, 2 bad input, 1 other failure, 130 aborted.
import { Command, InvalidArgumentError } from 'commander'
import { SingleBar, Presets } from 'cli-progress'
import { statSync } from 'node:fs'
import { resnetError, type ResnetError } from './errors'
import { cacheRoot, doctor, setup } from './doctor'
import { evaluate, loadModel, serve, train } from './index'
import { optionSpecs } from './options'
import type { EpochSummary, LoadOptions, TrainOptions } from './types'

const BAD_INPUT = new Set(['ERR_INVALID_OPTION', 'ERR_DATASET', 'ERR_MODEL_FILE', 'ERR_IMAGE_DECODE'])

function integer(value: string): number {
  const parsed = Number(value)
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError(`expected an integer, received ${JSON.stringify(value)}`)
  return parsed
}

function decimal(value: string): number {
  const parsed = Number(value)
  if (!Number.isFinite(parsed)) throw new InvalidArgumentError(`expected a number, received ${JSON.stringify(value)}`)
  return parsed
}

function percent(value: number | null): string {
  return value === null ? '  -  ' : `${(value * 100).toFixed(1)}%`
}

function fail(error: unknown, json: boolean): never {
  const code = (error as ResnetError)?.code ?? 'ERR_UNKNOWN'
  const message = (error as Error)?.message ?? String(error)
  if (json) console.log(JSON.stringify({ error: { code, message } }))
  else console.error(`resnet: ${code}: ${message}`)
  process.exit(code === 'ERR_ABORTED' ? 130 : BAD_INPUT.has(code) ? 2 : 1)
}

/** A training option's flag: kebab-case, with torchrun's names for the distributed ones. */
const FLAG_NAMES: Record<string, string> = { 'distributed.nproc': 'nproc-per-node', 'distributed.timeoutSeconds': 'distributed-timeout' }
const flagOf = (name: string) => FLAG_NAMES[name] ?? name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
/** Where commander keeps a flag's value: the flag in camelCase. */
const attributeOf = (flag: string) => flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())

function numberList(value: string): number[] {
  return value.split(',').map((item) => decimal(item.trim()))
}

/** One flag per training option, made from the core's table: its help line and default
 *  are the core's, so they cannot drift from what training does. */
function addTrainFlags(command: Command): Command {
  for (const spec of optionSpecs()) {
    const flag = flagOf(spec.name)
    const choices = spec.choices ? `${spec.choices.join(' | ')}: ` : ''
    const help = `${choices}${spec.help}${spec.default == null ? '' : ` (default ${spec.default})`}`
    switch (spec.kind) {
      case 'group':
        break
      case 'data':
        command.requiredOption(`--${flag} <dir>`, help)
        break
      case 'boolean':
        command.option(spec.default === 'true' ? `--no-${flag}` : `--${flag}`, spec.default === 'true' ? `turn off: ${help}` : help)
        break
      case 'integer':
        command.option(`--${flag} <n>`, help, integer)
        break
      case 'number':
        command.option(`--${flag} <n>`, help, decimal)
        break
      case 'triple':
      case 'fractionRange':
        command.option(`--${flag} <a,b,...>`, help, numberList)
        break
      default:
        command.option(`--${flag} <${spec.kind === 'choice' ? 'name' : spec.kind === 'text' ? 'path' : 'value'}>`, help)
    }
  }
  return command
}

/** The train options the flags give (grouped ones, such as distributed.nproc, nested). */
function trainOptionsFromFlags(flags: Record<string, unknown>): Record<string, unknown> {
  const options: Record<string, unknown> = {}
  for (const spec of optionSpecs()) {
    const value = flags[attributeOf(flagOf(spec.name))]
    if (value === undefined || spec.kind === 'group') continue
    const [group, key] = spec.name.split('.')
    if (key === undefined) options[group] = value
    else options[group] = { ...(options[group] as object | undefined), [key]: value }
  }
  return options
}

async function runTrain(flags: Record<string, unknown>): Promise<void> {
  const json = Boolean(flags.json)
  const controller = new AbortController()
  process.once('SIGINT', () => {
    if (!json) console.error('\nStopping after this batch; the last completed epoch stays saved...')
    controller.abort()
  })
  const options = trainOptionsFromFlags(flags) as unknown as TrainOptions
  options.signal = controller.signal
  const run = train(options)
  const bar = new SingleBar(
    { format: 'epoch {epoch} |{bar}| {value}/{total} batches | loss {loss} | {speed} img/s | ETA {eta_formatted}', hideCursor: true },
    Presets.shades_classic,
  )
  let barEpoch = 0
  if (!json) {
    const download = new SingleBar({ format: 'downloading {arch} weights |{bar}| {percentage}% of {megabytes} MB | ETA {eta_formatted}', hideCursor: true }, Presets.shades_classic)
    let downloading = false
    run.on('download', (e) => {
      if (!downloading) download.start(e.totalBytes, e.receivedBytes, { arch: e.arch, megabytes: (e.totalBytes / 1e6).toFixed(1) })
      downloading = e.receivedBytes < e.totalBytes
      download.update(e.receivedBytes)
      if (!downloading) download.stop()
    })
    run.on('start', (e) => {
      const ranks = e.worldSize > 1 ? ` (rank 0 of ${e.worldSize}, ${e.backend})` : ''
      console.log(`Training on ${e.device}${ranks}: ${e.trainImages} training and ${e.validationImages} validation images, ${e.classes.length} classes`)
      console.log(`  images per class: ${e.classes.map((name, index) => `${name} ${e.classCounts[index]}`).join(', ')}`)
    })
    run.on('warning', (e) => {
      if (barEpoch) bar.stop()
      console.warn(`warning: ${e.message}`)
      if (barEpoch) bar.start(0, 0)
    })
    run.on('batch', (e) => {
      if (e.epoch !== barEpoch) {
        barEpoch = e.epoch
        bar.start(e.batches, 0, { epoch: e.epoch, loss: '-', speed: '-' })
      }
      bar.update(e.batch, { epoch: e.epoch, loss: e.loss.toFixed(4), speed: e.imagesPerSecond.toFixed(1) })
    })
    run.on('epoch', (e: EpochSummary) => {
      bar.stop()
      barEpoch = 0
      console.log(
        `epoch ${e.epoch}/${e.epochs}  loss ${e.loss.toFixed(4)}  acc ${percent(e.accuracy)}  ` +
          `val_loss ${e.valLoss === null ? '-' : e.valLoss.toFixed(4)}  val_acc ${percent(e.valAccuracy)}  ${e.seconds.toFixed(1)}s`,
      )
    })
  }
  try {
    const result = await run
    const { model: _model, ...summary } = result
    if (json) console.log(JSON.stringify(summary))
    else {
      const best = result.bestEpoch === null ? '' : ` (best epoch ${result.bestEpoch} in ${result.output}/best)`
      console.log(`Model saved in ${result.output}${best}${result.stoppedEarly ? '; stopped early' : ''}`)
      if (result.report) console.log(`Report: ${result.report}`)
      const t = result.timings
      const phases = { 'start-up': t.startup, training: t.training, validation: t.validation, saving: t.saving, finishing: t.finishing, report: t.report }
      console.log(`Took ${t.total.toFixed(1)} s: ${Object.entries(phases).map(([name, s]) => `${name} ${s.toFixed(1)}`).join(', ')}`)
    }
  } catch (error) {
    bar.stop()
    fail(error, json)
  }
}

async function runEvaluate(flags: Record<string, unknown>): Promise<void> {
  const json = Boolean(flags.json)
  try {
    const model = await loadModel(flags.model as string, { precision: flags.precision as LoadOptions['precision'] })
    const result = await evaluate(model, flags.data as string, { batchSize: flags.batchSize as number | undefined, tta: flags.tta === true })
    if (json) return console.log(JSON.stringify(result))
    console.log(`${result.count} images: loss ${result.loss.toFixed(4)}  top-1 ${percent(result.accuracy)}  top-5 ${percent(result.top5)}`)
    console.table(result.perClass.map((c) => ({ class: c.class, precision: c.precision.toFixed(3), recall: c.recall.toFixed(3), f1: c.f1.toFixed(3), support: c.support })))
    if (result.mostConfused.length) {
      console.log('Most confused (actual -> predicted):')
      for (const pair of result.mostConfused) console.log(`  ${pair.actual} -> ${pair.predicted}: ${pair.count}`)
    }
    for (const skip of result.skipped) console.warn(`skipped ${skip.path}: ${skip.reason}`)
  } catch (error) {
    fail(error, json)
  }
}

async function runPredict(images: string[], flags: Record<string, unknown>): Promise<void> {
  const json = Boolean(flags.json)
  try {
    const model = await loadModel(flags.model as string, { precision: flags.precision as LoadOptions['precision'] })
    const results = await model.predict(images, { topK: flags.topK as number | undefined, tta: flags.tta === true })
    if (json) return console.log(JSON.stringify(images.map((image, i) => ({ image, predictions: results[i] }))))
    images.forEach((image, i) => {
      const ranked = results[i].map((p) => `${p.label} ${(p.probability * 100).toFixed(1)}%`).join(', ')
      console.log(`${image}: ${ranked}`)
    })
  } catch (error) {
    fail(error, json)
  }
}

async function runServe(flags: Record<string, unknown>): Promise<void> {
  try {
    const load: LoadOptions = { maxBatch: flags.maxBatch as number | undefined, maxDelayMs: flags.maxDelayMs as number | undefined }
    if (flags.device !== undefined) load.device = flags.device as string
    if (flags.precision !== undefined) load.precision = flags.precision as LoadOptions['precision']
    const server = await serve(flags.model as string, {
      host: flags.host as string | undefined,
      port: flags.port as number | undefined,
      token: (flags.token as string | undefined) ?? (process.env.RESNET_SERVE_TOKEN || undefined),
      topK: flags.topK as number | undefined,
      bodyLimit: flags.bodyLimit as number | undefined,
      log: flags.log !== false,
      load,
    })
    // Logs go to stdout as JSON lines; the address to stderr, for a person.
    console.error(`resnet: serving ${server.model.arch} (${server.model.classes.length} classes, ${server.model.device}) on ${server.url}`)
    const stop = () => {
      process.off('SIGTERM', stop)
      process.off('SIGINT', stop)
      server.close().then(() => process.exit(0), (error) => fail(error, false))
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  } catch (error) {
    fail(error, false)
  }
}

async function runExport(modelDir: string | undefined, flags: Record<string, unknown>): Promise<void> {
  const json = Boolean(flags.json)
  try {
    const dir = modelDir ?? (flags.model as string | undefined)
    if (!dir) throw resnetError('ERR_INVALID_OPTION', 'Expected a model directory (resnet export <modelDir> or --model <dir>) but received none')
    if (modelDir && flags.model) throw resnetError('ERR_INVALID_OPTION', `Expected one model directory but received ${JSON.stringify(modelDir)} and --model ${JSON.stringify(flags.model)}`)
    const onnx = flags.onnx as string
    const model = await loadModel(dir, { device: 'cpu' })
    await model.exportOnnx(onnx)
    model.dispose()
    const result = {
      onnx,
      bytes: statSync(onnx).size,
      arch: model.arch,
      classes: model.classes,
      input: { name: 'input', shape: ['batch', 3, model.imageSize, model.imageSize] },
      output: { name: 'logits', shape: ['batch', model.classes.length] },
      preprocess: model.preprocess,
    }
    if (json) return console.log(JSON.stringify(result))
    console.log(`Wrote ${onnx} (${(result.bytes / 1e6).toFixed(1)} MB, ONNX opset 17): ${model.arch}, ${model.classes.length} classes`)
    console.log(`  input  "input"  float32 [batch, 3, ${model.imageSize}, ${model.imageSize}]: RGB / 255, resize ${model.preprocess.resize}, mean ${JSON.stringify(model.preprocess.mean)}, std ${JSON.stringify(model.preprocess.std)}`)
    console.log(`  output "logits" float32 [batch, ${model.classes.length}]: classes ${model.classes.join(', ')}`)
  } catch (error) {
    fail(error, json)
  }
}

function megabytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`
}

function runDoctor(flags: Record<string, unknown>): void {
  const report = doctor()
  if (!report.libtorch) process.exitCode = 1
  if (flags.json) return console.log(JSON.stringify(report))
  const yes = (value: boolean) => (value ? 'yes' : 'no')
  console.log(`node      ${report.node}`)
  if (report.libtorch) {
    const { version, variant, bytes, dir } = report.libtorch
    console.log(`libtorch  ${version ?? 'unknown version'} (${variant === 'cuda' ? 'CUDA' : 'CPU-only'} build, ${megabytes(bytes)}) in ${dir}`)
  }
  else console.log(`libtorch  not loaded${report.loadError ? `:\n  ${report.loadError.split('\n').join('\n  ')}` : ''}`)
  if (report.cuda) console.log(`cuda      ${yes(report.cuda.available)} (${report.cuda.devices} device(s)), cuDNN ${yes(report.cuda.cudnn)}`)
  console.log(`gpus      ${report.gpus.length ? report.gpus.join('; ') : 'none listed by nvidia-smi'}`)
  if (report.cpu) console.log(`cpu       ${report.cpu.threads} libtorch threads, native bf16 ${yes(report.cpu.nativeBf16)}, fused convolutions for fp32 inference ${yes(report.cpu.fusedConv)}, for bf16 ${yes(report.cpu.fusedConvBf16)}`)
  if (report.precisionAuto) {
    console.log(`precision 'auto': ${report.precisionAuto.cpu} on the CPU${report.precisionAuto.cuda ? `, ${report.precisionAuto.cuda} on CUDA` : ''}`)
  }
  console.log(report.caches.length ? 'caches' : `caches    none yet (${cacheRoot()})`)
  for (const cache of report.caches) console.log(`  ${cache.name.padEnd(24)} ${megabytes(cache.bytes).padStart(9)}  ${cache.path}`)
  if (report.fixes.length) {
    console.log('to fix:')
    for (const fix of report.fixes) console.log(`  ${fix}`)
  }
  if (report.hints.length) {
    console.log('to consider:')
    for (const hint of report.hints) console.log(`  ${hint}`)
  }
}

function runSetup(flags: { cpu?: boolean; cuda?: boolean; indexUrl?: string }): void {
  try {
    if (flags.cpu && flags.cuda) throw new Error('Expected one of --cpu and --cuda, not both')
    const variant = flags.cpu ? 'cpu' : flags.cuda ? 'cuda' : undefined
    console.log(`libtorch is ready in ${setup({ variant, indexUrl: flags.indexUrl })}`)
  } catch (error) {
    fail(resnetError('ERR_LIBTORCH', (error as Error).message), false)
  }
}

const program = new Command('resnet').description('Train, evaluate, predict with and export ResNet image classifiers.')

const trainCommand = program
  .command('train')
  .description('Train a ResNet on a folder holding train/ and test/ (or val/) class folders.')
  .option('--json', 'print the result as JSON instead of progress')
  .action((flags) => runTrain(flags))
// The flags come from the options addon's table (no libtorch needed), loaded only for this
// command: `doctor` must work where even that addon is missing.
if (process.argv[2] === 'train') {
  try {
    addTrainFlags(trainCommand)
  } catch (error) {
    fail(error, process.argv.includes('--json'))
  }
}

program
  .command('evaluate')
  .description('Evaluate a saved model on a folder of class folders (or a root holding test/ or val/).')
  .requiredOption('--model <dir>', 'saved model directory')
  .requiredOption('--data <dir>', 'folder to evaluate on')
  .option('--batch-size <n>', 'images per batch (default 64)', integer)
  .option('--tta', 'test-time augmentation: average each image with its mirror image')
  .option('--precision <mode>', 'auto | fp32 | bf16 (default auto: bf16 on CUDA and on CPUs where it measures faster)')
  .option('--json', 'print the result as JSON')
  .action((flags) => runEvaluate(flags))

program
  .command('predict')
  .description('Print the top classes for each image.')
  .requiredOption('--model <dir>', 'saved model directory')
  .option('--top-k <n>', 'classes to show per image (default 5)', integer)
  .option('--tta', 'test-time augmentation: average each image with its mirror image')
  .option('--precision <mode>', 'auto | fp32 | bf16 (default auto: bf16 on CUDA and on CPUs where it measures faster)')
  .option('--json', 'print the result as JSON')
  .argument('<images...>', 'image files')
  .action((images, flags) => runPredict(images, flags))

program
  .command('serve')
  .description('Serve a model over HTTP: POST /predict with an image as the body gives its top classes as JSON; GET /health, GET /metadata. Stops on SIGTERM or SIGINT once the requests in flight are answered.')
  .requiredOption('--model <dir>', 'saved model directory')
  .option('--host <address>', 'address to bind (default 127.0.0.1; anything else exposes the model: set --token)')
  .option('--port <n>', 'port (default 8080; 0 picks a free one)', integer)
  .option('--token <secret>', 'require Authorization: Bearer <secret> on every request but GET /health (default: $RESNET_SERVE_TOKEN)')
  .option('--top-k <n>', 'classes per prediction unless ?topK= says otherwise (default 5)', integer)
  .option('--body-limit <bytes>', 'largest image accepted (default 20971520)', integer)
  .option('--max-batch <n>', 'concurrent requests gathered into one forward pass, at most (default 32; 1: no batching)', integer)
  .option('--max-delay-ms <ms>', 'how long the oldest request may wait for a fuller batch (default 0)', integer)
  .option('--device <device>', 'auto | cpu | cuda | cuda:N (default auto)')
  .option('--precision <mode>', 'auto | fp32 | bf16 (default auto)')
  .option('--no-log', 'no JSON line per request on stdout')
  .action((flags) => runServe(flags))

program
  .command('export')
  .description('Write a saved model as a standard ONNX graph (opset 17) for ONNX Runtime and other runtimes.')
  .argument('[modelDir]', 'saved model directory (or use --model)')
  .option('--model <dir>', 'saved model directory')
  .requiredOption('--onnx <file>', 'ONNX file to write (input "input" [batch, 3, size, size], output "logits")')
  .option('--json', 'print the result as JSON')
  .action((modelDir, flags) => runExport(modelDir, flags))

program
  .command('doctor')
  .description("Show what this machine gives resnet-napi (libtorch, CUDA, cuDNN, GPUs, threads, precision, caches) and how to fix what is missing.")
  .option('--json', 'print the report as JSON')
  .action((flags) => runDoctor(flags))

program
  .command('setup')
  .description("Install libtorch (torch 2.11.0, once) into ~/.cache/resnet-napi or $RESNET_NAPI_CACHE: the CUDA build where an NVIDIA driver is, else PyTorch's CPU-only build (RESNET_NAPI_TORCH=cpu|cuda|auto chooses too).")
  .option('--cpu', "PyTorch's CPU-only build (about 200 MB to download) from PyTorch's CPU index")
  .option('--cuda', "PyPI's CUDA build (about 4.5 GB; runs on the CPU too)")
  .option('--index-url <url>', "the package index to install from, as pip's --index-url (default: PyTorch's CPU index for --cpu, pip's own for --cuda; or RESNET_NAPI_TORCH_INDEX_URL)")
  .action((flags) => runSetup(flags))

program.parseAsync(process.argv).catch((error) => fail(error, false))
