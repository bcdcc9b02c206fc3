import { closest } from '../core/suggest.js'

/** What janua says about a command it does not know: pure, from the words typed and the command ids. */
export interface NotFound {
  message: string
  hint: string
  /** the command meant, space-separated, when one is close */
  suggestion?: string
}

const spaced = (id: string) => id.replaceAll(':', ' ')

/**
 * oclif glues the words before the first flag into one id (`tenant:creat:foo`). The longest
 * leading words that name a command mean the rest are misplaced arguments; else the closest
 * command to the leading words (as many as the candidate has), or the closest topic's commands.
 */
export function judgeNotFound(id: string, commandIds: readonly string[], topics: readonly string[] = []): NotFound {
  const words = id.split(':').filter(Boolean)
  const typed = words.join(' ')
  for (let n = words.length - 1; n >= 1; n--) {
    const prefix = words.slice(0, n).join(':')
    if (commandIds.includes(prefix)) {
      const extra = words.slice(n)
      return {
        message: `\`janua ${spaced(prefix)}\` takes no argument ${extra.map((w) => JSON.stringify(w)).join(' ')} there`,
        hint: `see \`janua ${spaced(prefix)} --help\` for its arguments and flags`,
        suggestion: spaced(prefix),
      }
    }
  }
  let best: { id: string; distance: number } | undefined
  for (let n = words.length; n >= 1; n--) {
    const head = words.slice(0, n).join(' ')
    const candidates = commandIds.filter((c) => c.split(':').length === n).map(spaced)
    const near = closest(head, candidates)
    if (near) {
      best = { id: near, distance: n }
      break
    }
  }
  if (best) {
    const rest = words.slice(best.distance)
    return {
      message: `unknown command \`janua ${typed}\``,
      hint: `did you mean \`janua ${best.id}${rest.length ? ` ${rest.join(' ')}` : ''}\`? (\`janua ${best.id} --help\`)`,
      suggestion: best.id,
    }
  }
  const topic = words.length ? closest(words[0]!, topics) : undefined
  return {
    message: `unknown command \`janua ${typed}\``,
    hint: topic ? `the ${topic} commands: \`janua ${topic} --help\`` : 'the commands: `janua --help`',
  }
}
