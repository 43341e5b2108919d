// The shapes a benchmark run produces: one measurement per (arm, scenario step, repetition), grouped per
// profile with what was not run and facts about each rig. Types only; every scenario driver fills them.

import type { ProfileName } from '../emulator/profiles.js';
import type { ScenarioId } from './plan.js';
import type { Arm, Topology } from './rig.js';

export type Figures = Record<string, number>;

export interface ProxyCost {
  cpuSeconds: number;
  peakRssBytes: number;
}

export interface Measurement {
  profile: ProfileName;
  topology: Topology;
  scenario: ScenarioId;
  variant: string;
  arm: Arm;
  rep: number;
  figures?: Figures;
  /** CPU seconds per proxy during this measurement, and its peak RSS so far. */
  proxyCost?: Record<string, ProxyCost>;
  /** CPU seconds per role (edge, gateway, hypha, clients, runner, emulator) during this measurement. */
  roleCpu?: Record<string, number>;
  error?: string;
}

export interface ArmFacts {
  /** Client upgrades through the link that negotiated permessage-deflate / all accepted upgrades. */
  deflateNegotiated: number;
  upgradesAccepted: number;
  /** Whole-rig proxy totals (accelerated arms only). */
  proxies: Record<string, ProxyCost>;
}

export interface ProfileResult {
  profile: ProfileName;
  measurements: Measurement[];
  notRun: { scenario: ScenarioId; topology?: Topology; reason: string }[];
  armFacts: Record<string, ArmFacts>;
}

export interface RunContext {
  hyphaUrl: string;
  codeRoot: string;
  secretFile: string;
  hyphaPid?: number;
  /** --cpu-prof: where the proxies' profiles go (under bench/results/tmp/). */
  cpuProfDir?: string;
  /** --workers N for edge and gateway. */
  proxyWorkers?: number;
  /** --link-tls: the CA and the 127.0.0.1 certificate made at bench start (adds the TLS arms). */
  linkTls?: LinkTlsFiles;
  progress: (line: string) => void;
}

export interface LinkTlsFiles {
  caPath: string;
  certPath: string;
  keyPath: string;
}
