// Shell completion scripts, generated from the same command and flag specs as the parser and --help,
// so they cannot drift. Backend names are completed by asking the cluster (`spawner get -o name`).
import type { CommandSpec, FlagSpec } from './args.ts';

const NAME_COMMANDS = ['get', 'list', 'ls', 'wait', 'delete', 'rm'];

function flagWords(flags: readonly FlagSpec[]): string {
  return flags.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]).join(' ');
}

function valueCases(commands: readonly CommandSpec[], globalFlags: readonly FlagSpec[]): string {
  const seen = new Map<string, string>();
  for (const f of [...globalFlags, ...commands.flatMap((c) => c.flags)]) {
    if (f.kind === 'bool') continue;
    const words = [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])].join('|');
    const action = f.allowed
      ? `COMPREPLY=($(compgen -W "${f.allowed.join(' ')}" -- "$cur"))`
      : f.long === 'filename' || f.long === 'kubeconfig'
        ? 'COMPREPLY=($(compgen -f -- "$cur"))'
        : 'COMPREPLY=()';
    if (!seen.has(words)) seen.set(words, `      ${words}) ${action}; return ;;`);
  }
  return [...seen.values()].join('\n');
}

export function bashCompletion(commands: readonly CommandSpec[], globalFlags: readonly FlagSpec[]): string {
  const names = commands.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
  const perCommand = commands
    .map((c) => `    ${[c.name, ...(c.aliases ?? [])].join('|')}) flags="${flagWords(c.flags)} ${flagWords(globalFlags)} --help" ;;`)
    .join('\n');
  return `# bash completion for spawner; load with: source <(spawner completion bash)
_spawner() {
  local cur prev cmd i flags
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$prev" in
${valueCases(commands, globalFlags)}
  esac
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${names.join(' ')} help ${flagWords(globalFlags)}" -- "$cur"))
    return
  fi
  case "$cmd" in
${perCommand}
    *) flags="" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ "$cmd" == "completion" ]]; then
    COMPREPLY=($(compgen -W "bash zsh" -- "$cur"))
  elif [[ " ${NAME_COMMANDS.join(' ')} " == *" $cmd "* ]]; then
    local names
    names="$(spawner get -o name 2>/dev/null | sed 's|.*/||')"
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
  fi
}
complete -F _spawner spawner
`;
}

// zsh runs the bash function through its bashcompinit layer: one script to maintain.
export function zshCompletion(commands: readonly CommandSpec[], globalFlags: readonly FlagSpec[]): string {
  return `#compdef spawner
# zsh completion for spawner; load with: source <(spawner completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(commands, globalFlags).replace(/^# bash completion.*\n/, '')}`;
}
