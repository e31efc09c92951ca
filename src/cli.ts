#!/usr/bin/env node
// The `resnet` command: train, evaluate, predict and export from a shell. Flags are the API's
// options in kebab-case. Exit codes: 0 success, 2 bad input, 1 other failure, 130 aborted.
import { Command, InvalidArgumentError } from 'commander'
import { SingleBar, Presets } from 'cli-progress'
import { statSync } from 'node:fs'
import { resnetError, type ResnetError } from './errors'
import { cacheRoot, doctor, setup } from './doctor'
import { evaluate, loadModel, train } from './index'
import type { Arch, EpochSummary, LoadOptions, TrainOptions } from './types'

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

async function runTrain(flags: Record<string, unknown>): Promise<void> {
  const json = Boolean(flags.json)
  const controller = new AbortController()
  process.once('SIGINT', () => {
    if (!json) console.error('\nStopping after this batch; the last completed epoch stays saved...')
    controller.abort()
  })
  const options: TrainOptions = {
    data: flags.data as string,
    arch: flags.arch as Arch | undefined,
    epochs: flags.epochs as number | undefined,
    batchSize: flags.batchSize as number | undefined,
    learningRate: flags.learningRate as number | undefined,
    optimizer: flags.optimizer as TrainOptions['optimizer'],
    imageSize: flags.imageSize as number | undefined,
    device: flags.device as TrainOptions['device'],
    output: flags.output as string | undefined,
    seed: flags.seed as number | undefined,
    resize: flags.resize as TrainOptions['resize'],
    recipe: flags.recipe as TrainOptions['recipe'],
    validationSplit: flags.validationSplit as number | undefined,
    cache: flags.cache as TrainOptions['cache'],
    weightDecay: flags.weightDecay as number | undefined,
    schedule: flags.schedule as TrainOptions['schedule'],
    warmupEpochs: flags.warmupEpochs as number | undefined,
    labelSmoothing: flags.labelSmoothing as number | undefined,
    classWeights: flags.classWeights as TrainOptions['classWeights'],
    monitor: flags.monitor as TrainOptions['monitor'],
    patience: flags.patience as number | undefined,
    resume: flags.resume as string | undefined,
    pretrained: flags.pretrained as string | undefined,
    freezeEpochs: flags.freezeEpochs as number | undefined,
    precision: flags.precision as TrainOptions['precision'],
    freezeBatchNorm: flags.freezeBatchNorm as boolean | undefined,
    distributed:
      flags.nprocPerNode === undefined && flags.distributedTimeout === undefined
        ? undefined
        : { nproc: flags.nprocPerNode as number | undefined, timeoutSeconds: flags.distributedTimeout as number | undefined },
    signal: controller.signal,
  }
  for (const key of Object.keys(options) as (keyof TrainOptions)[]) if (options[key] === undefined) delete options[key]
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
  if (report.libtorch) console.log(`libtorch  ${report.libtorch.version ?? 'unknown version'} in ${report.libtorch.dir}`)
  else console.log(`libtorch  not loaded${report.loadError ? `:\n  ${report.loadError.split('\n').join('\n  ')}` : ''}`)
  if (report.cuda) console.log(`cuda      ${yes(report.cuda.available)} (${report.cuda.devices} device(s)), cuDNN ${yes(report.cuda.cudnn)}`)
  console.log(`gpus      ${report.gpus.length ? report.gpus.join('; ') : 'none listed by nvidia-smi'}`)
  if (report.cpu) console.log(`cpu       ${report.cpu.threads} libtorch threads, native bf16 ${yes(report.cpu.nativeBf16)}`)
  if (report.precisionAuto) {
    console.log(`precision 'auto': ${report.precisionAuto.cpu} on the CPU${report.precisionAuto.cuda ? `, ${report.precisionAuto.cuda} on CUDA` : ''}`)
  }
  console.log(report.caches.length ? 'caches' : `caches    none yet (${cacheRoot()})`)
  for (const cache of report.caches) console.log(`  ${cache.name.padEnd(24)} ${megabytes(cache.bytes).padStart(9)}  ${cache.path}`)
  if (report.fixes.length) {
    console.log('to fix:')
    for (const fix of report.fixes) console.log(`  ${fix}`)
  }
}

function runSetup(): void {
  try {
    console.log(`libtorch is ready in ${setup()}`)
  } catch (error) {
    fail(resnetError('ERR_LIBTORCH', (error as Error).message), false)
  }
}

const program = new Command('resnet').description('Train, evaluate, predict with and export ResNet image classifiers.')

