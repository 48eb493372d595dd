import type { Command } from 'commander';

/** Placeholder until this group of commands lands. */
export function registerCertsCommand(_program: Command): void {}
