// Every training option's range, message, default and help line is defined once, in the
// core's table (crates/resnet-core/src/options/spec.rs). These tests read that table at run
// time and check that train() and the CLI both say exactly what it says: a change to a range
// in the core changes what both print, with nothing to edit in TypeScript.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KNOWN_OPTIONS, optionSpecs } from '../dist/options.js'
import { resnet, temporaryDir } from './helpers.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const cli = (...args) => spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args], { encoding: 'utf8', timeout: 120_000 })
const numeric = optionSpecs().filter((spec) => spec.kind === 'integer' || spec.kind === 'number')
const flagOf = (name) => ({ 'distributed.nproc': 'nproc-per-node', 'distributed.timeoutSeconds': 'distributed-timeout' })[name] ?? name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** `{ [name]: value }`, nested for a grouped option ("distributed.nproc"). */
function withOption(name, value) {
  const [group, key] = name.split('.')
  return key === undefined ? { [group]: value } : { [group]: { [key]: value } }
}

test('the facade knows exactly the options of the core table (and its own signal)', (t) => {
  const core = optionSpecs().map((spec) => spec.name).filter((name) => !name.includes('.'))
  t.deepEqual([...KNOWN_OPTIONS].sort(), [...core, 'signal'].sort())
})

test('every numeric option is refused by train() with the range and words of the core table', (t) => {
  t.true(numeric.length >= 15, `only ${numeric.length} numeric options in the table`)
  const dir = temporaryDir(t)
  for (const spec of numeric) {
    // Every numeric option starts at 0 or above, so -1 is outside every range.
    const error = t.throws(() => resnet.train({ data: dir, output: join(dir, 'out'), ...withOption(spec.name, -1) }), undefined, spec.name)
    t.is(error.code, 'ERR_INVALID_OPTION')
    t.is(error.message, `Expected ${spec.expected} for ${spec.name} but received -1`)
  }
})

test('the CLI refuses every numeric flag with the same message as train()', (t) => {
  const dir = temporaryDir(t)
  for (const spec of numeric) {
    const run = cli('train', '--data', dir, '--output', join(dir, 'out'), `--${flagOf(spec.name)}=-1`)
    t.is(run.status, 2, `${spec.name}: ${run.stderr}`)
    t.is(run.stderr.trim(), `resnet: ERR_INVALID_OPTION: Expected ${spec.expected} for ${spec.name} but received -1`)
  }
})

test("the CLI's train flags and their defaults come from the core table", (t) => {
  const help = cli('train', '--help').stdout.replace(/\s+/g, ' ')
  for (const spec of optionSpecs()) {
    if (spec.kind === 'group') continue
    const flag = spec.kind === 'boolean' && spec.default === 'true' ? `--no-${flagOf(spec.name)}` : `--${flagOf(spec.name)}`
    t.true(help.includes(`${flag} `), `${flag} missing from the help`)
    if (spec.default != null) t.true(help.includes(`(default ${spec.default})`), `${spec.name}'s default ${spec.default}`)
  }
  // The defaults are read from the recipes' resolved configurations, not restated.
  t.is(optionSpecs().find((spec) => spec.name === 'learningRate').default, '0.003; recipe notebook: 0.005')
  t.is(optionSpecs().find((spec) => spec.name === 'freezeEpochs').default, '1; recipe notebook: 0')
})

test('flags reach train() as options: a run from the CLI records them in config.json', async (t) => {
  const dir = temporaryDir(t)
  const { makeDataset } = await import('../scripts/make-dataset.mjs')
  makeDataset(join(dir, 'data'), { train: 4, test: 2 })
  const output = join(dir, 'out')
  const run = cli(
    'train', '--data', join(dir, 'data'), '--output', output, '--arch', 'resnet18', '--epochs', '1', '--image-size', '32',
    '--batch-size', '4', '--device', 'cpu', '--mean', '0.5,0.5,0.5', '--crop-scale', '0.5,1', '--no-channels-last', '--label-smoothing', '0.2', '--json',
  )
  t.is(run.status, 0, run.stderr)
  const { readFileSync } = await import('node:fs')
  const config = JSON.parse(readFileSync(join(output, 'config.json'), 'utf8'))
  t.deepEqual(config.preprocess.mean, [0.5, 0.5, 0.5])
  t.deepEqual(config.augment.cropScale, [0.5, 1])
  t.is(config.channelsLast, false)
  t.is(config.labelSmoothing, 0.2)
})
