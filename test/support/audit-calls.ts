import { isCallUsed } from '../../src/k8s/rbac.js';
import type { AuditEvent, TestCluster } from './test-cluster.js';

/**
 * Reading the apiserver's audit log for the calls one user made, the way RBAC sees them (verb, API group,
 * resource, subresource), for the checks that prescale calls only what src/k8s/rbac.ts lists and that the
 * deploy RBAC allowed every call.
 */

export interface CallKey {
  readonly apiGroup: string;
  readonly resource: string;
  readonly subresource: string;
  readonly verb: string;
}

export function callOf(e: AuditEvent): CallKey {
  return { apiGroup: e.objectRef?.apiGroup ?? '', resource: e.objectRef?.resource ?? '', subresource: e.objectRef?.subresource ?? '', verb: e.verb };
}

/** `verb group/resource[/subresource]`, the core group written as ''. */
export function callKey(c: CallKey): string {
  return `${c.verb} ${c.apiGroup}/${c.resource}${c.subresource ? `/${c.subresource}` : ''}`;
}

/**
 * The user's audit events since `since`, once the log has stopped growing: the apiserver writes a request's
 * ResponseComplete event after the response, so the last call's line can lag its answer by a moment.
 */
export async function settledAudit(cluster: TestCluster, o: { user: string; since: number }): Promise<AuditEvent[]> {
  let events = cluster.audit(o);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const next = cluster.audit(o);
    if (next.length === events.length) return next;
    events = next;
  }
  return events;
}

/** Calls not in K8S_CALLS_USED, as `verb requestURI`. */
export function unlisted(events: readonly AuditEvent[]): string[] {
  return events.filter((e) => !isCallUsed(callOf(e))).map((e) => `${e.verb} ${e.requestURI}`);
}

/** Calls the apiserver answered 403, as `verb requestURI`. */
export function forbidden(events: readonly AuditEvent[]): string[] {
  return events.filter((e) => e.responseStatus?.code === 403).map((e) => `${e.verb} ${e.requestURI}`);
}
