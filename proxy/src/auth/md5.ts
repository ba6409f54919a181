import { createHash } from 'node:crypto'

const md5hex = (s: string | Buffer): string => createHash('md5').update(s).digest('hex')

/** What PostgreSQL stores for md5: `md5` + md5(password + user). */
export const md5Verifier = (user: string, password: string): string => `md5${md5hex(password + user)}`

/** The client's answer to an MD5 challenge, computed from the stored verifier. */
export function md5Response(verifier: string, salt: Buffer): string {
  return `md5${md5hex(Buffer.concat([Buffer.from(verifier.slice(3)), salt]))}`
}
