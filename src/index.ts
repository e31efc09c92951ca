// resnet-napi: train, evaluate and deploy ResNet image classifiers from Node.js.
import { Model, loadModel, resolveModel } from './model'
import { binding, loadBinding } from './native'
import type { Evaluation, EvaluateOptions, ImageInput, Prediction, PredictOptions } from './types'

export { train, TrainingRun, type TrainResult } from './training'
export { Model, loadModel } from './model'
export { serve, type Server } from './serve'
export type { ErrorCode, ResnetError } from './errors'
export * from './types'

/** Predicts with a Model or a saved model directory. */
export function predict(model: Model | string, input: ImageInput, options?: PredictOptions): Promise<Prediction[]>
export function predict(model: Model | string, input: ImageInput[], options?: PredictOptions): Promise<Prediction[][]>
export async function predict(
  model: Model | string,
  input: ImageInput | ImageInput[],
  options?: PredictOptions,
): Promise<Prediction[] | Prediction[][]> {
  const resolved = await resolveModel(model)
  return Array.isArray(input) ? resolved.predict(input, options) : resolved.predict(input, options)
}

/** Evaluates a Model or a saved model directory on a folder of class folders. */
export async function evaluate(model: Model | string, data: string, options?: EvaluateOptions): Promise<Evaluation> {
  return (await resolveModel(model)).evaluate(data, options)
}

/** Loads libtorch and the addon without holding the event loop (in a worker thread; about
 *  0.5 s). loadModel() and train() do this themselves; runtimeInfo(), which answers at once,
 *  loads them on the calling thread unless this ran first. */
export async function preload(): Promise<void> {
  await loadBinding()
}

/** What the loaded libtorch offers (CUDA availability, threads). Loads the addon. */
export function runtimeInfo(): { cudaAvailable: boolean; cudaDeviceCount: number; cudnnAvailable: boolean; threads: number; cpuNativeBf16: boolean; cpuAutoBf16: boolean; cpuFusedConv: boolean; cpuFusedConvBf16: boolean } {
  return binding().runtimeInfo()
}
