import {
  amountFields,
  codeFields,
  extraFields,
  malformedFields,
  missingFields,
  paddedNumberFields,
  renamedFields,
  textFields,
  unknownCurrencies,
  wrongTypeFields,
} from './dirt-fields.js'
import type { DirtKind, EntityName } from './generator-options.js'
import { numberToWords } from './number-words.js'
import type { Random } from './random.js'
import type { RawRecord } from './raw-record.js'

const two = (n: number): string => String(n).padStart(2, '0')

/** An unparseable timestamp near the original: `2025-14-37T61:05` (month, day and hour out of range). */
export function malformedTimestamp(iso: string, random: Random): string {
  return `${iso.slice(0, 4)}-${two(13 + random.int(7))}-${two(32 + random.int(9))}T${two(24 + random.int(76))}:${iso.slice(14, 16)}`
}

/** An unparseable number near the original: 12.34 → `12.34.5`. */
export function malformedNumber(n: number, random: Random): string {
  return `${Math.abs(n).toFixed(2)}.${random.int(10)}`
}

/** A copy of the record with `field` replaced (same field order). */
function withField(record: RawRecord, field: string, value: unknown): RawRecord {
  return { ...record, [field]: value }
}

/** A copy of the record with `from` renamed to `to` at the same position. */
function renamed(record: RawRecord, from: string, to: string): RawRecord {
  const out: RawRecord = {}
  for (const key of Object.keys(record)) out[key === from ? to : key] = record[key]
  return out
}

/** A copy of the record without `field`. */
function without(record: RawRecord, field: string): RawRecord {
  const out: RawRecord = {}
  for (const key of Object.keys(record)) if (key !== field) out[key] = record[key]
  return out
}

/**
 * The dirty version of a clean record for the kinds that change one record: missing_field, malformed,
 * wrong_type, negative_quantity, unknown_currency, schema_drift_extra, schema_drift_renamed. Other
 * kinds (and a kind with no field to apply to) return the record unchanged.
 */
export function applyDirt(kind: DirtKind, entity: EntityName, record: RawRecord, random: Random): RawRecord {
  switch (kind) {
    case 'missing_field':
      return without(record, random.pick(missingFields[entity]))
    case 'malformed': {
      const field = random.pick(malformedFields[entity])
      const value = record[field]
      return withField(
        record,
        field,
        typeof value === 'number' ? malformedNumber(value, random) : malformedTimestamp(String(value), random),
      )
    }
    case 'wrong_type': {
      const field = random.pick(wrongTypeFields[entity])
      return withField(record, field, numberToWords(Number(record[field])))
    }
    case 'negative_quantity':
      return withField(record, 'quantity', -Number(record.quantity))
    case 'unknown_currency':
      return withField(record, 'currency', random.pick(unknownCurrencies))
    case 'schema_drift_extra': {
      const extra = extraFields[entity]
      return extra ? withField(record, extra[0], random.pick(extra[1])) : record
    }
    case 'schema_drift_renamed': {
      const rename = renamedFields[entity]
      return rename ? renamed(record, rename[0], rename[1]) : record
    }
    default:
      return record
  }
}

/**
 * A near duplicate of a clean record: same key and `updated_at`, only differences a cleaner
 * normalises. Always one visible change (a code in the other case, or a quantity as a padded string);
 * then, each with probability 1/2: a text field padded with a space, the amounts as 2-decimal strings
 * (`"12.50"`), the fields in reverse order.
 */
export function nearDuplicate(entity: EntityName, record: RawRecord, random: Random): RawRecord {
  let out: RawRecord = { ...record }
  const codes = codeFields[entity]
  if (codes.length > 0) {
    const field = random.pick(codes)
    const value = String(out[field])
    out[field] = value === value.toUpperCase() ? value.toLowerCase() : value.toUpperCase()
  } else {
    for (const field of paddedNumberFields[entity]) out[field] = ` ${out[field]}`
  }
  const texts = textFields[entity]
  if (texts.length > 0 && random.chance(0.5)) {
    const field = random.pick(texts)
    out[field] = random.chance(0.5) ? ` ${out[field]}` : `${out[field]}  `
  }
  if (random.chance(0.5)) {
    for (const field of amountFields[entity]) {
      const value = out[field]
      if (typeof value === 'number') out[field] = value.toFixed(2)
    }
  }
  if (random.chance(0.5)) out = Object.fromEntries(Object.entries(out).reverse())
  return out
}
