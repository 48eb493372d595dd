import type { CycleObserver } from '../service/service.js';
import type { AuditLog } from './audit.js';
import type { Metrics } from './metrics.js';

/**
 * Connects the service's cycle events to the metrics and the audit log: each snapshot updates the gauges,
 * each decision becomes one audit line, each cycle one histogram observation.
 */
export function observabilityObserver(o: { readonly metrics?: Metrics; readonly audit?: AuditLog }): CycleObserver {
  return {
    onSnapshot: (s) => o.metrics?.recordSnapshot(s),
    onDecision: (d) => o.audit?.write(d),
    onCycle: (seconds) => o.metrics?.observeCycle(seconds),
    onTargetRemoved: (name) => o.metrics?.forgetTarget(name),
  };
}
