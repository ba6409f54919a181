/**
 * The yardstick the trees must beat: ln(ms) as a straight line in ln(1 + the
 * planner's total cost), fitted by least squares. It is what "use the cost
 * estimate" amounts to once calibrated to this machine.
 */
export interface LogCostBaseline {
  readonly intercept: number
  readonly slope: number
}

export function fitLogCostBaseline(logCost: readonly number[], targets: readonly number[]): LogCostBaseline {
  const n = logCost.length
  if (n === 0) return { intercept: 0, slope: 0 }
  let mx = 0
  let my = 0
  for (let i = 0; i < n; i++) {
    mx += logCost[i] as number
    my += targets[i] as number
  }
  mx /= n
  my /= n
  let sxy = 0
  let sxx = 0
  for (let i = 0; i < n; i++) {
    const dx = (logCost[i] as number) - mx
    sxy += dx * ((targets[i] as number) - my)
    sxx += dx * dx
  }
  const slope = sxx > 0 ? sxy / sxx : 0
  return { intercept: my - slope * mx, slope }
}

export function predictLogCostBaseline(baseline: LogCostBaseline, logCost: number): number {
  return baseline.intercept + baseline.slope * logCost
}
