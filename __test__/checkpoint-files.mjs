// Shared by the fault specs: reading safetensors headers (complete or not, and the progress
// record a checkpoint carries) and spawning a training child process.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The header of a safetensors file, whether its size matches what the header declares, and
 *  the checkpoint progress (epoch, history) when it holds one. */
export function readSafetensors(path) {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    const length = Buffer.alloc(8)
    if (readSync(fd, length, 0, 8, 0) < 8) return { complete: false }
    const headerLength = Number(length.readBigUInt64LE())
    if (8 + headerLength > size) return { complete: false }
    const header = Buffer.alloc(headerLength)
    readSync(fd, header, 0, headerLength, 8)
    const json = JSON.parse(header.toString('utf8'))
    const dataEnd = Math.max(0, ...Object.entries(json).filter(([key]) => key !== '__metadata__').map(([, tensor]) => tensor.data_offsets[1]))
    const progress = json.__metadata__?.progress ? JSON.parse(json.__metadata__.progress) : undefined
    return { complete: size === 8 + headerLength + dataEnd, progress }
  } finally {
    closeSync(fd)
  }
}

const CHILD = fileURLToPath(new URL('./fixtures/train-until-killed.mjs', import.meta.url))

/** Starts the training child; `lines` collects its JSON lines as they arrive. With
 *  `maxFileKiB` its files may not grow past that size (RLIMIT_FSIZE: writes fail with EFBIG). */
export function spawnTraining(args, { maxFileKiB } = {}) {
  const command = [process.execPath, CHILD, ...args.map(String)]
  const child = maxFileKiB === undefined
    ? spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('bash', ['-c', `trap '' XFSZ; ulimit -f ${maxFileKiB}; exec "$@"`, 'bash', ...command], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  let pending = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => {
    pending += chunk
    const parts = pending.split('\n')
    pending = parts.pop()
    for (const part of parts) if (part) lines.push({ ...JSON.parse(part), at: performance.now() })
  })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })))
  return { child, lines, exited }
}
