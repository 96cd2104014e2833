// Shell completion scripts, generated from the same command and flag specs as the parser and --help,
// so they cannot drift. Backend names are completed by asking the cluster (`spawner get -o name`).
import type { CommandSpec, FlagSpec } from './args.ts';

const NAME_COMMANDS = ['get', 'list', 'ls', 'wait', 'delete', 'rm'];

function flagWords(flags: readonly FlagSpec[]): string {
  return flags.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]).join(' ');
}

function valueAction(f: FlagSpec): string {
  if (f.allowed) return `COMPREPLY=($(compgen -W "${f.allowed.join(' ')}" -- "$cur"))`;
  if (f.long === 'filename' || f.long === 'kubeconfig') return 'COMPREPLY=($(compgen -f -- "$cur"))';
  return 'COMPREPLY=()';
}

const spellings = (f: FlagSpec) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])];

// Cases on "COMMAND PREVIOUS-WORD": -o takes other values for create than for get.
function valueCases(commands: readonly CommandSpec[], globalFlags: readonly FlagSpec[]): string {
  const lines: string[] = [];
  for (const c of commands) {
    for (const f of c.flags.filter((x) => x.kind !== 'bool')) {
      const patterns = [c.name, ...(c.aliases ?? [])].flatMap((n) => spellings(f).map((sp) => `"${n} ${sp}"`));
      lines.push(`    ${patterns.join('|')}) ${valueAction(f)}; return ;;`);
    }
  }
  for (const f of globalFlags.filter((x) => x.kind !== 'bool')) {
    lines.push(`    ${spellings(f).map((sp) => `*" ${sp}"`).join('|')}) ${valueAction(f)}; return ;;`);
  }
  return lines.join('\n');
}

// Flags whose next word is their value, not the command.
function valueFlags(commands: readonly CommandSpec[], globalFlags: readonly FlagSpec[]): string {
  const all = [...globalFlags, ...commands.flatMap((c) => c.flags)].filter((f) => f.kind !== 'bool');
  return [...new Set(all.flatMap(spellings))].join(' ');
}

export function bashCompletion(commands: readonly CommandSpec[], globalFlags: readonly FlagSpec[]): string {
  const names = commands.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
  const perCommand = commands
    .map((c) => `    ${[c.name, ...(c.aliases ?? [])].join('|')}) flags="${flagWords(c.flags)} ${flagWords(globalFlags)} --help" ;;`)
    .join('\n');
  return `# bash completion for spawner; load with: source <(spawner completion bash)
_spawner() {
  local cur prev cmd i w flags ns=
  local value_flags=" ${valueFlags(commands, globalFlags)} "
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      -n|--namespace) ns="\${COMP_WORDS[i+1]}"; ((i++)) ;;
      --namespace=*) ns="\${w#--namespace=}" ;;
      -*) [[ "$value_flags" == *" $w "* ]] && ((i++)) ;;
      *) [[ -z "$cmd" ]] && cmd="$w" ;;
    esac
  done
  case "$cmd $prev" in
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
    names="$(spawner get -o name \${ns:+-n "$ns"} 2>/dev/null | sed 's|.*/||')"
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
