/**
 * Edit distance (Levenshtein: insertions, deletions, substitutions, each costing 1) and the closest
 * candidate to a mistyped name: used for unknown config keys and commands. Pure, no dependency.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0
  if (!a.length) return b.length
  if (!b.length) return a.length
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/**
 * The candidate closest to `word`, when it is close enough to be a likely typo: at most a third of
 * the longer name's length (at least 1, at most 3 edits), or a candidate that starts with the word
 * or it with the candidate. Ties go to the first candidate. undefined when nothing is close.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined
  for (const name of candidates) {
    const distance = editDistance(word.toLowerCase(), name.toLowerCase())
    if (!best || distance < best.distance) best = { name, distance }
  }
  if (!best) return undefined
  const limit = Math.min(3, Math.max(1, Math.floor(Math.max(word.length, best.name.length) / 3)))
  if (best.distance <= limit) return best.name
  const prefix = candidates.find((c) => word.length >= 3 && (c.startsWith(word) || word.startsWith(c)))
  return prefix
}
