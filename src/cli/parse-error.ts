import { escapeControls } from '../sql/ident.js'

/**
 * oclif's parser errors span lines ("Parsing --concurrency \n\tExpected an integer greater than or
 * equal to 1 but received: 0\nSee more help with --help"): one line with the whole reason, without
 * oclif's own help pointer (janua gives its hint), and with any control character of the echoed
 * value escaped (a flag value must not drive the terminal).
 */
export function parseErrorLine(message: string): string {
  return escapeControls(
    message
      .split('\n')
      .map((part) => part.trim())
      .filter((part) => part !== '' && !/^See more help with --help\.?$/.test(part))
      .reduce((line, part) => (line === '' ? part : `${line}${line.endsWith(':') ? ' ' : ': '}${part}`), ''),
  )
}

/** oclif's whole parser message (every line but its help pointer), for the --json envelope. */
export function parseErrorDetail(message: string): string {
  return message
    .split('\n')
    .map((part) => escapeControls(part.trimEnd()))
    .filter((part) => part.trim() !== '' && !/^See more help with --help\.?$/.test(part.trim()))
    .join('\n')
}
