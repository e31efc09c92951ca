// One rank of a run started by distributed.ts: trains the options its launcher sends (the
// rank comes from the environment it was given) and reports back over the IPC channel. It
// stops when the launcher asks, or goes away.
import type { LauncherMessage, RankMessage } from './distributed'
import { fromNative } from './errors'
import { train } from './training'

function send(message: RankMessage): void {
  if (process.connected) process.send?.(message)
}

process.on('message', (message: LauncherMessage) => {
  if (message.kind !== 'train') return
  const run = train(message.options)
  process.on('message', (next: LauncherMessage) => {
    if (next.kind === 'abort') run.abort()
  })
  // A launcher that dies leaves no rank behind; Ctrl-C in a terminal reaches every rank of its
  // process group, and each stops after its current batch like a single-process run.
  process.on('disconnect', () => run.abort())
  process.on('SIGINT', () => run.abort())
  run.on('event', (event) => {
    if (event.type !== 'error' && event.type !== 'end') send({ kind: 'event', event })
  })
  run.then(
    ({ model: _model, ...summary }) => {
      send({ kind: 'done', summary })
      process.disconnect?.()
    },
    (error: unknown) => {
      const failure = fromNative(error)
      send({ kind: 'failed', code: failure.code, message: failure.message })
      process.exitCode = 1
      process.disconnect?.()
    },
  )
})
