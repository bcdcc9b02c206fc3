import { input, select } from '@inquirer/prompts'
import { usageError } from '../core/errors.js'

/** Prompts only when a person is there: stdin and stdout are terminals and CI is unset. */
export const canPrompt = () => Boolean(process.stdin.isTTY && process.stdout.isTTY && !process.env.CI)

export async function askText(message: string, flag: string, validate?: (v: string) => true | string): Promise<string> {
  if (!canPrompt()) throw usageError(`${flag} is required`, `pass ${flag} (janua prompts only on a terminal)`)
  return input({ message, validate })
}

export async function askChoice<T extends string>(message: string, flag: string, choices: readonly T[], fallback: T): Promise<T> {
  if (!canPrompt()) return fallback
  return select({ message, choices: choices.map((value) => ({ value })), default: fallback })
}

export async function confirmBySlug(slug: string): Promise<boolean> {
  if (!canPrompt()) return false
  const answer = await input({ message: `This deletes every row of tenant "${slug}". Type the slug to confirm:` })
  return answer.trim() === slug
}
