/** The accepted currencies of the record contract. */
export const currencies = ['USD', 'EUR', 'GBP', 'CAD', 'AUD'] as const
export type Currency = (typeof currencies)[number]

/**
 * Fixed exchange rates from USD: catalog prices are in USD, order lines in the customer's currency
 * at these rates.
 */
export const usdTo: Readonly<Record<Currency, number>> = { USD: 1, EUR: 0.92, GBP: 0.79, CAD: 1.36, AUD: 1.52 }

/** A country the shop sells to. */
export interface Market {
  /** ISO 3166-1 alpha-2, upper case. */
  readonly country: string
  readonly currency: Currency
  /** Share of customers (relative). */
  readonly weight: number
  /** Phone number pattern, `#` is a digit. */
  readonly phone: string
  /** Extra share of bank transfers among payment methods. */
  readonly bankTransfer: number
  /** Cities, largest first, where the faker locale has none of its own (otherwise drawn from faker). */
  readonly cities?: readonly string[]
}

export const markets: readonly Market[] = [
  { country: 'US', currency: 'USD', weight: 38, phone: '+1 ###-###-####', bankTransfer: 0 },
  {
    country: 'GB',
    currency: 'GBP',
    weight: 12,
    phone: '+44 7### ######',
    bankTransfer: 0.02,
    cities: [
      'London',
      'Birmingham',
      'Manchester',
      'Glasgow',
      'Leeds',
      'Liverpool',
      'Bristol',
      'Sheffield',
      'Edinburgh',
      'Cardiff',
      'Leicester',
      'Nottingham',
      'Newcastle upon Tyne',
      'Brighton',
      'Southampton',
      'Belfast',
      'Oxford',
      'Cambridge',
      'York',
      'Aberdeen',
    ],
  },
  { country: 'DE', currency: 'EUR', weight: 12, phone: '+49 15# ########', bankTransfer: 0.12 },
  { country: 'FR', currency: 'EUR', weight: 8, phone: '+33 6 ## ## ## ##', bankTransfer: 0.04 },
  { country: 'CA', currency: 'CAD', weight: 8, phone: '+1 ###-###-####', bankTransfer: 0 },
  {
    country: 'AU',
    currency: 'AUD',
    weight: 6,
    phone: '+61 4## ### ###',
    bankTransfer: 0.02,
    cities: [
      'Sydney',
      'Melbourne',
      'Brisbane',
      'Perth',
      'Adelaide',
      'Gold Coast',
      'Canberra',
      'Newcastle',
      'Wollongong',
      'Hobart',
      'Geelong',
      'Townsville',
      'Cairns',
      'Darwin',
      'Toowoomba',
    ],
  },
  {
    country: 'NL',
    currency: 'EUR',
    weight: 5,
    phone: '+31 6 ########',
    bankTransfer: 0.15,
    cities: [
      'Amsterdam',
      'Rotterdam',
      'The Hague',
      'Utrecht',
      'Eindhoven',
      'Groningen',
      'Tilburg',
      'Almere',
      'Breda',
      'Nijmegen',
      'Haarlem',
      'Arnhem',
      'Enschede',
      'Amersfoort',
      'Maastricht',
      'Leiden',
      'Delft',
      'Zwolle',
    ],
  },
  { country: 'ES', currency: 'EUR', weight: 5, phone: '+34 6## ### ###', bankTransfer: 0.04 },
  { country: 'IT', currency: 'EUR', weight: 4, phone: '+39 3## ### ####', bankTransfer: 0.04 },
  {
    country: 'IE',
    currency: 'EUR',
    weight: 2,
    phone: '+353 8# ### ####',
    bankTransfer: 0.02,
    cities: [
      'Dublin',
      'Cork',
      'Limerick',
      'Galway',
      'Waterford',
      'Drogheda',
      'Dundalk',
      'Swords',
      'Bray',
      'Navan',
      'Kilkenny',
      'Ennis',
      'Sligo',
      'Athlone',
    ],
  },
]

/** Fills the `#` of a phone pattern with the digits of n (n < 10^12), last digit last. */
export function formatPhone(pattern: string, n: number): string {
  const digits = String(n).padStart(12, '0')
  let d = digits.length
  let out = ''
  for (let i = pattern.length - 1; i >= 0; i--) {
    const ch = pattern[i] as string
    out = (ch === '#' ? (digits[--d] as string) : ch) + out
  }
  return out
}
