import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { redactAll } from '../../db/redact.js'
import { JanuaCommand } from '../../cli/base.js'
import { showTenantKey, type TenantKey } from '../../core/tenant-keys.js'

export default class TenantKeyShow extends JanuaCommand {
  static summary = "Print a tenant's data key (unwrapped with the master key), for the application's secret store."
  static description = `Per-tenant data keys are stored in the control plane only wrapped (AES-256-GCM) under the master key from $JANUA_MASTER_KEY or the file named by $JANUA_MASTER_KEY_FILE. Prints the newest version (or --version N) as base64. A wrong master key exits 2 and changes nothing. See also: tenant key rotate, tenant key rewrap.`
  static examples = ['<%= config.bin %> tenant key acme', '<%= config.bin %> tenant key acme --version 1 --json']
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }
  static flags = { version: Flags.integer({ summary: 'the key version to print (default: the newest)' }) }

  async run(): Promise<TenantKey> {
    const { args, flags } = await this.parse(TenantKeyShow)
    const janua = await this.open(flags)
    const result = await showTenantKey(janua, args.slug, { version: flags.version })
    if (!this.jsonEnabled()) process.stdout.write(`${result.key}\n`)
    this.say(`version ${result.version} of ${result.slug} (versions: ${result.versions.join(', ')})`)
    return result
  }

  /** The key itself is the output: every other string goes through the last redaction pass. */
  logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, (k, value: unknown) => (typeof value === 'string' && k !== 'key' ? redactAll(value) : value), 2)}
`)
  }
}
