import { formatBytes } from '../cli/output.js'
import type { ExportEvent } from '../core/archive/export.js'
import type { ImportEvent } from '../core/archive/import.js'
import type { ProgressMode } from './fleet.js'

/** Export / import progress: one line redrawn on a TTY (table n of m, bytes so far); nothing elsewhere. */
export function archiveProgress(mode: ProgressMode): { onEvent?: (e: ExportEvent | ImportEvent) => void; finish(): void } {
  if (mode !== 'tty') return { finish: () => undefined }
  let last = 0
  let drawn = false
  const draw = (text: string) => {
    process.stderr.write(`\r\u001b[2K${text}`)
    drawn = true
  }
  let table = ''
  return {
    onEvent(e) {
      if (e.type === 'table' || e.type === 'copy') {
        table = `${e.type === 'copy' ? 'importing' : 'exporting'} ${e.table} (${e.index + 1}/${e.total})`
        draw(table)
      } else if (e.type === 'verify') {
        draw(`verifying ${e.table}`)
      } else if (Date.now() - last > 100) {
        last = Date.now()
        draw(`${table} ${formatBytes(e.bytes)}`)
      }
    },
    finish() {
      if (drawn) process.stderr.write('\r\u001b[2K')
    },
  }
}
