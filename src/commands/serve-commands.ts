import type { Command } from 'commander';

/** Placeholder until this group of commands lands. */
export function registerServeCommands(_program: Command): void {}
