const small = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
]
const tens = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety']

/** English words of a whole number below one million: 42 → `forty-two`, 305 → `three hundred five`. */
export function numberToWords(n: number): string {
  const whole = Math.floor(Math.abs(n))
  if (whole >= 1_000_000) return 'a lot'
  if (whole >= 1000) {
    const rest = whole % 1000
    return `${numberToWords(Math.floor(whole / 1000))} thousand${rest ? ` ${numberToWords(rest)}` : ''}`
  }
  if (whole >= 100) {
    const rest = whole % 100
    return `${small[Math.floor(whole / 100)]} hundred${rest ? ` ${numberToWords(rest)}` : ''}`
  }
  if (whole >= 20) {
    const unit = whole % 10
    return `${tens[Math.floor(whole / 10)]}${unit ? `-${small[unit]}` : ''}`
  }
  return small[whole] as string
}
