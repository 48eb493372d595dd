import { takesCalendarInputs } from '../events/calendar-model.js';
import { disposeForecaster } from '../forecast/forecaster.js';
import { log } from '../obs/log.js';
import { sliceByTime, type Series } from '../series/series.js';
import { DAY_MS, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { LoadedModel, ModelProvider } from './model-provider.js';
import { deadline, type TargetState } from './target-state.js';

export interface LifecycleOptions {
  readonly clock: Clock;
  readonly models: ModelProvider;
  /** How long a retrain may wait for its history read; a hung source must not block every later retrain. */
  readonly historyTimeoutMs?: number;
}

/**
 * The model lifecycle of each target: load the saved model (or train one when there is none), and retrain on a
 * schedule, keeping the new model only when it scores at least as well on the last day.
 *
 * It shares each target's state with the cycle, under the state's lock: the history is read and the model is
 * swapped in with the lock held, while the training between runs without it, on its own copy of the history, so
 * cycles go on with the old model meanwhile.
 */
export class ModelLifecycle {
  constructor(private readonly o: LifecycleOptions) {}

  /** Loads saved models; targets without one are trained from their history. */
  async loadAll(states: readonly TargetState[]): Promise<void> {
    for (const st of states) await this.load(st);
  }

  /** One target's saved model, or a model trained from its history when it has none; never throws. */
  async load(st: TargetState): Promise<void> {
    const t = st.runtime.config;
    try {
      const model = await this.o.models.load(t);
      if (model) {
        await st.exclusive(() => Promise.resolve(st.replaceModel(model)));
        log.info({ target: t.name, kind: model.info.kind }, 'model loaded');
      }
    } catch (err: unknown) {
      log.error({ target: t.name, err: errorMessage(err) }, 'saved model unusable; will train a new one');
    }
    if (!st.model && !st.retired) await this.retrain(st, { replaceOnlyIfBetter: false });
  }

  /** Trains a new model per target and keeps it only if it scores at least as well on the last day. */
  async retrainAll(states: readonly TargetState[]): Promise<void> {
    for (const st of states) await this.retrain(st, { replaceOnlyIfBetter: true });
  }

  /** One target's retrain; never throws (a failure keeps the current model and is logged). */
  async retrain(st: TargetState, opts: { replaceOnlyIfBetter: boolean }): Promise<void> {
    const name = st.name;
    const t = st.runtime.config;
    let kept: LoadedModel | undefined;
    try {
      const now = this.o.clock.now();
      const raw = await this.readHistory(st, now);
      // The LSTM of a target with a calendar takes it as inputs and learns promos from the raw history; any other
      // method learns normal load (events replaced by the day before) and is wrapped with the learned uplift.
      const inputs = st.calendar.takesInputs(t.forecast.model);
      const history = inputs ? raw : st.calendar.neutralise(raw);
      const recentFrom = now - DAY_MS;
      const current = st.model;
      const compare = opts.replaceOnlyIfBetter && current !== undefined;
      // To be compared fairly on the last day, the candidate must not have seen it.
      const candidate = await this.o.models.train(t, compare ? sliceByTime(history, history.startMs, recentFrom) : history, inputs ? { calendar: st.calendar.events } : {});
      if (compare && !this.scoresAtLeastAsWell(st, { candidate, current }, { raw, history, recentFrom, inputs })) {
        disposeForecaster(candidate.forecaster);
        return;
      }
      await st.exclusive(() => Promise.resolve(st.replaceModel(candidate)));
      if (st.retired) return;
      kept = candidate;
      log.info({ target: name, kind: candidate.info.kind }, 'model replaced');
    } catch (err: unknown) {
      log.error({ target: name, err: errorMessage(err) }, 'retrain failed; keeping the current model');
      return;
    }
    try {
      await this.o.models.save(t, kept);
    } catch (err: unknown) {
      // The new model serves from memory; the disk keeps the previous one until a save succeeds.
      log.error({ target: name, err: errorMessage(err) }, 'saving the new model failed; it is used in memory, the previous one stays on disk');
    }
  }

  /** The target's history for training, read under its lock with a time limit; a copy the cycle will not replace. */
  private async readHistory(st: TargetState, now: number): Promise<Series> {
    const { signal, clear } = deadline(this.o.historyTimeoutMs ?? 120_000, `${st.name}: retrain history read`);
    try {
      return await st.exclusive(async () => {
        const history = await st.readHistory(now, signal);
        st.calendar.forget(); // the next forecast learns the uplift again, from the newer history
        return history;
      });
    } finally {
      clear();
    }
  }

  /**
   * Whether the retrained candidate scores at least as well as the current model on the last day (logged). A model
   * that reads the calendar is judged as it forecasts, on the raw history, and then both are; otherwise both are
   * judged on the neutralised history they were trained on.
   */
  private scoresAtLeastAsWell(
    st: TargetState,
    m: { readonly candidate: LoadedModel; readonly current: LoadedModel },
    h: { readonly raw: Series; readonly history: Series; readonly recentFrom: number; readonly inputs: boolean },
  ): boolean {
    const onRaw = h.inputs || takesCalendarInputs(m.current.forecaster);
    const judged = (x: LoadedModel): LoadedModel => (onRaw ? st.calendar.calendarAware(x, h.raw, h.recentFrom) : x);
    const oldScore = this.o.models.score(judged(m.current), onRaw ? h.raw : h.history, h.recentFrom);
    const newScore = this.o.models.score(judged(m.candidate), onRaw ? h.raw : h.history, h.recentFrom);
    log.info({ target: st.name, oldScore, newScore, onRawHistory: onRaw }, 'retrain scored');
    return newScore <= oldScore;
  }
}
