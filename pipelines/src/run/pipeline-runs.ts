import type pg from 'pg'

/** Opens a row in `cairn_meta.pipeline_runs`; returns its id. */
export async function openRun(pool: pg.Pool, pipeline: string): Promise<number> {
  const { rows } = await pool.query<{ run_id: string }>(
    'INSERT INTO cairn_meta.pipeline_runs (pipeline) VALUES ($1) RETURNING run_id',
    [pipeline],
  )
  return Number(rows[0]?.run_id)
}

export async function closeRun(
  pool: pg.Pool,
  runId: number,
  outcome: { status: 'succeeded' | 'failed'; error?: string; summary?: unknown },
): Promise<void> {
  await pool.query(
    `UPDATE cairn_meta.pipeline_runs SET status = $2, error = $3, summary = $4, finished_at = now() WHERE run_id = $1`,
    [
      runId,
      outcome.status,
      outcome.error ?? null,
      outcome.summary === undefined ? null : JSON.stringify(outcome.summary),
    ],
  )
}
