import type { StatementKind } from '@cairn/core'
import { type Agent, type AgentContext, defineAgent } from '@cairn/plugins'
import type pg from 'pg'
import { workerModule } from '../host/worker-module.js'
import type { ClusterWorkloadInput, KnownCluster, WorkloadClustering } from './cluster-workload.js'
import { FingerprintTally } from './fingerprint-tally.js'
import type { ForecastClusterArrivalsInput, forecastClusterArrivals } from './forecast-cluster-arrivals.js'
import {
  type ClusterForecast,
  clusterChanges,
  clustersFinding,
  duration,
  forecastFinding,
  type IdentifiedCluster,
  tooFewFinding,
} from './workload-findings.js'
import { loadWorkloadHistory } from './workload-history.js'
import { WorkloadStore } from './workload-store.js'

export interface WorkloadClustererOptions {
  /** A writable pool for `cairn_meta.workload_*`; without it cluster ids live in memory only. */
  pool?: pg.Pool
  /** How often to re-cluster and forecast. Default 10 min. */
  intervalMs?: number
  /** Arrival-count bucket. Default 1 hour. */
  bucketMs?: number
  /** Buckets ahead to forecast. Default [1, 2, 6]. */
  horizons?: readonly number[]
  /** Buckets of history kept and clustered over. Default 168 (7 days of hours, the events' retention). */
  windowBuckets?: number
  /** The season looked for in arrivals. Default 1 day. */
  seasonMs?: number
  /** Fewer templates than this are not clustered (the finding says so). Default 6. */
  minFingerprints?: number
  /** Largest k tried. Default 10. */
  maxK?: number
  /** The most executed templates k-means sees; the rest join the nearest cluster. Default 1000. */
  maxClustered?: number
  /** Templates tracked at most. Default 5000. */
  maxTracked?: number
  /** k-means seed, and restarts per k. Defaults 1 and 4. */
  seed?: number
  restarts?: number
  /** Share of each arrival series held back to measure forecast error. Default 0.2. */
  holdoutFraction?: number
  /** Identity matching: least member overlap (Jaccard), then largest centroid distance. Defaults 0.5 and 0.5. */
  minJaccard?: number
  maxCentroidDistance?: number
  /** Statement kinds clustered. Default select, insert, update, delete. */
  kinds?: readonly StatementKind[]
  /** Read `cairn_meta.query_events` from before the start (the window back). Default true. */
  loadHistory?: boolean
  /** The clock (epoch ms). Default `Date.now`. */
  now?: () => number
}

/** A template's cluster, as other agents use it (the latency predictor takes `id` as a feature). */
export interface WorkloadClusterRef {
  readonly id: number
  readonly label: string
}

/** The agent and what other agents may ask it. */
export interface WorkloadClusterer {
  readonly agent: Agent
  /** The cluster of a template as of the last clustering; undefined when it was not clustered yet. */
  clusterOf(fingerprint: string): WorkloadClusterRef | undefined
  /** The clusters as of the last clustering. */
  clusters(): readonly IdentifiedCluster[]
  /** Runs a clustering and forecast now (after the agent started), and resolves when it is done. */
  refresh(): Promise<void>
}

const clusterModule = workerModule(import.meta.url, './cluster-workload.js')
const forecastModule = workerModule(import.meta.url, './forecast-cluster-arrivals.js')

/**
 * The workload clusterer: tallies each template's statements as they complete,
 * and on an interval clusters the templates (features from their parse tree,
 * their rows and durations, their arrival pattern; k-means in a worker), keeps
 * cluster ids stable across re-clusterings, and forecasts each cluster's
 * arrivals a few buckets ahead. Publishes `workload.clusters` when the clusters
 * change and `workload.forecast` once per new bucket.
 */
