import * as Args from '@oclif/core/args'
import { redactAll } from '../../../db/redact.js'
import { JanuaCommand } from '../../../cli/base.js'
import { rotateTenantKey, type TenantKey } from '../../../core/tenant-keys.js'

export default class TenantKeyRotate extends JanuaCommand {
  static summary = "Add a new version of a tenant's data key; older versions stay readable."
  static description = `Needs the master key ($JANUA_MASTER_KEY or $JANUA_MASTER_KEY_FILE). Prints the new version's key, like \`tenant key\`. Data encrypted under older versions stays readable with \`tenant key <slug> --version N\`.`
  static examples = ['<%= config.bin %> tenant key rotate acme', '<%= config.bin %> tenant key rotate acme --json']
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }

  async run(): Promise<TenantKey> {
    const { args, flags } = await this.parse(TenantKeyRotate)
    const janua = await this.open(flags)
    const result = await rotateTenantKey(janua, args.slug)
    if (!this.jsonEnabled()) process.stdout.write(`${result.key}\n`)
    this.say(`version ${result.version} of ${result.slug} (versions: ${result.versions.join(', ')})`)
    return result
  }

  logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, (k, value: unknown) => (typeof value === 'string' && k !== 'key' ? redactAll(value) : value), 2)}
`)
  }
}
