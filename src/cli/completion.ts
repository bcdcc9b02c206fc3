/** The commands and flags a completion script offers: read from oclif's manifest, no janua run at completion time. */
export interface CompletionCommand {
  id: string
  summary?: string
  flags: { name: string; char?: string; summary?: string }[]
}

const words = (id: string) => id.split(':')
const clean = (t: string | undefined) => (t ?? '').split('\n')[0]!.replaceAll("'", '').slice(0, 80)

/**
 * A fish completion script: subcommands after their topic, each command's flags after it. Static
 * (generated from the command list), so it works for `janua` on the PATH, a shell alias or function
 * named janua (e.g. `alias janua "node /path/to/janua/bin/run.js"`), with no `npm link`.
 */
export function fishCompletion(bin: string, commands: readonly CompletionCommand[]): string {
  const lines = [`# fish completion for ${bin}: ${bin} completion fish > ~/.config/fish/completions/${bin}.fish`, `complete -c ${bin} -f`]
  const topics = [...new Set(commands.map((c) => words(c.id)[0]!))].sort()
  lines.push(`complete -c ${bin} -n '__fish_use_subcommand' -a '${topics.join(' ')}'`)
  for (const topic of topics) {
    const subs = commands.filter((c) => words(c.id).length === 2 && words(c.id)[0] === topic)
    for (const c of subs)
      lines.push(
        `complete -c ${bin} -n '__fish_seen_subcommand_from ${topic}; and not __fish_seen_subcommand_from ${subs.map((s) => words(s.id)[1]).join(' ')}' -a '${words(c.id)[1]}' -d '${clean(c.summary)}'`,
      )
  }
  for (const c of commands) {
    const w = words(c.id)
    const cond = w.length === 1 ? `__fish_seen_subcommand_from ${w[0]}` : `__fish_seen_subcommand_from ${w[0]}; and __fish_seen_subcommand_from ${w[1]}`
    for (const f of c.flags) lines.push(`complete -c ${bin} -n '${cond}' -l ${f.name}${f.char ? ` -s ${f.char}` : ''} -d '${clean(f.summary)}'`)
  }
  return `${lines.join('\n')}\n`
}

/** A bash completion script, static like the fish one: `source <(janua completion bash)` in ~/.bashrc. */
export function bashCompletion(bin: string, commands: readonly CompletionCommand[]): string {
  const fn = `_${bin.replace(/[^A-Za-z0-9_]/g, '_')}_complete`
  const cases = commands.map((c) => `    "${words(c.id).join(' ')}") opts="${c.flags.map((f) => `--${f.name}`).join(' ')}" ;;`)
  const topics = [...new Set(commands.map((c) => words(c.id)[0]!))].sort()
  const subs = topics.map(
    (t) =>
      `    "${t}") opts="${commands
        .filter((c) => words(c.id)[0] === t && words(c.id).length === 2)
        .map((c) => words(c.id)[1])
        .join(' ')}" ;;`,
  )
  return `# bash completion for ${bin}: source <(${bin} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" opts=""
  local words=("\${COMP_WORDS[@]:1:COMP_CWORD-1}")
  local nonflag=() w
  for w in "\${words[@]}"; do [[ $w == -* ]] || nonflag+=("$w"); done
  if [[ \${#nonflag[@]} -eq 0 ]]; then
    opts="${topics.join(' ')}"
  else
    case "\${nonflag[*]:0:2}" in
${cases.join('\n')}
      *)
        case "\${nonflag[0]}" in
${subs.join('\n')}
        esac ;;
    esac
    [[ \${#nonflag[@]} -eq 1 && -n "$opts" && $cur != -* ]] || true
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F ${fn} ${bin}
`
}
