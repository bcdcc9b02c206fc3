import { JanuaCommand } from '../../../cli/base.js'
import { rewrapTenantKeys } from '../../../core/tenant-keys.js'

export default class TenantKeyRewrap extends JanuaCommand {
  static summary = 'Re-wrap every tenant data key under a new master key ($JANUA_NEW_MASTER_KEY), in one transaction.'
  static description = `Reads the current master key from $JANUA_MASTER_KEY (or $JANUA_MASTER_KEY_FILE) and the new one from $JANUA_NEW_MASTER_KEY. The data keys themselves do not change: data encrypted with them stays readable. A wrong current key exits 2 and changes nothing.`
  static examples = ['JANUA_NEW_MASTER_KEY=$(openssl rand -base64 32) <%= config.bin %> tenant key rewrap']

  async run(): Promise<{ rewrapped: number }> {
    const { flags } = await this.parse(TenantKeyRewrap)
    const janua = await this.open(flags)
    const result = await rewrapTenantKeys(janua)
    this.say(`re-wrapped ${result.rewrapped} key(s): from now on export the new key as JANUA_MASTER_KEY`)
    return result
  }
}
