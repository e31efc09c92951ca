// The README's examples are real: every ```js block runs, in order, as an ES module in one
// folder holding what the examples name: `animals/` (train/ and test/ class folders of
// generated images), `cat.jpg` and `dog.png`. `resnet-napi` resolves to this checkout.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PNG } from 'pngjs'
import { makeDataset, sampleJpeg } from '../scripts/make-dataset.mjs'
import { temporaryDir } from './helpers.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

/** The ```js blocks of a Markdown text, in order. */
function jsBlocks(markdown) {
  return [...markdown.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((match) => match[1])
}

function samplePng() {
  const width = 80
  const height = 60
  const png = new PNG({ width, height })
  for (let i = 0; i < width * height; i++) png.data.set([40, 200, 60, 255], i * 4)
  return PNG.sync.write(png)
}

test('every ```js block of the README runs', (t) => {
  const blocks = jsBlocks(readFileSync(join(root, 'README.md'), 'utf8'))
  t.true(blocks.length >= 3, `found ${blocks.length} js blocks`)
  const work = temporaryDir(t, 'resnet-readme-')
  makeDataset(join(work, 'animals'), { train: 8, test: 3, maxSize: 90 })
  writeFileSync(join(work, 'cat.jpg'), sampleJpeg('disc'))
  writeFileSync(join(work, 'dog.png'), samplePng())
  mkdirSync(join(work, 'node_modules'))
  symlinkSync(root, join(work, 'node_modules', 'resnet-napi'))
  symlinkSync(join(root, 'node_modules', 'onnxruntime-node'), join(work, 'node_modules', 'onnxruntime-node'))

  blocks.forEach((code, index) => {
    const file = join(work, `example-${index + 1}.mjs`)
    writeFileSync(file, code)
    const run = spawnSync(process.execPath, [file], { cwd: work, encoding: 'utf8', timeout: 300_000 })
    t.is(run.status, 0, `README block ${index + 1} failed:\n${code}\n${run.stderr}`)
    t.log(`block ${index + 1}: ${run.stdout.trim().replace(/\s+/g, " ").slice(0, 160)}`)
  })
  // What the examples say they write.
  for (const written of ['runs/animals/model.json', 'models/animals/model.safetensors', 'animals.onnx']) {
    t.true(existsSync(join(work, written)), written)
  }
})
