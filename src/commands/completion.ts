import * as Args from '@oclif/core/args'
import { JanuaCommand } from '../cli/base.js'
import { bashCompletion, fishCompletion } from '../cli/completion.js'

export default class Completion extends JanuaCommand {
  static summary = 'Print a shell completion script (fish or bash): static, so it needs no `npm link`.'
  static description = `Works for janua on the PATH or for a shell alias named janua (alias janua="node /path/to/janua/bin/run.js"). fish: janua completion fish > ~/.config/fish/completions/janua.fish. bash: add source <(janua completion bash) to ~/.bashrc. zsh and PowerShell: janua autocomplete.`
  static examples = ['<%= config.bin %> completion fish > ~/.config/fish/completions/janua.fish', 'source <(<%= config.bin %> completion bash)']
  static args = { shell: Args.string({ description: 'the shell', options: ['fish', 'bash'], required: true }) }

  async run(): Promise<{ shell: string; script: string }> {
    const { args } = await this.parse(Completion)
    const commands = this.config.commands
      .filter((c) => !c.hidden)
      .map((c) => ({ id: c.id, summary: c.summary, flags: Object.entries(c.flags).map(([name, f]) => ({ name, char: f.char, summary: f.summary })) }))
    const script = args.shell === 'fish' ? fishCompletion(this.config.bin, commands) : bashCompletion(this.config.bin, commands)
    if (!this.jsonEnabled()) process.stdout.write(script)
    return { shell: args.shell, script }
  }
}
