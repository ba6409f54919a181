export interface ArrivalForecastOptions {
  /** Buckets ahead to forecast, e.g. [1, 2, 6]. */
  readonly horizons: readonly number[]
  /** Buckets per season (24 for a daily season of hourly buckets); 0 for none. */
  readonly seasonLength: number
  /** The last part of the series held back to measure the error; default 0.2. */
  readonly holdoutFraction?: number
  /** Lags of the linear regression; default 3. */
  readonly lags?: number
}

/** Mean absolute error, and symmetric MAPE in percent (0..200; a point where both are 0 counts 0). */
export interface ForecastError {
  readonly mae: number
  readonly smape: number
  readonly points: number
}

export interface HorizonForecast {
  readonly horizon: number
  /** Arrivals expected in the bucket `horizon` after the last complete one. */
  readonly predicted: number
  /** Ensemble and last-value errors on the held-back history, at this horizon. */
  readonly heldBack: { readonly ensemble: ForecastError; readonly naive: ForecastError }
  /** The weight of each member in this horizon's forecast (inverse held-back MAE). */
  readonly weights: Readonly<Record<string, number>>
}

export type ArrivalForecast =
  | {
      readonly ok: true
      readonly points: number
      /** The season used, in buckets; null when none was found (autocorrelation below 0.3) or given. */
      readonly season: number | null
      readonly horizons: readonly HorizonForecast[]
      /** Over every horizon: the ensemble, the naive last value, and each member. */
      readonly heldBack: {
        readonly ensemble: ForecastError
        readonly naive: ForecastError
        readonly members: Readonly<Record<string, ForecastError>>
      }
    }
  | { readonly ok: false; readonly points: number; readonly reason: string }

/** Forecasts y[n − 1 + h] from y[0..n − 1]; undefined when it cannot (history too short). */
type Member = (history: readonly number[], h: number) => number | undefined

/** Seasonal autocorrelation at least this strong means the series has a season. */
const SEASON_ACF = 0.3

/**
 * Forecasts arrivals per bucket a few buckets ahead (the QueryBot5000 idea: forecast
 * per cluster, not per template) with a small ensemble: a linear regression on the
 * last lags (and, with a season, the value one season back), Holt's damped linear
 * smoothing, and, when a season exists, seasonal naive and the mean of the last four
 * seasons. Each horizon's members are weighted by the inverse of their MAE on a
 * validation stretch just before the held-back part; the held-back part (the last
 * `holdoutFraction` of the series) then measures the ensemble against the naive
 * last value, forecasting each point only from what came before it.
 */
