// The edge's half of session resume: a session whose link died is taken back over a link to the SAME
// gateway instance (the one holding its upstream socket), retrying as links come and go, until the
// session's grace period ends it. The gateway answers with what hypha was handed; both sides then replay.
// A link to a NEW instance in the same slot (host, port, worker) means that instance is gone (restarted):
// the resume is asked there, refused (410), and the client closed with 1011 at once, as after a hypha restart.
import { AccelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Established } from '../link/establish.js';
import type { LinkPool } from '../link/link-pool.js';
import type { ResumableSession } from '../link/resumable-session.js';
import type { Stream } from '../link/stream.js';
import { encodeSessionOpen } from '../link/session-open.js';
import { publishLink } from '../events.js';

export type OpenReply = { ok: true; protocol: string; deliveredCount?: number } | { ok: false; status: number; message: string; linkLost?: boolean };

export interface EdgeResumeDeps {
  pool: LinkPool;
  log: Logger;
  graceMs: number;
  /** Sends nothing itself: waits for the OPEN reply on a stream (edge.ts owns the pending-open table). */
  waitOpenReply(stream: Stream, link: Established): Promise<OpenReply>;
}

/** The gateway instance a session belongs to: its id, and the slot it announced (if any). */
export interface GatewayInstance {
  id: string;
  slot?: string | undefined;
}

/** Takes `session` back over a link to `gateway`; ends it with RESUME_REFUSED if the gateway no longer holds it. */
export async function resumeSession(session: ResumableSession, gateway: GatewayInstance, path: string, deps: EdgeResumeDeps): Promise<void> {
  const gatewayId = gateway.id;
  const sameInstanceOrSuccessor = (l: Established) => l.peerId === gatewayId || (gateway.slot !== undefined && l.peerSlot === gateway.slot);
  const { pool, log } = deps;
  const deadlineMs = Date.now() + deps.graceMs;
  log.info({ sessionId: session.sessionId, gateway: gatewayId }, 'session lost its link: resuming');
  while (session.detached) {
    let link: Established;
    try {
      link = await pool.waitReady(Math.max(0, deadlineMs - Date.now()), sameInstanceOrSuccessor);
    } catch {
      return; // no link to that instance within the grace period: the session's own timer ends it
    }
    if (!session.detached) return;
    const stream = link.session.openStream(encodeSessionOpen({
      sessionId: session.sessionId, path, headers: {}, protocols: [], clientAddress: '', resume: { deliveredCount: session.deliveredCount },
    }));
    const reply = await deps.waitOpenReply(stream, link);
    if (reply.ok && session.detached && session.attach(stream, link.session, reply.deliveredCount ?? -1)) {
      log.info({ sessionId: session.sessionId, linkId: link.linkId }, 'session resumed');
      publishLink({ role: 'edge', linkId: link.linkId, event: 'resume' });
      return;
    }
    if (reply.ok) {
      link.session.closeStream(stream, 1011, 'resume failed');
      if (session.detached) session.abort(new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `gateway answered the resume of ${session.sessionId} with an impossible count`));
      return;
    }
    link.session.forgetStream(stream);
    if (reply.linkLost) continue; // that link died too: wait for the next one
    log.warn({ sessionId: session.sessionId, status: reply.status, err: reply.message }, 'resume refused');
    publishLink({ role: 'edge', linkId: link.linkId, event: 'resume', errorCode: 'HYPHA_ACCEL_ERR_RESUME_REFUSED' });
    session.abort(new AccelError('HYPHA_ACCEL_ERR_RESUME_REFUSED', `gateway ${gatewayId} refused to resume session ${session.sessionId}: ${reply.message}`));
    return;
  }
}
