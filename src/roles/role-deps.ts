// What an edge or a gateway is started with besides its config.
import type { Logger } from '../log.js';
import type { LinkKey } from '../link/handshake.js';

export interface RoleDeps {
  secret: Buffer;
  log: Logger;
  /** This process's index among the role's workers (--workers); absent in a single process. */
  workerIndex?: number;
  /** The link keys in force (they rotate without a restart); absent: `secret` alone. */
  keys?: () => LinkKey[];
  /** Listen on a port of this process alone, also in a cluster worker (the start-up warm-up's throwaway pair). */
  exclusivePort?: boolean;
}
