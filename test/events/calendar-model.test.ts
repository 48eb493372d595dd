import { describe, expect, it } from '@jest/globals';
import { calendarModel, defaultCalendarMode, takesCalendarInputs } from '../../src/events/calendar-model.js';
import type { CalendarEvent } from '../../src/events/events.js';
import { InputError } from '../../src/util/errors.js';

const events: CalendarEvent[] = [{ name: 'sale', tag: 'promo', startMs: Date.UTC(2026, 0, 7, 12), endMs: Date.UTC(2026, 0, 7, 13) }];

describe('calendarModel: how a method is given the calendar', () => {
  it.each([
    ['lstm', undefined, 'inputs', 'lstm', true],
    ['lstm', 'uplift', 'uplift', 'lstm+calendar', false],
    ['holt-winters', undefined, 'uplift', 'holt-winters+calendar', false],
    ['auto', undefined, 'uplift', 'auto+calendar', false],
  ] as const)('%s with mode %s → %s (%s)', (method, mode, want, name, inputs) => {
    const m = calendarModel(method, { events, ...(mode ? { mode } : {}) });
    expect(m.mode).toBe(want);
    expect(m.forecaster.name).toBe(name);
    expect(takesCalendarInputs(m.forecaster)).toBe(inputs);
  });

  it('defaults to the LSTM inputs for the lstm only', () => {
    expect(['lstm', 'holt-winters', 'ensemble', 'auto'].map(defaultCalendarMode)).toEqual(['inputs', 'uplift', 'uplift', 'uplift']);
  });

  it('refuses inputs for a method without them', () => {
    expect(() => calendarModel('naive', { events, mode: 'inputs' })).toThrow(InputError);
    expect(() => calendarModel('naive', { events, mode: 'inputs' })).toThrow('only the lstm takes the calendar as inputs, "naive" given');
  });
});
