// Option parsing shared by the `tddui` commands. Built on node:util parseArgs (repeatable
// options, `--x=v` and `--x v`, booleans, `--` ending the options, unknown options refused),
// so every command reads its options, answers --help and reports usage errors the same way:
// exit status 0 after --help, 2 on a usage error with the message and the help on stderr.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

const HELP_OPTION = { help: { type: 'boolean', short: 'h', default: false } } as const;

type Config<O extends OptionSpecs> = { args: string[]; options: O & typeof HELP_OPTION; allowPositionals: boolean };

/** What parseArgs gives for these options (plus `help`): typed values and the positionals. */
export type ParsedOptions<O extends OptionSpecs> = ReturnType<typeof parseArgs<Config<O>>>;

export interface ParseSettings {
  /** Whether arguments other than options are accepted (default true). */
  positionals?: boolean;
}

/** Parses argv against the options and -h/--help; a usage error comes back as its message. */
export function parseOptions<const O extends OptionSpecs>(argv: string[], options: O, settings: ParseSettings = {}): ParsedOptions<O> | { error: string } {
  try {
    return parseArgs({ args: argv, options: { ...options, ...HELP_OPTION }, allowPositionals: settings.positionals ?? true }) as ParsedOptions<O>;
  } catch (e) {
    return { error: (e as Error).message };
  }
}

export interface Output {
  write(text: string): unknown;
}

/** One `tddui <name>` command: its help text, its usage errors, its option parsing. */
export class Command {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly io: { stdout: Output; stderr: Output } = process,
  ) {}

  /**
   * The parsed options, or the exit status when the command has nothing more to do:
   * 0 after printing the help (--help, -h), 2 after a usage error.
   */
  parse<const O extends OptionSpecs>(argv: string[], options: O, settings?: ParseSettings): ParsedOptions<O> | number {
    const r = parseOptions(argv, options, settings);
    if ('error' in r) return this.usage(r.error);
    if ((r.values as { help?: boolean }).help) return this.printHelp();
    return r;
  }

  /** The help on stdout; exit status 0. */
  printHelp(): 0 {
    this.io.stdout.write(this.help);
    return 0;
  }

  /** A usage error: the message then the help on stderr; exit status 2. */
  usage(message: string): 2 {
    this.io.stderr.write(`tddui ${this.name}: ${message}\n\n${this.help}`);
    return 2;
  }

  /** An error that the help would not explain (unreadable input, bad value): exit status 2. */
  fail(message: string): 2 {
    this.io.stderr.write(`tddui ${this.name}: ${message}\n`);
    return 2;
  }
}
