// The gateway's half of session resume: every resumable session it carries, by session id and the edge
// instance that opened it. A resume OPEN from that same edge instance takes its session over (even from a
// link the gateway still thinks alive); anything else is refused and the edge closes its client.
import { AccelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { LinkSession } from '../link/link-session.js';
import type { ResumableSession } from '../link/resumable-session.js';
import type { Stream } from '../link/stream.js';
import { FrameType } from '../link/frame.js';
import { encodeOpenFailure, encodeOpenReply } from '../link/session-open.js';

export class GatewaySessions {
  private readonly sessions = new Map<string, { session: ResumableSession; edgeId: string }>();

  constructor(private readonly log: Logger) {}

  add(session: ResumableSession, edgeId: string): void {
    this.sessions.set(session.sessionId, { session, edgeId });
  }

  remove(session: ResumableSession): void {
    if (this.sessions.get(session.sessionId)?.session === session) this.sessions.delete(session.sessionId);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions no link carries right now (waiting for their edge). */
  get detachedCount(): number {
    let count = 0;
    for (const { session } of this.sessions.values()) if (session.detached) count++;
    return count;
  }

  /** Ends every session no link carries (the gateway is stopping: nobody will take them back). */
  abortDetached(error: AccelError): void {
    for (const { session } of [...this.sessions.values()]) if (session.detached) session.abort(error);
  }

  /** Answers a resume OPEN on `stream`: OPEN_OK with what hypha was handed, then both sides replay. */
  resume(stream: Stream, link: LinkSession, edgeId: string, sessionId: string, edgeDeliveredCount: number): void {
    const entry = this.sessions.get(sessionId);
    if (!entry || entry.edgeId !== edgeId || entry.session.ended) {
      this.log.warn({ sessionId, edge: edgeId }, 'resume refused: session unknown here');
      stream.sendControl(FrameType.OPEN_FAIL, encodeOpenFailure({ status: 410, message: 'hypha-accel: session not held by this gateway instance (HYPHA_ACCEL_ERR_RESUME_REFUSED)', code: 'HYPHA_ACCEL_ERR_RESUME_REFUSED' }));
      link.forgetStream(stream);
      return;
    }
    const { session } = entry;
    session.takeOver(); // the old link may not have noticed it died yet: nothing more is taken from it
    if (!session.canReplayFrom(edgeDeliveredCount)) {
      this.log.warn({ sessionId, edge: edgeId, edgeDeliveredCount }, 'resume with an impossible count: session closed');
      stream.sendControl(FrameType.OPEN_FAIL, encodeOpenFailure({ status: 409, message: 'hypha-accel: resume count out of range (HYPHA_ACCEL_ERR_PROTOCOL)' }));
      link.forgetStream(stream);
      session.abort(new AccelError('HYPHA_ACCEL_ERR_PROTOCOL', `edge reported messages of ${sessionId} that are no longer held or never sent`));
      return;
    }
    // OPEN_OK is queued first: the replay attach() queues on the same stream follows it in order.
    stream.sendControl(FrameType.OPEN_OK, encodeOpenReply({ protocol: '', deliveredCount: session.deliveredCount }));
    session.attach(stream, link, edgeDeliveredCount);
    this.log.info({ sessionId, edge: edgeId }, 'session resumed');
  }
}
