// The backend name rule, in one place. A backend's name becomes its Pod's and Service's name, a label
// value and a path segment under /p/: it must be a DNS-1035 label (lowercase letters, digits and '-',
// starting with a letter, ending with a letter or digit) of at most 63 characters. A generateName prefix
// must leave room for the 5 random characters the API server appends.

export const MAX_NAME_LENGTH = 63;
export const GENERATED_SUFFIX_LENGTH = 5;
export const MAX_GENERATE_NAME_LENGTH = MAX_NAME_LENGTH - GENERATED_SUFFIX_LENGTH; // 58

export const BACKEND_NAME_PATTERN = new RegExp(`^[a-z]([-a-z0-9]{0,${MAX_NAME_LENGTH - 2}}[a-z0-9])?$`);
// The prefix plus 5 characters from [a-z0-9] is then a valid name.
export const GENERATE_NAME_PATTERN = new RegExp(`^[a-z][-a-z0-9]{0,${MAX_GENERATE_NAME_LENGTH - 1}}$`);

export const NAME_RULE =
  `lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most ${MAX_NAME_LENGTH} characters (a DNS-1035 label)`;
export const GENERATE_NAME_RULE =
  `lowercase letters, digits and '-', starting with a letter, at most ${MAX_GENERATE_NAME_LENGTH} characters (the API server appends ${GENERATED_SUFFIX_LENGTH})`;

export function isBackendName(name: string): boolean {
  return BACKEND_NAME_PATTERN.test(name);
}

export function isGenerateNamePrefix(prefix: string): boolean {
  return GENERATE_NAME_PATTERN.test(prefix);
}
