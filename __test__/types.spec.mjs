// The public types compile as documented: __test__/types/training-events.ts narrows the
// TrainingEvent union (its @ts-expect-error lines are checked by tsc too).
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

test('the TrainingEvent union narrows on type, exhaustively, in strict TypeScript', async (t) => {
  const outcome = await run('npx', ['tsc', '-p', '__test__/types/tsconfig.json'], { timeout: 120_000 }).then(
    () => ({ ok: true, output: '' }),
    (error) => ({ ok: false, output: `${error.stdout}${error.stderr}` }),
  )
  t.true(outcome.ok, outcome.output)
})
