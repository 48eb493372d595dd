import type { Command } from 'commander';

/** Placeholder until this group of commands lands. */
export function registerForecastCommands(_program: Command): void {}
