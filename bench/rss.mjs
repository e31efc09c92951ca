// Peak resident memory of a process and all its descendants (PyTorch's DataLoader workers are
// separate processes; the project's threads are not), sampled every 100 ms from /proc.
import { readdirSync, readFileSync } from 'node:fs'

function children() {
  const byParent = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // Fields after the parenthesised command name: state, ppid, ...
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (!byParent.has(parent)) byParent.set(parent, [])
      byParent.get(parent).push(Number(entry))
    } catch {
      // The process ended while we looked.
    }
  }
  return byParent
}

function rssBytes(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : 0
  } catch {
    return 0
  }
}

function treeRss(root) {
  const byParent = children()
  let total = 0
  const pending = [root]
  while (pending.length) {
    const pid = pending.pop()
    total += rssBytes(pid)
    pending.push(...(byParent.get(pid) ?? []))
  }
  return total
}

/** Starts sampling; `stop()` returns the largest total seen. */
export function peakTreeRss(pid) {
  let peak = 0
  const sample = () => { peak = Math.max(peak, treeRss(pid)) }
  const timer = setInterval(sample, 100)
  return { stop: () => { clearInterval(timer); return peak } }
}
