// The training options' table comes from the core (every range, default, message and help
// line is defined there once), through the options addon, which loads without libtorch. Here
// it serves the two things only JavaScript can do: check JavaScript types before values cross
// into Rust, and let the CLI make its flags from it.
import type { NativeOptionSpec } from '../native/options-binding'
import { fromNative } from './errors'
import { optionsBinding } from './native'
import type { TrainOptions } from './types'
import { invalid, knownKeys } from './validate'

export type OptionSpec = NativeOptionSpec

/** Every option `train()` takes, typed against TrainOptions both ways: a name that is not an
 *  option fails to compile, and so does an option left out (see `_everyOptionListed`). */
export const KNOWN_OPTIONS = [
  'data', 'validationSplit', 'arch', 'epochs', 'batchSize', 'learningRate', 'optimizer', 'imageSize',
  'device', 'output', 'seed', 'signal', 'recipe', 'resize', 'mean', 'std', 'augment', 'cache',
  'cacheBytes', 'workers', 'cropScale', 'weightDecay', 'decayNormAndBias', 'momentum', 'nesterov', 'schedule',
  'warmupEpochs', 'labelSmoothing', 'gradientClip', 'monitor', 'patience', 'minDelta', 'resume',
  'pretrained', 'freezeEpochs', 'bodyLrFactor', 'precision', 'channelsLast', 'classWeights',
  'freezeBatchNorm', 'distributed',
] as const satisfies readonly (keyof TrainOptions)[]
const _everyOptionListed: Exclude<keyof TrainOptions, (typeof KNOWN_OPTIONS)[number]> extends never ? true : never = true
void _everyOptionListed

let specs: OptionSpec[] | undefined

/** The core's table of training options, in help order. */
export function optionSpecs(): OptionSpec[] {
  specs ??= optionsBinding().trainOptionSpecs()
  return specs
}

export function optionSpec(name: string): OptionSpec {
  const spec = optionSpecs().find((candidate) => candidate.name === name)
  if (!spec) throw new Error(`no training option is called ${name}`)
  return spec
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value)
// NaN and the infinities have no JSON form, in which options cross into Rust: refused here.
const finiteNumber = (value: unknown) => typeof value === 'number' && Number.isFinite(value)
const isNumbers = (value: unknown) => Array.isArray(value) && value.every(finiteNumber)

/** Whether `value` has the JavaScript type an option of `kind` needs. */
function hasType(kind: string, value: unknown): boolean {
  switch (kind) {
    case 'integer':
    case 'number':
      return finiteNumber(value)
    case 'choice':
    case 'text':
    case 'device':
      return typeof value === 'string'
    case 'boolean':
      return typeof value === 'boolean'
    case 'triple':
    case 'fractionRange':
      return isNumbers(value)
    case 'data':
      return (typeof value === 'string' && value.length > 0) || (isObject(value) && typeof value.train === 'string' && typeof value.test === 'string')
    case 'group':
      return isObject(value)
    default:
      return false
  }
}

/** Throws ERR_INVALID_OPTION, in the core's words, for an unknown option or a value of the
 *  wrong JavaScript type; `undefined` means "not given". */
export function checkTypes(options: Record<string, unknown>): void {
  knownKeys('train options', options, KNOWN_OPTIONS)
  for (const spec of optionSpecs()) {
    const [group, key] = spec.name.split('.')
    const holder = key === undefined ? options : options[group]
    const value = isObject(holder) ? holder[key ?? group] : undefined
    if (value === undefined) continue
    // A group's unknown keys are the core's to refuse (checkRules), in the same words.
    if (!hasType(spec.kind, value)) invalid(spec.expected, spec.name, value)
  }
}

/** The core's check of every range and rule; looks at no file. */
export function checkRules(options: Record<string, unknown>): void {
  try {
    optionsBinding().checkTrainOptions(options)
  } catch (error) {
    throw fromNative(error)
  }
}
