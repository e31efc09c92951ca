// Reading a network's output rows, for the benchmarks that compare two sides' logits.

/** Probabilities from one row of logits (shifted by its largest value, so exp cannot overflow). */
export function softmax(row) {
  const top = Math.max(...row)
  const exps = row.map((value) => Math.exp(value - top))
  const sum = exps.reduce((a, b) => a + b, 0)
  return exps.map((value) => value / sum)
}

/** The index of a row's largest value: its top class. */
export function argmax(row) {
  return row.indexOf(Math.max(...row))
}
