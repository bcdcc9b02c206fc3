import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { lockTimeoutFlag } from '../../cli/lock-timeout.js'
import { canPrompt, confirmBySlug } from '../../cli/prompts.js'
import { JanuaError, NOT_FOUND, usageError } from '../../core/errors.js'
import { describePlacement } from '../../core/placement.js'
import { dropTenant, type DropResult } from '../../core/tenants.js'
import { validateSlug } from '../../sql/ident.js'

export default class TenantDrop extends JanuaCommand {
  static summary = 'Remove a tenant: its rows, schema or database, and its control-plane entry (the audit log is kept).'
  static description = 'On a terminal it asks you to type the slug; elsewhere it needs --yes.'
  static examples = ['<%= config.bin %> tenant drop acme', '<%= config.bin %> tenant drop acme --yes --json', '<%= config.bin %> tenant drop ci-42 --yes --if-exists']
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }
  static flags = {
    yes: Flags.boolean({ char: 'y', summary: 'do not ask for confirmation' }),
    'if-exists': Flags.boolean({ summary: 'a tenant that does not exist is not an error (exit 0, "dropped": false): for CI teardown' }),
    'lock-timeout': lockTimeoutFlag(),
  }

  async run(): Promise<(DropResult & { ok: boolean }) | { slug: string; dropped: false; ok: true }> {
    const { args, flags } = await this.parse(TenantDrop)
    validateSlug(args.slug)
    let confirmed = flags.yes
    if (!confirmed) {
      if (!canPrompt() || this.jsonEnabled()) throw usageError(`dropping tenant "${args.slug}" needs confirmation`, 'pass --yes')
      confirmed = await confirmBySlug(args.slug)
      if (!confirmed) throw usageError('the slug typed did not match; nothing was dropped')
    }
    const janua = await this.open(flags)
    let result: DropResult
    try {
      result = await dropTenant(janua, args.slug, { confirmed })
    } catch (error) {
      if (!(flags['if-exists'] && error instanceof JanuaError && error.code === NOT_FOUND)) throw error
      this.say(`no tenant ${args.slug}; nothing to drop`)
      return { slug: args.slug, dropped: false, ok: true }
    }
    this.say(`dropped tenant ${result.slug} (${result.isolation})`)
    for (const w of result.warnings) this.warnLine(w)
    for (const l of result.leftovers) {
      this.warnLine(
        `could not remove the ${l.kind} ${l.what} ${describePlacement(l.placement)}: ${l.error}`,
        `once ${l.placement.server} is reachable: janua tenant cleanup ${result.slug}`,
      )
    }
    return { ...result, ok: result.leftovers.length === 0 }
  }
}
