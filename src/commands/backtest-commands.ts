import type { Command } from 'commander';

/** Placeholder until this group of commands lands. */
export function registerBacktestCommands(_program: Command): void {}
