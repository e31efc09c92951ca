// One benchmark row, as bench/run.mjs (CPU) and bench/gpu.mjs (GPU) write them: { name, unit,
// project, pytorch, ratio, higherIsBetter, goal, goalOn, met, machine }. The goal applies to
// the ratio project / PyTorch, or with goalOn 'project' to the project's own figure.
export const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits

export function makeRow(machine, name, unit, project, pytorch, higherIsBetter, goal, goalOn = 'ratio') {
  const ratio = pytorch == null ? null : round(project / pytorch, 3)
  const value = goalOn === 'ratio' ? ratio : project
  const met = goal == null ? null : higherIsBetter ? value >= goal : value <= goal
  return { name, unit, project: round(project, 2), pytorch: pytorch == null ? null : round(pytorch, 2), ratio, higherIsBetter, goal, goalOn, met, machine }
}

export const describeRow = (entry) =>
  `${entry.name}: project ${entry.project} ${entry.unit}, PyTorch ${entry.pytorch}, ratio ${entry.ratio}, goal ${entry.goal} -> ${entry.met}`
