// One machine's data-parallel run started from Node (train({ distributed: { nproc } }) and
// `resnet train --nproc-per-node N`), as torch.multiprocessing.spawn does it: every rank is a
// child process (distributed-worker.ts) given torchrun's variables and a free loopback port;
// c10d does the rest. Rank 0's events are relayed, and the other ranks' warnings. The first
// rank to fail stops the others, and its error is the run's.
import { fork, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { resnetError, type ErrorCode } from './errors'
import type { TrainingEvent, TrainOptions, TrainResultSummary } from './types'

/** What a rank's process tells its launcher. */
export type RankMessage =
  | { kind: 'event'; event: Exclude<TrainingEvent, { type: 'error' }> }
  | { kind: 'done'; summary: TrainResultSummary }
  | { kind: 'failed'; code: ErrorCode; message: string }

/** What the launcher tells a rank. */
export type LauncherMessage = { kind: 'train'; options: TrainOptions } | { kind: 'abort' }

/** A port nothing listens on now (the OS's pick), for the rendezvous. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Runs `nproc` ranks of `options` (which must not ask for nproc again) and settles with rank
 *  0's summary. `onEvent` receives rank 0's events but 'end', and every rank's warnings. */
export async function runRanks(
  nproc: number,
  options: TrainOptions,
  onEvent: (event: Exclude<TrainingEvent, { type: 'error' }>) => void,
  signal: AbortSignal,
): Promise<TrainResultSummary> {
  const port = await freePort()
  // torchrun's rule: ranks sharing a CPU must not each start one thread per core.
  const threads = String(Math.max(1, Math.floor(availableParallelism() / nproc)))
  const ranks: ChildProcess[] = []
  return new Promise<TrainResultSummary>((resolve, reject) => {
    let settled = false
    let finished = 0
    let summary: TrainResultSummary | undefined
    const stopAll = () => {
      for (const rank of ranks) if (rank.exitCode === null && rank.signalCode === null) rank.kill('SIGTERM')
    }
    const fail = (code: ErrorCode, message: string) => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      stopAll()
      reject(resnetError(signal.aborted ? 'ERR_ABORTED' : code, signal.aborted ? 'training was aborted; the last completed epoch is saved in the output directory' : message))
    }
    const onAbort = () => {
      for (const rank of ranks) if (rank.connected) rank.send({ kind: 'abort' } satisfies LauncherMessage)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    for (let rank = 0; rank < nproc; rank++) {
      const child = fork(join(__dirname, 'distributed-worker.js'), [], {
        env: {
          OMP_NUM_THREADS: threads,
          ...process.env,
          RANK: String(rank),
          LOCAL_RANK: String(rank),
          WORLD_SIZE: String(nproc),
          LOCAL_WORLD_SIZE: String(nproc),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
        },
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      ranks.push(child)
      child.on('message', (message: RankMessage) => {
        if (message.kind === 'event') {
          if (rank === 0 || message.event.type === 'warning') onEvent(message.event)
        } else if (message.kind === 'done') {
          if (rank === 0) summary = message.summary
        } else {
          fail(message.code, message.message)
        }
      })
      child.on('error', (error) => fail('ERR_DISTRIBUTED', `rank ${rank} could not be started: ${error.message}`))
      child.on('exit', (code, exitSignal) => {
        if (settled) return
        if (code !== 0) {
          // A failing rank's own message may still be on its way; it says more.
          const reason = `rank ${rank} exited with ${exitSignal ?? `code ${code}`} before finishing`
          return void setTimeout(() => fail('ERR_DISTRIBUTED', reason), 200)
        }
        finished += 1
        if (finished === nproc) {
          settled = true
          signal.removeEventListener('abort', onAbort)
          if (summary) resolve(summary)
          else reject(resnetError('ERR_DISTRIBUTED', 'rank 0 finished without a result'))
        }
      })
      child.send({ kind: 'train', options } satisfies LauncherMessage)
    }
    if (signal.aborted) onAbort()
  })
}
