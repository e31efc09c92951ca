// Errors the library throws: always an Error with a stable `code` and a message that says
// what was expected and what was found. Native errors arrive as "ERR_CODE: message".

export type ErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_DATASET'
  | 'ERR_IMAGE_DECODE'
  | 'ERR_MODEL_FILE'
  | 'ERR_LIBTORCH'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_ABORTED'
  | 'ERR_IO'
  | 'ERR_DISTRIBUTED'

export interface ResnetError extends Error {
  code: ErrorCode
}

export function resnetError(code: ErrorCode, message: string, cause?: unknown): ResnetError {
  const error = new Error(message, cause === undefined ? undefined : { cause }) as ResnetError
  error.code = code
  return error
}

const NATIVE_MESSAGE = /^(ERR_[A-Z_]+): ([\s\S]*)$/

/** Turns an error from the native binding into a ResnetError with its code. */
export function fromNative(error: unknown): ResnetError {
  if (error instanceof Error) {
    const match = NATIVE_MESSAGE.exec(error.message)
    if (match) return resnetError(match[1] as ErrorCode, match[2])
    if ((error as Partial<ResnetError>).code?.startsWith('ERR_')) return error as ResnetError
    return resnetError('ERR_LIBTORCH', error.message, error)
  }
  return resnetError('ERR_LIBTORCH', String(error))
}

/** Awaits a native promise, translating its rejection. */
export async function native<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise
  } catch (error) {
    throw fromNative(error)
  }
}
