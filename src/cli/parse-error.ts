/**
 * oclif's parser errors span lines ("Parsing --concurrency \n\tExpected an integer greater than or
 * equal to 1 but received: 0\nSee more help with --help"): one line with the whole reason, without
 * oclif's own help pointer (janua gives its hint).
 */
export function parseErrorLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^See more help with --help\.?$/.test(line))
    .join(': ')
}
