/** One configured source instance that bronze_ingestion runs. */
export interface SourceSpec {
  /** A registered source plugin name (`files`, `generator`, `redis-stream`, …). */
  readonly plugin: string
  readonly instance: string
  readonly config: unknown
}

/** What the four DAGs need to know. */
export interface PipelineSettings {
  readonly sources: readonly SourceSpec[]
  /** Cron of bronze_ingestion (UTC). Silver and gold follow when data changed. */
  readonly ingestCron: string
  readonly maintenanceCron: string
  /** Days of bronze kept per source; 0 keeps everything. */
  readonly bronzeRetentionDays: number
  /** Days of query telemetry kept. */
  readonly telemetryRetentionDays: number
}

/** What the DAGs tell the rest of Cairn as they go. */
export interface PipelineHooks {
  /**
   * Called after a commit that changed these relations (`schema.name`) in a way the result
   * cache's WAL follower cannot see, such as a REFRESH of a materialized view.
   */
  readonly dataChanged?: (relations: readonly string[]) => Promise<void>
}
