// Option keys: an own key that is not one of the known ones is an error naming it, with the key
// that was meant where one is close. Shared by validate.ts and signals.ts (no import of the regions).
import { invalidArgValue } from './errors.ts'

/** Throws ERR_INVALID_ARG_VALUE for an own enumerable key of `o` that is not in `known`. */
export function checkKeys(o: object, known: readonly string[], name: string): void {
  for (const key of Object.keys(o)) {
    if (known.includes(key)) continue
    const meant = closest(key, known)
    throw invalidArgValue(
      `${name}.${key}`,
      key,
      `is not an option here${meant === undefined ? '' : ` (did you mean '${meant}'?)`}; the options are ${known.join(', ')}`,
    )
  }
}

/** The known key nearest to `key` (edit distance at most a third of its length, and at least 1). */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase())
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return best
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(prev + (a[i - 1] === b[j - 1] ? 0 : 1), row[j]! + 1, row[j - 1]! + 1)
      prev = row[j]!
      row[j] = next
    }
  }
  return row[b.length]!
}
