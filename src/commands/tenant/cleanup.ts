import * as Args from '@oclif/core/args'
import { JanuaCommand } from '../../cli/base.js'
import { cleanupLeftovers } from '../../core/tenants.js'
import type { CleanupReport } from '../../core/leftovers.js'
import { describePlacement } from '../../core/placement.js'

export default class TenantCleanup extends JanuaCommand {
  static summary = 'Remove what an aborted move left at its target, and sources kept by --keep-source.'
  static description = `Only what janua recorded is removed (listed by \`tenant inspect\`, \`db status\` and \`db verify\`): the target database, schema or rows of a move that was aborted while its server was down, and a source kept by \`tenant move --keep-source\`. The tenant's live placement is never touched. Works for a tenant dropped since. Exit 1 when something is still unreachable: run it again once the server is back.`
  static examples = ['<%= config.bin %> tenant cleanup acme', '<%= config.bin %> tenant cleanup acme --json']
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }

  async run(): Promise<CleanupReport & { ok: boolean }> {
    const { args, flags } = await this.parse(TenantCleanup)
    const janua = await this.open(flags)
    const result = await cleanupLeftovers(janua, args.slug)
    if (!result.removed.length) this.say(`nothing to clean up for ${result.tenant}`)
    for (const l of result.removed) this.say(`removed ${l.kind} ${l.what} ${describePlacement(l.placement)}`)
    return { ...result, ok: result.remaining.length === 0 }
  }
}
