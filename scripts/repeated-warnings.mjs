// Finds warnings that one process printed more than once in a captured stderr log (issue 23:
// libtorch printed three warnings per batch, about 3,900 lines per CUDA training run). A warning
// line is one that c10's TORCH_WARN writes (`[W1204 14:41:42.443543789 12 File.cpp:45] Warning:
// ...`, or `[W File.cpp:45] ...` from older builds) or a Python warning (`...: UserWarning: ...`);
// it is normalised by dropping the `[W<date> <time> <thread>` prefix, so the same warning from
// the same place counts as one text. With --split PREFIX, each line starting with PREFIX opens a
// new section (bench/gpu.mjs prints `[gpu-bench] <label>: <command>` before each child process)
// and repeats are counted within a section, i.e. within one process.
// Prints one JSON line { case, ok, count, examples } (count: the lines of warnings that came
// more than once in a section, in all; examples: up to 5 of those warnings with their lines)
// and exits 1 when any warning repeats.
//
// usage: node scripts/repeated-warnings.mjs LOG CASE_NAME [--split PREFIX]
import { readFileSync } from 'node:fs'

const [log, name, flag, prefix] = process.argv.slice(2)
if (!name || (flag !== undefined && (flag !== '--split' || !prefix))) {
  console.error('usage: node scripts/repeated-warnings.mjs LOG CASE_NAME [--split PREFIX]')
  process.exit(2)
}

const c10Warning = /^\[W(?:\d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?: \d+)?)?\s*/
const pythonWarning = /\b[A-Za-z]*Warning: /

/** The warning's text without its time and thread, or null for a line that is no warning. */
function warningText(line) {
  if (c10Warning.test(line) && line.includes(']')) return `[W ${line.replace(c10Warning, '')}`.trim()
  if (pythonWarning.test(line) || line.includes('Warning:')) return line.trim()
  return null
}

const repeated = new Map()
let section = new Map()
const closeSection = () => {
  for (const [text, times] of section) if (times > 1) repeated.set(text, (repeated.get(text) ?? 0) + times)
  section = new Map()
}
for (const line of readFileSync(log, 'utf8').split('\n')) {
  if (prefix !== undefined && line.startsWith(prefix)) {
    closeSection()
    continue
  }
  const text = warningText(line)
  if (text !== null) section.set(text, (section.get(text) ?? 0) + 1)
}
closeSection()

const examples = [...repeated].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([warning, times]) => ({ warning: warning.slice(0, 500), times }))
const count = [...repeated.values()].reduce((sum, times) => sum + times, 0)
console.log(JSON.stringify({ case: name, ok: repeated.size === 0, count, examples }))
process.exit(repeated.size === 0 ? 0 : 1)
