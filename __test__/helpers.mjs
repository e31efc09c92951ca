// Shared by the ava specs: the public package and temporary folders.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import resnet from '../dist/index.js'

export { resnet }

export function temporaryDir(t, prefix = 'resnet-test-') {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// Concurrent calls on one model share forward passes (dynamic batching), and a batch may round
// in the last bits differently from a lone image: two ranked answers agree when their labels
// match in order and their probabilities within `tolerance`.
export function predictionsAgree(actual, expected, tolerance = 1e-5) {
  return actual.length === expected.length && actual.every((p, k) =>
    p.label === expected[k].label && p.index === expected[k].index &&
    Math.abs(p.probability - expected[k].probability) <= tolerance)
}