program
  .command('train')
  .description('Train a ResNet on a folder holding train/ and test/ (or val/) class folders.')
  .requiredOption('--data <dir>', 'dataset root holding train/ and test/ (or val/)')
  .option('--arch <name>', 'resnet18 | resnet34 | resnet50 | resnet101 | resnet152 (default resnet34)')
  .option('--optimizer <name>', 'adamw | adam | sgd (default adamw; recipe notebook: adam)')
  .option('--epochs <n>', 'epochs to train (default 10)', integer)
  .option('--batch-size <n>', 'images per batch (default 64)', integer)
  .option('--learning-rate <lr>', 'peak learning rate (default 0.003; recipe notebook: 0.005)', decimal)
  .option('--image-size <px>', 'side of the square input (default 256)', integer)
  .option('--device <name>', 'auto | cpu | cuda | cuda:N (default auto)')
  .option('--output <dir>', 'directory for the model and history (default runs/<arch>-<time>)')
  .option('--seed <n>', 'random seed (default 42)', integer)
  .option('--recipe <name>', 'standard (AdamW, one-cycle, label smoothing, random crop + flip, ImageNet stats) | notebook (Adam 0.005, stretch, no augmentation) (default standard)')
  .option('--resize <mode>', 'stretch | crop: overrides the recipe')
  .option('--validation-split <fraction>', 'hold out this fraction of each class when --data is one folder of classes', decimal)
  .option('--cache <mode>', 'auto | memory | off: keep decoded images between epochs (default auto)')
  .option('--weight-decay <n>', 'weight decay, not on norm and bias (default 0.05 with the standard recipe; adam, sgd 0)', decimal)
  .option('--schedule <name>', 'constant | cosine | onecycle (default onecycle; recipe notebook: constant)')
  .option('--warmup-epochs <n>', 'linear warm-up epochs (default 0)', decimal)
  .option('--label-smoothing <n>', 'cross-entropy label smoothing (default 0.1; recipe notebook: 0)', decimal)
  .option('--class-weights <mode>', 'equal | balanced: weigh each class inversely to its image count (default equal)')
  .option('--monitor <metric>', 'valLoss | valAccuracy: picks the best epoch (default valLoss)')
  .option('--patience <n>', 'stop after this many epochs without improvement', integer)
  .option('--resume <dir>', "continue a previous run from its last completed epoch")
  .option('--pretrained <source>', "fine-tune from 'imagenet' (torchvision's weights, downloaded once), a torchvision state_dict (.safetensors) or a saved model directory")
  .option('--freeze-epochs <n>', 'with --pretrained: epochs training only the new head first (default 1; recipe notebook: 0)', integer)
  .option('--precision <mode>', 'auto | fp32 | bf16 (default auto: bf16 autocast on CUDA and on CPUs with native bf16)')
  .option('--freeze-batch-norm', 'keep batch norm as it is while the rest trains (FrozenBatchNorm2d)')
  .option('--nproc-per-node <n>', 'data-parallel ranks to spawn on this machine, one per GPU (c10d Gloo); --batch-size is per rank', integer)
  .option('--distributed-timeout <seconds>', 'seconds a rank waits for its peers before failing with ERR_DISTRIBUTED (default 300)', decimal)
  .option('--json', 'print the result as JSON instead of progress')
  .action((flags) => runTrain(flags))

program
  .command('evaluate')
  .description('Evaluate a saved model on a folder of class folders (or a root holding test/ or val/).')
  .requiredOption('--model <dir>', 'saved model directory')
  .requiredOption('--data <dir>', 'folder to evaluate on')
  .option('--batch-size <n>', 'images per batch (default 64)', integer)
  .option('--tta', 'test-time augmentation: average each image with its mirror image')
  .option('--precision <mode>', 'auto | fp32 | bf16 (default auto: bf16 on CUDA and on CPUs with native bf16)')
  .option('--json', 'print the result as JSON')
  .action((flags) => runEvaluate(flags))

program
  .command('predict')
  .description('Print the top classes for each image.')
  .requiredOption('--model <dir>', 'saved model directory')
  .option('--top-k <n>', 'classes to show per image (default 5)', integer)
  .option('--tta', 'test-time augmentation: average each image with its mirror image')
  .option('--precision <mode>', 'auto | fp32 | bf16 (default auto: bf16 on CUDA and on CPUs with native bf16)')
  .option('--json', 'print the result as JSON')
  .argument('<images...>', 'image files')
  .action((images, flags) => runPredict(images, flags))

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
  .description("Install libtorch (PyPI's torch 2.11.0, a few GB, once) into ~/.cache/resnet-napi or $RESNET_NAPI_CACHE.")
  .action(() => runSetup())

program.parseAsync(process.argv).catch((error) => fail(error, false))
