import type { AgentFinding } from '@cairn/plugins'
import type { KnownCluster, WorkloadClustering } from './cluster-workload.js'
import type { ArrivalForecast } from './forecast-arrivals.js'

/** How the clusterer chooses k, as findings and the README state it. */
export const CLUSTERING_CRITERION =
  'k-means (seeded, k-means++) with the best mean silhouette over k = 2..min(maxK, n − 1)'

/** A cluster of the current clustering, with its persisted id. */
export interface IdentifiedCluster {
  readonly id: number
  readonly label: string
  readonly members: readonly string[]
  readonly executions: number
  readonly typicalRows: number
  readonly typicalDurationMs: number
  readonly matchedBy: 'members' | 'centroid' | null
  readonly jaccard: number
}

export interface ClusterChange {
  readonly id: number
  readonly change: 'new' | 'changed' | 'unchanged'
  readonly joined: readonly string[]
  readonly left: readonly string[]
  readonly previousLabel?: string
}

/** What changed between the previous clusters and these; `changed` false when nothing did. */
export function clusterChanges(
  previous: readonly KnownCluster[],
  clusters: readonly IdentifiedCluster[],
  retired: readonly number[],
): { changes: ClusterChange[]; changed: boolean } {
  const before = new Map(previous.map((p) => [p.id, p]))
  const changes = clusters.map((c): ClusterChange => {
    const old = before.get(c.id)
    if (!old) return { id: c.id, change: 'new', joined: c.members, left: [] }
    const had = new Set(old.members)
    const has = new Set(c.members)
    const joined = c.members.filter((m) => !had.has(m))
    const left = old.members.filter((m) => !has.has(m))
    const relabelled = old.label !== c.label
    return {
      id: c.id,
      change: joined.length || left.length || relabelled ? 'changed' : 'unchanged',
      joined,
      left,
      ...(relabelled ? { previousLabel: old.label } : {}),
    }
  })
  return {
    changes,
    changed: retired.length > 0 || changes.some((c) => c.change !== 'unchanged') || previous.length === 0,
  }
}

const count = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`

/** The `workload.clusters` finding: the clusters, what changed since the last clustering, and why this k. */
export function clustersFinding(input: {
  clustering: WorkloadClustering
  clusters: readonly IdentifiedCluster[]
  changes: readonly ClusterChange[]
  retired: readonly KnownCluster[]
  first: boolean
  maxK: number
}): AgentFinding {
  const { clustering, clusters, changes, retired } = input
  const templates = clusters.reduce((n, c) => n + c.members.length, 0)
  const why =
    clustering.silhouette === null
      ? 'all templates have the same features, so they form one cluster'
      : `k = ${clustering.k} has the best mean silhouette (${clustering.silhouette.toFixed(2)}) of k = 2..${
          clustering.tried.at(-1)?.k ?? input.maxK
        }`
  const name = (c: IdentifiedCluster) => `#${c.id} ${c.label}`
  const size = (c: IdentifiedCluster) => `${count(c.members.length, 'template')}, ${count(c.executions, 'statement')}`
  const byId = new Map(clusters.map((c) => [c.id, c]))
  let reason: string
  if (input.first) {
    reason = `${count(templates, 'query template')} form ${count(clusters.length, 'workload cluster')} (${why}): ${clusters
      .map((c) => `${name(c)} (${size(c)})`)
      .join('; ')}.`
  } else {
    const notes: string[] = []
    for (const ch of changes) {
      const c = byId.get(ch.id) as IdentifiedCluster
      if (ch.change === 'new') notes.push(`${name(c)} is new (${size(c)})`)
      else if (ch.change === 'changed') {
        const parts: string[] = []
        if (ch.joined.length) parts.push(`gained ${count(ch.joined.length, 'template')}`)
        if (ch.left.length) parts.push(`lost ${count(ch.left.length, 'template')}`)
        if (ch.previousLabel !== undefined) parts.push(`was "${ch.previousLabel}"`)
        notes.push(`${name(c)} ${parts.join(', ')}`)
      }
    }
    for (const r of retired) notes.push(`#${r.id} ${r.label} retired`)
    reason =
      notes.length === 0
        ? `The ${count(clusters.length, 'workload cluster')} ${clusters.length === 1 ? 'is' : 'are'} unchanged since the last clustering (${why}): ${clusters
            .map((c) => `${name(c)} (${size(c)})`)
            .join('; ')}.`
        : `The workload clusters changed: ${notes.join('; ')}. Now ${count(templates, 'template')} in ${count(
            clusters.length,
            'cluster',
          )} (${why}).`
  }
  if (clustering.unparsed > 0)
    reason += ` ${count(clustering.unparsed, 'template')} did not parse; their shape came from the proxy's analysis.`
  return {
    kind: 'workload.clusters',
    severity: 'info',
    reason,
    evidence: {
      criterion: CLUSTERING_CRITERION,
      k: clustering.k,
      silhouette: clustering.silhouette,
      tried: clustering.tried,
      templates,
      clustered: clustering.clustered,
      clusters: clusters.map((c) => {
        const ch = changes.find((x) => x.id === c.id)
        return {
          id: c.id,
          label: c.label,
          templates: c.members.length,
          executions: c.executions,
          typicalRows: round(c.typicalRows),
          typicalDurationMs: round(c.typicalDurationMs),
          members: c.members,
          change: ch?.change ?? 'new',
          joined: ch?.joined ?? [],
          left: ch?.left ?? [],
          matchedBy: c.matchedBy,
          jaccard: round(c.jaccard),
        }
      }),
      retired: retired.map((r) => ({ id: r.id, label: r.label })),
    },
  }
}

