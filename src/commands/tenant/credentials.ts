import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { parseGrace, tenantCredentials, type Credentials } from '../../core/tenant-access.js'
import { redactAll, rememberSecret } from '../../db/redact.js'

export default class TenantCredentials extends JanuaCommand {
  static summary = 'Create or rotate the login role of a schema or database tenant; print its connection string once.'
  static description = `The tenant's own login role reaches only its placement (CONNECT on its database, USAGE on its schema, the templates' table grants), defaults search_path to its schema and app.current_tenant to its id, and is NOBYPASSRLS. The password is random, sent to the server only as a SCRAM-SHA-256 verifier, printed once (or written with mode 0600 to --output-file) and never stored by janua. --rotate switches to the tenant's other login role with a new password; the old one stays valid for --grace.`
  static examples = [
    '<%= config.bin %> tenant credentials acme',
    '<%= config.bin %> tenant credentials acme --rotate --grace 1h',
    '<%= config.bin %> tenant credentials acme --rotate --output-file ./acme.url',
  ]
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }
  static flags = {
    rotate: Flags.boolean({ summary: 'new password on the other login role; the old one stays valid for --grace' }),
    grace: Flags.string({ summary: 'how long the old password stays valid after --rotate: milliseconds or 30s, 2m, 1h, 7d (default 1h)', helpValue: '1h' }),
    'output-file': Flags.string({ summary: 'write the connection string to this file (mode 0600) and print only its path' }),
  }

  async run(): Promise<Credentials> {
    const { args, flags } = await this.parse(TenantCredentials)
    const graceMs = parseGrace(flags.grace)
    const janua = await this.open(flags)
    const result = await tenantCredentials(janua, args.slug, { rotate: flags.rotate, graceMs, outputFile: flags['output-file'] })
    if (!this.jsonEnabled()) {
      this.say(`${result.rotated ? 'rotated' : 'created'} login role ${result.role} of ${result.slug} (${result.server}/${result.database}/${result.schema})`)
      if (result.previous) this.say(`the previous login role ${result.previous.role} stays valid until ${result.previous.validUntil}`)
      if (result.outputFile) this.say(`connection string written to ${result.outputFile} (mode 0600)`)
      // The one print of the password: written as it is, then remembered so that nothing after shows it.
      else process.stdout.write(`${result.connectionString}\n`)
      this.forget(result)
    }
    return result
  }

  /** The one JSON document, with the password and connection string as they are (every other string redacted). */
  logJson(json: unknown): void {
    const secret = new Set(['password', 'connectionString'])
    process.stdout.write(`${JSON.stringify(json, (key, value: unknown) => (typeof value === 'string' && !secret.has(key) ? redactAll(value) : value), 2)}\n`)
    this.forget(json as Credentials)
  }

  private forget(result: Credentials): void {
    if (result?.password) rememberSecret(result.password)
  }
}
