// JavaScript-side checks of values before they cross into Rust, with the core's message
// shape: "Expected <what> for <name> but received <value>". Training options' ranges are the
// core's (options.ts); these cover the few arguments of model calls.
import { resnetError } from './errors'

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'bigint') return `${value}n`
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`
  if (Array.isArray(value)) return `an array of length ${value.length}`
  if (value === null) return 'null'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'function') return 'a function'
  return String(value)
}

export function invalid(what: string, name: string, value: unknown): never {
  throw resnetError('ERR_INVALID_OPTION', `Expected ${what} for ${name} but received ${describe(value)}`)
}

export function integer(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(`an integer between ${min} and ${max}`, name, value)
  }
  return value
}

export function boolean(name: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') invalid('a boolean', name, value)
  return value as boolean | undefined
}

export function nonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) invalid('a non-empty string', name, value)
  return value
}

/** Rejects option names the library does not know (a typo would otherwise be ignored). */
export function knownKeys(name: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) invalid('an options object', name, options)
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) invalid(`one of the options ${known.join(', ')}`, name, key)
  }
}
