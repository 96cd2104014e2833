// The backend name rule, in one place: the TypeScript check the CLI and the HTTP API run, and the CEL
// rules the CRD carries (schema/generate.ts writes them into the CRD), both built from the constants
// below, so they cannot drift (schema/test/names.test.ts evaluates both on one table of names).
//
// A backend's name becomes its Pod's name, a label value and a path segment under /p/ (and, while the
// operator still creates one, its Service's name): it must be a DNS-1035 label (lowercase letters,
// digits and '-', starting with a letter, ending with a letter or digit) of at most 63 characters. A
// generateName prefix must leave room for the 5 random characters the API server appends (it would
// otherwise truncate the prefix silently).

export const MAX_NAME_LENGTH = 63;
export const GENERATED_SUFFIX_LENGTH = 5;
export const MAX_GENERATE_NAME_LENGTH = MAX_NAME_LENGTH - GENERATED_SUFFIX_LENGTH; // 58

// RE2 and ECMAScript read these alike (no lookarounds, no backreferences).
const NAME_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
// The prefix plus characters from [a-z0-9] is then a valid name.
const GENERATE_NAME_PATTERN = '^[a-z][-a-z0-9]*$';

export const NAME_RULE =
  `lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most ${MAX_NAME_LENGTH} characters (a DNS-1035 label)`;
export const GENERATE_NAME_RULE =
  `lowercase letters, digits and '-', starting with a letter, at most ${MAX_GENERATE_NAME_LENGTH} characters (the API server appends ${GENERATED_SUFFIX_LENGTH})`;

const nameRe = new RegExp(NAME_PATTERN);
const generateNameRe = new RegExp(GENERATE_NAME_PATTERN);

export function isBackendName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && nameRe.test(name);
}

export function isGenerateNamePrefix(prefix: string): boolean {
  return prefix.length <= MAX_GENERATE_NAME_LENGTH && generateNameRe.test(prefix);
}

// What admission says, naming the field, the rule and what to do. The message names the field itself:
// a CEL rule's fieldPath cannot point into metadata (the API server refuses the CRD).
export const NAME_MESSAGE =
  `metadata.name must be ${NAME_RULE}: it becomes the name of the backend's Pod, a label value and a URL path segment; choose such a name`;
export const GENERATE_NAME_MESSAGE =
  `metadata.generateName must be ${GENERATE_NAME_RULE}, so that the generated name is valid: shorten or fix the prefix`;

export interface CelRule {
  rule: string;
  message: string;
  // Evaluated on create (oldSelf absent) and skipped on updates: a name cannot change, and an object
  // stored before the rule existed must still take status writes and lose its finalizer.
  optionalOldSelf: boolean;
}

const quoted = (pattern: string) => `'${pattern}'`;

// Root-level rules: CEL sees metadata.name and metadata.generateName there, and nothing else of metadata.
export const NAME_CEL_RULES: CelRule[] = [
  {
    rule:
      `oldSelf.hasValue() || !has(self.metadata.name) || ` +
      `(size(self.metadata.name) <= ${MAX_NAME_LENGTH} && self.metadata.name.matches(${quoted(NAME_PATTERN)}))`,
    message: NAME_MESSAGE,
    optionalOldSelf: true,
  },
  {
    rule:
      `oldSelf.hasValue() || !has(self.metadata.generateName) || self.metadata.generateName == '' || ` +
      `(size(self.metadata.generateName) <= ${MAX_GENERATE_NAME_LENGTH} && self.metadata.generateName.matches(${quoted(GENERATE_NAME_PATTERN)}))`,
    message: GENERATE_NAME_MESSAGE,
    optionalOldSelf: true,
  },
];
