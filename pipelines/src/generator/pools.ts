import {
  type Faker,
  faker,
  fakerDE,
  fakerEN_AU,
  fakerEN_CA,
  fakerEN_GB,
  fakerEN_IE,
  fakerEN_US,
  fakerES,
  fakerFR,
  fakerIT,
  fakerNL,
} from '@faker-js/faker'
import { type Market, markets } from './markets.js'
import { WeightedIndex, zipfWeights } from './weighted-index.js'

/** Names and cities of one market, drawn once up-front. */
export interface CountryPool {
  readonly market: Market
  readonly firstNames: readonly string[]
  readonly lastNames: readonly string[]
  /** The names in lower-case ASCII letters, for e-mail addresses (same indexes). */
  readonly emailFirstNames: readonly string[]
  readonly emailLastNames: readonly string[]
  readonly cities: readonly string[]
  /** Draws a city index: a few big cities (the first), a long tail of small ones. */
  readonly cityIndex: WeightedIndex
}

/** Everything the generator draws words from. Built with seeded faker once per run. */
export interface Pools {
  readonly countries: readonly CountryPool[]
  /** Draws a country index with the market shares. */
  readonly countryIndex: WeightedIndex
  readonly brands: readonly string[]
  readonly adjectives: readonly string[]
}

const fakers: Readonly<Record<string, Faker>> = {
  US: fakerEN_US,
  GB: fakerEN_GB,
  DE: fakerDE,
  FR: fakerFR,
  CA: fakerEN_CA,
  AU: fakerEN_AU,
  NL: fakerNL,
  ES: fakerES,
  IT: fakerIT,
  IE: fakerEN_IE,
}

/** Up to `size` distinct values of draw(), trying at most 20 × size times. */
function distinct(size: number, draw: () => string): string[] {
  const values = new Set<string>()
  for (let i = 0; i < size * 20 && values.size < size; i++) {
    const value = draw().trim()
    if (value) values.add(value)
  }
  return [...values]
}

/** Lower-case ASCII letters only: `Müller-Lüdenscheidt` → `mullerludenscheidt`. */
export function asciiLetters(name: string): string {
  return name
    .normalize('NFD')
    .toLowerCase()
    .replace(/[^a-z]/g, '')
}

/** Builds the pools with faker seeded from `seed`: the same seed gives the same pools. */
export function buildPools(seed: number): Pools {
  const countries = markets.map((market, i): CountryPool => {
    const f = fakers[market.country] ?? fakerEN_US
    f.seed([seed, i])
    const firstNames = distinct(160, () => f.person.firstName()).filter((n) => asciiLetters(n))
    const lastNames = distinct(240, () => f.person.lastName()).filter((n) => asciiLetters(n))
    const known = f.definitions.location.city_name ?? []
    const cities =
      market.cities !== undefined
        ? [...market.cities]
        : known.length > 0
          ? f.helpers.arrayElements(known, Math.min(40, known.length))
          : distinct(40, () => f.location.city())
    return {
      market,
      firstNames,
      lastNames,
      emailFirstNames: firstNames.map(asciiLetters),
      emailLastNames: lastNames.map(asciiLetters),
      cities,
      cityIndex: new WeightedIndex(zipfWeights(cities.length, 0.9)),
    }
  })
  faker.seed([seed, markets.length])
  const brands = distinct(150, () => faker.company.name().split(/[\s,-]/)[0] ?? '').filter((b) => b.length > 2)
  return {
    countries,
    countryIndex: new WeightedIndex(markets.map((m) => m.weight)),
    brands,
    adjectives: [...faker.definitions.commerce.product_name.adjective],
  }
}
