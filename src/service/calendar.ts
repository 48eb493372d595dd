import type { Actuator } from '../actuators/actuator.js';
import type { TargetConfig } from '../config/schema.js';
import { defaultCalendarMode } from '../events/calendar-model.js';
import { neutralise, withEvents, type CalendarForecaster } from '../events/event-forecaster.js';
import { loadEventsFile, type CalendarEvent } from '../events/events.js';
import { learnUplift, margins, peakMultiplier, type UpliftProfile } from '../events/uplift.js';
import type { Forecaster } from '../forecast/forecaster.js';
import { log } from '../obs/log.js';
import type { EventFloor } from '../plan/planner.js';
import { endMs, sliceByTime, type Series } from '../series/series.js';
import { InputError, errorMessage } from '../util/errors.js';
import type { LoadedModel } from './model-provider.js';

/**
 * A target's known events in the live service, from its inline `events` and its `eventsFile`. Every one is a
 * planner floor when it has `multiplier` or `minCapacity`; the tagged ones are also the calendar the forecast
 * learns each tag's uplift from (src/events) and lifts coming events by. An inline event without a tag is a
 * floor only: with no tag there is nothing to learn from or to apply.
 */
export interface TargetEvent {
  readonly name: string;
  readonly startMs: number;
  /** Exclusive. */
  readonly endMs: number;
  readonly tag?: string;
  readonly multiplier?: number;
  readonly minCapacity?: number;
  /** A floor per kind of capacity instead of `minCapacity` (a backtest scenario's minPods and minProvisionedConcurrency). */
  readonly minCapacityByKind?: Partial<Record<Actuator['kind'], number>>;
}

export function inlineEvents(t: TargetConfig): TargetEvent[] {
  return t.events.map((e) => ({
    name: e.name,
    startMs: Date.parse(e.start),
    endMs: Date.parse(e.end),
    ...(e.tag !== undefined ? { tag: e.tag } : {}),
    ...(e.multiplier !== undefined ? { multiplier: e.multiplier } : {}),
    ...(e.minCapacity !== undefined ? { minCapacity: e.minCapacity } : {}),
  }));
}

/**
 * The inline events and those of `eventsFile`, read once; a bad file is an InputError that names the config
 * key (`key`, e.g. `targets[0].eventsFile`), then the file and line as the calendar loader does.
 */
export function loadTargetEvents(t: TargetConfig, key: string): TargetEvent[] {
  if (t.eventsFile === undefined) return inlineEvents(t);
  try {
    return [...inlineEvents(t), ...loadEventsFile(t.eventsFile)];
  } catch (err: unknown) {
    throw new InputError(`${key}: ${errorMessage(err)}`, { cause: err });
  }
}

/** The events as planner floors for one kind of capacity. */
export function eventFloors(events: readonly TargetEvent[], kind: Actuator['kind']): EventFloor[] {
  return events.map((e) => ({ name: e.name, startMs: e.startMs, endMs: e.endMs, minCapacity: e.minCapacityByKind?.[kind] ?? e.minCapacity, multiplier: e.multiplier }));
}

/**
 * The calendar of one target in the service. The forecaster the service predicts with is the current model
 * wrapped by `withEvents`, with profiles learned from the history the first forecast after a model load or a
 * retrain sees; the model itself stays as loaded or trained (that is what is saved and scored).
 */
export class TargetCalendar {
  /** The tagged events: what withEvents learns from and lifts. */
  readonly events: readonly CalendarEvent[];
  /** Every known event widened by the margins: the quality gate does not judge steps in them or a day after them. */
  readonly windows: readonly { readonly startMs: number; readonly endMs: number }[];
  private wrapped: { model: LoadedModel; forecaster: CalendarForecaster; profiles: ReadonlyMap<string, UpliftProfile> } | undefined;

  constructor(
    private readonly target: string,
    known: readonly TargetEvent[],
  ) {
    this.events = known.filter((e): e is CalendarEvent => e.tag !== undefined);
    // How far before and after an event the load may move: the uplift's default margins.
    const { before, after } = margins();
    this.windows = known.map((e) => ({ startMs: e.startMs - before, endMs: e.endMs + after }));
  }