export function forecastArrivals(series: readonly number[], options: ArrivalForecastOptions): ArrivalForecast {
  const n = series.length
  const horizons = [...new Set(options.horizons)].filter((h) => h >= 1).sort((a, b) => a - b)
  const maxH = horizons.at(-1) ?? 1
  const lags = options.lags ?? 3
  const holdout = Math.max(maxH + 2, Math.round(n * (options.holdoutFraction ?? 0.2)))
  const needed = 2 * holdout + lags + maxH + 8
  if (n < needed)
    return { ok: false, points: n, reason: `${n} buckets of history; forecasting needs at least ${needed}` }
  const testFrom = n - holdout
  const validateFrom = testFrom - holdout
  const s = options.seasonLength
  const season =
    s >= 2 && validateFrom >= 2 * s && autocorrelation(series.slice(0, testFrom), s) >= SEASON_ACF ? s : null
  const members: Record<string, Member> = {
    regression: (y, h) => lagRegression(y, h, lags, season),
    holt: holtDamped,
  }
  if (season) {
    members.seasonalNaive = (y, h) => seasonalNaive(y, h, season)
    members.seasonalMean = (y, h) => seasonalMean(y, h, season, 4)
  }
  const names = Object.keys(members)
  const naive: Member = (y) => y.at(-1)

  /** Every forecast of targets in [from, to) at horizon h, made from the history before its origin. */
  const backtest = (member: Member, h: number, from: number, to: number) => {
    const out: { actual: number; predicted: number | undefined }[] = []
    for (let target = from; target < to; target++) {
      const origin = target - h
      out.push({ actual: series[target] as number, predicted: clamp(member(series.slice(0, origin + 1), h)) })
    }
    return out
  }

  const perHorizon = horizons.map((h) => {
    const weightsFrom = (from: number, to: number) => {
      const w: Record<string, number> = {}
      for (const name of names) {
        const run = backtest(members[name] as Member, h, from, to)
        if (run.some((r) => r.predicted === undefined)) continue
        w[name] = 1 / Math.max(1e-9, errorOf(run).mae)
      }
      return normalize(w)
    }
    const combine = (weights: Record<string, number>, history: readonly number[]) => {
      let total = 0
      for (const [name, w] of Object.entries(weights))
        total += w * ((clamp((members[name] as Member)(history, h)) ?? 0) as number)
      return total
    }
    // Weights fitted before the held-back part, then judged on it.
    const validationWeights = weightsFrom(validateFrom, testFrom)
    const ensembleRun: { actual: number; predicted: number }[] = []
    for (let target = testFrom; target < n; target++) {
      ensembleRun.push({
        actual: series[target] as number,
        predicted: combine(validationWeights, series.slice(0, target - h + 1)),
      })
    }
    const naiveRun = backtest(naive, h, testFrom, n)
    const memberRuns = Object.fromEntries(
      names.map((name) => [name, backtest(members[name] as Member, h, testFrom, n)]),
    )
    // The forecast itself: weights from the most recent errors, every bucket as history.
    const weights = weightsFrom(testFrom, n)
    return {
      forecast: {
        horizon: h,
        predicted: combine(weights, series),
        heldBack: { ensemble: errorOf(ensembleRun), naive: errorOf(naiveRun) },
        weights,
      },
      ensembleRun,
      naiveRun,
      memberRuns,
    }
  })
  return {
    ok: true,
    points: n,
    season,
    horizons: perHorizon.map((p) => p.forecast),
    heldBack: {
      ensemble: errorOf(perHorizon.flatMap((p) => p.ensembleRun)),
      naive: errorOf(perHorizon.flatMap((p) => p.naiveRun)),
      members: Object.fromEntries(
        names.map((name) => [name, errorOf(perHorizon.flatMap((p) => p.memberRuns[name] ?? []))]),
      ),
    },
  }
}

export function errorOf(run: readonly { actual: number; predicted: number | undefined }[]): ForecastError {
  let abs = 0
  let sym = 0
  let points = 0
  for (const { actual, predicted } of run) {
    if (predicted === undefined) continue
    const e = Math.abs(actual - predicted)
    abs += e
    const denominator = Math.abs(actual) + Math.abs(predicted)
    sym += denominator > 0 ? (200 * e) / denominator : 0
    points++
  }
  return { mae: points ? abs / points : 0, smape: points ? sym / points : 0, points }
}

function clamp(x: number | undefined): number | undefined {
  return x === undefined || !Number.isFinite(x) ? undefined : Math.max(0, x)
}

function normalize(weights: Record<string, number>): Record<string, number> {
  const total = Object.values(weights).reduce((a, b) => a + b, 0)
  return total > 0 ? Object.fromEntries(Object.entries(weights).map(([k, w]) => [k, w / total])) : weights
}

function autocorrelation(y: readonly number[], lag: number): number {
  const mean = y.reduce((a, b) => a + b, 0) / y.length
  let num = 0
  let den = 0
  for (let t = 0; t < y.length; t++) {
    const d = (y[t] as number) - mean
    den += d * d
    if (t >= lag) num += d * ((y[t - lag] as number) - mean)
  }
  return den > 0 ? num / den : 0
}

/** The value one season (or as many as needed) before the target. */
function seasonalNaive(y: readonly number[], h: number, s: number): number | undefined {
  return y[y.length - 1 + h - s * Math.ceil(h / s)]
}

/** The mean of the target's phase over the last `seasons` seasons: seasonal naive with less noise. */
function seasonalMean(y: readonly number[], h: number, s: number, seasons: number): number | undefined {
  const values: number[] = []
  for (let back = s * Math.ceil(h / s); values.length < seasons; back += s) {
    const v = y[y.length - 1 + h - back]
    if (v === undefined) break
    values.push(v)
  }
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : undefined
}

