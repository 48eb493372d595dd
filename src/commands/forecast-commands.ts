import type { Command } from 'commander';
import { registerEvaluateCommand } from './evaluate-command.js';
import { registerTrainCommands } from './train-command.js';

/** The forecasting commands: evaluate (protocol v1); train and forecast join here. */
export function registerForecastCommands(program: Command): void {
  registerEvaluateCommand(program);
  registerTrainCommands(program);
}