  /**
   * Whether a retrain of `method` takes the calendar as inputs (the LSTM, when there are tagged events): it is then
   * trained on the raw history and not wrapped (src/events/calendar-model.ts, `defaultCalendarMode`).
   */
  takesInputs(method: string): boolean {
    return this.events.length > 0 && defaultCalendarMode(method) === 'inputs';
  }

  /**
   * The model as it forecasts with this calendar, for scoring on the raw history: an LSTM with calendar inputs gets
   * the calendar; any other model is wrapped by withEvents with the uplift learned from the history before
   * `learnUntilMs` (so the scored day does not teach it its own promos).
   */
  calendarAware(model: LoadedModel, history: Series, learnUntilMs: number): LoadedModel {
    if (this.handedCalendar(model.forecaster) || this.events.length === 0) return model;
    return { ...model, forecaster: this.wrap(model.forecaster, learnUplift(sliceByTime(history, history.startMs, learnUntilMs), this.events)) };
  }

  /**
   * An LSTM trained with calendar inputs (train --calendar-mode inputs) reads the calendar itself: it gets the
   * target's whole calendar (coming events included) and is not wrapped, or the uplift would count twice. True
   * when `f` is one (and now has the calendar).
   */
  private handedCalendar(f: Forecaster): boolean {
    const inputs = f.calendarInputs;
    if (!inputs) return false;
    inputs.setEvents(this.events);
    return true;
  }

  /** `inner` (fitted) lifted by `profiles` over this calendar's events. */
  private wrap(inner: Forecaster, profiles: ReadonlyMap<string, UpliftProfile>): CalendarForecaster {
    return withEvents(inner, { events: this.events, profiles, innerFitted: true });
  }

  /** History with every calendar event window replaced by the load a day earlier: what the inner model is trained and scored on. */
  neutralise(history: Series): Series {
    return this.events.length > 0 ? neutralise(history, this.events) : history;
  }

  /**
   * The model wrapped with the calendar, or undefined without tagged events. Profiles are learned from
   * `context` (the history at the model's step) when the model changed or after `forget`; a model trained
   * offline on history with promos in it still works: its context is neutralised before it sees it.
   */
  forecasterFor(model: LoadedModel, context: Series): CalendarForecaster | undefined {
    if (this.handedCalendar(model.forecaster) || this.events.length === 0) return undefined;
    if (this.wrapped?.model !== model) {
      const profiles = learnUplift(context, this.events);
      this.wrapped = { model, profiles, forecaster: this.wrap(model.forecaster, profiles) };
      this.logLearned(profiles, context);
    }
    return this.wrapped.forecaster;
  }

  /**
   * The quality gate's seasonal baseline (unfitted) with the same calendar and profiles, so acting on it keeps
   * the uplift; undefined without a calendar in use.
   */
  wrapBaseline(baseline: Forecaster): CalendarForecaster | undefined {
    const profiles = this.wrapped?.profiles;
    return profiles ? withEvents(baseline, { events: this.events, profiles }) : undefined;
  }

  /** The uplift per tag learned for the current model, once a forecast has been made with it. */
  get learned(): ReadonlyMap<string, UpliftProfile> | undefined {
    return this.wrapped?.profiles;
  }

  /** Learn again at the next forecast (after a retrain: more history, maybe newly ended events). */
  forget(): void {
    this.wrapped = undefined;
  }

  private logLearned(profiles: ReadonlyMap<string, UpliftProfile>, context: Series): void {
    for (const p of profiles.values()) log.info({ target: this.target, tag: p.tag, events: p.events, peakP50: peakMultiplier(p) }, 'calendar uplift learned');
    const end = endMs(context);
    const unlearned = [...new Set(this.events.filter((e) => e.endMs > end && !profiles.has(e.tag)).map((e) => e.tag))];
    if (unlearned.length > 0) log.warn({ target: this.target, tags: unlearned }, 'no past events of these tags in the history: their coming events are not lifted');
  }
}
