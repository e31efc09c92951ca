// Option checks that run before any native work, all with one message shape:
// "Expected <what> for <name> but received <value>".
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

export function number(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= min || value >= max) {
    invalid(max >= Number.MAX_VALUE ? (min === 0 ? 'a positive number' : `a number greater than ${min}`) : `a number greater than ${min} and less than ${max}`, name, value)
  }
  return value
}

/** A fraction in (0, 1]. */
export function positiveFraction(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) {
    invalid('a number greater than 0 and at most 1', name, value)
  }
  return value
}

/** A number in [min, max). */
export function numberFrom(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value >= max) {
    invalid(max >= Number.MAX_VALUE ? (min === 0 ? 'a non-negative number' : `a number of at least ${min}`) : `a number from ${min} to less than ${max}`, name, value)
  }
  return value
}

/** [min, max] with 0 < min <= max <= 1. */
export function fractionRange(name: string, value: unknown): number[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(value[0] > 0 && value[0] <= value[1] && value[1] <= 1)) {
    invalid('[min, max] with 0 < min <= max <= 1', name, value)
  }
  return value
}

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    invalid(`one of ${allowed.map((item) => JSON.stringify(item)).join(', ')}`, name, value)
  }
  return value as T
}

export function boolean(name: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') invalid('a boolean', name, value)
  return value as boolean | undefined
}

export function nonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) invalid('a non-empty string', name, value)
  return value
}

export function triple(name: string, value: unknown): number[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    invalid('an array of three finite numbers', name, value)
  }
  return value
}

export const DEVICE_PATTERN = /^(auto|cpu|cuda|cuda:\d+)$/

export function device(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !DEVICE_PATTERN.test(value)) {
    invalid('"auto", "cpu", "cuda" or "cuda:N"', 'device', value)
  }
  return value
}

/** Rejects option names the library does not know (a typo would otherwise be ignored). */
export function knownKeys(name: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) invalid('an options object', name, options)
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) invalid(`one of the options ${known.join(', ')}`, name, key)
  }
}