export function useWorkloadClusterer({
  pool,
  intervalMs = 600_000,
  bucketMs = 3_600_000,
  horizons = [1, 2, 6],
  windowBuckets = 168,
  seasonMs = 86_400_000,
  minFingerprints = 6,
  maxK = 10,
  maxClustered = 1000,
  maxTracked = 5000,
  seed = 1,
  restarts = 4,
  holdoutFraction = 0.2,
  minJaccard = 0.5,
  maxCentroidDistance = 0.5,
  kinds = ['select', 'insert', 'update', 'delete'],
  loadHistory = true,
  now = Date.now,
}: WorkloadClustererOptions = {}): WorkloadClusterer {
  const store = pool ? new WorkloadStore(pool) : undefined
  const clustered = new Set<StatementKind>(kinds)
  // State outlives a restart of the agent: the host restarts the same agent object.
  const tally = new FingerprintTally({ bucketMs, windowBuckets, maxTracked })
  let known: KnownCluster[] = []
  let current: IdentifiedCluster[] = []
  let membership = new Map<string, WorkloadClusterRef>()
  let nextLocalId = 1
  let loaded = false
  /** What the last clustering concluded; too few templates carries how many there were. */
  let state: { tooFew: number } | 'clustered' | undefined
  let forecastState: { bucket: number; ready: boolean } | undefined
  let ready: Promise<boolean> = Promise.resolve(false)
  let initial: Promise<void> = Promise.resolve()
  let running: Promise<void> | undefined
  let context: AgentContext | undefined

  /** The history from before the start, read once (in the background: the host need not wait for it). */
  const readHistory = async (ctx: AgentContext): Promise<boolean> => {
    if (loaded) return false
    let seeded = false
    if (loadHistory) {
      const until = now()
      tally.countLiveFrom(until)
      try {
        const history = await loadWorkloadHistory(ctx.db, {
          from: (Math.floor(until / bucketMs) - windowBuckets) * bucketMs,
          until,
          bucketMs,
          kinds,
          limit: maxTracked,
        })
        tally.seed(history)
        seeded = history.length > 0
        ctx.log.info({ templates: history.length }, 'workload history loaded')
      } catch (err) {
        ctx.log.warn({ err }, 'could not read the workload history; clustering what arrives from now on')
      }
    }
    loaded = true
    return seeded
  }

  const assignIds = async (clustering: WorkloadClustering): Promise<number[]> => {
    if (store) {
      return store.save(
        clustering.clusters.map((c) => ({
          id: c.id,
          label: c.label,
          centroid: c.centroid,
          executions: c.executions,
          members: c.members,
        })),
        clustering.retired,
      )
    }
    return clustering.clusters.map((c) => c.id ?? nextLocalId++)
  }

  const cluster = async (ctx: AgentContext, at: number): Promise<boolean> => {
    tally.prune(at)
    const profiles = tally.profiles(at)
    if (profiles.length < minFingerprints) {
      // Said again only when the count changes: at most minFingerprints times on the way up.
      if (state === 'clustered' || state === undefined || state.tooFew !== profiles.length) {
        ctx.publish(tooFewFinding(profiles.length, minFingerprints, duration(windowBuckets * bucketMs)))
      }
      state = { tooFew: profiles.length }
      return false
    }
    const input: ClusterWorkloadInput = {
      profiles,
      previous: known,
      maxK,
      seed,
      restarts,
      maxClustered,
      minJaccard,
      maxCentroidDistance,
    }
    const clustering = await ctx.workers.run<WorkloadClustering>({
      module: clusterModule,
      name: 'clusterWorkload',
      input,
    })
    const ids = await assignIds(clustering)
    const clusters: IdentifiedCluster[] = clustering.clusters.map((c, i) => ({
      id: ids[i] as number,
      label: c.label,
      members: c.members.map((m) => m.fingerprint),
      executions: c.executions,
      typicalRows: c.typicalRows,
      typicalDurationMs: c.typicalDurationMs,
      matchedBy: c.by,
      jaccard: c.jaccard,
    }))
    const { changes, changed } = clusterChanges(known, clusters, clustering.retired)
    if (changed || state !== 'clustered') {
      const retiredIds = new Set(clustering.retired)
      ctx.publish(
        clustersFinding({
          clustering,
          clusters,
          changes,
          retired: known.filter((k) => retiredIds.has(k.id)),
          first: known.length === 0,
          maxK,
        }),
      )
    }
    known = clusters.map((c, i) => ({
      id: c.id,
      label: c.label,
      members: c.members,
      centroid: (clustering.clusters[i] as WorkloadClustering['clusters'][number]).centroid,
    }))
    current = clusters
    membership = new Map(clusters.flatMap((c) => c.members.map((m) => [m, { id: c.id, label: c.label }] as const)))
    state = 'clustered'
    return changed
  }

  const forecast = async (ctx: AgentContext, at: number, clustersChanged: boolean): Promise<void> => {
    const lastComplete = Math.floor(at / bucketMs) - 1
    if (!clustersChanged && forecastState && forecastState.bucket >= lastComplete) return
    const series = current.map((c) => ({ id: c.id, counts: tally.arrivalCounts(c.members, at).counts }))
    const input: ForecastClusterArrivalsInput = {
      clusters: series,
      horizons,
      seasonLength: Math.round(seasonMs / bucketMs),
      holdoutFraction,
    }
    const results = await ctx.workers.run<ReturnType<typeof forecastClusterArrivals>>({
      module: forecastModule,
      name: 'forecastClusterArrivals',
      input,
    })
    const byId = new Map(current.map((c) => [c.id, c]))
    const forecasts: ClusterForecast[] = results.map((r) => ({
      cluster: byId.get(r.id) as IdentifiedCluster,
      forecast: r.forecast,
    }))
    const anyReady = forecasts.some((f) => f.forecast.ok)
    // "Not enough history yet" is said once, not every bucket.
    if (anyReady || !forecastState || forecastState.ready) {
      ctx.publish(forecastFinding({ forecasts, bucketMs, firstForecastBucket: lastComplete + 1, holdoutFraction }))
    }
    forecastState = { bucket: lastComplete, ready: anyReady }
    if (store && anyReady) {
      await store.saveForecasts(
        at,
        bucketMs,
        forecasts.flatMap(({ cluster, forecast }) =>
          forecast.ok
            ? forecast.horizons.map((h) => ({
                clusterId: cluster.id,
                horizon: h.horizon,
                bucketStart: (lastComplete + h.horizon) * bucketMs,
                predicted: h.predicted,
                heldBackMae: h.heldBack.ensemble.mae,
                heldBackSmape: h.heldBack.ensemble.smape,
                naiveMae: h.heldBack.naive.mae,
                naiveSmape: h.heldBack.naive.smape,
              }))
            : [],
        ),
      )
    }
  }

  const cycle = async (ctx: AgentContext): Promise<void> => {
    await ready
    const at = now()
    const changed = await cluster(ctx, at)
    if (state === 'clustered') await forecast(ctx, at, changed)
  }

  /** One cycle at a time: a refresh during a running cycle waits for it, then runs its own. */
  const run = async (ctx: AgentContext): Promise<void> => {
    // Another cycle's failure is its own caller's to report.
    while (running) await running.catch(() => {})
    running = cycle(ctx).finally(() => {
      running = undefined
    })
    return running
  }

  const agent = defineAgent({
    meta: {
      name: 'workload-clusterer',
      version: '1.0.0',
      description: 'Clusters query templates into workload classes with stable ids, and forecasts their arrivals',
    },
    async start(ctx) {
      // Identities first: a store that cannot be read is a failed start (the host retries with backoff).
      if (store && known.length === 0) {
        known = await store.load()
        nextLocalId = Math.max(0, ...known.map((k) => k.id)) + 1
      }
      context = ctx
      ready = readHistory(ctx)
      const scheduled = () =>
        run(ctx).catch((err) => {
          if (!ctx.signal.aborted)
            ctx.log.warn({ err }, 'workload clustering failed; trying again at the next interval')
        })
      // With history, the first clustering runs as soon as it is in, not an interval later.
      initial = ready.then((seeded) => (seeded && !ctx.signal.aborted ? scheduled() : undefined))
      const timer = setInterval(() => void scheduled(), intervalMs)
      timer.unref()
      ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true })
      return () => {
        clearInterval(timer)
        if (context === ctx) context = undefined
      }
    },
    onResult(event) {
      if (clustered.has(event.kind)) tally.add(event)
    },
  })

  return {
    agent,
    clusterOf: (fingerprint) => membership.get(fingerprint),
    clusters: () => current,
    async refresh() {
      const ctx = context
      if (!ctx) throw new Error('the workload clusterer is not running')
      // After the first clustering from history, if one is under way.
      await initial
      return run(ctx)
    },
  }
}
