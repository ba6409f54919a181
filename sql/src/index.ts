import { fileURLToPath } from 'node:url'

/** The ordered `NNNN_name.sql` migrations, applied by `cairn migrate` and at start-up. */
export const migrationsDir: string = fileURLToPath(new URL('../migrations', import.meta.url))
