// Finds warnings printed more than once within one section of a captured stderr log (issue 23:
// libtorch printed three warnings per batch, about 3,900 lines per CUDA training run). A warning
// line is one that c10's TORCH_WARN writes (`[W1204 14:41:42.443543789 12 File.cpp:45] Warning:
// ...`, or `[W File.cpp:45] ...` from older builds) or a Python or Node warning (`...: UserWarning:
// ...`); it is normalised by dropping the `[W<date> <time> <thread>` prefix, so the same warning
// from the same place counts as one text. With --split PREFIX, each line starting with PREFIX
// opens a new section, and repeats count within a section: scripts/gpu-check.mjs prints
// `[gpu-check] case <name>` before each case (a case's forked ranks write into its section),
// bench/gpu.mjs prints `[gpu-bench] <label>: <command>` before each child process.
// Prints one JSON line { case, ok, count, examples, seen } and exits 1 when a warning repeats:
// count is the lines of the repeated warnings in all; examples up to 5 of them with their lines
// and the first section they repeated in; seen up to 10 of all the warnings found (repeated or
// not) with their lines and how many sections printed them, so a warning that each case prints
// once stays visible.
//
// usage: node scripts/repeated-warnings.mjs LOG CASE_NAME [--split PREFIX]
import { readFileSync } from 'node:fs'

const [log, name, flag, prefix] = process.argv.slice(2)
if (!name || (flag !== undefined && (flag !== '--split' || !prefix))) {
  console.error('usage: node scripts/repeated-warnings.mjs LOG CASE_NAME [--split PREFIX]')
  process.exit(2)
}

const c10Warning = /^\[W(?:\d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?: \d+)?)?\s*/
const otherWarning = /\b[A-Za-z]*Warning: /

/** The warning's text without its time and thread, or null for a line that is no warning. */
function warningText(line) {
  if (c10Warning.test(line) && line.includes(']')) return `[W ${line.replace(c10Warning, '')}`.trim()
  if (otherWarning.test(line)) return line.trim()
  return null
}

const repeated = new Map() // text -> { times, section }
const seen = new Map() // text -> { times, sections }
let label = null
let section = new Map()
const closeSection = () => {
  for (const [text, times] of section) {
    const all = seen.get(text) ?? { times: 0, sections: 0 }
    seen.set(text, { times: all.times + times, sections: all.sections + 1 })
    if (times > 1) {
      const before = repeated.get(text)
      repeated.set(text, { times: (before?.times ?? 0) + times, section: before?.section ?? label })
    }
  }
  section = new Map()
}
for (const line of readFileSync(log, 'utf8').split('\n')) {
  if (prefix !== undefined && line.startsWith(prefix)) {
    closeSection()
    label = line.slice(0, 200)
    continue
  }
  const text = warningText(line)
  if (text !== null) section.set(text, (section.get(text) ?? 0) + 1)
}
closeSection()

const byLines = (entries) => [...entries].sort((a, b) => b[1].times - a[1].times)
const examples = byLines(repeated).slice(0, 5).map(([warning, found]) => ({ warning: warning.slice(0, 500), ...found }))
const count = [...repeated.values()].reduce((sum, found) => sum + found.times, 0)
const listed = byLines(seen).slice(0, 10).map(([warning, found]) => ({ warning: warning.slice(0, 300), ...found }))
console.log(JSON.stringify({ case: name, ok: repeated.size === 0, count, examples, seen: listed }))
process.exit(repeated.size === 0 ? 0 : 1)
