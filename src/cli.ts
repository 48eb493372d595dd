#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { InputError, errorMessage } from './util/errors.js';
import { registerForecastCommands } from './commands/forecast-commands.js';
import { registerBacktestCommands } from './commands/backtest-commands.js';
import { registerServeCommands } from './commands/serve-commands.js';
import { registerCertsCommand } from './commands/certs-command.js';

/** The one place that wires the program together; every subcommand lives in src/commands. */
export function buildProgram(): Command {
  const program = new Command('prescale')
    .description('Predictive autoscaler for Lambda provisioned concurrency and OpenKruise CloneSets')
    .version(process.env.npm_package_version ?? '0.1.0')
    .exitOverride();
  registerForecastCommands(program);
  registerBacktestCommands(program);
  registerServeCommands(program);
  registerCertsCommand(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err: unknown) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof InputError) {
      process.stderr.write(`prescale: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`prescale: ${errorMessage(err)}\n${err instanceof Error && err.stack ? err.stack + '\n' : ''}`);
    process.exitCode = 1;
  }
}

await main(process.argv);