/** The finding when there is not enough to cluster. */
export function tooFewFinding(templates: number, minFingerprints: number, window: string): AgentFinding {
  return {
    kind: 'workload.clusters',
    severity: 'info',
    reason: `Too few query templates to cluster: ${count(templates, 'template')} ran in the last ${window}; clustering needs at least ${minFingerprints}.`,
    evidence: { templates, minFingerprints, clusters: [] },
  }
}

export interface ClusterForecast {
  readonly cluster: IdentifiedCluster
  readonly forecast: ArrivalForecast
}

/** The `workload.forecast` finding: per cluster, the arrivals expected at each horizon and the held-back error. */
export function forecastFinding(input: {
  forecasts: readonly ClusterForecast[]
  bucketMs: number
  firstForecastBucket: number
  holdoutFraction: number
}): AgentFinding {
  const bucket = duration(input.bucketMs)
  const ready = input.forecasts.filter((f) => f.forecast.ok)
  const evidence = {
    bucketMs: input.bucketMs,
    holdoutFraction: input.holdoutFraction,
    clusters: input.forecasts.map(({ cluster, forecast }) =>
      forecast.ok
        ? {
            id: cluster.id,
            label: cluster.label,
            points: forecast.points,
            season: forecast.season,
            horizons: forecast.horizons.map((h) => ({
              horizon: h.horizon,
              bucketStart: (input.firstForecastBucket + h.horizon - 1) * input.bucketMs,
              predicted: round(h.predicted),
              heldBack: {
                mae: round(h.heldBack.ensemble.mae),
                smape: round(h.heldBack.ensemble.smape),
                naiveMae: round(h.heldBack.naive.mae),
                naiveSmape: round(h.heldBack.naive.smape),
                points: h.heldBack.ensemble.points,
              },
              weights: Object.fromEntries(Object.entries(h.weights).map(([k, w]) => [k, round(w)])),
            })),
            heldBack: {
              mae: round(forecast.heldBack.ensemble.mae),
              smape: round(forecast.heldBack.ensemble.smape),
              naiveMae: round(forecast.heldBack.naive.mae),
              naiveSmape: round(forecast.heldBack.naive.smape),
              members: Object.fromEntries(
                Object.entries(forecast.heldBack.members).map(([k, e]) => [
                  k,
                  { mae: round(e.mae), smape: round(e.smape) },
                ]),
              ),
            },
          }
        : { id: cluster.id, label: cluster.label, points: forecast.points, skipped: forecast.reason },
    ),
  }
  if (ready.length === 0) {
    const first = input.forecasts[0]?.forecast
    return {
      kind: 'workload.forecast',
      severity: 'info',
      reason: `No arrival forecast yet: ${first && !first.ok ? first.reason : 'no clusters'} (buckets of ${bucket}).`,
      evidence,
    }
  }
  const firstHorizon = (f: ClusterForecast) => (f.forecast.ok ? f.forecast.horizons[0] : undefined)
  const h1 = firstHorizon(ready[0] as ClusterForecast)?.horizon ?? 1
  const expected = ready.reduce((n, f) => n + (firstHorizon(f)?.predicted ?? 0), 0)
  const busiest = [...ready].sort((a, b) => (firstHorizon(b)?.predicted ?? 0) - (firstHorizon(a)?.predicted ?? 0))[0]
  let points = 0
  let mae = 0
  let naiveMae = 0
  let smape = 0
  let naiveSmape = 0
  for (const { forecast } of ready) {
    if (!forecast.ok) continue
    const p = forecast.heldBack.ensemble.points
    points += p
    mae += forecast.heldBack.ensemble.mae * p
    naiveMae += forecast.heldBack.naive.mae * p
    smape += forecast.heldBack.ensemble.smape * p
    naiveSmape += forecast.heldBack.naive.smape * p
  }
  const avg = (x: number) => (points ? x / points : 0)
  const better = avg(mae) <= avg(naiveMae)
  const skipped = input.forecasts.length - ready.length
  const reason =
    `${h1 === 1 ? 'Next' : `In ${h1} buckets,`} ${bucket}: about ${Math.round(expected).toLocaleString('en-US')} statements expected across ${count(
      ready.length,
      'cluster',
    )}` +
    (busiest
      ? `, most in #${busiest.cluster.id} ${busiest.cluster.label} (${Math.round(firstHorizon(busiest)?.predicted ?? 0)})`
      : '') +
    `. On held-back history the ensemble's mean absolute error was ${avg(mae).toFixed(1)} statements per bucket (sMAPE ${avg(smape).toFixed(0)}%)` +
    ` against ${avg(naiveMae).toFixed(1)} (sMAPE ${avg(naiveSmape).toFixed(0)}%) for repeating the last bucket` +
    (better ? '.' : ', so the last value is the better guess for now.') +
    (skipped ? ` ${count(skipped, 'cluster')} had too little history to forecast.` : '')
  return { kind: 'workload.forecast', severity: 'info', reason, evidence }
}

export function duration(ms: number): string {
  if (ms % 86_400_000 === 0) return ms === 86_400_000 ? 'day' : `${ms / 86_400_000} days`
  if (ms % 3_600_000 === 0) return ms === 3_600_000 ? 'hour' : `${ms / 3_600_000} h`
  if (ms % 60_000 === 0) return ms === 60_000 ? 'minute' : `${ms / 60_000} min`
  if (ms % 1000 === 0) return ms === 1000 ? 'second' : `${ms / 1000} s`
  return `${ms} ms`
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}
