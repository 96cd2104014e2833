// The completion scripts are generated; bash itself checks their syntax and runs the function.
import { execFileSync } from 'node:child_process';
import { describe, expect, test } from '@jest/globals';
import { COMMANDS, GLOBAL_FLAGS } from '../src/commands.ts';
import { bashCompletion, zshCompletion } from '../src/completion.ts';

// A stand-in `spawner` on the completion's lookup path: it answers with its own arguments as names.
function complete(words: string[]): string[] {
  const script = `${bashCompletion(COMMANDS, GLOBAL_FLAGS)}
spawner() { printf 'slb/%s\\n' "$@"; }
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_spawner; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', script], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe('bash completion', () => {
  test.each<[string[], string[], string[]]>([
    [['spawner', ''], ['create', 'get', 'wait', 'delete', 'print-crd', 'version', 'completion'], []],
    [['spawner', 'cr'], ['create'], ['get']],
    [['spawner', 'create', '--im'], ['--image'], []],
    [['spawner', 'get', '-o', ''], ['wide', 'json', 'yaml', 'name'], []],
    [['spawner', 'create', '-o', ''], ['json', 'yaml', 'name'], ['wide']],
    [['spawner', 'wait', 'x', '--for', ''], ['ready', 'deleted'], []],
    [['spawner', 'completion', ''], ['bash', 'zsh'], []],
    [['spawner', '-n', 'x', 'delete', '--'], ['--wait', '--namespace', '--ignore-not-found'], ['--image']],
  ])('%j', (words, present, absent) => {
    const got = complete(words);
    for (const w of present) expect(got).toContain(w);
    for (const w of absent) expect(got).not.toContain(w);
  });

  test.each<[string[], string[]]>([
    [['spawner', 'wait', ''], ['get', '-o', 'name']],
    [['spawner', 'wait', '-n', 'team', ''], ['get', '-o', 'name', '-n', 'team']],
    [['spawner', '--namespace=team', 'delete', 'x', ''], ['get', '-o', 'name', '-n', 'team']],
  ])('names are looked up in the namespace of the line: %j', (words, lookup) => {
    expect(complete(words).sort()).toEqual([...lookup].sort());
  });

  test('zsh wraps the same function', () => {
    const z = zshCompletion(COMMANDS, GLOBAL_FLAGS);
    expect(z.startsWith('#compdef spawner\n')).toBe(true);
    expect(z).toContain('bashcompinit');
    expect(z).toContain('complete -F _spawner spawner');
  });
});
