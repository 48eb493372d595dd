import type { CalendarInputs, Forecaster } from '../forecast/forecaster.js';
import { createForecaster, type ForecasterOptions, type MethodName } from '../forecast/registry.js';
import { InputError } from '../util/errors.js';
import { withEvents, type CalendarForecaster } from './event-forecaster.js';
import type { CalendarEvent } from './events.js';
import { peakMultiplier } from './uplift.js';

/**
 * How a forecasting method is given the promo calendar:
 * - `uplift`: `withEvents` — the method forecasts the normal load (fitted on the history with event windows
 *   replaced by the day before) and the uplift learned per tag multiplies the steps of known events;
 * - `inputs`: the LSTM takes the calendar as known-future inputs (LstmOptions.events) and is fitted on the raw
 *   history: it learns the uplift itself. The LSTM only.
 */
export const CALENDAR_MODES = ['uplift', 'inputs'] as const;
export type CalendarMode = (typeof CALENDAR_MODES)[number];

/**
 * The mode when none is asked for: `inputs` for the LSTM, `uplift` for every other method (they have no inputs to
 * take it). Chosen on bench:events, seeds 1–6: inside the held-out promo the LSTM with calendar inputs had the lower
 * MASE on most seeds and the lower cost on all (docs/events.md, "The LSTM's own calendar inputs").
 */
export function defaultCalendarMode(method: string): CalendarMode {
  return method === 'lstm' ? 'inputs' : 'uplift';
}

export function parseCalendarMode(text: string, flag = '--calendar-mode'): CalendarMode {
  if (!(CALENDAR_MODES as readonly string[]).includes(text)) throw new InputError(`${flag} must be one of ${CALENDAR_MODES.join(', ')}, "${text}" given`);
  return text as CalendarMode;
}

/** The `--calendar-mode` flag of a command with `--events`: parsed, undefined when absent; an error without `--events`. */
export function calendarModeFlag(flags: { readonly calendarMode?: string; readonly events?: string }): CalendarMode | undefined {
  if (flags.calendarMode === undefined) return undefined;
  if (flags.events === undefined) throw new InputError('--calendar-mode needs --events');
  return parseCalendarMode(flags.calendarMode);
}

/** An unfitted model of `method` that knows the calendar, and what it learned, for a log line once fitted. */
export interface CalendarModel {
  readonly forecaster: Forecaster;
  readonly mode: CalendarMode;
  /** After `fit`: what the calendar taught the model, in words. */
  learned(): string;
}

/** `method` given the whole calendar (past events to learn from, coming ones to forecast) in `mode`. */
export function calendarModel(method: MethodName, o: ForecasterOptions & { events: readonly CalendarEvent[]; mode?: CalendarMode }): CalendarModel {
  const mode = o.mode ?? defaultCalendarMode(method);
  switch (mode) {
    case 'inputs': {
      if (method !== 'lstm') throw new InputError(`calendar mode "inputs": only the lstm takes the calendar as inputs, "${method}" given (use "uplift")`);
      const f = createForecaster('lstm', { ...o, extra: { ...o.extra, events: o.events } });
      return {
        forecaster: f,
        mode,
        learned: () => {
          const tags = f.calendarInputs?.tags;
          return tags ? `lstm calendar inputs, tags ${tags.length > 0 ? tags.join(', ') : 'none (no past event in the training data)'}` : 'none';
        },
      };
    }
    case 'uplift': {
      const f: CalendarForecaster = withEvents(createForecaster(method, o), { events: o.events });
      return {
        forecaster: f,
        mode,
        learned: () => {
          const learned = [...f.learned.values()].map((p) => `${p.tag} from ${p.events} past events (peak p50 x${peakMultiplier(p).toFixed(2)})`);
          return learned.length > 0 ? learned.join('; ') : 'none (no past event with a day of history before it)';
        },
      };
    }
    default: {
      const never: never = mode;
      throw new Error(`unknown calendar mode ${String(never)}`);
    }
  }
}

/**
 * Whether a fitted or loaded forecaster reads the calendar itself (`Forecaster.calendarInputs`, an LSTM with
 * calendar inputs): it must not be wrapped by withEvents. Hand it the current calendar with
 * `f.calendarInputs.setEvents`. (The narrowed type also has `setEvents` on the forecaster itself, for
 * src/service/calendar.ts, which calls it there: the LSTM, the one kind with calendar inputs, has it.)
 */
export function takesCalendarInputs(f: Forecaster): f is Forecaster & { readonly calendarInputs: CalendarInputs } & Pick<CalendarInputs, 'setEvents'> {
  return f.calendarInputs !== undefined;
}