/**
 * Holt's linear smoothing with a damped trend (φ = 0.9), its smoothing constants
 * picked from a small grid by one-step-ahead squared error.
 */
function holtDamped(y: readonly number[], h: number): number | undefined {
  if (y.length < 4) return undefined
  const phi = 0.9
  let best: { sse: number; level: number; trend: number } | undefined
  for (const alpha of [0.2, 0.5, 0.8]) {
    for (const beta of [0.05, 0.2]) {
      let level = y[0] as number
      let trend = (y[1] as number) - (y[0] as number)
      let sse = 0
      for (let t = 1; t < y.length; t++) {
        const predicted = level + phi * trend
        sse += ((y[t] as number) - predicted) ** 2
        const previous = level
        level = alpha * (y[t] as number) + (1 - alpha) * predicted
        trend = beta * (level - previous) + (1 - beta) * phi * trend
      }
      if (!best || sse < best.sse) best = { sse, level, trend }
    }
  }
  const { level, trend } = best as { level: number; trend: number }
  let damped = 0
  for (let i = 1; i <= h; i++) damped += phi ** i
  return level + damped * trend
}

/**
 * A direct h-step linear regression (ridge, small penalty): y[t + h] on
 * y[t], …, y[t − lags + 1], and with a season the value one season before the target.
 */
function lagRegression(y: readonly number[], h: number, lags: number, season: number | null): number | undefined {
  const back = season ? season * Math.ceil(h / season) : 0
  const row = (origin: number): number[] | undefined => {
    const x = [1]
    for (let l = 0; l < lags; l++) {
      const v = y[origin - l]
      if (v === undefined) return undefined
      x.push(v)
    }
    if (season) {
      const v = y[origin + h - back]
      if (v === undefined) return undefined
      x.push(v)
    }
    return x
  }
  const xs: number[][] = []
  const ts: number[] = []
  for (let origin = 0; origin + h < y.length; origin++) {
    const x = row(origin)
    if (x) {
      xs.push(x)
      ts.push(y[origin + h] as number)
    }
  }
  const dims = lags + 1 + (season ? 1 : 0)
  if (xs.length < 3 * dims) return undefined
  const beta = ridge(xs, ts, 1e-3)
  const x = row(y.length - 1)
  if (!beta || !x) return undefined
  return x.reduce((sum, v, i) => sum + v * (beta[i] as number), 0)
}

/** Solves (XᵀX + λ·scale·I) β = Xᵀy by Gaussian elimination; the intercept is not penalized. */
function ridge(xs: readonly number[][], ys: readonly number[], lambda: number): number[] | undefined {
  const d = xs[0]?.length ?? 0
  const a = Array.from({ length: d }, () => new Array<number>(d + 1).fill(0))
  for (let r = 0; r < xs.length; r++) {
    const x = xs[r] as number[]
    for (let i = 0; i < d; i++) {
      const ai = a[i] as number[]
      for (let j = 0; j < d; j++) ai[j] = (ai[j] as number) + (x[i] as number) * (x[j] as number)
      ai[d] = (ai[d] as number) + (x[i] as number) * (ys[r] as number)
    }
  }
  let trace = 0
  for (let i = 1; i < d; i++) trace += (a[i] as number[])[i] as number
  const penalty = lambda * (trace / Math.max(1, d - 1) || 1)
  for (let i = 1; i < d; i++) (a[i] as number[])[i] = ((a[i] as number[])[i] as number) + penalty
  for (let col = 0; col < d; col++) {
    let pivot = col
    for (let r = col + 1; r < d; r++) {
      if (Math.abs((a[r] as number[])[col] as number) > Math.abs((a[pivot] as number[])[col] as number)) pivot = r
    }
    if (Math.abs((a[pivot] as number[])[col] as number) < 1e-12) return undefined
    ;[a[col], a[pivot]] = [a[pivot] as number[], a[col] as number[]]
    const p = a[col] as number[]
    for (let r = 0; r < d; r++) {
      if (r === col) continue
      const row = a[r] as number[]
      const f = (row[col] as number) / (p[col] as number)
      if (f === 0) continue
      for (let c = col; c <= d; c++) row[c] = (row[c] as number) - f * (p[c] as number)
    }
  }
  return a.map((row, i) => (row[d] as number) / (row[i] as number))
}
